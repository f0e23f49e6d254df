package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// TestTrustStopsRuns: the registry is asked before every module run, in
// whichever process runs it. A tenant policy that sets a minimum version
// above the workflow's locked one fails the node run with the refusal's
// code as its kind, and lifting the policy lets the next run through: the
// verdict cached by a worker (another process in the distributed mode)
// goes stale with the trust epoch the policy change bumped.
func TestTrustStopsRuns(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			ctx := context.Background()
			wf := h.save(`{"name": "trust", "nodes": [
				{"name": "start", "type": "trigger.manual"},
				{"name": "hash", "module": "wasmflow/hash@1.0.0", "params": {"field": "email"}}],
				"connections": [{"from": "start", "to": "hash"}]}`)
			item := workflow.Item{"email": "ada@example.com"}

			r := h.run(wf, item)
			require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)

			_, err := h.store.TrustPolicyPut(ctx, h.tenant, &store.TrustPolicy{MinimumVersions: map[string]string{"wasmflow/hash": "1.1.0"}})
			require.NoError(t, err)
			r = h.run(wf, item)
			require.Equal(t, store.ExecutionFailed, r.ex.Status)
			var runErr struct{ Kind, Message string }
			require.NoError(t, json.Unmarshal(r.node(t, "hash").Error, &runErr))
			require.Equal(t, "version_below_minimum", runErr.Kind)
			require.Contains(t, runErr.Message, "module wasmflow/hash@1.0.0 may not run")
			require.Equal(t, 1, r.node(t, "hash").Attempt, "a refusal is not retried")

			_, err = h.store.TrustPolicyPut(ctx, h.tenant, &store.TrustPolicy{})
			require.NoError(t, err)
			r = h.run(wf, item)
			require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
		})
	}
}
