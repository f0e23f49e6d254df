package wasmflow

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeInputKeepsNumbers(t *testing.T) {
	in, err := DecodeInput([]byte(`{"items":[{"n":12345678901234567890,"f":1.10}],"params":{"a":1},
		"node":{"name":"x","module":"o/n","version":"1.0.0"},"execution":{"id":"ex","workflow_id":"wf","attempt":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeOutput(&Output{Items: in.Items})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"items":[{"f":1.10,"n":12345678901234567890}]}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if port, err := in.PortItems("main"); err != nil || port != nil {
		t.Fatalf("absent port: %v %v", port, err)
	}
	in, err = DecodeInput([]byte(`{"inputs":{"a":[{"x":1}],"b":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if port, err := in.PortItems("a"); err != nil || len(port) != 1 || port[0]["x"] != json.Number("1") {
		t.Fatalf("port a: %v %v", port, err)
	}
	if _, err := in.PortItems("b"); err == nil {
		t.Fatal("port b holds a non-object and must fail")
	}
	in, _ = DecodeInput([]byte(`{"node":{"name":"x"},"execution":{"attempt":2,"workflow_id":"wf"}}`))
	if in.Node.Name != "x" || in.Execution.Attempt != 2 || in.Execution.WorkflowID != "wf" {
		t.Fatalf("node/execution not decoded: %+v %+v", in.Node, in.Execution)
	}
}

func TestDecodeInputErrors(t *testing.T) {
	for _, doc := range []string{``, `{"items":[1]}`, `{"items":[null]}`, `{"items":[]} {}`, `{"items":{}}`, `[]`} {
		if _, err := DecodeInput([]byte(doc)); err == nil || !strings.HasPrefix(err.Error(), "invalid input document") {
			t.Errorf("%q: err = %v", doc, err)
		}
	}
	in, err := DecodeInput([]byte(`{}`))
	if err != nil || in.Items == nil || len(in.Items) != 0 {
		t.Fatalf("empty document: %v %#v", err, in)
	}
}

func TestDecodeParams(t *testing.T) {
	var p struct {
		A int `json:"a"`
	}
	in := &Input{Params: json.RawMessage(`{"a":3}`)}
	if err := in.DecodeParams(&p); err != nil || p.A != 3 {
		t.Fatalf("%v %v", err, p)
	}
	in.Params = json.RawMessage(`{"b":3}`)
	if err := in.DecodeParams(&p); err == nil || !strings.Contains(err.Error(), `unknown field "b"`) {
		t.Fatalf("unknown field: %v", err)
	}
	in.Params = nil
	if err := in.DecodeParams(&p); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeOutput(t *testing.T) {
	for _, c := range []struct {
		out  *Output
		want string
	}{
		{nil, `{"items":[]}`},
		{&Output{}, `{"items":[]}`},
		{&Output{Items: []Item{{"s": "<&>"}}}, `{"items":[{"s":"<&>"}]}`},
		{&Output{Outputs: map[string][]Item{"true": {{"a": true}}, "false": nil}}, `{"outputs":{"false":[],"true":[{"a":true}]}}`},
	} {
		b, err := EncodeOutput(c.out)
		if err != nil || string(b) != c.want {
			t.Errorf("got %s %v, want %s", b, err, c.want)
		}
	}
	if _, err := EncodeOutput(&Output{Items: []Item{{}}, Outputs: map[string][]Item{}}); err == nil {
		t.Error("Items and Outputs together must fail")
	}
}

func TestProcess(t *testing.T) {
	out, err := process([]byte(`{"items":[{"a":1}]}`), func(in *Input) (*Output, error) {
		return &Output{Items: in.Items}, nil
	})
	if err != nil || string(out) != `{"items":[{"a":1}]}` {
		t.Fatalf("%s %v", out, err)
	}
	_, err = process([]byte(`{}`), func(*Input) (*Output, error) { return nil, errors.New("boom") })
	if err == nil || err.Error() != "boom" {
		t.Fatalf("error: %v", err)
	}
	_, err = process([]byte(`{}`), func(*Input) (*Output, error) { panic("oops") })
	if err == nil || err.Error() != "panic: oops" {
		t.Fatalf("panic: %v", err)
	}
}

func TestDecodeFetchResponse(t *testing.T) {
	r, err := decodeFetchResponse([]byte(`{"status":201,"headers":{"a":"1","b":["x","y"]},"body":"aGk="}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &HTTPResponse{Status: 201, Headers: map[string]string{"a": "1", "b": "x, y"}, Body: []byte("hi")}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v", r)
	}
	if got := r.HeaderNames(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("names %v", got)
	}
	_, err = decodeFetchResponse([]byte(`{"error":{"code":"ssrf_blocked","message":"10.0.0.1"}}`))
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != "ssrf_blocked" {
		t.Fatalf("error reply: %v", err)
	}
	for _, reply := range []string{`nope`, `[]`, `{"status":"200"}`, `{"status":1.5}`, `{"headers":[]}`,
		`{"headers":{"a":1}}`, `{"headers":{"a":["x",1]}}`, `{"body":1}`, `{"body":"*"}`, `{"error":"x"}`,
		`{"error":{"code":1}}`, `{"error":{"code":"a","message":2}}`, `{"status":200} x`} {
		if _, err := decodeFetchResponse([]byte(reply)); err == nil ||
			!strings.HasPrefix(err.Error(), "http fetch: invalid reply from host: ") {
			t.Errorf("%s: err = %v", reply, err)
		}
	}
	r, err = decodeFetchResponse([]byte(`{"status":204,"headers":null,"body":null,"error":null}`))
	if err != nil || r.Status != 204 || len(r.Headers) != 0 || r.Body != nil {
		t.Fatalf("nulls: %+v %v", r, err)
	}
	b, _ := json.Marshal(HTTPRequest{Method: "GET", URL: "https://x", Body: []byte("hi")})
	if string(b) != `{"method":"GET","url":"https://x","body":"aGk="}` {
		t.Fatalf("request %s", b)
	}
}

// FuzzDecodeFetchResponse: a reply the host encodes (encoding/json) decodes
// to what it holds; no input makes the decoder panic.
func FuzzDecodeFetchResponse(f *testing.F) {
	f.Add(200, "Content-Type", "application/json", []byte(`{"a":1}`), "")
	f.Add(0, "", "", []byte(nil), "ssrf_blocked")
	f.Fuzz(func(t *testing.T, status int, name, value string, body []byte, code string) {
		if _, err := decodeFetchResponse(body); err != nil && !strings.HasPrefix(err.Error(), "http fetch: ") {
			t.Fatalf("%q: %v", body, err)
		}
		var reply any = map[string]any{"status": status, "headers": map[string]any{name: value, name + "-list": []string{value, value}}, "body": body}
		if code != "" {
			reply = map[string]any{"error": map[string]string{"code": code, "message": value}}
		}
		b, err := json.Marshal(reply)
		if err != nil {
			t.Fatal(err)
		}
		// what encoding/json makes of a string (invalid UTF-8 becomes U+FFFD)
		sent := func(s string) string {
			b, _ := json.Marshal(s)
			var out string
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		r, err := decodeFetchResponse(b)
		if code != "" {
			var he *HTTPError
			if !errors.As(err, &he) || he.Code != sent(code) || he.Message != sent(value) {
				t.Fatalf("%s: %v", b, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		v, n := sent(value), sent(name)
		want := &HTTPResponse{Status: status, Headers: map[string]string{n: v, n + "-list": v + ", " + v}, Body: body}
		if len(body) == 0 && body != nil {
			want.Body = []byte{} // "" decodes to an empty, non-nil body
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("%s: got %+v, want %+v", b, r, want)
		}
	})
}
