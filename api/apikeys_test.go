package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, _ := e.newKey(e.tenantID, auth.RoleAdmin, nil)

	// Create: the key is in this response and no other.
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/api-keys", key: admin,
		body: map[string]any{"name": "ci", "role": "editor", "expires_at": expires}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var created apiKeyCreatedResponse
	r.decode(t, &created)
	require.Regexp(t, `^wf_[0-9A-Za-z]{43}$`, created.Key)
	require.Regexp(t, `^ak_[0-9a-z]{26}$`, created.ID)
	require.Equal(t, "/api/v1/api-keys/"+created.ID, r.header.Get("Location"))
	require.Equal(t, "ci", created.Name)
	require.Equal(t, auth.RoleEditor, created.Role)
	require.Equal(t, created.Key[:len(created.Prefix)], created.Prefix)
	require.True(t, expires.Equal(*created.ExpiresAt), "%s != %s", expires, created.ExpiresAt)
	require.Nil(t, created.RevokedAt)
	require.NotContains(t, r.json(t), "hash")

	// The new key works with its own role: editor may read, not manage keys.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: created.Key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodGet, path: "/api/v1/api-keys", key: created.Key}).problem(t, http.StatusForbidden, CodeForbidden)

	// A key without expiry.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/api-keys", key: admin, body: map[string]any{"name": "cron", "role": "runner"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Nil(t, r.json(t)["expires_at"])

	// List: newest first, paginated, never a key or a hash.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/api-keys?limit=2", key: admin})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.NotContains(t, string(r.body), created.Key)
	var page Page[map[string]any]
	r.decode(t, &page)
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.NextCursor)
	require.Equal(t, "cron", page.Items[0]["name"])
	require.Equal(t, "ci", page.Items[1]["name"])
	for _, it := range page.Items {
		require.NotContains(t, it, "key")
		require.NotContains(t, it, "hash")
	}
	r = e.do(req{method: http.MethodGet, path: "/api/v1/api-keys?limit=2&cursor=" + page.NextCursor, key: admin})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r.decode(t, &page)
	require.Len(t, page.Items, 2, "the admin key and the bootstrap key")
	require.Empty(t, page.NextCursor)

	// Revoke: 204, then the key answers 401 and is listed revoked.
	r = e.do(req{method: http.MethodDelete, path: "/api/v1/api-keys/" + created.ID, key: admin})
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: created.Key}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	r = e.do(req{method: http.MethodDelete, path: "/api/v1/api-keys/" + created.ID, key: admin})
	require.Equal(t, http.StatusNoContent, r.status, "revoking again succeeds: %s", r.body)
	r = e.do(req{method: http.MethodGet, path: "/api/v1/api-keys", key: admin})
	r.decode(t, &page)
	for _, it := range page.Items {
		if it["id"] == created.ID {
			require.NotNil(t, it["revoked_at"])
		}
	}
	e.do(req{method: http.MethodDelete, path: "/api/v1/api-keys/ak_missing", key: admin}).problem(t, http.StatusNotFound, CodeNotFound)

	// Audit: who created and revoked what.
	entries, _, err := e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{}, store.Page{})
	require.NoError(t, err)
	var actions []string
	for _, a := range entries {
		if a.Resource == created.ID {
			actions = append(actions, a.Action)
			require.Contains(t, a.Actor, "api_key:")
			require.NotContains(t, string(a.Detail), created.Key)
		}
	}
	require.Equal(t, []string{"api_key.revoke", "api_key.revoke", "api_key.create"}, actions)
}

func TestAPIKeyRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, _ := e.newKey(e.tenantID, auth.RoleAdmin, nil)
	_, ownerRec := e.newKey(e.tenantID, auth.RoleOwner, nil)
	otherTenant, otherKey := e.newTenant("other")
	_, otherRec := e.newKey(otherTenant, auth.RoleViewer, nil)
	past := time.Now().Add(-time.Minute)
	expiredAdmin, _ := e.newKey(e.tenantID, auth.RoleAdmin, func(p *store.APIKeyInsertParams) { p.ExpiresAt = &past })

	post := func(key string, body any) *response {
		return e.do(req{method: http.MethodPost, path: "/api/v1/api-keys", key: key, body: body})
	}

	// Below admin: 403 on every key route.
	for _, role := range []string{auth.RoleEditor, auth.RoleRunner, auth.RoleViewer} {
		k, _ := e.newKey(e.tenantID, role, nil)
		post(k, map[string]any{"name": "x", "role": "viewer"}).problem(t, http.StatusForbidden, CodeForbidden)
		e.do(req{method: http.MethodGet, path: "/api/v1/api-keys", key: k}).problem(t, http.StatusForbidden, CodeForbidden)
		e.do(req{method: http.MethodDelete, path: "/api/v1/api-keys/" + ownerRec.ID, key: k}).problem(t, http.StatusForbidden, CodeForbidden)
	}
	// No key, an expired key: 401.
	post("", map[string]any{"name": "x", "role": "viewer"}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	post(expiredAdmin, map[string]any{"name": "x", "role": "viewer"}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)

	// An admin cannot mint an owner key, nor revoke one.
	p := post(admin, map[string]any{"name": "up", "role": "owner"}).problem(t, http.StatusForbidden, CodeForbidden)
	require.Equal(t, []string{"body.role"}, p.locations())
	e.do(req{method: http.MethodDelete, path: "/api/v1/api-keys/" + ownerRec.ID, key: admin}).problem(t, http.StatusForbidden, CodeForbidden)

	// Bad bodies, each naming its field.
	post(admin, `{"name": "x",`).problem(t, http.StatusBadRequest, CodeInvalidJSON)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown role", map[string]any{"name": "x", "role": "root"}, "body.role"},
		{"empty name", map[string]any{"name": "", "role": "viewer"}, "body.name"},
		{"expiry in the past", map[string]any{"name": "x", "role": "viewer", "expires_at": past}, "body.expires_at"},
		{"expiry not a time", map[string]any{"name": "x", "role": "viewer", "expires_at": "tomorrow"}, "body.expires_at"},
	} {
		p := post(admin, tc.body).problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
		require.Contains(t, p.locations(), tc.field, tc.name)
	}

	// Another tenant's key: 404 from here, and it still works there.
	e.do(req{method: http.MethodDelete, path: "/api/v1/api-keys/" + otherRec.ID, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	got, err := e.store.APIKeyGet(context.Background(), otherTenant, otherRec.ID)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt)
	r := e.do(req{method: http.MethodGet, path: "/api/v1/api-keys", key: otherKey})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[apiKeyResponse]
	r.decode(t, &page)
	for _, k := range page.Items {
		require.NotEqual(t, ownerRec.ID, k.ID, "tenants see only their own keys")
	}
	require.Len(t, page.Items, 2)
}
