// Package client talks to a wasmflow server's REST API (/api/v1) for the
// command line: publishers and their keys, node uploads, the marketplace.
//
// Every error the server answers is a [*Problem] carrying its problem+json
// body (RFC 9457): the stable code, the title, the detail and the fields at
// fault, so the command line can print what the server said.
package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultServer is the server a client talks to when none is configured:
// where `wasmflow serve` listens by default.
const DefaultServer = "http://127.0.0.1:8080"

// maxResponseBytes caps a JSON response; the largest, a marketplace page,
// is far smaller.
const maxResponseBytes = 16 << 20

// Config configures a Client. The zero value talks to DefaultServer without
// credentials.
type Config struct {
	// Server is the server's base URL, scheme and host (and an optional path
	// prefix). Defaults to DefaultServer.
	Server string
	// APIKey is sent as a bearer token: an API key (wf_…) or an access token.
	APIKey string
	// HTTPClient sends the requests. Defaults to a client with a 10 minute
	// timeout (a large upload on a slow link).
	HTTPClient *http.Client
	// UserAgent names the caller. Defaults to "wasmflow-cli".
	UserAgent string
}

// Client is a REST client of one server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	apiKey    string
	http      *http.Client
	userAgent string
}

// New checks the configuration and builds a client.
func New(cfg Config) (*Client, error) {
	raw := cmp.Or(cfg.Server, DefaultServer)
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("client: server %q is not an http(s) URL such as %s", raw, DefaultServer)
	}
	if base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("client: server %q: give only scheme, host and path", raw)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	if strings.ContainsAny(cfg.APIKey, "\r\n") {
		return nil, errors.New("client: the API key holds a line break")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Minute}
	}
	return &Client{base: base, apiKey: cfg.APIKey, http: hc, userAgent: cmp.Or(cfg.UserAgent, "wasmflow-cli")}, nil
}

// Server is the base URL the client talks to.
func (c *Client) Server() string { return c.base.String() }

// apiPath joins the API prefix and path segments, escaping each segment.
func apiPath(segments ...string) string {
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	return "/api/v1/" + strings.Join(escaped, "/")
}

// moduleSegments splits "owner/name" into its two path segments.
func moduleSegments(name string) ([]string, error) {
	owner, rest, ok := strings.Cut(name, "/")
	if !ok || owner == "" || rest == "" || strings.Contains(rest, "/") {
		return nil, fmt.Errorf("client: %q is not a module name owner/name", name)
	}
	return []string{owner, rest}, nil
}

// request is one API call: JSON in and out unless body is a reader.
type request struct {
	method, path string
	query        url.Values
	// json is encoded as the body when not nil.
	json any
	// body, when set, is sent as is with contentType and length.
	body        io.Reader
	contentType string
	length      int64
	// status, when set, receives the answer's status code.
	status *int
}

// do sends the request and decodes a 2xx JSON answer into out (when not
// nil); any other status becomes a *Problem.
func (c *Client) do(ctx context.Context, r *request, out any) error {
	// r.path is escaped already (apiPath): keep it as is, so that a "/"
	// inside a segment stays %2F.
	u := *c.base
	u.RawPath = c.base.EscapedPath() + r.path
	path, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	u.Path = path
	u.RawQuery = r.query.Encode()
	body, contentType, length := r.body, r.contentType, r.length
	if r.json != nil {
		b, err := json.Marshal(r.json)
		if err != nil {
			return fmt.Errorf("client: encode %s %s: %w", r.method, r.path, err)
		}
		body, contentType, length = bytes.NewReader(b), "application/json", int64(len(b))
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if body != nil {
		req.ContentLength = length
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", r.method, u.Redacted(), err)
	}
	defer func() { _ = resp.Body.Close() }() // read fully below; nothing to lose
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("client: %s %s: read response: %w", r.method, r.path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("client: %s %s: response over %d bytes", r.method, r.path, maxResponseBytes)
	}
	if r.status != nil {
		*r.status = resp.StatusCode
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newProblem(resp, data)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append(json.RawMessage{}, data...)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: %s %s: the answer is not the expected JSON: %w", r.method, r.path, err)
	}
	return nil
}
