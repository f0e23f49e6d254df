package storetest

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func secretName(s *store.Secret) string { return s.Name }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	b[0] = 0 // a NUL byte must survive too
	return b
}

func newSecret(name string) *store.Secret {
	return &store.Secret{Name: name, Ciphertext: randomBytes(48), WrappedKey: randomBytes(60), KeyID: "mk-1"}
}

func secretCases() []testCase {
	return []testCase{
		{"SecretInsertGet", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			in := newSecret("slack_token")
			in.TenantID = "ignored"
			sec, err := s.SecretInsert(t.Context(), tenant, in)
			require.NoError(t, err)
			require.Equal(t, tenant, sec.TenantID)
			require.Equal(t, "slack_token", sec.Name)
			require.Equal(t, in.Ciphertext, sec.Ciphertext, "the ciphertext bytes round-trip")
			require.Equal(t, in.WrappedKey, sec.WrappedKey)
			require.Equal(t, "mk-1", sec.KeyID)
			recent(t, sec.CreatedAt)
			require.Equal(t, sec.CreatedAt, sec.UpdatedAt)

			got, err := s.SecretGet(t.Context(), tenant, "slack_token")
			require.NoError(t, err)
			require.Equal(t, sec, got)
		}},
		{"SecretInsertNameTaken", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			_, err := s.SecretInsert(t.Context(), tenant, newSecret("x"))
			require.NoError(t, err)
			_, err = s.SecretInsert(t.Context(), tenant, newSecret("x"))
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = s.SecretInsert(t.Context(), "tn_missing", newSecret("x"))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"SecretUpdate", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			sec, err := s.SecretInsert(t.Context(), tenant, newSecret("x"))
			require.NoError(t, err)
			in := newSecret("x")
			in.KeyID = "mk-2"
			up, err := s.SecretUpdate(t.Context(), tenant, in)
			require.NoError(t, err)
			require.Equal(t, in.Ciphertext, up.Ciphertext)
			require.Equal(t, in.WrappedKey, up.WrappedKey)
			require.Equal(t, "mk-2", up.KeyID)
			require.Equal(t, sec.CreatedAt, up.CreatedAt)
			require.False(t, up.UpdatedAt.Before(sec.UpdatedAt))
			got, err := s.SecretGet(t.Context(), tenant, "x")
			require.NoError(t, err)
			require.Equal(t, up, got)

			_, err = s.SecretUpdate(t.Context(), tenant, newSecret("missing"))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"SecretCount", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			count := func(tenant string) int {
				n, err := s.SecretCount(t.Context(), tenant)
				require.NoError(t, err)
				return n
			}
			require.Zero(t, count(tenant))
			for _, name := range []string{"a", "b", "c"} {
				_, err := s.SecretInsert(t.Context(), tenant, newSecret(name))
				require.NoError(t, err)
			}
			_, err := s.SecretInsert(t.Context(), other, newSecret("a"))
			require.NoError(t, err)
			require.Equal(t, 3, count(tenant))
			require.Equal(t, 1, count(other))
			require.NoError(t, s.SecretDelete(t.Context(), tenant, "b"))
			require.Equal(t, 2, count(tenant))
			require.Zero(t, count("tn_missing"))
		}},
		{"SecretDelete", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			_, err := s.SecretInsert(t.Context(), tenant, newSecret("x"))
			require.NoError(t, err)
			require.NoError(t, s.SecretDelete(t.Context(), tenant, "x"))
			_, err = s.SecretGet(t.Context(), tenant, "x")
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.SecretDelete(t.Context(), tenant, "x"), store.ErrNotFound)
			_, err = s.SecretInsert(t.Context(), tenant, newSecret("x"))
			require.NoError(t, err, "a deleted name can be used again")
		}},
		{"SecretListPages", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			names := []string{"z", "a", "B", "a_1", "a-1", "a1", "m", "ü", "aa", "A"}
			var want []*store.Secret
			for _, n := range names {
				sec, err := s.SecretInsert(t.Context(), tenant, newSecret(n))
				require.NoError(t, err)
				want = append(want, sec)
				_, err = s.SecretInsert(t.Context(), other, newSecret(n+"-other"))
				require.NoError(t, err)
			}
			got := collect(t, func(p store.Page) ([]*store.Secret, string, error) {
				return s.SecretList(t.Context(), tenant, p)
			}, 3, secretName)
			require.Equal(t, sortedAsc(names), keys(got, secretName), "sorted by name, byte order")
			require.ElementsMatch(t, want, got)
		}},
		{"SecretTenantIsolation", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			sec, err := s.SecretInsert(t.Context(), a, newSecret("x"))
			require.NoError(t, err)

			_, err = s.SecretGet(t.Context(), b, "x")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.SecretUpdate(t.Context(), b, newSecret("x"))
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.SecretDelete(t.Context(), b, "x"), store.ErrNotFound)
			list, _, err := s.SecretList(t.Context(), b, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)

			got, err := s.SecretGet(t.Context(), a, "x")
			require.NoError(t, err)
			require.Equal(t, sec, got, "tenant B changed nothing")
			_, err = s.SecretInsert(t.Context(), b, newSecret("x"))
			require.NoError(t, err, "names are per tenant")
		}},
	}
}
