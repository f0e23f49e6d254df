package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
)

// probeDir is the engine's test module that reads the secrets its params name.
const probeDir = "../engine/testdata/secret-probe"

func probeNode(read []string, secrets map[string]any) map[string]any {
	return map[string]any{"name": "probe", "module": "test/secret-probe@1", "params": map[string]any{"read": read}, "secrets": secrets}
}

// secretList lists the tenant's secrets.
func (e *env) secretList(key string) []secretResponse {
	e.t.Helper()
	r := e.do(req{method: http.MethodGet, path: "/api/v1/secrets", key: key})
	require.Equal(e.t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[secretResponse]
	r.decode(e.t, &page)
	return page.Items
}

// TestSecretBindingsAndHostCalls: a workflow binds a secret; the secret's
// listing shows it; an execution reads it, records the read and stores only
// a redaction; a binding of a name the module does not declare is a 422
// naming it; test runs bind secrets only for editors.
func TestSecretBindingsAndHostCalls(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t) // engine, registry and vault, secrets read through the vault
	e.uploadDir(e.key, probeDir)
	const plaintext = "xoxb-API-PLAINTEXT-77"
	r := e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "slack-prod", "value": plaintext}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var created secretResponse
	r.decode(t, &created)
	require.Equal(t, []secretBindingBody{}, created.BoundBy)

	// A name the module does not declare.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key,
		body: chain("bad", probeNode([]string{"token"}, map[string]any{"token": "slack-prod", "admin": "slack-prod"}))})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.nodes[1].secrets.admin"}, p.locations(), "body: %s", r.body)
	require.Contains(t, string(r.body), "declares token, other")

	wf := e.saveWorkflow(e.key, chain("reader", probeNode([]string{"token"}, map[string]any{"token": "slack-prod"})))
	secrets := e.secretList(e.key)
	require.Len(t, secrets, 1)
	require.Equal(t, []secretBindingBody{{WorkflowID: wf, WorkflowName: "reader", Node: "probe", Name: "token"}}, secrets[0].BoundBy)

	ex := e.startExec(e.key, wf, "wait=60s", items(map[string]any{}), http.StatusOK)
	require.Equal(t, "succeeded", ex.Status, "%s", ex.Error)
	probe := ex.Nodes[1]
	require.Equal(t, "probe", probe.Name)
	require.JSONEq(t, `{"items": [{"name": "token", "value": "[redacted:slack-prod]"}]}`, string(probe.Output))
	require.Contains(t, string(probe.HostCalls), `"kind":"secret_read","at":`)
	require.Contains(t, string(probe.HostCalls), `"name":"token","secret":"slack-prod","via":"secret_get"`)
	require.NotContains(t, string(e.do(req{method: http.MethodGet, path: "/api/v1/executions/" + ex.ID, key: e.key}).body), plaintext)

	// Test runs: an editor (the owner) may bind; a runner may not.
	testPath := "/api/v1/nodes/test/secret-probe/versions/1.0.0/test"
	body := map[string]any{"params": map[string]any{"read": []string{"token"}}, "secrets": map[string]any{"token": "slack-prod"}}
	r = e.do(req{method: http.MethodPost, path: testPath, key: e.key, body: body})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var tr testNodeResponse
	r.decode(t, &tr)
	require.JSONEq(t, `{"items": [{"name": "token", "value": "[redacted:slack-prod]"}]}`, string(tr.Output))
	require.Len(t, tr.HostCalls, 1)
	require.Equal(t, "slack-prod", tr.HostCalls[0].Secret)
	require.NotContains(t, string(r.body), plaintext)
	runner, _ := e.newKey(e.tenantID, auth.RoleRunner, nil)
	p = e.do(req{method: http.MethodPost, path: testPath, key: runner, body: body}).problem(t, http.StatusForbidden, CodeForbidden)
	require.Equal(t, []string{"body.secrets"}, p.locations())
	// Without bindings the read is refused, as in a workflow.
	r = e.do(req{method: http.MethodPost, path: testPath, key: runner, body: map[string]any{"params": map[string]any{"read": []string{"token"}}}})
	r.problem(t, http.StatusUnprocessableEntity, CodeNodeFailed)
	require.Contains(t, string(r.body), "secret_not_granted")

	// A new version without the binding drops it from the listing.
	r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + wf, key: e.key,
		body: chain("reader", probeNode([]string{}, nil))})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, []secretBindingBody{}, e.secretList(e.key)[0].BoundBy)
}
