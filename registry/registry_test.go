package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a registry on a fresh SQLite store and a real runtime, with two tenants.
type env struct {
	reg     *registry.Registry
	store   *sqlite.Store
	rt      *runtime.Runtime
	tenant  string // "acme"
	tenantB string // "globex"
}

type envOpts struct {
	cfg registry.Config
	rt  runtime.Config
}

func newEnv(t testing.TB) *env { return newEnvWith(t, envOpts{}) }

func newEnvWith(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "wasmflow.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Migrate(ctx))
	rt, err := runtime.New(ctx, o.rt)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close(context.Background())) })
	cfg := o.cfg
	cfg.Store, cfg.Runtime = st, rt
	reg, err := registry.New(cfg)
	require.NoError(t, err)
	a, err := st.TenantInsert(ctx, "acme")
	require.NoError(t, err)
	b, err := st.TenantInsert(ctx, "globex")
	require.NoError(t, err)
	return &env{reg: reg, store: st, rt: rt, tenant: a.ID, tenantB: b.ID}
}

// fixture reads a module from testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return wasm
}

// manifest is a valid manifest for acme/guest@1.0.0 (extism-v1), changed by
// the key/value pairs given (a nil value deletes the key).
func manifest(t testing.TB, kv ...any) []byte {
	t.Helper()
	m := map[string]any{"name": "acme/guest", "version": "1.0.0", "abi": "extism-v1"}
	require.Zero(t, len(kv)%2)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
			continue
		}
		m[k] = kv[i+1]
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// upload uploads a fixture with a manifest and requires success.
func (e *env) upload(t testing.TB, tenant, wasm string, mf []byte) *store.ModuleVersion {
	t.Helper()
	v, _, err := e.reg.Upload(context.Background(), tenant, &registry.UploadParams{Module: fixture(t, wasm), Manifest: mf})
	require.NoError(t, err)
	return v
}

// refusal requires err to be a *registry.Error with code and returns it.
func refusal(t testing.TB, err error, code string) *registry.Error {
	t.Helper()
	require.Error(t, err)
	re, ok := errors.AsType[*registry.Error](err)
	require.True(t, ok, "want *registry.Error, got %T: %v", err, err)
	require.Equal(t, code, re.Code, "%v", err)
	require.NotEmpty(t, re.Problems)
	for _, p := range re.Problems {
		require.NotEmpty(t, p.Field)
		require.NotEmpty(t, p.Message)
	}
	return re
}

// fields lists the fields of an error's problems.
func fields(e *registry.Error) []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Field
	}
	return out
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, cfg := range map[string]registry.Config{
		"no store":              {Runtime: e.rt},
		"no runtime":            {Store: e.store},
		"negative module cap":   {Store: e.store, Runtime: e.rt, MaxModuleBytes: -1},
		"negative manifest cap": {Store: e.store, Runtime: e.rt, MaxManifestBytes: -1},
	} {
		_, err := registry.New(cfg)
		require.Error(t, err, name)
	}
	reg, err := registry.New(registry.Config{Store: e.store, Runtime: e.rt})
	require.NoError(t, err)
	require.EqualValues(t, 32<<20, reg.MaxModuleBytes())
	require.EqualValues(t, 64<<10, reg.MaxManifestBytes())
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	e := &registry.Error{Code: "manifest_invalid", Problems: []registry.Problem{
		{Field: "manifest.name", Message: "bad"}, {Field: "manifest.version", Message: "bad"},
		{Field: "manifest.abi", Message: "bad"}, {Field: "manifest.io", Message: "bad"},
	}}
	require.Equal(t, "registry: manifest_invalid: manifest.name: bad; manifest.version: bad; manifest.abi: bad; and 1 more", e.Error())
	require.NoError(t, e.Unwrap())
	re := &registry.RunError{Kind: "trap", Message: "unreachable", Err: context.DeadlineExceeded}
	require.Equal(t, "registry: test run failed: trap: unreachable", re.Error())
	require.ErrorIs(t, re, context.DeadlineExceeded)
}
