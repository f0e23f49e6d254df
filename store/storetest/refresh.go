package storetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func refreshTokenCases() []testCase {
	return []testCase{
		{"RefreshTokenInsertUse", func(t *testing.T, s store.Store) {
			tenant, u := newTenant(t, s), newUser(t, s)
			hash := make([]byte, 32)
			_, _ = rand.Read(hash)
			expires := time.Now().Add(time.Hour)
			r, err := s.RefreshTokenInsert(t.Context(), tenant, u.ID, "", hash, expires)
			require.NoError(t, err)
			require.Regexp(t, `^rt_[0-9a-z]{26}$`, r.ID)
			recent(t, r.CreatedAt)
			sameTime(t, expires, r.ExpiresAt)
			require.Nil(t, r.UsedAt)
			require.Equal(t, r.ID, r.FamilyID, "a login's token starts its family")

			used, err := s.RefreshTokenUse(t.Context(), hash)
			require.NoError(t, err)
			require.Equal(t, r, used, "returned as it was before the use")

			again, err := s.RefreshTokenUse(t.Context(), hash)
			require.NoError(t, err)
			require.NotNil(t, again.UsedAt, "a replay sees it spent")
			recent(t, *again.UsedAt)
			third, err := s.RefreshTokenUse(t.Context(), hash)
			require.NoError(t, err)
			require.Equal(t, again.UsedAt, third.UsedAt, "the first use's time stays")

			_, err = s.RefreshTokenUse(t.Context(), []byte("missing"))
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.RefreshTokenInsert(t.Context(), tenant, "us_missing", "", []byte("h2"), expires)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.RefreshTokenInsert(t.Context(), tenant, u.ID, "", hash, expires)
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"RefreshTokenRevokeFamily", func(t *testing.T, s store.Store) {
			tenant, other, u := newTenant(t, s), newTenant(t, s), newUser(t, s)
			expires := time.Now().Add(time.Hour)
			first, err := s.RefreshTokenInsert(t.Context(), tenant, u.ID, "", []byte("f1"), expires)
			require.NoError(t, err)
			second, err := s.RefreshTokenInsert(t.Context(), tenant, u.ID, first.FamilyID, []byte("f2"), expires)
			require.NoError(t, err)
			require.Equal(t, first.ID, second.FamilyID)
			_, err = s.RefreshTokenUse(t.Context(), []byte("f1"))
			require.NoError(t, err)
			stranger, err := s.RefreshTokenInsert(t.Context(), tenant, u.ID, "", []byte("s1"), expires)
			require.NoError(t, err)

			n, err := s.RefreshTokenRevokeFamily(t.Context(), other, first.FamilyID)
			require.NoError(t, err)
			require.Zero(t, n, "another tenant cannot touch it")
			n, err = s.RefreshTokenRevokeFamily(t.Context(), tenant, first.FamilyID)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the unspent one")
			got, err := s.RefreshTokenUse(t.Context(), []byte("f2"))
			require.NoError(t, err)
			require.NotNil(t, got.UsedAt, "spent by the revocation")
			got, err = s.RefreshTokenUse(t.Context(), []byte("s1"))
			require.NoError(t, err)
			require.Nil(t, got.UsedAt, "another family is untouched")
			require.Equal(t, stranger.ID, got.ID)
		}},
		{"RefreshTokenUseConcurrent", func(t *testing.T, s store.Store) {
			tenant, u := newTenant(t, s), newUser(t, s)
			hash := []byte("concurrent-hash")
			_, err := s.RefreshTokenInsert(t.Context(), tenant, u.ID, "", hash, time.Now().Add(time.Hour))
			require.NoError(t, err)
			const n = 8
			unspent := make(chan bool, n)
			for range n {
				go func() {
					r, err := s.RefreshTokenUse(t.Context(), hash)
					unspent <- err == nil && r.UsedAt == nil
				}()
			}
			wins := 0
			for range n {
				if <-unspent {
					wins++
				}
			}
			require.Equal(t, 1, wins, "exactly one use finds the token unspent")
		}},
	}
}
