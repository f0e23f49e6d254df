package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
)

// TestBinarySecretsAndHTTP runs the binary as an operator would: a secret
// created through the API reaches a server as a header filled in by the
// host, while the stored execution holds only its redaction; after
// `secrets rotate-key` a server with only the new master key still reads
// it; without --http-allow-private the loopback server is refused.
func TestBinarySecretsAndHTTP(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization")})
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	examples := filepath.Join(t.TempDir(), "examples")
	copyExample(t, "../../plugins-examples/http-request", filepath.Join(examples, "http-request"))
	oldKey, newKey := vault.EncodeKey(vault.GenerateKey()), vault.EncodeKey(vault.GenerateKey())

	start := func(env []string, args ...string) (base string, stop func()) {
		t.Helper()
		addr := freeAddr(t)
		logs := &syncBuffer{}
		cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--data-dir", dir, "--examples-dir", examples}, args...)...) //nolint:noctx // stopped below
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = logs
		require.NoError(t, cmd.Start())
		stopped := false
		stop = func() {
			if stopped {
				return
			}
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("logs of %v:\n%s", args, logs.String())
			}
		}
		t.Cleanup(stop)
		waitHealthy(t, addr, &process{cmd: cmd, logs: logs})
		return "http://" + addr, stop
	}
	run := func(base, key, wf string) string {
		t.Helper()
		status, body := request(t, http.MethodPost, base+"/api/v1/workflows/"+wf+"/executions?wait=60s", key, `{}`)
		require.Equal(t, http.StatusOK, status, string(body))
		return string(body)
	}

	base, stop := start([]string{vault.EnvMasterKey + "=" + oldKey}, "--http-allow-private")
	key := readKey(t, dir)
	const plaintext = "ghp_BINARY-PLAINTEXT-5150"
	status, body := request(t, http.MethodPost, base+"/api/v1/secrets", key, `{"name": "gh-token", "value": "`+plaintext+`"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = request(t, http.MethodPost, base+"/api/v1/workflows", key, `{"name": "call", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "get", "module": "wasmflow/http-request@^1", "params": {"url": "`+target.URL+`/",
			"headers": {"Authorization": "Bearer {{secret:token}}"}}, "secrets": {"token": "gh-token"}}],
		"connections": [{"from": "start", "to": "get"}]}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var wf struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &wf))

	out := run(base, key, wf.ID)
	require.Contains(t, out, `"status":"succeeded"`)
	require.Contains(t, out, `"auth":"Bearer [redacted:gh-token]"`)
	require.Contains(t, out, `"via":"http_header"`)
	require.NotContains(t, out, plaintext)
	stop()

	// Rotate: the new key current, the old one still known; then a server
	// with only the new key reads the secret.
	rotate := exec.Command(bin, "secrets", "rotate-key", "--data-dir", dir) //nolint:noctx // bounded by the test timeout
	rotate.Env = append(os.Environ(), vault.EnvMasterKey+"="+newKey, vault.EnvMasterKeyPrevious+"="+oldKey)
	msg, err := rotate.CombinedOutput()
	require.NoError(t, err, string(msg))
	base, stop = start([]string{vault.EnvMasterKey + "=" + newKey}, "--http-allow-private")
	out = run(base, key, wf.ID)
	require.Contains(t, out, `"status":"succeeded"`, out)
	require.Contains(t, out, `"auth":"Bearer [redacted:gh-token]"`)
	stop()

	// Without --http-allow-private the loopback target is refused.
	base, _ = start([]string{vault.EnvMasterKey + "=" + newKey})
	out = run(base, key, wf.ID)
	require.Contains(t, out, `"status":"failed"`)
	require.Contains(t, out, "ssrf_blocked: ")

	// The plaintext is in none of the data directory's files.
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path) //nolint:gosec // G304: the test's own data dir
		if err != nil {
			return err
		}
		require.False(t, strings.Contains(string(data), plaintext), "plaintext in %s", path)
		return nil
	}))
}
