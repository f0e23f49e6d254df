package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

func TestMemberLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const password = "a long enough password"

	// Create a user with a password: stored as argon2id, never echoed.
	r := e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key,
		body: map[string]any{"email": " Ada@Example.com ", "role": "owner", "password": password}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.NotContains(t, string(r.body), password)
	var ada memberResponse
	r.decode(t, &ada)
	require.Regexp(t, `^us_[0-9a-z]{26}$`, ada.UserID)
	require.Equal(t, "ada@example.com", ada.Email, "emails are stored lower-case")
	require.Equal(t, auth.RoleOwner, ada.Role)
	require.Equal(t, "/api/v1/members/"+ada.UserID, r.header.Get("Location"))
	u, err := e.store.UserGet(context.Background(), ada.UserID)
	require.NoError(t, err)
	ok, err := auth.VerifyPassword(password, u.PasswordHash)
	require.NoError(t, err)
	require.True(t, ok)

	// Add a user that exists in another tenant, by email, without a password.
	other, _ := e.newTenant("other")
	bob, err := e.store.UserInsert(context.Background(), "bob@example.com", u.PasswordHash)
	require.NoError(t, err)
	_, err = e.store.MembershipInsert(context.Background(), other, bob.ID, auth.RoleOwner)
	require.NoError(t, err)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key, body: map[string]any{"email": "BOB@example.com", "role": "viewer"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	// Twice: 409; an unknown email without a password: 404; a taken email with one: 409.
	p := e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key, body: map[string]any{"email": "bob@example.com", "role": "viewer"}}).
		problem(t, http.StatusConflict, CodeConflict)
	require.Equal(t, []string{"body.email"}, p.locations())
	p = e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key, body: map[string]any{"email": "nobody@example.com", "role": "viewer"}}).
		problem(t, http.StatusNotFound, CodeNotFound)
	require.Equal(t, []string{"body.email"}, p.locations())
	p = e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key, body: map[string]any{"email": "bob@example.com", "role": "viewer", "password": password}}).
		problem(t, http.StatusConflict, CodeConflict)
	require.Equal(t, []string{"body.email"}, p.locations())

	// List, by user id.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/members?limit=1", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[memberResponse]
	r.decode(t, &page)
	require.Len(t, page.Items, 1)
	require.NotEmpty(t, page.NextCursor)
	require.NotContains(t, string(r.body), "password")

	// Change a role; the last owner can be neither demoted nor removed.
	r = e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + bob.ID, key: e.key, body: map[string]any{"role": "admin"}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, "admin", r.json(t)["role"])
	e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + ada.UserID, key: e.key, body: map[string]any{"role": "admin"}}).
		problem(t, http.StatusConflict, CodeLastOwner)
	e.do(req{method: http.MethodDelete, path: "/api/v1/members/" + ada.UserID, key: e.key}).
		problem(t, http.StatusConflict, CodeLastOwner)

	// Remove: 204; the user stays, with their other tenant.
	r = e.do(req{method: http.MethodDelete, path: "/api/v1/members/" + bob.ID, key: e.key})
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodDelete, path: "/api/v1/members/" + bob.ID, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	ms, err := e.store.MembershipListByUser(context.Background(), bob.ID)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, other, ms[0].TenantID)

	entries, _, err := e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{}, store.Page{})
	require.NoError(t, err)
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action)
		require.NotContains(t, string(a.Detail), password)
	}
	require.Equal(t, []string{"member.remove", "member.update", "member.add", "member.add", "user.create"}, actions)
}

func TestMemberRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, _ := e.newKey(e.tenantID, auth.RoleAdmin, nil)
	editor, _ := e.newKey(e.tenantID, auth.RoleEditor, nil)
	hash, err := auth.HashPassword("a long enough password")
	require.NoError(t, err)
	owner, err := e.store.UserInsert(context.Background(), "owner@example.com", hash)
	require.NoError(t, err)
	_, err = e.store.MembershipInsert(context.Background(), e.tenantID, owner.ID, auth.RoleOwner)
	require.NoError(t, err)
	viewer, err := e.store.UserInsert(context.Background(), "viewer@example.com", hash)
	require.NoError(t, err)
	_, err = e.store.MembershipInsert(context.Background(), e.tenantID, viewer.ID, auth.RoleViewer)
	require.NoError(t, err)
	otherTenant, otherKey := e.newTenant("other")
	stranger, err := e.store.UserInsert(context.Background(), "stranger@example.com", hash)
	require.NoError(t, err)
	_, err = e.store.MembershipInsert(context.Background(), otherTenant, stranger.ID, auth.RoleViewer)
	require.NoError(t, err)

	// Below admin: 403 everywhere.
	e.do(req{method: http.MethodGet, path: "/api/v1/members", key: editor}).problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodPost, path: "/api/v1/members", key: editor, body: map[string]any{"email": "viewer@example.com", "role": "viewer"}}).
		problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + viewer.ID, key: editor, body: map[string]any{"role": "viewer"}}).
		problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodDelete, path: "/api/v1/members/" + viewer.ID, key: editor}).problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodGet, path: "/api/v1/members"}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)

	// An admin cannot grant owner, nor touch an owner.
	p := e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + viewer.ID, key: admin, body: map[string]any{"role": "owner"}}).
		problem(t, http.StatusForbidden, CodeForbidden)
	require.Equal(t, []string{"body.role"}, p.locations())
	e.do(req{method: http.MethodPost, path: "/api/v1/members", key: admin, body: map[string]any{"email": "stranger@example.com", "role": "owner"}}).
		problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + owner.ID, key: admin, body: map[string]any{"role": "viewer"}}).
		problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodDelete, path: "/api/v1/members/" + owner.ID, key: admin}).problem(t, http.StatusForbidden, CodeForbidden)

	// Another tenant's member: 404, and unchanged there.
	e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + stranger.ID, key: e.key, body: map[string]any{"role": "admin"}}).
		problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodDelete, path: "/api/v1/members/" + stranger.ID, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	m, err := e.store.MembershipGet(context.Background(), otherTenant, stranger.ID)
	require.NoError(t, err)
	require.Equal(t, auth.RoleViewer, m.Role)
	r := e.do(req{method: http.MethodGet, path: "/api/v1/members", key: otherKey})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[memberResponse]
	r.decode(t, &page)
	require.Len(t, page.Items, 1)
	require.Equal(t, stranger.ID, page.Items[0].UserID)

	// Bad bodies name their field.
	e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key, body: `{"email":`}).problem(t, http.StatusBadRequest, CodeInvalidJSON)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"not an email", map[string]any{"email": "not-an-email", "role": "viewer"}, "body.email"},
		{"unknown role", map[string]any{"email": "x@example.com", "role": "root"}, "body.role"},
		{"short password", map[string]any{"email": "x@example.com", "role": "viewer", "password": "short"}, "body.password"},
	} {
		p := e.do(req{method: http.MethodPost, path: "/api/v1/members", key: e.key, body: tc.body}).
			problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
		require.Contains(t, p.locations(), tc.field, tc.name)
	}
	e.do(req{method: http.MethodPatch, path: "/api/v1/members/" + viewer.ID, key: e.key, body: map[string]any{"role": "boss"}}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
}
