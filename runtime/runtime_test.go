package runtime_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newRuntime returns a Runtime closed when the test ends.
func newRuntime(t testing.TB, cfg runtime.Config) *runtime.Runtime {
	t.Helper()
	r, err := runtime.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close(context.Background())) })
	return r
}

// fixture reads a module from testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return wasm
}

// extismRun is a run of testdata/extism_guest.wasm's export entry.
func extismRun(t testing.TB, entry, input string) *runtime.RunParams {
	t.Helper()
	return &runtime.RunParams{
		Wasm:     fixture(t, "extism_guest.wasm"),
		Manifest: &workflow.Manifest{Name: "test/guest", Version: "1.0.0", ABI: workflow.ABIExtism, Entrypoint: entry},
		Input:    []byte(input),
	}
}

// wasiRun is a run of testdata/wasi_cat.wasm's export entry ("" for _start).
func wasiRun(t testing.TB, entry, input string) *runtime.RunParams {
	t.Helper()
	return &runtime.RunParams{
		Wasm:     fixture(t, "wasi_cat.wasm"),
		Manifest: &workflow.Manifest{Name: "test/cat", Version: "1.0.0", ABI: workflow.ABIWASICommand, Entrypoint: entry},
		Input:    []byte(input),
	}
}

// requireKind asserts err is a *NodeError of kind and returns it.
func requireKind(t testing.TB, err error, kind runtime.ErrorKind) *runtime.NodeError {
	t.Helper()
	require.Error(t, err)
	ne, ok := errors.AsType[*runtime.NodeError](err)
	require.True(t, ok, "want a *NodeError, got %T: %v", err, err)
	require.Equal(t, kind, ne.Kind, "error: %v", err)
	require.Equal(t, kind, runtime.KindOf(err))
	require.True(t, strings.HasPrefix(err.Error(), "runtime: "+string(kind)+": "), err.Error())
	return ne
}

func messages(logs []runtime.LogLine) []string {
	out := make([]string, 0, len(logs))
	for _, l := range logs {
		out = append(out, l.Level+": "+l.Message)
	}
	return out
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  runtime.Config
		want string
	}{
		{"negative cache entries", runtime.Config{CacheEntries: -1}, "CacheEntries"},
		{"memory over wasm32", runtime.Config{MaxMemoryMB: 4097}, "MaxMemoryMB"},
		{"negative memory", runtime.Config{MaxMemoryMB: -1}, "MaxMemoryMB"},
		{"default over max memory", runtime.Config{MaxMemoryMB: 8, DefaultMemoryMB: 16}, "DefaultMemoryMB"},
		{"negative timeout", runtime.Config{MaxTimeout: -time.Second}, "MaxTimeout"},
		{"default over max timeout", runtime.Config{MaxTimeout: time.Second, DefaultTimeout: time.Minute}, "DefaultTimeout"},
		{"negative output", runtime.Config{MaxOutputBytes: -1}, "MaxOutputBytes"},
		{"negative logs", runtime.Config{MaxLogBytes: -1}, "MaxLogBytes"},
		{"cache dir is a file", runtime.Config{CacheDir: "runtime_test.go"}, "compilation cache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := runtime.New(t.Context(), tc.cfg)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, r)
		})
	}
}

func TestDefaultsFollowSmallerMaxima(t *testing.T) {
	t.Parallel()
	// A max below the built-in default lowers the default with it.
	r := newRuntime(t, runtime.Config{MaxMemoryMB: 2, MaxTimeout: 500 * time.Millisecond})
	res, err := r.Run(t.Context(), extismRun(t, "grow", ""))
	requireKind(t, err, runtime.KindMemoryLimit)
	require.LessOrEqual(t, res.MemoryPeakBytes, uint64(2*2<<20))

	_, err = r.Run(t.Context(), extismRun(t, "loop", ""))
	requireKind(t, err, runtime.KindTimeout)
}

func TestRunChecksParams(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	ok := func(ctx context.Context, in []byte) ([]byte, error) { return in, nil }

	_, err := r.Run(t.Context(), nil)
	require.ErrorContains(t, err, "params and manifest are required")

	_, err = r.Run(t.Context(), &runtime.RunParams{Wasm: fixture(t, "extism_guest.wasm")})
	require.ErrorContains(t, err, "params and manifest are required")

	p := extismRun(t, "run", "{}")
	p.Manifest.ABI = "wasi-reactor-v9"
	_, err = r.Run(t.Context(), p)
	requireKind(t, err, runtime.KindInvalidModule)

	p = extismRun(t, "run", "{}")
	p.HostFuncs = []hostfuncs.Func{{Name: "wasmflow_secret_get", Call: ok}, {Name: "wasmflow_secret_get", Call: ok}}
	_, err = r.Run(t.Context(), p)
	require.ErrorContains(t, err, "given twice")

	p = extismRun(t, "run", "{}")
	p.HostFuncs = []hostfuncs.Func{{Name: "wasmflow_secret_get"}}
	_, err = r.Run(t.Context(), p)
	require.ErrorContains(t, err, "no name or no Call")

	p = extismRun(t, "run", "{}")
	p.Digest = "md5:abc"
	_, err = r.Run(t.Context(), p)
	require.ErrorContains(t, err, "is not sha256")
}

func TestClose(t *testing.T) {
	t.Parallel()
	r, err := runtime.New(t.Context(), runtime.Config{})
	require.NoError(t, err)
	_, err = r.Run(t.Context(), extismRun(t, "run", "{}"))
	require.NoError(t, err)
	require.NoError(t, r.Close(t.Context()))
	require.NoError(t, r.Close(t.Context()), "a second Close does nothing")

	_, err = r.Run(t.Context(), extismRun(t, "run", "{}"))
	require.ErrorIs(t, err, runtime.ErrClosed)
	_, err = r.Inspect(t.Context(), fixture(t, "extism_guest.wasm"))
	require.ErrorIs(t, err, runtime.ErrClosed)
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := r.Run(ctx, extismRun(t, "loop", ""))
	requireKind(t, err, runtime.KindCanceled)
	require.ErrorIs(t, err, context.Canceled)
}

func TestCallerDeadlineIsATimeout(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := r.Run(ctx, wasiRun(t, "loop", ""))
	requireKind(t, err, runtime.KindTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestRunawaysAreAllStopped(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	const runaways = 50
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, runaways)
	for i := range runaways {
		wg.Go(func() {
			p := extismRun(t, "loop", "")
			if i%2 == 1 {
				p = wasiRun(t, "loop", "")
			}
			p.Manifest.Limits.TimeoutMS = 200
			_, errs[i] = r.Run(t.Context(), p)
		})
	}
	wg.Wait()
	for _, err := range errs {
		requireKind(t, err, runtime.KindTimeout)
	}
	require.Less(t, time.Since(start), 10*time.Second, "every runaway stops soon after its deadline")

	// The runtime is still fine.
	res, err := r.Run(t.Context(), extismRun(t, "run", ""))
	require.NoError(t, err)
	require.JSONEq(t, `{"items":[{"ok":true}]}`, string(res.Output))
}

func TestInstantiateFailures(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	for _, tc := range []struct {
		wasm    string
		abi     string
		kind    runtime.ErrorKind
		message string
	}{
		{"bad_import.wasm", workflow.ABIExtism, runtime.KindInvalidModule, "instantiate: "},
		{"bad_import.wasm", workflow.ABIWASICommand, runtime.KindInvalidModule, "instantiate: "},
		{"start_trap.wasm", workflow.ABIExtism, runtime.KindTrap, "unreachable"},
		{"start_trap.wasm", workflow.ABIWASICommand, runtime.KindTrap, "unreachable"},
		{"start_loop.wasm", workflow.ABIExtism, runtime.KindTimeout, "time limit 50ms"},
		{"start_loop.wasm", workflow.ABIWASICommand, runtime.KindTimeout, "time limit 50ms"},
	} {
		t.Run(tc.wasm+"/"+tc.abi, func(t *testing.T) {
			t.Parallel()
			p := &runtime.RunParams{
				Wasm:     fixture(t, tc.wasm),
				Manifest: &workflow.Manifest{ABI: tc.abi, Limits: workflow.Limits{TimeoutMS: 50}},
				Input:    []byte("{}"),
			}
			ne := requireKind(t, runErr(t, r, p), tc.kind)
			require.Contains(t, ne.Message, tc.message)
		})
	}
}
