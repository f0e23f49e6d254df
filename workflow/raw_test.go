package workflow_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/workflow"
)

// A string input is sent as its bytes, anything else as JSON.
func TestRawInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"String", "hello world", "hello world"},
		{"StringHoldingJSON", `{"a": 1}`, `{"a": 1}`},
		{"EmptyString", "", ""},
		{"Number", 42, "42"},
		{"Float", 1.5, "1.5"},
		{"Bool", true, "true"},
		{"Null", nil, "null"},
		{"Item", workflow.Item{"b": 2, "a": "x"}, `{"a":"x","b":2}`},
		{"List", []any{"x", 1}, `["x",1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := workflow.RawInput(tc.v)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
	_, err := workflow.RawInput(map[string]any{"f": func() {}})
	require.ErrorContains(t, err, "cannot be encoded as JSON")
}

// A reply that is JSON is kept as JSON; any other is text.
func TestRawReply(t *testing.T) {
	t.Parallel()
	require.Equal(t, json.RawMessage(`{"count": 3}`), workflow.RawReply([]byte(`{"count": 3}`)))
	require.Equal(t, json.RawMessage(`7`), workflow.RawReply([]byte(`7`)))
	require.Equal(t, json.RawMessage(`"quoted"`), workflow.RawReply([]byte(`"quoted"`)))
	require.Equal(t, "Hello, Alice", workflow.RawReply([]byte("Hello, Alice")))
	require.Equal(t, "", workflow.RawReply(nil), "an empty reply is empty text")
	require.Equal(t, "{not json", workflow.RawReply([]byte("{not json")))
}

func TestRawOutputFieldOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params map[string]any
		want   string
		err    string
	}{
		{nil, "result", ""},
		{map[string]any{"output_field": nil}, "result", ""},
		{map[string]any{"output_field": "vowels"}, "vowels", ""},
		{map[string]any{"output_field": ""}, "", "params.output_field must not be empty"},
		{map[string]any{"output_field": 5.0}, "", "params.output_field must be a string, not a number"},
		{map[string]any{"output_field": []any{"a"}}, "", "params.output_field must be a string, not an array"},
	} {
		got, err := workflow.RawOutputFieldOf(tc.params)
		if tc.err != "" {
			require.EqualError(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestWithField(t *testing.T) {
	t.Parallel()
	item := workflow.Item{"id": 1}
	got := workflow.WithField(item, "result", "x")
	require.Equal(t, workflow.Item{"id": 1, "result": "x"}, got)
	require.Equal(t, workflow.Item{"id": 1}, item, "the item is not changed")
	require.Equal(t, workflow.Item{"id": "new"}, workflow.WithField(item, "id", "new"))
}
