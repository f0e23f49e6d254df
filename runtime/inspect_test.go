package runtime_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/runtime"
)

func TestInspect(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})

	t.Run("Extism", func(t *testing.T) {
		t.Parallel()
		wasm := fixture(t, "extism_guest.wasm")
		info, err := r.Inspect(t.Context(), wasm)
		require.NoError(t, err)
		require.Equal(t, digest(wasm), info.Digest)
		require.Equal(t, len(wasm), info.Size)
		require.Equal(t, &runtime.MemoryInfo{MinPages: 1}, info.Memory)
		require.Len(t, info.Imports, 13)
		require.Equal(t, runtime.Import{Module: "extism:host/env", Name: "input_length", Kind: runtime.ImportExtismEnv,
			Extern: "func", Results: []string{"i64"}}, info.Imports[0])
		require.Equal(t, runtime.Import{Module: "extism:host/env", Name: "store_u64", Kind: runtime.ImportExtismEnv,
			Extern: "func", Params: []string{"i64", "i64"}}, info.Imports[6])
		require.Contains(t, info.Exports, runtime.Export{Name: "memory", Extern: "memory"})
		require.Contains(t, info.Exports, runtime.Export{Name: "run", Extern: "func", Results: []string{"i32"}})
		require.Contains(t, info.Exports, runtime.Export{Name: "badsig", Extern: "func",
			Params: []string{"i32"}, Results: []string{"i32"}})

		// The info is a copy.
		info.Imports[0].Params = append(info.Imports[0].Params, "f64")
		info.Memory.MinPages = 99
		again, err := r.Inspect(t.Context(), wasm)
		require.NoError(t, err)
		require.Empty(t, again.Imports[0].Params)
		require.Equal(t, uint32(1), again.Memory.MinPages)
	})
	t.Run("HostFunc", func(t *testing.T) {
		t.Parallel()
		info, err := r.Inspect(t.Context(), fixture(t, "extism_hostfunc.wasm"))
		require.NoError(t, err)
		require.Contains(t, info.Imports, runtime.Import{Module: "extism:host/user", Name: "wasmflow_secret_get",
			Kind: runtime.ImportHostFunc, Extern: "func", Params: []string{"i64"}, Results: []string{"i64"}, Capability: "secrets"})

		info, err = r.Inspect(t.Context(), fixture(t, "extism_unknown_import.wasm"))
		require.NoError(t, err)
		require.Equal(t, []runtime.Import{{Module: "extism:host/user", Name: "steal_everything",
			Kind: runtime.ImportHostFunc, Extern: "func", Params: []string{"i64"}, Results: []string{"i64"}}}, info.Imports)
	})
	t.Run("WASI", func(t *testing.T) {
		t.Parallel()
		info, err := r.Inspect(t.Context(), fixture(t, "wasi_cat.wasm"))
		require.NoError(t, err)
		require.Len(t, info.Imports, 3)
		require.Equal(t, runtime.Import{Module: "wasi_snapshot_preview1", Name: "proc_exit", Kind: runtime.ImportWASI,
			Extern: "func", Params: []string{"i32"}}, info.Imports[2])
		require.Contains(t, info.Exports, runtime.Export{Name: "_start", Extern: "func"})
	})
	t.Run("OtherImportsAndExports", func(t *testing.T) {
		t.Parallel()
		info, err := r.Inspect(t.Context(), fixture(t, "kinds.wasm"))
		require.NoError(t, err)
		require.Equal(t, []runtime.Import{
			{Module: "env", Name: "abort", Kind: runtime.ImportOther, Extern: "func", Params: []string{"f32", "f64"}},
			{Module: "env", Name: "memory", Kind: runtime.ImportOther, Extern: "memory"},
			{Module: "env", Name: "table", Kind: runtime.ImportOther, Extern: "table"},
			{Module: "env", Name: "g", Kind: runtime.ImportOther, Extern: "global"},
		}, info.Imports)
		require.Equal(t, &runtime.MemoryInfo{MinPages: 2, MaxPages: 3, HasMax: true, Imported: true}, info.Memory)
		require.Equal(t, []runtime.Export{
			{Name: "abort_again", Extern: "func", Params: []string{"f32", "f64"}},
			{Name: "mem", Extern: "memory"},
			{Name: "tab", Extern: "table"},
			{Name: "glob", Extern: "global"},
			{Name: "refs", Extern: "func", Params: []string{"funcref", "externref"}, Results: []string{"v128"}},
		}, info.Exports)
	})
	t.Run("MemoryOverOperatorMaximum", func(t *testing.T) {
		t.Parallel()
		small := newRuntime(t, runtime.Config{MaxMemoryMB: 64})
		_, err := small.Inspect(t.Context(), fixture(t, "bigmin.wasm"))
		ne := requireKind(t, err, runtime.KindMemoryLimit)
		require.Equal(t, "module declares 2048 pages of memory, over the maximum of 64 MiB", ne.Message)
	})
}

func TestInvalidModule(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	valid := fixture(t, "extism_guest.wasm")
	// Well-formed, but its function of type () -> () leaves an i32 behind.
	invalid := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type section: () -> ()
		"\x03\x02\x01\x00" + // function section: one of type 0
		"\x0a\x06\x01\x04\x00\x41\x00\x0b") // code: i32.const 0, end
	for _, tc := range []struct {
		name    string
		wasm    []byte
		message string
	}{
		{"Empty", nil, "not a WebAssembly 1.0 binary (bad magic or version)"},
		{"Text", []byte("(module)"), "not a WebAssembly 1.0 binary (bad magic or version)"},
		{"Truncated", valid[:len(valid)/2], "unexpected end of module"},
		{"HeaderOnly", valid[:9], "unexpected end of module"},
		{"BadCode", invalid, "too many results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Inspect(t.Context(), tc.wasm)
			ne := requireKind(t, err, runtime.KindInvalidModule)
			require.Contains(t, ne.Message, tc.message)

			p := extismRun(t, "run", "{}")
			p.Wasm = tc.wasm
			res, err := r.Run(t.Context(), p)
			requireKind(t, err, runtime.KindInvalidModule)
			require.Nil(t, res)
		})
	}
}

func FuzzInspect(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	require.NoError(f, err)
	for _, name := range files {
		wasm, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(wasm)
	}
	f.Add([]byte{})
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\xff\xff\xff\xff\x0f"))
	r, err := runtime.New(f.Context(), runtime.Config{CacheEntries: 4})
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, r.Close(context.Background())) })

	f.Fuzz(func(t *testing.T, wasm []byte) {
		info, err := r.Inspect(t.Context(), wasm)
		if err != nil {
			require.NotEmpty(t, runtime.KindOf(err), "every failure is a NodeError: %v", err)
			return
		}
		require.Equal(t, len(wasm), info.Size)
	})
}

// A module that panics wazero's validator fails as an invalid module, every
// time and at once: the cache entry of the failed compile is not left behind
// for later lookups to wait on.
func TestInspectCompilerPanic(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	wasm := fixture(t, "crash_type_index.wasm")
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := r.Inspect(ctx, wasm)
		cancel()
		ne, ok := errors.AsType[*runtime.NodeError](err)
		require.True(t, ok, "%v", err)
		require.Equal(t, runtime.KindInvalidModule, ne.Kind)
		require.ErrorContains(t, ne.Err, "compiler panic")
	}
	_, err := r.Inspect(t.Context(), fixture(t, "extism_guest.wasm"))
	require.NoError(t, err)
}

// DetectABI reads the ABI from imports and exports alone.
func TestDetectABI(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	for file, want := range map[string]string{
		"extism_guest.wasm":          "extism-v1",
		"extism_unknown_import.wasm": "extism-v1", // a host function import alone says Extism
		"wasi_cat.wasm":              "wasi-command-v1",
		"kinds.wasm":                 runtime.ABIRaw,
	} {
		info, err := r.Inspect(t.Context(), fixture(t, file))
		require.NoError(t, err, file)
		require.Equal(t, want, info.DetectABI(), file)
	}
}
