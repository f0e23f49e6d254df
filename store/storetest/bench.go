package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

// Bench measures the store's hot paths; each backend's benchmarks run it.
// open returns a new, migrated, empty store and closes it in b.Cleanup.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("ExecutionInsert10Runs", func(b *testing.B) {
		s := open(b)
		tenant := newTenant(b, s)
		w := insertWorkflow(b, s, tenant)
		p := &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1, Trigger: "manual",
			Input: []byte(`[{"email": "a@b.c", "total": 150}]`), Runs: runs(10)}
		for b.Loop() {
			_, _, err := s.ExecutionInsert(b.Context(), tenant, p)
			require.NoError(b, err)
		}
	})
	b.Run("ExecutionInsert10RunsWithSlots", func(b *testing.B) {
		// The same insert under execution slots: the tenant's slots are
		// locked and counted first. After the first 50 the slots are full
		// and every execution waits: the cost of a flood.
		s := open(b)
		tenant := newTenant(b, s)
		w := insertWorkflow(b, s, tenant)
		p := &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1, Trigger: "manual",
			Input: []byte(`[{"email": "a@b.c", "total": 150}]`), Runs: runs(10), MaxActive: 50}
		for b.Loop() {
			_, _, err := s.ExecutionInsert(b.Context(), tenant, p)
			require.NoError(b, err)
		}
	})
	b.Run("RunClaimFinish", func(b *testing.B) {
		// One claim and one finish per iteration: each finish queues the
		// next attempt (a retry, with its outbox entry), which the next
		// iteration claims.
		s := open(b)
		tenant := newTenant(b, s)
		_, rs := insertGraph(b, s, tenant, insertWorkflow(b, s, tenant), nil, node{"a", 0})
		next := rs["a"]
		for b.Loop() {
			r, err := s.RunClaim(b.Context(), tenant, next.ID, time.Now().Add(time.Minute))
			require.NoError(b, err)
			res, err := s.RunFinish(b.Context(), tenant, &store.RunFinishParams{RunID: r.ID, ClaimToken: r.ClaimToken,
				Status: store.RunFailed, Retry: &store.RunRetry{AvailableAt: time.Now()}})
			require.NoError(b, err)
			next = &store.NodeRun{ID: res.Queued[0].RunID}
		}
	})
	b.Run("WorkflowGet", func(b *testing.B) {
		s := open(b)
		tenant := newTenant(b, s)
		w := insertWorkflow(b, s, tenant)
		for b.Loop() {
			_, err := s.WorkflowGet(b.Context(), tenant, w.ID)
			require.NoError(b, err)
		}
	})
	b.Run("WorkflowList50", func(b *testing.B) {
		s := open(b)
		tenant := newTenant(b, s)
		for range 120 {
			insertWorkflow(b, s, tenant)
		}
		_, next, err := s.WorkflowList(b.Context(), tenant, store.Page{Limit: 50})
		require.NoError(b, err)
		for b.Loop() {
			_, _, err := s.WorkflowList(b.Context(), tenant, store.Page{Limit: 50, Cursor: next})
			require.NoError(b, err)
		}
	})
	b.Run("NodeRunList10", func(b *testing.B) {
		s := open(b)
		tenant := newTenant(b, s)
		ex, _ := insertExecution(b, s, tenant, insertWorkflow(b, s, tenant), 10)
		for b.Loop() {
			_, err := s.NodeRunList(b.Context(), tenant, ex.ID)
			require.NoError(b, err)
		}
	})
}
