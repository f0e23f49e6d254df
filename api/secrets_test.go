package api

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/store"
)

func newSecretsEnv(t *testing.T) (*env, *vault.Keyring) {
	t.Helper()
	kr, err := vault.NewKeyring(vault.GenerateKey())
	require.NoError(t, err)
	return newEnvWith(t, envOpts{cfg: Config{Vault: kr}}), kr
}

func TestSecretLifecycle(t *testing.T) {
	t.Parallel()
	e, kr := newSecretsEnv(t)
	const value, newValue = "xoxb-1111-PLAINTEXT-MARKER", "xoxb-2222-SECOND-MARKER"
	var bodies [][]byte
	do := func(r req) *response {
		resp := e.do(r)
		bodies = append(bodies, resp.body)
		return resp
	}

	// Create.
	r := do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "slack-prod", "value": value}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Equal(t, "/api/v1/secrets/slack-prod", r.header.Get("Location"))
	raw := r.json(t)
	require.Equal(t, "slack-prod", raw["name"])
	require.NotContains(t, raw, "value")
	var created secretResponse
	r.decode(t, &created)
	require.False(t, created.CreatedAt.IsZero())

	// Duplicate: 409 naming body.name.
	p := do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "slack-prod", "value": "x"}}).
		problem(t, http.StatusConflict, CodeConflict)
	require.Equal(t, []string{"body.name"}, p.locations())

	// Bad names: 422 naming body.name.
	for _, name := range []string{"Slack", "has space", "slash/no", "", strings.Repeat("a", 65), "ünï"} {
		p := do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": name, "value": "x"}}).
			problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
		require.Contains(t, p.locations(), "body.name", "name %q", name)
	}
	// A missing or empty value, and unknown fields, are refused too.
	p = do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "ok"}}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
	require.Len(t, p.Errors, 1)
	require.Contains(t, p.Errors[0].Message, "value") // huma names a missing property at "body"
	do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "ok", "value": ""}}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)

	// More secrets, listed by name with paging.
	for _, name := range []string{"a.db", "b_api", "z-9"} {
		r = do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": name, "value": value + name}})
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	}
	r = do(req{method: http.MethodGet, path: "/api/v1/secrets?limit=3", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[secretResponse]
	r.decode(t, &page)
	require.Len(t, page.Items, 3)
	require.NotEmpty(t, page.NextCursor)
	require.Equal(t, []string{"a.db", "b_api", "slack-prod"}, []string{page.Items[0].Name, page.Items[1].Name, page.Items[2].Name})
	r = do(req{method: http.MethodGet, path: "/api/v1/secrets?limit=3&cursor=" + page.NextCursor, key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r.decode(t, &page)
	require.Len(t, page.Items, 1)
	require.Equal(t, "z-9", page.Items[0].Name)
	require.Empty(t, page.NextCursor)

	// Update.
	r = do(req{method: http.MethodPut, path: "/api/v1/secrets/slack-prod", key: e.key, body: map[string]any{"value": newValue}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var updated secretResponse
	r.decode(t, &updated)
	require.Equal(t, created.CreatedAt, updated.CreatedAt)
	require.False(t, updated.UpdatedAt.Before(created.UpdatedAt))
	do(req{method: http.MethodPut, path: "/api/v1/secrets/missing", key: e.key, body: map[string]any{"value": "x"}}).
		problem(t, http.StatusNotFound, CodeNotFound)

	// The stored record opens to the new value, bound to its tenant and name.
	sec, err := e.store.SecretGet(context.Background(), e.tenantID, "slack-prod")
	require.NoError(t, err)
	require.Equal(t, kr.CurrentKeyID(), sec.KeyID)
	got, err := kr.Open(e.tenantID, "slack-prod", sec.Ciphertext, sec.WrappedKey, sec.KeyID)
	require.NoError(t, err)
	require.Equal(t, newValue, string(got))

	// Delete.
	r = do(req{method: http.MethodDelete, path: "/api/v1/secrets/a.db", key: e.key})
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	do(req{method: http.MethodDelete, path: "/api/v1/secrets/a.db", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)

	// No route returns a value: there is no GET of one secret.
	do(req{method: http.MethodGet, path: "/api/v1/secrets/slack-prod", key: e.key}).problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	for _, b := range bodies {
		require.NotContains(t, string(b), "MARKER")
	}

	// Audited without values.
	entries, _, err := e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{}, store.Page{Limit: 100})
	require.NoError(t, err)
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action+" "+a.Resource)
		require.NotContains(t, string(a.Detail), "MARKER")
	}
	require.ElementsMatch(t, []string{
		"secret.create slack-prod", "secret.create a.db", "secret.create b_api", "secret.create z-9",
		"secret.update slack-prod", "secret.delete a.db",
	}, actions)
}

func TestSecretPlaintextNeverStored(t *testing.T) {
	t.Parallel()
	e, _ := newSecretsEnv(t)
	const marker = "PLAINTEXT-MUST-NOT-BE-STORED-7f3a"
	r := e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "db", "value": marker}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	r = e.do(req{method: http.MethodPut, path: "/api/v1/secrets/db", key: e.key, body: map[string]any{"value": marker + "-2"}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	// Every byte of the database: the file, its WAL and shared memory.
	files, err := filepath.Glob(filepath.Join(filepath.Dir(e.storePath(t)), "wasmflow.db*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f) //nolint:gosec // a test's own temp file
		require.NoError(t, err)
		require.False(t, bytes.Contains(data, []byte(marker)), "%s holds the plaintext", f)
	}
	// The record holds ciphertext only.
	sec, err := e.store.SecretGet(context.Background(), e.tenantID, "db")
	require.NoError(t, err)
	require.False(t, bytes.Contains(sec.Ciphertext, []byte(marker)))
	require.False(t, bytes.Contains(sec.WrappedKey, []byte(marker)))
	// Nor in the logs.
	require.NotContains(t, e.logs.String(), marker)
}

// storePath finds the env's SQLite file. The store does not expose its
// path, but openStore put it in one of this test's temp dirs, which share a
// parent, and the test has no other database.
func (e *env) storePath(t *testing.T) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "wasmflow.db"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	return matches[0]
}

func TestSecretTenancyAndRoles(t *testing.T) {
	t.Parallel()
	e, _ := newSecretsEnv(t)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "mine", "value": "v"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	// Another tenant neither sees nor touches it; its own may share the name.
	_, otherKey := e.newTenant("other")
	r = e.do(req{method: http.MethodGet, path: "/api/v1/secrets", key: otherKey})
	require.Equal(t, http.StatusOK, r.status)
	var page Page[secretResponse]
	r.decode(t, &page)
	require.Empty(t, page.Items)
	e.do(req{method: http.MethodPut, path: "/api/v1/secrets/mine", key: otherKey, body: map[string]any{"value": "x"}}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodDelete, path: "/api/v1/secrets/mine", key: otherKey}).problem(t, http.StatusNotFound, CodeNotFound)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: otherKey, body: map[string]any{"name": "mine", "value": "theirs"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	// A viewer lists but cannot write; an editor can.
	viewer, _ := e.newKey(e.tenantID, auth.RoleViewer, nil)
	r = e.do(req{method: http.MethodGet, path: "/api/v1/secrets", key: viewer})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: viewer, body: map[string]any{"name": "v", "value": "v"}}).problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodPut, path: "/api/v1/secrets/mine", key: viewer, body: map[string]any{"value": "v"}}).problem(t, http.StatusForbidden, CodeForbidden)
	e.do(req{method: http.MethodDelete, path: "/api/v1/secrets/mine", key: viewer}).problem(t, http.StatusForbidden, CodeForbidden)
	runner, _ := e.newKey(e.tenantID, auth.RoleRunner, nil)
	e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: runner, body: map[string]any{"name": "v", "value": "v"}}).problem(t, http.StatusForbidden, CodeForbidden)
	editor, _ := e.newKey(e.tenantID, auth.RoleEditor, nil)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: editor, body: map[string]any{"name": "by-editor", "value": "v"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodGet, path: "/api/v1/secrets", key: ""}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
}

func TestSecretRoutesNeedAVault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(req{method: http.MethodGet, path: "/api/v1/secrets", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
}
