package api

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/registry"
)

// newHookEnv is an env with an engine, a vault for the webhooks' secrets,
// a public URL, and the hash example installed.
func newHookEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	kr, err := vault.NewKeyring(vault.GenerateKey())
	require.NoError(t, err)
	reader := &vault.Reader{Keys: kr}
	cfg.Vault = kr
	e := newEnvWith(t, envOpts{engine: true, cfg: cfg, registry: &registry.Config{Secrets: reader}})
	reader.Store = e.store // before any request
	e.client.Timeout = 2 * time.Minute
	e.uploadDir(e.key, "../plugins-examples/hash")
	return e
}

// hookWorkflow is a workflow whose webhook "in" (with params) feeds nodes,
// one after the other.
func hookWorkflow(name string, params map[string]any, nodes ...map[string]any) map[string]any {
	def := chain(name, nodes...)
	all := def["nodes"].([]any)
	all[0] = map[string]any{"name": "in", "type": "trigger.webhook", "params": params}
	for _, c := range def["connections"].([]any) {
		if c.(map[string]any)["from"] == "start" {
			c.(map[string]any)["from"] = "in"
		}
	}
	return def
}

// activeHook saves and activates a webhook workflow; it returns its id.
func (e *env) activeHook(key string, def map[string]any) string {
	e.t.Helper()
	id := e.saveWorkflow(key, def)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + id + "/activate", key: key})
	require.Equal(e.t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(e.t, true, r.json(e.t)["active"])
	return id
}

// hook sends a webhook request to the tenant's path.
func (e *env) hook(method, tenantID, path string, body any, header map[string]string) *response {
	e.t.Helper()
	r := req{method: method, path: hooksPrefix + "/" + tenantID + "/" + path, body: body, header: header}
	return e.do(r)
}

// signed is the signature header of body at t with key.
func signed(key string, t time.Time, body string) map[string]string {
	sig := SignWebhook([]byte(key), t.Unix(), []byte(body))
	return map[string]string{HeaderSignature: fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(sig))}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	e := newHookEnv(t, Config{PublicURL: "https://hooks.example/"})
	e.uploadDir(e.key, loopDir)
	tn := e.tenantID
	r := e.do(req{method: http.MethodPost, path: "/api/v1/secrets", key: e.key, body: map[string]any{"name": "hook-key", "value": "s3cret"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	orders := hookWorkflow("orders", map[string]any{"path": "/orders/"}, hashNode(map[string]any{"field": "method"}))
	r = e.hook(http.MethodPost, tn, "orders", map[string]any{"email": "a@b.c"}, nil)
	r.problem(t, http.StatusNotFound, CodeNotFound)
	ordersID := e.saveWorkflow(e.key, orders)
	r = e.hook(http.MethodPost, tn, "orders", map[string]any{"email": "a@b.c"}, nil)
	r.problem(t, http.StatusNotFound, CodeNotFound) // saved, not active

	// The triggers of a workflow, active or not.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + ordersID + "/triggers", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.JSONEq(t, `{"workflow_id": "`+ordersID+`", "active": false, "schedules": [], "webhooks": [{"node": "in", "method": "POST",
		"path": "orders", "url": "https://hooks.example/hooks/`+tn+`/orders", "respond": "immediately", "auth": "none"}]}`, string(r.body))
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + ordersID + "/activate", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	t.Run("immediately", func(t *testing.T) {
		r := e.hook(http.MethodPost, tn, "orders?a=1&b=x&b=y", `{"email": "a@b.c"}`, map[string]string{"X-Extra": "v"})
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		id := r.json(t)["execution_id"].(string)
		require.Equal(t, id, r.header.Get(HeaderExecutionID))
		ex := e.waitExec(e.key, id, finished)
		require.Equal(t, "succeeded", ex.Status)
		require.Equal(t, "webhook", ex.Trigger)
		in := outputItems(t, latestRun(&ex, "in").Output)
		require.Len(t, in, 1)
		require.Equal(t, "POST", in[0]["method"])
		require.Equal(t, "orders", in[0]["path"])
		require.Equal(t, map[string]any{"a": "1", "b": []any{"x", "y"}}, in[0]["query"])
		require.Equal(t, map[string]any{"email": "a@b.c"}, in[0]["body"])
		headers := in[0]["headers"].(map[string]any)
		require.Equal(t, "v", headers["x-extra"])
		require.Equal(t, "application/json", headers["content-type"])
		require.Equal(t, sha("POST"), outputItems(t, latestRun(&ex, "hash").Output)[0]["method_sha256"])

		// A text body stays text; another method is not this webhook.
		r = e.hook(http.MethodPost, tn, "orders", "plain words", map[string]string{"Content-Type": "text/plain"})
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		ex = e.waitExec(e.key, r.json(t)["execution_id"].(string), finished)
		require.Equal(t, "plain words", outputItems(t, latestRun(&ex, "in").Output)[0]["body"])
		e.hook(http.MethodPut, tn, "orders", "{}", nil).problem(t, http.StatusNotFound, CodeNotFound)
		e.hook(http.MethodPost, tn, "orders", "{not json", nil).problem(t, http.StatusBadRequest, CodeInvalidJSON)
		e.hook(http.MethodPost, tn, "orders/../orders", "{}", nil).problem(t, http.StatusNotFound, CodeNotFound)
	})

	t.Run("last_node", func(t *testing.T) {
		e.activeHook(e.key, hookWorkflow("lookup", map[string]any{"path": "lookup/item", "method": "GET", "respond": "last_node"},
			hashNode(map[string]any{"field": "path"}), map[string]any{"name": "after", "type": "core.noop"}))
		r := e.hook(http.MethodGet, tn, "lookup/item?q=1", nil, nil)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		require.NotEmpty(t, r.header.Get(HeaderExecutionID))
		var got []map[string]any
		r.decode(t, &got)
		require.Len(t, got, 1)
		require.Equal(t, sha("lookup/item"), got[0]["path_sha256"])
		require.Equal(t, map[string]any{"q": "1"}, got[0]["query"])

		// The workflow sets the status, headers and body: one item with
		// webhook_response, here set by a raw-IO echo module from the
		// request's body. Reserved headers and bad values are dropped.
		r = e.upload(e.key, moduleParts(t, fixturesDir+"/guest.wasm",
			testManifest(t, "name", "acme/respond", "io", "raw", "entrypoint", "run"))...)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		e.activeHook(e.key, hookWorkflow("custom", map[string]any{"path": "custom", "respond": "last_node", "response_node": "respond"},
			map[string]any{"name": "respond", "module": "acme/respond@1.0.0",
				"params": map[string]any{"input": "{{ $json.body.reply }}", "output_field": "webhook_response"}},
			map[string]any{"name": "after", "type": "core.noop"}))
		reply := map[string]any{"status": 201, "body": "created",
			"headers": map[string]any{"X-Custom": "yes", "Content-Length": "1", "X-Bad": "a\r\nb", "X-Wasmflow-Execution-Id": "forged"}}
		r = e.hook(http.MethodPost, tn, "custom", map[string]any{"reply": reply}, nil)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		require.Equal(t, "created", string(r.body))
		require.Equal(t, "yes", r.header.Get("X-Custom"))
		require.Empty(t, r.header.Get("X-Bad"))
		require.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
		require.NotEqual(t, "forged", r.header.Get(HeaderExecutionID))
		reply["body"] = map[string]any{"ok": true}
		r = e.hook(http.MethodPost, tn, "custom", map[string]any{"reply": reply}, nil)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		require.JSONEq(t, `{"ok": true}`, string(r.body))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))

		// A failed execution is 502 and tells nothing of why.
		e.activeHook(e.key, hookWorkflow("fails", map[string]any{"path": "fails", "respond": "last_node"},
			map[string]any{"name": "check", "type": "core.if", "params": map[string]any{"condition": "{{ fromJSON($json.body.raw) }}"}}))
		r = e.hook(http.MethodPost, tn, "fails", map[string]any{"raw": "{not json"}, nil)
		p := r.problem(t, http.StatusBadGateway, CodeExecutionFailed)
		require.NotContains(t, p.Detail, "fromJSON")
		require.NotEmpty(t, r.header.Get(HeaderExecutionID))

		// One that runs past the webhook's wait is 504; it goes on.
		e.activeHook(e.key, hookWorkflow("slow", map[string]any{"path": "slow", "respond": "last_node", "response_timeout_ms": 300},
			map[string]any{"name": "spin", "module": "test/loop", "timeout_ms": 60000}))
		r = e.hook(http.MethodPost, tn, "slow", nil, nil)
		r.problem(t, http.StatusGatewayTimeout, CodeWebhookTimeout)
		id := r.header.Get(HeaderExecutionID)
		require.Equal(t, "running", e.getExec(e.key, id).Status)
		require.Equal(t, http.StatusOK, e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + id + "/cancel", key: e.key}).status)
	})

	t.Run("hmac", func(t *testing.T) {
		e.activeHook(e.key, hookWorkflow("signed", map[string]any{"path": "signed", "auth": "hmac", "secret": "hook-key", "replay_window_s": 60},
			map[string]any{"name": "after", "type": "core.noop"}))
		body := `{"order": 7}`
		now := time.Now()
		good := signed("s3cret", now, body)
		r := e.hook(http.MethodPost, tn, "signed", body, good)
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		e.hook(http.MethodPost, tn, "signed", body, good).problem(t, http.StatusConflict, CodeWebhookReplayed)
		e.hook(http.MethodPost, tn, "signed", `{"order": 8}`, good).problem(t, http.StatusUnauthorized, CodeWebhookSignatureInvalid)
		e.hook(http.MethodPost, tn, "signed", body, signed("wrong key", now, body)).problem(t, http.StatusUnauthorized, CodeWebhookSignatureInvalid)
		e.hook(http.MethodPost, tn, "signed", body, nil).problem(t, http.StatusUnauthorized, CodeWebhookSignatureInvalid)
		old := now.Add(-2 * time.Minute)
		e.hook(http.MethodPost, tn, "signed", body, signed("s3cret", old, body)).problem(t, http.StatusUnauthorized, CodeWebhookSignatureExpired)
		// A new signature of the same body (a second later) is a new request.
		r = e.hook(http.MethodPost, tn, "signed", body, signed("s3cret", now.Add(time.Second), body))
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		// Rotating keys: the header may carry several v1 entries.
		two := signed("s3cret", now.Add(2*time.Second), body)[HeaderSignature]
		two = strings.Replace(two, "v1=", "v1="+strings.Repeat("0", 64)+",v1=", 1)
		r = e.hook(http.MethodPost, tn, "signed", body, map[string]string{HeaderSignature: two})
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	})

	t.Run("token", func(t *testing.T) {
		e.activeHook(e.key, hookWorkflow("token", map[string]any{"path": "token", "auth": "header", "header": "X-Token", "secret": "hook-key"},
			map[string]any{"name": "after", "type": "core.noop"}))
		e.hook(http.MethodPost, tn, "token", "{}", nil).problem(t, http.StatusUnauthorized, CodeWebhookTokenInvalid)
		e.hook(http.MethodPost, tn, "token", "{}", map[string]string{"X-Token": "s3cre"}).problem(t, http.StatusUnauthorized, CodeWebhookTokenInvalid)
		r := e.hook(http.MethodPost, tn, "token", "{}", map[string]string{"X-Token": "s3cret"})
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		ex := e.waitExec(e.key, r.json(t)["execution_id"].(string), finished)
		require.NotContains(t, outputItems(t, latestRun(&ex, "in").Output)[0]["headers"], "x-token", "the token is not stored")
	})

	t.Run("body size", func(t *testing.T) {
		e.activeHook(e.key, hookWorkflow("small", map[string]any{"path": "small", "max_body_bytes": 16},
			map[string]any{"name": "after", "type": "core.noop"}))
		require.Equal(t, http.StatusAccepted, e.hook(http.MethodPost, tn, "small", `{"a": "0123456"}`, nil).status)
		e.hook(http.MethodPost, tn, "small", `{"a": "01234567"}`, nil).problem(t, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
		big := `"` + strings.Repeat("x", DefaultBodyLimit) + `"`
		e.hook(http.MethodPost, tn, "orders", big, nil).problem(t, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
	})

	t.Run("activation", func(t *testing.T) {
		// Two active workflows of a tenant cannot share a method and path.
		clash := e.saveWorkflow(e.key, hookWorkflow("clash", map[string]any{"path": "orders"}, map[string]any{"name": "after", "type": "core.noop"}))
		r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + clash + "/activate", key: e.key})
		p := r.problem(t, http.StatusConflict, CodeWebhookConflict)
		require.Equal(t, []string{"nodes[0].params.path"}, p.locations())
		require.Contains(t, p.Errors[0].Message, ordersID)

		// A workflow that could not run is refused with every reason.
		bad := e.saveWorkflow(e.key, map[string]any{"name": "bad", "settings": map[string]any{"error_workflow": clash}, "nodes": []any{
			map[string]any{"name": "in", "type": "trigger.webhook", "params": map[string]any{"path": "bad", "auth": "hmac", "secret": "nope"}}}})
		r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + bad + "/activate", key: e.key})
		p = r.problem(t, http.StatusUnprocessableEntity, CodeActivationRefused)
		require.Equal(t, []string{"nodes[0].params.secret", "settings.error_workflow"}, p.locations())
		manual := e.saveWorkflow(e.key, triggerOnly("manual"))
		r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + manual + "/activate", key: e.key})
		p = r.problem(t, http.StatusUnprocessableEntity, CodeActivationRefused)
		require.Equal(t, []string{"nodes"}, p.locations())

		// A save of an active workflow stays active and moves its route;
		// one that would take another's path is refused.
		moved := e.activeHook(e.key, hookWorkflow("moving", map[string]any{"path": "before"}, map[string]any{"name": "after", "type": "core.noop"}))
		r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + moved, key: e.key,
			body: hookWorkflow("moving", map[string]any{"path": "after"}, map[string]any{"name": "after", "type": "core.noop"})})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, true, r.json(t)["active"])
		e.hook(http.MethodPost, tn, "before", "{}", nil).problem(t, http.StatusNotFound, CodeNotFound)
		require.Equal(t, http.StatusAccepted, e.hook(http.MethodPost, tn, "after", "{}", nil).status)
		r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + moved, key: e.key,
			body: hookWorkflow("moving", map[string]any{"path": "orders"}, map[string]any{"name": "after", "type": "core.noop"})})
		r.problem(t, http.StatusConflict, CodeWebhookConflict)
		r = e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + moved, key: e.key,
			body: hookWorkflow("moving", map[string]any{"path": "after", "auth": "header", "secret": "nope"}, map[string]any{"name": "after", "type": "core.noop"})})
		r.problem(t, http.StatusUnprocessableEntity, CodeActivationRefused)
		require.Equal(t, http.StatusAccepted, e.hook(http.MethodPost, tn, "after", "{}", nil).status, "a refused save changes nothing")

		// Deactivated, its webhook is gone.
		r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + moved + "/deactivate", key: e.key})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Equal(t, false, r.json(t)["active"])
		e.hook(http.MethodPost, tn, "after", "{}", nil).problem(t, http.StatusNotFound, CodeNotFound)
	})

	t.Run("tenants", func(t *testing.T) {
		// Tenant B has its own "orders": each tenant's path reaches its own
		// workflow only.
		tnB, keyB := e.newTenant("hooks-b")
		bID := e.activeHook(keyB, hookWorkflow("orders-b", map[string]any{"path": "orders"}, map[string]any{"name": "after", "type": "core.noop"}))
		r := e.hook(http.MethodPost, tnB, "orders", "{}", nil)
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		idB := r.json(t)["execution_id"].(string)
		require.Equal(t, bID, e.waitExec(keyB, idB, finished).WorkflowID)
		e.do(req{method: http.MethodGet, path: "/api/v1/executions/" + idB, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)

		r = e.hook(http.MethodPost, tn, "orders", "{}", nil)
		require.Equal(t, http.StatusAccepted, r.status)
		require.Equal(t, ordersID, e.waitExec(e.key, r.json(t)["execution_id"].(string), finished).WorkflowID)
		e.hook(http.MethodPost, tnB, "signed", "{}", nil).problem(t, http.StatusNotFound, CodeNotFound)
		e.hook(http.MethodPost, "tn_unknown", "orders", "{}", nil).problem(t, http.StatusNotFound, CodeNotFound)
		// Tenant B's key cannot read or switch A's triggers.
		for _, op := range []string{"activate", "deactivate"} {
			e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + ordersID + "/" + op, key: keyB}).problem(t, http.StatusNotFound, CodeNotFound)
		}
		e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + ordersID + "/triggers", key: keyB}).problem(t, http.StatusNotFound, CodeNotFound)
	})
}

func TestWebhookRateLimit(t *testing.T) {
	t.Parallel()
	e := newHookEnv(t, Config{Limits: TenantLimits{RequestsPerMinute: 4}})
	// Uploading, creating and activating spend three of the four.
	e.activeHook(e.key, hookWorkflow("limited", map[string]any{"path": "limited"}, map[string]any{"name": "after", "type": "core.noop"}))
	require.Equal(t, http.StatusAccepted, e.hook(http.MethodPost, e.tenantID, "limited", "{}", nil).status)
	r := e.hook(http.MethodPost, e.tenantID, "limited", "{}", nil)
	r.problem(t, http.StatusTooManyRequests, CodeRateLimited)
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, secs)
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	key, body := []byte("k"), []byte(`{"a":1}`)
	now := time.Unix(1_900_000_000, 0)
	sig := hex.EncodeToString(SignWebhook(key, now.Unix(), body))
	for _, tc := range []struct {
		name, header string
		want         error
	}{
		{"good", fmt.Sprintf("t=%d,v1=%s", now.Unix(), sig), nil},
		{"spaces and unknown keys", fmt.Sprintf(" t=%d , v0=xyz, v1=%s ", now.Unix(), sig), nil},
		{"missing", "", errSignatureMissing},
		{"no v1", fmt.Sprintf("t=%d", now.Unix()), errSignatureMissing},
		{"no t", "v1=" + sig, errSignatureMissing},
		{"wrong", fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("ab", 32)), errSignatureWrong},
		{"other time", fmt.Sprintf("t=%d,v1=%s", now.Unix()+1, sig), errSignatureWrong},
		{"too old", fmt.Sprintf("t=%d,v1=%s", now.Unix()-301, sig), errSignatureExpired},
		{"too far ahead", fmt.Sprintf("t=%d,v1=%s", now.Unix()+301, sig), errSignatureExpired},
	} {
		_, _, err := verifySignature(key, tc.header, body, now, 5*time.Minute)
		if tc.want == nil {
			require.NoError(t, err, tc.name)
			continue
		}
		require.ErrorIs(t, err, tc.want, tc.name)
	}
	for _, bad := range []string{"t=x,v1=" + sig, "t=-5,v1=" + sig, "t=1,v1=zz", "t=1,v1=abcd", "t=1,t=2,v1=" + sig, "garbage",
		"t=1" + strings.Repeat(",v1="+sig, maxSignatures+1)} {
		_, _, err := parseSignature(bad)
		require.Error(t, err, bad)
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add("t=1900000000,v1=" + strings.Repeat("ab", 32))
	f.Add("t=1,v1=00,v1=11")
	f.Add(" t = 1 ,v1=")
	f.Fuzz(func(t *testing.T, h string) {
		ts, sigs, err := parseSignature(h)
		if err != nil {
			return
		}
		// What parses has a positive time and 1 to maxSignatures
		// 32-byte signatures, and parses the same once written back.
		require.Positive(t, ts)
		require.NotEmpty(t, sigs)
		require.LessOrEqual(t, len(sigs), maxSignatures)
		again := "t=" + strconv.FormatInt(ts, 10)
		for _, s := range sigs {
			require.Len(t, s, 32)
			again += ",v1=" + hex.EncodeToString(s)
		}
		ts2, sigs2, err := parseSignature(again)
		require.NoError(t, err)
		require.Equal(t, ts, ts2)
		require.Equal(t, sigs, sigs2)
	})
}

// Activation asks the registry what a run would: a module version below the
// tenant's minimum keeps the workflow inactive, naming the node; lifting
// the policy lets it activate.
func TestActivationChecksModules(t *testing.T) {
	t.Parallel()
	e := newHookEnv(t, Config{})
	r := e.upload(e.key, moduleParts(t, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t, "name", "acme/echo"))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	def := hookWorkflow("echo", map[string]any{"path": "echo"}, map[string]any{"name": "echo", "module": "acme/echo@1.0.0"})
	id := e.saveWorkflow(e.key, def)

	policy := func(body map[string]any) {
		t.Helper()
		r := e.do(req{method: http.MethodPut, path: "/api/v1/trust-policy", key: e.key, body: body})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	policy(map[string]any{"minimum_versions": map[string]any{"acme/echo": "1.1.0"}})
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + id + "/activate", key: e.key})
	p := r.problem(t, http.StatusUnprocessableEntity, CodeActivationRefused)
	require.Equal(t, []string{"nodes[1].module"}, p.locations())
	require.Contains(t, p.Errors[0].Message, "acme/echo@1.0.0 cannot run (version_below_minimum")

	policy(map[string]any{})
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows/" + id + "/activate", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
}
