package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxDetailBytes caps how much of a body that is not a problem document an
// error quotes (an HTML page from a proxy, say).
const maxDetailBytes = 300

// Problem is an error answer of the server: its problem+json document
// (RFC 9457) and the HTTP status.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	// Errors name the fields at fault: body.<path>, query.<name>, the
	// upload part (module, manifest.<path>, signature), …
	Errors []FieldProblem `json:"errors,omitempty"`
	// Kind says why a node run failed (code node_failed).
	Kind string `json:"kind,omitempty"`
}

// FieldProblem is one thing wrong with one part of the request.
type FieldProblem struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

// Error is one line: status and code, title, detail and each field.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server answered %d", p.Status)
	if p.Code != "" {
		fmt.Fprintf(&b, " %s", p.Code)
	}
	if p.Title != "" {
		fmt.Fprintf(&b, ": %s", p.Title)
	}
	if p.Detail != "" {
		fmt.Fprintf(&b, ": %s", p.Detail)
	}
	for _, f := range p.Errors {
		switch {
		case f.Location+": "+f.Message == p.Detail || f.Message == p.Detail:
			// The detail says it already (a problem with one field).
		case f.Location != "":
			fmt.Fprintf(&b, "; %s: %s", f.Location, f.Message)
		default:
			fmt.Fprintf(&b, "; %s", f.Message)
		}
	}
	return b.String()
}

// HasCode reports whether err is a Problem with the code.
func HasCode(err error, code string) bool {
	p, ok := asProblem(err)
	return ok && p.Code == code
}

// HasStatus reports whether err is a Problem with the HTTP status.
func HasStatus(err error, status int) bool {
	p, ok := asProblem(err)
	return ok && p.Status == status
}

func asProblem(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

// newProblem reads an error answer: a problem document when it is one, or
// else the status with the start of whatever the body was.
func newProblem(resp *http.Response, body []byte) *Problem {
	p := &Problem{}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType == "application/problem+json" || mediaType == "application/json" {
		if err := json.Unmarshal(body, p); err == nil && (p.Code != "" || p.Title != "") {
			p.Status = resp.StatusCode
			return p
		}
		p = &Problem{}
	}
	p.Status = resp.StatusCode
	p.Title = strings.ToLower(http.StatusText(resp.StatusCode))
	p.Detail = quote(body)
	return p
}

// quote is the start of a body as one printable line.
func quote(body []byte) string {
	s := strings.ToValidUTF8(strings.Join(strings.Fields(string(body)), " "), "�")
	if len(s) > maxDetailBytes {
		cut := maxDetailBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
