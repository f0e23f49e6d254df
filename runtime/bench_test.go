package runtime_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	extism "github.com/extism/go-sdk"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

const benchInput = `{"items":[{"id":1,"email":"a@b.c","total":150}],"inputs":{"main":[{"id":1,"email":"a@b.c","total":150}]},` +
	`"params":{"field":"email"},"node":{"name":"n","module":"bench","version":"1.0.0"},` +
	`"execution":{"id":"ex_1","workflow_id":"wf_1","attempt":1}}`

// benchModules are the modules BenchmarkRun runs warm. A case whose wasm
// file is missing is skipped; with no manifest, wasmflow.json beside the
// wasm is read; with no input, benchInput is sent.
var benchModules = []struct {
	name     string
	wasm     string
	manifest *workflow.Manifest
	input    string // a file
}{
	{name: "extism-wat", wasm: "testdata/extism_guest.wasm",
		manifest: &workflow.Manifest{ABI: workflow.ABIExtism, Entrypoint: "echo"}},
	{name: "wasi-wat", wasm: "testdata/wasi_cat.wasm",
		manifest: &workflow.Manifest{ABI: workflow.ABIWASICommand}},
	// The example plugins, one line each.
	{name: "hash-c", wasm: "../plugins-examples/hash/hash.wasm", input: "../plugins-examples/hash/testdata/vectors.input.json"},
	{name: "set-fields-go", wasm: "../plugins-examples/set-fields/set-fields.wasm", input: "../plugins-examples/set-fields/testdata/basic.input.json"},
}

// BenchmarkRun is a warm-cache Run of each module: instantiate, call, close.
func BenchmarkRun(b *testing.B) {
	for _, bm := range benchModules {
		b.Run(bm.name, func(b *testing.B) {
			wasm, err := os.ReadFile(bm.wasm)
			if errors.Is(err, os.ErrNotExist) {
				b.Skipf("%s is not built", bm.wasm)
			}
			require.NoError(b, err)
			manifest := bm.manifest
			if manifest == nil {
				raw, err := os.ReadFile(filepath.Join(filepath.Dir(bm.wasm), "wasmflow.json"))
				require.NoError(b, err)
				require.NoError(b, json.Unmarshal(raw, &manifest))
			}
			input := []byte(benchInput)
			if bm.input != "" {
				input, err = os.ReadFile(bm.input)
				require.NoError(b, err)
			}
			r := newRuntime(b, runtime.Config{})
			p := &runtime.RunParams{Wasm: wasm, Digest: digest(wasm), Manifest: manifest, Input: input}
			_, err = r.Run(b.Context(), p) // compile outside the loop
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Run(b.Context(), p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaseline does what BenchmarkRun's WAT cases do without the
// runtime, for the ratio: wazero alone for the WASI command, the Extism SDK
// alone for the Extism plugin.
func BenchmarkBaseline(b *testing.B) {
	b.Run("extism-wat", func(b *testing.B) {
		ctx := b.Context()
		wasm := fixture(b, "extism_guest.wasm")
		compiled, err := extism.NewCompiledPlugin(ctx, extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}},
			extism.PluginConfig{RuntimeConfig: wazero.NewRuntimeConfig().WithCloseOnContextDone(true)}, nil)
		require.NoError(b, err)
		defer func() { require.NoError(b, compiled.Close(context.Background())) }()
		b.ReportAllocs()
		for b.Loop() {
			plugin, err := compiled.Instance(ctx, extism.PluginInstanceConfig{})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := plugin.CallWithContext(ctx, "echo", []byte(benchInput)); err != nil {
				b.Fatal(err)
			}
			_ = plugin.Close(ctx)
		}
	})
	b.Run("wasi-wat", func(b *testing.B) {
		ctx := b.Context()
		wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
		defer func() { require.NoError(b, wz.Close(context.Background())) }()
		wasi_snapshot_preview1.MustInstantiate(ctx, wz)
		compiled, err := wz.CompileModule(ctx, fixture(b, "wasi_cat.wasm"))
		require.NoError(b, err)
		cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
		b.ReportAllocs()
		for b.Loop() {
			var out bytes.Buffer
			mod, err := wz.InstantiateModule(ctx, compiled,
				cfg.WithStdin(bytes.NewReader([]byte(benchInput))).WithStdout(&out).WithStderr(io.Discard))
			if err != nil {
				b.Fatal(err)
			}
			_, err = mod.ExportedFunction("_start").Call(ctx)
			if exit, ok := errors.AsType[*sys.ExitError](err); err != nil && (!ok || exit.ExitCode() != 0) {
				b.Fatal(err)
			}
			_ = mod.Close(ctx)
		}
	})
}

// digest is the "sha256:<hex>" of wasm.
func digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// BenchmarkSessionCall is one item of a raw-IO node run: a call on the
// session's instance, or on a fresh instance per item. The difference is
// what "instance": "per_item" costs per item.
func BenchmarkSessionCall(b *testing.B) {
	r := newRuntime(b, runtime.Config{})
	for _, instance := range []string{workflow.InstancePerRun, workflow.InstancePerItem} {
		b.Run(instance, func(b *testing.B) {
			p := &runtime.RunParams{
				Wasm: fixture(b, "extism_guest.wasm"),
				Manifest: &workflow.Manifest{ABI: workflow.ABIExtism, Entrypoint: "echo",
					IO: workflow.IORaw, Instance: instance, Limits: workflow.Limits{TimeoutMS: 3_600_000}},
			}
			s, err := r.Session(b.Context(), p)
			require.NoError(b, err)
			defer s.Close(context.Background())
			input := []byte(`{"id":1,"email":"a@b.c","total":150}`)
			for b.Loop() {
				if _, err := s.Call(b.Context(), input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
