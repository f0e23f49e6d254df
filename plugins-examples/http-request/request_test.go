package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	wasmflow "github.com/wasmflow/wasmflow/plugins-examples/sdk/go"
)

// exchange is one request the node must send and the host's reply to it, in
// the wire format of wasmflow_http_fetch (bodies base64).
type exchange struct {
	Request json.RawMessage `json:"request"`
	Reply   json.RawMessage `json:"reply"`
}

// fakeHost stands in for wasmflow_http_fetch: it checks each request against
// the next exchange and answers with its reply.
type fakeHost struct {
	t         testing.TB
	exchanges []exchange
	sent      int
}

func (h *fakeHost) fetch(req wasmflow.HTTPRequest) (*wasmflow.HTTPResponse, error) {
	h.t.Helper()
	got, err := json.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.sent >= len(h.exchanges) {
		h.t.Fatalf("request %d not expected: %s", h.sent, got)
	}
	ex := h.exchanges[h.sent]
	h.sent++
	if !jsonEqual(h.t, got, ex.Request) {
		h.t.Fatalf("request %d:\ngot  %s\nwant %s", h.sent-1, got, ex.Request)
	}
	return decodeReply(h.t, ex.Reply)
}

// done fails the test when an expected request was not sent.
func (h *fakeHost) done() {
	h.t.Helper()
	if h.sent != len(h.exchanges) {
		h.t.Fatalf("sent %d request(s), want %d", h.sent, len(h.exchanges))
	}
}

// decodeReply reads a host reply: {"status", "headers", "body"} or {"error"}.
func decodeReply(t testing.TB, b []byte) (*wasmflow.HTTPResponse, error) {
	t.Helper()
	var r struct {
		Error *wasmflow.HTTPError `json:"error"`
		wasmflow.HTTPResponse
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reply %s: %v", b, err)
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return &r.HTTPResponse, nil
}

// jsonEqual compares two JSON texts as values, numbers by their text.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(decodeJSON(t, a), decodeJSON(t, b))
}

func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// newFakeHost reads testdata/.../NAME.fetch.json; absent means no request.
func newFakeHost(t testing.TB, inputPath string) *fakeHost {
	t.Helper()
	h := &fakeHost{t: t}
	raw, err := os.ReadFile(strings.TrimSuffix(inputPath, ".input.json") + ".fetch.json")
	if errors.Is(err, os.ErrNotExist) {
		return h
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &h.exchanges); err != nil {
		t.Fatal(err)
	}
	return h
}

func readInput(t testing.TB, path string) *wasmflow.Input {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := wasmflow.DecodeInput(raw)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func discardLog(string) {}

// TestTestdata runs the node logic (without Wasm) on every testdata case:
// NAME.input.json in, the requests of NAME.fetch.json answered, exactly
// NAME.output.json out.
func TestTestdata(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.input.json")
	if len(inputs) < 2 {
		t.Fatal("missing testdata")
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".input.json")
		t.Run(name, func(t *testing.T) {
			host := newFakeHost(t, path)
			out, err := handle(readInput(t, path), host.fetch, discardLog)
			if err != nil {
				t.Fatal(err)
			}
			host.done()
			got, err := wasmflow.EncodeOutput(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", name+".output.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, want) {
				t.Fatalf("got %s\nwant %s", got, want)
			}
		})
	}
}

// TestErrors runs every testdata/errors case: its message holds NAME.error.txt.
func TestErrors(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/errors/*.input.json")
	if len(inputs) == 0 {
		t.Fatal("missing testdata/errors")
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".input.json")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata/errors", name+".error.txt"))
			if err != nil {
				t.Fatal(err)
			}
			host := newFakeHost(t, path)
			_, err = handle(readInput(t, path), host.fetch, discardLog)
			if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(string(want))) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			host.done()
		})
	}
}

// build runs parseParams on params given as JSON.
func build(t *testing.T, params string) (*request, error) {
	t.Helper()
	var raw rawParams
	in := &wasmflow.Input{Params: json.RawMessage(params)}
	if err := in.DecodeParams(&raw); err != nil {
		return nil, err
	}
	return parseParams(&raw)
}

func TestRequestBuilding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, params string
		want         wasmflow.HTTPRequest
		display      string
	}{
		{"defaults", `{"url": "https://api.example.com"}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "https://api.example.com"}, "GET https://api.example.com"},
		{"scheme lower-cased, fragment dropped", `{"url": "HTTPS://api.example.com/a#frag"}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "https://api.example.com/a"}, "GET https://api.example.com/a"},
		{"port and escaped path kept", `{"url": "http://127.0.0.1:8080/a%2Fb/c%20d"}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "http://127.0.0.1:8080/a%2Fb/c%20d"}, "GET http://127.0.0.1:8080/a%2Fb/c%20d"},
		{"spaces and non-ASCII encoded", `{"url": "http://x.test/c d/é?q=a b&r=é&s=%41\"<>"}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "http://x.test/c%20d/%C3%A9?q=a%20b&r=%C3%A9&s=%41%22%3C%3E"}, "GET http://x.test/c%20d/%C3%A9"},
		{"IPv6 host", `{"url": "http://[2001:db8::1]/x"}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "http://[2001:db8::1]/x"}, "GET http://[2001:db8::1]/x"},
		{"query encoded, sorted, appended; display without it",
			`{"url": "https://x.test/s?keep=1&b=%20", "query": {"z": "1", "a b": "c&d=e", "uni": "é/?#", "n": 1.50, "t": true, "empty": ""}}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "https://x.test/s?keep=1&b=%20&a+b=c%26d%3De&empty=&n=1.50&t=true&uni=%C3%A9%2F%3F%23&z=1"},
			"GET https://x.test/s"},
		{"empty query object adds nothing", `{"url": "https://x.test/?a=1", "query": {}}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "https://x.test/?a=1"}, "GET https://x.test/"},
		{"headers pass secrets through untouched", `{"url": "https://x.test", "method": "DELETE", "headers": {"Authorization": "Bearer {{secret:token}}", "X-Key": "{{ secret:api_key }}", "X-Count": 3}}`,
			wasmflow.HTTPRequest{Method: "DELETE", URL: "https://x.test", Headers: map[string]string{
				"Authorization": "Bearer {{secret:token}}", "X-Key": "{{ secret:api_key }}", "X-Count": "3"}},
			"DELETE https://x.test"},
		{"JSON body gets a content type", `{"url": "https://x.test", "method": "POST", "body": {"b": [1, 2.0], "a": null}}`,
			wasmflow.HTTPRequest{Method: "POST", URL: "https://x.test", Headers: map[string]string{"Content-Type": "application/json"},
				Body: []byte(`{"b":[1,2.0],"a":null}`)}, "POST https://x.test"},
		{"JSON scalar body", `{"url": "https://x.test", "method": "PUT", "body": 42}`,
			wasmflow.HTTPRequest{Method: "PUT", URL: "https://x.test", Headers: map[string]string{"Content-Type": "application/json"},
				Body: []byte(`42`)}, "PUT https://x.test"},
		{"a given content type wins, any case", `{"url": "https://x.test", "method": "POST", "headers": {"CONTENT-TYPE": "application/vnd.api+json"}, "body": [1]}`,
			wasmflow.HTTPRequest{Method: "POST", URL: "https://x.test", Headers: map[string]string{"CONTENT-TYPE": "application/vnd.api+json"},
				Body: []byte(`[1]`)}, "POST https://x.test"},
		{"string body as it is, no content type", `{"url": "https://x.test", "method": "POST", "body": "line 1\n\"2\" é"}`,
			wasmflow.HTTPRequest{Method: "POST", URL: "https://x.test", Body: []byte("line 1\n\"2\" é")}, "POST https://x.test"},
		{"null params are defaults", `{"url": "https://x.test", "method": null, "headers": null, "query": null, "body": null, "response_format": null, "fail_on_status": null}`,
			wasmflow.HTTPRequest{Method: "GET", URL: "https://x.test"}, "GET https://x.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := build(t, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req.fetch, tc.want) {
				t.Fatalf("got  %+v\nwant %+v (body %q, want %q)", req.fetch, tc.want, req.fetch.Body, tc.want.Body)
			}
			if req.display != tc.display {
				t.Fatalf("display %q, want %q", req.display, tc.display)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	req, err := build(t, `{"url": "https://x.test"}`)
	if err != nil || req.format != formatAuto || !req.failOnStatus {
		t.Fatalf("defaults: %+v %v", req, err)
	}
	req, err = build(t, `{"url": "https://x.test", "response_format": "base64", "fail_on_status": false}`)
	if err != nil || req.format != formatBase64 || req.failOnStatus {
		t.Fatalf("set: %+v %v", req, err)
	}
}

// Every invalid param fails with a message naming it.
func TestParamErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ params, want string }{
		{`{}`, "url: is required"},
		{`{"url": null}`, "url: is required"},
		{`{"url": 7}`, "url: want a string, got a number"},
		{`{"url": ""}`, "url: is empty"},
		{`{"url": "  "}`, "url: is empty"},
		{`{"url": "api.example.com/x"}`, `url: "api.example.com/x": want an http or https URL`},
		{`{"url": "file:///etc/passwd"}`, "want an http or https URL"},
		{`{"url": "javascript:alert(1)"}`, "want an http or https URL"},
		{`{"url": "https:opaque"}`, "has no host"},
		{`{"url": "https:///path"}`, "has no host"},
		{`{"url": "http://:80/"}`, "has no host"},
		{`{"url": "http://a b.test/"}`, "url: \"http://a b.test/\" is not a URL"},
		{`{"url": "http://x.test/%zz"}`, "is not a URL"},
		{`{"url": "https://x.test", "method": "get"}`, `method: "get" is not one of GET, HEAD`},
		{`{"url": "https://x.test", "method": "CONNECT"}`, `method: "CONNECT"`},
		{`{"url": "https://x.test", "method": 1}`, "method: want a string, got a number"},
		{`{"url": "https://x.test", "headers": "a: b"}`, "headers: want an object, got a string"},
		{`{"url": "https://x.test", "headers": {"a": null}}`, `headers["a"]: want a string, got null`},
		{`{"url": "https://x.test", "headers": {"a": [1]}}`, `headers["a"]: want a string, got an array`},
		{`{"url": "https://x.test", "headers": {"bad name": "x"}}`, `headers: "bad name" is not a valid header name`},
		{`{"url": "https://x.test", "headers": {"": "x"}}`, "headers: empty name"},
		{`{"url": "https://x.test", "query": [1]}`, "query: want an object, got an array"},
		{`{"url": "https://x.test", "query": {"a": {}}}`, `query["a"]: want a string, got an object`},
		{`{"url": "https://x.test", "query": {"": "x"}}`, "query: empty name"},
		{`{"url": "https://x.test", "response_format": "XML"}`, `response_format: "XML" is not one of auto, json, text, base64`},
		{`{"url": "https://x.test", "response_format": true}`, "response_format: want a string, got a boolean"},
		{`{"url": "https://x.test", "fail_on_status": "false"}`, "fail_on_status: want a boolean, got a string"},
		{`{"url": "https://x.test", "timeout": 5}`, `unknown field "timeout"`},
	} {
		t.Run(tc.params, func(t *testing.T) {
			t.Parallel()
			_, err := handle(&wasmflow.Input{Params: json.RawMessage(tc.params)}, func(wasmflow.HTTPRequest) (*wasmflow.HTTPResponse, error) {
				t.Fatal("no request may be sent")
				return nil, nil
			}, discardLog)
			if err == nil || !strings.HasPrefix(err.Error(), "invalid params: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Credentials in a URL are refused without repeating them.
func TestCredentialsNotEchoed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"https://ada:s3cr3t@api.example.com/x?y=1", `url: "https://api.example.com/x?y=1" holds credentials`},
		{"https://ada@api.example.com/", `url: "https://api.example.com/" holds credentials`},
		{"ftp://ada:s3cr3t@files.example.com/", `url: "ftp://files.example.com/": want an http or https URL`},
		{"https://ada:s3cr3t@/", `url: "https:///" has no host`},
		{"https://ada:s3cr3t@x y/", "url: is not a URL: invalid character"},
	} {
		_, err := build(t, `{"url": "`+tc.url+`"}`)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "ada") ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.url, err, tc.want)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	binary := []byte{0xff, 0x00, 0xfe}
	for _, tc := range []struct {
		name, format, contentType string
		body                      []byte
		want                      any
		encoding                  string
	}{
		{"auto JSON as written", formatAuto, "application/json", []byte(`{"n": 1.10, "a": [true, null]}`),
			json.RawMessage(`{"n": 1.10, "a": [true, null]}`), ""},
		{"auto JSON with parameters, any case", formatAuto, "Application/JSON ; charset=utf-8", []byte(`"s"`), json.RawMessage(`"s"`), ""},
		{"auto +json", formatAuto, "application/problem+json", []byte(`{"title": "x"}`), json.RawMessage(`{"title": "x"}`), ""},
		{"auto text/json", formatAuto, "text/json", []byte(`[1]`), json.RawMessage(`[1]`), ""},
		{"auto JSON, invalid UTF-8 in a string repaired", formatAuto, "application/json", []byte("[\"a\xffb\"]"), json.RawMessage("[\"a\uFFFDb\"]"), ""},
		{"auto JSON type that does not parse is text", formatAuto, "application/json", []byte(`{"a":`), `{"a":`, ""},
		{"auto JSON type, two values, is text", formatAuto, "application/json", []byte(`1 2`), `1 2`, ""},
		{"auto JSON type, empty body, is text", formatAuto, "application/json", nil, "", ""},
		{"auto JSON-looking text stays text", formatAuto, "text/plain", []byte(`{"a": 1}`), `{"a": 1}`, ""},
		{"auto no content type", formatAuto, "", []byte("héllo"), "héllo", ""},
		{"auto binary", formatAuto, "application/octet-stream", binary, "/wD+", "base64"},
		{"auto binary under a JSON type", formatAuto, "application/json", binary, "/wD+", "base64"},
		{"auto unknown +json-like types are not JSON", formatAuto, "+json", []byte(`1`), "1", ""},
		{"json ignores the content type", formatJSON, "text/html", []byte(" [1, \"x\"] "), json.RawMessage(" [1, \"x\"] "), ""},
		{"json empty is null", formatJSON, "application/json", []byte(" \n"), nil, ""},
		{"text", formatText, "application/json", []byte(`{"a": 1}`), `{"a": 1}`, ""},
		{"text repairs UTF-8", formatText, "", []byte("a\xffb"), "a\uFFFDb", ""},
		{"base64", formatBase64, "text/plain", []byte("hi"), "aGk=", "base64"},
		{"base64 empty", formatBase64, "", nil, "", "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, enc, err := decodeBody(tc.body, tc.format, tc.contentType)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || enc != tc.encoding {
				t.Fatalf("got %#v %q, want %#v %q", got, enc, tc.want, tc.encoding)
			}
		})
	}
	for _, body := range []string{"<html>", `{"a":`, `1 2`, `{} x`} {
		if _, _, err := decodeBody([]byte(body), formatJSON, "application/json"); err == nil ||
			!strings.Contains(err.Error(), "response_format json: the response body is not JSON") {
			t.Errorf("%q: err = %v", body, err)
		}
	}
}

// runNode sends params through handle with items, every request answered by reply.
func runNode(t *testing.T, items []wasmflow.Item, params string, reply func(n int) (*wasmflow.HTTPResponse, error)) ([]wasmflow.Item, []string, int, error) {
	t.Helper()
	var logs []string
	sent := 0
	out, err := handle(&wasmflow.Input{Items: items, Params: json.RawMessage(params)},
		func(wasmflow.HTTPRequest) (*wasmflow.HTTPResponse, error) {
			sent++
			return reply(sent)
		},
		func(msg string) { logs = append(logs, msg) })
	if err != nil {
		return nil, logs, sent, err
	}
	return out.Items, logs, sent, nil
}

func ok(body string) func(int) (*wasmflow.HTTPResponse, error) {
	return func(int) (*wasmflow.HTTPResponse, error) {
		return &wasmflow.HTTPResponse{Status: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: []byte(body)}, nil
	}
}

func TestOneRequestPerItem(t *testing.T) {
	t.Parallel()
	items, logs, sent, err := runNode(t, []wasmflow.Item{{"a": 1}, {"a": 2}, {"a": 3}}, `{"url": "https://x.test/p?k=v"}`, ok("x"))
	if err != nil || sent != 3 || len(items) != 3 {
		t.Fatalf("sent %d, items %v, err %v", sent, items, err)
	}
	want := wasmflow.Item{"status": 200, "headers": map[string]any{"content-type": "text/plain"}, "body": "x"}
	for _, it := range items {
		if !reflect.DeepEqual(it, want) {
			t.Fatalf("item %v, want %v", it, want)
		}
	}
	wantLogs := []string{
		"GET https://x.test/p (items[0]): status 200, 1 bytes",
		"GET https://x.test/p (items[1]): status 200, 1 bytes",
		"GET https://x.test/p (items[2]): status 200, 1 bytes",
		"sent 3 request(s), 0 with a status outside 2xx",
	}
	if !reflect.DeepEqual(logs, wantLogs) {
		t.Fatalf("logs %q", logs)
	}

	items, _, sent, err = runNode(t, nil, `{"url": "https://x.test"}`, ok(""))
	if err != nil || sent != 1 || len(items) != 1 {
		t.Fatalf("no items: sent %d, items %v, err %v", sent, items, err)
	}
}

// Per-request log lines stop at maxLoggedRequests; the summary counts all.
func TestLogsBounded(t *testing.T) {
	t.Parallel()
	items := make([]wasmflow.Item, maxLoggedRequests+5)
	for i := range items {
		items[i] = wasmflow.Item{}
	}
	_, logs, sent, err := runNode(t, items, `{"url": "https://x.test", "fail_on_status": false}`, func(n int) (*wasmflow.HTTPResponse, error) {
		return &wasmflow.HTTPResponse{Status: 200 + 300*(n%2)}, nil
	})
	if err != nil || sent != len(items) || len(logs) != maxLoggedRequests+1 {
		t.Fatalf("sent %d, %d log lines, err %v", sent, len(logs), err)
	}
	if last := logs[len(logs)-1]; last != "sent 25 request(s), 13 with a status outside 2xx" {
		t.Fatalf("summary %q", last)
	}
}

func TestStatusHandling(t *testing.T) {
	t.Parallel()
	reply := func(status int, body string) func(int) (*wasmflow.HTTPResponse, error) {
		return func(int) (*wasmflow.HTTPResponse, error) {
			return &wasmflow.HTTPResponse{Status: status, Headers: map[string]string{}, Body: []byte(body)}, nil
		}
	}
	for _, status := range []int{200, 201, 204, 299} {
		if _, _, _, err := runNode(t, nil, `{"url": "https://x.test"}`, reply(status, "")); err != nil {
			t.Errorf("%d: %v", status, err)
		}
	}
	for _, status := range []int{100, 199, 300, 304, 400, 404, 500, 503} {
		_, _, _, err := runNode(t, nil, `{"url": "https://x.test/a?token=t0"}`, reply(status, ""))
		want := "http_status: status " + strconv.Itoa(status) + " from GET https://x.test/a"
		if err == nil || err.Error() != want {
			t.Errorf("%d: err = %v, want %q", status, err, want)
		}
	}

	// The second item's response fails: the message names the item; the
	// query is left out, the body's start is quoted on one line.
	_, _, sent, err := runNode(t, []wasmflow.Item{{}, {}, {}}, `{"url": "https://x.test/a?token=t0", "method": "POST"}`,
		func(n int) (*wasmflow.HTTPResponse, error) {
			if n == 2 {
				return &wasmflow.HTTPResponse{Status: 422, Body: []byte("{\n  \"error\": \"bad\"\n}")}, nil
			}
			return &wasmflow.HTTPResponse{Status: 200}, nil
		})
	want := `http_status: status 422 from POST https://x.test/a (items[1]): { "error": "bad" }`
	if err == nil || err.Error() != want || sent != 2 {
		t.Fatalf("err = %v (sent %d), want %q", err, sent, want)
	}

	// A long body is cut at a character boundary; a binary one is not quoted.
	_, _, _, err = runNode(t, nil, `{"url": "https://x.test"}`, reply(500, strings.Repeat("é", 300)))
	if err == nil || !strings.HasSuffix(err.Error(), ": "+strings.Repeat("é", maxExcerpt/2)+"…") {
		t.Fatalf("long body: %v", err)
	}
	_, _, _, err = runNode(t, nil, `{"url": "https://x.test"}`, reply(500, "\xff\xfe"))
	if err == nil || err.Error() != "http_status: status 500 from GET https://x.test" {
		t.Fatalf("binary body: %v", err)
	}

	// fail_on_status false: the item comes out with its status.
	items, _, _, err := runNode(t, nil, `{"url": "https://x.test", "fail_on_status": false}`, reply(503, "busy"))
	if err != nil || len(items) != 1 || items[0]["status"] != 503 || items[0]["body"] != "busy" {
		t.Fatalf("kept: %v %v", items, err)
	}
}

// A refusal of the host fails the run with a message that starts with its code.
func TestHostErrors(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"host_not_allowed", "method_not_allowed", "ssrf_blocked", "too_many_requests",
		"response_too_large", "timeout", "network", "invalid_request", "secret_not_granted"} {
		_, _, _, err := runNode(t, []wasmflow.Item{{}, {}}, `{"url": "https://x.test/p?q=1"}`, func(n int) (*wasmflow.HTTPResponse, error) {
			if n == 2 {
				return nil, &wasmflow.HTTPError{Code: code, Message: "the reason"}
			}
			return &wasmflow.HTTPResponse{Status: 200}, nil
		})
		want := code + ": the reason: GET https://x.test/p (items[1])"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	_, _, _, err := runNode(t, nil, `{"url": "https://x.test"}`, func(int) (*wasmflow.HTTPResponse, error) {
		return nil, errors.New("http fetch: host returned no reply")
	})
	if err == nil || err.Error() != "http fetch: host returned no reply: GET https://x.test" {
		t.Fatalf("other error: %v", err)
	}
}

func TestResponseItem(t *testing.T) {
	t.Parallel()
	item, err := responseItem(&wasmflow.HTTPResponse{
		Status:  200,
		Headers: map[string]string{"Content-Type": "application/json", "X-Multi": "a, b", "set-cookie": "a=1\nb=2"},
		Body:    []byte(`{"id": 12345678901234567890}`),
	}, formatAuto)
	if err != nil {
		t.Fatal(err)
	}
	want := wasmflow.Item{
		"status":  200,
		"headers": map[string]any{"content-type": "application/json", "x-multi": "a, b", "set-cookie": "a=1\nb=2"},
		"body":    json.RawMessage(`{"id": 12345678901234567890}`),
	}
	if !reflect.DeepEqual(item, want) {
		t.Fatalf("got %#v", item)
	}
	out, err := wasmflow.EncodeOutput(&wasmflow.Output{Items: []wasmflow.Item{item}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != `{"items":[{"body":{"id":12345678901234567890},"headers":{"content-type":"application/json","set-cookie":"a=1\nb=2","x-multi":"a, b"},"status":200}]}` {
		t.Fatalf("encoded %s", got)
	}
}

// The request document the SDK hands the host: body base64, no empty fields.
func TestRequestDocument(t *testing.T) {
	t.Parallel()
	req, err := build(t, `{"url": "https://x.test", "method": "POST", "body": {"a": 1}, "headers": {"Authorization": "Bearer {{secret:token}}"}}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(req.fetch)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"method":"POST","url":"https://x.test","headers":{"Authorization":"Bearer {{secret:token}}","Content-Type":"application/json"},"body":"eyJhIjoxfQ=="}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// FuzzParams: no params make the node panic; accepted ones give an http or
// https URL with a host and no fragment, which parses back to itself.
func FuzzParams(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.input.json")
	errInputs, _ := filepath.Glob("testdata/errors/*.input.json")
	for _, path := range append(inputs, errInputs...) {
		f.Add(string(readInput(f, path).Params))
	}
	f.Add(`{"url": "http://x.test/a b?c d#e", "query": {"é": "&="}, "body": [1]}`)
	f.Fuzz(func(t *testing.T, params string) {
		req, err := build(t, params)
		if err != nil {
			return
		}
		u, err := url.Parse(req.fetch.URL)
		if err != nil {
			t.Fatalf("%s: built %q, which does not parse: %v", params, req.fetch.URL, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" ||
			u.String() != req.fetch.URL {
			t.Fatalf("%s: built %q", params, req.fetch.URL)
		}
	})
}

// FuzzDecodeBody: any body in any format decodes to something the SDK can
// encode, and json mode never gives back an unparsable body silently.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"a": [1, 2.50, "x"]}`), "application/json")
	f.Add([]byte("\xff\x00"), "text/plain")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for _, format := range []string{formatAuto, formatJSON, formatText, formatBase64} {
			v, enc, err := decodeBody(body, format, contentType)
			if err != nil {
				if format != formatJSON {
					t.Fatalf("%s: %v", format, err)
				}
				continue
			}
			item := wasmflow.Item{"body": v}
			if enc != "" {
				item["body_encoding"] = enc
			}
			if _, err := wasmflow.EncodeOutput(&wasmflow.Output{Items: []wasmflow.Item{item}}); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
	})
}
