package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestUploadStoresVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	wasm := fixture(t, "guest.wasm")
	mf := []byte(`{
		"name": "acme/guest", "version": "1.2.0", "abi": "extism-v1",
		"description": "echoes <its> input & more",
		"params_schema": { "type": "object",  "properties": {"x": {"type": "string"}} },
		"capabilities": {"http": {"hosts": ["api.example.com", "*.example.org"], "methods": ["GET"]}, "secrets": ["token"]},
		"limits": {"memory_mb": 16, "timeout_ms": 1000}
	}`)
	key := e.publisher(t, e.tenant, "acme")
	sig := sign(t, key, "acme/guest", "1.2.0", wasm, mf)
	v, created, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sig})
	require.NoError(t, err)
	require.True(t, created)
	sum := sha256.Sum256(wasm)
	require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), v.Digest)
	require.Equal(t, "acme/guest", v.Name)
	require.Equal(t, "1.2.0", v.Version)
	require.Equal(t, workflow.ABIExtism, v.ABI)
	require.EqualValues(t, len(wasm), v.Size)
	require.Equal(t, e.tenant, v.TenantID)
	require.JSONEq(t, string(sig), string(v.Signature))
	require.JSONEq(t, string(mf), string(v.Manifest))
	require.False(t, v.CreatedAt.IsZero())

	// Readable, byte for byte.
	got, err := e.reg.Get(ctx, e.tenant, "acme/guest", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, v, got)
	mod, err := e.reg.Load(ctx, e.tenant, "acme/guest", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, wasm, mod.Wasm)
	require.Equal(t, v, mod.Version)
	require.Equal(t, "api.example.com", mod.Manifest.Capabilities.HTTP.Hosts[0])
	require.Equal(t, 16, mod.Manifest.Limits.MemoryMB)
	require.JSONEq(t, `{"type":"object","properties":{"x":{"type":"string"}}}`, string(mod.Manifest.ParamsSchema))

	vs, err := e.reg.Versions(ctx, e.tenant, "acme/guest")
	require.NoError(t, err)
	require.Equal(t, []*store.ModuleVersion{v}, vs)
	list, next, err := e.reg.List(ctx, e.tenant, store.Page{})
	require.NoError(t, err)
	require.Empty(t, next)
	require.Len(t, list, 1)
	require.Equal(t, "acme/guest", list[0].Name)
	require.Equal(t, "1.2.0", list[0].LatestVersion)
	require.Equal(t, 1, list[0].Versions)
}

func TestUploadIdempotentAndImmutable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	guest := fixture(t, "guest.wasm")
	mf := manifest(t, "description", "first")
	first, created, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: guest, Manifest: mf})
	require.NoError(t, err)
	require.True(t, created)

	// The same bytes and manifest again (even formatted differently, or with a
	// signature): the stored version, not created.
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, mf, "", "    "))
	key := e.publisher(t, e.tenant, "acme")
	signed := sign(t, key, "acme/guest", "1.0.0", guest, indented.Bytes())
	again, created, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: guest, Manifest: indented.Bytes(), Signature: signed})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, again, "the stored version stays, unsigned")

	// Other bytes under the same version: refused, as a conflict.
	_, _, err = e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: fixture(t, "bigmem.wasm"), Manifest: mf})
	re := refusal(t, err, registry.CodeVersionImmutable)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Equal(t, []string{"manifest.version"}, fields(re))
	require.Contains(t, re.Problems[0].Message, "versions are immutable")
	require.Contains(t, re.Problems[0].Message, "other bytes")

	// The same bytes with another manifest: refused too.
	_, _, err = e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: guest, Manifest: manifest(t, "description", "second")})
	re = refusal(t, err, registry.CodeVersionImmutable)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, re.Problems[0].Message, "another manifest")

	// Nothing changed.
	got, err := e.reg.Get(ctx, e.tenant, "acme/guest", "1.0.0")
	require.NoError(t, err)
	require.Equal(t, first, got)

	// The same bytes under a new version share the stored blob.
	v2, created, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: guest, Manifest: manifest(t, "version", "1.0.1")})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, first.Digest, v2.Digest)

	// Another tenant may upload the very same name and version with other bytes.
	_, created, err = e.reg.Upload(ctx, e.tenantB, &registry.UploadParams{Module: fixture(t, "bigmem.wasm"), Manifest: mf})
	require.NoError(t, err)
	require.True(t, created)
}

// Concurrent uploads of one version: exactly one creates it, the others see it.
func TestUploadConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	guest := fixture(t, "guest.wasm")
	mf := manifest(t)
	const n = 8
	created := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, c, err := e.reg.Upload(context.Background(), e.tenant, &registry.UploadParams{Module: guest, Manifest: mf})
			created <- c
			errs <- err
		}()
	}
	count := 0
	for range n {
		require.NoError(t, <-errs)
		if <-created {
			count++
		}
	}
	require.GreaterOrEqual(t, count, 1)
	vs, err := e.reg.Versions(t.Context(), e.tenant, "acme/guest")
	require.NoError(t, err)
	require.Len(t, vs, 1)
}

// Each hostile upload is refused with the right code, naming the right field.
func TestUploadRefusesHostileModules(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{cfg: registry.Config{MaxModuleBytes: 64 << 10}})
	guest := fixture(t, "guest.wasm")
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	hash, err := os.ReadFile(filepath.Join(examplesDir, "hash", "hash.wasm"))
	require.NoError(t, err)
	wasiCommand := manifest(t, "abi", workflow.ABIWASICommand)

	for _, tc := range []struct {
		name     string
		module   []byte
		manifest []byte
		sig      []byte
		code     string
		fields   []string
		contains string
	}{
		{name: "random bytes", module: random, code: registry.CodeModuleInvalid, fields: []string{"module"}, contains: "not a WebAssembly"},
		{name: "wasm magic, then garbage", module: append([]byte("\x00asm\x01\x00\x00\x00"), random...), code: registry.CodeModuleInvalid, fields: []string{"module"}},
		{name: "truncated module", module: hash[:len(hash)/2], code: registry.CodeModuleInvalid, fields: []string{"module"}},
		{name: "crashes the compiler", module: fixture(t, "bad_type_index.wasm"), code: registry.CodeModuleInvalid, fields: []string{"module"}, contains: "the compiler failed on this module"},
		{name: "truncated header", module: guest[:6], code: registry.CodeModuleInvalid, fields: []string{"module"}},
		{name: "no module", module: nil, code: registry.CodeModuleInvalid, fields: []string{"module"}, contains: "is required"},
		{name: "no module, no manifest", module: nil, manifest: []byte{}, code: registry.CodeModuleInvalid, fields: []string{"module", "manifest"}},
		{name: "no manifest", module: guest, manifest: []byte{}, code: registry.CodeManifestInvalid, fields: []string{"manifest"}, contains: "is required"},
		{name: "over the size cap", module: make([]byte, 64<<10+1), code: registry.CodeModuleTooLarge, fields: []string{"module"}, contains: "over the limit of 64 KiB"},
		{name: "over the size cap, no manifest", module: make([]byte, 64<<10+1), manifest: []byte{}, code: registry.CodeModuleTooLarge, fields: []string{"module", "manifest"}},
		{name: "manifest over its cap", module: guest, manifest: manifest(t, "description", string(bytes.Repeat([]byte("x"), 70<<10))), code: registry.CodeManifestTooLarge, fields: []string{"manifest"}},
		{name: "signature over its cap", module: guest, sig: bytes.Repeat([]byte(" "), 16<<10+1), code: registry.CodeSignatureTooLarge, fields: []string{"signature"}},
		{name: "signature not JSON", module: guest, sig: []byte("-----BEGIN SIGNATURE-----"), code: registry.CodeSignatureInvalid, fields: []string{"signature"}},
		{name: "signature not an object", module: guest, sig: []byte(`"abc"`), code: registry.CodeSignatureInvalid, fields: []string{"signature"}},
		{name: "signature null", module: guest, sig: []byte(`null`), code: registry.CodeSignatureInvalid, fields: []string{"signature"}},
		{name: "no entrypoint", module: fixture(t, "no_entry.wasm"), code: registry.CodeMissingEntrypoint, fields: []string{"manifest.entrypoint"}, contains: `exports no function "run" (exported functions: "main", "other")`},
		{name: "named entrypoint missing", module: guest, manifest: manifest(t, "entrypoint", "nope"), code: registry.CodeMissingEntrypoint, fields: []string{"manifest.entrypoint"}, contains: `"nope"`},
		{name: "wasi command without _start", module: fixture(t, "no_entry.wasm"), manifest: wasiCommand, code: registry.CodeMissingEntrypoint, fields: []string{"manifest.entrypoint"}, contains: `"_start"`},
		{name: "entrypoint not a function", module: guest, manifest: manifest(t, "entrypoint", "memory"), code: registry.CodeMissingEntrypoint, fields: []string{"manifest.entrypoint"}},
		{name: "entrypoint of the wrong type", module: guest, manifest: manifest(t, "entrypoint", "badsig"), code: registry.CodeModuleInvalid, fields: []string{"manifest.entrypoint"}, contains: "(i32) -> (i32)"},
		{name: "wasi entrypoint returning a value", module: fixture(t, "no_entry.wasm"), manifest: manifest(t, "abi", workflow.ABIWASICommand, "entrypoint", "main"), code: registry.CodeModuleInvalid, fields: []string{"manifest.entrypoint"}, contains: "() -> ()"},
		{name: "unknown extism:host/user function", module: fixture(t, "unknown_hostfunc.wasm"), code: registry.CodeImportNotAllowed, fields: []string{"module"}, contains: "extism:host/user.steal_everything"},
		{name: "http_fetch without http", module: fixture(t, "http_fetch.wasm"), code: registry.CodeImportNotAllowed, fields: []string{"manifest.capabilities.http"}, contains: "wasmflow_http_fetch"},
		{name: "http_fetch with only secrets", module: fixture(t, "http_fetch.wasm"), manifest: manifest(t, "capabilities", map[string]any{"secrets": []string{"x"}}), code: registry.CodeImportNotAllowed, fields: []string{"manifest.capabilities.http"}},
		{name: "secret_get without secrets", module: fixture(t, "secret_get.wasm"), manifest: manifest(t, "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"example.com"}}}), code: registry.CodeImportNotAllowed, fields: []string{"manifest.capabilities.secrets"}},
		{name: "host function of the wrong type", module: fixture(t, "bad_hostfunc_sig.wasm"), manifest: manifest(t, "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"example.com"}}}), code: registry.CodeImportNotAllowed, fields: []string{"module"}, contains: "want func (i64) -> (i64)"},
		{name: "wasi command importing extism", module: fixture(t, "wasi_extism.wasm"), manifest: wasiCommand, code: registry.CodeImportNotAllowed, fields: []string{"module"}, contains: "wasi-command-v1 modules may import only wasi_snapshot_preview1"},
		{name: "wasi command importing a host function", module: fixture(t, "http_fetch.wasm"), manifest: manifest(t, "abi", workflow.ABIWASICommand, "entrypoint", "run"), code: registry.CodeImportNotAllowed, fields: []string{"module"}},
		{name: "env imports and a WASI memory", module: fixture(t, "env_import.wasm"), code: registry.CodeImportNotAllowed, fields: []string{"module", "module"}, contains: "env.abort"},
		{name: "memory over limits.memory_mb", module: fixture(t, "bigmem.wasm"), manifest: manifest(t, "limits", map[string]any{"memory_mb": 1}), code: registry.CodeModuleInvalid, fields: []string{"manifest.limits.memory_mb"}, contains: "64 pages (4 MiB)"},
		{name: "bad name", module: guest, manifest: manifest(t, "name", "Acme/Guest"), code: registry.CodeManifestInvalid, fields: []string{"manifest.name"}},
		{name: "bad semver", module: guest, manifest: manifest(t, "version", "v1.0.0"), code: registry.CodeManifestInvalid, fields: []string{"manifest.version"}},
		{name: "unknown abi", module: guest, manifest: manifest(t, "abi", "wasm-bindgen"), code: registry.CodeManifestInvalid, fields: []string{"manifest.abi"}},
		{name: "unknown field", module: guest, manifest: manifest(t, "permissions", []string{"all"}), code: registry.CodeManifestInvalid, fields: []string{"manifest.permissions"}},
		{name: "bad params_schema", module: guest, manifest: manifest(t, "params_schema", map[string]any{"type": "objekt"}), code: registry.CodeManifestInvalid, fields: []string{"manifest.params_schema.type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mf := tc.manifest
			if mf == nil {
				mf = manifest(t)
			}
			v, created, err := e.reg.Upload(t.Context(), e.tenant, &registry.UploadParams{Module: tc.module, Manifest: mf, Signature: tc.sig})
			require.Nil(t, v)
			require.False(t, created)
			re := refusal(t, err, tc.code)
			require.Equal(t, tc.fields, fields(re), "%v", err)
			if tc.contains != "" {
				require.Contains(t, re.Problems[0].Message, tc.contains)
			}
		})
	}

	// Nothing was stored.
	_, err = e.reg.Versions(t.Context(), e.tenant, "acme/guest")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// A module that panics wazero's validator is refused, again and again,
// without waiting on the compile that never finished.
func TestUploadCompilerCrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: fixture(t, "bad_type_index.wasm"), Manifest: manifest(t)})
		cancel()
		re := refusal(t, err, registry.CodeModuleInvalid)
		require.Equal(t, "compile: the compiler failed on this module", re.Problems[0].Message)
	}
	// The registry still works.
	e.upload(t, e.tenant, "guest.wasm", manifest(t))
}

// What the rules allow is accepted.
func TestUploadAcceptsDeclaredImports(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	http := map[string]any{"http": map[string]any{"hosts": []string{"example.com"}}}
	for i, tc := range []struct {
		module   string
		manifest []byte
	}{
		{"http_fetch.wasm", manifest(t, "name", "acme/a", "capabilities", http)},
		{"secret_get.wasm", manifest(t, "name", "acme/b", "capabilities", map[string]any{"secrets": []string{"token"}})},
		{"no_entry.wasm", manifest(t, "name", "acme/c", "abi", workflow.ABIWASICommand, "entrypoint", "other")},
		{"guest.wasm", manifest(t, "name", "acme/d", "entrypoint", "trap", "io", "raw")},
		{"bigmem.wasm", manifest(t, "name", "acme/e", "limits", map[string]any{"memory_mb": 4})},
	} {
		_, created, err := e.reg.Upload(t.Context(), e.tenant, &registry.UploadParams{Module: fixture(t, tc.module), Manifest: tc.manifest})
		require.NoError(t, err, "case %d", i)
		require.True(t, created)
	}
}

// A nil UploadParams is an upload of nothing.
func TestUploadNil(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _, err := e.reg.Upload(t.Context(), e.tenant, nil)
	re := refusal(t, err, registry.CodeModuleInvalid)
	require.Equal(t, []string{"module", "manifest"}, fields(re))
}

// The store failing is not a refusal.
func TestUploadStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, e.store.Close())
	_, _, err := e.reg.Upload(t.Context(), e.tenant, &registry.UploadParams{Module: fixture(t, "guest.wasm"), Manifest: manifest(t)})
	require.Error(t, err)
	_, ok := errors.AsType[*registry.Error](err)
	require.False(t, ok, "%v", err)
}

// A closed runtime is not the module's fault.
func TestUploadRuntimeFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, e.rt.Close(t.Context()))
	_, _, err := e.reg.Upload(t.Context(), e.tenant, &registry.UploadParams{Module: fixture(t, "guest.wasm"), Manifest: manifest(t)})
	require.Error(t, err)
	_, ok := errors.AsType[*registry.Error](err)
	require.False(t, ok, "%v", err)
}

// malformedModules derives broken modules from real ones: every truncation
// length up to a point and then in steps, and single-byte corruptions.
func malformedModules(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	for _, name := range []string{"guest.wasm", "http_fetch.wasm", "no_entry.wasm", "env_import.wasm"} {
		seeds = append(seeds, fixture(t, name))
	}
	for _, name := range []string{"hash/hash.wasm", "filter/filter.wasm"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, name))
		require.NoError(t, err)
		seeds = append(seeds, b)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	var out [][]byte
	for _, s := range seeds {
		step := max(1, len(s)/40)
		for n := 0; n < len(s); n += step {
			out = append(out, s[:n])
		}
		for range 20 {
			c := bytes.Clone(s)
			i := rng.IntN(min(len(c), 512)) // headers and sections
			c[i] ^= byte(1 + rng.UintN(255))
			out = append(out, c)
		}
	}
	return out
}

// Malformed modules never panic and are always refused as the module's
// fault (or accepted, when a corruption happens to leave a valid module).
func TestUploadMalformedModules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mf := manifest(t, "version", "1.0.0")
	for i, module := range malformedModules(t) {
		_, _, err := e.reg.Upload(t.Context(), e.tenant, &registry.UploadParams{Module: module, Manifest: mf})
		if err == nil {
			// A corruption that leaves a valid module: let it be, under a new version.
			mf = manifest(t, "version", "1.0."+itoa(i+1))
			continue
		}
		re, ok := errors.AsType[*registry.Error](err)
		require.True(t, ok, "case %d: %T %v", i, err, err)
		require.Contains(t, []string{registry.CodeModuleInvalid, registry.CodeImportNotAllowed, registry.CodeMissingEntrypoint}, re.Code, "case %d: %v", i, err)
	}
}

// FuzzUpload throws mutated modules at Upload: it never panics, and a
// refusal is always a *registry.Error about the module.
func FuzzUpload(f *testing.F) {
	for _, m := range malformedModules(f)[:20] {
		f.Add(m)
	}
	f.Add(fixture(f, "guest.wasm"))
	e := newEnv(f)
	mf := manifest(f, "version", "1.0.0")
	f.Fuzz(func(t *testing.T, module []byte) {
		_, _, err := e.reg.Upload(context.Background(), e.tenant, &registry.UploadParams{Module: module, Manifest: mf})
		if err == nil {
			return
		}
		re, ok := errors.AsType[*registry.Error](err)
		require.True(t, ok, "%T %v", err, err)
		switch re.Code {
		case registry.CodeModuleInvalid, registry.CodeImportNotAllowed, registry.CodeMissingEntrypoint, registry.CodeVersionImmutable:
		default:
			t.Fatalf("unexpected code %s: %v", re.Code, err)
		}
	})
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
