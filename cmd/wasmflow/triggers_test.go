package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
)

// hookRequest sends a webhook request with extra headers.
func hookRequest(t *testing.T, method, url, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

// sign is the X-Wasmflow-Signature header of body at t with key, as a
// caller computes it from the documented scheme.
func sign(key string, t time.Time, body string) map[string]string {
	m := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(m, "%d.%s", t.Unix(), body)
	return map[string]string{"X-Wasmflow-Signature": fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(m.Sum(nil)))}
}

// TestTriggersInBothModes drives webhooks and a schedule through the
// server in the embedded mode (SQLite, in-process queue) and the
// distributed one (PostgreSQL, Redis), each with the example nodes.
func TestTriggersInBothModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"embedded", "distributed"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			examples := filepath.Join(t.TempDir(), "examples")
			copyExample(t, "../../plugins-examples/hash", filepath.Join(examples, "hash"))
			cfg := serveConfig{store: storeConfig{DataDir: dir}, Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second,
				ExamplesDir: examples, WebhookMaxBodyBytes: 1024, ReconcileInterval: 100 * time.Millisecond}
			if mode == "distributed" {
				cfg.store.DatabaseURL = testdb.Postgres(t)
				cfg.RedisAddr = testdb.RedisAddr(t)
				cfg.RedisQueue = "triggers-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}
			base, stop := startServe(t, cfg)
			key := readKey(t, dir)
			api := base + "/api/v1"
			call := func(method, path, k, body string, want int) map[string]any {
				t.Helper()
				status, data := request(t, method, api+path, k, body)
				require.Equal(t, want, status, "%s %s: %s", method, path, data)
				var m map[string]any
				_ = json.Unmarshal(data, &m)
				return m
			}
			tenant := call(http.MethodPost, "/tenants", key, `{"name": "other"}`, http.StatusCreated)
			keyB := call(http.MethodPost, "/tenants/"+tenant["id"].(string)+"/api-keys", key, `{"name": "b", "role": "owner"}`, http.StatusCreated)["key"].(string)
			call(http.MethodPost, "/secrets", key, `{"name": "hook-key", "value": "s3cret"}`, http.StatusCreated)

			wf := call(http.MethodPost, "/workflows", key, `{"name": "signed", "nodes": [
				{"name": "in", "type": "trigger.webhook", "params": {"path": "orders", "auth": "hmac", "secret": "hook-key", "respond": "last_node"}},
				{"name": "hash", "module": "wasmflow/hash@^1", "params": {"field": "method"}}],
				"connections": [{"from": "in", "to": "hash"}]}`, http.StatusCreated)["id"].(string)
			fast := call(http.MethodPost, "/workflows", key, `{"name": "fast", "nodes": [
				{"name": "in", "type": "trigger.webhook", "params": {"path": "fast"}}], "connections": []}`, http.StatusCreated)["id"].(string)
			triggers := call(http.MethodGet, "/workflows/"+wf+"/triggers", key, "", http.StatusOK)
			url := base + triggers["webhooks"].([]any)[0].(map[string]any)["url"].(string)

			body := `{"email": "a@example.com"}`
			status, _, _ := hookRequest(t, http.MethodPost, url, body, sign("s3cret", time.Now(), body))
			require.Equal(t, http.StatusNotFound, status, "an inactive workflow's webhook")
			call(http.MethodPost, "/workflows/"+wf+"/activate", key, "", http.StatusOK)
			call(http.MethodPost, "/workflows/"+fast+"/activate", key, "", http.StatusOK)

			// last_node: the hash node's items.
			good := sign("s3cret", time.Now(), body)
			status, header, data := hookRequest(t, http.MethodPost, url, body, good)
			require.Equal(t, http.StatusOK, status, string(data))
			require.NotEmpty(t, header.Get("X-Wasmflow-Execution-Id"))
			var items []map[string]any
			require.NoError(t, json.Unmarshal(data, &items))
			sum := sha256.Sum256([]byte("POST"))
			require.Equal(t, hex.EncodeToString(sum[:]), items[0]["method_sha256"])
			require.Equal(t, map[string]any{"email": "a@example.com"}, items[0]["body"])
			// The same signed request again, a bad signature, an old one.
			status, _, data = hookRequest(t, http.MethodPost, url, body, good)
			require.Equal(t, http.StatusConflict, status, string(data))
			require.Contains(t, string(data), `"webhook_replayed"`)
			status, _, data = hookRequest(t, http.MethodPost, url, body, sign("wrong", time.Now(), body))
			require.Equal(t, http.StatusUnauthorized, status, string(data))
			status, _, _ = hookRequest(t, http.MethodPost, url, body, sign("s3cret", time.Now().Add(-time.Hour), body))
			require.Equal(t, http.StatusUnauthorized, status)

			// immediately: 202 with the execution id; an oversize body 413.
			status, _, data = hookRequest(t, http.MethodPost, base+"/hooks/"+tenantOf(t, url)+"/fast", `{"a": 1}`, nil)
			require.Equal(t, http.StatusAccepted, status, string(data))
			var accepted struct {
				ExecutionID string `json:"execution_id"`
			}
			require.NoError(t, json.Unmarshal(data, &accepted))
			call(http.MethodGet, "/executions/"+accepted.ExecutionID, key, "", http.StatusOK)
			status, _, _ = hookRequest(t, http.MethodPost, base+"/hooks/"+tenantOf(t, url)+"/fast", `"`+strings.Repeat("x", 1024)+`"`, nil)
			require.Equal(t, http.StatusRequestEntityTooLarge, status)

			// Tenant B's path is its own: it never reaches A's workflow.
			status, _, _ = hookRequest(t, http.MethodPost, base+"/hooks/"+tenant["id"].(string)+"/fast", `{}`, nil)
			require.Equal(t, http.StatusNotFound, status)
			fastB := call(http.MethodPost, "/workflows", keyB, `{"name": "fast", "nodes": [
				{"name": "in", "type": "trigger.webhook", "params": {"path": "fast"}}], "connections": []}`, http.StatusCreated)["id"].(string)
			call(http.MethodPost, "/workflows/"+fastB+"/activate", keyB, "", http.StatusOK)
			status, _, data = hookRequest(t, http.MethodPost, base+"/hooks/"+tenant["id"].(string)+"/fast", `{}`, nil)
			require.Equal(t, http.StatusAccepted, status)
			require.NoError(t, json.Unmarshal(data, &accepted))
			require.Equal(t, fastB, call(http.MethodGet, "/executions/"+accepted.ExecutionID, keyB, "", http.StatusOK)["workflow_id"])
			call(http.MethodGet, "/executions/"+accepted.ExecutionID, key, "", http.StatusNotFound)

			// A schedule every second fires while active (the scheduler
			// role of this process), and stops once deactivated.
			sched := call(http.MethodPost, "/workflows", key, `{"name": "tick", "nodes": [
				{"name": "tick", "type": "trigger.schedule", "params": {"cron": "* * * * * *"}}], "connections": []}`, http.StatusCreated)["id"].(string)
			call(http.MethodPost, "/workflows/"+sched+"/activate", key, "", http.StatusOK)
			listPath := "/executions?workflow_id=" + sched + "&limit=200"
			deadline := time.Now().Add(time.Minute)
			for len(call(http.MethodGet, listPath, key, "", http.StatusOK)["items"].([]any)) < 3 {
				require.True(t, time.Now().Before(deadline), "the schedule did not fire three times in a minute")
				time.Sleep(100 * time.Millisecond) // polling for progress
			}
			call(http.MethodPost, "/workflows/"+sched+"/deactivate", key, "", http.StatusOK)
			ticks := map[string]bool{}
			for _, it := range call(http.MethodGet, listPath, key, "", http.StatusOK)["items"].([]any) {
				ex := call(http.MethodGet, "/executions/"+it.(map[string]any)["id"].(string), key, "", http.StatusOK)
				require.Equal(t, "schedule", ex["trigger"])
				var out struct{ Items []map[string]any }
				raw, _ := json.Marshal(ex["nodes"].([]any)[0].(map[string]any)["output"])
				if string(raw) == "null" {
					continue // not run yet
				}
				require.NoError(t, json.Unmarshal(raw, &out))
				tick := out.Items[0]["tick"].(string)
				require.False(t, ticks[tick], "tick %s ran twice", tick)
				ticks[tick] = true
			}
			require.NoError(t, stop())
		})
	}
}

// tenantOf reads the tenant id from a webhook URL.
func tenantOf(t *testing.T, url string) string {
	t.Helper()
	_, rest, ok := strings.Cut(url, "/hooks/")
	require.True(t, ok, url)
	tenant, _, _ := strings.Cut(rest, "/")
	return tenant
}
