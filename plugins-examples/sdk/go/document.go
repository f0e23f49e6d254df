package wasmflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Item is one workflow item: a JSON object. Numbers decode as json.Number, so
// they come back out exactly as they came in (no float64 rounding).
type Item = map[string]any

// Input is the input document a node receives (DESIGN §4):
//
//	{"items": [...], "inputs": {"main": [...]}, "params": {...},
//	 "node": {"name", "module", "version"}, "execution": {"id", "workflow_id", "attempt"}}
//
// Items is the "main" input. Inputs holds every input port undecoded (for
// "main" it repeats Items), so a node that reads only Items pays for one copy;
// decode a port with PortItems. Params arrive with expressions already
// evaluated; decode them with DecodeParams.
type Input struct {
	Items     []Item                     `json:"items"`
	Inputs    map[string]json.RawMessage `json:"inputs"`
	Params    json.RawMessage            `json:"params"`
	Node      NodeInfo                   `json:"node"`
	Execution ExecutionInfo              `json:"execution"`
}

// NodeInfo names the node being run.
type NodeInfo struct {
	Name    string `json:"name"`
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
}

// ExecutionInfo identifies the execution the run belongs to.
type ExecutionInfo struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
	Attempt    int    `json:"attempt"`
}

// Output is the output document: Items for the single "main" output, or
// Outputs for a node with several output ports (then Items must be empty).
type Output struct {
	Items   []Item
	Outputs map[string][]Item
}

// DecodeInput parses an input document. Items must be JSON objects; numbers are
// kept as json.Number. Ports in Inputs stay undecoded until PortItems.
func DecodeInput(b []byte) (*Input, error) {
	in, err := decodeDocument(b)
	if err != nil {
		return nil, fmt.Errorf("invalid input document: %w", err)
	}
	if in.Items == nil {
		in.Items = []Item{}
	}
	return in, nil
}

// PortItems decodes the items of input port name; nil when the port is absent.
func (in *Input) PortItems(name string) ([]Item, error) {
	raw, ok := in.Inputs[name]
	if !ok {
		return nil, nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid input document: inputs[%q]: %w", name, err)
	}
	items, err := itemsOf(v, fmt.Sprintf("inputs[%q]", name))
	if err != nil {
		return nil, fmt.Errorf("invalid input document: %w", err)
	}
	return items, nil
}

// DecodeParams decodes the node params into v (a pointer). Unknown fields are
// an error, so a misspelt param is reported instead of ignored; absent or null
// params leave v as it is. Numbers inside any-typed fields decode as json.Number.
func (in *Input) DecodeParams(v any) error {
	p := bytes.TrimSpace(in.Params)
	if len(p) == 0 || string(p) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid params: %w", err)
	}
	return nil
}

// EncodeOutput renders an output document: {"items": [...]} or, when Outputs
// is set, {"outputs": {"port": [...]}}. Nil lists encode as [], not null. The
// bytes are what encoding/json would write with HTML escaping off (map keys
// sorted); values of types other than the decoded ones (maps, slices, strings,
// json.Number, bools, nil) go through encoding/json, except json.RawMessage,
// which is validated and written compacted, as encoding/json does, without
// being decoded.
func EncodeOutput(out *Output) ([]byte, error) {
	if out == nil {
		out = &Output{}
	}
	b := make([]byte, 0, 4096)
	var err error
	if out.Outputs == nil {
		b = append(b, `{"items":`...)
		if b, err = appendItems(b, out.Items); err != nil {
			return nil, fmt.Errorf("encode output: %w", err)
		}
		return append(b, '}'), nil
	}
	if len(out.Items) > 0 {
		return nil, errors.New("output has both Items and Outputs")
	}
	ports := make([]string, 0, len(out.Outputs))
	for k := range out.Outputs {
		ports = append(ports, k)
	}
	sort.Strings(ports)
	b = append(b, `{"outputs":{`...)
	for i, k := range ports {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if b, err = appendItems(b, out.Outputs[k]); err != nil {
			return nil, fmt.Errorf("encode output: %w", err)
		}
	}
	return append(b, "}}"...), nil
}

// ValidJSON reports whether b is one JSON value, surrounding whitespace
// allowed: the answer of json.Valid, several times faster in Wasm. A node
// that outputs such bytes as they are puts them in a json.RawMessage, which
// EncodeOutput writes compacted without decoding them.
func ValidJSON(b []byte) bool {
	_, err := oneValue(b)
	return err == nil
}

// marshalNoHTML is json.Marshal without HTML escaping.
func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// process is Run without the ABI: input bytes in, output bytes or error out.
// A panic in f becomes an error.
func process(input []byte, f func(*Input) (*Output, error)) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	in, err := DecodeInput(input)
	if err != nil {
		return nil, err
	}
	o, err := f(in)
	if err != nil {
		return nil, err
	}
	return EncodeOutput(o)
}
