package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// TestRawIO runs modules that know nothing of wasmflow (manifest "io":
// "raw") as workflow nodes, in both modes: Extism's own test plugins, as
// shipped in the github.com/extism/go-sdk module, and small fixtures of ours.
func TestRawIO(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			installRaw(t, h)
			t.Run("RawCountVowels", func(t *testing.T) { testRawCountVowels(t, h) })
			t.Run("RawHaskell", func(t *testing.T) { testRawHaskell(t, h) })
			t.Run("RawInputAndReply", func(t *testing.T) { testRawInputAndReply(t, h) })
			t.Run("RawItemFails", func(t *testing.T) { testRawItemFails(t, h) })
			t.Run("RawItemFailsContinue", func(t *testing.T) { testRawItemFailsContinue(t, h) })
			t.Run("RawContinueAfterRetries", func(t *testing.T) { testRawContinueAfterRetries(t, h) })
			t.Run("RawHTTPRequestRefused", func(t *testing.T) { testRawHTTPRequest(t, h) })
			t.Run("RawStatePerRun", func(t *testing.T) { testRawState(t, h) })
			t.Run("RawLimitsPerNodeRun", func(t *testing.T) { testRawLimits(t, h) })
		})
	}
}

// goSDKWasmDir is the wasm/ folder of the github.com/extism/go-sdk module
// this build uses: Extism's own test plugins, built by others with their PDKs.
var goSDKWasmDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/extism/go-sdk").Output()
	if err != nil {
		return "", fmt.Errorf("go list github.com/extism/go-sdk: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "wasm"), nil
})

func goSDKPlugin(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := goSDKWasmDir()
	require.NoError(t, err)
	wasm, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return wasm
}

func runtimeFixture(t testing.TB, name string) []byte {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join("..", "runtime", "testdata", name))
	require.NoError(t, err)
	return wasm
}

// installRaw uploads the raw-IO modules through the registry, each with a
// manifest as its author would write it.
func installRaw(t *testing.T, h *harness) {
	t.Helper()
	for _, m := range []struct {
		wasm     []byte
		manifest string
	}{
		// Rust PDK; replies {"count": n, "total": t, "vowels": "…"}, keeping
		// the running total in an Extism var.
		{goSDKPlugin(t, "count_vowels.wasm"), `{"name": "extism/count-vowels", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "entrypoint": "count_vowels"}`},
		{goSDKPlugin(t, "count_vowels.wasm"), `{"name": "extism/count-vowels-isolated", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "instance": "per_item", "entrypoint": "count_vowels"}`},
		// Haskell PDK; replies "Hello, <input>".
		{goSDKPlugin(t, "hello_haskell.wasm"), `{"name": "extism/hello-haskell", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "entrypoint": "testing"}`},
		// Calls Extism's built-in http_request.
		{goSDKPlugin(t, "http.wasm"), `{"name": "extism/http", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "entrypoint": "run_test"}`},
		// Counts its calls; fails on "fail…", traps on "trap…".
		{runtimeFixture(t, "raw_items.wasm"), `{"name": "test/raw-items", "version": "1.0.0", "abi": "extism-v1", "io": "raw"}`},
		{runtimeFixture(t, "raw_items.wasm"), `{"name": "test/raw-items-isolated", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "instance": "per_item"}`},
		// Echoes its input; logs three lines per call.
		{runtimeFixture(t, "extism_guest.wasm"), `{"name": "test/raw-echo", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "entrypoint": "echo", "limits": {"max_output_bytes": 200}}`},
		{runtimeFixture(t, "extism_guest.wasm"), `{"name": "test/raw-log", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "entrypoint": "log", "limits": {"max_log_bytes": 80}}`},
		{runtimeFixture(t, "extism_guest.wasm"), `{"name": "test/raw-loop", "version": "1.0.0", "abi": "extism-v1",
			"io": "raw", "entrypoint": "loop"}`},
	} {
		_, _, err := h.reg.Upload(t.Context(), h.tenant, &registry.UploadParams{Module: m.wasm, Manifest: []byte(m.manifest)})
		require.NoError(t, err, m.manifest)
	}
}

// rawNode is a workflow of a manual trigger, one node and a noop after it.
func rawNode(h *harness, node string) string {
	return h.save(`{"name": "raw", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		` + node + `,
		{"name": "after", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "raw"}, {"from": "raw", "to": "after"}]}`)
}

func runError(t *testing.T, run *store.NodeRun) engine.RunError {
	t.Helper()
	var re engine.RunError
	require.NoError(t, json.Unmarshal(run.Error, &re), "%s", run.Error)
	return re
}

// Extism's Rust count_vowels plugin, unmodified, on a text field: three
// items in, three out, each with its JSON reply under "result".
func testRawCountVowels(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "extism/count-vowels", "params": {"input": "{{ $json.text }}"}}`)
	r := h.run(wf, workflow.Item{"id": 1, "text": "hello world"}, workflow.Item{"id": 2, "text": "wasmflow"},
		workflow.Item{"id": 3, "text": "xyz"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	got := r.items(t, "raw")
	require.Len(t, got, 3)
	for i, want := range []struct {
		text  string
		count float64
	}{{"hello world", 3}, {"wasmflow", 2}, {"xyz", 0}} {
		require.Equal(t, float64(i+1), got[i]["id"])
		require.Equal(t, want.text, got[i]["text"])
		result, ok := got[i]["result"].(map[string]any)
		require.True(t, ok, "result %v is the parsed JSON reply", got[i]["result"])
		require.Equal(t, want.count, result["count"], want.text)
		require.Equal(t, "aeiouAEIOU", result["vowels"])
	}
	require.Equal(t, got, r.items(t, "after"), "the items flow on")
}

// Extism's Haskell PDK plugin, unmodified: a text reply stored as text,
// under the node's output_field.
func testRawHaskell(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "extism/hello-haskell",
		"params": {"input": "{{ $json.name }}", "output_field": "greeting"}}`)
	r := h.run(wf, workflow.Item{"name": "Alice"}, workflow.Item{"name": "Bob"}, workflow.Item{"name": "Carol"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Equal(t, []map[string]any{
		{"name": "Alice", "greeting": "Hello, Alice"},
		{"name": "Bob", "greeting": "Hello, Bob"},
		{"name": "Carol", "greeting": "Hello, Carol"},
	}, r.items(t, "raw"))
}

// Without the input param the module gets the item's JSON; a string input
// goes as its bytes, anything else as JSON; a reply that is JSON is parsed,
// any other is text.
func testRawInputAndReply(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "test/raw-echo"}`)
	r := h.run(wf, workflow.Item{"id": 1, "tags": []any{"a"}})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Equal(t, []map[string]any{{"id": float64(1), "tags": []any{"a"}, "result": map[string]any{"id": float64(1), "tags": []any{"a"}}}},
		r.items(t, "raw"))

	wf = rawNode(h, `{"name": "raw", "module": "test/raw-echo", "params": {"input": "{{ $json.v }}", "output_field": "{{ 'out_' + $json.k }}"}}`)
	r = h.run(wf, workflow.Item{"k": "a", "v": "plain text"}, workflow.Item{"k": "b", "v": 42},
		workflow.Item{"k": "c", "v": `{"quoted": true}`}, workflow.Item{"k": "d", "v": map[string]any{"n": nil}})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	got := r.items(t, "raw")
	require.Len(t, got, 4)
	// output_field is evaluated once, with $json the first item.
	require.Equal(t, "plain text", got[0]["out_a"])
	require.Equal(t, float64(42), got[1]["out_a"])
	require.Equal(t, map[string]any{"quoted": true}, got[2]["out_a"], "a string holding JSON is sent as it is, and its reply parsed")
	require.Equal(t, map[string]any{"n": nil}, got[3]["out_a"])

	wf = rawNode(h, `{"name": "raw", "module": "test/raw-echo", "params": {"output_field": 5}}`)
	r = h.run(wf, workflow.Item{"id": 1})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	re := runError(t, r.node(t, "raw"))
	require.Equal(t, engine.KindInvalidParams, re.Kind)
	require.Equal(t, "params.output_field must be a string, not a number", re.Message)
}

// An item whose call fails fails the node run, naming the item; the items
// after it are not called.
func testRawItemFails(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "test/raw-items", "params": {"input": "{{ $json.cmd }}"}}`)
	r := h.run(wf, workflow.Item{"cmd": "a"}, workflow.Item{"cmd": "fail b"}, workflow.Item{"cmd": "c"})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	run := r.node(t, "raw")
	require.Equal(t, store.RunFailed, run.Status)
	re := runError(t, run)
	require.Equal(t, "guest_error", re.Kind)
	require.Equal(t, "item 1: refused: fail b", re.Message)
	require.NotNil(t, re.Item)
	require.Equal(t, 1, *re.Item)
	require.Equal(t, store.RunCancelled, r.node(t, "after").Status)
	require.JSONEq(t, `{"node": "raw", "kind": "guest_error", "message": "item 1: refused: fail b"}`, string(r.ex.Error))

	// An input expression that fails for one item fails the run the same way.
	wf = rawNode(h, `{"name": "raw", "module": "test/raw-items", "params": {"input": "{{ fromJSON($json.cmd) }}"}}`)
	r = h.run(wf, workflow.Item{"cmd": `"a"`}, workflow.Item{"cmd": "{not json"})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	re = runError(t, r.node(t, "raw"))
	require.Equal(t, engine.KindExpression, re.Kind)
	require.Equal(t, " fromJSON($json.cmd) ", re.Expression)
	require.True(t, strings.HasPrefix(re.Message, "item 1: params.input: "), re.Message)
	require.Equal(t, 1, *re.Item)
}

// With on_error: continue a failed item carries its error and the others
// go on, on the same instance after a failure the guest reported and on a
// fresh one after a trap.
func testRawItemFailsContinue(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "test/raw-items", "params": {"input": "{{ $json.cmd }}"}, "on_error": "continue"}`)
	r := h.run(wf, workflow.Item{"cmd": "a"}, workflow.Item{"cmd": "fail b"}, workflow.Item{"cmd": "c"},
		workflow.Item{"cmd": "trap d"}, workflow.Item{"cmd": "e"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	run := r.node(t, "raw")
	require.Equal(t, store.RunSucceeded, run.Status)
	require.Nil(t, run.Error)
	want := []map[string]any{
		{"cmd": "a", "result": map[string]any{"calls": float64(1)}},
		{"cmd": "fail b", "error": map[string]any{"kind": "guest_error", "message": "refused: fail b"}},
		{"cmd": "c", "result": map[string]any{"calls": float64(3)}},
		{"cmd": "trap d", "error": map[string]any{"kind": "trap", "message": "unreachable"}},
		{"cmd": "e", "result": map[string]any{"calls": float64(1)}},
	}
	require.Equal(t, want, r.items(t, "raw"))
	require.Equal(t, want, r.items(t, "after"))
}

// Per-item errors wait for the node's retries: while attempts remain the run
// fails and is retried whole; the last attempt marks the item.
func testRawContinueAfterRetries(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "test/raw-items", "params": {"input": "{{ $json.cmd }}"},
		"on_error": "continue", "retry": {"max_attempts": 2, "backoff_ms": 1}}`)
	r := h.run(wf, workflow.Item{"cmd": "a"}, workflow.Item{"cmd": "fail b"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	runs := r.attempts("raw")
	require.Len(t, runs, 2)
	require.Equal(t, store.RunFailed, runs[0].Status)
	re := runError(t, runs[0])
	require.Equal(t, "item 1: refused: fail b", re.Message)
	require.NotEmpty(t, re.RetryAt)
	require.Equal(t, store.RunSucceeded, runs[1].Status)
	require.Equal(t, []map[string]any{
		{"cmd": "a", "result": map[string]any{"calls": float64(1)}},
		{"cmd": "fail b", "error": map[string]any{"kind": "guest_error", "message": "refused: fail b"}},
	}, r.items(t, "raw"))
}

// An unmodified plugin that calls Extism's built-in http_request fails with
// a message that says what wasmflow offers instead.
func testRawHTTPRequest(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "extism/http"}`)
	r := h.run(wf, workflow.Item{"id": 1})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	re := runError(t, r.node(t, "raw"))
	require.Equal(t, string(runtime.KindCapabilityNotGranted), re.Kind)
	require.Contains(t, re.Message, "item 0: extism:host/env.http_request (Extism's built-in HTTP client) is refused by wasmflow")
	require.Contains(t, re.Message, "wasmflow_http_fetch")
}

// By default one instance serves a node run, so a plugin's state carries
// from item to item (count_vowels keeps its running total in an Extism var;
// our fixture counts calls in a global); "instance": "per_item" isolates the
// items. Each node run starts afresh.
func testRawState(t *testing.T, h *harness) {
	items := []workflow.Item{{"text": "hello world"}, {"text": "wasmflow"}, {"text": "aaa"}}
	totals := func(module string) []float64 {
		wf := rawNode(h, `{"name": "raw", "module": "`+module+`", "params": {"input": "{{ $json.text }}"}}`)
		r := h.run(wf, items...)
		require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
		var out []float64
		for _, item := range r.items(t, "raw") {
			out = append(out, item["result"].(map[string]any)["total"].(float64))
		}
		return out
	}
	require.Equal(t, []float64{3, 5, 8}, totals("extism/count-vowels"))
	require.Equal(t, []float64{3, 5, 8}, totals("extism/count-vowels"), "the next node run starts afresh")
	require.Equal(t, []float64{3, 2, 3}, totals("extism/count-vowels-isolated"))

	calls := func(module string) []float64 {
		wf := rawNode(h, `{"name": "raw", "module": "`+module+`"}`)
		r := h.run(wf, items...)
		require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
		var out []float64
		for _, item := range r.items(t, "raw") {
			out = append(out, item["result"].(map[string]any)["calls"].(float64))
		}
		return out
	}
	require.Equal(t, []float64{1, 2, 3}, calls("test/raw-items"))
	require.Equal(t, []float64{1, 1, 1}, calls("test/raw-items-isolated"))
}

// Limits hold for the node run as a whole: the logs of all the calls share
// one cap, the output document is checked once, and the time limit covers
// every call.
func testRawLimits(t *testing.T, h *harness) {
	wf := rawNode(h, `{"name": "raw", "module": "test/raw-log"}`)
	r := h.run(wf, workflow.Item{"i": 1}, workflow.Item{"i": 2}, workflow.Item{"i": 3})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	var logs []runtime.LogLine
	require.NoError(t, json.Unmarshal(r.node(t, "raw").Logs, &logs))
	require.Equal(t, []string{
		"hello from the guest", "careful", "it broke",
		"hello from the guest", "careful", "it broke",
		"hello from",
	}, logMessages(logs), "80 bytes of messages in all")

	// Each reply fits the module's 200 bytes, the document does not.
	wf = rawNode(h, `{"name": "raw", "module": "test/raw-echo", "params": {"input": "{{ $json.s }}"}}`)
	s := strings.Repeat("x", 60)
	r = h.run(wf, workflow.Item{"s": s}, workflow.Item{"s": s}, workflow.Item{"s": s})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	re := runError(t, r.node(t, "raw"))
	require.Equal(t, string(runtime.KindOutputTooLarge), re.Kind)
	require.Nil(t, re.Item)

	// A timeout stops the node run, even with on_error: continue for items.
	wf = rawNode(h, `{"name": "raw", "module": "test/raw-loop", "timeout_ms": 200, "on_error": "continue"}`)
	r = h.run(wf, workflow.Item{"i": 1}, workflow.Item{"i": 2})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	run := r.node(t, "raw")
	require.Equal(t, store.RunFailed, run.Status)
	re = runError(t, run)
	require.Equal(t, string(runtime.KindTimeout), re.Kind)
	require.Equal(t, 0, *re.Item)
	require.Equal(t, []map[string]any{{"error": map[string]any{"kind": "timeout", "message": re.Message}}}, r.items(t, "raw"),
		"the node's own on_error: continue output")
}

func logMessages(logs []runtime.LogLine) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = l.Message
	}
	return out
}
