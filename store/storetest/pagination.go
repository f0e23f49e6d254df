package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func paginationCases() []testCase {
	return []testCase{
		{"ListInvalidCursor", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			insertWorkflow(t, s, tenant)
			_, next, err := s.WorkflowList(t.Context(), tenant, store.Page{Limit: 1})
			require.NoError(t, err)
			require.NotEmpty(t, next)
			lists := map[string]func(store.Page) error{
				"APIKeyList": func(p store.Page) error { _, _, err := s.APIKeyList(t.Context(), tenant, p); return err },
				"WorkflowList": func(p store.Page) error {
					_, _, err := s.WorkflowList(t.Context(), tenant, p)
					return err
				},
				"WorkflowVersionList": func(p store.Page) error {
					_, _, err := s.WorkflowVersionList(t.Context(), tenant, w.ID, p)
					return err
				},
				"ModuleList": func(p store.Page) error { _, _, err := s.ModuleList(t.Context(), tenant, p); return err },
				"ExecutionList": func(p store.Page) error {
					_, _, err := s.ExecutionList(t.Context(), tenant, store.ExecutionFilter{}, p)
					return err
				},
				"SecretList": func(p store.Page) error { _, _, err := s.SecretList(t.Context(), tenant, p); return err },
				"AuditList": func(p store.Page) error {
					_, _, err := s.AuditList(t.Context(), tenant, store.AuditFilter{}, p)
					return err
				},
			}
			for name, list := range lists {
				for _, c := range garbageCursors {
					require.ErrorIs(t, list(store.Page{Cursor: c}), store.ErrInvalidCursor, "%s(%q)", name, c)
				}
				if name != "WorkflowList" {
					require.ErrorIs(t, list(store.Page{Cursor: next}), store.ErrInvalidCursor,
						"%s refuses a cursor of WorkflowList", name)
				}
			}
		}},
		{"ListPageSizes", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			for i := range store.MaxPageSize + 1 {
				require.NoError(t, s.AuditInsert(t.Context(), tenant, &store.AuditEntry{Actor: "system", Action: fmt.Sprint(i)}))
			}
			list, next, err := s.AuditList(t.Context(), tenant, store.AuditFilter{}, store.Page{})
			require.NoError(t, err)
			require.Len(t, list, store.DefaultPageSize, "Limit 0 is the default size")
			require.NotEmpty(t, next)
			list, next, err = s.AuditList(t.Context(), tenant, store.AuditFilter{}, store.Page{Limit: 10_000})
			require.NoError(t, err)
			require.Len(t, list, store.MaxPageSize, "MaxPageSize caps Limit")
			require.NotEmpty(t, next)
			list, next, err = s.AuditList(t.Context(), tenant, store.AuditFilter{}, store.Page{Cursor: next})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Empty(t, next)
		}},
	}
}
