package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wasmflow/wasmflow/workflow"
)

// checkGrant checks a grant made at install against what the version asks
// for: every capability asked must be granted (grant_required, at
// body.grant.<capability>), and nothing may be granted beyond what is asked
// (grant_exceeds_request); within a capability the grant may be narrower
// (fewer hosts, methods or secrets).
func checkGrant(grant, asked workflow.Capabilities) *Error {
	var required, exceeds []Problem
	add := func(list *[]Problem, field, format string, args ...any) {
		*list = append(*list, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case asked.HTTP != nil && (grant.HTTP == nil || len(grant.HTTP.Hosts) == 0):
		add(&required, "body.grant.http", "the module asks for HTTP to %s: grant it some of these hosts",
			strings.Join(asked.HTTP.Hosts, ", "))
	case asked.HTTP == nil && grant.HTTP != nil:
		add(&exceeds, "body.grant.http", "the module does not ask for HTTP")
	case grant.HTTP != nil:
		for i, h := range grant.HTTP.Hosts {
			if !hostCovered(h, asked.HTTP.Hosts) {
				add(&exceeds, fmt.Sprintf("body.grant.http.hosts[%d]", i), "%q is not among the hosts the module asks for (%s)",
					h, strings.Join(asked.HTTP.Hosts, ", "))
			}
		}
		if !methodsCovered(grant.HTTP.Methods, asked.HTTP.Methods) {
			add(&exceeds, "body.grant.http.methods", "the module asks only for %s", strings.Join(asked.HTTP.Methods, ", "))
		}
	}
	if len(asked.Secrets) > 0 && len(grant.Secrets) == 0 {
		add(&required, "body.grant.secrets", "the module asks for the secrets %s: grant it some of them",
			strings.Join(asked.Secrets, ", "))
	}
	for i, s := range grant.Secrets {
		if !slices.Contains(asked.Secrets, s) {
			add(&exceeds, fmt.Sprintf("body.grant.secrets[%d]", i), "the module does not ask for secret %q", s)
		}
	}
	if len(required) > 0 {
		return &Error{Code: CodeGrantRequired, Problems: append(required, exceeds...)}
	}
	if len(exceeds) > 0 {
		return &Error{Code: CodeGrantExceedsRequest, Problems: exceeds}
	}
	return nil
}

// covers reports whether a request (what an earlier version asked, and the
// tenant granted against) covers what a version asks for now; when it does
// not, it names the first capability asked beyond it.
func covers(have, want workflow.Capabilities) (string, bool) {
	if want.HTTP != nil {
		if have.HTTP == nil {
			return "HTTP", false
		}
		for _, h := range want.HTTP.Hosts {
			if !hostCovered(h, have.HTTP.Hosts) {
				return fmt.Sprintf("HTTP to %q", h), false
			}
		}
		if !methodsCovered(want.HTTP.Methods, have.HTTP.Methods) {
			return "more HTTP methods", false
		}
	}
	for _, s := range want.Secrets {
		if !slices.Contains(have.Secrets, s) {
			return fmt.Sprintf("secret %q", s), false
		}
	}
	return "", true
}

// hostCovered reports whether every host pattern p admits (as the HTTP host
// function matches: an exact name, "*.domain" for the proper subdomains of
// domain, "*" for any host) is admitted by one of the patterns.
func hostCovered(p string, patterns []string) bool {
	p = strings.ToLower(p)
	for _, q := range patterns {
		q = strings.ToLower(q)
		switch {
		case q == "*" || q == p:
			return true
		case p == "*":
			continue
		case strings.HasPrefix(q, "*.") && len(q) > 2:
			// "*.d" admits "x.d" and "*.x.d": anything ending in ".d"
			// with something before it.
			name := strings.TrimPrefix(p, "*.")
			if strings.HasSuffix(name, q[1:]) && len(name) > len(q)-1 {
				return true
			}
		}
	}
	return false
}

// methodsCovered reports whether the methods a grants (all when empty) are
// among those of b (all when empty).
func methodsCovered(a, b []string) bool {
	if len(b) == 0 {
		return true
	}
	if len(a) == 0 {
		return false
	}
	for _, m := range a {
		if !slices.ContainsFunc(b, func(x string) bool { return strings.EqualFold(x, m) }) {
			return false
		}
	}
	return true
}
