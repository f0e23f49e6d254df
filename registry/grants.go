package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// SecretReader reads the value of a tenant's secret; a missing one is
// store.ErrNotFound. *vault.Reader is one.
type SecretReader interface {
	ReadSecret(ctx context.Context, tenantID, name string) (string, error)
}

// AuditLog appends to the tenant's audit log; the store is one.
type AuditLog interface {
	AuditInsert(ctx context.Context, tenantID string, e *store.AuditEntry) error
}

// HTTPOptions are the operator's settings for wasmflow_http_fetch; zero
// fields take the hostfuncs defaults.
type HTTPOptions struct {
	// AllowPrivate opens loopback and private addresses (--http-allow-private).
	AllowPrivate bool
	// AllowAddrs opens exactly these internal address:port pairs (--http-allow-addr).
	AllowAddrs []netip.AddrPort
	// Timeout bounds one request, redirects included.
	Timeout time.Duration
	// MaxResponseBytes caps one response body.
	MaxResponseBytes int64
	// MaxRequests caps the requests of one run, redirects included.
	MaxRequests int
	// Resolver resolves host names; nil is the system's.
	Resolver hostfuncs.NetResolver
	// Transport answers requests instead of the network (see
	// hostfuncs.HTTPConfig.Transport); nil sends them. `wasmflow node test`
	// sets it to answer from recorded fixtures.
	Transport http.RoundTripper
}

// Default caps of a run's host function calls.
const (
	// DefaultMaxHostCalls caps the host function calls of one run, so that a
	// guest looping on refused calls cannot flood the run's record and the
	// audit log.
	DefaultMaxHostCalls = 1000
)

// auditTimeout bounds one audit write made for a host function call.
const auditTimeout = 5 * time.Second

// RunGrant says which run a module's host functions serve: who it is, for
// the audit log, and how its node binds secrets.
type RunGrant struct {
	TenantID string
	Module   *Module
	// Node is the node's name in its workflow, for messages.
	Node string
	// Bindings maps the secret names the module declares to the tenant's
	// secrets, as the workflow node binds them.
	Bindings map[string]string
	// Actor names the run in the audit log: "node_run:<id>".
	Actor string
	// Detail is added to every audit entry the run causes (execution id,
	// workflow id, ...).
	Detail map[string]any
	// Grant, when set, is what the tenant granted the module (as
	// [Registry.Authorize] returns it); nil is [GrantOf] the module.
	Grant *workflow.Capabilities
}

// HostCall is one call a run made through a host function, as its node run
// records it: never a secret's value, a header or a body.
type HostCall struct {
	// Kind is "secret_read" or "http_request".
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	// Name is the declared secret name read; Secret the tenant's secret it
	// is bound to; Via says how: "secret_get" or "http_header".
	Name   string `json:"name,omitempty"`
	Secret string `json:"secret,omitempty"`
	Via    string `json:"via,omitempty"`
	// Method, Host, FinalHost, Redirects, Status and the byte counts
	// describe a request (see hostfuncs.HTTPRequestRecord).
	Method     string  `json:"method,omitempty"`
	Host       string  `json:"host,omitempty"`
	FinalHost  string  `json:"final_host,omitempty"`
	Redirects  int     `json:"redirects,omitempty"`
	Status     int     `json:"status,omitempty"`
	BytesOut   int64   `json:"bytes_out,omitempty"`
	BytesIn    int64   `json:"bytes_in,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	// Error is why the call was refused or failed: an HTTP error code, or
	// the reason a secret read was refused.
	Error string `json:"error,omitempty"`
}

// HostSession holds one run's host functions and records what they did.
// Make one per run with [Registry.HostSession]; it is safe for the
// concurrent calls of that run.
type HostSession struct {
	reg    *Registry
	ctx    context.Context //nolint:containedctx // audit writes of calls that report without a context
	grant  RunGrant
	caps   workflow.Capabilities
	funcs  []hostfuncs.Func
	module string

	mu     sync.Mutex
	calls  []HostCall
	n      int               // calls made, refused ones included
	values map[string]string // tenant secret name → value read, for Redact
}

// GrantOf is what a tenant's own upload is granted: what its manifest
// declares. A module installed from the marketplace has a grant of its own
// (possibly narrower), which [Registry.Authorize] returns and a run passes
// in RunGrant.Grant.
func GrantOf(mod *Module) workflow.Capabilities {
	return mod.Manifest.Capabilities
}

// HostSession returns the host functions a run of g.Module may use (those
// its grant allows) and the record of their calls. ctx is the run's: it
// carries the audit writes of calls that end after it is cancelled.
func (r *Registry) HostSession(ctx context.Context, g RunGrant) *HostSession {
	caps := GrantOf(g.Module)
	if g.Grant != nil {
		caps = *g.Grant
	}
	s := &HostSession{reg: r, ctx: context.WithoutCancel(ctx), grant: g, caps: caps, values: map[string]string{}}
	s.module = g.Module.Version.Name + "@" + g.Module.Version.Version
	if s.caps.HTTP != nil {
		s.funcs = append(s.funcs, s.limit(hostfuncs.HTTPFetch(hostfuncs.HTTPConfig{
			Grant:            *s.caps.HTTP,
			Timeout:          r.http.Timeout,
			MaxResponseBytes: r.http.MaxResponseBytes,
			MaxRequests:      r.http.MaxRequests,
			AllowPrivate:     r.http.AllowPrivate,
			AllowAddrs:       r.http.AllowAddrs,
			Resolver:         r.http.Resolver,
			Transport:        r.http.Transport,
			Secrets: func(ctx context.Context, name string) (string, error) {
				return s.readSecret(ctx, name, "http_header")
			},
			Observe: s.observeHTTP,
		})))
	}
	if len(s.caps.Secrets) > 0 {
		s.funcs = append(s.funcs, s.limit(hostfuncs.SecretGet(hostfuncs.SecretConfig{
			Read: func(ctx context.Context, name string) (string, error) {
				return s.readSecret(ctx, name, "secret_get")
			},
		})))
	}
	return s
}

// Funcs are the host functions to hand the runtime for the run.
func (s *HostSession) Funcs() []hostfuncs.Func { return s.funcs }

// Calls returns the calls recorded so far.
func (s *HostSession) Calls() []HostCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsJSON returns the calls as a JSON array, nil when there were none.
func (s *HostSession) CallsJSON() json.RawMessage {
	calls := s.Calls()
	if len(calls) == 0 {
		return nil
	}
	// "secret" is the secret's name, never its value; only strings, numbers
	// and times: encoding cannot fail.
	b, err := json.Marshal(calls) //nolint:gosec // G117: see above
	if err != nil {
		return nil
	}
	return b
}

// limit wraps f so that the run's calls, of every host function, stop at
// the registry's cap: the call over it fails the run.
func (s *HostSession) limit(f hostfuncs.Func) hostfuncs.Func {
	call := f.Call
	f.Call = func(ctx context.Context, in []byte) ([]byte, error) {
		s.mu.Lock()
		s.n++
		over := s.n > s.reg.maxHostCalls
		s.mu.Unlock()
		if over {
			return nil, fmt.Errorf("more than %d host function calls in one run", s.reg.maxHostCalls)
		}
		return call(ctx, in)
	}
	return f
}

// readSecret is the one path to a secret's value, for wasmflow_secret_get
// and for {{secret:NAME}} headers: the name must be declared by the module,
// granted, and bound by the node to a secret the tenant has. Every read,
// refused or not, is recorded and audited; a read is audited before its
// value is handed over, and a failed audit write refuses it.
func (s *HostSession) readSecret(ctx context.Context, name, via string) (string, error) {
	call := HostCall{Kind: "secret_read", At: s.reg.now(), Name: name, Via: via}
	bound, reason := s.resolve(name)
	call.Secret = bound
	if reason != "" {
		call.Error = reason
		s.record(call)
		s.audit("secret.read_refused", name, map[string]any{"name": name, "secret": bound, "via": via, "reason": reason})
		return "", &hostfuncs.SecretError{Name: name, Reason: reason}
	}
	value, err := s.reg.secrets.ReadSecret(ctx, s.grant.TenantID, bound)
	if errors.Is(err, store.ErrNotFound) {
		reason = fmt.Sprintf("node %q binds it to secret %q, which the tenant does not have", s.grant.Node, bound)
		call.Error = reason
		s.record(call)
		s.audit("secret.read_refused", bound, map[string]any{"name": name, "secret": bound, "via": via, "reason": reason})
		return "", &hostfuncs.SecretError{Name: name, Reason: reason}
	}
	if err != nil {
		call.Error = "the secret could not be read"
		s.record(call)
		return "", fmt.Errorf("read secret %q: %w", bound, err)
	}
	if err := s.auditNow(ctx, "secret.read", bound, map[string]any{"name": name, "secret": bound, "via": via}); err != nil {
		call.Error = "the read could not be audited"
		s.record(call)
		return "", fmt.Errorf("audit the read of secret %q: %w", bound, err)
	}
	s.mu.Lock()
	s.values[bound] = value
	s.mu.Unlock()
	s.record(call)
	return value, nil
}

// resolve finds the tenant secret a declared name is bound to, or says why
// the run may not read it.
func (s *HostSession) resolve(name string) (bound, reason string) {
	switch {
	case !slices.Contains(s.grant.Module.Manifest.Capabilities.Secrets, name):
		return "", fmt.Sprintf("module %s does not declare it in capabilities.secrets", s.module)
	case !slices.Contains(s.caps.Secrets, name):
		return "", fmt.Sprintf("the tenant did not grant module %s the secret", s.module)
	case s.reg.secrets == nil:
		return "", "this server keeps no secrets"
	}
	bound, ok := s.grant.Bindings[name]
	if !ok || bound == "" {
		return "", fmt.Sprintf("node %q does not bind it: add \"secrets\": {%q: \"<secret name>\"} to the node", s.grant.Node, name)
	}
	return bound, ""
}

// observeHTTP records and audits one call of wasmflow_http_fetch.
func (s *HostSession) observeHTTP(rec hostfuncs.HTTPRequestRecord) {
	call := HostCall{
		Kind: "http_request", At: s.reg.now().Add(-rec.Duration),
		Method: rec.Method, Host: rec.Host, Redirects: rec.Redirects, Status: rec.Status,
		BytesOut: rec.BytesOut, BytesIn: rec.BytesIn,
		DurationMS: float64(rec.Duration.Microseconds()) / 1000, Error: rec.Code,
	}
	if rec.FinalHost != rec.Host {
		call.FinalHost = rec.FinalHost
	}
	s.record(call)
	detail := map[string]any{"method": rec.Method, "host": rec.Host, "status": rec.Status, "bytes_out": rec.BytesOut, "bytes_in": rec.BytesIn}
	if call.FinalHost != "" {
		detail["final_host"] = call.FinalHost
	}
	if rec.Code != "" {
		detail["error"] = rec.Code
	}
	s.audit("http.request", rec.Host, detail)
}

func (s *HostSession) record(c HostCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// audit writes an entry for a call that has happened; a failure is logged,
// as the call cannot be undone.
func (s *HostSession) audit(action, resource string, detail map[string]any) {
	if err := s.auditNow(s.ctx, action, resource, detail); err != nil {
		s.reg.log.Error("audit write for a host function call failed", slog.String("tenant", s.grant.TenantID),
			slog.String("actor", s.grant.Actor), slog.String("action", action), slog.Any("err", err))
	}
}

func (s *HostSession) auditNow(ctx context.Context, action, resource string, detail map[string]any) error {
	if s.reg.audit == nil {
		return nil
	}
	full := make(map[string]any, len(detail)+len(s.grant.Detail)+2)
	for k, v := range s.grant.Detail {
		full[k] = v
	}
	for k, v := range detail {
		full[k] = v
	}
	full["module"] = s.module
	full["node"] = s.grant.Node
	raw, err := json.Marshal(full)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	return s.reg.audit.AuditInsert(ctx, s.grant.TenantID, &store.AuditEntry{
		Actor: s.grant.Actor, Action: action, Resource: resource, Detail: raw,
	})
}

// Redact replaces every secret value the run read, wherever it appears in
// a string of the JSON document doc (a key or a value, at any depth), with
// "[redacted:<secret name>]", so stored outputs, logs and errors never hold
// it. doc comes back as it is when the run read no secret, or it holds none.
// It is a safety net for careless modules, not a boundary: a module given a
// secret can always encode it past any filter.
func (s *HostSession) Redact(doc json.RawMessage) json.RawMessage {
	s.mu.Lock()
	values := make(map[string]string, len(s.values))
	for name, v := range s.values {
		if v != "" {
			values[name] = v
		}
	}
	s.mu.Unlock()
	if len(values) == 0 || len(doc) == 0 || !containsAny(doc, values) {
		return doc
	}
	// Longest values first, so a value that contains another is replaced whole.
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return len(values[b]) - len(values[a]) })
	pairs := make([]string, 0, 2*len(names))
	for _, name := range names {
		pairs = append(pairs, values[name], "[redacted:"+name+"]")
	}
	replacer := strings.NewReplacer(pairs...)

	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// Not JSON (cannot happen for what the engine stores): replace in the bytes.
		return json.RawMessage(replacer.Replace(string(doc)))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(redactValue(v, replacer)); err != nil {
		return json.RawMessage(replacer.Replace(string(doc)))
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// containsAny reports whether doc holds a value, as it is or JSON-escaped.
func containsAny(doc []byte, values map[string]string) bool {
	for _, v := range values {
		if bytes.Contains(doc, []byte(v)) {
			return true
		}
		if esc, err := json.Marshal(v); err == nil && bytes.Contains(doc, esc[1:len(esc)-1]) {
			return true
		}
	}
	return false
}

func redactValue(v any, r *strings.Replacer) any {
	switch x := v.(type) {
	case string:
		return r.Replace(x)
	case []any:
		for i := range x {
			x[i] = redactValue(x[i], r)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.Replace(k)] = redactValue(e, r)
		}
		return out
	}
	return v
}
