package wasmflow

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// stdDecode is the reference: encoding/json with UseNumber.
func stdDecode(b []byte) (any, error) {
	if !json.Valid(b) {
		return nil, json.Unmarshal(b, new(any))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

var seeds = []string{
	`{"a":[1,2.5e-3,-0,true,false,null,"x\u00e9\n"],"b":{}}`, `[]`, `{}`, `"\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`,
	`0`, `-1.5E+10`, `{"k":{"n":[[[]]]}}`, ` [1 , 2 ] `, `"\"\\\/\b\f\n\r\t"`, `123456789012345678901234567890`,
	"\"\xff\xfe ok \xe2\x80\xa8 \u2029\"", `{"a":1,"a":2}`, `"<&>"`, `01`, `1.`, `[1,]`, `{"a":1,}`, `tru`, `"\x"`, `"a`,
	`[`, `{"a"}`, `1 2`, "\"\x01\"", `"\u00"`, `-`, `{"a":[{"b":"c\u0000d"}]}`,
}

func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeValue(b)
		want, werr := stdDecode(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: ours %v, encoding/json %v", b, err, werr)
		}
		if ValidJSON(b) != json.Valid(b) {
			t.Fatalf("%q: ValidJSON %v, json.Valid %v", b, ValidJSON(b), json.Valid(b))
		}
		// a json.RawMessage is written as encoding/json writes it
		raw, rerr := appendValue(nil, json.RawMessage(b))
		rawRef, rawErr := marshalNoHTML(json.RawMessage(b))
		if (rerr == nil) != (rawErr == nil) || !bytes.Equal(raw, rawRef) {
			t.Fatalf("%q: RawMessage written %q (%v), encoding/json %q (%v)", b, raw, rerr, rawRef, rawErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: ours %#v, encoding/json %#v", b, got, want)
		}
		// and encoding matches encoding/json byte for byte
		enc, err := appendValue(nil, got)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := marshalNoHTML(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, ref) {
			t.Fatalf("%q: encoded %s, encoding/json %s", b, enc, ref)
		}
	})
}

func TestDecodeDocumentSkipsAndValidates(t *testing.T) {
	in, err := DecodeInput([]byte(`{"x":{"deep":[1,{"y":"\u00e9"}]},"inputs":{"main":[{"a":1}],"other":null},` +
		`"items":[{"a":1}],"params":{"p":[1]},"node":{"name":"n"},"execution":{"id":"e","attempt":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(in.Params) != `{"p":[1]}` || string(in.Inputs["main"]) != `[{"a":1}]` || string(in.Inputs["other"]) != "null" {
		t.Fatalf("raw spans: %s %v", in.Params, in.Inputs)
	}
	if in.Execution.Attempt != 3 || in.Node.Name != "n" || len(in.Items) != 1 {
		t.Fatalf("%+v", in)
	}
	for _, doc := range []string{`{"x":[1,]}`, `{"inputs":[]}`, `{"inputs":{"main":[1,}}`, `{"items":[{}],}`,
		`{"node":{"name":1}}`, `{"items":{}}`, `{"items":[{}]`, `{"items":[{}]}}`, `{"a" 1}`} {
		if _, err := DecodeInput([]byte(doc)); err == nil || !strings.HasPrefix(err.Error(), "invalid input document") {
			t.Errorf("%s: err = %v", doc, err)
		}
	}
}

func TestEncodeOtherTypes(t *testing.T) {
	out, err := EncodeOutput(&Output{Items: []Item{{"f": 1.5, "i": 3, "u": uint8(2), "s": []string{"a"}, "n": json.Number("")}}})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"items":[{"f":1.5,"i":3,"n":0,"s":["a"],"u":2}]}` {
		t.Fatalf("%s", out)
	}
	if _, err := EncodeOutput(&Output{Items: []Item{{"n": json.Number("1x")}}}); err == nil {
		t.Fatal("an invalid json.Number must fail")
	}
}

func TestEncodeRawMessage(t *testing.T) {
	out, err := EncodeOutput(&Output{Items: []Item{{
		"raw":   json.RawMessage(" {\n \"z\" : [1.10, \"a b\\\" \\\\\"] ,\t\"a\":{}}\r\n"),
		"nil":   json.RawMessage(nil),
		"inner": []any{json.RawMessage(`"<&>"`)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"items":[{"inner":["<&>"],"nil":null,"raw":{"z":[1.10,"a b\" \\"],"a":{}}}]}`; string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	for _, bad := range []string{``, ` `, `{`, `1 2`, `[1,]`, `"a`} {
		if _, err := EncodeOutput(&Output{Items: []Item{{"raw": json.RawMessage(bad)}}}); err == nil ||
			!strings.Contains(err.Error(), "invalid json.RawMessage") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
