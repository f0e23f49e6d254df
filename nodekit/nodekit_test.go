package nodekit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"

	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/nodekit"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
)

// newRuntime is a runtime with the platform's defaults, closed at the end.
func newRuntime(t testing.TB) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// guestManifest is a manifest for testdata/guest.wasm with entrypoint entry,
// declaring both capabilities, changed by kv (a nil value deletes a key).
func guestManifest(t testing.TB, entry string, kv ...any) []byte {
	t.Helper()
	m := map[string]any{
		"name": "acme/guest", "version": "1.0.0", "abi": "extism-v1", "entrypoint": entry,
		"capabilities": map[string]any{"http": map[string]any{"hosts": []string{"api.example.com"}}, "secrets": []string{"token"}},
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// project writes a project of testdata/guest.wasm: its manifest and files
// (path → content).
func project(t testing.TB, manifest []byte, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "wasmflow.json", string(manifest))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "guest.wasm"), fixture(t, "guest.wasm"), 0o600))
	for name, content := range files {
		write(t, dir, name, content)
	}
	return dir
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
}

const doc = `{"items": [{"id": 1, "n": 12345678901234567890}], "params": {"p": "x"}}`

// theDoc is what the guest's echo outputs for doc: the input document of a test run.
const theDoc = `{"items": [{"id": 1, "n": 12345678901234567890}], "inputs": {"main": [{"id": 1, "n": 12345678901234567890}]},
	"params": {"p": "x"}, "node": {"name": "test", "module": "acme/guest", "version": "1.0.0"},
	"execution": {"id": "test", "workflow_id": "", "attempt": 1}}`

func caseByName(t *testing.T, r *nodekit.TestReport, name string) nodekit.CaseResult {
	t.Helper()
	for _, c := range r.Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %s in %+v", name, r.Cases)
	return nodekit.CaseResult{}
}

// A right output passes, a wrong one fails with a diff, --update rewrites
// it, and the figures of each run are reported.
func TestTestOutputs(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	dir := project(t, guestManifest(t, "run"), map[string]string{
		"testdata/good.input.json":   doc,
		"testdata/good.output.json":  theDoc,
		"testdata/wrong.input.json":  doc,
		"testdata/wrong.output.json": strings.Replace(theDoc, `"p": "x"`, `"p": "y"`, 1),
		"testdata/new.input.json":    doc,
	})
	report, err := nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt})
	require.NoError(t, err)
	require.Equal(t, "acme/guest@1.0.0", report.Module)
	require.Equal(t, 1, report.Passed)
	require.Equal(t, 2, report.Failed)

	good := caseByName(t, report, "good")
	require.Equal(t, nodekit.StatusPass, good.Status)
	require.Positive(t, good.Duration)
	require.Positive(t, good.MemoryPeakBytes)
	require.Positive(t, good.OutputBytes)

	wrong := caseByName(t, report, "wrong")
	require.Equal(t, nodekit.StatusFail, wrong.Status)
	require.Contains(t, wrong.Message, "output differs from testdata/wrong.output.json")
	require.Contains(t, wrong.Diff, "-    \"p\": \"y\"\n+    \"p\": \"x\"\n")

	require.Contains(t, caseByName(t, report, "new").Message, "no testdata/new.output.json")

	var text bytes.Buffer
	require.NoError(t, report.WriteText(&text))
	require.Contains(t, text.String(), "PASS  good")
	require.Contains(t, text.String(), "FAIL wrong: output differs")
	require.Contains(t, text.String(), "1 passed, 2 failed")

	// --update writes the outputs; then everything passes, numbers intact.
	report, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt, Update: true})
	require.NoError(t, err)
	require.Equal(t, nodekit.StatusUpdated, caseByName(t, report, "wrong").Status)
	require.Equal(t, nodekit.StatusPass, caseByName(t, report, "good").Status)
	written, err := os.ReadFile(filepath.Join(dir, "testdata", "new.output.json"))
	require.NoError(t, err)
	require.JSONEq(t, theDoc, string(written))
	require.Contains(t, string(written), "12345678901234567890")
	report, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt, Cases: []string{"new", "wrong"}})
	require.NoError(t, err)
	require.Equal(t, 2, report.Passed)
	require.Zero(t, report.Failed)
}

// A module that runs past its time limit fails its case as a timeout.
func TestTestTimeout(t *testing.T) {
	t.Parallel()
	dir := project(t, guestManifest(t, "loop", "limits", map[string]any{"timeout_ms": 50}), map[string]string{
		"testdata/spin.input.json": doc, "testdata/spin.output.json": `{}`,
	})
	report, err := nodekit.Test(t.Context(), dir, nil)
	require.NoError(t, err)
	spin := caseByName(t, report, "spin")
	require.Equal(t, nodekit.StatusFail, spin.Status)
	require.Equal(t, "timeout", spin.Kind)
	require.Contains(t, spin.Message, "timeout: ")
}

// HTTP requests are answered from testdata/http; one without a fixture
// fails the case, naming the request.
func TestTestHTTPFixtures(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	reply := `{"status": 200, "headers": {"content-length": "10", "content-type": "application/json"}, "body": "eyJpZCI6IjEifQ=="}`
	dir := project(t, guestManifest(t, "fetch"), map[string]string{
		"testdata/get.input.json":  doc,
		"testdata/get.output.json": reply,
		"testdata/http/users.json": `[{"request": {"method": "POST", "url": "https://api.example.com/users/1"}, "response": {"status": 500}},
			{"request": {"url": "https://api.example.com/users/1", "headers": {"User-Agent": "wasmflow"}},
			 "response": {"headers": {"Content-Type": "application/json"}, "body": {"id": "1"}}}]`,
	})
	report, err := nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt})
	require.NoError(t, err)
	get := caseByName(t, report, "get")
	require.Equal(t, nodekit.StatusPass, get.Status, "%s\n%s", get.Message, get.Diff)
	require.Len(t, get.HostCalls, 1)
	require.Equal(t, "http_request", get.HostCalls[0].Kind)
	require.Equal(t, "api.example.com", get.HostCalls[0].Host)
	require.Equal(t, 200, get.HostCalls[0].Status)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "testdata", "http", "users.json"),
		[]byte(`{"request": {"url": "https://api.example.com/users/2"}, "response": {"body": "x"}}`), 0o600))
	report, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt})
	require.NoError(t, err)
	get = caseByName(t, report, "get")
	require.Equal(t, nodekit.StatusFail, get.Status)
	require.Equal(t, []string{"GET https://api.example.com/users/1"}, get.Unmatched)
	require.Contains(t, get.Message, "HTTP request with no recorded fixture: GET https://api.example.com/users/1")

	// A broken fixture file stops the test, naming the file.
	write(t, dir, "testdata/http/bad.json", `{"request": {"url": "ftp://x"}}`)
	_, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt})
	require.ErrorContains(t, err, "testdata/http/bad.json")
}

// Secrets come from the local file, bound by their declared names.
func TestTestSecrets(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	dir := project(t, guestManifest(t, "secret"), map[string]string{
		"testdata/read.input.json":  doc,
		"testdata/read.output.json": `{"ok": true}`,
	})
	report, err := nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt, Secrets: map[string]string{"token": `{"ok": true}`}})
	require.NoError(t, err)
	read := caseByName(t, report, "read")
	require.Equal(t, nodekit.StatusPass, read.Status, read.Message)
	require.Equal(t, "secret_read", read.HostCalls[0].Kind)
	require.Equal(t, "token", read.HostCalls[0].Secret)

	report, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt})
	require.NoError(t, err)
	read = caseByName(t, report, "read")
	require.Equal(t, nodekit.StatusFail, read.Status)
	require.Equal(t, "secret_not_granted", read.Kind)

	secrets := filepath.Join(t.TempDir(), "secrets.json")
	require.NoError(t, os.WriteFile(secrets, []byte(`{"token": "v"}`), 0o600))
	m, err := nodekit.ReadSecretsFile(secrets)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"token": "v"}, m)
	for _, bad := range []string{`[]`, `{"token": 1}`, `null`, `{} {}`} {
		require.NoError(t, os.WriteFile(secrets, []byte(bad), 0o600))
		_, err = nodekit.ReadSecretsFile(secrets)
		require.ErrorContains(t, err, "want one JSON object", bad)
	}
	_, err = nodekit.ReadSecretsFile(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)
}

// NAME.error.txt expects a failure saying that text.
func TestTestExpectedErrors(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	dir := project(t, guestManifest(t, "fail"), map[string]string{
		"testdata/said.input.json":   doc,
		"testdata/said.error.txt":    "boom: bad params\n",
		"testdata/logged.input.json": doc,
		"testdata/logged.error.txt":  "hello from the guest",
		"testdata/other.input.json":  doc,
		"testdata/other.error.txt":   "something else",
		"testdata/plain.input.json":  doc,
		"testdata/plain.output.json": `{}`,
		"testdata/broken.input.json": `{"items": 3}`,
	})
	report, err := nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt})
	require.NoError(t, err)
	require.Equal(t, nodekit.StatusPass, caseByName(t, report, "said").Status)
	require.Equal(t, nodekit.StatusPass, caseByName(t, report, "logged").Status)
	other := caseByName(t, report, "other")
	require.Equal(t, nodekit.StatusFail, other.Status)
	require.Contains(t, other.Message, `expects "something else"`)
	plain := caseByName(t, report, "plain")
	require.Equal(t, "guest_error: boom: bad params", plain.Message)
	require.Contains(t, caseByName(t, report, "broken").Message, "not an input document")

	var text bytes.Buffer
	require.NoError(t, report.WriteText(&text))
	require.Contains(t, text.String(), "[info] hello from the guest")

	// A run that succeeds where a failure is expected fails.
	ok := project(t, guestManifest(t, "run"), map[string]string{"testdata/x.input.json": doc, "testdata/x.error.txt": "boom"})
	report, err = nodekit.Test(t.Context(), ok, &nodekit.TestOpts{Runtime: rt})
	require.NoError(t, err)
	require.Contains(t, caseByName(t, report, "x").Message, "the run succeeded")
}

// What stops a test before any case runs.
func TestTestRefusals(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	opts := &nodekit.TestOpts{Runtime: rt}

	// The server would refuse the module: an import whose capability is undeclared.
	dir := project(t, guestManifest(t, "run", "capabilities", map[string]any{"secrets": []string{"token"}}),
		map[string]string{"testdata/a.input.json": doc})
	_, err := nodekit.Test(t.Context(), dir, opts)
	require.ErrorContains(t, err, "the server would refuse this module")
	require.ErrorContains(t, err, "wasmflow_http_fetch")

	dir = project(t, guestManifest(t, "run"), nil)
	_, err = nodekit.Test(t.Context(), dir, opts)
	require.ErrorContains(t, err, "no testdata/*.input.json")

	write(t, dir, "testdata/a.input.json", doc)
	_, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt, Cases: []string{"zzz"}})
	require.ErrorContains(t, err, `no test case "zzz" (cases: a)`)

	require.NoError(t, os.Remove(filepath.Join(dir, "guest.wasm")))
	_, err = nodekit.Test(t.Context(), dir, opts)
	require.ErrorContains(t, err, "build it first")
	_, err = nodekit.Test(t.Context(), dir, &nodekit.TestOpts{Runtime: rt, Wasm: filepath.Join(dir, "other.wasm")})
	require.ErrorContains(t, err, "other.wasm")

	_, err = nodekit.Test(t.Context(), t.TempDir(), opts)
	require.ErrorContains(t, err, "is not a node project")
	bad := t.TempDir()
	write(t, bad, "wasmflow.json", `{"name": "Bad"}`)
	_, err = nodekit.Test(t.Context(), bad, opts)
	re, ok := errors.AsType[*registry.Error](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, registry.CodeManifestInvalid, re.Code)
}

func TestInspect(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ctx := t.Context()
	wasm := fixture(t, "guest.wasm")

	r, err := nodekit.Inspect(ctx, rt, wasm, nil)
	require.NoError(t, err)
	require.Equal(t, len(wasm), r.Size)
	require.Len(t, r.SHA256, 64)
	require.Equal(t, "extism-v1", r.ABI)
	require.Equal(t, []string{"http", "secrets"}, r.Capabilities)
	require.Empty(t, r.Problems)
	require.Equal(t, &runtime.MemoryInfo{MinPages: 1}, r.Memory)
	statuses := map[string]string{}
	for _, im := range r.Imports {
		statuses[im.Name] = im.Status
	}
	require.Equal(t, nodekit.ImportProvided, statuses["alloc"])
	require.Equal(t, nodekit.ImportNeedsGrant, statuses["wasmflow_http_fetch"])
	require.Equal(t, nodekit.ImportNeedsGrant, statuses["wasmflow_secret_get"])
	require.Contains(t, r.Exports, runtime.Export{Name: "fetch", Extern: "func", Results: []string{"i32"}})

	// With a manifest that does not declare http: the undeclared import is a problem naming it.
	r, err = nodekit.Inspect(ctx, rt, wasm, guestManifest(t, "run", "capabilities", map[string]any{"secrets": []string{"token"}}))
	require.NoError(t, err)
	require.Equal(t, "acme/guest", r.Manifest.Name)
	require.Len(t, r.Problems, 1)
	require.Equal(t, "manifest.capabilities.http", r.Problems[0].Field)
	require.Contains(t, r.Problems[0].Message, "imports extism:host/user.wasmflow_http_fetch, which needs the \"http\" capability")
	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	for _, want := range []string{"abi      extism-v1", "needs    http, secrets", "manifest acme/guest@1.0.0",
		"memory   declared: minimum 1 pages (64.0 KiB), no maximum", "extism:host/user.wasmflow_http_fetch", "problems (1)"} {
		require.Contains(t, text.String(), want)
	}

	// A manifest that does not parse is a problem too.
	r, err = nodekit.Inspect(ctx, rt, wasm, []byte(`{"name": 1}`))
	require.NoError(t, err)
	require.NotEmpty(t, r.Problems)

	// Refused and unknown imports.
	r, err = nodekit.Inspect(ctx, rt, fixture(t, "refused.wasm"), nil)
	require.NoError(t, err)
	require.Equal(t, "extism-v1", r.ABI)
	require.Empty(t, r.Capabilities)
	require.Equal(t, &runtime.MemoryInfo{MinPages: 2, MaxPages: 4, HasMax: true}, r.Memory)
	var msgs []string
	for _, p := range r.Problems {
		msgs = append(msgs, p.Message)
	}
	require.Len(t, msgs, 3, "%v", msgs)
	require.Contains(t, msgs[0], "extism:host/env.http_request: Extism's built-in HTTP client is never allowed")
	require.Contains(t, msgs[1], "extism:host/user.steal_everything: not a wasmflow host function")
	require.Contains(t, msgs[2], "env.abort: nothing provides")
	text.Reset()
	require.NoError(t, r.WriteText(&text))
	require.Contains(t, text.String(), "maximum 4 pages (256.0 KiB)")
	require.Contains(t, text.String(), "needs    none")

	_, err = nodekit.Inspect(ctx, rt, []byte("not wasm"), nil)
	require.ErrorContains(t, err, "not a usable WebAssembly module")
	_, err = nodekit.Inspect(ctx, failingInspector{}, wasm, nil)
	require.ErrorContains(t, err, "inspector down")
}

type failingInspector struct{}

func (failingInspector) Inspect(context.Context, []byte) (*runtime.ModuleInfo, error) {
	return nil, errors.New("inspector down")
}

// FuzzInspect: no bytes make Inspect panic, and a report always comes with
// a digest of the bytes or an error.
func FuzzInspect(f *testing.F) {
	for _, name := range []string{"guest.wasm", "refused.wasm"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b[:len(b)/2], true)
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"), true)
	rt := newRuntime(f)
	manifest := []byte(`{"name": "acme/guest", "version": "1.0.0", "abi": "extism-v1"}`)
	f.Fuzz(func(t *testing.T, wasm []byte, withManifest bool) {
		var m []byte
		if withManifest {
			m = manifest
		}
		r, err := nodekit.Inspect(context.Background(), rt, wasm, m)
		if err != nil {
			require.Nil(t, r)
			return
		}
		require.Equal(t, len(wasm), r.Size)
		require.Contains(t, []string{"extism-v1", "wasi-command-v1", "raw"}, r.ABI)
	})
}
