package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

var seq atomic.Int64

// unique returns a name no other call in this process returns.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// newTenant inserts a tenant and returns its id.
func newTenant(t testing.TB, s store.Store) string {
	t.Helper()
	tn, err := s.TenantInsert(t.Context(), unique("tenant"))
	require.NoError(t, err)
	return tn.ID
}

// sampleWorkflow is a definition that exercises the JSON encoding: nested
// params, numbers, unicode, escapes and a NUL character (which Postgres
// jsonb would refuse).
func sampleWorkflow(name string) *workflow.Workflow {
	return &workflow.Workflow{
		Name:        name,
		Description: "enrich orders – ünïcødé ✓, \"quoted\", <html> & \u0000 nul",
		Nodes: []workflow.Node{
			{Name: "start", Type: workflow.TypeManualTrigger},
			{Name: "fields", Module: "wasmflow/set-fields@^1", Params: map[string]any{
				"set":   map[string]any{"source": "api", "n": 1.5, "big": 1e300, "list": []any{"a", 2.0, true, nil}},
				"empty": map[string]any{},
			}, Lock: &workflow.Lock{Version: "1.2.0", Digest: "sha256:abc"}},
			{Name: "big?", Type: workflow.TypeIf, Params: map[string]any{"condition": "{{ $json.total > 100 }}"}},
			{Name: "hash", Module: "wasmflow/hash@1.0.0", Secrets: map[string]string{"key": "hash_key"},
				Retry: &workflow.Retry{MaxAttempts: 3, BackoffMS: 200}, TimeoutMS: 2000, OnError: workflow.OnErrorContinue},
		},
		Connections: []workflow.Connection{
			{From: "start", To: "fields"}, {From: "fields", To: "big?"},
			{From: "big?", FromPort: "true", To: "hash"},
		},
		Settings: &workflow.Settings{TimeoutMS: 60000},
	}
}

func encode(t testing.TB, w *workflow.Workflow) string {
	t.Helper()
	b, err := w.Encode()
	require.NoError(t, err)
	return string(b)
}

// requireSameDefinition compares two definitions as JSON documents.
func requireSameDefinition(t testing.TB, want, got *workflow.Workflow) {
	t.Helper()
	require.JSONEq(t, encode(t, want), encode(t, got))
}

func insertWorkflow(t testing.TB, s store.Store, tenantID string) *store.Workflow {
	t.Helper()
	w, err := s.WorkflowInsert(t.Context(), tenantID, sampleWorkflow(unique("wf")))
	require.NoError(t, err)
	return w
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func insertModule(t testing.TB, s store.Store, tenantID, name, version string, wasm []byte) *store.ModuleVersion {
	t.Helper()
	v, err := s.ModuleVersionInsert(t.Context(), tenantID, moduleVersion(name, version, wasm), wasm)
	require.NoError(t, err)
	return v
}

func moduleVersion(name, version string, wasm []byte) *store.ModuleVersion {
	return &store.ModuleVersion{
		Name: name, Version: version, Digest: digestOf(wasm), ABI: "extism-v1",
		Manifest: json.RawMessage(`{"name": "` + name + `", "version": "` + version + `", "capabilities": {"http": {"hosts": ["*.slack.com"]}}}`),
	}
}

// runs returns n first node runs named n0, n1, …
func runs(n int) []*store.NodeRun {
	out := make([]*store.NodeRun, n)
	for i := range out {
		out[i] = &store.NodeRun{Node: fmt.Sprintf("n%d", i), Pending: min(i, 2), InputSize: int64(10 * i)}
	}
	if n > 0 {
		out[0].Status = store.RunQueued
	}
	return out
}

func insertExecution(t testing.TB, s store.Store, tenantID string, w *store.Workflow, nRuns int) (*store.Execution, []*store.NodeRun) {
	t.Helper()
	ex, rs, err := s.ExecutionInsert(t.Context(), tenantID, &store.ExecutionInsertParams{
		WorkflowID: w.ID, WorkflowVersion: w.Version, Trigger: "manual",
		Input: json.RawMessage(`[{"email": "a@b.c", "total": 150}]`), Runs: runs(nRuns),
	})
	require.NoError(t, err)
	return ex, rs
}

// listFunc is one page of a list.
type listFunc[T any] func(page store.Page) ([]T, string, error)

// collect walks a list page by page with the given limit and returns every
// item. It checks that pages are full but for the last, that the last page
// (and only it) has no next cursor, and that no item comes twice.
func collect[T any](t testing.TB, list listFunc[T], limit int, key func(T) string) []T {
	t.Helper()
	var (
		all    []T
		seen   = map[string]bool{}
		cursor string
	)
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "the list does not end")
		items, next, err := list(store.Page{Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		require.LessOrEqual(t, len(items), limit)
		for _, it := range items {
			k := key(it)
			require.False(t, seen[k], "item %s listed twice", k)
			seen[k] = true
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		require.Len(t, items, limit, "a page before the last is not full")
		cursor = next
	}
}

// keys maps items to their keys.
func keys[T any](items []T, key func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = key(it)
	}
	return out
}

// sameTime requires two times to be the same instant, and got to be UTC and
// whole microseconds, as every time the store returns is.
func sameTime(t testing.TB, want, got time.Time) {
	t.Helper()
	require.Equal(t, time.UTC, got.Location(), "times come back in UTC")
	require.Zero(t, got.Nanosecond()%1000, "times come back truncated to microseconds")
	require.True(t, want.UTC().Truncate(time.Microsecond).Equal(got), "want %s, got %s", want, got)
}

// recent requires a time the store set to be close to now.
func recent(t testing.TB, got time.Time) {
	t.Helper()
	require.WithinDuration(t, time.Now(), got, time.Minute)
	sameTime(t, got, got)
}

func ptr[T any](v T) *T { return &v }

// garbage cursors: not base64, base64 of not JSON, JSON of the wrong shape.
var garbageCursors = []string{
	"!!!not a cursor!!!",
	"bm90IGpzb24",                        // base64url("not json")
	"WyJ3b3JrZmxvd3MiXQ",                 // ["workflows"] (no key)
	"eyJhIjoxfQ",                         // {"a":1}
	strings.Repeat("A", 100),             // decodes to zero bytes
	"WyJub3BlIiwieCJd",                   // ["nope","x"]: a kind no list has
	"WyJhdWRpdCIsIngiLCJ5Il0",            // ["audit","x","y"]: audit kind, bad time
	"WyJ3b3JrZmxvd192ZXJzaW9ucyIsImEiXQ", // ["workflow_versions","a"]: not a number
}

// sortedAsc returns a sorted copy (byte order, as both backends sort).
func sortedAsc(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// sortedDesc returns a copy sorted in reverse byte order.
func sortedDesc(s []string) []string {
	c := sortedAsc(s)
	slices.Reverse(c)
	return c
}
