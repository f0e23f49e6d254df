package engine_test

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// stuckQueue is a queue whose tasks wait and are never delivered, as in a
// queue so busy that nothing the test looks at reaches a worker. It keeps
// the queue contract's deduplication: an id that is waiting is not added
// again.
type stuckQueue struct {
	mu      sync.Mutex
	waiting map[string]*queue.Task
	offers  int // Enqueue calls
}

func (q *stuckQueue) Enqueue(_ context.Context, t *queue.Task) error {
	if err := t.Validate(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.offers++
	if _, ok := q.waiting[t.ID]; !ok {
		q.waiting[t.ID] = t
	}
	return nil
}

func (q *stuckQueue) Run(ctx context.Context, _ queue.Handler) error { <-ctx.Done(); return nil }
func (q *stuckQueue) Ping(context.Context) error                     { return nil }
func (q *stuckQueue) Close() error                                   { return nil }

func (q *stuckQueue) Depth(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting), nil
}

// state returns the waiting ids, sorted, and the number of offers so far.
func (q *stuckQueue) state() ([]string, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Sorted(maps.Keys(q.waiting)), q.offers
}

// lose drops every waiting task, as Redis losing its data does.
func (q *stuckQueue) lose() {
	q.mu.Lock()
	defer q.mu.Unlock()
	clear(q.waiting)
}

// TestRedeliveryKeepsOneTaskPerRun runs the reconciler for a simulated
// minute over queued runs whose tasks wait in a queue that delivers
// nothing. Redelivery must not add a task for a run whose task still
// waits: adding one per redelivery window put a copy behind every waiting
// task each second, so that under load a backlog grew into thousands of
// duplicates, and the real tasks behind them were not reached for minutes
// (TestKilledWorker timed out that way). A task the queue lost is offered
// again within maxRedeliverGap, once, under its own id.
func TestRedeliveryKeepsOneTaskPerRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "wasmflow.db")})
	require.NoError(t, err)
	tenantID, rt, reg := newModules(t, st)

	q := &stuckQueue{waiting: map[string]*queue.Task{}}
	var (
		mu    sync.Mutex
		clock = time.Now()
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	eng, err := engine.New(engine.Config{Store: st, Queue: q, Modules: reg, Runtime: rt, Logger: testdb.Logger(t),
		RedeliverAfter: time.Second, Now: now})
	require.NoError(t, err)
	h := &harness{t: t, store: st, reg: reg, eng: eng, tenant: tenantID}
	wf := h.save(`{"name": "backlog", "nodes": [{"name": "start", "type": "trigger.manual"}, {"name": "done", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "done"}]}`)
	const runs = 20
	for i := range runs {
		h.start(wf, workflow.Item{"i": float64(i)})
	}
	tasks, offers := q.state()
	require.Len(t, tasks, runs, "one task per queued run")
	require.Equal(t, runs, offers)

	// A minute of reconciler passes, 100 ms apart.
	reconcile := func(d time.Duration) {
		t.Helper()
		for range int(d / (100 * time.Millisecond)) {
			advance(100 * time.Millisecond)
			require.NoError(t, eng.ReconcileOnce(ctx))
		}
	}
	reconcile(time.Minute)
	waiting, offers := q.state()
	require.Len(t, waiting, runs, "a waiting task absorbs every redelivery of its run")
	require.Equal(t, tasks, waiting)
	// Offered at 1, 2, 4 and 8 s, then every 10 s: 9 times in a minute.
	require.LessOrEqual(t, offers, runs*(1+10), "redeliveries back off")
	require.Greater(t, offers, runs*4, "waiting runs are still offered again")

	// The queue loses everything: each run is offered again, under its
	// own id, within the longest gap between redeliveries.
	q.lose()
	reconcile(11 * time.Second)
	waiting, _ = q.state()
	require.Equal(t, tasks, waiting, "lost tasks are redelivered")
}
