package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func auditID(e *store.AuditEntry) string { return e.ID }

func auditCases() []testCase {
	return []testCase{
		{"AuditInsertList", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			e := &store.AuditEntry{TenantID: "ignored", Actor: "api_key:ak_1", Action: "secret.read", Resource: "slack_token",
				Detail: json.RawMessage(`{"node_run": "nr_1", "ip": "10.0.0.1"}`)}
			require.NoError(t, s.AuditInsert(t.Context(), tenant, e))
			require.Regexp(t, `^au_[0-9a-z]{26}$`, e.ID)
			require.Equal(t, tenant, e.TenantID)
			recent(t, e.CreatedAt)

			list, next, err := s.AuditList(t.Context(), tenant, store.AuditFilter{}, store.Page{})
			require.NoError(t, err)
			require.Empty(t, next)
			require.Len(t, list, 1)
			require.JSONEq(t, string(e.Detail), string(list[0].Detail))
			require.Equal(t, e, list[0])

			// A given id and time are kept (the time in UTC, to the microsecond).
			at := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.FixedZone("Y", 5*3600+1800))
			e2 := &store.AuditEntry{ID: "au_given", Actor: "system", Action: "tenant.create", CreatedAt: at}
			require.NoError(t, s.AuditInsert(t.Context(), tenant, e2))
			list, _, err = s.AuditList(t.Context(), tenant, store.AuditFilter{Actor: "system"}, store.Page{})
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, "au_given", list[0].ID)
			sameTime(t, at, list[0].CreatedAt)
			require.Nil(t, list[0].Detail)

			require.Error(t, s.AuditInsert(t.Context(), tenant, &store.AuditEntry{Detail: json.RawMessage(`{`)}))
			require.ErrorIs(t, s.AuditInsert(t.Context(), "tn_missing", &store.AuditEntry{Actor: "system"}), store.ErrNotFound)
		}},
		{"AuditListPagesAndFilters", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var all []*store.AuditEntry
			actors := []string{"api_key:a", "user:b", "system"}
			actions := []string{"workflow.create", "secret.read", "secret.update", "secrets.x"}
			resources := []string{"r1", "r2"}
			for i := range 24 {
				e := &store.AuditEntry{Actor: actors[i%3], Action: actions[i%4], Resource: resources[i%2],
					// Pairs of entries share a time: the id breaks the tie.
					CreatedAt: base.Add(time.Duration(i/2) * time.Second)}
				require.NoError(t, s.AuditInsert(t.Context(), tenant, e))
				all = append(all, e)
				require.NoError(t, s.AuditInsert(t.Context(), other, &store.AuditEntry{Actor: e.Actor, Action: e.Action}))
			}
			newestFirst := func(es []*store.AuditEntry) []string {
				c := slices.Clone(es)
				slices.SortFunc(c, func(a, b *store.AuditEntry) int {
					if n := b.CreatedAt.Compare(a.CreatedAt); n != 0 {
						return n
					}
					return strings.Compare(b.ID, a.ID) // within one time, the larger id first
				})
				return keys(c, auditID)
			}
			filter := func(keep func(*store.AuditEntry) bool) []*store.AuditEntry {
				var out []*store.AuditEntry
				for _, e := range all {
					if keep(e) {
						out = append(out, e)
					}
				}
				return out
			}
			since, until := base.Add(7*time.Second), base.Add(10*time.Second)
			for _, c := range []struct {
				f    store.AuditFilter
				keep func(*store.AuditEntry) bool
			}{
				{store.AuditFilter{}, func(*store.AuditEntry) bool { return true }},
				{store.AuditFilter{Actor: "system"}, func(e *store.AuditEntry) bool { return e.Actor == "system" }},
				{store.AuditFilter{Action: "secret.read"}, func(e *store.AuditEntry) bool { return e.Action == "secret.read" }},
				{store.AuditFilter{Since: &since}, func(e *store.AuditEntry) bool { return !e.CreatedAt.Before(since) }},
				{store.AuditFilter{Actor: "user:b", Action: "workflow.create", Since: &since}, func(e *store.AuditEntry) bool {
					return e.Actor == "user:b" && e.Action == "workflow.create" && !e.CreatedAt.Before(since)
				}},
				{store.AuditFilter{Actor: "nobody"}, func(*store.AuditEntry) bool { return false }},
				{store.AuditFilter{ActionPrefix: "secret."}, func(e *store.AuditEntry) bool { return strings.HasPrefix(e.Action, "secret.") }},
				{store.AuditFilter{ActionPrefix: "secret"}, func(e *store.AuditEntry) bool { return strings.HasPrefix(e.Action, "secret") }},
				{store.AuditFilter{Resource: "r2"}, func(e *store.AuditEntry) bool { return e.Resource == "r2" }},
				{store.AuditFilter{Until: &until}, func(e *store.AuditEntry) bool { return e.CreatedAt.Before(until) }},
				{store.AuditFilter{Since: &since, Until: &until}, func(e *store.AuditEntry) bool {
					return !e.CreatedAt.Before(since) && e.CreatedAt.Before(until)
				}},
				{store.AuditFilter{Actor: "api_key:a", ActionPrefix: "secret.", Resource: "r1", Until: &until}, func(e *store.AuditEntry) bool {
					return e.Actor == "api_key:a" && strings.HasPrefix(e.Action, "secret.") && e.Resource == "r1" && e.CreatedAt.Before(until)
				}},
				{store.AuditFilter{Resource: "r1", ActionPrefix: "secret."}, func(e *store.AuditEntry) bool {
					return e.Resource == "r1" && strings.HasPrefix(e.Action, "secret.")
				}},
			} {
				want := filter(c.keep)
				got := collect(t, func(p store.Page) ([]*store.AuditEntry, string, error) {
					return s.AuditList(t.Context(), tenant, c.f, p)
				}, 5, auditID)
				require.Equal(t, newestFirst(want), keys(got, auditID), "filter %+v", c.f)
				require.ElementsMatch(t, want, got)
			}
		}},
		{"AuditTenantIsolation", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			require.NoError(t, s.AuditInsert(t.Context(), a, &store.AuditEntry{Actor: "system", Action: "x"}))
			list, _, err := s.AuditList(t.Context(), b, store.AuditFilter{Actor: "system"}, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)
			list, _, err = s.AuditList(t.Context(), b, store.AuditFilter{}, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)
		}},
	}
}
