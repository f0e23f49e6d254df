package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

// startLimited inserts an execution of w (a root "a" and a child "b") under
// the given slots.
func startLimited(t testing.TB, s store.Store, tenant string, w *store.Workflow, maxActive, maxWaiting int, deadline *time.Time) (*store.Execution, map[string]*store.NodeRun, error) {
	t.Helper()
	ex, rs, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
		WorkflowID: w.ID, WorkflowVersion: w.Version, Trigger: "manual", DeadlineAt: deadline,
		MaxActive: maxActive, MaxWaiting: maxWaiting,
		Runs: []*store.NodeRun{{Node: "a", Status: store.RunQueued}, {Node: "b", Pending: 1}},
	})
	return ex, byNode(rs), err
}

func mustStartLimited(t testing.TB, s store.Store, tenant string, w *store.Workflow, maxActive int) (*store.Execution, map[string]*store.NodeRun) {
	t.Helper()
	ex, rs, err := startLimited(t, s, tenant, w, maxActive, 0, nil)
	require.NoError(t, err)
	return ex, rs
}

// requireWaiting checks that an execution waits for a slot: queued, not
// admitted, nothing queued and nothing in the outbox.
func requireWaiting(t testing.TB, s store.Store, ex *store.Execution) {
	t.Helper()
	got, err := s.ExecutionGet(t.Context(), ex.TenantID, ex.ID)
	require.NoError(t, err)
	require.Equal(t, store.ExecutionQueued, got.Status)
	require.Nil(t, got.AdmittedAt, "a waiting execution has no slot")
	for _, r := range latestRuns(t, s, ex.TenantID, ex.ID) {
		require.Equal(t, store.RunPending, r.Status, "nothing of a waiting execution runs")
	}
	require.Empty(t, outboxRuns(t, s, ex.ID), "nor reaches the queue")
}

// requireAdmitted checks that an execution holds a slot and its root is queued.
func requireAdmitted(t testing.TB, s store.Store, ex *store.Execution) {
	t.Helper()
	got, err := s.ExecutionGet(t.Context(), ex.TenantID, ex.ID)
	require.NoError(t, err)
	require.NotNil(t, got.AdmittedAt)
	rs := latestRuns(t, s, ex.TenantID, ex.ID)
	require.Equal(t, store.RunQueued, rs["a"].Status)
	require.Equal(t, store.RunPending, rs["b"].Status)
	require.Equal(t, []string{rs["a"].ID}, outboxRuns(t, s, ex.ID), "queued ⇔ outbox entry")
}

func waitingTenants(t testing.TB, s store.Store) []string {
	t.Helper()
	tenants, err := s.ExecutionWaitingTenants(t.Context(), 10_000)
	require.NoError(t, err)
	return tenants
}

func admissionCases() []testCase {
	return []testCase{
		{"ExecutionAdmissionSlots", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w, wOther := insertWorkflow(t, s, tenant), insertWorkflow(t, s, other)

			first, rs := mustStartLimited(t, s, tenant, w, 2)
			require.NotNil(t, first.AdmittedAt)
			recent(t, *first.AdmittedAt)
			require.Equal(t, store.RunQueued, rs["a"].Status)
			requireAdmitted(t, s, first)
			second, _ := mustStartLimited(t, s, tenant, w, 2)
			requireAdmitted(t, s, second)

			third, rs := mustStartLimited(t, s, tenant, w, 2)
			require.Nil(t, third.AdmittedAt)
			require.Equal(t, store.ExecutionQueued, third.Status)
			require.Equal(t, store.RunPending, rs["a"].Status, "the root waits as a pending run")
			requireWaiting(t, s, third)
			fourth, _ := mustStartLimited(t, s, tenant, w, 2)
			requireWaiting(t, s, fourth)

			// Another tenant's slots are its own.
			theirs, _ := mustStartLimited(t, s, other, wOther, 2)
			requireAdmitted(t, s, theirs)
			require.Contains(t, waitingTenants(t, s), tenant)
			require.NotContains(t, waitingTenants(t, s), other)

			entries, err := s.ExecutionAdmit(ctx, tenant, 2)
			require.NoError(t, err)
			require.Empty(t, entries, "no slot is free")
			requireWaiting(t, s, third)

			_, err = s.ExecutionCancel(ctx, tenant, first.ID)
			require.NoError(t, err)
			entries, err = s.ExecutionAdmit(ctx, tenant, 2)
			require.NoError(t, err)
			require.Len(t, entries, 1, "one slot freed, one execution admitted: the oldest")
			require.Equal(t, third.ID, entries[0].ExecutionID)
			require.Equal(t, "a", entries[0].Node)
			requireAdmitted(t, s, third)
			requireWaiting(t, s, fourth)
			require.Equal(t, allOutboxOf(t, s, third.ID), entries)

			// A finished execution frees its slot too.
			rsSecond := latestRuns(t, s, tenant, second.ID)
			a := claim(t, s, tenant, rsSecond["a"])
			res := finish(t, s, tenant, a, store.RunFinishParams{Status: store.RunFailed, FailExecution: errNode})
			require.Equal(t, store.ExecutionFailed, res.Execution.Status)
			entries, err = s.ExecutionAdmit(ctx, tenant, 2)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			require.Equal(t, fourth.ID, entries[0].ExecutionID)
			requireAdmitted(t, s, fourth)
			require.NotContains(t, waitingTenants(t, s), tenant)

			// Not positive: every waiting execution is admitted.
			fifth, _ := mustStartLimited(t, s, tenant, w, 1)
			sixth, _ := mustStartLimited(t, s, tenant, w, 1)
			requireWaiting(t, s, fifth)
			entries, err = s.ExecutionAdmit(ctx, tenant, 0)
			require.NoError(t, err)
			require.Len(t, entries, 2)
			requireAdmitted(t, s, fifth)
			requireAdmitted(t, s, sixth)

			_, err = s.ExecutionAdmit(ctx, "tn_unknown", 2)
			require.NoError(t, err, "a tenant without executions has nothing to admit")
		}},
		{"ExecutionAdmissionFirstComeFirstAdmitted", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			one, _ := mustStartLimited(t, s, tenant, w, 1)
			two, _ := mustStartLimited(t, s, tenant, w, 1)
			requireWaiting(t, s, two)
			_, err := s.ExecutionCancel(t.Context(), tenant, one.ID)
			require.NoError(t, err)
			// A slot is free, but an older execution waits for it.
			three, _ := mustStartLimited(t, s, tenant, w, 1)
			requireWaiting(t, s, three)
			entries, err := s.ExecutionAdmit(t.Context(), tenant, 1)
			require.NoError(t, err)
			require.Len(t, entries, 1)
			require.Equal(t, two.ID, entries[0].ExecutionID)
			requireWaiting(t, s, three)

			// Without slots (MaxActive not positive) nothing waits.
			four, _ := mustStartLimited(t, s, tenant, w, 0)
			requireAdmitted(t, s, four)
		}},
		{"ExecutionAdmissionWaitingCap", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			for range 3 { // one admitted, two waiting
				_, _, err := startLimited(t, s, tenant, w, 1, 2, nil)
				require.NoError(t, err)
			}
			_, _, err := startLimited(t, s, tenant, w, 1, 2, nil)
			require.ErrorIs(t, err, store.ErrLimitReached)
			list, _, err := s.ExecutionList(t.Context(), tenant, store.ExecutionFilter{}, store.Page{})
			require.NoError(t, err)
			require.Len(t, list, 3, "the refused execution is not stored")
		}},
		{"ExecutionAdmissionDeadlineStartsAtAdmission", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			one, _ := mustStartLimited(t, s, tenant, w, 1)
			past := time.Now().Add(-time.Minute)
			waiting, _, err := startLimited(t, s, tenant, w, 1, 0, &past)
			require.NoError(t, err)
			timeout := past.Sub(waiting.CreatedAt) // negative: it would have expired already

			failed, err := s.ExecutionFailExpired(ctx, time.Now(), errTimeout, 100)
			require.NoError(t, err)
			for _, ex := range failed {
				require.NotEqual(t, waiting.ID, ex.ID, "a waiting execution does not time out")
			}
			requireWaiting(t, s, waiting)

			_, err = s.ExecutionCancel(ctx, tenant, one.ID)
			require.NoError(t, err)
			_, err = s.ExecutionAdmit(ctx, tenant, 1)
			require.NoError(t, err)
			got, err := s.ExecutionGet(ctx, tenant, waiting.ID)
			require.NoError(t, err)
			require.NotNil(t, got.AdmittedAt)
			require.WithinDuration(t, got.AdmittedAt.Add(timeout), *got.DeadlineAt, time.Millisecond,
				"the deadline moves by the time the execution waited")
		}},
		{"ExecutionAdmissionCancelAndResumeWaiting", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			mustStartLimited(t, s, tenant, w, 1)
			waiting, rs := mustStartLimited(t, s, tenant, w, 1)
			cancelled, err := s.ExecutionCancel(ctx, tenant, waiting.ID)
			require.NoError(t, err)
			require.Equal(t, store.ExecutionCancelled, cancelled.Status)
			require.Nil(t, cancelled.AdmittedAt)
			require.NotContains(t, waitingTenants(t, s), tenant, "a cancelled execution waits no more")

			resumed, entries, err := s.ExecutionResume(ctx, tenant, waiting.ID, &store.ExecutionResumeParams{
				Runs: []*store.NodeRun{{Node: "a", Attempt: 2, Status: store.RunQueued}, {Node: "b", Attempt: 2, Pending: 1}}})
			require.NoError(t, err)
			require.NotNil(t, resumed.AdmittedAt, "a resumed execution holds a slot")
			require.Len(t, entries, 1)
			require.NotEqual(t, rs["a"].ID, entries[0].RunID)
		}},
		{"ExecutionAdmissionConcurrentStarts", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			const starts, slots = 12, 3
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				admitted int
			)
			for range starts {
				wg.Go(func() {
					ex, _, err := startLimited(t, s, tenant, w, slots, 0, nil)
					if !assertNoError(t, err) {
						return
					}
					if ex.AdmittedAt != nil {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Equal(t, slots, admitted, "concurrent starts never take more slots than there are")
			for range 4 { // concurrent admissions of nothing free admit nothing
				wg.Go(func() {
					entries, err := s.ExecutionAdmit(t.Context(), tenant, slots)
					if assertNoError(t, err) && len(entries) > 0 {
						t.Errorf("admitted %d executions without a free slot", len(entries))
					}
				})
			}
			wg.Wait()
		}},
	}
}

// allOutboxOf lists an execution's outbox entries.
func allOutboxOf(t testing.TB, s store.Store, executionID string) []*store.OutboxEntry {
	t.Helper()
	var out []*store.OutboxEntry
	for _, e := range allOutbox(t, s) {
		if e.ExecutionID == executionID {
			out = append(out, e)
		}
	}
	return out
}

// assertNoError reports err from a goroutine (require would stop the wrong
// goroutine) and returns whether it was nil.
func assertNoError(t testing.TB, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}
