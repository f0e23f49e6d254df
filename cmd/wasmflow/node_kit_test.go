package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// author is a node author's CLI setup against a started server: its
// environment and a registered signing key of publisher acme.
type author struct {
	bin     string
	env     []string
	keyFile string
}

// newAuthor generates a key for publisher acme and registers it, creating
// the publisher: keys generate, keys register.
func newAuthor(t *testing.T, bin, base, key string) *author {
	t.Helper()
	work := t.TempDir()
	a := &author{bin: bin, env: append(os.Environ(), "WASMFLOW_SERVER="+base, "WASMFLOW_API_KEY="+key,
		"XDG_CONFIG_HOME="+filepath.Join(work, "no-config"), "WASMFLOW_CONFIG=")}
	keyID := strings.TrimSpace(a.run(t, work, "keys", "generate", "--publisher", "acme", "--out", work))
	a.keyFile = filepath.Join(work, "acme-"+strings.TrimPrefix(keyID, "ed25519:")+".key")
	require.Contains(t, a.run(t, work, "keys", "register", "--key", a.keyFile, "--create-publisher"), keyID)
	return a
}

func (a *author) run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), a.bin, args...)
	cmd.Dir, cmd.Env = dir, a.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%v: %s%s", args, stdout.String(), stderr.String())
	return stdout.String()
}

// publish signs the built node in dir and pushes it to the server: node
// sign, node push.
func (a *author) publish(t *testing.T, dir string) {
	t.Helper()
	require.Contains(t, a.run(t, dir, "node", "sign", "--key", a.keyFile), "signed acme/")
	require.Contains(t, a.run(t, dir, "node", "push"), "signature: verified, publisher acme")
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
	author := newAuthor(t, bin, base, key)

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

			author.publish(t, dir)
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
