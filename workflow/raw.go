package workflow

import (
	"encoding/json"
	"fmt"
	"maps"
)

// Node params of a raw-IO module node (manifest "io": "raw", DESIGN §4).
const (
	// RawInputParam is the param whose value, evaluated for each item with
	// $json that item, the module receives; without it, the item itself.
	RawInputParam = "input"
	// RawOutputFieldParam names the item field the reply is stored in.
	RawOutputFieldParam = "output_field"
	// RawOutputField is that field when the params set none.
	RawOutputField = "result"
)

// RawInput is the bytes a raw-IO module receives for v, the value of its
// node's input param: a string as itself, anything else as JSON.
func RawInput(v any) ([]byte, error) {
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("workflow: the input param cannot be encoded as JSON: %w", err)
	}
	return b, nil
}

// RawReply is a raw-IO module's reply as an item value: the JSON value
// (kept as it is, as a json.RawMessage) when the reply is JSON, the text
// otherwise.
func RawReply(out []byte) any {
	if json.Valid(out) {
		return json.RawMessage(out)
	}
	return string(out)
}

// RawOutputFieldOf returns the output_field of a raw-IO node's evaluated
// params: RawOutputField when it is absent, an error when it is not a
// non-empty string.
func RawOutputFieldOf(params map[string]any) (string, error) {
	v, ok := params[RawOutputFieldParam]
	if !ok || v == nil {
		return RawOutputField, nil
	}
	f, ok := v.(string)
	switch {
	case !ok:
		return "", fmt.Errorf("params.%s must be a string, not %s", RawOutputFieldParam, jsonType(v))
	case f == "":
		return "", fmt.Errorf("params.%s must not be empty", RawOutputFieldParam)
	}
	return f, nil
}

// WithField returns a copy of item with field set to v.
func WithField(item Item, field string, v any) Item {
	next := make(Item, len(item)+1)
	maps.Copy(next, item)
	next[field] = v
	return next
}

// jsonType names the JSON type of a params value.
func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	if typeName(v) == "int" || typeName(v) == "float" {
		return "a number"
	}
	return typeName(v)
}
