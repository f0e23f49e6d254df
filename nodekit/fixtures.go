package nodekit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Fixture is one recorded HTTP exchange of testdata/http/*.json: a request
// to match and the response to answer it with. A file holds one fixture
// object or an array of them:
//
//	{"request":  {"method": "GET", "url": "https://api.example.com/users/1",
//	              "headers": {"Accept": "application/json"}, "body": {"q": 1}},
//	 "response": {"status": 200, "headers": {"Content-Type": "application/json"},
//	              "body": {"id": 1, "name": "Ada"}}}
//
// method defaults to GET; headers and body of a request are optional (a
// header matches when the request has it with exactly that value; a string
// body matches the request's text, any other JSON value a JSON request body
// equal to it). A response's status defaults to 200; its body is a string
// (sent as its text), any other JSON value (sent as compact JSON), or
// body_base64 for bytes.
type Fixture struct {
	Request  FixtureRequest  `json:"request"`
	Response FixtureResponse `json:"response"`
	// File is the file the fixture came from, for messages.
	File string `json:"-"`
}

// FixtureRequest is what a fixture matches.
type FixtureRequest struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// FixtureResponse is what a matched request gets.
type FixtureResponse struct {
	Status     int               `json:"status,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       json.RawMessage   `json:"body,omitempty"`
	BodyBase64 string            `json:"body_base64,omitempty"`
}

// ParseFixtures decodes one fixture file (one object or an array) and
// checks every fixture: an absolute http(s) url, a method that is a token,
// a status in 100..599, a body or body_base64 (not both). Unknown fields
// are refused, so a typo does not silently match everything. file names
// the fixtures in messages.
func ParseFixtures(data []byte, file string) ([]Fixture, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var list []Fixture
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = decodeStrict(data, &list)
	} else {
		var f Fixture
		err = decodeStrict(data, &f)
		list = []Fixture{f}
	}
	if err != nil {
		return nil, fmt.Errorf("nodekit: %s: %w", file, err)
	}
	for i := range list {
		f := &list[i]
		f.File = file
		where := file
		if trimmed[0] == '[' {
			where = fmt.Sprintf("%s[%d]", file, i)
		}
		if err := f.normalize(); err != nil {
			return nil, fmt.Errorf("nodekit: %s: %w", where, err)
		}
	}
	return list, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a fixture: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("not a fixture: data after the JSON value")
	}
	return nil
}

// normalize checks a fixture and fills its defaults.
func (f *Fixture) normalize() error {
	r := &f.Request
	r.Method = strings.ToUpper(r.Method)
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if strings.ContainsFunc(r.Method, func(c rune) bool { return c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) }) {
		return fmt.Errorf("request.method %q is not an HTTP method", r.Method)
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("request.url %q is not an absolute http or https URL", r.URL)
	}
	r.URL = u.String()
	if len(r.Body) > 0 && string(r.Body) == "null" {
		r.Body = nil
	}
	s := &f.Response
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	if s.Status < 100 || s.Status > 599 {
		return fmt.Errorf("response.status %d is not an HTTP status", s.Status)
	}
	if len(s.Body) > 0 && string(s.Body) == "null" {
		s.Body = nil
	}
	if len(s.Body) > 0 && s.BodyBase64 != "" {
		return errors.New("response has both body and body_base64")
	}
	if _, err := base64.StdEncoding.DecodeString(s.BodyBase64); err != nil {
		return fmt.Errorf("response.body_base64: %w", err)
	}
	return nil
}

// String names the request a fixture matches: "GET https://…".
func (r *FixtureRequest) String() string { return r.Method + " " + r.URL }

// matches reports whether the request (its body read) is the fixture's.
func (r *FixtureRequest) matches(req *http.Request, body []byte) bool {
	if req.Method != r.Method || req.URL.String() != r.URL {
		return false
	}
	for k, v := range r.Headers {
		if req.Header.Get(k) != v {
			return false
		}
	}
	if len(r.Body) == 0 {
		return true
	}
	var text string
	if json.Unmarshal(r.Body, &text) == nil {
		return string(body) == text
	}
	return jsonEqual(r.Body, body)
}

// body is the response's bytes.
func (s *FixtureResponse) body() []byte {
	if s.BodyBase64 != "" {
		b, _ := base64.StdEncoding.DecodeString(s.BodyBase64) // checked by normalize
		return b
	}
	if len(s.Body) == 0 {
		return nil
	}
	var text string
	if json.Unmarshal(s.Body, &text) == nil {
		return []byte(text)
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, s.Body) // valid JSON: it was decoded
	return buf.Bytes()
}

// LoadFixtures reads every testdata/http/*.json of a project, in file
// order; none when the folder does not exist.
func LoadFixtures(dir string) ([]Fixture, error) {
	files, err := filepath.Glob(filepath.Join(dir, "testdata", "http", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	slices.Sort(files)
	var all []Fixture
	for _, file := range files {
		data, err := os.ReadFile(file) //nolint:gosec // the project's own test data
		if err != nil {
			return nil, fmt.Errorf("nodekit: %w", err)
		}
		rel, _ := filepath.Rel(dir, file)
		fs, err := ParseFixtures(data, filepath.ToSlash(rel))
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	return all, nil
}

// maxFixtureRequestBody bounds the request body a replayer reads to match.
const maxFixtureRequestBody = 16 << 20

// Replayer is an http.RoundTripper that answers from fixtures, the first
// that matches, and never touches the network. A request no fixture
// matches fails with an error naming it, and is remembered: see Unmatched.
// Safe for concurrent use.
type Replayer struct {
	fixtures []Fixture

	mu        sync.Mutex
	unmatched []string
}

// NewReplayer returns a Replayer answering from fixtures.
func NewReplayer(fixtures []Fixture) *Replayer {
	return &Replayer{fixtures: fixtures}
}

// RoundTrip implements http.RoundTripper.
func (p *Replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxFixtureRequestBody))
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		body = b
	}
	for i := range p.fixtures {
		f := &p.fixtures[i]
		if !f.Request.matches(req, body) {
			continue
		}
		out := f.Response.body()
		h := make(http.Header, len(f.Response.Headers)+1)
		for k, v := range f.Response.Headers {
			h.Set(k, v)
		}
		h.Set("Content-Length", strconv.Itoa(len(out)))
		return &http.Response{
			Status: strconv.Itoa(f.Response.Status) + " " + http.StatusText(f.Response.Status), StatusCode: f.Response.Status,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out)), Request: req,
		}, nil
	}
	name := req.Method + " " + req.URL.String()
	p.mu.Lock()
	p.unmatched = append(p.unmatched, name)
	p.mu.Unlock()
	return nil, fmt.Errorf("no recorded fixture for %s (add one to testdata/http/)", name)
}

// Unmatched returns the requests no fixture matched, in order.
func (p *Replayer) Unmatched() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.unmatched)
}
