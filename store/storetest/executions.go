package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func executionID(e *store.Execution) string { return e.ID }

func executionCases() []testCase {
	return []testCase{
		{"ExecutionInsertGet", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			lease := time.Date(2030, 1, 2, 3, 4, 5, 999, time.FixedZone("X", -7*3600))
			in := runs(3)
			in[1].Attempt, in[1].Status, in[1].LeaseUntil = 2, store.RunRunning, &lease
			ex, rs, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Trigger: "webhook",
				Input: json.RawMessage(`[{"email": "a@b.c", "total": 150}]`), Runs: in,
			})
			require.NoError(t, err)
			require.Regexp(t, `^ex_[0-9a-z]{26}$`, ex.ID)
			require.Equal(t, tenant, ex.TenantID)
			require.Equal(t, w.ID, ex.WorkflowID)
			require.Equal(t, 1, ex.WorkflowVersion)
			require.Equal(t, store.ExecutionQueued, ex.Status)
			require.Equal(t, "webhook", ex.Trigger)
			require.JSONEq(t, `[{"total": 150, "email": "a@b.c"}]`, string(ex.Input))
			require.Nil(t, ex.Error)
			recent(t, ex.CreatedAt)
			require.Nil(t, ex.StartedAt)
			require.Nil(t, ex.FinishedAt)

			require.Len(t, rs, 3)
			for i, r := range rs {
				require.Regexp(t, `^nr_[0-9a-z]{26}$`, r.ID)
				require.Equal(t, tenant, r.TenantID)
				require.Equal(t, ex.ID, r.ExecutionID)
				require.Equal(t, in[i].Node, r.Node)
				require.Equal(t, in[i].Pending, r.Pending)
				require.Equal(t, in[i].InputSize, r.InputSize)
				require.Equal(t, ex.CreatedAt, r.CreatedAt)
			}
			require.Equal(t, []int{1, 2, 1}, []int{rs[0].Attempt, rs[1].Attempt, rs[2].Attempt}, "Attempt defaults to 1")
			require.Equal(t, []string{store.RunQueued, store.RunRunning, store.RunPending},
				[]string{rs[0].Status, rs[1].Status, rs[2].Status}, "Status defaults to pending")
			sameTime(t, lease, *rs[1].LeaseUntil)
			require.Nil(t, rs[0].LeaseUntil)
			require.Empty(t, in[0].ID, "the params are not changed")

			got, err := s.ExecutionGet(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, ex, got)
			gotRuns, err := s.NodeRunList(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, rs, gotRuns, "runs come back in creation order")
		}},
		{"ExecutionJSONRoundTrip", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			docs := []string{
				`{"items": [{"id": 1, "name": "ünïcødé ✓", "nul": "a\u0000b", "esc": "\"\\\/\b\f\n\r\t", "emoji": "\ud83d\ude00"}]}`,
				`[1.5, -0, 1e300, 12345678901234567890, true, false, null, {}, []]`,
				`"just a string"`,
				`null`,
				`{"z": 1, "a": {"y": [3, 2, 1], "b": null}}`,
			}
			for _, doc := range docs {
				in := runs(1)
				in[0].Output, in[0].Logs, in[0].Error = json.RawMessage(doc), json.RawMessage(`["line 1", "line 2"]`),
					json.RawMessage(`{"kind": "timeout", "message": "took too long"}`)
				ex, _, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
					WorkflowID: w.ID, WorkflowVersion: 1, Trigger: "manual", Input: json.RawMessage(doc), Runs: in})
				require.NoError(t, err)
				got, err := s.ExecutionGet(t.Context(), tenant, ex.ID)
				require.NoError(t, err)
				require.JSONEq(t, doc, string(got.Input))
				rs, err := s.NodeRunList(t.Context(), tenant, ex.ID)
				require.NoError(t, err)
				require.JSONEq(t, doc, string(rs[0].Output))
				require.JSONEq(t, `["line 1", "line 2"]`, string(rs[0].Logs))
				require.JSONEq(t, `{"message": "took too long", "kind": "timeout"}`, string(rs[0].Error))
			}
			// Absent documents stay absent.
			ex, rs, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Input: json.RawMessage{}, Runs: runs(1)})
			require.NoError(t, err)
			require.Nil(t, ex.Input)
			got, err := s.ExecutionGet(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Nil(t, got.Input)
			require.Nil(t, got.Error)
			gotRuns, err := s.NodeRunList(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, rs, gotRuns)
			require.Nil(t, gotRuns[0].Output)
		}},
		{"ExecutionInsertInvalidJSON", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			_, _, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Input: json.RawMessage(`{"a":`)})
			require.Error(t, err)
			in := runs(1)
			in[0].Logs = json.RawMessage(`nope`)
			_, _, err = s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Runs: in})
			require.Error(t, err)
			_, _, err = s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Runs: []*store.NodeRun{nil}})
			require.Error(t, err)
			list, _, err := s.ExecutionList(t.Context(), tenant, store.ExecutionFilter{}, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)
		}},
		{"ExecutionInsertUnknownWorkflow", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, a)
			for _, p := range []struct {
				tenant, workflow string
				version          int
			}{{a, "wf_missing", 1}, {a, w.ID, 2}, {b, w.ID, 1}} {
				_, _, err := s.ExecutionInsert(t.Context(), p.tenant, &store.ExecutionInsertParams{
					WorkflowID: p.workflow, WorkflowVersion: p.version, Trigger: "manual", Runs: runs(1)})
				require.ErrorIs(t, err, store.ErrNotFound)
			}
		}},
		{"ExecutionInsertIsAtomic", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			in := runs(3)
			in[2].Node = in[0].Node // same node and attempt twice
			_, _, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Runs: in})
			require.ErrorIs(t, err, store.ErrConflict)
			list, _, err := s.ExecutionList(t.Context(), tenant, store.ExecutionFilter{}, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list, "no execution without its runs")
		}},
		{"ExecutionGetMissing", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			_, err := s.ExecutionGet(t.Context(), tenant, "ex_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.NodeRunList(t.Context(), tenant, "ex_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"ExecutionWithoutRuns", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1})
			require.NoError(t, err)
			require.Empty(t, rs)
			got, err := s.NodeRunList(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Empty(t, got)
		}},
		{"ExecutionListPagesAndFilters", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			w1, w2 := insertWorkflow(t, s, tenant), insertWorkflow(t, s, tenant)
			ow := insertWorkflow(t, s, other)
			var all, of1 []*store.Execution
			for i := range 13 {
				w := w1
				if i%3 == 0 {
					w = w2
				}
				ex, _ := insertExecution(t, s, tenant, w, 1)
				all = append(all, ex)
				if w == w1 {
					of1 = append(of1, ex)
				}
				insertExecution(t, s, other, ow, 1)
			}
			list := func(f store.ExecutionFilter) listFunc[*store.Execution] {
				return func(p store.Page) ([]*store.Execution, string, error) {
					return s.ExecutionList(t.Context(), tenant, f, p)
				}
			}
			got := collect(t, list(store.ExecutionFilter{}), 5, executionID)
			require.Equal(t, sortedDesc(keys(all, executionID)), keys(got, executionID), "newest first")
			require.ElementsMatch(t, all, got)

			got = collect(t, list(store.ExecutionFilter{WorkflowID: w1.ID}), 3, executionID)
			require.Equal(t, sortedDesc(keys(of1, executionID)), keys(got, executionID))

			got = collect(t, list(store.ExecutionFilter{WorkflowID: w1.ID, Status: store.ExecutionQueued}), 4, executionID)
			require.Equal(t, sortedDesc(keys(of1, executionID)), keys(got, executionID))

			got = collect(t, list(store.ExecutionFilter{Status: store.ExecutionFailed}), 4, executionID)
			require.Empty(t, got)
		}},
		{"ExecutionInsertConcurrent", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			const writers, each = 20, 5
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					for range each {
						_, _, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
							WorkflowID: w.ID, WorkflowVersion: 1, Trigger: "manual", Runs: runs(10)})
						if err != nil {
							errs[i] = err
							return
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...), "concurrent writers never see a busy database")
			got := collect(t, func(p store.Page) ([]*store.Execution, string, error) {
				return s.ExecutionList(t.Context(), tenant, store.ExecutionFilter{}, p)
			}, store.MaxPageSize, executionID)
			require.Len(t, got, writers*each)
		}},
		{"ExecutionTenantIsolation", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			ex, _ := insertExecution(t, s, a, insertWorkflow(t, s, a), 2)

			_, err := s.ExecutionGet(t.Context(), b, ex.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.NodeRunList(t.Context(), b, ex.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			for _, f := range []store.ExecutionFilter{{}, {WorkflowID: ex.WorkflowID}} {
				list, _, err := s.ExecutionList(t.Context(), b, f, store.Page{})
				require.NoError(t, err)
				require.Empty(t, list)
			}
		}},
	}
}
