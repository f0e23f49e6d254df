package api

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

// tenantState reads, with key, everything its tenant holds that the API
// shows: every list and every resource in them.
func (e *env) tenantState(key string) map[string]any {
	e.t.Helper()
	get := func(path string) *response {
		return e.do(req{method: http.MethodGet, path: path, key: key})
	}
	items := func(v any) []map[string]any {
		m := v.(map[string]any)
		require.Empty(e.t, m["next_cursor"], "the test's lists fit one page")
		var out []map[string]any
		for _, it := range m["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	state := map[string]any{}
	for _, list := range []string{"workflows", "executions", "nodes", "secrets", "audit"} {
		state[list] = jsonOf(e.t, get("/api/v1/"+list+"?limit=200"))
	}
	for _, path := range []string{"publishers", "publishers/acme/keys", "trust-policy", "marketplace"} {
		state[path] = jsonOf(e.t, get("/api/v1/"+path))
	}
	for _, w := range items(state["workflows"]) {
		id := w["id"].(string)
		state["workflows/"+id] = jsonOf(e.t, get("/api/v1/workflows/"+id))
		state["workflows/"+id+"/versions"] = jsonOf(e.t, get("/api/v1/workflows/"+id+"/versions?limit=200"))
	}
	for _, ex := range items(state["executions"]) {
		id := ex["id"].(string)
		state["executions/"+id] = jsonOf(e.t, get("/api/v1/executions/"+id))
	}
	for _, n := range items(state["nodes"]) {
		name := n["name"].(string)
		state["nodes/"+name] = jsonOf(e.t, get("/api/v1/nodes/"+name))
	}
	return state
}

// TestCrossTenant fills tenant A with one of every resource and calls every
// operation that names a resource with A's ids and tenant B's owner key:
// each answers 404, as for an id that does not exist (never 403, which
// would confirm it does), and A is unchanged. B's lists show nothing of A.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t)
	a := newRouteFixture(e, e.tenantID, e.key)
	_, keyB := e.newTenant("tenant-b")

	// Build every request first: building creates resources in A.
	type call struct {
		op string
		r  req
	}
	var calls, shared []call
	for _, op := range e.operations() {
		if !strings.Contains(op.path, "{") {
			continue
		}
		tc, ok := routeCases[op.id]
		require.True(t, ok, "%s has no row in routeCases: add it to the table", op.id)
		if tc.platform {
			continue // not a tenant's resource
		}
		r := tc.request(a)
		require.True(t, op.matches(r), "%s: %s %s", op.id, r.method, r.path)
		r.key = keyB
		if tc.shared {
			shared = append(shared, call{op.id, r})
			continue
		}
		calls = append(calls, call{op.id, r})
	}
	var visited []string
	for _, c := range calls {
		visited = append(visited, c.op)
	}
	require.Subset(t, visited, []string{
		"getWorkflow", "updateWorkflow", "deleteWorkflow", "listWorkflowVersions", "getWorkflowVersion",
		"startExecution", "getExecution", "cancelExecution", "retryExecution",
		"getNode", "getNodeVersion", "testNode", "updateSecret", "deleteSecret",
		"registerPublisherKey", "revokePublisherKey", "yankModuleVersion",
	})
	var sharedOps []string
	for _, c := range shared {
		sharedOps = append(sharedOps, c.op)
	}
	require.ElementsMatch(t, []string{"listPublisherKeys", "getMarketplaceModule"}, sharedOps)

	before := e.tenantState(e.key)
	require.NotEmpty(t, before["audit"].(map[string]any)["items"])
	for _, c := range calls {
		r := e.do(c.r)
		p := r.problem(t, http.StatusNotFound, CodeNotFound)
		what := fmt.Sprintf("%s: %s %s", c.op, c.r.method, c.r.path)
		// The answer says nothing about A's resource.
		require.NotContains(t, string(r.body), e.tenantID, what)
		require.Empty(t, p.Errors, what)
	}
	// What is shared on purpose answers B, and B's reading changes nothing.
	for _, c := range shared {
		r := e.do(c.r)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", c.op, r.body)
	}
	require.Equal(t, before, e.tenantState(e.key), "tenant B's calls changed tenant A")

	// B sees nothing of A in its lists, and cannot reach A's modules or
	// secrets by name from its own workflows either.
	for _, list := range []string{"workflows", "executions", "nodes", "secrets", "audit"} {
		r := e.do(req{method: http.MethodGet, path: "/api/v1/" + list, key: keyB})
		require.JSONEq(t, `{"items": [], "next_cursor": ""}`, string(r.body), list)
	}
	for _, q := range []string{"actor=" + url.QueryEscape(before["audit"].(map[string]any)["items"].([]any)[0].(map[string]any)["actor"].(string)), "resource=" + a.workflow} {
		r := e.do(req{method: http.MethodGet, path: "/api/v1/audit?" + q, key: keyB})
		require.JSONEq(t, `{"items": [], "next_cursor": ""}`, string(r.body), q)
	}
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: keyB, body: moduleWorkflow("steal", "acme/echo@1.0.0")})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.nodes[1].module"}, p.locations())
	bind := chain("bind", map[string]any{"name": "echo", "module": "acme/echo@1.0.0", "secrets": map[string]any{"token": a.secret}})
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: keyB, body: bind})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "body: %s", r.body)
	// A test run of B's own module bound to A's secret name reads nothing.
	e.uploadDir(keyB, probeDir)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/nodes/test/secret-probe/versions/1.0.0/test", key: keyB,
		body: map[string]any{"params": map[string]any{"read": []string{"token"}}, "secrets": map[string]any{"token": a.secret}}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "body: %s", r.body)
	require.NotContains(t, string(r.body), secretValue(a.secret))
	// The same run in A reads the value (redacted): the binding is right.
	e.uploadDir(e.key, probeDir)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/nodes/test/secret-probe/versions/1.0.0/test", key: e.key,
		body: map[string]any{"params": map[string]any{"read": []string{"token"}}, "secrets": map[string]any{"token": a.secret}}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Contains(t, string(r.body), "[redacted:"+a.secret+"]")

	// Nothing B did changed A's workflows, executions or secrets (A's own
	// test run added a module and audit entries).
	// B cannot take A's publisher name, nor publish under it, even a
	// version A signed that B holds.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/publishers", key: keyB, body: map[string]any{"name": "acme"}})
	r.problem(t, http.StatusConflict, CodePublisherTaken)
	r = e.upload(keyB, e.signedParts(a.signer, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t, "name", "acme/signed", "version", "7.0.0"))...)
	require.Equal(t, http.StatusCreated, r.status, "a verified signature: B may hold the module: %s", r.body)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/publish", key: keyB, body: map[string]any{"name": "acme/signed", "version": "7.0.0"}})
	r.problem(t, http.StatusNotFound, CodePublisherNotFound)

	after := e.tenantState(e.key)
	for _, k := range []string{"workflows", "executions", "secrets", "publishers", "publishers/acme/keys", "marketplace", "trust-policy"} {
		require.Equal(t, before[k], after[k], k)
	}
}

// Ids are not a sequence: two made one after the other share at most their
// time part, and their 80 random bits differ.
func TestIDsAreRandom(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var prev string
	for i := range 20 {
		id := e.createTriggerOnlyWorkflow(fmt.Sprintf("id-%d", i))
		require.Regexp(t, `^wf_[0-9a-z]{26}$`, id)
		if prev != "" {
			// The last 16 characters are the 80 random bits.
			require.NotEqual(t, prev[len(prev)-16:], id[len(id)-16:], "%s then %s", prev, id)
			require.NotEqual(t, 1, differingChars(prev[len(prev)-16:], id[len(id)-16:]), "%s then %s look sequential", prev, id)
		}
		prev = id
	}
	a, b := store.NewID("ex"), store.NewID("ex")
	require.NotEqual(t, a[len(a)-16:], b[len(b)-16:])
}

func (e *env) createTriggerOnlyWorkflow(name string) string {
	return e.saveWorkflow(e.key, triggerOnly(name))
}

// differingChars counts the positions where a and b differ.
func differingChars(a, b string) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}
