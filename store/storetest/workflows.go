package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func workflowID(w *store.Workflow) string { return w.ID }

func workflowCases() []testCase {
	return []testCase{
		{"WorkflowInsertGet", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			def := sampleWorkflow("enrich-orders")
			w, err := s.WorkflowInsert(t.Context(), tenant, def)
			require.NoError(t, err)
			require.Regexp(t, `^wf_[0-9a-z]{26}$`, w.ID)
			require.Equal(t, tenant, w.TenantID)
			require.Equal(t, 1, w.Version)
			require.False(t, w.Active, "a new workflow is inactive until activated")
			recent(t, w.CreatedAt)
			require.Equal(t, w.CreatedAt, w.UpdatedAt)
			requireSameDefinition(t, def, &w.Definition)

			got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			require.Equal(t, w, got, "a read returns what the insert returned")

			v, err := s.WorkflowVersionGet(t.Context(), tenant, w.ID, 1)
			require.NoError(t, err)
			require.Equal(t, &store.WorkflowVersion{WorkflowID: w.ID, TenantID: tenant, Version: 1,
				Definition: w.Definition, CreatedAt: w.CreatedAt}, v)
		}},
		{"WorkflowInsertUnknownTenant", func(t *testing.T, s store.Store) {
			_, err := s.WorkflowInsert(t.Context(), "tn_missing", sampleWorkflow("x"))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"WorkflowInsertUnencodable", func(t *testing.T, s store.Store) {
			def := sampleWorkflow("x")
			def.Nodes[0].Params = map[string]any{"c": make(chan int)}
			_, err := s.WorkflowInsert(t.Context(), newTenant(t, s), def)
			require.Error(t, err)
			_, err = s.WorkflowUpdate(t.Context(), "tn_x", "wf_x", &store.WorkflowUpdateParams{Definition: *def})
			require.Error(t, err)
		}},
		{"WorkflowGetMissing", func(t *testing.T, s store.Store) {
			_, err := s.WorkflowGet(t.Context(), newTenant(t, s), "wf_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"WorkflowListPages", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			var want []*store.Workflow
			for range 11 {
				want = append(want, insertWorkflow(t, s, tenant))
				insertWorkflow(t, s, other)
			}
			deleted := insertWorkflow(t, s, tenant)
			require.NoError(t, s.WorkflowDelete(t.Context(), tenant, deleted.ID))
			// An update changes the listed version but not the order.
			up, err := s.WorkflowUpdate(t.Context(), tenant, want[3].ID, &store.WorkflowUpdateParams{Definition: *sampleWorkflow("renamed")})
			require.NoError(t, err)
			want[3] = up

			got := collect(t, func(p store.Page) ([]*store.Workflow, string, error) {
				return s.WorkflowList(t.Context(), tenant, p)
			}, 4, workflowID)
			require.Equal(t, sortedDesc(keys(want, workflowID)), keys(got, workflowID), "newest first, deleted left out")
			require.ElementsMatch(t, want, got)

			all, next, err := s.WorkflowList(t.Context(), tenant, store.Page{})
			require.NoError(t, err)
			require.Empty(t, next)
			require.Equal(t, got, all, "one page of the default size holds them all")
		}},
		{"WorkflowUpdateKeepsVersions", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			defs := []*workflow.Workflow{&w.Definition}
			for i := 2; i <= 5; i++ {
				def := sampleWorkflow(unique("v"))
				def.Nodes = def.Nodes[:i-1]
				up, err := s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{Definition: *def})
				require.NoError(t, err)
				require.Equal(t, i, up.Version)
				require.Equal(t, w.CreatedAt, up.CreatedAt)
				require.False(t, up.UpdatedAt.Before(w.UpdatedAt))
				require.False(t, up.Active)
				requireSameDefinition(t, def, &up.Definition)
				defs = append(defs, def)

				got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
				require.NoError(t, err)
				require.Equal(t, up, got)
			}
			for i, def := range defs {
				v, err := s.WorkflowVersionGet(t.Context(), tenant, w.ID, i+1)
				require.NoError(t, err)
				require.Equal(t, i+1, v.Version)
				requireSameDefinition(t, def, &v.Definition)
			}
			_, err := s.WorkflowVersionGet(t.Context(), tenant, w.ID, 6)
			require.ErrorIs(t, err, store.ErrNotFound)

			vs := collect(t, func(p store.Page) ([]*store.WorkflowVersion, string, error) {
				return s.WorkflowVersionList(t.Context(), tenant, w.ID, p)
			}, 2, func(v *store.WorkflowVersion) string { return strconv.Itoa(v.Version) })
			require.Len(t, vs, 5)
			for i, v := range vs {
				require.Equal(t, 5-i, v.Version, "newest first")
				requireSameDefinition(t, defs[4-i], &v.Definition)
			}
		}},
		{"WorkflowUpdateExpectedVersion", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			up, err := s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{
				Definition: *sampleWorkflow("v2"), ExpectedVersion: 1})
			require.NoError(t, err)
			require.Equal(t, 2, up.Version)

			_, err = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{
				Definition: *sampleWorkflow("stale"), ExpectedVersion: 1})
			require.ErrorIs(t, err, store.ErrConflict)
			got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			require.Equal(t, up, got, "a stale update changes nothing")
			_, err = s.WorkflowVersionGet(t.Context(), tenant, w.ID, 3)
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"WorkflowUpdateActive", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			up, err := s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{
				Definition: w.Definition, Active: ptr(true)})
			require.NoError(t, err)
			require.True(t, up.Active)
			up, err = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{Definition: w.Definition})
			require.NoError(t, err)
			require.True(t, up.Active, "nil Active keeps it")
			got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			require.True(t, got.Active)
		}},
		{"WorkflowUpdateMissing", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			for _, expected := range []int{0, 1} {
				_, err := s.WorkflowUpdate(t.Context(), tenant, "wf_missing", &store.WorkflowUpdateParams{
					Definition: *sampleWorkflow("x"), ExpectedVersion: expected})
				require.ErrorIs(t, err, store.ErrNotFound)
			}
		}},
		{"WorkflowUpdateConcurrent", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			const n = 10
			// With the same expected version, exactly one update wins.
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{
						Definition: *sampleWorkflow(unique("race")), ExpectedVersion: 1})
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
					continue
				}
				require.ErrorIs(t, err, store.ErrConflict)
			}
			require.Equal(t, 1, won)

			// Without one, every update applies, each as a version of its own.
			for i := range n {
				wg.Go(func() {
					_, errs[i] = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{
						Definition: *sampleWorkflow(unique("all"))})
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			got, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.NoError(t, err)
			require.Equal(t, 2+n, got.Version)
			vs, _, err := s.WorkflowVersionList(t.Context(), tenant, w.ID, store.Page{})
			require.NoError(t, err)
			require.Len(t, vs, 2+n)
		}},
		{"WorkflowDeleteIsSoft", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, _ := insertExecution(t, s, tenant, w, 2)
			require.NoError(t, s.WorkflowDelete(t.Context(), tenant, w.ID))

			_, err := s.WorkflowGet(t.Context(), tenant, w.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{Definition: w.Definition})
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WorkflowUpdate(t.Context(), tenant, w.ID, &store.WorkflowUpdateParams{Definition: w.Definition, ExpectedVersion: 1})
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WorkflowVersionGet(t.Context(), tenant, w.ID, 1)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, _, err = s.WorkflowVersionList(t.Context(), tenant, w.ID, store.Page{})
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.WorkflowDelete(t.Context(), tenant, w.ID), store.ErrNotFound)
			list, _, err := s.WorkflowList(t.Context(), tenant, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)

			// The executions that ran it stay readable.
			got, err := s.ExecutionGet(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, ex, got)
			rs, err := s.NodeRunList(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			require.Len(t, rs, 2)
		}},
		{"WorkflowVersionMissing", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			for _, v := range []int{0, 2, -1} {
				_, err := s.WorkflowVersionGet(t.Context(), tenant, w.ID, v)
				require.ErrorIs(t, err, store.ErrNotFound)
			}
			_, err := s.WorkflowVersionGet(t.Context(), tenant, "wf_missing", 1)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, _, err = s.WorkflowVersionList(t.Context(), tenant, "wf_missing", store.Page{})
			require.ErrorIs(t, err, store.ErrNotFound)

			// The page after the last one is empty, not missing.
			vs, next, err := s.WorkflowVersionList(t.Context(), tenant, w.ID, store.Page{Limit: 1})
			require.NoError(t, err)
			require.Len(t, vs, 1)
			require.Empty(t, next)
		}},
		{"WorkflowTenantIsolation", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, a)

			_, err := s.WorkflowGet(t.Context(), b, w.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			list, _, err := s.WorkflowList(t.Context(), b, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)
			_, err = s.WorkflowUpdate(t.Context(), b, w.ID, &store.WorkflowUpdateParams{Definition: *sampleWorkflow("evil")})
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.WorkflowUpdate(t.Context(), b, w.ID, &store.WorkflowUpdateParams{Definition: *sampleWorkflow("evil"), ExpectedVersion: 1})
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.WorkflowDelete(t.Context(), b, w.ID), store.ErrNotFound)
			_, err = s.WorkflowVersionGet(t.Context(), b, w.ID, 1)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, _, err = s.WorkflowVersionList(t.Context(), b, w.ID, store.Page{})
			require.ErrorIs(t, err, store.ErrNotFound)

			got, err := s.WorkflowGet(t.Context(), a, w.ID)
			require.NoError(t, err)
			require.Equal(t, w, got, "tenant B changed nothing")
		}},
	}
}
