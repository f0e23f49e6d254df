// Command http-request is the wasmflow/http-request node: it sends one HTTP
// request per input item (one when there are none) through the host's
// wasmflow_http_fetch and outputs one item per response:
//
//	{"status": 200, "headers": {"content-type": "application/json"}, "body": {...}}
//
// Params: url (required, http or https), method (default GET), headers and
// query (objects of strings), body (a string is sent as it is, any other JSON
// value as JSON), response_format (auto, json, text or base64) and
// fail_on_status (default true). Header values may hold {{secret:NAME}}
// placeholders: the node passes them on untouched and the host replaces them,
// so the node never sees a secret.
//
// The params arrive evaluated once by the host, so every item sends the same
// request. A refusal or failure of the host fails the run with a message
// that starts with the host's code (ssrf_blocked: …); so does a non-2xx
// status unless fail_on_status is false.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	wasmflow "github.com/wasmflow/wasmflow/plugins-examples/sdk/go"
)

// fetchFunc sends one request: wasmflow.HTTPFetch in the module, a fake in
// tests. A refusal or failure of the host is a *wasmflow.HTTPError.
type fetchFunc func(wasmflow.HTTPRequest) (*wasmflow.HTTPResponse, error)

// logFunc records one line of the run's log.
type logFunc func(msg string)

// methods are the methods the node sends: the ones a manifest may grant.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Response formats.
const (
	formatAuto   = "auto"
	formatJSON   = "json"
	formatText   = "text"
	formatBase64 = "base64"
)

// maxLoggedRequests bounds the per-request log lines of one run; a summary
// line follows them.
const maxLoggedRequests = 20

// maxExcerpt bounds the response body quoted in a status error, in bytes.
const maxExcerpt = 200

// rawParams are the params as they arrive; every field is checked by
// parseParams, so that a wrong type names its param.
type rawParams struct {
	URL            any             `json:"url"`
	Method         any             `json:"method"`
	Headers        any             `json:"headers"`
	Query          any             `json:"query"`
	Body           json.RawMessage `json:"body"`
	ResponseFormat any             `json:"response_format"`
	FailOnStatus   any             `json:"fail_on_status"`
}

// request is what the params say to send, and how to read the reply.
type request struct {
	fetch        wasmflow.HTTPRequest
	display      string // method and URL without its query, for messages
	format       string
	failOnStatus bool
}

// handle runs the node: the params checked once, then one request per item
// (one when there are none), stopping at the first failure.
func handle(in *wasmflow.Input, fetch fetchFunc, logf logFunc) (*wasmflow.Output, error) {
	var raw rawParams
	if err := in.DecodeParams(&raw); err != nil {
		return nil, err
	}
	req, err := parseParams(&raw)
	if err != nil {
		return nil, fmt.Errorf("invalid params: %w", err)
	}
	n := max(len(in.Items), 1)
	out := make([]wasmflow.Item, 0, n)
	failed := 0
	for i := range n {
		resp, err := fetch(req.fetch)
		where := req.display
		if n > 1 {
			where += fmt.Sprintf(" (items[%d])", i)
		}
		if err != nil {
			if he, ok := errors.AsType[*wasmflow.HTTPError](err); ok {
				return nil, fmt.Errorf("%s: %s: %s", he.Code, he.Message, where)
			}
			return nil, fmt.Errorf("%w: %s", err, where)
		}
		if i < maxLoggedRequests {
			logf(fmt.Sprintf("%s: status %d, %d bytes", where, resp.Status, len(resp.Body)))
		}
		if !ok2xx(resp.Status) {
			if req.failOnStatus {
				return nil, statusError(resp, where)
			}
			failed++
		}
		item, err := responseItem(resp, req.format)
		if err != nil {
			return nil, fmt.Errorf("%w: %s", err, where)
		}
		out = append(out, item)
	}
	logf(fmt.Sprintf("sent %d request(s), %d with a status outside 2xx", n, failed))
	return &wasmflow.Output{Items: out}, nil
}

// parseParams checks the params and builds the request they describe.
func parseParams(p *rawParams) (*request, error) {
	req := &request{format: formatAuto, failOnStatus: true}

	method := "GET"
	if p.Method != nil {
		s, ok := p.Method.(string)
		if !ok {
			return nil, fmt.Errorf("method: want a string, got %s", typeName(p.Method))
		}
		if !slices.Contains(methods, s) {
			return nil, fmt.Errorf("method: %q is not one of %s", s, strings.Join(methods, ", "))
		}
		method = s
	}

	if p.URL == nil {
		return nil, errors.New("url: is required")
	}
	rawURL, ok := p.URL.(string)
	if !ok {
		return nil, fmt.Errorf("url: want a string, got %s", typeName(p.URL))
	}
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	query, err := stringMap("query", p.Query)
	if err != nil {
		return nil, err
	}
	if q := encodeQuery(query); q != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += q
	}

	headers, err := stringMap("headers", p.Headers)
	if err != nil {
		return nil, err
	}
	for name := range headers {
		if !isToken(name) {
			return nil, fmt.Errorf("headers: %q is not a valid header name", name)
		}
	}

	body, contentType, err := encodeBody(p.Body)
	if err != nil {
		return nil, err
	}
	if contentType != "" && !hasHeader(headers, "content-type") {
		if headers == nil {
			headers = map[string]string{}
		}
		headers["Content-Type"] = contentType
	}

	if p.ResponseFormat != nil {
		s, ok := p.ResponseFormat.(string)
		if !ok {
			return nil, fmt.Errorf("response_format: want a string, got %s", typeName(p.ResponseFormat))
		}
		switch s {
		case formatAuto, formatJSON, formatText, formatBase64:
			req.format = s
		default:
			return nil, fmt.Errorf("response_format: %q is not one of auto, json, text, base64", s)
		}
	}
	if p.FailOnStatus != nil {
		b, ok := p.FailOnStatus.(bool)
		if !ok {
			return nil, fmt.Errorf("fail_on_status: want a boolean, got %s", typeName(p.FailOnStatus))
		}
		req.failOnStatus = b
	}

	req.fetch = wasmflow.HTTPRequest{Method: method, URL: u.String(), Headers: headers, Body: body}
	shown := *u
	shown.RawQuery, shown.ForceQuery = "", false
	req.display = method + " " + shown.String()
	return req, nil
}

// parseURL accepts an absolute http or https URL with a host and without
// credentials; the fragment, which is never sent, is dropped. Messages quote
// the URL without its user info.
func parseURL(s string) (*url.URL, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		if strings.Contains(s, "@") { // may hold credentials: not repeated
			return nil, fmt.Errorf("is not a URL: %w", err)
		}
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	}
	shown := *u
	shown.User = nil
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: want an http or https URL", shown.String())
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", shown.String())
	case u.User != nil:
		return nil, fmt.Errorf("%q holds credentials: send them in a header instead (Authorization with {{secret:NAME}})", shown.String())
	}
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = escapeQuery(u.RawQuery)
	return u, nil
}

// escapeQuery percent-encodes the bytes a query may not hold as they are
// (spaces, controls, non-ASCII, "<>\^`{|}), leaving the rest, escapes
// included, as written. url.Parse keeps a query raw; the path it re-encodes.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(q) {
		c := q[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stringMap checks that v, the param name, is an object whose values are
// strings; numbers and booleans are written as text. Absent or null is nil.
func stringMap(name string, v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, got %s", name, typeName(v))
	}
	m := make(map[string]string, len(obj))
	for k, e := range obj {
		if k == "" {
			return nil, fmt.Errorf("%s: empty name", name)
		}
		switch t := e.(type) {
		case string:
			m[k] = t
		case json.Number:
			m[k] = t.String()
		case bool:
			m[k] = strconv.FormatBool(t)
		default:
			return nil, fmt.Errorf("%s[%q]: want a string, got %s", name, k, typeName(e))
		}
	}
	return m, nil
}

// encodeQuery renders q as a query string, names sorted, both names and
// values percent-encoded (a space as +).
func encodeQuery(q map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(q)) {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(q[k]))
	}
	return b.String()
}

// encodeBody turns the body param into bytes: a string as it is, any other
// JSON value as compact JSON (with the content type to send it with).
// Absent or null is no body.
func encodeBody(raw json.RawMessage) (body []byte, contentType string, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "", fmt.Errorf("body: %w", err)
		}
		return []byte(s), "", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, "", fmt.Errorf("body: %w", err)
	}
	return buf.Bytes(), "application/json", nil
}

// responseItem is the output item of one response.
func responseItem(resp *wasmflow.HTTPResponse, format string) (wasmflow.Item, error) {
	headers := make(map[string]any, len(resp.Headers))
	for k, v := range resp.Headers {
		headers[strings.ToLower(k)] = v
	}
	item := wasmflow.Item{"status": resp.Status, "headers": headers}
	body, encoding, err := decodeBody(resp.Body, format, headerValue(resp.Headers, "content-type"))
	if err != nil {
		return nil, err
	}
	item["body"] = body
	if encoding != "" {
		item["body_encoding"] = encoding
	}
	return item, nil
}

// decodeBody reads a response body per format. auto: JSON when the content
// type is JSON and the body parses, text when it is valid UTF-8, base64
// otherwise. json: the body as JSON, null when empty, an error when it does
// not parse. text: the body as text. base64: the body base64-encoded.
// encoding is "base64" when the body is. Invalid UTF-8 in JSON or text
// becomes U+FFFD.
//
// A JSON body is checked, not decoded: it goes out as the server wrote it
// (compacted by EncodeOutput), every number and the key order kept, at a
// fraction of the time and memory a decoded tree takes in Wasm.
func decodeBody(b []byte, format, contentType string) (body any, encoding string, err error) {
	switch format {
	case formatJSON:
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, "", nil
		}
		raw, err := checkJSON(b)
		if err != nil {
			return nil, "", fmt.Errorf("response_format json: the response body is not JSON: %w", err)
		}
		return raw, "", nil
	case formatText:
		return strings.ToValidUTF8(string(b), "\uFFFD"), "", nil
	case formatBase64:
		return base64.StdEncoding.EncodeToString(b), formatBase64, nil
	}
	if isJSONType(contentType) {
		if raw, err := checkJSON(b); err == nil {
			return raw, "", nil
		}
	}
	if utf8.Valid(b) {
		return string(b), "", nil
	}
	return base64.StdEncoding.EncodeToString(b), formatBase64, nil
}

// checkJSON returns b as one JSON value, invalid UTF-8 replaced by U+FFFD,
// or why it is not one.
func checkJSON(b []byte) (json.RawMessage, error) {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	if !wasmflow.ValidJSON(b) {
		var v json.RawMessage
		return nil, json.Unmarshal(b, &v) // the same check, with the reason
	}
	return json.RawMessage(b), nil
}

// isJSONType reports whether a Content-Type names JSON: application/json,
// text/json or any type/subtype ending in +json (application/problem+json).
func isJSONType(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || mt == "text/json" || (strings.Contains(mt, "/") && strings.HasSuffix(mt, "+json"))
}

// statusError is the failure of a response outside 2xx, with the start of
// its body when that is text.
func statusError(resp *wasmflow.HTTPResponse, where string) error {
	msg := fmt.Sprintf("http_status: status %d from %s", resp.Status, where)
	if excerpt := textExcerpt(resp.Body); excerpt != "" {
		msg += ": " + excerpt
	}
	return errors.New(msg)
}

// textExcerpt is the start of b on one line, when b is text.
func textExcerpt(b []byte) string {
	if !utf8.Valid(b) {
		return ""
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func ok2xx(status int) bool { return status >= 200 && status <= 299 }

// hasHeader reports whether h has the header name, case-insensitively.
func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// headerValue is the value of the header name, case-insensitively.
func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// isToken reports whether s is an RFC 9110 token, as a header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// typeName names the JSON type of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func main() {}
