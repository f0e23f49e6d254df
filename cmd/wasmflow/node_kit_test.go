package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/nodekit"
)

// kit runs the wasmflow binary in dir and returns its output and error.
func kit(t *testing.T, bin, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...) //nolint:noctx // bounded by the test timeout
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// publish makes the built node in dir available on the server at base: an
// upload of its module and manifest through the REST API. (With signing,
// keys generate, node sign and node push take its place.)
func publish(t *testing.T, base, key, dir string) {
	t.Helper()
	p, err := nodekit.OpenProject(dir)
	require.NoError(t, err)
	wasm, err := os.ReadFile(p.WasmPath())
	require.NoError(t, err)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for field, data := range map[string][]byte{"module": wasm, "manifest": p.ManifestBytes} {
		w, err := mw.CreateFormFile(field, field)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/nodes", &body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var created struct{ Name, Version, Digest string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%+v", created)
	require.Equal(t, p.Manifest.Name, created.Name)
}

// TestNodeKitEveryLanguage takes a node from nothing to a workflow run in
// each language, with the binary as a node author uses it: node init, node
// build, node test, node inspect, publish, then a workflow that runs it on
// one started server, whose output must be the greeting.
func TestNodeKitEveryLanguage(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	data, addr := t.TempDir(), freeAddr(t)
	waitHealthy(t, addr, startProcess(t, bin, "serve", "--listen", addr, "--data-dir", data))
	base, key := "http://"+addr, readKey(t, data)

	for _, lang := range nodekit.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			l, err := nodekit.LanguageByName(lang)
			require.NoError(t, err)
			if tool := l.Missing(); tool != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("CI needs the %s toolchain (make -C plugins-examples install-toolchains): %s", lang, tool.Install)
				}
				t.Skipf("no %s toolchain: %s", lang, tool.Install)
			}
			name := "acme/greet-" + lang
			work := t.TempDir()
			out, err := kit(t, bin, work, "node", "init", "--lang", lang, name)
			require.NoError(t, err, out)
			dir := filepath.Join(work, "greet-"+lang)
			out, err = kit(t, bin, dir, "node", "build")
			require.NoError(t, err, out)
			out, err = kit(t, bin, dir, "node", "test")
			require.NoError(t, err, out)
			require.Contains(t, out, "3 passed, 0 failed")
			out, err = kit(t, bin, dir, "node", "inspect", "greet-"+lang+".wasm")
			require.NoError(t, err, out)
			require.Contains(t, out, "abi      "+l.ABI)
			require.Contains(t, out, "no problems")

			publish(t, base, key, dir)
			status, body := request(t, http.MethodPost, base+"/api/v1/workflows", key, `{"name": "greet-`+lang+`", "nodes": [
				{"name": "start", "type": "trigger.manual"},
				{"name": "greet", "module": "`+name+`@0.1.0", "params": {"greeting": "Hello"}}],
				"connections": [{"from": "start", "to": "greet"}]}`)
			require.Equal(t, http.StatusCreated, status, string(body))
			var wf struct{ ID string }
			require.NoError(t, json.Unmarshal(body, &wf))
			status, body = request(t, http.MethodPost, base+"/api/v1/workflows/"+wf.ID+"/executions?wait=60s", key,
				`{"input": [{"name": "Ada"}, {"id": 7}]}`)
			require.Equal(t, http.StatusOK, status, string(body))
			var ex struct {
				Status string
				Nodes  []struct {
					Name   string
					Output struct{ Items []map[string]any }
				}
			}
			require.NoError(t, json.Unmarshal(body, &ex))
			require.Equal(t, "succeeded", ex.Status, string(body))
			var items []map[string]any
			for _, n := range ex.Nodes {
				if n.Name == "greet" {
					items = n.Output.Items
				}
			}
			require.Equal(t, []map[string]any{{"name": "Ada", "message": "Hello, Ada!"}, {"id": float64(7)}}, items)
		})
	}
}

// node test exits non-zero with a diff on a wrong output; node inspect
// exits non-zero on a module whose import the manifest does not declare;
// node build names the package of a missing toolchain.
func TestNodeKitFailures(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	work := t.TempDir()
	out, err := kit(t, bin, work, "node", "init", "--lang", "c", "acme/wrong")
	require.NoError(t, err, out)
	dir := filepath.Join(work, "wrong")

	// No toolchain on PATH: the package is named.
	cmd := exec.Command(bin, "node", "build") //nolint:noctx // bounded by the test timeout
	cmd.Dir, cmd.Env = dir, []string{"PATH=" + t.TempDir()}
	msg, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(msg), "install it with apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32")

	if tool := func() *nodekit.Tool { l, _ := nodekit.LanguageByName("c"); return l.Missing() }(); tool != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs the C toolchain: %s", tool.Install)
		}
		t.Skipf("no C toolchain: %s", tool.Install)
	}
	out, err = kit(t, bin, dir, "node", "build")
	require.NoError(t, err, out)
	expected := filepath.Join(dir, "testdata", "greet.output.json")
	require.NoError(t, os.WriteFile(expected, bytes.Replace(mustRead(t, expected), []byte("Hello, Ada!"), []byte("Hi, Ada!"), 1), 0o600))
	out, err = kit(t, bin, dir, "node", "test")
	require.Error(t, err)
	require.Contains(t, out, "FAIL greet: output differs from testdata/greet.output.json")
	require.Contains(t, out, `-      "message": "Hi, Ada!",`)
	require.Contains(t, out, `+      "message": "Hello, Ada!",`)
	require.Contains(t, out, "node test: 1 of 3 case(s) failed")
	out, err = kit(t, bin, dir, "node", "test", "--update", "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"status": "updated"`)

	// A module importing a host function its manifest does not declare.
	require.NoError(t, os.WriteFile(filepath.Join(work, "undeclared.wasm"), mustRead(t, "../../nodekit/testdata/guest.wasm"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(work, "wasmflow.json"), []byte(`{"name": "acme/undeclared", "version": "1.0.0", "abi": "extism-v1"}`), 0o600))
	out, err = kit(t, bin, work, "node", "inspect", "undeclared.wasm")
	require.Error(t, err)
	require.Contains(t, out, `manifest.capabilities.http: the module imports extism:host/user.wasmflow_http_fetch, which needs the "http" capability`)
	require.Contains(t, out, "node inspect: undeclared.wasm has 2 problem(s)")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
