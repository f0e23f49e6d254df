package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/postgres"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// scheduleWorkflow is a workflow whose schedule fires every second.
func scheduleWorkflow(name, missed string) string {
	return `{"name": "` + name + `", "nodes": [
		{"name": "tick", "type": "trigger.schedule", "params": {"cron": "* * * * * *", "timezone": "Europe/Berlin", "missed": "` + missed + `"}},
		{"name": "manual", "type": "trigger.manual"},
		{"name": "out", "type": "core.noop"}],
		"connections": [{"from": "tick", "to": "out"}, {"from": "manual", "to": "out"}]}`
}

// ticksOf reads the tick of every execution of the workflow, in order.
func ticksOf(t testing.TB, st store.Store, tenant, wfID string) []time.Time {
	t.Helper()
	var ticks []time.Time
	cursor := ""
	for {
		exs, next, err := st.ExecutionList(context.Background(), tenant, store.ExecutionFilter{WorkflowID: wfID}, store.Page{Cursor: cursor, Limit: store.MaxPageSize})
		require.NoError(t, err)
		for _, ex := range exs {
			require.Equal(t, engine.TriggerSchedule, ex.Trigger)
			require.Equal(t, "tick", ex.TriggerNode)
			var items []map[string]any
			require.NoError(t, json.Unmarshal(ex.Input, &items))
			require.Len(t, items, 1)
			tick, err := time.Parse(time.RFC3339, items[0]["tick"].(string))
			require.NoError(t, err)
			ticks = append(ticks, tick)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.SortFunc(ticks, func(a, b time.Time) int { return a.Compare(b) })
	return ticks
}

// requireEachSecondOnce checks that ticks are every second from the first
// to the last, each once.
func requireEachSecondOnce(t testing.TB, ticks []time.Time) {
	t.Helper()
	for i := 1; i < len(ticks); i++ {
		require.Equal(t, time.Second, ticks[i].Sub(ticks[i-1]), "tick %d (%s) after %s: a tick doubled or skipped", i, ticks[i], ticks[i-1])
	}
}

// TestScheduleTwoSchedulers runs two scheduler loops on one store, on the
// real clock, while a schedule fires every second: each tick runs once.
func TestScheduleTwoSchedulers(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			wf := h.save(scheduleWorkflow("every-second", workflow.MissedSkip))
			_, err := h.store.WorkflowActivate(t.Context(), h.tenant, wf, 1)
			require.NoError(t, err)

			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range 2 {
				eng, err := engine.New(engine.Config{Store: h.store, Queue: h.queue, Modules: h.reg, Runtime: h.rt,
					Logger: testdb.Logger(t), ScheduleInterval: 100 * time.Millisecond})
				require.NoError(t, err)
				wg.Go(func() { _ = eng.Schedule(ctx) })
			}
			const want = 6
			deadline := time.Now().Add(time.Minute)
			for len(ticksOf(t, h.store, h.tenant, wf)) < want {
				require.True(t, time.Now().Before(deadline), "the schedule did not fire %d times in a minute", want)
				time.Sleep(50 * time.Millisecond) // polling the store for progress, not waiting for an outcome
			}
			cancel()
			wg.Wait()
			ticks := ticksOf(t, h.store, h.tenant, wf)
			require.GreaterOrEqual(t, len(ticks), want)
			requireEachSecondOnce(t, ticks)

			// The executions run: each tick's item reaches the node after the trigger.
			r := h.wait(firstExecution(t, h, wf))
			require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
			require.Equal(t, store.RunSkipped, r.node(t, "manual").Status)
			items := r.items(t, "out")
			require.Len(t, items, 1)
			require.Equal(t, "Europe/Berlin", items[0]["timezone"])
		})
	}
}

func firstExecution(t testing.TB, h *harness, wfID string) string {
	t.Helper()
	exs, _, err := h.store.ExecutionList(context.Background(), h.tenant, store.ExecutionFilter{WorkflowID: wfID}, store.Page{Limit: store.MaxPageSize})
	require.NoError(t, err)
	require.NotEmpty(t, exs)
	return exs[len(exs)-1].ID
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// schedulerStore opens a migrated store of the mode with one tenant.
func schedulerStore(t *testing.T, m mode) (store.Store, string) {
	t.Helper()
	var st backendStore
	var err error
	if m.distributed {
		st, err = postgres.Open(t.Context(), postgres.Config{URL: testdb.Postgres(t)})
	} else {
		st, err = sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wasmflow.db")})
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Migrate(t.Context()))
	tenant, err := st.TenantInsert(t.Context(), "default")
	require.NoError(t, err)
	return st, tenant.ID
}

// TestScheduleClaimsRestartsAndMissedTicks drives schedulers on a clock of
// its own: two at once fire each tick once; one started after a short stop
// fires the ticks it finds late; after a long downtime, missed ticks are
// skipped or run once as each schedule says.
func TestScheduleClaimsRestartsAndMissedTicks(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			st, tenant := schedulerStore(t, m)
			ids := map[string]string{}
			for _, missed := range []string{workflow.MissedSkip, workflow.MissedRunOnce} {
				def, err := workflow.Parse([]byte(scheduleWorkflow(missed, missed)))
				require.NoError(t, err)
				w, err := st.WorkflowInsert(t.Context(), tenant, def)
				require.NoError(t, err)
				_, err = st.WorkflowActivate(t.Context(), tenant, w.ID, 1)
				require.NoError(t, err)
				ids[missed] = w.ID
			}
			scheds, _, err := st.ScheduleList(t.Context(), store.Page{})
			require.NoError(t, err)
			since := scheds[0].Since
			clock := &fakeClock{t: since.Truncate(time.Second).Add(time.Second + 300*time.Millisecond)}
			newScheduler := func() *engine.Engine {
				q, err := inproc.New(inproc.Config{MaxWaiting: 100_000})
				require.NoError(t, err)
				t.Cleanup(func() { _ = q.Close() })
				eng, err := engine.New(engine.Config{Store: st, Queue: q, Modules: noModules{}, Runtime: noRuntime{},
					Logger: testdb.Logger(t), Now: clock.now})
				require.NoError(t, err)
				return eng
			}
			expect := func(wfID string, from time.Time) {
				t.Helper()
				ticks := ticksOf(t, st, tenant, wfID)
				require.NotEmpty(t, ticks)
				require.Equal(t, from, ticks[0], "the first tick")
				require.Equal(t, clock.now().Truncate(time.Second), ticks[len(ticks)-1], "the last tick due")
				requireEachSecondOnce(t, ticks)
			}
			first := since.Truncate(time.Second).Add(time.Second)

			// Two schedulers at once, ten passes each, the clock moving a
			// second between passes.
			a, b := newScheduler(), newScheduler()
			for range 10 {
				engines := []*engine.Engine{a, b, a}
				nexts, errs := make([]time.Time, len(engines)), make([]error, len(engines))
				var wg sync.WaitGroup
				for i, eng := range engines {
					wg.Go(func() { nexts[i], errs[i] = eng.ScheduleOnce(t.Context()) })
				}
				wg.Wait()
				for i := range engines {
					require.NoError(t, errs[i])
					require.Equal(t, clock.now().Truncate(time.Second).Add(time.Second), nexts[i], "the next tick")
				}
				clock.add(time.Second)
			}
			clock.add(-time.Second)
			for _, id := range ids {
				expect(id, first)
			}

			// A new scheduler after 30 s without one fires the 30 late ticks.
			clock.add(30 * time.Second)
			_, err = newScheduler().ScheduleOnce(t.Context())
			require.NoError(t, err)
			for _, id := range ids {
				expect(id, first)
			}

			// After ten minutes down, ticks older than the grace (a minute)
			// were missed: skipped, or run once for all.
			before := len(ticksOf(t, st, tenant, ids[workflow.MissedRunOnce]))
			clock.add(10 * time.Minute)
			c := newScheduler()
			_, err = c.ScheduleOnce(t.Context())
			require.NoError(t, err)
			now := clock.now().Truncate(time.Second)
			skip := ticksOf(t, st, tenant, ids[workflow.MissedSkip])
			lateFrom := now.Add(-time.Minute + time.Second)
			require.Equal(t, lateFrom, skip[len(skip)-60], "the late ticks fire")
			require.Equal(t, now.Add(-10*time.Minute), skip[len(skip)-61], "the missed ones do not")
			requireEachSecondOnce(t, skip[len(skip)-60:])

			once := ticksOf(t, st, tenant, ids[workflow.MissedRunOnce])
			require.Len(t, once, before+1+60, "one run for the missed ticks, then the late ones")
			require.Equal(t, now.Add(-time.Minute), once[before], "the run for the missed ones is the latest missed tick")
			requireEachSecondOnce(t, once[before:])
			_, err = c.ScheduleOnce(t.Context())
			require.NoError(t, err)
			require.Len(t, ticksOf(t, st, tenant, ids[workflow.MissedRunOnce]), before+61, "a second pass fires nothing again")

			// A deactivated workflow's schedule stops.
			_, err = st.WorkflowDeactivate(t.Context(), tenant, ids[workflow.MissedSkip])
			require.NoError(t, err)
			clock.add(5 * time.Second)
			_, err = c.ScheduleOnce(t.Context())
			require.NoError(t, err)
			require.Len(t, ticksOf(t, st, tenant, ids[workflow.MissedSkip]), len(skip))
			require.Len(t, ticksOf(t, st, tenant, ids[workflow.MissedRunOnce]), before+66)
		})
	}
}

// noModules and noRuntime serve engines that only schedule: they run no node.
type noModules struct{}

func (noModules) Load(context.Context, string, string, string) (*registry.Module, error) {
	return nil, errors.New("this engine runs no modules")
}

func (noModules) Authorize(context.Context, string, *store.ModuleVersion) (workflow.Capabilities, error) {
	return workflow.Capabilities{}, errors.New("this engine runs no modules")
}

func (noModules) HostSession(context.Context, registry.RunGrant) *registry.HostSession { return nil }

type noRuntime struct{}

func (noRuntime) Run(context.Context, *runtime.RunParams) (*runtime.Result, error) {
	return nil, errors.New("this engine runs no modules")
}

func (noRuntime) Session(context.Context, *runtime.RunParams) (*runtime.Session, error) {
	return nil, errors.New("this engine runs no modules")
}

// waitErrorExecution waits for the first execution of the error workflow.
func waitErrorExecution(t *testing.T, h *harness, wfID string) *result {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		exs, _, err := h.store.ExecutionList(context.Background(), h.tenant, store.ExecutionFilter{WorkflowID: wfID}, store.Page{})
		require.NoError(t, err)
		if len(exs) > 0 {
			return h.wait(exs[len(exs)-1].ID)
		}
		require.True(t, time.Now().Before(deadline), "no execution of the error workflow within a minute")
		time.Sleep(20 * time.Millisecond) // polling the store for progress
	}
}

// TestErrorWorkflow: a failing execution starts its workflow's error
// workflow with what failed; an error workflow that fails starts nothing.
func TestErrorWorkflow(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			// The error workflow fails too (its node reads a field that is
			// not a string), and names itself as its error workflow.
			onError := h.save(`{"name": "on-error", "nodes": [
				{"name": "failure", "type": "trigger.error"},
				{"name": "seen", "type": "core.noop"},
				{"name": "fails-too", "module": "wasmflow/hash", "params": {"field": "node"}}],
				"connections": [{"from": "failure", "to": "seen"}, {"from": "seen", "to": "fails-too"}]}`)
			h.update(onError, `{"name": "on-error", "settings": {"error_workflow": "`+onError+`"}, "nodes": [
				{"name": "failure", "type": "trigger.error"},
				{"name": "seen", "type": "core.noop"},
				{"name": "fails-too", "module": "wasmflow/hash", "params": {"field": 7}}],
				"connections": [{"from": "failure", "to": "seen"}, {"from": "seen", "to": "fails-too"}]}`)
			wf := h.save(`{"name": "orders", "settings": {"error_workflow": "` + onError + `"}, "nodes": [
				{"name": "start", "type": "trigger.manual"},
				{"name": "fails", "module": "wasmflow/hash", "params": {"field": 7}}],
				"connections": [{"from": "start", "to": "fails"}]}`)

			failed := h.run(wf, workflow.Item{"email": "a@b.c"})
			require.Equal(t, store.ExecutionFailed, failed.ex.Status)

			r := waitErrorExecution(t, h, onError)
			require.Equal(t, engine.TriggerError, r.ex.Trigger)
			require.Equal(t, store.ExecutionFailed, r.ex.Status, "the error workflow fails in turn")
			items := r.items(t, "seen")
			require.Len(t, items, 1)
			item := items[0]
			require.Equal(t, failed.ex.ID, item["execution_id"])
			require.Equal(t, wf, item["workflow_id"])
			require.Equal(t, "orders", item["workflow_name"])
			require.EqualValues(t, 1, item["workflow_version"])
			require.Equal(t, "manual", item["trigger"])
			require.Equal(t, "fails", item["node"])
			require.NotEmpty(t, item["failed_at"])
			errObj, _ := item["error"].(map[string]any)
			require.Equal(t, "guest_error", errObj["kind"])
			require.NotEmpty(t, errObj["message"])

			// Its failure starts no error workflow: the one execution of
			// on-error stays the only one, also after the reconciler ran.
			require.NoError(t, h.eng.ReconcileOnce(t.Context()))
			exs, _, err := h.store.ExecutionList(t.Context(), h.tenant, store.ExecutionFilter{WorkflowID: onError}, store.Page{})
			require.NoError(t, err)
			require.Len(t, exs, 1)

			// A workflow that succeeds starts none either.
			ok := h.save(`{"name": "fine", "settings": {"error_workflow": "` + onError + `"}, "nodes": [
				{"name": "start", "type": "trigger.manual"}], "connections": []}`)
			require.Equal(t, store.ExecutionSucceeded, h.run(ok).ex.Status)
			exs, _, err = h.store.ExecutionList(t.Context(), h.tenant, store.ExecutionFilter{WorkflowID: onError}, store.Page{})
			require.NoError(t, err)
			require.Len(t, exs, 1)
		})
	}
}

// TestTriggerNode: of two webhook nodes, only the one that fired outputs.
func TestTriggerNode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, modes[0], harnessOpts{})
	wf := h.save(`{"name": "two-hooks", "nodes": [
		{"name": "a", "type": "trigger.webhook", "params": {"path": "a"}},
		{"name": "b", "type": "trigger.webhook", "params": {"path": "b"}},
		{"name": "out", "type": "core.merge"}],
		"connections": [{"from": "a", "to": "out"}, {"from": "b", "to": "out"}]}`)
	ex, err := h.eng.Start(t.Context(), h.tenant, wf, engine.StartParams{Trigger: engine.TriggerWebhook, Node: "b",
		Input: []workflow.Item{{"via": "b"}}})
	require.NoError(t, err)
	r := h.wait(ex.ID)
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status)
	require.Equal(t, store.RunSkipped, r.node(t, "a").Status)
	require.Equal(t, []map[string]any{{"via": "b"}}, r.items(t, "out"))
	_, err = h.eng.Start(t.Context(), h.tenant, wf, engine.StartParams{Trigger: engine.TriggerWebhook, Node: "c"})
	ee, ok := errors.AsType[*engine.Error](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, engine.CodeNoTrigger, ee.Code)
}
