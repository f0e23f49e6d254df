package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

// newUser inserts a user with a unique email and returns it.
func newUser(t testing.TB, s store.Store) *store.User {
	t.Helper()
	u, err := s.UserInsert(t.Context(), unique("user")+"@example.com", "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA")
	require.NoError(t, err)
	return u
}

func userCases() []testCase {
	return []testCase{
		{"UserInsertGet", func(t *testing.T, s store.Store) {
			u, err := s.UserInsert(t.Context(), "ada@example.com", "$argon2id$hash")
			require.NoError(t, err)
			require.Regexp(t, `^us_[0-9a-z]{26}$`, u.ID)
			require.Equal(t, "ada@example.com", u.Email)
			require.Equal(t, "$argon2id$hash", u.PasswordHash)
			recent(t, u.CreatedAt)

			got, err := s.UserGet(t.Context(), u.ID)
			require.NoError(t, err)
			require.Equal(t, u, got)
			got, err = s.UserGetByEmail(t.Context(), "ada@example.com")
			require.NoError(t, err)
			require.Equal(t, u, got)
		}},
		{"UserInsertEmailTaken", func(t *testing.T, s store.Store) {
			_, err := s.UserInsert(t.Context(), "ada@example.com", "h")
			require.NoError(t, err)
			_, err = s.UserInsert(t.Context(), "ada@example.com", "h2")
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"UserInsertEmpty", func(t *testing.T, s store.Store) {
			_, err := s.UserInsert(t.Context(), "", "h")
			require.Error(t, err)
			_, err = s.UserInsert(t.Context(), "a@b.c", "")
			require.Error(t, err)
		}},
		{"UserGetMissing", func(t *testing.T, s store.Store) {
			_, err := s.UserGet(t.Context(), "us_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.UserGetByEmail(t.Context(), "nobody@example.com")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"MembershipInsertGet", func(t *testing.T, s store.Store) {
			tenant, u := newTenant(t, s), newUser(t, s)
			m, err := s.MembershipInsert(t.Context(), tenant, u.ID, "editor")
			require.NoError(t, err)
			require.Equal(t, tenant, m.TenantID)
			require.Equal(t, u.ID, m.UserID)
			require.Equal(t, u.Email, m.Email)
			require.Equal(t, "editor", m.Role)
			recent(t, m.CreatedAt)
			got, err := s.MembershipGet(t.Context(), tenant, u.ID)
			require.NoError(t, err)
			require.Equal(t, m, got)

			_, err = s.MembershipInsert(t.Context(), tenant, u.ID, "viewer")
			require.ErrorIs(t, err, store.ErrConflict, "a member already")
			_, err = s.MembershipInsert(t.Context(), "tn_missing", u.ID, "viewer")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.MembershipInsert(t.Context(), tenant, "us_missing", "viewer")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.MembershipGet(t.Context(), tenant, "us_missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"MembershipListPages", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			var want []*store.Membership
			for i := range 5 {
				u := newUser(t, s)
				m, err := s.MembershipInsert(t.Context(), tenant, u.ID, "viewer")
				require.NoError(t, err)
				want = append(want, m)
				if i%2 == 0 {
					_, err := s.MembershipInsert(t.Context(), other, newUser(t, s).ID, "viewer")
					require.NoError(t, err)
				}
			}
			got := collect(t, func(p store.Page) ([]*store.Membership, string, error) {
				return s.MembershipList(t.Context(), tenant, p)
			}, 2, func(m *store.Membership) string { return m.UserID })
			userID := func(m *store.Membership) string { return m.UserID }
			require.Equal(t, sortedAsc(keys(want, userID)), keys(got, userID), "by user id")
			require.ElementsMatch(t, want, got)
		}},
		{"MembershipListByUser", func(t *testing.T, s store.Store) {
			a, b, c := newTenant(t, s), newTenant(t, s), newTenant(t, s)
			u := newUser(t, s)
			_, err := s.MembershipInsert(t.Context(), a, u.ID, "owner")
			require.NoError(t, err)
			_, err = s.MembershipInsert(t.Context(), b, u.ID, "viewer")
			require.NoError(t, err)
			_, err = s.MembershipInsert(t.Context(), c, newUser(t, s).ID, "viewer")
			require.NoError(t, err)
			got, err := s.MembershipListByUser(t.Context(), u.ID)
			require.NoError(t, err)
			require.Len(t, got, 2)
			roles := map[string]string{}
			for _, m := range got {
				roles[m.TenantID] = m.Role
			}
			require.Equal(t, map[string]string{a: "owner", b: "viewer"}, roles)
			none, err := s.MembershipListByUser(t.Context(), "us_missing")
			require.NoError(t, err)
			require.Empty(t, none)
		}},
		{"MembershipUpdateDelete", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			u := newUser(t, s)
			_, err := s.MembershipInsert(t.Context(), tenant, u.ID, "viewer")
			require.NoError(t, err)
			m, err := s.MembershipUpdate(t.Context(), tenant, u.ID, "admin")
			require.NoError(t, err)
			require.Equal(t, "admin", m.Role)

			// Another tenant cannot touch it.
			_, err = s.MembershipUpdate(t.Context(), other, u.ID, "viewer")
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.MembershipDelete(t.Context(), other, u.ID), store.ErrNotFound)
			got, err := s.MembershipGet(t.Context(), tenant, u.ID)
			require.NoError(t, err)
			require.Equal(t, "admin", got.Role)

			require.NoError(t, s.MembershipDelete(t.Context(), tenant, u.ID))
			_, err = s.MembershipGet(t.Context(), tenant, u.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.MembershipDelete(t.Context(), tenant, u.ID), store.ErrNotFound)
			_, err = s.MembershipUpdate(t.Context(), tenant, u.ID, "viewer")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"MembershipLastOwner", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			a, b := newUser(t, s), newUser(t, s)
			_, err := s.MembershipInsert(t.Context(), tenant, a.ID, "owner")
			require.NoError(t, err)

			_, err = s.MembershipUpdate(t.Context(), tenant, a.ID, "admin")
			require.ErrorIs(t, err, store.ErrLastOwner)
			require.ErrorIs(t, s.MembershipDelete(t.Context(), tenant, a.ID), store.ErrLastOwner)
			_, err = s.MembershipUpdate(t.Context(), tenant, a.ID, "owner")
			require.NoError(t, err, "keeping the role is no demotion")

			// With a second owner, either may go, but not both.
			_, err = s.MembershipInsert(t.Context(), tenant, b.ID, "owner")
			require.NoError(t, err)
			_, err = s.MembershipUpdate(t.Context(), tenant, a.ID, "viewer")
			require.NoError(t, err)
			require.ErrorIs(t, s.MembershipDelete(t.Context(), tenant, b.ID), store.ErrLastOwner)
			require.NoError(t, s.MembershipDelete(t.Context(), tenant, a.ID))
		}},
		{"MembershipLastOwnerConcurrent", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			a, b := newUser(t, s), newUser(t, s)
			for _, u := range []*store.User{a, b} {
				_, err := s.MembershipInsert(t.Context(), tenant, u.ID, "owner")
				require.NoError(t, err)
			}
			errs := make(chan error, 2)
			for _, u := range []*store.User{a, b} {
				go func() { _, err := s.MembershipUpdate(t.Context(), tenant, u.ID, "admin"); errs <- err }()
			}
			e1, e2 := <-errs, <-errs
			if e1 != nil {
				e1, e2 = e2, e1
			}
			require.NoError(t, e1, "one demotion succeeds")
			require.ErrorIs(t, e2, store.ErrLastOwner, "the other finds the last owner")
		}},
	}
}
