package workflow_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/workflow"
)

// FuzzParseWorkflow: parsing never panics, and a workflow that parses encodes
// to JSON that parses back to the same workflow.
func FuzzParseWorkflow(f *testing.F) {
	f.Add([]byte(validWorkflow))
	f.Add([]byte(`{"name":"x","nodes":[{"name":"t","type":"trigger.manual"},{"name":"a","type":"core.noop"}],"connections":[{"from":"t","to":"a"},{"from":"a","to":"t"}]}`))
	f.Add([]byte(`{"name":"s","nodes":[{"name":"t","type":"trigger.webhook","params":{"path":"p"}},{"name":"s","type":"core.switch","params":{"cases":[{"port":"a","condition":"1"}]}}],"connections":[{"from":"t","to":"s"}]}`))
	f.Add([]byte(`{"name":"n","nodes":[{"name":"t","type":"trigger.manual","params":{"x":1e308,"y":[null,true,"s"]}}],"connections":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := workflow.Parse(data)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		encoded, err := w.Encode()
		require.NoError(t, err)
		again, err := workflow.Parse(encoded)
		require.NoError(t, err)
		require.Equal(t, w, again)
	})
}
