package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// auditPage lists the audit log with query q and returns the page.
func (e *env) auditPage(key, q string) Page[auditEntryResponse] {
	e.t.Helper()
	r := e.do(req{method: http.MethodGet, path: "/api/v1/audit?" + q, key: key})
	require.Equal(e.t, http.StatusOK, r.status, "body: %s", r.body)
	var p Page[auditEntryResponse]
	r.decode(e.t, &p)
	return p
}

func auditIDs(p Page[auditEntryResponse]) []string {
	out := make([]string, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.ID
	}
	return out
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	e, _ := newSecretsEnv(t)
	ctx := context.Background()

	// Entries the API writes: their actor is the key that acted.
	wf := e.createWorkflow(e.key, "audited")
	r := e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "tok", "value": "v"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	p := e.auditPage(e.key, "")
	require.Len(t, p.Items, 2)
	require.Empty(t, p.NextCursor)
	require.Equal(t, "secret.create", p.Items[0].Action) // newest first
	require.Equal(t, "tok", p.Items[0].Resource)
	require.Equal(t, "workflow.create", p.Items[1].Action)
	require.Equal(t, wf, p.Items[1].Resource)
	require.JSONEq(t, `{"name": "audited", "version": 1}`, string(p.Items[1].Detail))
	require.Regexp(t, `^api_key:ak_`, p.Items[0].Actor)
	require.Equal(t, p.Items[0].Actor, p.Items[1].Actor)
	// The entry shape is the contract.
	var raw struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal(e.do(req{method: http.MethodGet, path: "/api/v1/audit", key: e.key}).body, &raw))
	for _, it := range raw.Items {
		require.ElementsMatch(t, []string{"id", "actor", "action", "resource", "detail", "created_at"}, keysOf(it))
	}
	require.Contains(t, string(raw.Items[0]["detail"]), `"key_id"`)

	// Entries at known times, for the filters.
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ins := func(actor, action, resource string, sec int) string {
		en := &store.AuditEntry{Actor: actor, Action: action, Resource: resource, CreatedAt: base.Add(time.Duration(sec) * time.Second)}
		require.NoError(t, e.store.AuditInsert(ctx, e.tenantID, en))
		return en.ID
	}
	a0 := ins("user:u1", "secret.read", "tok", 0)
	a1 := ins("node_run:nr_1", "secret.read_refused", "other", 1)
	a2 := ins("user:u1", "workflow.update", "wf_x", 2)
	a3 := ins("system", "secrets.rotate", "tok", 3)
	a4 := ins("user:u2", "secret.delete", "tok", 4)
	// Another tenant's entries never show.
	other, _ := e.newTenant("other")
	require.NoError(t, e.store.AuditInsert(ctx, other, &store.AuditEntry{Actor: "user:u1", Action: "secret.read", Resource: "tok", CreatedAt: base}))

	at := func(sec int) string {
		return url.QueryEscape(base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339))
	}
	until := "until=" + at(5)
	for q, want := range map[string][]string{
		until:                                       {a4, a3, a2, a1, a0},
		until + "&actor=user:u1":                    {a2, a0},
		until + "&action=secret.read":               {a0},
		until + "&action=secret.":                   {a4, a1, a0}, // a prefix: not secrets.rotate
		until + "&action=secret":                    {},           // exact
		until + "&resource=tok":                     {a4, a3, a0},
		until + "&resource=tok&action=secret.":      {a4, a0},
		"since=" + at(1) + "&until=" + at(4):        {a3, a2, a1},
		"since=" + at(3) + "&" + until + "&actor=x": {},
		"since=" + url.QueryEscape("2026-03-01T13:00:03+01:00") + "&" + until: {a4, a3},
	} {
		got := auditIDs(e.auditPage(e.key, q))
		if len(want) == 0 {
			require.Empty(t, got, q)
			continue
		}
		require.Equal(t, want, got, q)
	}

	// Pages follow the cursor, with the filters.
	var got []string
	cursor := ""
	for range 5 {
		p := e.auditPage(e.key, until+"&limit=2&cursor="+cursor)
		got = append(got, auditIDs(p)...)
		cursor = p.NextCursor
		if cursor == "" {
			break
		}
	}
	require.Equal(t, []string{a4, a3, a2, a1, a0}, got)

	// Bad filters: 422 naming the parameter.
	for q, loc := range map[string]string{
		"since=yesterday":                      "query.since",
		"until=2026-03-01":                     "query.until",
		"since=" + at(3) + "&until=" + at(3):   "query.until",
		"action=Secret.Read":                   "query.action",
		"action=secret..read":                  "query.action",
		"action=" + strings.Repeat("a", 129):   "query.action",
		"actor=" + strings.Repeat("a", 129):    "query.actor",
		"resource=" + strings.Repeat("a", 257): "query.resource",
		"limit=0":                              "query.limit",
	} {
		pr := e.do(req{method: http.MethodGet, path: "/api/v1/audit?" + q, key: e.key}).problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
		require.Equal(t, []string{loc}, pr.locations(), q)
	}
	pr := e.do(req{method: http.MethodGet, path: "/api/v1/audit?cursor=nope", key: e.key}).problem(t, http.StatusBadRequest, CodeInvalidCursor)
	require.Equal(t, []string{"query.cursor"}, pr.locations())
}

// The audit log is for admins and owners: it shows what every key did.
func TestAuditListRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for role, status := range map[string]int{
		auth.RoleOwner: http.StatusOK, auth.RoleAdmin: http.StatusOK,
		auth.RoleEditor: http.StatusForbidden, auth.RoleRunner: http.StatusForbidden, auth.RoleViewer: http.StatusForbidden,
	} {
		key, _ := e.newKey(e.tenantID, role, nil)
		r := e.do(req{method: http.MethodGet, path: "/api/v1/audit", key: key})
		require.Equal(t, status, r.status, "%s: %s", role, r.body)
	}
	e.do(req{method: http.MethodGet, path: "/api/v1/audit"}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
