package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// triggerWorkflow is a workflow with a webhook on path (method POST) and
// a schedule every second.
func triggerWorkflow(name, path string) *workflow.Workflow {
	return &workflow.Workflow{
		Name: name,
		Nodes: []workflow.Node{
			{Name: "hook", Type: workflow.TypeWebhookTrigger, Params: map[string]any{"path": path}},
			{Name: "tick", Type: workflow.TypeScheduleTrigger, Params: map[string]any{
				"cron": "* * * * * *", "timezone": "Europe/Berlin", "missed": "run_once"}},
			{Name: "noop", Type: workflow.TypeNoop},
		},
		Connections: []workflow.Connection{{From: "hook", To: "noop"}, {From: "tick", To: "noop"}},
	}
}

// allSchedules lists every schedule, page by page.
func allSchedules(t testing.TB, s store.Store, limit int) []*store.Schedule {
	t.Helper()
	var out []*store.Schedule
	cursor := ""
	for {
		page, next, err := s.ScheduleList(t.Context(), store.Page{Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// schedulesOf keeps the schedules of one tenant.
func schedulesOf(list []*store.Schedule, tenantID string) []*store.Schedule {
	var out []*store.Schedule
	for _, sc := range list {
		if sc.TenantID == tenantID {
			out = append(out, sc)
		}
	}
	return out
}

func triggerCases() []testCase {
	return []testCase{
		{"WorkflowActivateWritesTriggers", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("hooks", "orders/new"))
			require.NoError(t, err)
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "orders/new")
			require.ErrorIs(t, err, store.ErrNotFound, "an inactive workflow has no route")
			require.Empty(t, schedulesOf(allSchedules(t, s, 0), tenant))

			before := time.Now().Add(-time.Second)
			act, err := s.WorkflowActivate(t.Context(), tenant, w.ID, 1)
			require.NoError(t, err)
			require.True(t, act.Active)
			require.Equal(t, 1, act.Version)
			requireSameDefinition(t, &w.Definition, &act.Definition)
			got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			require.Equal(t, act, got)

			r, err := s.WebhookRouteGet(t.Context(), tenant, "POST", "orders/new")
			require.NoError(t, err)
			require.Equal(t, &store.WebhookRoute{TenantID: tenant, Path: "orders/new", Method: "POST", WorkflowID: w.ID, Node: "hook"}, r)
			_, err = s.WebhookRouteGet(t.Context(), tenant, "GET", "orders/new")
			require.ErrorIs(t, err, store.ErrNotFound, "another method")
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "Orders/new")
			require.ErrorIs(t, err, store.ErrNotFound, "paths are case-sensitive")

			list := schedulesOf(allSchedules(t, s, 0), tenant)
			require.Len(t, list, 1)
			sc := list[0]
			require.Equal(t, w.ID, sc.WorkflowID)
			require.Equal(t, "tick", sc.Node)
			require.Equal(t, "* * * * * *", sc.Cron)
			require.Equal(t, "Europe/Berlin", sc.Timezone)
			require.Equal(t, workflow.MissedRunOnce, sc.Missed)
			require.Nil(t, sc.LastTick)
			require.True(t, sc.Since.After(before), "since is the activation: %s", sc.Since)
			require.Equal(t, time.UTC, sc.Since.Location())

			// Deactivating removes both; it is idempotent.
			for range 2 {
				off, err := s.WorkflowDeactivate(t.Context(), tenant, w.ID)
				require.NoError(t, err)
				require.False(t, off.Active)
			}
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "orders/new")
			require.ErrorIs(t, err, store.ErrNotFound)
			require.Empty(t, schedulesOf(allSchedules(t, s, 0), tenant))
		}},
		{"WorkflowActivateChecksVersion", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("hooks", "a"))
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 2)
			require.ErrorIs(t, err, store.ErrConflict, "the checked version is not the current one")
			_, err = s.WorkflowActivate(t.Context(), tenant, "wf_missing", 1)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WorkflowActivate(t.Context(), newTenant(t, s), w.ID, 1)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's workflow")
			_, err = s.WorkflowDeactivate(t.Context(), newTenant(t, s), w.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's workflow")
			got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			require.False(t, got.Active)
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "a")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"WebhookRouteCollision", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			a, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("a", "shared"))
			require.NoError(t, err)
			b, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("b", "shared"))
			require.NoError(t, err)
			c, err := s.WorkflowInsert(t.Context(), other, triggerWorkflow("c", "shared"))
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, a.ID, 1)
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, b.ID, 1)
			require.ErrorIs(t, err, store.ErrConflict)
			got, err := s.WorkflowGet(t.Context(), tenant, b.ID)
			require.NoError(t, err)
			require.False(t, got.Active, "a refused activation changes nothing")
			require.Len(t, schedulesOf(allSchedules(t, s, 0), tenant), 1, "nor writes b's schedule")
			_, err = s.WorkflowActivate(t.Context(), other, c.ID, 1)
			require.NoError(t, err, "another tenant may use the same path")
			r, err := s.WebhookRouteGet(t.Context(), other, "POST", "shared")
			require.NoError(t, err)
			require.Equal(t, c.ID, r.WorkflowID)
			r, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "shared")
			require.NoError(t, err)
			require.Equal(t, a.ID, r.WorkflowID)

			// Once a is off, b may have the path; saving a active again with
			// the path is then refused, and the save is not stored.
			_, err = s.WorkflowDeactivate(t.Context(), tenant, a.ID)
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, b.ID, 1)
			require.NoError(t, err)
			_, err = s.WorkflowUpdate(t.Context(), tenant, a.ID, &store.WorkflowUpdateParams{
				Definition: *triggerWorkflow("a2", "shared"), Active: ptr(true)})
			require.ErrorIs(t, err, store.ErrConflict)
			got, err = s.WorkflowGet(t.Context(), tenant, a.ID)
			require.NoError(t, err)
			require.Equal(t, 1, got.Version)
			require.False(t, got.Active)
		}},
		{"WorkflowActivateConcurrentCollision", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			const n = 6
			ids := make([]string, n)
			for i := range n {
				w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow(unique("race"), "race"))
				require.NoError(t, err)
				ids[i] = w.ID
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = s.WorkflowActivate(t.Context(), tenant, ids[i], 1) })
			}
			wg.Wait()
			won := ""
			for i, err := range errs {
				if err == nil {
					require.Empty(t, won, "two workflows hold the path")
					won = ids[i]
					continue
				}
				require.ErrorIs(t, err, store.ErrConflict)
			}
			r, err := s.WebhookRouteGet(t.Context(), tenant, "POST", "race")
			require.NoError(t, err)
			require.Equal(t, won, r.WorkflowID)
		}},
		{"WorkflowUpdateRewritesTriggers", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("hooks", "v1"))
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 1)
			require.NoError(t, err)
			first := schedulesOf(allSchedules(t, s, 0), tenant)[0]

			// A save of the active workflow moves its route; the schedule
			// that stays keeps its since.
			def := triggerWorkflow("hooks", "v2")
			def.Nodes[1].Params["cron"] = "*/5 * * * *"
			up, err := s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{Definition: *def})
			require.NoError(t, err)
			require.True(t, up.Active)
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "v1")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "v2")
			require.NoError(t, err)
			second := schedulesOf(allSchedules(t, s, 0), tenant)[0]
			require.Equal(t, "*/5 * * * *", second.Cron)
			require.Equal(t, first.Since, second.Since)

			// A save that deactivates removes them; a delete too.
			_, err = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{Definition: *def, Active: ptr(false)})
			require.NoError(t, err)
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "v2")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 3)
			require.NoError(t, err)
			require.NoError(t, s.WorkflowDelete(t.Context(), tenant, w.ID))
			_, err = s.WebhookRouteGet(t.Context(), tenant, "POST", "v2")
			require.ErrorIs(t, err, store.ErrNotFound)
			require.Empty(t, schedulesOf(allSchedules(t, s, 0), tenant))
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 3)
			require.ErrorIs(t, err, store.ErrNotFound, "a deleted workflow")
		}},
		{"ScheduleListPages", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			var want []string
			for range 5 {
				w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow(unique("s"), unique("p")))
				require.NoError(t, err)
				_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 1)
				require.NoError(t, err)
				want = append(want, w.ID)
			}
			var got []string
			for _, sc := range schedulesOf(allSchedules(t, s, 2), tenant) {
				got = append(got, sc.WorkflowID)
			}
			require.Equal(t, sortedAsc(want), got)
			_, _, err := s.ScheduleList(t.Context(), store.Page{Cursor: "garbage"})
			require.ErrorIs(t, err, store.ErrInvalidCursor)
		}},
		{"ScheduleTickClaim", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("ticks", "t"))
			require.NoError(t, err)
			tick := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
			err = s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", tick)
			require.ErrorIs(t, err, store.ErrNotFound, "an inactive workflow's schedule")
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 1)
			require.NoError(t, err)

			require.NoError(t, s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", tick))
			require.ErrorIs(t, s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", tick), store.ErrConflict)
			require.ErrorIs(t, s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", tick.Add(-time.Second)), store.ErrConflict,
				"a tick before the latest claimed one")
			require.ErrorIs(t, s.ScheduleTickClaim(t.Context(), newTenant(t, s), w.ID, "tick", tick.Add(time.Second)), store.ErrNotFound)
			require.ErrorIs(t, s.ScheduleTickClaim(t.Context(), tenant, w.ID, "other", tick.Add(time.Second)), store.ErrNotFound)
			require.NoError(t, s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", tick.Add(time.Second)))
			require.ErrorIs(t, s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", tick), store.ErrConflict,
				"an earlier tick stays claimed once its row is pruned")

			sc := schedulesOf(allSchedules(t, s, 0), tenant)[0]
			require.NotNil(t, sc.LastTick)
			sameTime(t, tick.Add(time.Second), *sc.LastTick)

			// Deactivated and activated again, the last tick is remembered.
			_, err = s.WorkflowDeactivate(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 1)
			require.NoError(t, err)
			sc = schedulesOf(allSchedules(t, s, 0), tenant)[0]
			require.NotNil(t, sc.LastTick)
			sameTime(t, tick.Add(time.Second), *sc.LastTick)
		}},
		{"ScheduleTickClaimConcurrent", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w, err := s.WorkflowInsert(t.Context(), tenant, triggerWorkflow("ticks", "t"))
			require.NoError(t, err)
			_, err = s.WorkflowActivate(t.Context(), tenant, w.ID, 1)
			require.NoError(t, err)
			base := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
			// Two claimers walk the same ticks: each tick is won once.
			const ticks = 20
			won := make([][]int, 2)
			var wg sync.WaitGroup
			for c := range 2 {
				wg.Go(func() {
					for i := range ticks {
						err := s.ScheduleTickClaim(t.Context(), tenant, w.ID, "tick", base.Add(time.Duration(i)*time.Second))
						if err == nil {
							won[c] = append(won[c], i)
							continue
						}
						if !assertConflict(t, err) {
							return
						}
					}
				})
			}
			wg.Wait()
			all := append(append([]int{}, won[0]...), won[1]...)
			seen := map[int]bool{}
			for _, i := range all {
				require.False(t, seen[i], "tick %d claimed twice", i)
				seen[i] = true
			}
			require.True(t, seen[ticks-1], "the last tick is claimed")
		}},
		{"WebhookSignatureUse", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			now := time.Now()
			require.NoError(t, s.WebhookSignatureUse(t.Context(), tenant, "sig-a", now, now.Add(time.Minute)))
			require.ErrorIs(t, s.WebhookSignatureUse(t.Context(), tenant, "sig-a", now.Add(30*time.Second), now.Add(2*time.Minute)), store.ErrConflict)
			require.NoError(t, s.WebhookSignatureUse(t.Context(), other, "sig-a", now, now.Add(time.Minute)), "tenants are apart")
			// Once expired, the row is taken over (the caller's window check
			// refuses old signatures before this).
			require.NoError(t, s.WebhookSignatureUse(t.Context(), tenant, "sig-a", now.Add(2*time.Minute), now.Add(3*time.Minute)))
			require.ErrorIs(t, s.WebhookSignatureUse(t.Context(), tenant, "sig-a", now.Add(2*time.Minute), now.Add(3*time.Minute)), store.ErrConflict)

			n, err := s.WebhookSignaturePrune(t.Context(), now.Add(10*time.Minute), 0)
			require.NoError(t, err)
			require.Zero(t, n, "no limit, no prune")
			require.NoError(t, s.WebhookSignatureUse(t.Context(), tenant, "sig-b", now, now.Add(time.Hour)))
			n, err = s.WebhookSignaturePrune(t.Context(), now.Add(10*time.Minute), 100)
			require.NoError(t, err)
			require.GreaterOrEqual(t, n, 2)
			require.ErrorIs(t, s.WebhookSignatureUse(t.Context(), tenant, "sig-b", now, now.Add(time.Hour)), store.ErrConflict,
				"an unexpired signature is not pruned")
			require.NoError(t, s.WebhookSignatureUse(t.Context(), other, "sig-a", now, now.Add(time.Minute)), "the pruned one is new again")
		}},
		{"ExecutionTriggerNode", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, _, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Trigger: "webhook", TriggerNode: "hook", Runs: runs(1)})
			require.NoError(t, err)
			require.Equal(t, "hook", ex.TriggerNode)
			got, err := s.ExecutionGet(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, ex, got)
		}},
	}
}

// assertConflict fails the test unless err is ErrConflict; it reports
// whether it was (for use in goroutines, where require must not stop).
func assertConflict(t *testing.T, err error) bool {
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("claim: %v", err)
		return false
	}
	return true
}
