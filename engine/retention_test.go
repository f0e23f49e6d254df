package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Finished executions older than the retention are pruned by the
// reconciler; running ones are not.
func TestRetentionPrunesFinishedExecutions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, modes[0], harnessOpts{retention: 300 * time.Millisecond})
	done := h.save(`{"name": "done", "nodes": [{"name": "start", "type": "trigger.manual"}], "connections": []}`)
	spin := h.save(`{"name": "spin", "nodes": [{"name": "start", "type": "trigger.manual"},
		{"name": "spin", "module": "test/loop", "timeout_ms": 5000}], "connections": [{"from": "start", "to": "spin"}]}`)
	finished := h.run(done, workflow.Item{}).ex.ID
	running := h.start(spin)
	require.Eventually(t, func() bool {
		_, err := h.store.ExecutionGet(context.Background(), h.tenant, finished)
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second, 20*time.Millisecond, "the finished execution is pruned")
	ex, err := h.store.ExecutionGet(context.Background(), h.tenant, running)
	require.NoError(t, err, "a running execution is kept")
	require.False(t, ex.FinishedAt != nil)
}
