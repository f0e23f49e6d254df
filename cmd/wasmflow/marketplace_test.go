package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBinarySignPublishInstallRun is the author's round trip with the real
// binary against a started server: generate a key, register it, sign an
// example module under the publisher's name, verify it, push it, publish it,
// then in a second tenant search, install with a grant and run it in a
// workflow. On the way, what must be refused is: a push of wasm changed
// after signing (nothing stored), a verify with another key, an install
// without a grant (nothing installed), a run of a yanked version, and a
// verify after the key is revoked.
func TestBinarySignPublishInstallRun(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	addr := freeAddr(t)
	dataDir := t.TempDir()
	srv := startProcess(t, bin, "serve", "--listen", addr, "--data-dir", dataDir, "--log-format", "json")
	waitHealthy(t, addr, srv)
	base := "http://" + addr
	adminKey := readKey(t, dataDir)

	// The publishing tenant's CLI is configured by its config file, the
	// installing tenant's by the environment.
	work := t.TempDir()
	confA := filepath.Join(work, "config.json")
	require.NoError(t, os.WriteFile(confA, []byte(`{"server": "`+base+`", "api_key": "`+adminKey+`"}`), 0o600))
	keyB := newTenantKey(t, base, adminKey, "beta")
	run := func(env []string, args ...string) (stdout, stderr string, err error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(work, "no-config"), "WASMFLOW_SERVER=", "WASMFLOW_API_KEY=")
		cmd.Env = append(cmd.Env, env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	tenantA := []string{"WASMFLOW_CONFIG=" + confA}
	tenantB := []string{"WASMFLOW_SERVER=" + base, "WASMFLOW_API_KEY=" + keyB}
	mustRun := func(env []string, args ...string) string {
		t.Helper()
		stdout, stderr, err := run(env, args...)
		require.NoError(t, err, "%v\nstdout: %s\nstderr: %s", args, stdout, stderr)
		return stdout
	}

	// Keys: generate two; register one, creating the publisher.
	keyID := strings.TrimSpace(mustRun(nil, "keys", "generate", "--publisher", "acme", "--out", filepath.Join(work, "keys")))
	keyFile := filepath.Join(work, "keys", "acme-"+strings.TrimPrefix(keyID, "ed25519:")+".key")
	pubFile := strings.TrimSuffix(keyFile, ".key") + ".pub.json"
	mustRun(nil, "keys", "generate", "--publisher", "acme", "--out", filepath.Join(work, "other"))
	others, err := filepath.Glob(filepath.Join(work, "other", "*.pub.json"))
	require.NoError(t, err)
	out := mustRun(tenantA, "keys", "register", "--key", keyFile, "--create-publisher")
	require.Contains(t, out, keyID)

	// Sign the hash example as acme/hash 1.0.0, and a 1.1.0 that asks for
	// HTTP to two hosts and a secret.
	v1 := exampleNode(t, "hash", "acme")
	v2 := filepath.Join(work, "hash-1.1.0")
	copyExample(t, v1, v2)
	rewriteManifest(t, v2, func(m map[string]any) {
		m["version"] = "1.1.0"
		m["capabilities"] = map[string]any{"http": map[string]any{"hosts": []string{"a.example", "b.example"}, "methods": []string{"GET"}},
			"secrets": []string{"token"}}
	})
	for _, dir := range []string{v1, v2} {
		require.Contains(t, mustRun(nil, "node", "sign", dir, "--key", keyFile), "signed acme/hash@")
		require.Contains(t, mustRun(nil, "node", "verify", dir, "--public-key", pubFile), "verified acme/hash@")
		require.Contains(t, mustRun(tenantA, "node", "verify", dir, "--server"), "registered at "+base)
	}
	_, _, err = run(nil, "node", "verify", v1, "--public-key", others[0])
	require.Error(t, err, "another key did not sign it")

	// wasm changed after signing: the server refuses it and stores nothing.
	wasmPath := filepath.Join(v1, "hash.wasm")
	wasm, err := os.ReadFile(wasmPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(wasmPath, append(append([]byte{}, wasm...), 0), 0o600))
	_, stderr, err := run(tenantA, "node", "push", v1)
	require.Error(t, err)
	require.Contains(t, stderr, "server answered 422 signature_mismatch")
	require.Contains(t, stderr, "signature")
	status, body := request(t, http.MethodGet, base+"/api/v1/nodes/acme/hash", adminKey, "")
	require.Equal(t, http.StatusNotFound, status, string(body))
	require.NoError(t, os.WriteFile(wasmPath, wasm, 0o600))

	// Push both (with the flags this time, over the config file), publish both.
	for _, dir := range []string{v1, v2} {
		stdout, stderr, err := run(tenantA, "node", "push", dir, "--server", base, "--api-key", adminKey)
		require.NoError(t, err, stderr)
		require.Contains(t, stdout, "signature: verified, publisher acme, key "+keyID)
		require.NotContains(t, stderr, "\r", "no progress line off a terminal")
	}
	require.Contains(t, mustRun(tenantA, "marketplace", "publish", "acme/hash@1.0.0"), "published acme/hash@1.0.0 by acme")
	require.Contains(t, mustRun(tenantA, "marketplace", "publish", "acme/hash@1.1.0"), "asks for http GET to a.example, b.example; secrets token")

	// The second tenant finds it...
	out = mustRun(tenantB, "marketplace", "search", "sha-256")
	require.Contains(t, out, "acme/hash")
	require.Contains(t, out, "1.1.0")
	require.Contains(t, out, "verified ("+keyID+")")
	var page struct {
		Items []struct {
			Name     string
			Versions []struct{ Version string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(mustRun(tenantB, "marketplace", "search", "acme/hash", "--json")), &page))
	require.Len(t, page.Items, 1)
	require.Len(t, page.Items[0].Versions, 2)

	// ...cannot install what asks for capabilities without a grant...
	_, stderr, err = run(tenantB, "marketplace", "install", "acme/hash")
	require.Error(t, err)
	require.Contains(t, stderr, "not installed: acme/hash@1.1.0 asks for http GET to a.example, b.example; secrets token")
	_, stderr, err = run(tenantB, "marketplace", "install", "acme/hash", "--grant-http-hosts", "a.example")
	require.Error(t, err)
	require.Contains(t, stderr, "server answered 422 grant_required")
	require.Contains(t, stderr, "body.grant.secrets")
	status, body = request(t, http.MethodGet, base+"/api/v1/nodes/acme/hash", keyB, "")
	require.Equal(t, http.StatusNotFound, status, "nothing installed: %s", body)

	// ...installs it with a narrower grant, and runs it in a workflow.
	out = mustRun(tenantB, "marketplace", "install", "acme/hash", "--grant-http-hosts", "a.example", "--grant-secrets", "token")
	require.Contains(t, out, "installed acme/hash@1.1.0")
	require.Contains(t, out, "granted: http GET to a.example; secrets token")
	status, body = request(t, http.MethodPost, base+"/api/v1/workflows", keyB, `{"name": "hash it", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "hash", "module": "acme/hash@1.1.0", "params": {"field": "email"}}],
		"connections": [{"from": "start", "to": "hash"}]}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var wf struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &wf))
	execute := func() string {
		status, body := request(t, http.MethodPost, base+"/api/v1/workflows/"+wf.ID+"/executions?wait=30s", keyB, `{"input": [{"email": "ada@example.com"}]}`)
		require.Equal(t, http.StatusOK, status, string(body))
		return string(body)
	}
	sum := sha256.Sum256([]byte("ada@example.com"))
	ex := execute()
	require.Contains(t, ex, `"status":"succeeded"`)
	require.Contains(t, ex, `"email_sha256":"`+hex.EncodeToString(sum[:])+`"`)

	// The publisher yanks the version: the other tenant sees why, and its
	// next run fails naming the yank.
	require.Contains(t, mustRun(tenantA, "marketplace", "yank", "acme/hash@1.1.0", "--reason", "CVE-2026-0001"), "yanked acme/hash@1.1.0")
	require.Contains(t, mustRun(tenantB, "marketplace", "show", "acme/hash"), "CVE-2026-0001")
	ex = execute()
	require.Contains(t, ex, `"status":"failed"`)
	require.Contains(t, ex, "yanked")

	// The publisher revokes its key: verifying against the server fails,
	// and the catalog says so.
	require.Contains(t, mustRun(tenantA, "keys", "revoke", "acme", keyID), keyID)
	_, stderr, err = run(tenantA, "node", "verify", v1, "--server")
	require.Error(t, err)
	require.Contains(t, stderr, "was revoked at")
	require.Contains(t, mustRun(tenantB, "marketplace", "show", "acme/hash"), "revoked ("+keyID+")")
}

// newTenantKey creates a tenant with the platform admin key and returns an
// owner API key of it.
func newTenantKey(t *testing.T, base, adminKey, name string) string {
	t.Helper()
	status, body := request(t, http.MethodPost, base+"/api/v1/tenants", adminKey, `{"name": "`+name+`"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var tenant struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &tenant))
	status, body = request(t, http.MethodPost, base+"/api/v1/tenants/"+tenant.ID+"/api-keys", adminKey, `{"name": "owner", "role": "owner"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var key struct{ Key string }
	require.NoError(t, json.Unmarshal(body, &key))
	return key.Key
}

// rewriteManifest changes a node directory's manifest.
func rewriteManifest(t *testing.T, dir string, change func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "wasmflow.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	change(m)
	data, err = json.MarshalIndent(m, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
}
