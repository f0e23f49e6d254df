package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
)

func TestTenantCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // e.key: owner of "default" and platform admin

	r := e.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: e.key, body: map[string]any{"name": "acme"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var tn tenantResponse
	r.decode(t, &tn)
	require.Regexp(t, `^tn_[0-9a-z]{26}$`, tn.ID)
	require.Equal(t, "acme", tn.Name)
	require.Equal(t, "/api/v1/tenants/"+tn.ID, r.header.Get("Location"))

	p := e.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: e.key, body: map[string]any{"name": "acme"}}).
		problem(t, http.StatusConflict, CodeConflict)
	require.Equal(t, []string{"body.name"}, p.locations())
	p = e.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: e.key, body: map[string]any{"name": "Not Valid"}}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
	require.Equal(t, []string{"body.name"}, p.locations())

	// Its first key, made by the platform admin; it acts in the new tenant only.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/tenants/" + tn.ID + "/api-keys", key: e.key, body: map[string]any{"name": "acme-owner", "role": "owner"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var k apiKeyCreatedResponse
	r.decode(t, &k)
	r = e.do(req{method: http.MethodGet, path: "/api/v1/api-keys", key: k.Key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[apiKeyResponse]
	r.decode(t, &page)
	require.Len(t, page.Items, 1)
	require.Equal(t, k.ID, page.Items[0].ID)
	e.do(req{method: http.MethodPost, path: "/api/v1/tenants/tn_missing/api-keys", key: e.key, body: map[string]any{"name": "x", "role": "owner"}}).
		problem(t, http.StatusNotFound, CodeNotFound)

	// An owner that is not a platform admin (the new tenant's key, another owner
	// of default) gets 403; a lower role too.
	owner, _ := e.newKey(e.tenantID, auth.RoleOwner, nil)
	admin, _ := e.newKey(e.tenantID, auth.RoleAdmin, nil)
	for _, key := range []string{k.Key, owner, admin} {
		e.do(req{method: http.MethodPost, path: "/api/v1/tenants", key: key, body: map[string]any{"name": "evil"}}).
			problem(t, http.StatusForbidden, CodeForbidden)
		e.do(req{method: http.MethodPost, path: "/api/v1/tenants/" + e.tenantID + "/api-keys", key: key, body: map[string]any{"name": "x", "role": "owner"}}).
			problem(t, http.StatusForbidden, CodeForbidden)
	}
	e.do(req{method: http.MethodPost, path: "/api/v1/tenants", body: map[string]any{"name": "anon"}}).
		problem(t, http.StatusUnauthorized, CodeUnauthenticated)
}
