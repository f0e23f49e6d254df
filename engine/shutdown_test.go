package engine_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// enteringRuntime is the real runtime, telling when a module run starts:
// by then the engine has read everything the run needs, and a cancelled
// context can only stop the guest.
type enteringRuntime struct {
	engine.Runtime
	entered chan struct{}
}

func (r *enteringRuntime) Run(ctx context.Context, p *runtime.RunParams) (*runtime.Result, error) {
	select {
	case r.entered <- struct{}{}:
	default:
	}
	return r.Runtime.Run(ctx, p)
}

// TestShutdownHandsRunBack stops a worker while a node runs (test/loop,
// which never returns before its 2 s time limit): the run is queued again
// as the worker stops, not when its 30 s lease expires, and a second
// worker on the same store runs it to the end.
func TestShutdownHandsRunBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "wasmflow.db")})
	require.NoError(t, err)
	tenantID, rt, reg := newModules(t, st, "loop")

	const lease = 30 * time.Second
	// worker starts an engine working on a queue of its own until stop,
	// which waits for it to return.
	worker := func(r engine.Runtime, shutdownTimeout time.Duration, reconcile bool) (eng *engine.Engine, stop func()) {
		q, err := inproc.New(inproc.Config{Workers: 4, ShutdownTimeout: shutdownTimeout})
		require.NoError(t, err)
		eng, err = engine.New(engine.Config{Store: st, Queue: q, Modules: reg, Runtime: r, Logger: testdb.Logger(t),
			LeaseDuration: lease, ReconcileInterval: 20 * time.Millisecond, RedeliverAfter: 10 * time.Millisecond})
		require.NoError(t, err)
		runCtx, cancel := context.WithCancel(context.Background())
		var (
			wg      sync.WaitGroup
			workErr error
		)
		wg.Go(func() { workErr = eng.Work(runCtx) })
		if reconcile {
			wg.Go(func() { _ = eng.Reconcile(runCtx) })
		}
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				wg.Wait()
				require.NoError(t, workErr)
				require.NoError(t, q.Close())
			})
		}
		t.Cleanup(stop)
		return eng, stop
	}

	// The first worker: it stops while the loop spins.
	entering := &enteringRuntime{Runtime: rt, entered: make(chan struct{}, 1)}
	first, stopFirst := worker(entering, 10*time.Millisecond, false)
	h := &harness{t: t, store: st, reg: reg, eng: first, tenant: tenantID}
	wf := h.save(`{"name": "shutdown", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "spin", "module": "test/loop", "timeout_ms": 2000, "on_error": "continue"},
		{"name": "done", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "spin"}, {"from": "spin", "to": "done"}]}`)
	id := h.start(wf, workflow.Item{"n": 1.0})
	select {
	case <-entering.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the loop did not start")
	}
	spin := func() *store.NodeRun {
		runs, err := st.NodeRunList(ctx, tenantID, id)
		require.NoError(t, err)
		return (&result{runs: runs}).node(t, "spin")
	}
	claimed := spin()
	require.Equal(t, store.RunRunning, claimed.Status)
	require.WithinDuration(t, claimed.StartedAt.Add(lease), *claimed.LeaseUntil, time.Second,
		"the lease would hold the run for 30 s")

	stopping := time.Now()
	stopFirst()
	stopped := time.Since(stopping)
	require.Less(t, stopped, lease/3, "the worker stops after its shutdown timeout")

	// Handed back: queued again at once, as before its claim, with an
	// outbox entry; nothing waits for the lease.
	back := spin()
	require.Equal(t, store.RunQueued, back.Status, "the run is queued again as the worker stops")
	require.Equal(t, claimed.ID, back.ID)
	require.Equal(t, 1, back.Attempt)
	require.Empty(t, back.ClaimToken)
	require.Nil(t, back.LeaseUntil)
	require.Nil(t, back.StartedAt)
	require.Nil(t, back.Error)
	far := time.Now().Add(time.Hour)
	entries, err := st.OutboxDue(ctx, far, time.Now(), 100)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, back.ID, entries[0].RunID)
	require.False(t, entries[0].CreatedAt.Before(stopping.Add(-time.Millisecond)), "written by the shutdown")
	ex, err := st.ExecutionGet(ctx, tenantID, id)
	require.NoError(t, err)
	require.Equal(t, store.ExecutionRunning, ex.Status)

	// The second worker (with a reconciler, as after a restart) runs it
	// to the end: the loop spins its whole time limit there.
	second, _ := worker(rt, time.Second, true)
	h2 := &harness{t: t, store: st, reg: reg, eng: second, tenant: tenantID}
	r := h2.wait(id)
	require.Less(t, time.Since(stopping), lease, "long before the lease would have expired")
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)
	require.Len(t, r.attempts("spin"), 1, "the same run, not a retry")
	run := r.node(t, "spin")
	require.Equal(t, claimed.ID, run.ID)
	require.Equal(t, store.RunFailed, run.Status)
	var runErr engine.RunError
	require.NoError(t, json.Unmarshal(run.Error, &runErr))
	require.Equal(t, "timeout", runErr.Kind, "it ran until its time limit, not cut off again: %s", runErr.Message)
	require.True(t, run.StartedAt.After(stopping), "claimed again after the first worker stopped")
	require.GreaterOrEqual(t, run.FinishedAt.Sub(*run.StartedAt), 2*time.Second)
	require.Equal(t, store.RunSucceeded, r.node(t, "done").Status)
	require.Equal(t, []map[string]any{{"error": map[string]any{"kind": "timeout", "message": runErr.Message}}},
		r.items(t, "done"), "the error went on as an item")
}
