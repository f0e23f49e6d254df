package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
)

// roles, from the most to the least powerful.
var roles = []string{auth.RoleOwner, auth.RoleAdmin, auth.RoleEditor, auth.RoleRunner, auth.RoleViewer}

// public marks an operation that needs no credentials.
const public = ""

// routeCase is one operation of the API: the least role it needs and a
// request that succeeds for any caller holding that role. request builds
// the request with the ids of resources it creates in the fixture's tenant
// (with the fixture's owner key), so that what is tested is authorization,
// not a 404; a request that deletes or changes something gets fresh
// resources on each call.
type routeCase struct {
	role    string
	request func(f *routeFixture) req
	// ok lists the statuses a permitted caller may get; any 2xx when empty.
	ok []int
	// platform marks an operation on the platform rather than on one
	// tenant's resources (creating tenants): it needs a platform admin key
	// as well as role, so every tenant key without the flag gets 403, and
	// TestCrossTenant does not call it.
	platform bool
	// shared marks an operation that names another tenant's resource on
	// purpose (the marketplace, publishers' public keys): TestCrossTenant
	// expects it to answer and to change nothing.
	shared bool
}

// routeCases has one row per operation of the OpenAPI document, by
// operationId. A new operation fails TestRouteAuthorization until it has a row here.
var routeCases = map[string]routeCase{
	"healthz": {role: public, request: func(*routeFixture) req { return req{method: http.MethodGet, path: "/healthz"} }},
	"readyz":  {role: public, request: func(*routeFixture) req { return req{method: http.MethodGet, path: "/readyz"} }},

	"createWorkflow": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/workflows", body: triggerOnly(f.name("wf"))}
	}},
	"listWorkflows": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/workflows"}
	}},
	"getWorkflow": {role: auth.RoleViewer, request: func(f *routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/workflows/" + f.workflow}
	}},
	"updateWorkflow": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodPut, path: "/api/v1/workflows/" + f.newWorkflow(), body: triggerOnly(f.name("wf"))}
	}},
	"deleteWorkflow": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodDelete, path: "/api/v1/workflows/" + f.newWorkflow()}
	}},
	"listWorkflowVersions": {role: auth.RoleViewer, request: func(f *routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/workflows/" + f.workflow + "/versions"}
	}},
	"getWorkflowVersion": {role: auth.RoleViewer, request: func(f *routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/workflows/" + f.workflow + "/versions/2"}
	}},
	"activateWorkflow": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/workflows/" + f.newHookWorkflow() + "/activate"}
	}},
	"deactivateWorkflow": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/workflows/" + f.newHookWorkflow() + "/deactivate"}
	}},
	"getWorkflowTriggers": {role: auth.RoleViewer, request: func(f *routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/workflows/" + f.newHookWorkflow() + "/triggers"}
	}},

	"uploadNode": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		body, ct := multipartBody(f.e.t, moduleParts(f.e.t, filepath.Join(fixturesDir, "guest.wasm"),
			testManifest(f.e.t, "name", "acme/echo", "version", fmt.Sprintf("1.0.%d", f.seq.Add(1))))...)
		return req{method: http.MethodPost, path: "/api/v1/nodes", body: body, header: map[string]string{"Content-Type": ct}}
	}},
	"listNodes": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/nodes"}
	}},
	"getNode": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/nodes/acme/echo"}
	}},
	"getNodeVersion": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/nodes/acme/echo/versions/1.0.0"}
	}},
	"testNode": {role: auth.RoleRunner, request: func(*routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/nodes/acme/echo/versions/1.0.0/test",
			body: map[string]any{"items": []any{map[string]any{"a": 1}}}}
	}},

	"createSecret": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/secrets", body: map[string]any{"name": f.name("s"), "value": "v"}}
	}},
	"listSecrets": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/secrets"}
	}},
	"updateSecret": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodPut, path: "/api/v1/secrets/" + f.secret, body: map[string]any{"value": "v2"}}
	}},
	"deleteSecret": {role: auth.RoleEditor, request: func(f *routeFixture) req {
		return req{method: http.MethodDelete, path: "/api/v1/secrets/" + f.newSecret()}
	}},

	"createAPIKey": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/api-keys", body: map[string]any{"name": f.name("k"), "role": "viewer"}}
	}},
	"listAPIKeys": {role: auth.RoleAdmin, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/api-keys"}
	}},
	"revokeAPIKey": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodDelete, path: "/api/v1/api-keys/" + f.newAPIKey()}
	}},
	"listMembers": {role: auth.RoleAdmin, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/members"}
	}},
	"addMember": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/members",
			body: map[string]any{"email": f.name("u") + "@example.com", "role": "viewer", "password": "correct horse battery"}}
	}},
	"updateMember": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodPatch, path: "/api/v1/members/" + f.newMember(), body: map[string]any{"role": "runner"}}
	}},
	"removeMember": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodDelete, path: "/api/v1/members/" + f.newMember()}
	}},
	"createTenant": {role: auth.RoleOwner, platform: true, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/tenants", body: map[string]any{"name": f.name("t")}}
	}},
	"createTenantAPIKey": {role: auth.RoleOwner, platform: true, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/tenants/" + f.tenantID + "/api-keys", body: map[string]any{"name": f.name("k"), "role": "viewer"}}
	}},

	"login": {role: public, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/auth/login", body: f.newLogin()}
	}},
	"refreshSession": {role: public, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": f.newSession()}}
	}},
	"logout": {role: public, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/auth/logout", body: map[string]any{"refresh_token": f.newSession()}}
	}},
	"createPublisher": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/publishers", body: map[string]any{"name": f.name("p")}}
	}},
	"listPublishers": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/publishers"}
	}},
	"registerPublisherKey": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		k, err := signing.GenerateKey("acme")
		require.NoError(f.e.t, err)
		return req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys",
			body: map[string]any{"public_key": signing.EncodePublicKey(k.Public()), "proof": k.Prove()}}
	}},
	"listPublisherKeys": {role: public, shared: true, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/publishers/acme/keys"}
	}},
	"revokePublisherKey": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		k := f.e.newKeyOf(f.owner, "acme", nil)
		return req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys/" + k.KeyID + "/revoke"}
	}},
	"getTrustPolicy": {role: auth.RoleAdmin, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/trust-policy"}
	}},
	"putTrustPolicy": {role: auth.RoleAdmin, request: func(*routeFixture) req {
		return req{method: http.MethodPut, path: "/api/v1/trust-policy", body: map[string]any{"minimum_versions": map[string]any{"acme/other": "1.0.0"}}}
	}},
	"publishModule": {role: auth.RoleEditor, request: func(*routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/marketplace/publish", body: map[string]any{"name": "acme/signed", "version": "1.0.0"}}
	}},
	"searchMarketplace": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/marketplace?q=signed"}
	}},
	"getMarketplaceModule": {role: auth.RoleViewer, shared: true, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/marketplace/acme/signed"}
	}},
	"installModule": {role: auth.RoleEditor, request: func(*routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/marketplace/install", body: map[string]any{"name": "acme/signed", "version": "1.0.0"}}
	}},
	"yankModuleVersion": {role: auth.RoleAdmin, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/marketplace/acme/signed/versions/" + f.newPublished() + "/yank",
			body: map[string]any{"reason": "test"}}
	}},

	"listAudit": {role: auth.RoleAdmin, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/audit"}
	}},

	"startExecution": {role: auth.RoleRunner, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/workflows/" + f.workflow + "/executions", body: map[string]any{}}
	}},
	"listExecutions": {role: auth.RoleViewer, request: func(*routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/executions"}
	}},
	"getExecution": {role: auth.RoleViewer, request: func(f *routeFixture) req {
		return req{method: http.MethodGet, path: "/api/v1/executions/" + f.failed}
	}},
	"cancelExecution": {role: auth.RoleRunner, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/executions/" + f.newPendingExecution() + "/cancel"}
	}},
	"retryExecution": {role: auth.RoleRunner, request: func(f *routeFixture) req {
		return req{method: http.MethodPost, path: "/api/v1/executions/" + f.newFailedExecution() + "/retry"}
	}},
}

// routeFixture is a tenant with one of every kind of resource, created
// through the API with its owner key.
type routeFixture struct {
	e        *env
	tenantID string
	owner    string // the tenant's owner key
	seq      atomic.Int64

	workflow string // two versions, a module node and a secret binding
	failed   string // a failed execution of workflow
	secret   string
	// signer is a key of the tenant's publisher acme, which published
	// acme/signed@1.0.0 to the marketplace.
	signer *signing.PrivateKey
}

// newPublished uploads, signs and publishes a new version of acme/signed
// and returns it.
func (f *routeFixture) newPublished() string {
	version := fmt.Sprintf("1.1.%d", f.seq.Add(1))
	r := f.e.upload(f.owner, f.e.signedParts(f.signer, filepath.Join(fixturesDir, "guest.wasm"),
		testManifest(f.e.t, "name", "acme/signed", "version", version))...)
	require.Equal(f.e.t, http.StatusCreated, r.status, "body: %s", r.body)
	r = f.e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/publish", key: f.owner,
		body: map[string]any{"name": "acme/signed", "version": version}})
	require.Equal(f.e.t, http.StatusCreated, r.status, "body: %s", r.body)
	return version
}

func (f *routeFixture) name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, f.seq.Add(1))
}

func secretValue(name string) string { return "plaintext-of-" + name }

func triggerOnly(name string) map[string]any {
	return map[string]any{"name": name, "nodes": []any{map[string]any{"name": "start", "type": "trigger.manual"}}}
}

// newAPIKey creates a viewer key and returns its id.
func (f *routeFixture) newAPIKey() string {
	r := f.e.do(req{method: http.MethodPost, path: "/api/v1/api-keys", key: f.owner, body: map[string]any{"name": f.name("k"), "role": "viewer"}})
	require.Equal(f.e.t, http.StatusCreated, r.status, "body: %s", r.body)
	var k apiKeyResponse
	r.decode(f.e.t, &k)
	return k.ID
}

// newMember adds a viewer member and returns its user id.
func (f *routeFixture) newMember() string {
	r := f.e.do(req{method: http.MethodPost, path: "/api/v1/members", key: f.owner,
		body: map[string]any{"email": f.name("m") + "@example.com", "role": "viewer", "password": "correct horse battery"}})
	require.Equal(f.e.t, http.StatusCreated, r.status, "body: %s", r.body)
	var m memberResponse
	r.decode(f.e.t, &m)
	return m.UserID
}

// newLogin adds a member with a password and returns the body that signs
// it in: a new email each time, so the sign-in limit per email is not hit.
func (f *routeFixture) newLogin() map[string]any {
	email := f.name("login") + "@example.com"
	r := f.e.do(req{method: http.MethodPost, path: "/api/v1/members", key: f.owner,
		body: map[string]any{"email": email, "role": "viewer", "password": "correct horse battery"}})
	require.Equal(f.e.t, http.StatusCreated, r.status, "body: %s", r.body)
	return map[string]any{"email": email, "password": "correct horse battery", "tenant": f.tenantID}
}

// newSession signs a new member in and returns its refresh token.
func (f *routeFixture) newSession() string {
	r := f.e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: f.newLogin()})
	require.Equal(f.e.t, http.StatusOK, r.status, "body: %s", r.body)
	var s sessionResponse
	r.decode(f.e.t, &s)
	require.NotEmpty(f.e.t, s.RefreshToken)
	return s.RefreshToken
}

// newWorkflow creates a trigger-only workflow and returns its id.
func (f *routeFixture) newWorkflow() string {
	return f.e.saveWorkflow(f.owner, triggerOnly(f.name("wf")))
}

// newHookWorkflow creates a workflow with a webhook on a path of its own
// and returns its id.
func (f *routeFixture) newHookWorkflow() string {
	return f.e.saveWorkflow(f.owner, map[string]any{"name": f.name("hook"), "nodes": []any{
		map[string]any{"name": "in", "type": "trigger.webhook", "params": map[string]any{"path": f.name("p")}}}})
}

// newSecret creates a secret whose value is secretValue(name) and returns its name.
func (f *routeFixture) newSecret() string {
	name := f.name("s")
	r := f.e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: f.owner, body: map[string]any{"name": name, "value": secretValue(name)}})
	require.Equal(f.e.t, http.StatusCreated, r.status, "body: %s", r.body)
	return name
}

// newPendingExecution stores an execution of workflow that no worker will
// pick up (its one run is pending, without an outbox entry) and returns its
// id.
func (f *routeFixture) newPendingExecution() string {
	ctx := context.Background()
	ex, _, err := f.e.store.ExecutionInsert(ctx, f.tenantID, &store.ExecutionInsertParams{
		WorkflowID: f.workflow, WorkflowVersion: 2, Trigger: "manual",
		Runs: []*store.NodeRun{{Node: "start"}},
	})
	require.NoError(f.e.t, err)
	return ex.ID
}

// newFailedExecution runs workflow to its failure and returns the execution's id.
func (f *routeFixture) newFailedExecution() string {
	ex := f.e.startExec(f.owner, f.workflow, "wait=60s", items(map[string]any{"raw": "{not json"}), http.StatusOK)
	require.Equal(f.e.t, store.ExecutionFailed, ex.Status)
	return ex.ID
}

// newRouteEnv is a server with every optional part (engine, registry,
// vault), so that every operation exists.
func newRouteEnv(t *testing.T) *env {
	t.Helper()
	kr, err := vault.NewKeyring(vault.GenerateKey())
	require.NoError(t, err)
	reader := &vault.Reader{Keys: kr}
	jwtKeys, err := auth.ParseJWTKeys(auth.NewJWTSeed()) // the /auth routes exist only with keys
	require.NoError(t, err)
	e := newEnvWith(t, envOpts{engine: true, cfg: Config{Vault: kr, JWTKeys: jwtKeys}, registry: &registry.Config{Secrets: reader}})
	reader.Store = e.store // before any request
	e.client.Timeout = 2 * time.Minute
	return e
}

// newRouteFixture fills the tenant of owner with one of every resource.
func newRouteFixture(e *env, tenantID, owner string) *routeFixture {
	t := e.t
	f := &routeFixture{e: e, tenantID: tenantID, owner: owner}
	r := e.upload(owner, moduleParts(t, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t, "name", "acme/echo"))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	f.secret = f.newSecret()
	f.signer = e.newPublisher(owner, "acme")
	r = e.upload(owner, e.signedParts(f.signer, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t, "name", "acme/signed"))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/publish", key: owner, body: map[string]any{"name": "acme/signed", "version": "1.0.0"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	// Version 1 fails every run; version 2 adds a module node.
	f.workflow = e.saveWorkflow(owner, chain("fixture", failingNode()))
	v2 := chain("fixture", failingNode())
	v2["nodes"] = append(v2["nodes"].([]any), map[string]any{"name": "echo", "module": "acme/echo@1.0.0"})
	v2["connections"] = append(v2["connections"].([]any), map[string]any{"from": "start", "to": "echo"})
	r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + f.workflow, key: owner, body: v2})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	f.failed = f.newFailedExecution()
	return f
}

// operation is one operation of the OpenAPI document.
type operation struct {
	id, method, path string
	public           bool
}

// operations reads the server's OpenAPI document.
func (e *env) operations() []operation {
	e.t.Helper()
	r := e.do(req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	require.Equal(e.t, http.StatusOK, r.status)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string                 `json:"operationId"`
			Security    *[]map[string][]string `json:"security"`
		} `json:"paths"`
	}
	r.decode(e.t, &doc)
	var ops []operation
	for path, methods := range doc.Paths {
		for method, op := range methods {
			require.NotEmpty(e.t, op.OperationID, "%s %s has no operationId", method, path)
			ops = append(ops, operation{
				id: op.OperationID, method: strings.ToUpper(method), path: path,
				public: op.Security != nil && len(*op.Security) == 0,
			})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.id, b.id) })
	return ops
}

// matches reports whether r is a request for op.
func (op operation) matches(r req) bool {
	pattern := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(op.path), `[^/]+`) + `(\?.*)?$`
	return r.method == op.method && regexp.MustCompile(pattern).MatchString(r.path)
}

// TestRouteAuthorization walks every operation of the OpenAPI document with a key
// of each role, without credentials and with an unknown key, and checks
// each outcome: success from the operation's least role up, 403 below it,
// 401 without a valid key (public operations answer everyone).
func TestRouteAuthorization(t *testing.T) {
	t.Parallel()
	e := newRouteEnv(t)
	f := newRouteFixture(e, e.tenantID, e.key)
	keys := map[string]string{}
	for _, role := range roles {
		keys[role], _ = e.newKey(e.tenantID, role, nil)
	}
	badKey, _, _ := auth.NewAPIKey() // well formed, never stored

	ops := e.operations()
	documented := map[string]bool{}
	for _, op := range ops {
		documented[op.id] = true
		tc, ok := routeCases[op.id]
		require.True(t, ok, "%s %s (%s) has no row in routeCases: add it to the table", op.method, op.path, op.id)
		require.Equal(t, tc.role == public, op.public, "%s: the table and the document disagree on whether it is public", op.id)
		if !op.public {
			require.True(t, auth.ValidRole(tc.role), "%s: unknown role %q in the table", op.id, tc.role)
		}
	}
	for id := range routeCases {
		require.True(t, documented[id], "routeCases has a row for %s, which the API no longer has: remove it", id)
	}

	for _, op := range ops {
		tc := routeCases[op.id]
		send := func(key string) (req, *response) {
			r := tc.request(f)
			require.True(t, op.matches(r), "%s: the table's request %s %s is not %s %s", op.id, r.method, r.path, op.method, op.path)
			r.key = key
			return r, e.do(r)
		}
		if tc.platform {
			r, resp := send(e.key) // the bootstrap key is a platform admin
			require.True(t, resp.status >= 200 && resp.status < 300, "%s (%s %s) as platform admin: got %d: %s", op.id, r.method, r.path, resp.status, resp.body)
		}
		for _, role := range roles {
			r, resp := send(keys[role])
			what := fmt.Sprintf("%s (%s %s) as %s", op.id, r.method, r.path, role)
			if tc.role == public || (!tc.platform && auth.RoleAtLeast(role, tc.role)) {
				if len(tc.ok) > 0 {
					require.Contains(t, tc.ok, resp.status, "%s: %s", what, resp.body)
				} else {
					require.True(t, resp.status >= 200 && resp.status < 300, "%s: got %d: %s", what, resp.status, resp.body)
				}
				continue
			}
			p := resp.problem(t, http.StatusForbidden, CodeForbidden)
			if !tc.platform {
				require.Contains(t, p.Detail, tc.role, what)
			}
		}
		for name, key := range map[string]string{"no credentials": "", "an unknown key": badKey} {
			r, resp := send(key)
			what := fmt.Sprintf("%s (%s %s) with %s", op.id, r.method, r.path, name)
			if tc.role == public {
				require.True(t, resp.status >= 200 && resp.status < 300, "%s: got %d: %s", what, resp.status, resp.body)
				continue
			}
			resp.problem(t, http.StatusUnauthorized, CodeUnauthenticated)
			require.NotEmpty(t, resp.header.Get("WWW-Authenticate"), what)
		}
	}

	// Outside the document: the document itself and the metrics are public.
	for _, path := range []string{"/api/v1/openapi.json", "/metrics"} {
		r := e.do(req{method: http.MethodGet, path: path})
		require.Equal(t, http.StatusOK, r.status, path)
	}
}

// jsonEq is a decoded copy of a JSON body, for comparing states.
func jsonOf(t testing.TB, r *response) any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var v any
	require.NoError(t, json.Unmarshal(r.body, &v))
	return v
}
