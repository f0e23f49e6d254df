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
	if _, err := decodeFetchResponse([]byte(`nope`)); err == nil {
		t.Fatal("invalid reply must fail")
	}
	b, _ := json.Marshal(HTTPRequest{Method: "GET", URL: "https://x", Body: []byte("hi")})
	if string(b) != `{"method":"GET","url":"https://x","body":"aGk="}` {
		t.Fatalf("request %s", b)
	}
}
