package queue_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/queue"
)

func TestTaskValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		task *queue.Task
		ok   bool
	}{
		{"nil", nil, false},
		{"no id", &queue.Task{Kind: "node_run"}, false},
		{"no kind", &queue.Task{ID: "ex:n:1"}, false},
		{"bad utf-8 id", &queue.Task{ID: "ex\xff", Kind: "node_run"}, false},
		{"bad utf-8 kind", &queue.Task{ID: "ex:n:1", Kind: "\xc3"}, false},
		{"bad utf-8 tenant", &queue.Task{ID: "ex:n:1", Kind: "node_run", TenantID: "\xc3("}, false},
		{"minimal", &queue.Task{ID: "ex:n:1", Kind: "node_run"}, true},
		{"binary payload", &queue.Task{ID: "ex:n:1", Kind: "node_run", TenantID: "t", Payload: []byte{0, 0xff}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.task.Validate()
			if c.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
		})
	}
}
