package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestWorkflowLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Create.
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: sampleWorkflow("enrich-orders")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var created workflowResponse
	r.decode(t, &created)
	require.True(t, strings.HasPrefix(created.ID, "wf_"))
	require.Equal(t, "/api/v1/workflows/"+created.ID, r.header.Get("Location"))
	require.Equal(t, `"1"`, r.header.Get("ETag"))
	require.Equal(t, "enrich-orders", created.Name)
	require.Equal(t, "test workflow", created.Description)
	require.Equal(t, 1, created.Version)
	require.False(t, created.Active) // new workflows are inactive until activated
	require.Len(t, created.Nodes, 4)
	require.Equal(t, "hash", created.Nodes[3].Name)
	require.Equal(t, 3, created.Nodes[3].Retry.MaxAttempts)
	require.Len(t, created.Connections, 3)
	require.Equal(t, "true", created.Connections[2].FromPort)
	for _, n := range created.Nodes {
		require.Nil(t, n.Lock, "a server without a registry locks nothing")
	}
	require.False(t, created.CreatedAt.IsZero())
	raw := r.json(t)
	for _, field := range []string{"id", "name", "description", "version", "active", "nodes", "connections", "settings", "created_at", "updated_at"} {
		require.Contains(t, raw, field)
	}

	// Read.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + created.ID, key: e.key})
	require.Equal(t, http.StatusOK, r.status)
	var got workflowResponse
	r.decode(t, &got)
	require.Equal(t, created, got)

	// Update: a new version.
	def := sampleWorkflow("enrich-orders-v2")
	def["nodes"] = def["nodes"].([]any)[:2]
	def["connections"] = def["connections"].([]any)[:1]
	r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + created.ID, key: e.key, body: def})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var updated workflowResponse
	r.decode(t, &updated)
	require.Equal(t, created.ID, updated.ID)
	require.Equal(t, 2, updated.Version)
	require.Equal(t, `"2"`, r.header.Get("ETag"))
	require.Equal(t, "enrich-orders-v2", updated.Name)
	require.Len(t, updated.Nodes, 2)
	require.Equal(t, created.CreatedAt, updated.CreatedAt)

	// Both versions are listed, newest first, each with its definition.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + created.ID + "/versions", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var versions Page[workflowVersionResponse]
	r.decode(t, &versions)
	require.Len(t, versions.Items, 2)
	require.Empty(t, versions.NextCursor)
	require.Equal(t, 2, versions.Items[0].Version)
	require.Equal(t, 1, versions.Items[1].Version)
	require.Equal(t, "enrich-orders", versions.Items[1].Definition.Name)
	require.Equal(t, created.ID, versions.Items[1].WorkflowID)
	require.False(t, versions.Items[1].CreatedAt.IsZero())

	// The old version stays readable.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + created.ID + "/versions/1", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var v1 workflowVersionResponse
	r.decode(t, &v1)
	require.Equal(t, 1, v1.Version)
	require.Equal(t, "enrich-orders", v1.Definition.Name)
	require.Len(t, v1.Definition.Nodes, 4)
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + created.ID + "/versions/3", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + created.ID + "/versions/0", key: e.key}).problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)

	// Delete, then everything about it is gone.
	r = e.do(req{method: http.MethodDelete, path: "/api/v1/workflows/" + created.ID, key: e.key})
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	require.Empty(t, r.body)
	for _, path := range []string{"", "/versions", "/versions/1"} {
		e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + created.ID + path, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	}
	e.do(req{method: http.MethodDelete, path: "/api/v1/workflows/" + created.ID, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + created.ID, key: e.key, body: def}).problem(t, http.StatusNotFound, CodeNotFound)

	// Each change is audited, by the key that made it.
	entries, _, err := e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{}, store.Page{})
	require.NoError(t, err)
	var actions []string
	for _, a := range entries {
		require.Equal(t, created.ID, a.Resource)
		require.True(t, strings.HasPrefix(a.Actor, "api_key:"), a.Actor)
		actions = append(actions, a.Action)
	}
	require.ElementsMatch(t, []string{"workflow.create", "workflow.update", "workflow.delete"}, actions)
}

func TestWorkflowListPaginates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := map[string]bool{}
	for i := range 7 {
		want[e.createWorkflow(e.key, fmt.Sprintf("wf-%d", i))] = true
	}

	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		path := "/api/v1/workflows?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.do(req{method: http.MethodGet, path: path, key: e.key})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Contains(t, r.json(t), "next_cursor")
		var page Page[workflowResponse]
		r.decode(t, &page)
		require.LessOrEqual(t, len(page.Items), 3)
		for _, w := range page.Items {
			seen[w.ID]++
		}
		pages++
		require.Less(t, pages, 10, "pagination does not end")
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, 3, pages)
	require.Len(t, seen, len(want))
	for id, n := range seen {
		require.True(t, want[id], id)
		require.Equal(t, 1, n, "%s seen %d times", id, n)
	}

	// An empty tenant lists [] (not null).
	_, otherKey := e.newTenant("empty")
	r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: otherKey})
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"items": [], "next_cursor": ""}`, string(r.body))

	// Bad paging parameters.
	p := e.do(req{method: http.MethodGet, path: "/api/v1/workflows?cursor=not-a-cursor", key: e.key}).problem(t, http.StatusBadRequest, CodeInvalidCursor)
	require.Equal(t, []string{"query.cursor"}, p.locations())
	for _, q := range []string{"limit=0", "limit=201", "limit=abc"} {
		p := e.do(req{method: http.MethodGet, path: "/api/v1/workflows?" + q, key: e.key}).problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
		require.Equal(t, []string{"query.limit"}, p.locations(), q)
	}
}

func TestWorkflowOptimisticLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createWorkflow(e.key, "locked")
	path := "/api/v1/workflows/" + id
	put := func(ifMatch string, body map[string]any) *response {
		r := req{method: http.MethodPut, path: path, key: e.key, body: body}
		if ifMatch != "" {
			r.header = map[string]string{"If-Match": ifMatch}
		}
		return e.do(r)
	}
	def := sampleWorkflow("locked")

	// Version 1 → 2 with the ETag it read.
	r := put(`"1"`, def)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, `"2"`, r.header.Get("ETag"))
	// A second writer still holding version 1 loses, header or body.
	p := put(`"1"`, def).problem(t, http.StatusConflict, CodeConflict)
	require.Contains(t, p.Detail, "version 1")
	withBody := sampleWorkflow("locked")
	withBody["expected_version"] = 1
	put("", withBody).problem(t, http.StatusConflict, CodeConflict)
	// The right version in the body, unquoted in the header, or any (*).
	withBody["expected_version"] = 2
	require.Equal(t, http.StatusOK, put("", withBody).status)
	require.Equal(t, http.StatusOK, put("3", def).status)
	require.Equal(t, http.StatusOK, put("*", def).status)
	// Nonsense and contradictions are the client's mistake.
	p = put("yesterday", def).problem(t, http.StatusBadRequest, CodeInvalidRequest)
	require.Equal(t, []string{"header.If-Match"}, p.locations())
	withBody["expected_version"] = 5
	p = put(`"4"`, withBody).problem(t, http.StatusBadRequest, CodeInvalidRequest)
	require.Equal(t, []string{"body.expected_version"}, p.locations())

	r = e.do(req{method: http.MethodGet, path: path, key: e.key})
	var w workflowResponse
	r.decode(t, &w)
	require.Equal(t, 5, w.Version)
}

func TestWorkflowRequestProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createWorkflow(e.key, "target")

	oversized := sampleWorkflow("big")
	oversized["description"] = strings.Repeat("x", DefaultBodyLimit)
	wrongType := sampleWorkflow("typed")
	wrongType["name"] = 5
	nested := sampleWorkflow("nested")
	nested["nodes"].([]any)[1].(map[string]any)["timeout_ms"] = "soon"
	unknownTop := sampleWorkflow("unknown")
	unknownTop["labels"] = []string{"typo"}
	unknownNested := sampleWorkflow("unknown-nested")
	unknownNested["nodes"].([]any)[2].(map[string]any)["parms"] = map[string]any{}
	unknownOnCreate := sampleWorkflow("expected")
	unknownOnCreate["expected_version"] = 1

	cases := []struct {
		name        string
		method      string
		body        any
		contentType string
		status      int
		code        string
		locations   []string
	}{
		{name: "malformed json", body: `{"name": "x", "nodes": [`, status: 400, code: CodeInvalidJSON, locations: []string{"body"}},
		{name: "trailing garbage", body: `{"name": "x"} {}`, status: 400, code: CodeInvalidJSON, locations: []string{"body"}},
		{name: "empty body", body: ``, status: 400, code: CodeInvalidRequest},
		{name: "not an object", body: `[1, 2]`, status: 422, code: CodeInvalidRequest, locations: []string{"body"}},
		{name: "wrong type", body: wrongType, status: 422, code: CodeInvalidRequest, locations: []string{"body.name"}},
		{name: "wrong nested type", body: nested, status: 422, code: CodeInvalidRequest, locations: []string{"body.nodes[1].timeout_ms"}},
		{name: "unknown field", body: unknownTop, status: 422, code: CodeInvalidRequest, locations: []string{"body.labels"}},
		{name: "unknown nested field", body: unknownNested, status: 422, code: CodeInvalidRequest, locations: []string{"body.nodes[2].parms"}},
		{name: "expected_version is for updates", body: unknownOnCreate, status: 422, code: CodeInvalidRequest, locations: []string{"body.expected_version"}},
		{name: "unknown field on update", method: http.MethodPut, body: unknownTop, status: 422, code: CodeInvalidRequest, locations: []string{"body.labels"}},
		{name: "oversized", body: oversized, status: 413, code: CodeBodyTooLarge},
		{name: "oversized update", method: http.MethodPut, body: oversized, status: 413, code: CodeBodyTooLarge},
		{name: "not json", body: `name: x`, contentType: "text/yaml", status: 415, code: CodeUnsupportedMediaType},
	}
	// The group waits for its parallel cases before the checks below.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: tc.body}
				if tc.method == http.MethodPut {
					r.method, r.path = http.MethodPut, "/api/v1/workflows/"+id
				}
				if tc.contentType != "" {
					r.header = map[string]string{"Content-Type": tc.contentType}
				}
				p := e.do(r).problem(t, tc.status, tc.code)
				if tc.locations != nil {
					require.Equal(t, tc.locations, p.locations())
				}
				for _, fp := range p.Errors {
					require.NotEmpty(t, fp.Message)
				}
			})
		}
	})
	// Nothing above changed the workflow.
	r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + id, key: e.key})
	var w workflowResponse
	r.decode(t, &w)
	require.Equal(t, 1, w.Version)
}

func TestWorkflowInvalidListsEveryProblem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := map[string]any{
		"name": "",
		"nodes": []any{
			map[string]any{"name": "start", "type": "trigger.manual"},
			map[string]any{"name": "start", "type": "core.noop"},
			map[string]any{"name": "x", "module": "Not A Module"},
		},
		"connections": []any{
			map[string]any{"from": "start", "to": "nowhere"},
		},
	}
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: bad})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	locs := p.locations()
	require.GreaterOrEqual(t, len(locs), 4, "body: %s", r.body)
	require.Contains(t, locs, "body.name")
	require.Contains(t, locs, "body.nodes[1].name")
	require.Contains(t, locs, "body.nodes[2].module")
	require.Contains(t, locs, "body.connections[0].to")
	golden(t, "workflow_invalid", r.body)

	// A workflow of one trigger needs no connections.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key,
		body: `{"name": "solo", "nodes": [{"name": "start", "type": "trigger.manual"}]}`})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.JSONEq(t, `[]`, string(mustField(t, r, "connections")))

	// Missing name and nodes come from Validate, with the rest.
	p = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: `{}`}).problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Contains(t, p.locations(), "body.name")
	require.Contains(t, p.locations(), "body.nodes")
}

func TestWorkflowSuccessGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: sampleWorkflow("enrich-orders")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	golden(t, "workflow_created", r.body)
}

func TestWorkflowTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	idA := e.createWorkflow(e.key, "tenant-a")
	_, keyB := e.newTenant("tenant-b")
	idB := e.createWorkflow(keyB, "tenant-b")

	base := "/api/v1/workflows/" + idA
	for _, r := range []req{
		{method: http.MethodGet, path: base},
		{method: http.MethodPut, path: base, body: sampleWorkflow("stolen")},
		{method: http.MethodPut, path: base, body: sampleWorkflow("stolen"), header: map[string]string{"If-Match": `"1"`}},
		{method: http.MethodDelete, path: base},
		{method: http.MethodGet, path: base + "/versions"},
		{method: http.MethodGet, path: base + "/versions/1"},
	} {
		r.key = keyB
		e.do(r).problem(t, http.StatusNotFound, CodeNotFound)
	}

	// B's list holds only B's workflow.
	var page Page[workflowResponse]
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: keyB}).decode(t, &page)
	require.Len(t, page.Items, 1)
	require.Equal(t, idB, page.Items[0].ID)

	// A's workflow is untouched.
	r := e.do(req{method: http.MethodGet, path: base, key: e.key})
	require.Equal(t, http.StatusOK, r.status)
	var w workflowResponse
	r.decode(t, &w)
	require.Equal(t, "tenant-a", w.Name)
	require.Equal(t, 1, w.Version)
	var versions Page[workflowVersionResponse]
	e.do(req{method: http.MethodGet, path: base + "/versions", key: e.key}).decode(t, &versions)
	require.Len(t, versions.Items, 1)
}

func TestWorkflowRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createWorkflow(e.key, "roles")
	cases := []struct {
		role        string
		read, write bool
	}{
		{auth.RoleViewer, true, false},
		{auth.RoleRunner, true, false},
		{auth.RoleEditor, true, true},
		{auth.RoleAdmin, true, true},
		{auth.RoleOwner, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.role, func(t *testing.T) {
			t.Parallel()
			key, _ := e.newKey(e.tenantID, tc.role, nil)
			for _, r := range []req{
				{method: http.MethodGet, path: "/api/v1/workflows"},
				{method: http.MethodGet, path: "/api/v1/workflows/" + id},
				{method: http.MethodGet, path: "/api/v1/workflows/" + id + "/versions"},
				{method: http.MethodGet, path: "/api/v1/workflows/" + id + "/versions/1"},
			} {
				r.key = key
				require.Equal(t, http.StatusOK, e.do(r).status, "%s %s", tc.role, r.path)
			}
			writes := []req{
				{method: http.MethodPost, path: "/api/v1/workflows", body: sampleWorkflow("by-" + tc.role)},
				{method: http.MethodPut, path: "/api/v1/workflows/" + id, body: sampleWorkflow("roles")},
			}
			for _, r := range writes {
				r.key = key
				resp := e.do(r)
				if tc.write {
					require.Less(t, resp.status, 300, "%s %s %s: %s", tc.role, r.method, r.path, resp.body)
					continue
				}
				p := resp.problem(t, http.StatusForbidden, CodeForbidden)
				require.Contains(t, p.Detail, "editor")
			}
		})
	}
}

// mustField returns one top-level field of a JSON body, raw.
func mustField(t *testing.T, r *response, name string) []byte {
	t.Helper()
	m := map[string]json.RawMessage{}
	r.decode(t, &m)
	v, ok := m[name]
	require.True(t, ok, "no %q in %s", name, r.body)
	return v
}

// createTriggerOnly stores a workflow of one manual trigger (no module to
// resolve) and returns its id.
func (e *env) createTriggerOnly(key, name string) string {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: key, body: map[string]any{
		"name": name, "nodes": []any{map[string]any{"name": "start", "type": "trigger.manual"}},
	}})
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
	var w workflowResponse
	r.decode(e.t, &w)
	return w.ID
}

// uploadModule uploads wasmPath (a registry fixture) as acme/guest at
// version through the API with key, the manifest changed by kv, and returns
// the stored digest.
func (e *env) uploadModule(key, wasmPath, version string, kv ...any) string {
	e.t.Helper()
	r := e.upload(key, moduleParts(e.t, filepath.Join(fixturesDir, wasmPath), testManifest(e.t, append([]any{"version", version}, kv...)...))...)
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
	var v nodeVersionResponse
	r.decode(e.t, &v)
	return v.Digest
}

// moduleWorkflow is a valid workflow named name: a manual trigger into one
// node, "guest", of module ref.
func moduleWorkflow(name, ref string) map[string]any {
	return map[string]any{
		"name": name,
		"nodes": []any{
			map[string]any{"name": "start", "type": "trigger.manual"},
			map[string]any{"name": "guest", "module": ref},
		},
		"connections": []any{map[string]any{"from": "start", "to": "guest"}},
	}
}

// lockOf returns the lock of the node named name, failing when there is none.
func lockOf(t testing.TB, nodes []workflow.Node, name string) workflow.Lock {
	t.Helper()
	for _, n := range nodes {
		if n.Name == name {
			require.NotNil(t, n.Lock, "node %q has no lock", name)
			return *n.Lock
		}
	}
	require.Failf(t, "no node", "no node %q", name)
	return workflow.Lock{}
}

// Saving a workflow locks each module node to the version and digest its
// reference resolves to, and every read shows the lock.
func TestWorkflowLocksModules(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	v100 := e.uploadModule(e.key, "guest.wasm", "1.0.0")
	v120 := e.uploadModule(e.key, "bigmem.wasm", "1.2.0")
	e.uploadModule(e.key, "guest.wasm", "2.0.0-beta.1") // a pre-release: never picked unasked
	require.NotEqual(t, v100, v120)

	for _, tc := range []struct {
		ref     string
		lock    workflow.Lock
		comment string
	}{
		{"acme/guest@^1", workflow.Lock{Version: "1.2.0", Digest: v120}, "a range: the newest version it admits"},
		{"acme/guest@1.0.0", workflow.Lock{Version: "1.0.0", Digest: v100}, "an exact version"},
		{"acme/guest", workflow.Lock{Version: "1.2.0", Digest: v120}, "no range: the newest release"},
		{"acme/guest@~1.0", workflow.Lock{Version: "1.0.0", Digest: v100}, "another range"},
	} {
		r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: moduleWorkflow("locked", tc.ref)})
		require.Equal(t, http.StatusCreated, r.status, "%s: %s", tc.ref, r.body)
		var created workflowResponse
		r.decode(t, &created)
		require.Equal(t, tc.lock, lockOf(t, created.Nodes, "guest"), tc.comment)
		require.Nil(t, created.Nodes[0].Lock, "a core node has no lock")
		require.Equal(t, tc.ref, created.Nodes[1].Module, "the reference is kept as written")

		// Every read of the workflow and of its version shows the same lock.
		base := "/api/v1/workflows/" + created.ID
		var got workflowResponse
		e.do(req{method: http.MethodGet, path: base, key: e.key}).decode(t, &got)
		require.Equal(t, tc.lock, lockOf(t, got.Nodes, "guest"), tc.ref)
		var v1 workflowVersionResponse
		e.do(req{method: http.MethodGet, path: base + "/versions/1", key: e.key}).decode(t, &v1)
		require.Equal(t, tc.lock, lockOf(t, v1.Definition.Nodes, "guest"), tc.ref)
		var versions Page[workflowVersionResponse]
		e.do(req{method: http.MethodGet, path: base + "/versions", key: e.key}).decode(t, &versions)
		require.Len(t, versions.Items, 1)
		require.Equal(t, tc.lock, lockOf(t, versions.Items[0].Definition.Nodes, "guest"), tc.ref)
	}

	// On the wire: "lock": {"version", "digest"}.
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: moduleWorkflow("wire", "acme/guest@^1")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var raw struct {
		Nodes []map[string]json.RawMessage `json:"nodes"`
	}
	r.decode(t, &raw)
	require.NotContains(t, raw.Nodes[0], "lock")
	require.JSONEq(t, `{"version": "1.2.0", "digest": "`+v120+`"}`, string(raw.Nodes[1]["lock"]))

	// A lock the client sends is ignored: the server's replaces it, on
	// create and on update, and a core node keeps none.
	bogus := moduleWorkflow("bogus", "acme/guest@1.0.0")
	nodes := bogus["nodes"].([]any)
	nodes[0].(map[string]any)["lock"] = map[string]any{"version": "6.6.6", "digest": "sha256:evil"}
	nodes[1].(map[string]any)["lock"] = map[string]any{"version": "1.2.0", "digest": "sha256:" + strings.Repeat("0", 64)}
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: bogus})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var created workflowResponse
	r.decode(t, &created)
	require.Nil(t, created.Nodes[0].Lock)
	require.Equal(t, workflow.Lock{Version: "1.0.0", Digest: v100}, lockOf(t, created.Nodes, "guest"))
	r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + created.ID, key: e.key, body: bogus})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var updated workflowResponse
	r.decode(t, &updated)
	require.Nil(t, updated.Nodes[0].Lock)
	require.Equal(t, workflow.Lock{Version: "1.0.0", Digest: v100}, lockOf(t, updated.Nodes, "guest"))

	// Several module nodes: each gets its own reference's lock.
	two := moduleWorkflow("two", "acme/guest@1.0.0")
	two["nodes"] = append(two["nodes"].([]any), map[string]any{"name": "newest", "module": "acme/guest"})
	two["connections"] = append(two["connections"].([]any), map[string]any{"from": "guest", "to": "newest"})
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: two})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	r.decode(t, &created)
	require.Equal(t, workflow.Lock{Version: "1.0.0", Digest: v100}, lockOf(t, created.Nodes, "guest"))
	require.Equal(t, workflow.Lock{Version: "1.2.0", Digest: v120}, lockOf(t, created.Nodes, "newest"))
}

// Each saved version keeps the lock it was saved with: a newer upload that
// the reference admits changes only the versions saved after it.
func TestWorkflowLockIsPerVersion(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	e.uploadModule(e.key, "guest.wasm", "1.0.0")
	v120 := e.uploadModule(e.key, "bigmem.wasm", "1.2.0")
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: moduleWorkflow("pinned", "acme/guest@^1")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var created workflowResponse
	r.decode(t, &created)
	lock120 := workflow.Lock{Version: "1.2.0", Digest: v120}
	require.Equal(t, lock120, lockOf(t, created.Nodes, "guest"))

	v130 := e.uploadModule(e.key, "guest.wasm", "1.3.0")
	lock130 := workflow.Lock{Version: "1.3.0", Digest: v130}
	base := "/api/v1/workflows/" + created.ID

	// Version 1, read now, still runs 1.2.0.
	var got workflowResponse
	e.do(req{method: http.MethodGet, path: base, key: e.key}).decode(t, &got)
	require.Equal(t, 1, got.Version)
	require.Equal(t, lock120, lockOf(t, got.Nodes, "guest"))
	var v1 workflowVersionResponse
	e.do(req{method: http.MethodGet, path: base + "/versions/1", key: e.key}).decode(t, &v1)
	require.Equal(t, lock120, lockOf(t, v1.Definition.Nodes, "guest"))

	// Saving again resolves again: version 2 locks 1.3.0.
	r = e.do(req{method: http.MethodPut, path: base, key: e.key, body: moduleWorkflow("pinned", "acme/guest@^1")})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var updated workflowResponse
	r.decode(t, &updated)
	require.Equal(t, 2, updated.Version)
	require.Equal(t, lock130, lockOf(t, updated.Nodes, "guest"))

	var versions Page[workflowVersionResponse]
	e.do(req{method: http.MethodGet, path: base + "/versions", key: e.key}).decode(t, &versions)
	require.Len(t, versions.Items, 2)
	require.Equal(t, 2, versions.Items[0].Version)
	require.Equal(t, lock130, lockOf(t, versions.Items[0].Definition.Nodes, "guest"))
	require.Equal(t, 1, versions.Items[1].Version)
	require.Equal(t, lock120, lockOf(t, versions.Items[1].Definition.Nodes, "guest"))
	e.do(req{method: http.MethodGet, path: base + "/versions/1", key: e.key}).decode(t, &v1)
	require.Equal(t, lock120, lockOf(t, v1.Definition.Nodes, "guest"))
}

// A reference that resolves to nothing is a problem at its node's module,
// saying what versions there are, listed with every other problem.
func TestWorkflowUnresolvedModules(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	e.uploadModule(e.key, "guest.wasm", "1.0.0")
	e.uploadModule(e.key, "bigmem.wasm", "1.2.0")
	id := e.createTriggerOnly(e.key, "target")

	for _, tc := range []struct{ ref, message string }{
		{"acme/missing", "no module acme/missing"},
		{"acme/missing@^1", "no module acme/missing"},
		{"acme/guest@^2", `no version matches "^2"; versions: 1.2.0, 1.0.0`},
		{"acme/guest@9.9.9", "acme/guest has no version 9.9.9; versions: 1.2.0, 1.0.0"},
		{"acme/guest@^1.0.0.0", "is not a version or version range"}, // past Validate's pattern, refused by the registry
	} {
		for _, method := range []string{http.MethodPost, http.MethodPut} {
			path := "/api/v1/workflows"
			if method == http.MethodPut {
				path += "/" + id
			}
			r := e.do(req{method: method, path: path, key: e.key, body: moduleWorkflow("unresolved", tc.ref)})
			p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
			require.Equal(t, []string{"body.nodes[1].module"}, p.locations(), "%s %s: %s", method, tc.ref, r.body)
			require.Contains(t, p.Errors[0].Message, tc.message, tc.ref)
			require.NotContains(t, p.Errors[0].Message, "store:", tc.ref)
		}
	}

	// Several: every one listed, in document order, with the rest of what
	// is wrong (a blank name, an unknown port of a resolved module, a
	// connection to nowhere) in the same answer.
	bad := map[string]any{
		"name": "",
		"nodes": []any{
			map[string]any{"name": "start", "type": "trigger.manual"},
			map[string]any{"name": "a", "module": "acme/nope@^1"},
			map[string]any{"name": "b", "module": "acme/guest@^1", "timeout_ms": -1},
			map[string]any{"name": "c", "module": "acme/guest@^3"},
			map[string]any{"name": "d", "module": "acme/nope@^1"}, // the same reference again
			map[string]any{"name": "e", "module": "Not A Module"}, // Validate's problem, said once
		},
		"connections": []any{
			map[string]any{"from": "start", "to": "a"},
			map[string]any{"from": "start", "to": "b", "to_port": "side"},
			map[string]any{"from": "b", "to": "nowhere"},
		},
	}
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: bad})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{
		"body.name",
		"body.nodes[1].module",
		"body.nodes[2].timeout_ms",
		"body.nodes[3].module",
		"body.nodes[4].module",
		"body.nodes[5].module",
		"body.connections[1].to_port",
		"body.connections[2].to",
	}, p.locations(), "body: %s", r.body)
	require.Equal(t, "no module acme/nope", p.Errors[1].Message)
	require.Equal(t, `no version matches "^3"; versions: 1.2.0, 1.0.0`, p.Errors[3].Message)
	require.Equal(t, "no module acme/nope", p.Errors[4].Message)
	require.Contains(t, p.Errors[5].Message, "is not a module name")
	require.Contains(t, p.Errors[6].Message, `node "b" has no input port "side"`)
	require.Equal(t, "8 problem(s) in the workflow", p.Detail)

	// Nothing above changed the workflow.
	var w workflowResponse
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + id, key: e.key}).decode(t, &w)
	require.Equal(t, 1, w.Version)
}

// Connections to ports a module's manifest does not declare are refused;
// declared ones are fine.
func TestWorkflowModulePorts(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	e.uploadModule(e.key, "guest.wasm", "1.0.0", "inputs", []string{"main", "extra"}, "outputs", []string{"ok", "failed"})
	e.uploadModule(e.key, "guest.wasm", "2.0.0") // main in, main out

	def := func(ref string, conns ...map[string]any) map[string]any {
		w := moduleWorkflow("ports", ref)
		w["nodes"] = append(w["nodes"].([]any), map[string]any{"name": "after", "type": "core.noop"})
		w["connections"] = []any{}
		for _, c := range conns {
			w["connections"] = append(w["connections"].([]any), c)
		}
		return w
	}

	// Declared ports: fine.
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: def("acme/guest@1.0.0",
		map[string]any{"from": "start", "to": "guest", "to_port": "extra"},
		map[string]any{"from": "guest", "from_port": "failed", "to": "after"})})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	// Undeclared ones, and main where the module declares other ports.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: def("acme/guest@1.0.0",
		map[string]any{"from": "start", "to": "guest", "to_port": "side"},
		map[string]any{"from": "guest", "to": "after"},
		map[string]any{"from": "guest", "from_port": "ok", "to": "after"})})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.connections[0].to_port", "body.connections[1].from_port"}, p.locations(), "body: %s", r.body)
	require.Equal(t, `node "guest" has no input port "side" (it has main, extra)`, p.Errors[0].Message)
	require.Equal(t, `node "guest" has no output port "main" (it has ok, failed)`, p.Errors[1].Message)

	// The ports are those of the version the reference resolves to.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: def("acme/guest",
		map[string]any{"from": "start", "to": "guest"},
		map[string]any{"from": "guest", "from_port": "failed", "to": "after"})})
	p = r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.connections[1].from_port"}, p.locations(), "body: %s", r.body)
	require.Equal(t, `node "guest" has no output port "failed" (it has main)`, p.Errors[0].Message)

	// And on update.
	id := e.createTriggerOnly(e.key, "ports")
	r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + id, key: e.key, body: def("acme/guest@1.0.0",
		map[string]any{"from": "start", "to": "guest", "to_port": "side"})})
	p = r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.connections[0].to_port"}, p.locations(), "body: %s", r.body)
}

// References resolve among the saving tenant's modules only.
func TestWorkflowModulesTenantScoped(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	digest := e.uploadModule(e.key, "guest.wasm", "1.0.0")
	_, keyB := e.newTenant("globex")

	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: keyB, body: moduleWorkflow("borrowed", "acme/guest@^1")})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.nodes[1].module"}, p.locations())
	require.Equal(t, "no module acme/guest", p.Errors[0].Message, "nothing of the other tenant's versions shows")

	// B's own workflow cannot take it up on update either.
	own := e.createTriggerOnly(keyB, "own")
	r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + own, key: keyB, body: moduleWorkflow("own", "acme/guest@1.0.0")})
	p = r.problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)
	require.Equal(t, []string{"body.nodes[1].module"}, p.locations())

	// Once B has its own acme/guest, B's workflows lock B's.
	digestB := e.uploadModule(keyB, "bigmem.wasm", "1.0.0")
	require.NotEqual(t, digest, digestB)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: keyB, body: moduleWorkflow("borrowed", "acme/guest@^1")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var w workflowResponse
	r.decode(t, &w)
	require.Equal(t, workflow.Lock{Version: "1.0.0", Digest: digestB}, lockOf(t, w.Nodes, "guest"))

	// A's resolves to A's.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: moduleWorkflow("own", "acme/guest@^1")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	r.decode(t, &w)
	require.Equal(t, workflow.Lock{Version: "1.0.0", Digest: digest}, lockOf(t, w.Nodes, "guest"))
}
