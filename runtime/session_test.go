package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

// rawItems is a raw-IO run of testdata/raw_items.wasm, which counts its
// calls per instance.
func rawItems(t testing.TB, instance string) *runtime.RunParams {
	t.Helper()
	return &runtime.RunParams{
		Wasm: fixture(t, "raw_items.wasm"),
		Manifest: &workflow.Manifest{Name: "test/raw-items", Version: "1.0.0", ABI: workflow.ABIExtism,
			IO: workflow.IORaw, Instance: instance},
	}
}

func newSession(t testing.TB, r *runtime.Runtime, p *runtime.RunParams) *runtime.Session {
	t.Helper()
	s, err := r.Session(t.Context(), p)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// call calls s and returns the reply as text, or the error's kind and message.
func call(t testing.TB, s *runtime.Session, input string) string {
	t.Helper()
	out, err := s.Call(t.Context(), []byte(input))
	if err != nil {
		ne, ok := errors.AsType[*runtime.NodeError](err)
		require.True(t, ok, "%T %v", err, err)
		return string(ne.Kind) + ": " + ne.Message
	}
	return string(out)
}

// By default a session's calls share one instance, which keeps its state;
// a failure the guest reports keeps the instance, a trap replaces it.
func TestSessionOneInstance(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	s := newSession(t, r, rawItems(t, ""))
	for _, step := range []struct{ input, want string }{
		{"a", `{"calls":1}`},
		{"b", `{"calls":2}`},
		{"fail now", "guest_error: refused: fail now"},
		{"c", `{"calls":4}`},
		{"trap", "trap: unreachable"},
		{"d", `{"calls":1}`},
		{"e", `{"calls":2}`},
	} {
		require.Equal(t, step.want, call(t, s, step.input), step.input)
	}
	res := s.Close(t.Context())
	require.Positive(t, res.Duration)
	require.Positive(t, res.MemoryPeakBytes)
	require.Nil(t, res.Output)
	require.Equal(t, res, s.Close(t.Context()), "a second Close returns the same figures")
	_, err := s.Call(t.Context(), []byte("x"))
	require.ErrorIs(t, err, runtime.ErrSessionClosed)
}

// With "instance": "per_item" no call sees another's state.
func TestSessionPerItem(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	s := newSession(t, r, rawItems(t, workflow.InstancePerItem))
	for _, input := range []string{"a", "b", "fail", "c"} {
		got := call(t, s, input)
		if input == "fail" {
			require.Equal(t, "guest_error: refused: fail", got)
			continue
		}
		require.Equal(t, `{"calls":1}`, got, input)
	}
}

// The time limit covers the whole session, counted from its start: calls
// that each fit still stop at it, and every call after it fails at once.
func TestSessionTimeLimit(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := rawItems(t, "")
	p.Limits.TimeoutMS = 300
	s := newSession(t, r, p)
	require.Equal(t, `{"calls":1}`, call(t, s, "a"))
	time.Sleep(350 * time.Millisecond)
	for range 2 {
		_, err := s.Call(t.Context(), []byte("b"))
		ne := requireKind(t, err, runtime.KindTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Contains(t, ne.Message, "time limit 300ms")
	}

	// A runaway call stops at the session's deadline.
	p = extismRun(t, "loop", "")
	p.Manifest.IO = workflow.IORaw
	p.Limits.TimeoutMS = 200
	s = newSession(t, r, p)
	start := time.Now()
	_, err := s.Call(t.Context(), nil)
	requireKind(t, err, runtime.KindTimeout)
	require.Less(t, time.Since(start), 3*time.Second)

	// A canceled caller is not a timeout.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = newSession(t, r, rawItems(t, "")).Call(ctx, []byte("a"))
	requireKind(t, err, runtime.KindCanceled)
}

// The log cap covers all the calls' lines together.
func TestSessionLogs(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "log", "")
	p.Manifest.IO = workflow.IORaw
	p.Manifest.Limits.MaxLogBytes = 80 // 35 bytes a call
	s := newSession(t, r, p)
	for range 3 {
		_, err := s.Call(t.Context(), nil)
		require.NoError(t, err)
	}
	res := s.Close(t.Context())
	require.True(t, res.LogsTruncated)
	require.Equal(t, []string{
		"info: hello from the guest", "warn: careful", "error: it broke",
		"info: hello from the guest", "warn: careful", "error: it broke",
		"info: hello from",
	}, messages(res.Logs))
}

// Each reply is held to the output limit, and CheckOutput holds what the
// caller builds from them to the same limit.
func TestSessionOutputLimit(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "echo", "")
	p.Manifest.IO = workflow.IORaw
	p.Manifest.Limits.MaxOutputBytes = 10
	s := newSession(t, r, p)
	require.Equal(t, "0123456789", call(t, s, "0123456789"))
	require.Equal(t, "output_too_large: output of 11 bytes exceeds the limit of 10 bytes", call(t, s, "0123456789a"))
	require.NoError(t, s.CheckOutput([]byte("0123456789")))
	requireKind(t, s.CheckOutput([]byte("0123456789a")), runtime.KindOutputTooLarge)
	require.Equal(t, "ok", call(t, s, "ok"), "the instance serves the next call")
}

// A session checks what Run checks before any guest code runs.
func TestSessionChecksModule(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := rawItems(t, "")
	p.Manifest.Entrypoint = "nope"
	_, err := r.Session(t.Context(), p)
	requireKind(t, err, runtime.KindMissingExport)

	p = extismRun(t, "run", "")
	p.Wasm = fixture(t, "extism_hostfunc.wasm")
	_, err = r.Session(t.Context(), p)
	requireKind(t, err, runtime.KindCapabilityNotGranted)

	_, err = r.Session(t.Context(), nil)
	require.ErrorContains(t, err, "runtime: session: params and manifest are required")
}

// Host functions serve every call of a session; a host function's failure
// fails its call only.
func TestSessionHostFuncs(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "run", "")
	p.Wasm = fixture(t, "extism_hostfunc.wasm")
	p.Manifest.IO = workflow.IORaw
	calls := 0
	p.HostFuncs = []hostfuncs.Func{{Name: "wasmflow_secret_get", Call: func(_ context.Context, in []byte) ([]byte, error) {
		calls++
		if string(in) == "bad" {
			return nil, errors.New("no such secret")
		}
		return []byte(strings.ToUpper(string(in))), nil
	}}}
	s := newSession(t, r, p)
	require.Equal(t, "A", call(t, s, "a"))
	require.Equal(t, "host_error: wasmflow_secret_get: no such secret", call(t, s, "bad"))
	require.Equal(t, "B", call(t, s, "b"))
	require.Equal(t, 3, calls)
}

// A WASI command gets a fresh instance for every call.
func TestSessionWASI(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := wasiRun(t, "", "")
	p.Manifest.IO = workflow.IORaw
	s := newSession(t, r, p)
	for i := range 3 {
		in := fmt.Sprintf("item %d", i)
		require.Equal(t, in, call(t, s, in))
	}
	require.Len(t, s.Close(t.Context()).Logs, 3, "one stderr line per call")
}

// Extism's built-in http_request is refused in a session too, with a
// message that names the way to make requests.
func TestSessionHTTPRequestRefused(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := extismRun(t, "http", "")
	p.Manifest.IO = workflow.IORaw
	s := newSession(t, r, p)
	got := call(t, s, `{"url":"http://127.0.0.1:9/","method":"GET"}`)
	require.Equal(t, "capability_not_granted: extism:host/env.http_request (Extism's built-in HTTP client) is refused by wasmflow: "+
		`modules make HTTP requests through the wasmflow_http_fetch host function, with the "http" capability declared in the manifest and granted`, got)
}
