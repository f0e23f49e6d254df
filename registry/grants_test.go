package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// secretMap is a SecretReader over tenant → name → value.
type secretMap map[string]map[string]string

func (m secretMap) ReadSecret(_ context.Context, tenantID, name string) (string, error) {
	v, ok := m[tenantID][name]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

// auditLog records entries, failing while fail is set.
type auditLog struct {
	mu      sync.Mutex
	fail    bool
	entries []*store.AuditEntry
}

func (a *auditLog) AuditInsert(_ context.Context, tenantID string, e *store.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit store down")
	}
	e.TenantID = tenantID
	a.entries = append(a.entries, e)
	return nil
}

func (a *auditLog) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.entries {
		out = append(out, e.Action+" "+e.Resource)
	}
	return out
}

// grantModule is a module declaring caps, for sessions that never run it.
func grantModule(caps workflow.Capabilities) *registry.Module {
	return &registry.Module{
		Version:  &store.ModuleVersion{Name: "acme/probe", Version: "1.0.0"},
		Manifest: &workflow.Manifest{Name: "acme/probe", Version: "1.0.0", Capabilities: caps},
	}
}

func funcNamed(t *testing.T, s *registry.HostSession, name string) hostfuncs.Func {
	t.Helper()
	for _, f := range s.Funcs() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no host function %s in %v", name, s.Funcs())
	return hostfuncs.Func{}
}

func newGrantRegistry(t testing.TB, secrets registry.SecretReader, audit registry.AuditLog, maxCalls int) *registry.Registry {
	t.Helper()
	e := newEnv(t)
	reg, err := registry.New(registry.Config{Store: e.store, Runtime: e.rt, Secrets: secrets, Audit: audit, MaxHostCalls: maxCalls,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	require.NoError(t, err)
	return reg
}

// TestHostSessionFuncs: a run gets exactly the functions its grant allows.
func TestHostSessionFuncs(t *testing.T) {
	t.Parallel()
	reg := newGrantRegistry(t, nil, nil, 0)
	names := func(caps workflow.Capabilities) []string {
		var out []string
		for _, f := range reg.HostSession(t.Context(), registry.RunGrant{Module: grantModule(caps)}).Funcs() {
			out = append(out, f.Name)
		}
		return out
	}
	require.Empty(t, names(workflow.Capabilities{}))
	require.Equal(t, []string{hostfuncs.HTTPFetchName}, names(workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"*"}}}))
	require.Equal(t, []string{hostfuncs.SecretGetName}, names(workflow.Capabilities{Secrets: []string{"token"}}))
	require.Len(t, names(workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"a.test"}}, Secrets: []string{"token"}}), 2)
}

// TestHostSessionSecrets: reads go through declaration and binding, are
// recorded and audited; a read whose audit fails is refused; a server
// without a secret reader refuses every read.
func TestHostSessionSecrets(t *testing.T) {
	t.Parallel()
	audit := &auditLog{}
	reg := newGrantRegistry(t, secretMap{"t1": {"slack-prod": "v1"}, "t2": {"b-secret": "v2"}}, audit, 0)
	sess := reg.HostSession(t.Context(), registry.RunGrant{
		TenantID: "t1", Module: grantModule(workflow.Capabilities{Secrets: []string{"token", "other", "b"}}),
		Node: "post", Bindings: map[string]string{"token": "slack-prod", "b": "b-secret"}, Actor: "node_run:nr_1",
		Detail: map[string]any{"execution_id": "ex_1"},
	})
	get := funcNamed(t, sess, hostfuncs.SecretGetName)

	out, err := get.Call(t.Context(), []byte("token"))
	require.NoError(t, err)
	require.Equal(t, "v1", string(out))
	for _, tc := range [][2]string{
		{"admin", "module acme/probe@1.0.0 does not declare it"},
		{"other", `node "post" does not bind it`},
		{"b", `node "post" binds it to secret "b-secret", which the tenant does not have`},
	} {
		name, reason := tc[0], tc[1]
		_, err := get.Call(t.Context(), []byte(name))
		require.ErrorIs(t, err, hostfuncs.ErrSecretNotGranted, name)
		require.ErrorContains(t, err, reason, name)
	}
	calls := sess.Calls()
	require.Len(t, calls, 4)
	require.Equal(t, registry.HostCall{Kind: "secret_read", At: calls[0].At, Name: "token", Secret: "slack-prod", Via: "secret_get"}, calls[0])
	require.Equal(t, []string{"secret.read slack-prod", "secret.read_refused admin", "secret.read_refused other", "secret.read_refused b-secret"}, audit.actions())
	require.Equal(t, "node_run:nr_1", audit.entries[0].Actor)
	require.JSONEq(t, `{"name": "token", "secret": "slack-prod", "via": "secret_get", "module": "acme/probe@1.0.0", "node": "post", "execution_id": "ex_1"}`,
		string(audit.entries[0].Detail))
	var recorded []registry.HostCall
	require.NoError(t, json.Unmarshal(sess.CallsJSON(), &recorded))
	require.Len(t, recorded, 4)

	// The value is handed over only once its read is audited.
	audit.fail = true
	_, err = get.Call(t.Context(), []byte("token"))
	require.ErrorContains(t, err, "audit")
	require.NotErrorIs(t, err, hostfuncs.ErrSecretNotGranted)

	// No reader: nothing to read.
	none := newGrantRegistry(t, nil, nil, 0).HostSession(t.Context(), registry.RunGrant{
		TenantID: "t1", Module: grantModule(workflow.Capabilities{Secrets: []string{"token"}}), Bindings: map[string]string{"token": "slack-prod"},
	})
	_, err = funcNamed(t, none, hostfuncs.SecretGetName).Call(t.Context(), []byte("token"))
	require.ErrorContains(t, err, "keeps no secrets")
	require.NotNil(t, none.CallsJSON(), "the refusal is recorded")
}

// TestHostSessionHTTP: a request through the session is recorded and
// audited without headers or bodies; a {{secret:NAME}} header reads through
// the same rules.
func TestHostSessionHTTP(t *testing.T) {
	t.Parallel()
	audit := &auditLog{}
	reg := newGrantRegistry(t, secretMap{"t1": {"slack-prod": "v1"}}, audit, 0)
	sess := reg.HostSession(t.Context(), registry.RunGrant{
		TenantID: "t1", Node: "post", Bindings: map[string]string{"token": "slack-prod"}, Actor: "node_run:nr_2",
		Module: grantModule(workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"*"}}, Secrets: []string{"token"}}),
	})
	fetch := funcNamed(t, sess, hostfuncs.HTTPFetchName)
	out, err := fetch.Call(t.Context(), []byte(`{"url": "http://127.0.0.1:1/", "headers": {"Authorization": "Bearer {{secret:token}}"}}`))
	require.NoError(t, err)
	require.Contains(t, string(out), hostfuncs.HTTPCodeSSRFBlocked)
	out, err = fetch.Call(t.Context(), []byte(`{"url": "http://10.1.2.3/", "headers": {"X": "{{secret:nope}}"}}`))
	require.NoError(t, err)
	require.Contains(t, string(out), hostfuncs.HTTPCodeSSRFBlocked, "the address is checked before any secret is read")

	calls := sess.Calls()
	require.Len(t, calls, 2)
	require.Equal(t, "http_request", calls[0].Kind)
	require.Equal(t, "GET", calls[0].Method)
	require.Equal(t, "127.0.0.1", calls[0].Host)
	require.Equal(t, hostfuncs.HTTPCodeSSRFBlocked, calls[0].Error)
	require.Equal(t, []string{"http.request 127.0.0.1", "http.request 10.1.2.3"}, audit.actions())
	require.NotContains(t, string(audit.entries[0].Detail), "Bearer")
}

// TestHostSessionCallCap: calls over the cap fail the run, refused ones
// included.
func TestHostSessionCallCap(t *testing.T) {
	t.Parallel()
	audit := &auditLog{}
	reg := newGrantRegistry(t, secretMap{}, audit, 3)
	sess := reg.HostSession(t.Context(), registry.RunGrant{TenantID: "t1", Module: grantModule(workflow.Capabilities{Secrets: []string{"token"}})})
	get := funcNamed(t, sess, hostfuncs.SecretGetName)
	for range 3 {
		_, err := get.Call(t.Context(), []byte("token"))
		require.ErrorIs(t, err, hostfuncs.ErrSecretNotGranted)
	}
	_, err := get.Call(t.Context(), []byte("token"))
	require.EqualError(t, err, "more than 3 host function calls in one run")
	require.Len(t, sess.Calls(), 3)
	require.Len(t, audit.actions(), 3)
}

// TestRedact: every value read is replaced inside JSON strings, keys
// included, escaped or not, longest first; numbers and structure stay.
func TestRedact(t *testing.T) {
	t.Parallel()
	values := secretMap{"t1": {"short": "ab", "long": "ab\"cd\n", "num": "42"}}
	reg := newGrantRegistry(t, values, nil, 0)
	sess := reg.HostSession(t.Context(), registry.RunGrant{
		TenantID: "t1", Module: grantModule(workflow.Capabilities{Secrets: []string{"s", "l", "n"}}),
		Bindings: map[string]string{"s": "short", "l": "long", "n": "num"},
	})
	same := json.RawMessage(`{"items": [{"x": "nothing to see"}]}`)
	require.Equal(t, string(same), string(sess.Redact(same)), "before any read, nothing changes")

	get := funcNamed(t, sess, hostfuncs.SecretGetName)
	for _, n := range []string{"s", "l", "n"} {
		_, err := get.Call(t.Context(), []byte(n))
		require.NoError(t, err)
	}
	require.Equal(t, string(same), string(sess.Redact(same)), "a document without values comes back as it is")
	doc := json.RawMessage(`{"items": [{"v": "ab\"cd\n-ab", "ab": 42, "n": "x42", "html": "<&>"}], "count": 42}`)
	require.JSONEq(t, `{"items": [{"v": "[redacted:long]-[redacted:short]", "[redacted:short]": 42, "n": "x[redacted:num]", "html": "<&>"}], "count": 42}`,
		string(sess.Redact(doc)))
	require.True(t, strings.Contains(string(sess.Redact(doc)), "<&>"), "no HTML escaping")
	require.Equal(t, "[redacted:long]", strings.Trim(string(sess.Redact(json.RawMessage(`"ab\"cd\n"`))), `"`))
	require.Empty(t, sess.Redact(nil))
}
