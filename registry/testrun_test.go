package registry_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// A document-IO module gets the input document of DESIGN §4.
func TestTestRunInputDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.upload(t, e.tenant, "guest.wasm", manifest(t)) // run echoes its input
	res, err := e.reg.TestRun(t.Context(), e.tenant, "acme/guest", "1.0.0", &registry.TestRunInput{
		Items:  []workflow.Item{{"id": 1}, {"id": 2, "s": "x"}},
		Params: map[string]any{"channel": "#ops"},
	})
	require.NoError(t, err)
	require.JSONEq(t, `{
		"items": [{"id": 1}, {"id": 2, "s": "x"}],
		"inputs": {"main": [{"id": 1}, {"id": 2, "s": "x"}]},
		"params": {"channel": "#ops"},
		"node": {"name": "test", "module": "acme/guest", "version": "1.0.0"},
		"execution": {"id": "test", "workflow_id": "", "attempt": 1}
	}`, string(res.Output))
	require.Empty(t, res.Logs)
	require.Positive(t, res.Duration)

	// Nothing given: no items, empty params.
	for _, in := range []*registry.TestRunInput{nil, {}} {
		res, err = e.reg.TestRun(t.Context(), e.tenant, "acme/guest", "1.0.0", in)
		require.NoError(t, err)
		require.JSONEq(t, `{"items": [], "inputs": {"main": []}, "params": {},
			"node": {"name": "test", "module": "acme/guest", "version": "1.0.0"},
			"execution": {"id": "test", "workflow_id": "", "attempt": 1}}`, string(res.Output))
	}
}

func TestTestRunLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "entrypoint", "log"))
	res, err := e.reg.TestRun(t.Context(), e.tenant, "acme/guest", "1.0.0", nil)
	require.NoError(t, err)
	require.Len(t, res.Logs, 1)
	require.Equal(t, "info", res.Logs[0].Level)
	require.Equal(t, "hello from the guest", res.Logs[0].Message)
	require.False(t, res.LogsTruncated)
}

// A failing run is a *RunError with the runtime's kind, and its logs.
func TestTestRunFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	http := map[string]any{"http": map[string]any{"hosts": []string{"example.com"}}}
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/fail", "entrypoint", "fail"))
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/trap", "entrypoint", "trap"))
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/loop", "entrypoint", "loop", "limits", map[string]any{"timeout_ms": 50}))
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/text", "entrypoint", "hello"))
	e.upload(t, e.tenant, "http_fetch.wasm", manifest(t, "name", "acme/http", "capabilities", http))
	e.upload(t, e.tenant, "secret_get.wasm", manifest(t, "name", "acme/secret", "capabilities", map[string]any{"secrets": []string{"token"}}))

	for _, tc := range []struct {
		name, kind, message string
		logs                int
	}{
		{"acme/fail", "guest_error", "boom: bad params", 1},
		{"acme/trap", "trap", "unreachable", 0},
		{"acme/loop", "timeout", "deadline", 0},
		{"acme/text", "invalid_output", "", 0},
		// Granted (as the manifest declares), called with an empty handle: the
		// fetch answers invalid_request and the guest then outputs nothing.
		{"acme/http", "invalid_output", "", 0},
		{"acme/secret", "secret_not_granted", "no name given", 0},
	} {
		res, err := e.reg.TestRun(t.Context(), e.tenant, tc.name, "1.0.0", &registry.TestRunInput{Items: []workflow.Item{{"a": 1}}})
		runErr, ok := errors.AsType[*registry.RunError](err)
		require.True(t, ok, "%s: %T %v", tc.name, err, err)
		require.Equal(t, tc.kind, runErr.Kind, "%s: %v", tc.name, err)
		require.Contains(t, runErr.Message, tc.message, tc.name)
		require.NotNil(t, res, tc.name)
		require.Nil(t, res.Output)
		require.Len(t, res.Logs, tc.logs, tc.name)
		if tc.kind == "timeout" {
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}
		if tc.kind == "guest_error" {
			require.EqualValues(t, 1, runErr.ExitCode)
		}
		switch tc.name {
		case "acme/http":
			require.Len(t, res.HostCalls, 1)
			require.Equal(t, "http_request", res.HostCalls[0].Kind)
			require.Equal(t, "invalid_request", res.HostCalls[0].Error)
		case "acme/secret":
			require.Len(t, res.HostCalls, 0, "a read without a name never reaches the grant")
		default:
			require.Empty(t, res.HostCalls, tc.name)
		}
	}
}

// A raw-IO module runs once per item; each reply lands in its item.
func TestTestRunRaw(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/echo", "io", "raw"))
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/hello", "io", "raw", "entrypoint", "hello"))
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/trap", "io", "raw", "entrypoint", "trap"))
	items := []workflow.Item{{"id": 1}, {"id": 2}}

	res, err := e.reg.TestRun(t.Context(), e.tenant, "acme/echo", "1.0.0", &registry.TestRunInput{Items: items})
	require.NoError(t, err)
	require.JSONEq(t, `{"items": [{"id": 1, "result": {"id": 1}}, {"id": 2, "result": {"id": 2}}]}`, string(res.Output))
	require.Equal(t, []workflow.Item{{"id": 1}, {"id": 2}}, items, "the input items are not changed")

	res, err = e.reg.TestRun(t.Context(), e.tenant, "acme/hello", "1.0.0", &registry.TestRunInput{
		Items: items, Params: map[string]any{"output_field": "greeting"},
	})
	require.NoError(t, err)
	require.JSONEq(t, `{"items": [{"id": 1, "greeting": "hello from the guest"}, {"id": 2, "greeting": "hello from the guest"}]}`, string(res.Output))

	res, err = e.reg.TestRun(t.Context(), e.tenant, "acme/echo", "1.0.0", nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"items": []}`, string(res.Output))

	res, err = e.reg.TestRun(t.Context(), e.tenant, "acme/trap", "1.0.0", &registry.TestRunInput{Items: items})
	runErr, ok := errors.AsType[*registry.RunError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "trap", runErr.Kind)
	require.NotNil(t, res)

	_, err = e.reg.TestRun(t.Context(), e.tenant, "acme/echo", "1.0.0", &registry.TestRunInput{Items: []workflow.Item{{"f": func() {}}}})
	require.Error(t, err)
}

// A raw-IO test run follows a workflow's rules: the param input evaluated
// per item, output_field, one instance unless the manifest asks for one per
// item, and a failure naming its item.
func TestTestRunRawParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/echo", "io", "raw"))
	rawItems, err := os.ReadFile(filepath.Join("..", "runtime", "testdata", "raw_items.wasm"))
	require.NoError(t, err)
	for _, m := range [][]byte{
		manifest(t, "name", "acme/count", "io", "raw"),
		manifest(t, "name", "acme/count-isolated", "io", "raw", "instance", "per_item"),
	} {
		_, _, err := e.reg.Upload(t.Context(), e.tenant, &registry.UploadParams{Module: rawItems, Manifest: m})
		require.NoError(t, err)
	}
	run := func(name string, params map[string]any, items ...workflow.Item) (string, error) {
		res, err := e.reg.TestRun(t.Context(), e.tenant, name, "1.0.0", &registry.TestRunInput{Items: items, Params: params})
		require.NotNil(t, res)
		return string(res.Output), err
	}

	out, err := run("acme/echo", map[string]any{"input": "{{ $json.id * 10 }}", "output_field": "x"}, workflow.Item{"id": 1}, workflow.Item{"id": 2})
	require.NoError(t, err)
	require.JSONEq(t, `{"items": [{"id": 1, "x": 10}, {"id": 2, "x": 20}]}`, out)
	out, err = run("acme/echo", map[string]any{"input": "{{ $json.s }}"}, workflow.Item{"s": "not JSON"})
	require.NoError(t, err)
	require.JSONEq(t, `{"items": [{"s": "not JSON", "result": "not JSON"}]}`, out)

	items := []workflow.Item{{"cmd": "a"}, {"cmd": "b"}, {"cmd": "c"}}
	out, err = run("acme/count", nil, items...)
	require.NoError(t, err)
	require.JSONEq(t, `{"items": [{"cmd": "a", "result": {"calls": 1}}, {"cmd": "b", "result": {"calls": 2}}, {"cmd": "c", "result": {"calls": 3}}]}`, out)
	out, err = run("acme/count-isolated", nil, items...)
	require.NoError(t, err)
	require.JSONEq(t, `{"items": [{"cmd": "a", "result": {"calls": 1}}, {"cmd": "b", "result": {"calls": 1}}, {"cmd": "c", "result": {"calls": 1}}]}`, out)

	for _, tc := range []struct {
		name    string
		params  map[string]any
		kind    string
		message string
	}{
		{"ItemFails", map[string]any{"input": "{{ $json.cmd }}"}, "guest_error", "item 1: refused: fail b"},
		{"Expression", map[string]any{"input": "{{ fromJSON($json.cmd) }}"}, "expression", "item 0: params.input: expression"},
		{"OutputField", map[string]any{"output_field": ""}, "invalid_params", "params.output_field must not be empty"},
	} {
		_, err := run("acme/count", tc.params, workflow.Item{"cmd": "a"}, workflow.Item{"cmd": "fail b"})
		runErr, ok := errors.AsType[*registry.RunError](err)
		require.True(t, ok, "%s: %v", tc.name, err)
		require.Equal(t, tc.kind, runErr.Kind, tc.name)
		require.True(t, strings.HasPrefix(runErr.Message, tc.message), "%s: %s", tc.name, runErr.Message)
	}
}

// Another tenant's modules do not exist for a tenant.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.upload(t, e.tenant, "guest.wasm", manifest(t))

	_, err := e.reg.Get(ctx, e.tenantB, "acme/guest", "1.0.0")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.reg.Versions(ctx, e.tenantB, "acme/guest")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.reg.Load(ctx, e.tenantB, "acme/guest", "1.0.0")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.reg.TestRun(ctx, e.tenantB, "acme/guest", "1.0.0", nil)
	require.ErrorIs(t, err, store.ErrNotFound)
	for _, ref := range []string{"acme/guest", "acme/guest@1.0.0", "acme/guest@^1"} {
		_, err = e.reg.Resolve(ctx, e.tenantB, ref)
		require.ErrorIs(t, err, store.ErrNotFound, ref)
	}
	list, next, err := e.reg.List(ctx, e.tenantB, store.Page{})
	require.NoError(t, err)
	require.Empty(t, list)
	require.Empty(t, next)

	// The owner still sees it.
	_, err = e.reg.TestRun(ctx, e.tenant, "acme/guest", "1.0.0", nil)
	require.NoError(t, err)
}

func TestListPaginates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"acme/c", "acme/a", "acme/b"} {
		e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", name))
	}
	page1, next, err := e.reg.List(t.Context(), e.tenant, store.Page{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page1, 2)
	require.Equal(t, "acme/a", page1[0].Name)
	require.NotEmpty(t, next)
	page2, next, err := e.reg.List(t.Context(), e.tenant, store.Page{Limit: 2, Cursor: next})
	require.NoError(t, err)
	require.Len(t, page2, 1)
	require.Equal(t, "acme/c", page2[0].Name)
	require.Empty(t, next)
	_, _, err = e.reg.List(t.Context(), e.tenant, store.Page{Cursor: "garbage"})
	require.ErrorIs(t, err, store.ErrInvalidCursor)
}

// Stored bytes or manifests that went bad are errors, not runs.
func TestLoadDetectsCorruption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "wasmflow.db")
	st, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	rtEnv := newEnv(t) // for its runtime
	reg, err := registry.New(registry.Config{Store: st, Runtime: rtEnv.rt})
	require.NoError(t, err)
	tn, err := st.TenantInsert(t.Context(), "acme")
	require.NoError(t, err)
	_, _, err = reg.Upload(t.Context(), tn.ID, &registry.UploadParams{Module: fixture(t, "guest.wasm"), Manifest: manifest(t)})
	require.NoError(t, err)
	_, _, err = reg.Upload(t.Context(), tn.ID, &registry.UploadParams{Module: fixture(t, "bigmem.wasm"), Manifest: manifest(t, "name", "acme/big")})
	require.NoError(t, err)

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(t.Context(), `UPDATE module_blobs SET data = x'0061736d' WHERE digest = (SELECT digest FROM module_versions WHERE name = 'acme/guest')`)
	require.NoError(t, err)
	_, err = db.ExecContext(t.Context(), `UPDATE module_versions SET manifest = '[]' WHERE name = 'acme/big'`)
	require.NoError(t, err)

	_, err = reg.Load(t.Context(), tn.ID, "acme/guest", "1.0.0")
	require.ErrorContains(t, err, "stored bytes have digest")
	_, err = reg.TestRun(t.Context(), tn.ID, "acme/guest", "1.0.0", nil)
	require.Error(t, err)
	_, err = reg.Load(t.Context(), tn.ID, "acme/big", "1.0.0")
	require.ErrorContains(t, err, "stored manifest")
	_, err = reg.Resolve(t.Context(), tn.ID, "acme/big")
	require.ErrorContains(t, err, "stored manifest")
}

// A runtime that is gone fails a test run as an error, not a RunError.
func TestTestRunRuntimeClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.upload(t, e.tenant, "guest.wasm", manifest(t))
	require.NoError(t, e.rt.Close(t.Context()))
	_, err := e.reg.TestRun(t.Context(), e.tenant, "acme/guest", "1.0.0", nil)
	require.Error(t, err)
	_, ok := errors.AsType[*registry.RunError](err)
	require.False(t, ok, "%v", err)
	_, _, err = e.reg.List(t.Context(), e.tenant, store.Page{})
	require.NoError(t, err)
	require.NoError(t, e.store.Close())
	_, _, err = e.reg.List(t.Context(), e.tenant, store.Page{})
	require.Error(t, err)
	_, err = e.reg.Load(t.Context(), e.tenant, "acme/guest", "1.0.0")
	require.Error(t, err)
	require.NotErrorIs(t, err, store.ErrNotFound)
}

// Check refuses what Upload refuses and stores nothing; what it accepts runs
// through TestRunModule exactly as the stored version runs through TestRun.
func TestCheckAndTestRunModule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	_, err := e.reg.Check(ctx, &registry.UploadParams{Module: fixture(t, "unknown_hostfunc.wasm"), Manifest: manifest(t)})
	refusal(t, err, registry.CodeImportNotAllowed)
	_, err = e.reg.Check(ctx, nil)
	refusal(t, err, registry.CodeModuleInvalid)

	wasm := fixture(t, "guest.wasm")
	mod, err := e.reg.Check(ctx, &registry.UploadParams{Module: wasm, Manifest: manifest(t)})
	require.NoError(t, err)
	require.Equal(t, "acme/guest", mod.Version.Name)
	require.Equal(t, int64(len(wasm)), mod.Version.Size)
	require.True(t, strings.HasPrefix(mod.Version.Digest, "sha256:"))
	_, err = e.reg.Get(ctx, e.tenant, "acme/guest", "1.0.0")
	require.ErrorIs(t, err, store.ErrNotFound, "Check stores nothing")

	in := &registry.TestRunInput{Items: []workflow.Item{{"id": 1}}, Params: map[string]any{"p": true}}
	local, err := e.reg.TestRunModule(ctx, e.tenant, mod, in)
	require.NoError(t, err)
	require.Positive(t, local.MemoryPeakBytes)
	e.upload(t, e.tenant, "guest.wasm", manifest(t))
	stored, err := e.reg.TestRun(ctx, e.tenant, "acme/guest", "1.0.0", in)
	require.NoError(t, err)
	require.JSONEq(t, string(stored.Output), string(local.Output))
	require.Equal(t, stored.MemoryPeakBytes, local.MemoryPeakBytes)

	_, err = e.reg.TestRunModule(ctx, e.tenant, nil, in)
	require.ErrorContains(t, err, "module with its version and manifest is required")
}
