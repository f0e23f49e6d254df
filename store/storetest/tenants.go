package storetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func tenantCases() []testCase {
	return []testCase{
		{"TenantInsertGet", func(t *testing.T, s store.Store) {
			name := unique("acme")
			tn, err := s.TenantInsert(t.Context(), name)
			require.NoError(t, err)
			require.Regexp(t, `^tn_[0-9a-z]{26}$`, tn.ID)
			require.Equal(t, name, tn.Name)
			recent(t, tn.CreatedAt)

			got, err := s.TenantGet(t.Context(), tn.ID)
			require.NoError(t, err)
			require.Equal(t, tn, got)
			got, err = s.TenantGetByName(t.Context(), name)
			require.NoError(t, err)
			require.Equal(t, tn, got)
		}},
		{"TenantInsertNameTaken", func(t *testing.T, s store.Store) {
			name := unique("acme")
			_, err := s.TenantInsert(t.Context(), name)
			require.NoError(t, err)
			_, err = s.TenantInsert(t.Context(), name)
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"TenantGetMissing", func(t *testing.T, s store.Store) {
			_, err := s.TenantGet(t.Context(), "tn_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.TenantGetByName(t.Context(), "missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"TenantCount", func(t *testing.T, s store.Store) {
			n, err := s.TenantCount(t.Context())
			require.NoError(t, err)
			require.Zero(t, n, "a new store has no tenant")
			for range 3 {
				newTenant(t, s)
			}
			n, err = s.TenantCount(t.Context())
			require.NoError(t, err)
			require.Equal(t, 3, n)
		}},
		{"TenantList", func(t *testing.T, s store.Store) {
			all, err := s.TenantList(t.Context())
			require.NoError(t, err)
			require.Empty(t, all)
			for _, name := range []string{"charlie", "alpha", "bravo"} {
				_, err := s.TenantInsert(t.Context(), name)
				require.NoError(t, err)
			}
			all, err = s.TenantList(t.Context())
			require.NoError(t, err)
			require.Len(t, all, 3)
			for i, name := range []string{"alpha", "bravo", "charlie"} {
				require.Equal(t, name, all[i].Name)
				got, err := s.TenantGet(t.Context(), all[i].ID)
				require.NoError(t, err)
				require.Equal(t, got, all[i])
			}
		}},
	}
}

func newKeyParams(name string) *store.APIKeyInsertParams {
	hash := make([]byte, 32)
	_, _ = rand.Read(hash)
	return &store.APIKeyInsertParams{Name: name, Role: "editor", Prefix: "wf_abcd", Hash: hash}
}

func apiKeyCases() []testCase {
	return []testCase{
		{"APIKeyInsertGetByHash", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			expires := time.Date(2031, 2, 3, 4, 5, 6, 789123456, time.FixedZone("CET", 3600))
			p := newKeyParams("ci")
			p.Role, p.PlatformAdmin, p.ExpiresAt = "owner", true, &expires
			k, err := s.APIKeyInsert(t.Context(), tenant, p)
			require.NoError(t, err)
			require.Regexp(t, `^ak_[0-9a-z]{26}$`, k.ID)
			require.Equal(t, tenant, k.TenantID)
			require.Equal(t, "ci", k.Name)
			require.Equal(t, "owner", k.Role)
			require.Equal(t, "wf_abcd", k.Prefix)
			require.Equal(t, p.Hash, k.Hash)
			require.True(t, k.PlatformAdmin)
			recent(t, k.CreatedAt)
			sameTime(t, expires, *k.ExpiresAt)
			require.Nil(t, k.RevokedAt)

			got, err := s.APIKeyGetByHash(t.Context(), p.Hash)
			require.NoError(t, err)
			require.Equal(t, k, got)
		}},
		{"APIKeyInsertHashTaken", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			p := newKeyParams("one")
			_, err := s.APIKeyInsert(t.Context(), a, p)
			require.NoError(t, err)
			_, err = s.APIKeyInsert(t.Context(), b, p)
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"APIKeyInsertUnknownTenant", func(t *testing.T, s store.Store) {
			_, err := s.APIKeyInsert(t.Context(), "tn_missing", newKeyParams("x"))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"APIKeyGet", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			k, err := s.APIKeyInsert(t.Context(), a, newKeyParams("ci"))
			require.NoError(t, err)
			got, err := s.APIKeyGet(t.Context(), a, k.ID)
			require.NoError(t, err)
			require.Equal(t, k, got)
			_, err = s.APIKeyGet(t.Context(), b, k.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's key")
			_, err = s.APIKeyGet(t.Context(), a, "ak_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"APIKeyGetByHashMissing", func(t *testing.T, s store.Store) {
			_, err := s.APIKeyGetByHash(t.Context(), []byte("nope"))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"APIKeyListPages", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			var want []*store.APIKey
			for i := range 7 {
				k, err := s.APIKeyInsert(t.Context(), tenant, newKeyParams(unique("k")))
				require.NoError(t, err)
				want = append(want, k)
				if i%2 == 0 { // another tenant's keys interleave
					_, err := s.APIKeyInsert(t.Context(), other, newKeyParams(unique("o")))
					require.NoError(t, err)
				}
			}
			got := collect(t, func(p store.Page) ([]*store.APIKey, string, error) {
				return s.APIKeyList(t.Context(), tenant, p)
			}, 3, func(k *store.APIKey) string { return k.ID })
			require.Equal(t, sortedDesc(keys(want, apiKeyID)), keys(got, apiKeyID), "newest first")
			require.ElementsMatch(t, want, got)
		}},
		{"APIKeyRevoke", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			p := newKeyParams("ci")
			k, err := s.APIKeyInsert(t.Context(), tenant, p)
			require.NoError(t, err)
			require.NoError(t, s.APIKeyRevoke(t.Context(), tenant, k.ID))
			got, err := s.APIKeyGetByHash(t.Context(), p.Hash)
			require.NoError(t, err)
			require.NotNil(t, got.RevokedAt)
			recent(t, *got.RevokedAt)

			// Revoking again succeeds and keeps the first time.
			require.NoError(t, s.APIKeyRevoke(t.Context(), tenant, k.ID))
			again, err := s.APIKeyGetByHash(t.Context(), p.Hash)
			require.NoError(t, err)
			require.Equal(t, got.RevokedAt, again.RevokedAt)

			list, _, err := s.APIKeyList(t.Context(), tenant, store.Page{})
			require.NoError(t, err)
			require.Len(t, list, 1, "revoked keys are listed")
			require.ErrorIs(t, s.APIKeyRevoke(t.Context(), tenant, "ak_missing"), store.ErrNotFound)
		}},
		{"APIKeyTenantIsolation", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			p := newKeyParams("a")
			k, err := s.APIKeyInsert(t.Context(), a, p)
			require.NoError(t, err)

			require.ErrorIs(t, s.APIKeyRevoke(t.Context(), b, k.ID), store.ErrNotFound)
			list, next, err := s.APIKeyList(t.Context(), b, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)
			require.Empty(t, next)

			got, err := s.APIKeyGetByHash(t.Context(), p.Hash)
			require.NoError(t, err)
			require.Nil(t, got.RevokedAt, "tenant B's revoke did not touch A's key")
		}},
	}
}

func apiKeyID(k *store.APIKey) string { return k.ID }
