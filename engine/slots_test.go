package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/postgres"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// oneSlowNode is a workflow of two node runs in a line.
const oneSlowNode = `{"name": "slow", "nodes": [
	{"name": "start", "type": "trigger.manual"},
	{"name": "slow", "module": "test/slow-echo"}],
	"connections": [{"from": "start", "to": "slow"}]}`

// slotsSetup is one store with two tenants that both have test/slow-echo
// and a workflow using it, and an engine with few workers.
type slotsSetup struct {
	st   backendStore
	eng  *engine.Engine
	a, b *harness
	wfA  string
	wfB  string
	// slots is the engine's MaxActiveExecutions.
	slots int
}

func newSlotsSetup(t *testing.T, backend string, maxActive, maxWaiting int, work bool) *slotsSetup {
	t.Helper()
	ctx := context.Background()
	var st backendStore
	var err error
	if backend == "postgres" {
		st, err = postgres.Open(ctx, postgres.Config{URL: testdb.Postgres(t)})
	} else {
		st, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "wasmflow.db")})
	}
	require.NoError(t, err)
	tenantA, rt, reg := newModules(t, st, "slow-echo")
	tenantB, err := st.TenantInsert(ctx, "other")
	require.NoError(t, err)
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "slow-echo"), filepath.Join(dir, "slow-echo"))
	_, err = reg.InstallDir(ctx, tenantB.ID, dir)
	require.NoError(t, err)

	// Two workers: the queue, not the cores, decides who waits.
	q, err := inproc.New(inproc.Config{Workers: 2, ShutdownTimeout: time.Second})
	require.NoError(t, err)
	eng, err := engine.New(engine.Config{Store: st, Queue: q, Modules: reg, Runtime: rt, Logger: testdb.Logger(t),
		ReconcileInterval: 50 * time.Millisecond, MaxActiveExecutions: maxActive, MaxWaitingExecutions: maxWaiting})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	n := 1
	go func() { _ = eng.Reconcile(runCtx); done <- struct{}{} }()
	if work {
		n++
		go func() { _ = eng.Work(runCtx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		stop()
		for range n {
			<-done
		}
		_ = q.Close()
	})
	s := &slotsSetup{st: st, eng: eng, slots: maxActive,
		a: &harness{t: t, store: st, reg: reg, eng: eng, tenant: tenantA},
		b: &harness{t: t, store: st, reg: reg, eng: eng, tenant: tenantB.ID}}
	s.wfA, s.wfB = s.a.save(oneSlowNode), s.b.save(oneSlowNode)
	return s
}

// TestTenantSlotsFairness: tenant A floods executions, then tenant B starts
// one. With A limited to its slots, B's execution waits behind at most A's
// slots' worth of node runs at each of its two hops; without the limit it
// waits behind A's whole flood. The bound is counted in node runs (A's runs
// that started while B's execution was under way), not in time, so a slow
// machine changes nothing. A's executions all succeed (the excess waited,
// none failed), and A never held more than its slots at once.
func TestTenantSlotsFairness(t *testing.T) {
	t.Parallel()
	const (
		flood   = 24
		slots   = 2
		workers = 2
		// Each of B's two node runs waits behind at most the runs of A's
		// admitted executions (one queued run each, a line of two nodes,
		// plus the next one admitted as one finishes), and the workers
		// may be busy with A's runs when B's arrives.
		bound = 2*(2*slots) + workers
	)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			limited := measureFlood(t, newSlotsSetup(t, backend, slots, 0, true), flood)
			require.LessOrEqual(t, limited, bound, "with slots, B waits behind at most %d of A's node runs", bound)

			unlimited := measureFlood(t, newSlotsSetup(t, backend, 0, 0, true), flood)
			require.Greater(t, unlimited, bound,
				"the same flood without slots puts more of A's runs before B's (else this test proves nothing)")
			t.Logf("%s: A's node runs started during B's execution: %d with %d slots, %d without", backend, limited, slots, unlimited)
		})
	}
}

// measureFlood starts flood executions of A then one of B, waits for all of
// them, checks A's, and returns how many of A's node runs started between
// B's start and B's finish.
func measureFlood(t *testing.T, s *slotsSetup, flood int) int {
	t.Helper()
	var floodIDs []string
	for i := range flood {
		floodIDs = append(floodIDs, s.a.start(s.wfA, workflow.Item{"i": float64(i)}))
	}
	bID := s.b.start(s.wfB, workflow.Item{"tenant": "b"})
	b := s.b.wait(bID)
	require.Equal(t, store.ExecutionSucceeded, b.ex.Status)

	var intervals [][2]time.Time
	during := 0
	for _, id := range floodIDs {
		a := s.a.wait(id)
		require.Equal(t, store.ExecutionSucceeded, a.ex.Status, "a waiting execution runs later, it does not fail")
		require.NotNil(t, a.ex.AdmittedAt)
		intervals = append(intervals, [2]time.Time{*a.ex.AdmittedAt, *a.ex.FinishedAt})
		for _, r := range a.runs {
			if r.StartedAt != nil && r.StartedAt.After(b.ex.CreatedAt) && r.StartedAt.Before(*b.ex.FinishedAt) {
				during++
			}
		}
	}
	if s.slots > 0 {
		require.LessOrEqual(t, maxOverlap(intervals), s.slots, "A never held more executions at once than its slots")
	}
	return during
}

// maxOverlap is the most intervals that overlap at one instant (an interval
// ending when another starts does not overlap it).
func maxOverlap(intervals [][2]time.Time) int {
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	for _, iv := range intervals {
		events = append(events, event{iv[0], 1}, event{iv[1], -1})
	}
	sort.Slice(events, func(i, j int) bool {
		if events[i].at.Equal(events[j].at) {
			return events[i].delta < events[j].delta // ends before starts
		}
		return events[i].at.Before(events[j].at)
	})
	most, now := 0, 0
	for _, e := range events {
		now += e.delta
		most = max(most, now)
	}
	return most
}

// TestTenantSlotsWaitingCap: with every slot taken and as many executions
// waiting as allowed, the next start is refused with CodeTooManyWaiting
// and nothing is stored; another tenant is not affected; cancelling a
// waiting execution makes room. No worker runs, so nothing finishes.
func TestTenantSlotsWaitingCap(t *testing.T) {
	t.Parallel()
	s := newSlotsSetup(t, "sqlite", 1, 2, false)
	ctx := context.Background()
	first := s.a.start(s.wfA)
	waiting := []string{s.a.start(s.wfA), s.a.start(s.wfA)}
	for _, id := range waiting {
		ex, err := s.st.ExecutionGet(ctx, s.a.tenant, id)
		require.NoError(t, err)
		require.Nil(t, ex.AdmittedAt, "it waits for the one slot")
	}
	_, err := s.eng.Start(ctx, s.a.tenant, s.wfA, startParams())
	var ee *engine.Error
	require.True(t, errors.As(err, &ee), "%v", err)
	require.Equal(t, engine.CodeTooManyWaiting, ee.Code)
	require.Contains(t, ee.Message, "1 execution slots")
	list, _, err := s.st.ExecutionList(ctx, s.a.tenant, store.ExecutionFilter{}, store.Page{})
	require.NoError(t, err)
	require.Len(t, list, 3, "the refused execution is not stored")

	s.b.start(s.wfB) // another tenant's slots are its own

	// Cancelling the running one admits the oldest waiting one at once.
	_, err = s.eng.Cancel(ctx, s.a.tenant, first)
	require.NoError(t, err)
	ex, err := s.st.ExecutionGet(ctx, s.a.tenant, waiting[0])
	require.NoError(t, err)
	require.NotNil(t, ex.AdmittedAt)
	ids := []string{}
	list, _, err = s.st.ExecutionList(ctx, s.a.tenant, store.ExecutionFilter{Status: store.ExecutionQueued}, store.Page{})
	require.NoError(t, err)
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	require.True(t, slices.Contains(ids, waiting[1]))
	s.a.start(s.wfA) // room for one more waiting execution
}
