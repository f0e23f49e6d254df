package runtime_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestExtismRun(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	res, err := r.Run(t.Context(), extismRun(t, "", `{"items":[]}`)) // "" is "run"
	require.NoError(t, err)
	require.JSONEq(t, `{"items":[{"ok":true}]}`, string(res.Output))
	require.Empty(t, res.Logs)
	require.False(t, res.LogsTruncated)
	require.Positive(t, res.Duration)
	require.GreaterOrEqual(t, res.MemoryPeakBytes, uint64(1<<20+1<<16), "the kernel's MiB and the guest's page")

	doc, err := runtime.DecodeOutput(res.Output)
	require.NoError(t, err)
	require.Equal(t, []workflow.Item{{"ok": true}}, doc.Items)
}

func TestExtismEcho(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	input := `{"items":[{"id":1,"name":"` + strings.Repeat("é", 1000) + `"}],"params":{}}`
	res, err := r.Run(t.Context(), extismRun(t, "echo", input))
	require.NoError(t, err)
	require.Equal(t, input, string(res.Output))
}

func TestExtismTimeout(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "loop", "")
	p.Manifest.Limits.TimeoutMS = 5000
	p.Limits.TimeoutMS = 100 // the node tightens the manifest's limit
	start := time.Now()
	res, err := r.Run(t.Context(), p)
	elapsed := time.Since(start)
	ne := requireKind(t, err, runtime.KindTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, ne.Message, "time limit 100ms")
	require.GreaterOrEqual(t, elapsed, 100*time.Millisecond)
	require.Less(t, elapsed, 4*time.Second, "stops long before the manifest's 5s")
	require.NotNil(t, res, "a run that started returns its result with the error")

	// The same Runtime runs the next module normally.
	res, err = r.Run(t.Context(), extismRun(t, "run", ""))
	require.NoError(t, err)
	require.JSONEq(t, `{"items":[{"ok":true}]}`, string(res.Output))
}

func TestExtismMemoryLimit(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})

	t.Run("GrowPastLimit", func(t *testing.T) {
		t.Parallel()
		p := extismRun(t, "grow", "")
		p.Manifest.Limits.MemoryMB = 4
		res, err := r.Run(t.Context(), p)
		ne := requireKind(t, err, runtime.KindMemoryLimit)
		require.Contains(t, ne.Message, "4 MiB")
		require.Contains(t, ne.Message, "unreachable")
		require.LessOrEqual(t, res.MemoryPeakBytes, uint64(2*4<<20))
		require.Greater(t, res.MemoryPeakBytes, uint64(3<<20))
	})
	t.Run("NodeTightens", func(t *testing.T) {
		t.Parallel()
		p := extismRun(t, "grow", "")
		p.Manifest.Limits.MemoryMB = 64
		p.Limits.MemoryMB = 2
		res, err := r.Run(t.Context(), p)
		requireKind(t, err, runtime.KindMemoryLimit)
		require.LessOrEqual(t, res.MemoryPeakBytes, uint64(2*2<<20))
	})
	t.Run("RefusedGrowHandled", func(t *testing.T) {
		t.Parallel()
		// A guest that copes with a refused grow succeeds.
		p := extismRun(t, "grow_ok", "")
		p.Manifest.Limits.MemoryMB = 2
		res, err := r.Run(t.Context(), p)
		require.NoError(t, err)
		require.JSONEq(t, `{"items":[{"ok":true}]}`, string(res.Output))
	})
	t.Run("DeclaredMinimumOverLimit", func(t *testing.T) {
		t.Parallel()
		p := extismRun(t, "run", "")
		p.Wasm = fixture(t, "bigmin.wasm") // 128 MiB minimum
		ne := requireKind(t, runErr(t, r, p), runtime.KindMemoryLimit)
		require.Contains(t, ne.Message, "2048 pages")
	})
}

func TestExtismOutputTooLarge(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{MaxOutputBytes: 1 << 20})
	p := extismRun(t, "bigout", "")
	p.Manifest.Limits.MemoryMB = 8
	p.Manifest.Limits.MaxOutputBytes = 4 << 20 // capped by the operator's 1 MiB
	ne := requireKind(t, runErr(t, r, p), runtime.KindOutputTooLarge)
	require.Contains(t, ne.Message, "1048576")
}

func TestExtismGuestFailures(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	for _, tc := range []struct {
		entry    string
		kind     runtime.ErrorKind
		message  string
		exitCode uint32
	}{
		{"trap", runtime.KindTrap, "unreachable", 0},
		{"fail", runtime.KindGuestError, "boom: bad params", 1},
		{"rc", runtime.KindGuestError, `entrypoint "rc" returned 7`, 7},
		{"nonjson", runtime.KindInvalidOutput, "output is not valid JSON", 0},
		{"empty", runtime.KindInvalidOutput, "output is empty, want a JSON object", 0},
		{"nope", runtime.KindMissingExport, `module exports no function "nope"`, 0},
		{"memory", runtime.KindMissingExport, `module exports no function "memory"`, 0},
		{"badsig", runtime.KindInvalidModule, `entrypoint "badsig" is (i32) -> (i32), want () -> i32`, 0},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			t.Parallel()
			ne := requireKind(t, runErr(t, r, extismRun(t, tc.entry, "{}")), tc.kind)
			require.Equal(t, tc.message, ne.Message)
			require.Equal(t, tc.exitCode, ne.ExitCode)
		})
	}
}

func TestExtismOutputNotAnObject(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	ne := requireKind(t, runErr(t, r, extismRun(t, "echo", `[1, 2]`)), runtime.KindInvalidOutput)
	require.Equal(t, "output is not a JSON object", ne.Message)
}

func TestExtismRawIO(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "nonjson", "")
	p.Manifest.IO = workflow.IORaw
	res, err := r.Run(t.Context(), p)
	require.NoError(t, err)
	require.Equal(t, "not json", string(res.Output))
}

func TestExtismInputTooLarge(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	inlen := func(t *testing.T, size int) (uint64, error) {
		p := extismRun(t, "inlen", strings.Repeat("x", size))
		p.Manifest.IO = workflow.IORaw
		p.Manifest.Limits.MemoryMB = 2
		res, err := r.Run(t.Context(), p)
		if err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(res.Output), nil
	}

	// Fits: the guest sees all of it.
	n, err := inlen(t, 512<<10)
	require.NoError(t, err)
	require.Equal(t, uint64(512<<10), n)

	// Over the limit outright, and under it but more than the kernel can
	// hold beside its own MiB: Extism alone would hand the guest an empty input.
	for _, size := range []int{3 << 20, 2<<20 - 1000, 1<<20 + 100<<10} {
		_, err := inlen(t, size)
		ne := requireKind(t, err, runtime.KindInputTooLarge)
		require.Contains(t, ne.Message, "2 MiB")
	}
}

func TestExtismLogs(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	res, err := r.Run(t.Context(), extismRun(t, "log", ""))
	require.NoError(t, err)
	require.Equal(t, []string{"info: hello from the guest", "warn: careful", "error: it broke"}, messages(res.Logs))
	require.False(t, res.LogsTruncated)
	for _, l := range res.Logs {
		require.WithinDuration(t, time.Now(), l.Time, time.Minute)
	}
}

func TestExtismLogsTruncated(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{MaxLogBytes: 4096})
	p := extismRun(t, "logspam", "")
	p.Manifest.Limits.MaxLogBytes = 1010 // 50 lines and half of the 51st
	res, err := r.Run(t.Context(), p)
	require.NoError(t, err, "full logs do not fail the run")
	require.True(t, res.LogsTruncated)
	require.Len(t, res.Logs, 51)
	require.Equal(t, "hello from", res.Logs[50].Message)
	total := 0
	for _, l := range res.Logs {
		total += len(l.Message)
	}
	require.Equal(t, 1010, total)
}

func TestExtismHTTPRequestRefused(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()

	r := newRuntime(t, runtime.Config{})
	// Even a host function grant does not open Extism's own client.
	p := extismRun(t, "http", `{"url":"`+srv.URL+`/","method":"GET"}`)
	p.HostFuncs = []hostfuncs.Func{{Name: "wasmflow_http_fetch", Call: func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("not called")
	}}}
	ne := requireKind(t, runErr(t, r, p), runtime.KindCapabilityNotGranted)
	require.Contains(t, ne.Message, "http_request")
	require.Zero(t, hits.Load(), "the request never left")
}

func TestExtismCapabilityNotGranted(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	called := false
	secret := hostfuncs.Func{Name: "wasmflow_secret_get", Call: func(context.Context, []byte) ([]byte, error) {
		called = true
		return []byte("x"), nil
	}}
	fetch := hostfuncs.Func{Name: "wasmflow_http_fetch", Call: secret.Call}

	for _, tc := range []struct {
		name    string
		wasm    string
		funcs   []hostfuncs.Func
		message string
	}{
		{"NotGranted", "extism_hostfunc.wasm", []hostfuncs.Func{fetch},
			`imports extism:host/user.wasmflow_secret_get, which needs the "secrets" capability, not granted`},
		{"NoneGranted", "extism_hostfunc.wasm", nil,
			`imports extism:host/user.wasmflow_secret_get, which needs the "secrets" capability, not granted`},
		{"Unknown", "extism_unknown_import.wasm", []hostfuncs.Func{secret, fetch},
			"imports extism:host/user.steal_everything, which no capability provides"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := extismRun(t, "run", "{}")
			p.Wasm, p.HostFuncs = fixture(t, tc.wasm), tc.funcs
			res, err := r.Run(t.Context(), p)
			ne := requireKind(t, err, runtime.KindCapabilityNotGranted)
			require.Equal(t, tc.message, ne.Message)
			require.Nil(t, res, "no guest code ran")
		})
	}
	require.False(t, called)
}

func TestExtismHostFunc(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	hostRun := func(t *testing.T, input []byte, call func(context.Context, []byte) ([]byte, error)) (*runtime.Result, error) {
		p := extismRun(t, "run", "")
		p.Wasm, p.Input = fixture(t, "extism_hostfunc.wasm"), input
		p.Manifest.IO = workflow.IORaw
		p.Manifest.Limits.MemoryMB = 2
		p.HostFuncs = []hostfuncs.Func{{Name: "wasmflow_secret_get", Call: call}}
		return r.Run(t.Context(), p)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		input := make([]byte, 256)
		for i := range input {
			input[i] = byte(i)
		}
		var got []byte
		res, err := hostRun(t, input, func(ctx context.Context, in []byte) ([]byte, error) {
			_, hasDeadline := ctx.Deadline()
			require.True(t, hasDeadline, "the run's deadline reaches the host function")
			got = slices.Clone(in)
			out := slices.Clone(in)
			slices.Reverse(out)
			return out, nil
		})
		require.NoError(t, err)
		require.Equal(t, input, got)
		want := slices.Clone(input)
		slices.Reverse(want)
		require.Equal(t, want, res.Output)
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		res, err := hostRun(t, []byte(`"slack_token"`), func(_ context.Context, in []byte) ([]byte, error) {
			var name string
			if err := json.Unmarshal(in, &name); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"name": name, "value": "s3cret"})
		})
		require.NoError(t, err)
		require.JSONEq(t, `{"name":"slack_token","value":"s3cret"}`, string(res.Output))
	})
	t.Run("EmptyReply", func(t *testing.T) {
		t.Parallel()
		res, err := hostRun(t, []byte("x"), func(context.Context, []byte) ([]byte, error) { return nil, nil })
		require.NoError(t, err)
		require.Empty(t, res.Output)
	})
	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		errRefused := errors.New("secret_not_granted: slack_token")
		_, err := hostRun(t, []byte("slack_token"), func(context.Context, []byte) ([]byte, error) {
			return nil, errRefused
		})
		ne := requireKind(t, err, runtime.KindHostError)
		require.ErrorIs(t, err, errRefused)
		require.Equal(t, "wasmflow_secret_get: secret_not_granted: slack_token", ne.Message)
	})
	t.Run("Panic", func(t *testing.T) {
		t.Parallel()
		_, err := hostRun(t, []byte("x"), func(_ context.Context, in []byte) ([]byte, error) {
			var items []int
			_ = items[len(in)] // a bug in a host function fails the run, not the process
			return nil, nil
		})
		ne := requireKind(t, err, runtime.KindHostError)
		require.Contains(t, ne.Message, "wasmflow_secret_get: panic: runtime error: index out of range [1] with length 0")
	})
	t.Run("ReplyOverMemory", func(t *testing.T) {
		t.Parallel()
		_, err := hostRun(t, []byte("x"), func(context.Context, []byte) ([]byte, error) {
			return make([]byte, 3<<20), nil
		})
		ne := requireKind(t, err, runtime.KindMemoryLimit)
		require.Contains(t, ne.Message, "no room for a reply of 3145728 bytes")
	})
	t.Run("HonoursDeadline", func(t *testing.T) {
		t.Parallel()
		p := extismRun(t, "run", "x")
		p.Wasm = fixture(t, "extism_hostfunc.wasm")
		p.Manifest.Limits.TimeoutMS = 50
		p.HostFuncs = []hostfuncs.Func{{Name: "wasmflow_secret_get", Call: func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}}
		_, err := r.Run(t.Context(), p)
		requireKind(t, err, runtime.KindTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// runErr runs p and returns only the error.
func runErr(t testing.TB, r *runtime.Runtime, p *runtime.RunParams) error {
	t.Helper()
	_, err := r.Run(t.Context(), p)
	return err
}

// secretFuncs grants a wasmflow_secret_get that echoes its input.
func secretFuncs() []hostfuncs.Func {
	return []hostfuncs.Func{{Name: "wasmflow_secret_get", Call: func(_ context.Context, in []byte) ([]byte, error) {
		return in, nil
	}}}
}

func TestExtismHostFuncBadHandle(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "badhandle", "")
	p.Wasm, p.HostFuncs = fixture(t, "extism_hostfunc.wasm"), secretFuncs()
	ne := requireKind(t, runErr(t, r, p), runtime.KindHostError)
	require.Equal(t, "wasmflow_secret_get: invalid input handle 549755813632", ne.Message)
}
