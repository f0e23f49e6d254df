package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/store"
)

// loopDir is the engine's module that never returns (manifest test/loop).
const loopDir = "../engine/testdata/loop"

// newExecEnv is an env whose server has an engine (and a registry).
func newExecEnv(t testing.TB) *env {
	t.Helper()
	e := newEnvWith(t, envOpts{engine: true})
	// A ?wait= request and a module compiled on upload take a while under
	// -race on a busy machine.
	e.client.Timeout = 2 * time.Minute
	return e
}

// uploadDir uploads the module in dir (its one .wasm and its wasmflow.json)
// with key.
func (e *env) uploadDir(key, dir string) {
	e.t.Helper()
	wasms, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	require.NoError(e.t, err)
	require.Len(e.t, wasms, 1, dir)
	r := e.upload(key, moduleParts(e.t, wasms[0], readFile(e.t, filepath.Join(dir, "wasmflow.json")))...)
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
}

// saveWorkflow stores def through the API with key and returns its id.
func (e *env) saveWorkflow(key string, def map[string]any) string {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: key, body: def})
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
	var w workflowResponse
	r.decode(e.t, &w)
	return w.ID
}

// chain is a workflow named name: a manual trigger "start" into nodes, one
// after the other.
func chain(name string, nodes ...map[string]any) map[string]any {
	all := []any{map[string]any{"name": "start", "type": "trigger.manual"}}
	var conns []any
	prev := "start"
	for _, n := range nodes {
		all = append(all, n)
		conns = append(conns, map[string]any{"from": prev, "to": n["name"]})
		prev = n["name"].(string)
	}
	return map[string]any{"name": name, "nodes": all, "connections": conns}
}

// hashNode is a node "hash" of the hash example with params.
func hashNode(params map[string]any) map[string]any {
	return map[string]any{"name": "hash", "module": "wasmflow/hash@^1", "params": params}
}

// failingNode fails every run: its condition is an expression that fails
// on the item {"raw": "{not json"}.
func failingNode() map[string]any {
	return map[string]any{"name": "check", "type": "core.if", "params": map[string]any{"condition": "{{ fromJSON($json.raw) }}"}}
}

// startPath is where executions of workflow id start; query without "?".
func startPath(id, query string) string {
	p := "/api/v1/workflows/" + id + "/executions"
	if query != "" {
		p += "?" + query
	}
	return p
}

// items is a start request body.
func items(in ...map[string]any) map[string]any {
	list := make([]any, len(in))
	for i, item := range in {
		list[i] = item
	}
	return map[string]any{"input": list}
}

// startExec starts an execution of wf with key and checks the status.
func (e *env) startExec(key, wf, query string, body any, status int) executionResponse {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: startPath(wf, query), key: key, body: body})
	require.Equal(e.t, status, r.status, "body: %s", r.body)
	require.Equal(e.t, "application/json", r.header.Get("Content-Type"))
	var ex executionResponse
	r.decode(e.t, &ex)
	require.Equal(e.t, "/api/v1/executions/"+ex.ID, r.header.Get("Location"))
	return ex
}

// getExec reads an execution with key.
func (e *env) getExec(key, id string) executionResponse {
	e.t.Helper()
	r := e.do(req{method: http.MethodGet, path: "/api/v1/executions/" + id, key: key})
	require.Equal(e.t, http.StatusOK, r.status, "body: %s", r.body)
	var ex executionResponse
	r.decode(e.t, &ex)
	return ex
}

// waitExec reads an execution until done holds (at most 60 s).
func (e *env) waitExec(key, id string, done func(*executionResponse) bool) executionResponse {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ex := e.getExec(key, id)
		if done(&ex) {
			return ex
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(ex)
			require.FailNow(e.t, "execution did not get there in 60s", "%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func finished(ex *executionResponse) bool { return engine.Finished(ex.Status) }

// running reports whether node's latest run is running.
func running(node string) func(*executionResponse) bool {
	return func(ex *executionResponse) bool {
		r := latestRun(ex, node)
		return r != nil && r.Status == store.RunRunning
	}
}

// latestRun is the run of node with the highest attempt, nil if none.
func latestRun(ex *executionResponse, node string) *nodeRunBody {
	var latest *nodeRunBody
	for i := range ex.Nodes {
		if n := &ex.Nodes[i]; n.Name == node && (latest == nil || n.Attempt > latest.Attempt) {
			latest = n
		}
	}
	return latest
}

// runsOf lists node's runs in the order the execution lists them.
func runsOf(ex *executionResponse, node string) []nodeRunBody {
	var out []nodeRunBody
	for _, n := range ex.Nodes {
		if n.Name == node {
			out = append(out, n)
		}
	}
	return out
}

// outputItems decodes a {"items": [...]} output document.
func outputItems(t testing.TB, raw json.RawMessage) []map[string]any {
	t.Helper()
	var doc struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc), "output %s", raw)
	return doc.Items
}

// errorField decodes one field of an {"kind", "message", …} error.
func errorField(t testing.TB, raw json.RawMessage, field string) any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "error %s", raw)
	return m[field]
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A start that waits answers 200 with the finished execution and every node
// run, outputs and logs included; the execution reads back the same.
func TestExecutionRunAndWait(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.uploadDir(e.key, filepath.Join(examplesDir, "hash"))
	wf := e.saveWorkflow(e.key, chain("enrich", hashNode(map[string]any{"field": "email"})))

	began := time.Now()
	r := e.do(req{method: http.MethodPost, path: startPath(wf, "wait=30s"), key: e.key,
		body: items(map[string]any{"email": "ada@example.com"}, map[string]any{"email": "bob@example.com", "id": 2})})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var ex executionResponse
	r.decode(t, &ex)
	require.Equal(t, "/api/v1/executions/"+ex.ID, r.header.Get("Location"))
	require.True(t, strings.HasPrefix(ex.ID, "ex_"), ex.ID)
	require.Equal(t, wf, ex.WorkflowID)
	require.Equal(t, 1, ex.WorkflowVersion)
	require.Equal(t, store.ExecutionSucceeded, ex.Status, "body: %s", r.body)
	require.Equal(t, engine.TriggerManual, ex.Trigger)
	require.JSONEq(t, `null`, string(ex.Error))
	require.WithinRange(t, ex.CreatedAt, began.Add(-time.Second), time.Now())
	require.NotNil(t, ex.StartedAt)
	require.NotNil(t, ex.FinishedAt)
	require.False(t, ex.FinishedAt.Before(*ex.StartedAt))
	require.NotNil(t, ex.DeadlineAt)
	require.True(t, ex.DeadlineAt.After(ex.CreatedAt))

	// Every node run, in the order they were created.
	require.Len(t, ex.Nodes, 2, "body: %s", r.body)
	require.Equal(t, "start", ex.Nodes[0].Name)
	require.Equal(t, "hash", ex.Nodes[1].Name)
	for _, n := range ex.Nodes {
		require.True(t, strings.HasPrefix(n.ID, "nr_"), n.ID)
		require.Equal(t, store.RunSucceeded, n.Status, n.Name)
		require.Equal(t, 1, n.Attempt, n.Name)
		require.NotNil(t, n.StartedAt, n.Name)
		require.NotNil(t, n.FinishedAt, n.Name)
		require.False(t, n.FinishedAt.Before(*n.StartedAt), n.Name)
		require.JSONEq(t, `null`, string(n.Error), n.Name)
	}
	// The trigger outputs the input items; hash adds each email's digest.
	require.JSONEq(t, `{"items": [{"email": "ada@example.com"}, {"email": "bob@example.com", "id": 2}]}`, string(ex.Nodes[0].Output))
	hashed := outputItems(t, ex.Nodes[1].Output)
	require.Len(t, hashed, 2)
	require.Equal(t, sha("ada@example.com"), hashed[0]["email_sha256"])
	require.Equal(t, sha("bob@example.com"), hashed[1]["email_sha256"])
	require.Positive(t, ex.Nodes[1].InputSize)
	var logs []struct {
		Time    time.Time `json:"time"`
		Level   string    `json:"level"`
		Message string    `json:"message"`
	}
	require.NoError(t, json.Unmarshal(ex.Nodes[1].Logs, &logs), "logs %s", ex.Nodes[1].Logs)
	messages := []string{}
	for _, l := range logs {
		require.NotEmpty(t, l.Level)
		require.False(t, l.Time.IsZero())
		messages = append(messages, l.Message)
	}
	require.Contains(t, messages, "hashed 2 of 2 item(s)")

	// On the wire: every field, null when empty rather than absent.
	raw := map[string]json.RawMessage{}
	r.decode(t, &raw)
	for _, f := range []string{"id", "workflow_id", "workflow_version", "status", "trigger", "error", "created_at", "started_at", "finished_at", "deadline_at", "nodes"} {
		require.Contains(t, raw, f)
	}
	var rawNodes []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw["nodes"], &rawNodes))
	for _, f := range []string{"id", "name", "status", "attempt", "started_at", "finished_at", "input_size", "output", "logs", "error"} {
		require.Contains(t, rawNodes[1], f)
	}

	// The Location reads back the same execution.
	got := e.do(req{method: http.MethodGet, path: r.header.Get("Location"), key: e.key})
	require.Equal(t, http.StatusOK, got.status, "body: %s", got.body)
	var again executionResponse
	got.decode(t, &again)
	require.Equal(t, ex, again)
}

// Without ?wait= a start answers 202 at once; the execution runs on and
// finishes.
func TestExecutionStartAccepted(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.uploadDir(e.key, filepath.Join(examplesDir, "hash"))
	wf := e.saveWorkflow(e.key, chain("later", hashNode(map[string]any{"field": "email"})))

	ex := e.startExec(e.key, wf, "", items(map[string]any{"email": "c@d.e"}), http.StatusAccepted)
	require.Contains(t, []string{store.ExecutionQueued, store.ExecutionRunning}, ex.Status)
	require.Nil(t, ex.FinishedAt)
	require.Len(t, ex.Nodes, 2)
	require.Equal(t, "start", ex.Nodes[0].Name)
	require.Equal(t, "hash", ex.Nodes[1].Name)

	done := e.waitExec(e.key, ex.ID, finished)
	require.Equal(t, store.ExecutionSucceeded, done.Status, "error: %s", done.Error)
	require.NotNil(t, done.FinishedAt)
	require.Equal(t, sha("c@d.e"), outputItems(t, latestRun(&done, "hash").Output)[0]["email_sha256"])

	// No input: the trigger outputs one empty item.
	for _, body := range []any{`{}`, `{"input": []}`} {
		ex := e.startExec(e.key, wf, "wait=30s", body, http.StatusOK)
		require.Equal(t, store.ExecutionSucceeded, ex.Status)
		require.JSONEq(t, `{"items": [{}]}`, string(latestRun(&ex, "start").Output), "%s", body)
	}

	// ?wait=0s waits for nothing.
	ex = e.startExec(e.key, wf, "wait=0s", `{}`, http.StatusAccepted)
	require.Contains(t, []string{store.ExecutionQueued, store.ExecutionRunning}, ex.Status)
	e.waitExec(e.key, ex.ID, finished)
}

func TestExecutionList(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	wfA := e.createTriggerOnly(e.key, "a")
	wfB := e.createTriggerOnly(e.key, "b")
	wfC := e.saveWorkflow(e.key, chain("c", failingNode()))

	run := func(wf string, want string) string {
		ex := e.startExec(e.key, wf, "wait=30s", items(map[string]any{"raw": "{not json"}), http.StatusOK)
		require.Equal(t, want, ex.Status)
		return ex.ID
	}
	a1 := run(wfA, store.ExecutionSucceeded)
	b1 := run(wfB, store.ExecutionSucceeded)
	a2 := run(wfA, store.ExecutionSucceeded)
	c1 := run(wfC, store.ExecutionFailed)
	a3 := run(wfA, store.ExecutionSucceeded)

	list := func(query string) Page[executionResponse] {
		t.Helper()
		r := e.do(req{method: http.MethodGet, path: "/api/v1/executions?" + query, key: e.key})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", query, r.body)
		var page Page[executionResponse]
		r.decode(t, &page)
		return page
	}
	ids := func(p Page[executionResponse]) []string {
		out := []string{}
		for _, ex := range p.Items {
			out = append(out, ex.ID)
		}
		return out
	}

	// Newest first, without node runs.
	r := e.do(req{method: http.MethodGet, path: "/api/v1/executions", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var raw struct {
		Items      []map[string]json.RawMessage `json:"items"`
		NextCursor *string                      `json:"next_cursor"`
	}
	r.decode(t, &raw)
	require.Len(t, raw.Items, 5)
	require.NotNil(t, raw.NextCursor)
	require.Empty(t, *raw.NextCursor)
	for _, item := range raw.Items {
		require.NotContains(t, item, "nodes")
		require.Contains(t, item, "status")
	}
	all := list("")
	require.Equal(t, []string{a3, c1, a2, b1, a1}, ids(all))

	// Filters, alone and together.
	byA := list("workflow_id=" + wfA)
	require.Equal(t, []string{a3, a2, a1}, ids(byA))
	for _, ex := range byA.Items {
		require.Equal(t, wfA, ex.WorkflowID)
	}
	failed := list("status=failed")
	require.Equal(t, []string{c1}, ids(failed))
	require.Equal(t, "check", errorField(t, failed.Items[0].Error, "node"))
	require.Equal(t, engine.KindExpression, errorField(t, failed.Items[0].Error, "kind"))
	require.Equal(t, []string{a3, a2, b1, a1}, ids(list("status=succeeded")))
	require.Equal(t, []string{b1}, ids(list("status=succeeded&workflow_id="+wfB)))
	require.Empty(t, ids(list("status=failed&workflow_id="+wfA)))
	require.Empty(t, ids(list("workflow_id=wf_unknown")))
	r = e.do(req{method: http.MethodGet, path: "/api/v1/executions?status=running", key: e.key})
	require.JSONEq(t, `{"items": [], "next_cursor": ""}`, string(r.body))

	// One at a time: every execution once, in the same order.
	var paged []string
	pages := 0
	for cursor := ""; ; {
		q := "limit=1"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		p := list(q)
		require.Len(t, p.Items, 1, q)
		paged = append(paged, p.Items[0].ID)
		pages++
		require.LessOrEqual(t, pages, 5)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	require.Equal(t, ids(all), paged)
	// Pages of a filtered list stay filtered.
	p := list("workflow_id=" + wfA + "&limit=2")
	require.Equal(t, []string{a3, a2}, ids(p))
	require.NotEmpty(t, p.NextCursor)
	p = list("workflow_id=" + wfA + "&limit=2&cursor=" + p.NextCursor)
	require.Equal(t, []string{a1}, ids(p))
	require.Empty(t, p.NextCursor)

	// Bad parameters.
	pr := e.do(req{method: http.MethodGet, path: "/api/v1/executions?cursor=not-a-cursor", key: e.key}).problem(t, http.StatusBadRequest, CodeInvalidCursor)
	require.Equal(t, []string{"query.cursor"}, pr.locations())
	for q, loc := range map[string]string{
		"status=done":                                "query.status",
		"status=SUCCEEDED":                           "query.status",
		"limit=0":                                    "query.limit",
		"limit=201":                                  "query.limit",
		"workflow_id=" + strings.Repeat("x", 65):     "query.workflow_id",
		"cursor=" + strings.Repeat("x", 1025):        "query.cursor",
		"status=failed&limit=abc&workflow_id=" + wfA: "query.limit",
	} {
		pr := e.do(req{method: http.MethodGet, path: "/api/v1/executions?" + q, key: e.key}).problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
		require.Equal(t, []string{loc}, pr.locations(), q)
	}
}

// Cancel stops a running node and cancels what remains; a finished
// execution cannot be cancelled; a cancelled one can be retried.
func TestExecutionCancel(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.uploadDir(e.key, loopDir)
	wf := e.saveWorkflow(e.key, chain("spin",
		map[string]any{"name": "spin", "module": "test/loop"},
		map[string]any{"name": "after", "type": "core.noop"}))

	// ?wait= that runs out answers 202 with the execution as it is.
	began := time.Now()
	ex := e.startExec(e.key, wf, "wait=300ms", `{}`, http.StatusAccepted)
	require.GreaterOrEqual(t, time.Since(began), 300*time.Millisecond)
	require.Contains(t, []string{store.ExecutionQueued, store.ExecutionRunning}, ex.Status)
	require.Nil(t, ex.FinishedAt)
	cancelPath := "/api/v1/executions/" + ex.ID + "/cancel"
	retryPath := "/api/v1/executions/" + ex.ID + "/retry"

	ex = e.waitExec(e.key, ex.ID, running("spin"))
	require.Equal(t, store.ExecutionRunning, ex.Status)
	// A running execution cannot be retried.
	p := e.do(req{method: http.MethodPost, path: retryPath, key: e.key}).problem(t, http.StatusConflict, CodeExecutionState)
	require.Contains(t, p.Detail, "running")

	r := e.do(req{method: http.MethodPost, path: cancelPath, key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var cancelled executionResponse
	r.decode(t, &cancelled)
	require.Equal(t, ex.ID, cancelled.ID)
	require.Equal(t, store.ExecutionCancelled, cancelled.Status)
	require.NotNil(t, cancelled.FinishedAt)
	require.Len(t, cancelled.Nodes, 3)
	require.Equal(t, store.RunSucceeded, latestRun(&cancelled, "start").Status)
	require.Equal(t, store.RunCancelled, latestRun(&cancelled, "spin").Status)
	require.Equal(t, store.RunCancelled, latestRun(&cancelled, "after").Status)

	// It stays so: the stopped run does not finish it otherwise.
	time.Sleep(200 * time.Millisecond)
	got := e.getExec(e.key, ex.ID)
	require.Equal(t, store.ExecutionCancelled, got.Status)
	require.Equal(t, store.RunCancelled, latestRun(&got, "spin").Status)

	// Again: it has finished.
	p = e.do(req{method: http.MethodPost, path: cancelPath, key: e.key}).problem(t, http.StatusConflict, CodeExecutionState)
	require.NotEmpty(t, p.Detail)

	// A cancelled execution can be retried: spin runs again, as attempt 2.
	r = e.do(req{method: http.MethodPost, path: retryPath, key: e.key})
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	require.Equal(t, "/api/v1/executions/"+ex.ID, r.header.Get("Location"))
	var retried executionResponse
	r.decode(t, &retried)
	require.Equal(t, store.ExecutionRunning, retried.Status)
	require.Nil(t, retried.FinishedAt)
	require.Len(t, runsOf(&retried, "start"), 1, "start succeeded: it does not run again")
	require.Equal(t, 2, latestRun(&retried, "spin").Attempt)
	ex = e.waitExec(e.key, ex.ID, running("spin"))
	require.Equal(t, 2, latestRun(&ex, "spin").Attempt)
	r = e.do(req{method: http.MethodPost, path: cancelPath, key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r.decode(t, &cancelled)
	require.Equal(t, store.ExecutionCancelled, cancelled.Status)
	require.Equal(t, store.RunCancelled, latestRun(&cancelled, "spin").Status)
}

// Retry reruns a failed execution from the node that failed; only a failed
// or cancelled execution can be retried.
func TestExecutionRetry(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.uploadDir(e.key, filepath.Join(examplesDir, "hash"))
	// field is 7 (not a string: the module fails) on the first attempt only.
	wf := e.saveWorkflow(e.key, chain("flaky",
		hashNode(map[string]any{"field": `{{ $execution.attempt < 2 ? 7 : "email" }}`}),
		map[string]any{"name": "after", "type": "core.noop"}))

	ex := e.startExec(e.key, wf, "wait=30s", items(map[string]any{"email": "r@b.c"}), http.StatusOK)
	require.Equal(t, store.ExecutionFailed, ex.Status)
	require.NotNil(t, ex.FinishedAt)
	require.Equal(t, "hash", errorField(t, ex.Error, "node"))
	require.Equal(t, "guest_error", errorField(t, ex.Error, "kind"))
	hash := latestRun(&ex, "hash")
	require.Equal(t, store.RunFailed, hash.Status)
	require.Equal(t, "guest_error", errorField(t, hash.Error, "kind"))
	require.NotEmpty(t, errorField(t, hash.Error, "message"))
	require.Equal(t, store.RunCancelled, latestRun(&ex, "after").Status)
	startRun := latestRun(&ex, "start")

	r := e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + ex.ID + "/retry", key: e.key})
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	require.Equal(t, "/api/v1/executions/"+ex.ID, r.header.Get("Location"))
	var retried executionResponse
	r.decode(t, &retried)
	require.Equal(t, ex.ID, retried.ID)
	require.Equal(t, store.ExecutionRunning, retried.Status)
	require.JSONEq(t, `null`, string(retried.Error))
	require.Len(t, runsOf(&retried, "hash"), 2)

	done := e.waitExec(e.key, ex.ID, finished)
	require.Equal(t, store.ExecutionSucceeded, done.Status, "error: %s", done.Error)
	require.JSONEq(t, `null`, string(done.Error))
	require.Equal(t, []nodeRunBody{*startRun}, runsOf(&done, "start"), "start succeeded: it keeps its run")
	hashRuns := runsOf(&done, "hash")
	require.Len(t, hashRuns, 2)
	require.Equal(t, 1, hashRuns[0].Attempt)
	require.Equal(t, store.RunFailed, hashRuns[0].Status)
	require.Equal(t, 2, hashRuns[1].Attempt)
	require.Equal(t, store.RunSucceeded, hashRuns[1].Status)
	require.Equal(t, sha("r@b.c"), outputItems(t, hashRuns[1].Output)[0]["email_sha256"])
	require.Len(t, runsOf(&done, "after"), 2)
	require.Equal(t, store.RunSucceeded, latestRun(&done, "after").Status)

	// Succeeded: neither retried nor cancelled.
	p := e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + ex.ID + "/retry", key: e.key}).problem(t, http.StatusConflict, CodeExecutionState)
	require.Contains(t, p.Detail, "succeeded")
	e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + ex.ID + "/cancel", key: e.key}).problem(t, http.StatusConflict, CodeExecutionState)
	require.Equal(t, store.ExecutionSucceeded, e.getExec(e.key, ex.ID).Status)

	// Who started and retried it is in the audit log.
	for _, action := range []string{"execution.start", "execution.retry"} {
		entries, _, err := e.store.AuditList(t.Context(), e.tenantID, store.AuditFilter{Action: action}, store.Page{})
		require.NoError(t, err)
		require.Len(t, entries, 1, action)
		require.Equal(t, ex.ID, entries[0].Resource)
	}
}

func TestExecutionRequestProblems(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	wf := e.createTriggerOnly(e.key, "ok")

	// Unknown ids.
	e.do(req{method: http.MethodPost, path: startPath("wf_unknown", ""), key: e.key, body: `{}`}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodGet, path: "/api/v1/executions/ex_unknown", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodPost, path: "/api/v1/executions/ex_unknown/cancel", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodPost, path: "/api/v1/executions/ex_unknown/retry", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)

	// A workflow without a manual trigger cannot be started by hand.
	hook := e.saveWorkflow(e.key, map[string]any{"name": "hook", "nodes": []any{map[string]any{"name": "in", "type": "trigger.webhook", "params": map[string]any{"path": "in"}}}})
	p := e.do(req{method: http.MethodPost, path: startPath(hook, "wait=5s"), key: e.key, body: `{}`}).problem(t, http.StatusUnprocessableEntity, CodeNoTrigger)
	require.Contains(t, p.Detail, "trigger.manual")

	cases := []struct {
		name, query string
		body        string
		status      int
		code        string
		locations   []string
	}{
		{"item not an object", "", `{"input": [1]}`, 422, CodeInvalidRequest, []string{"body.input[0]"}},
		{"second item not an object", "", `{"input": [{}, "x"]}`, 422, CodeInvalidRequest, []string{"body.input[1]"}},
		{"null item", "", `{"input": [{"a": 1}, null]}`, 422, CodeInvalidRequest, []string{"body.input[1]"}},
		{"input not a list", "", `{"input": {"a": 1}}`, 422, CodeInvalidRequest, []string{"body.input"}},
		{"unknown field", "", `{"items": [{}]}`, 422, CodeInvalidRequest, []string{"body.items"}},
		{"not JSON", "", `{"input": [`, 400, CodeInvalidJSON, []string{"body"}},
		{"wait not a duration", "wait=abc", `{}`, 400, CodeInvalidRequest, []string{"query.wait"}},
		{"wait without a unit", "wait=30", `{}`, 400, CodeInvalidRequest, []string{"query.wait"}},
		{"wait too long", "wait=10m", `{}`, 400, CodeInvalidRequest, []string{"query.wait"}},
		{"wait just too long", "wait=5m0.001s", `{}`, 400, CodeInvalidRequest, []string{"query.wait"}},
		{"wait negative", "wait=-1s", `{}`, 400, CodeInvalidRequest, []string{"query.wait"}},
		{"wait over its length", "wait=" + strings.Repeat("1", 16) + "s", `{}`, 422, CodeInvalidRequest, []string{"query.wait"}},
		{"wait and bad input", "wait=abc", `{"input": [1]}`, 422, CodeInvalidRequest, []string{"body.input[0]"}},
	}
	for _, tc := range cases {
		r := e.do(req{method: http.MethodPost, path: startPath(wf, tc.query), key: e.key, body: tc.body})
		p := r.problem(t, tc.status, tc.code)
		require.Equal(t, tc.locations, p.locations(), "%s: %s", tc.name, r.body)
	}
	// A workflow id over its length.
	p = e.do(req{method: http.MethodPost, path: startPath(strings.Repeat("w", 65), ""), key: e.key, body: `{}`}).problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
	require.Equal(t, []string{"path.id"}, p.locations())

	// None of that started anything.
	r := e.do(req{method: http.MethodGet, path: "/api/v1/executions", key: e.key})
	require.JSONEq(t, `{"items": [], "next_cursor": ""}`, string(r.body))
}

// Another tenant's workflows and executions do not exist for a caller, on
// every route.
func TestExecutionTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.uploadDir(e.key, loopDir)
	spinWF := e.saveWorkflow(e.key, chain("spin", map[string]any{"name": "spin", "module": "test/loop"}))
	failWF := e.saveWorkflow(e.key, chain("fails", failingNode()))
	spinning := e.startExec(e.key, spinWF, "", `{}`, http.StatusAccepted)
	failed := e.startExec(e.key, failWF, "wait=30s", items(map[string]any{"raw": "{not json"}), http.StatusOK)
	require.Equal(t, store.ExecutionFailed, failed.Status)
	e.waitExec(e.key, spinning.ID, running("spin"))

	_, keyB := e.newTenant("globex")
	ownWF := e.createTriggerOnly(keyB, "own")
	own := e.startExec(keyB, ownWF, "wait=30s", `{}`, http.StatusOK)

	for _, r := range []req{
		{method: http.MethodPost, path: startPath(spinWF, ""), body: `{}`},
		{method: http.MethodPost, path: startPath(failWF, "wait=1s"), body: `{}`},
		{method: http.MethodGet, path: "/api/v1/executions/" + spinning.ID},
		{method: http.MethodGet, path: "/api/v1/executions/" + failed.ID},
		{method: http.MethodPost, path: "/api/v1/executions/" + spinning.ID + "/cancel"},
		{method: http.MethodPost, path: "/api/v1/executions/" + failed.ID + "/retry"},
		{method: http.MethodPost, path: "/api/v1/executions/" + spinning.ID + "/retry"},
		{method: http.MethodPost, path: "/api/v1/executions/" + failed.ID + "/cancel"},
	} {
		r.key = keyB
		e.do(r).problem(t, http.StatusNotFound, CodeNotFound)
	}
	// B lists only B's execution, whatever the filter.
	for _, q := range []string{"", "?workflow_id=" + spinWF, "?status=failed", "?status=running"} {
		var page Page[executionResponse]
		r := e.do(req{method: http.MethodGet, path: "/api/v1/executions" + q, key: keyB})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		r.decode(t, &page)
		if q == "" {
			require.Len(t, page.Items, 1)
			require.Equal(t, own.ID, page.Items[0].ID)
		} else {
			require.Empty(t, page.Items, q)
		}
	}
	// And A does not see B's.
	e.do(req{method: http.MethodGet, path: "/api/v1/executions/" + own.ID, key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)

	// A's executions are as they were: still running, still failed.
	got := e.getExec(e.key, spinning.ID)
	require.Equal(t, store.ExecutionRunning, got.Status)
	require.Equal(t, store.RunRunning, latestRun(&got, "spin").Status)
	got = e.getExec(e.key, failed.ID)
	require.Equal(t, store.ExecutionFailed, got.Status)
	require.Len(t, runsOf(&got, "check"), 1)
	var page Page[executionResponse]
	e.do(req{method: http.MethodGet, path: "/api/v1/executions", key: e.key}).decode(t, &page)
	require.Len(t, page.Items, 2)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + spinning.ID + "/cancel", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
}

// Starting, cancelling and retrying need the runner role; reading needs a
// viewer's.
func TestExecutionRoles(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	wf := e.createTriggerOnly(e.key, "roles")
	ex := e.startExec(e.key, wf, "wait=30s", `{}`, http.StatusOK)
	viewer, _ := e.newKey(e.tenantID, auth.RoleViewer, nil)
	runner, _ := e.newKey(e.tenantID, auth.RoleRunner, nil)

	writes := []req{
		{method: http.MethodPost, path: startPath(wf, ""), body: `{}`},
		{method: http.MethodPost, path: "/api/v1/executions/" + ex.ID + "/cancel"},
		{method: http.MethodPost, path: "/api/v1/executions/" + ex.ID + "/retry"},
	}
	reads := []req{
		{method: http.MethodGet, path: "/api/v1/executions"},
		{method: http.MethodGet, path: "/api/v1/executions?workflow_id=" + wf},
		{method: http.MethodGet, path: "/api/v1/executions/" + ex.ID},
	}
	for _, r := range writes {
		r.key = viewer
		p := e.do(r).problem(t, http.StatusForbidden, CodeForbidden)
		require.Contains(t, p.Detail, "runner", r.path)
		r.key = ""
		e.do(r).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	}
	for _, r := range reads {
		r.key = viewer
		resp := e.do(r)
		require.Equal(t, http.StatusOK, resp.status, "%s: %s", r.path, resp.body)
		r.key = ""
		e.do(r).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	}
	// Nothing the viewer tried changed anything.
	var page Page[executionResponse]
	e.do(req{method: http.MethodGet, path: "/api/v1/executions", key: viewer}).decode(t, &page)
	require.Len(t, page.Items, 1)

	// A runner gets past the role check on every route.
	mine := e.startExec(runner, wf, "wait=30s", `{}`, http.StatusOK)
	require.Equal(t, store.ExecutionSucceeded, mine.Status)
	e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + mine.ID + "/cancel", key: runner}).problem(t, http.StatusConflict, CodeExecutionState)
	e.do(req{method: http.MethodPost, path: "/api/v1/executions/" + mine.ID + "/retry", key: runner}).problem(t, http.StatusConflict, CodeExecutionState)
	require.Equal(t, mine.ID, e.getExec(viewer, mine.ID).ID)
}

// /metrics serves the engine's metrics, without a key.
func TestExecutionMetrics(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	scrape := func() string {
		t.Helper()
		r := e.do(req{method: http.MethodGet, path: "/metrics"})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain"), r.header.Get("Content-Type"))
		return string(r.body)
	}
	before := scrape()
	require.NotContains(t, before, "wasmflow_executions_total{")
	require.NotContains(t, before, "wasmflow_node_run_duration_seconds_count")

	e.uploadDir(e.key, filepath.Join(examplesDir, "hash"))
	wf := e.saveWorkflow(e.key, chain("metered", hashNode(map[string]any{"field": "email"})))
	ex := e.startExec(e.key, wf, "wait=30s", items(map[string]any{"email": "m@e.t"}), http.StatusOK)
	require.Equal(t, store.ExecutionSucceeded, ex.Status)

	want := []string{
		`wasmflow_executions_total{status="started"} 1`,
		`wasmflow_executions_total{status="succeeded"} 1`,
		`wasmflow_node_run_duration_seconds_count{module="trigger.manual",status="succeeded"} 1`,
		`wasmflow_node_run_duration_seconds_count{module="wasmflow/hash",status="succeeded"} 1`,
	}
	// The execution's final count follows its commit, a moment after a
	// reader can see it finished.
	var body string
	require.Eventually(t, func() bool {
		body = scrape()
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "want %q in\n%s", want, body)
	require.Contains(t, body, "# TYPE wasmflow_node_run_duration_seconds histogram")
}

// The execution routes and /metrics exist only when the server has an engine
// and a metrics handler.
func TestExecutionRoutesNeedEngine(t *testing.T) {
	t.Parallel()
	plain := newEnv(t)
	wf := plain.createTriggerOnly(plain.key, "plain")
	plain.do(req{method: http.MethodGet, path: "/api/v1/executions", key: plain.key}).problem(t, http.StatusNotFound, CodeNotFound)
	plain.do(req{method: http.MethodGet, path: "/api/v1/executions/ex_x", key: plain.key}).problem(t, http.StatusNotFound, CodeNotFound)
	plain.do(req{method: http.MethodPost, path: startPath(wf, ""), key: plain.key, body: `{}`}).problem(t, http.StatusNotFound, CodeNotFound)
	plain.do(req{method: http.MethodGet, path: "/metrics"}).problem(t, http.StatusNotFound, CodeNotFound)

	e := newExecEnv(t)
	r := e.do(req{method: http.MethodPost, path: "/api/v1/executions", key: e.key, body: `{}`})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "GET", r.header.Get("Allow"))
	r = e.do(req{method: http.MethodDelete, path: "/api/v1/executions/ex_x", key: e.key})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "GET", r.header.Get("Allow"))
	for _, action := range []string{"cancel", "retry"} {
		r = e.do(req{method: http.MethodGet, path: "/api/v1/executions/ex_x/" + action, key: e.key})
		r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
		require.Equal(t, "POST", r.header.Get("Allow"))
	}
	r = e.do(req{method: http.MethodGet, path: startPath("wf_x", ""), key: e.key})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "POST", r.header.Get("Allow"))
	r = e.do(req{method: http.MethodPost, path: "/metrics"})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "GET", r.header.Get("Allow"))
}

// With an engine, every route but the document itself and /metrics is
// documented, the execution routes with their roles and answers.
// (TestOpenAPIDocumentsEveryRoute covers the server without one.)
func TestExecutionRoutesDocumented(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	r := e.do(req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, r.status)
	type docResponse struct {
		Content map[string]struct {
			Schema struct {
				Ref string `json:"$ref"`
			} `json:"schema"`
		} `json:"content"`
		Headers map[string]any `json:"headers"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Role      string                 `json:"x-required-role"`
			Security  []map[string][]any     `json:"security"`
			Responses map[string]docResponse `json:"responses"`
		} `json:"paths"`
	}
	r.decode(t, &doc)
	const execution = "#/components/schemas/ExecutionResponse"
	for _, tc := range []struct {
		method, path, role string
		success            []string
		errors             []string
	}{
		{"post", "/api/v1/workflows/{id}/executions", auth.RoleRunner, []string{"200", "202"}, []string{"400", "401", "403", "404", "422"}},
		{"get", "/api/v1/executions", auth.RoleViewer, []string{"200"}, []string{"400", "401", "403", "422"}},
		{"get", "/api/v1/executions/{id}", auth.RoleViewer, []string{"200"}, []string{"401", "403", "404"}},
		{"post", "/api/v1/executions/{id}/cancel", auth.RoleRunner, []string{"200"}, []string{"401", "403", "404", "409"}},
		{"post", "/api/v1/executions/{id}/retry", auth.RoleRunner, []string{"202"}, []string{"401", "403", "404", "409"}},
	} {
		name := tc.method + " " + tc.path
		op, ok := doc.Paths[tc.path][tc.method]
		require.True(t, ok, "%s is not documented", name)
		require.Equal(t, tc.role, op.Role, name)
		require.Equal(t, []map[string][]any{{"bearer": {}}}, op.Security, name)
		for _, status := range tc.success {
			resp, ok := op.Responses[status]
			require.True(t, ok, "%s: no %s documented", name, status)
			if tc.path != "/api/v1/executions" {
				require.Equal(t, execution, resp.Content["application/json"].Schema.Ref, "%s %s", name, status)
			}
		}
		for _, status := range tc.errors {
			require.Contains(t, op.Responses, status, name)
			require.Contains(t, op.Responses[status].Content, problemContentType, "%s %s", name, status)
		}
	}
	start := doc.Paths["/api/v1/workflows/{id}/executions"]["post"]
	for _, status := range []string{"200", "202"} {
		require.Contains(t, start.Responses[status].Headers, "Location", status)
	}
	require.Contains(t, doc.Paths["/api/v1/executions/{id}/retry"]["post"].Responses["202"].Headers, "Location")
	require.NotContains(t, doc.Paths, "/metrics")

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range e.srv.app.GetRoutes(true) {
		if rt.Method == http.MethodGet && (rt.Path == openAPIPath || rt.Path == metricsPath) {
			continue // the document itself; Prometheus's text, no API operation
		}
		if strings.HasPrefix(rt.Path, hooksPrefix+"/") {
			continue // webhooks: public URLs of the tenants' workflows, not API operations
		}
		path := rt.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served[rt.Method+" "+path] = true
	}
	require.Equal(t, documented, served)
}
