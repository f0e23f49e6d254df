package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/runtime"
)

func TestWASICommand(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	// Bigger than the guest's 63 KiB buffer, so it reads stdin in pieces.
	input := `{"items":[{"text":"` + strings.Repeat("abc", 50_000) + `"}]}`
	res, err := r.Run(t.Context(), wasiRun(t, "", input))
	require.NoError(t, err)
	require.Equal(t, input, string(res.Output))
	require.Equal(t, []string{"stderr: hello from stderr"}, messages(res.Logs))
	require.Equal(t, uint64(65536), res.MemoryPeakBytes)
}

func TestWASIFailures(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	for _, tc := range []struct {
		entry    string
		kind     runtime.ErrorKind
		message  string
		exitCode uint32
		logs     []string
	}{
		{"fail", runtime.KindGuestError, "exited with code 3", 3, []string{"stderr: about to fail"}},
		{"trap", runtime.KindTrap, "unreachable", 0, []string{}},
		{"nonjson", runtime.KindInvalidOutput, "output is not valid JSON", 0, []string{}},
		{"run", runtime.KindMissingExport, `module exports no function "run"`, 0, nil},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			t.Parallel()
			res, err := r.Run(t.Context(), wasiRun(t, tc.entry, "{}"))
			ne := requireKind(t, err, tc.kind)
			require.Equal(t, tc.message, ne.Message)
			require.Equal(t, tc.exitCode, ne.ExitCode)
			if tc.logs == nil {
				require.Nil(t, res)
				return
			}
			require.Equal(t, tc.logs, messages(res.Logs), "the logs come with the error")
		})
	}
}

func TestWASITimeout(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{DefaultTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := r.Run(t.Context(), wasiRun(t, "loop", ""))
	requireKind(t, err, runtime.KindTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second, "stopped by its 100ms limit, not the 30s default")

	res, err := r.Run(t.Context(), wasiRun(t, "", "{}"))
	require.NoError(t, err)
	require.Equal(t, "{}", string(res.Output))
}

func TestWASIOutputTooLarge(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{MaxOutputBytes: 1 << 20})
	ne := requireKind(t, runErr(t, r, wasiRun(t, "spam", "")), runtime.KindOutputTooLarge)
	require.Equal(t, "output exceeds the limit of 1048576 bytes", ne.Message)
}

func TestWASILogsTruncated(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{MaxLogBytes: 100})
	res, err := r.Run(t.Context(), wasiRun(t, "logspam", ""))
	require.NoError(t, err)
	require.JSONEq(t, `{"items":[]}`, string(res.Output))
	require.True(t, res.LogsTruncated)
	// 17-byte lines: five whole and 15 bytes of the sixth.
	require.Len(t, res.Logs, 6)
	require.Equal(t, "hello from stderr", res.Logs[0].Message)
	require.Equal(t, "hello from stde", res.Logs[5].Message)
	total := 0
	for _, l := range res.Logs {
		require.Equal(t, runtime.LevelStderr, l.Level)
		total += len(l.Message)
	}
	require.Equal(t, 100, total)
}

func TestWASIInputTooLarge(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := wasiRun(t, "", strings.Repeat(" ", 3<<20))
	p.Manifest.Limits.MemoryMB = 2
	ne := requireKind(t, runErr(t, r, p), runtime.KindInputTooLarge)
	require.Equal(t, "input of 3145728 bytes exceeds the memory limit of 2 MiB", ne.Message)
}

func TestWASIRejectsOtherImports(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := wasiRun(t, "run", "{}")
	p.Wasm = fixture(t, "extism_guest.wasm")
	ne := requireKind(t, runErr(t, r, p), runtime.KindInvalidModule)
	require.Equal(t, "imports extism:host/env.input_length, which nothing provides to wasi-command-v1 modules", ne.Message)
}

func TestWASIDeclaredMinimumOverLimit(t *testing.T) {
	t.Parallel()
	r := newRuntime(t, runtime.Config{})
	p := wasiRun(t, "", "{}")
	p.Wasm = fixture(t, "bigmin.wasm")
	ne := requireKind(t, runErr(t, r, p), runtime.KindMemoryLimit)
	require.Equal(t, "module declares 2048 pages of memory, over the run's limit of 32 MiB", ne.Message)
}
