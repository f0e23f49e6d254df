package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
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
