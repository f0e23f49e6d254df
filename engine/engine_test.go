package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestEndToEnd runs the same workflows in both modes, with real modules
// from plugins-examples.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			t.Run("Chain", func(t *testing.T) { testChain(t, h) })
			t.Run("Diamond", func(t *testing.T) { testDiamond(t, h) })
			t.Run("IfSkipsUntakenBranch", func(t *testing.T) { testIf(t, h) })
			t.Run("Switch", func(t *testing.T) { testSwitch(t, h) })
			t.Run("RetryThenSucceed", func(t *testing.T) { testRetry(t, h) })
			t.Run("Timeout", func(t *testing.T) { testTimeout(t, h) })
			t.Run("Cancel", func(t *testing.T) { testCancel(t, h) })
			t.Run("RetryFromFailed", func(t *testing.T) { testRetryFromFailed(t, h) })
			t.Run("OnErrorContinue", func(t *testing.T) { testContinue(t, h) })
			t.Run("ExpressionError", func(t *testing.T) { testExpressionError(t, h) })
			t.Run("VersionPinned", func(t *testing.T) { testVersionPinned(t, h) })
		})
	}
}

// A linear chain: trigger → hash (C) → text-template (Rust, WASI) → noop.
func testChain(t *testing.T, h *harness) {
	wf := h.save(`{"name": "chain", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "hash", "module": "wasmflow/hash@^1", "params": {"field": "email"}},
		{"name": "greet", "module": "wasmflow/text-template", "params": {"template": "[[email]] is [[email_sha256]]", "delimiters": ["[[", "]]"]}},
		{"name": "done", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "hash"}, {"from": "hash", "to": "greet"}, {"from": "greet", "to": "done"}]}`)
	r := h.run(wf, workflow.Item{"email": "ada@example.com"}, workflow.Item{"email": "bob@example.com"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.NotNil(t, r.ex.StartedAt)
	require.NotNil(t, r.ex.FinishedAt)
	got := r.items(t, "done")
	require.Len(t, got, 2)
	require.Equal(t, "ada@example.com is "+sha("ada@example.com"), got[0]["text"])
	require.Equal(t, sha("bob@example.com"), got[1]["email_sha256"])
	for _, name := range []string{"start", "hash", "greet", "done"} {
		run := r.node(t, name)
		require.Equal(t, store.RunSucceeded, run.Status, name)
		require.Equal(t, 1, run.Attempt)
		require.NotNil(t, run.StartedAt)
		require.NotNil(t, run.FinishedAt)
	}
	require.Positive(t, r.node(t, "hash").InputSize)
	require.Contains(t, string(r.node(t, "hash").Logs), "hashed 2 of 2 item(s)")
}

// A diamond: the merge runs once, after both branches, with both inputs.
func testDiamond(t *testing.T, h *harness) {
	wf := h.save(`{"name": "diamond", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "left", "module": "wasmflow/hash", "params": {"field": "a", "target": "left"}},
		{"name": "right", "module": "wasmflow/hash", "params": {"field": "a", "target": "right"}},
		{"name": "merge", "type": "core.merge"}],
		"connections": [{"from": "start", "to": "left"}, {"from": "start", "to": "right"},
			{"from": "left", "to": "merge"}, {"from": "right", "to": "merge"}]}`)
	r := h.run(wf, workflow.Item{"a": "x"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Len(t, r.attempts("merge"), 1, "the merge ran once")
	got := r.items(t, "merge")
	require.Len(t, got, 2)
	require.Equal(t, sha("x"), got[0]["left"])
	require.Equal(t, sha("x"), got[1]["right"])
}

// An IF routes each item; a branch that receives nothing is skipped, and
// so is everything below it.
func testIf(t *testing.T, h *harness) {
	wf := h.save(`{"name": "if", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "big?", "type": "core.if", "params": {"condition": "{{ $json.total > 100 }}"}},
		{"name": "big", "module": "wasmflow/hash", "params": {"field": "id"}},
		{"name": "small", "type": "core.noop"},
		{"name": "after-small", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "big?"},
			{"from": "big?", "from_port": "true", "to": "big"}, {"from": "big?", "from_port": "false", "to": "small"},
			{"from": "small", "to": "after-small"}]}`)
	r := h.run(wf, workflow.Item{"id": "1", "total": 150.0}, workflow.Item{"id": "2", "total": 300.0})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Len(t, portItems(t, r.node(t, "big?").Output, "true"), 2)
	require.Equal(t, store.RunSucceeded, r.node(t, "big").Status)
	require.Equal(t, store.RunSkipped, r.node(t, "small").Status)
	require.Equal(t, store.RunSkipped, r.node(t, "after-small").Status)
	require.Nil(t, r.node(t, "small").Output)
}

// A switch sends each item to its first matching case or to default.
func testSwitch(t *testing.T, h *harness) {
	wf := h.save(`{"name": "switch", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "route", "type": "core.switch", "params": {"cases": [
			{"port": "eu", "condition": "{{ $json.country in [\"DE\", \"FR\"] }}"},
			{"port": "us", "condition": "{{ $json.country == \"US\" }}"}]}},
		{"name": "eu", "type": "core.noop"}, {"name": "us", "type": "core.noop"}, {"name": "other", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "route"},
			{"from": "route", "from_port": "eu", "to": "eu"}, {"from": "route", "from_port": "us", "to": "us"},
			{"from": "route", "from_port": "default", "to": "other"}]}`)
	r := h.run(wf, workflow.Item{"country": "DE"}, workflow.Item{"country": "FR"}, workflow.Item{"country": "JP"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Len(t, r.items(t, "eu"), 2)
	require.Len(t, r.items(t, "other"), 1)
	require.Equal(t, store.RunSkipped, r.node(t, "us").Status)
}

// A module that fails on its first two attempts (its field param is not a
// string until attempt 3) succeeds on the third under its retry policy;
// every attempt is a visible run.
func testRetry(t *testing.T, h *harness) {
	wf := h.save(`{"name": "retry", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "flaky", "module": "wasmflow/hash", "params": {"field": "{{ $execution.attempt < 3 ? 7 : \"email\" }}"},
		 "retry": {"max_attempts": 3, "backoff_ms": 20}}],
		"connections": [{"from": "start", "to": "flaky"}]}`)
	r := h.run(wf, workflow.Item{"email": "a@b.c"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	runs := r.attempts("flaky")
	require.Len(t, runs, 3)
	for i, run := range runs[:2] {
		require.Equal(t, i+1, run.Attempt)
		require.Equal(t, store.RunFailed, run.Status)
		var re engine.RunError
		require.NoError(t, json.Unmarshal(run.Error, &re))
		require.Equal(t, "guest_error", re.Kind)
		require.NotEmpty(t, re.RetryAt)
	}
	require.Equal(t, store.RunSucceeded, runs[2].Status)
	require.Equal(t, sha("a@b.c"), r.items(t, "flaky")[0]["email_sha256"])
	// The second attempt waited its doubled backoff after the first.
	require.GreaterOrEqual(t, runs[2].StartedAt.Sub(*runs[1].FinishedAt), 35*time.Millisecond)

	// Out of attempts: the execution fails, naming the node.
	wf = h.save(`{"name": "retry-out", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "flaky", "module": "wasmflow/hash", "params": {"field": 7}, "retry": {"max_attempts": 2, "backoff_ms": 1}},
		{"name": "next", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "flaky"}, {"from": "flaky", "to": "next"}]}`)
	r = h.run(wf, workflow.Item{"email": "a@b.c"})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	require.Len(t, r.attempts("flaky"), 2)
	require.Equal(t, store.RunCancelled, r.node(t, "next").Status)
	var exErr map[string]any
	require.NoError(t, json.Unmarshal(r.ex.Error, &exErr))
	require.Equal(t, "flaky", exErr["node"])
	require.Equal(t, "guest_error", exErr["kind"])
}

// A node's timeout_ms stops a runaway module; the execution fails with kind
// timeout and the next execution runs normally.
func testTimeout(t *testing.T, h *harness) {
	wf := h.save(`{"name": "timeout", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "spin", "module": "test/loop", "timeout_ms": 200}],
		"connections": [{"from": "start", "to": "spin"}]}`)
	began := time.Now()
	r := h.run(wf)
	require.Less(t, time.Since(began), 10*time.Second)
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	var re engine.RunError
	require.NoError(t, json.Unmarshal(r.node(t, "spin").Error, &re))
	require.Equal(t, "timeout", re.Kind)

	// The workflow-wide timeout fails an execution whose nodes have time left.
	wf = h.save(`{"name": "exec-timeout", "settings": {"timeout_ms": 300}, "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "spin", "module": "test/loop"}],
		"connections": [{"from": "start", "to": "spin"}]}`)
	r = h.run(wf)
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	require.Contains(t, string(r.ex.Error), engine.KindExecutionTimeout)
	require.Equal(t, store.RunCancelled, r.node(t, "spin").Status)
}

// Cancel stops a running node and cancels what remains.
func testCancel(t *testing.T, h *harness) {
	wf := h.save(`{"name": "cancel", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "spin", "module": "test/loop"},
		{"name": "after", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "spin"}, {"from": "spin", "to": "after"}]}`)
	id := h.start(wf)
	require.Eventually(t, func() bool {
		_, runs, err := h.eng.Get(context.Background(), h.tenant, id)
		require.NoError(t, err)
		for _, r := range runs {
			if r.Node == "spin" && r.Status == store.RunRunning {
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond)
	ex, err := h.eng.Cancel(context.Background(), h.tenant, id)
	require.NoError(t, err)
	require.Equal(t, store.ExecutionCancelled, ex.Status)
	r := h.wait(id)
	require.Equal(t, store.RunCancelled, r.node(t, "spin").Status)
	require.Equal(t, store.RunCancelled, r.node(t, "after").Status)
	_, err = h.eng.Cancel(context.Background(), h.tenant, id)
	ee, ok := errors.AsType[*engine.Error](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, engine.CodeFinished, ee.Code)
}

// Retry-from-failed reruns only what failed and what it blocked, on the
// workflow version the execution started with.
func testRetryFromFailed(t *testing.T, h *harness) {
	wf := h.save(`{"name": "resume", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "ok", "module": "wasmflow/hash", "params": {"field": "email"}},
		{"name": "fails", "module": "wasmflow/hash", "params": {"field": "{{ $execution.attempt < 2 ? 7 : \"email\" }}", "target": "again"}},
		{"name": "after", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "ok"}, {"from": "ok", "to": "fails"}, {"from": "fails", "to": "after"}]}`)
	id := h.start(wf, workflow.Item{"email": "r@b.c"})
	r := h.wait(id)
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	okRun := r.node(t, "ok")

	_, err := h.eng.Retry(context.Background(), h.tenant, id)
	require.NoError(t, err)
	r = h.wait(id)
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Nil(t, r.ex.Error)
	require.Len(t, r.attempts("ok"), 1, "the node that succeeded is not run again")
	require.Equal(t, okRun.ID, r.node(t, "ok").ID)
	require.Len(t, r.attempts("fails"), 2)
	require.Len(t, r.attempts("after"), 2)
	require.Equal(t, sha("r@b.c"), r.items(t, "after")[0]["again"])

	_, err = h.eng.Retry(context.Background(), h.tenant, id)
	ee, ok := errors.AsType[*engine.Error](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, engine.CodeNotRetryable, ee.Code)
}

// on_error: continue turns the failure into an item and goes on.
func testContinue(t *testing.T, h *harness) {
	wf := h.save(`{"name": "continue", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "fails", "module": "wasmflow/hash", "params": {"field": 7}, "on_error": "continue"},
		{"name": "after", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "fails"}, {"from": "fails", "to": "after"}]}`)
	r := h.run(wf, workflow.Item{"email": "c@b.c"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Equal(t, store.RunFailed, r.node(t, "fails").Status)
	got := r.items(t, "after")
	require.Len(t, got, 1)
	errItem, _ := got[0]["error"].(map[string]any)
	require.Equal(t, "guest_error", errItem["kind"])
}

// An expression that fails at run time fails its node run with the
// expression and the reason.
func testExpressionError(t *testing.T, h *harness) {
	wf := h.save(`{"name": "expr", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "bad", "module": "wasmflow/hash", "params": {"field": "{{ fromJSON($json.raw) }}"}}],
		"connections": [{"from": "start", "to": "bad"}]}`)
	r := h.run(wf, workflow.Item{"raw": "{not json"})
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	var re engine.RunError
	require.NoError(t, json.Unmarshal(r.node(t, "bad").Error, &re))
	require.Equal(t, engine.KindExpression, re.Kind)
	require.Equal(t, " fromJSON($json.raw) ", re.Expression)
	require.Contains(t, re.Message, "fromJSON")
}

// An execution runs the version it started with, even if the workflow is
// saved again meanwhile.
func testVersionPinned(t *testing.T, h *harness) {
	wf := h.save(`{"name": "pinned", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "spin", "module": "test/loop", "timeout_ms": 300},
		{"name": "after", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "spin"}, {"from": "spin", "to": "after"}]}`)
	id := h.start(wf)
	h.update(wf, `{"name": "pinned", "nodes": [{"name": "start", "type": "trigger.manual"}], "connections": []}`)
	r := h.wait(id)
	require.Equal(t, 1, r.ex.WorkflowVersion)
	require.Equal(t, store.ExecutionFailed, r.ex.Status, "version 1 ran: its spin node timed out")
	r = h.run(wf)
	require.Equal(t, 2, r.ex.WorkflowVersion)
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status)
}

// Expressions read other nodes' outputs through $node; a workflow with
// several triggers runs only the one that fired; a module that is not
// installed, or whose bytes changed under its lock, fails its run clearly.
func TestNodeReferencesTriggersAndLocks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, modes[0], harnessOpts{})
	wf := h.save(`{"name": "refs", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "hook", "type": "trigger.webhook", "params": {"path": "refs"}},
		{"name": "hash", "module": "wasmflow/hash", "params": {"field": "email"}},
		{"name": "pick", "type": "core.if", "params": {"condition": "{{ $node[\"start\"].json.email == $json.email && len($node[\"hash\"].items) == 1 }}"}},
		{"name": "yes", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "hash"}, {"from": "hook", "to": "hash"}, {"from": "hash", "to": "pick"},
			{"from": "pick", "from_port": "true", "to": "yes"}]}`)
	r := h.run(wf, workflow.Item{"email": "n@b.c"})
	require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "error: %s", r.ex.Error)
	require.Equal(t, store.RunSkipped, r.node(t, "hook").Status, "the webhook trigger did not fire")
	require.Len(t, r.items(t, "yes"), 1)

	// A lock that names a version the tenant does not have.
	w, err := workflow.Parse([]byte(`{"name": "gone", "nodes": [{"name": "start", "type": "trigger.manual"},
		{"name": "hash", "module": "wasmflow/hash", "params": {"field": "email"}}],
		"connections": [{"from": "start", "to": "hash"}]}`))
	require.NoError(t, err)
	w.Nodes[1].Lock = &workflow.Lock{Version: "9.9.9", Digest: "sha256:00"}
	stored, err := h.store.WorkflowInsert(context.Background(), h.tenant, w)
	require.NoError(t, err)
	r = h.run(stored.ID)
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	require.Contains(t, string(r.node(t, "hash").Error), "wasmflow/hash@9.9.9 is not installed")

	// A lock whose digest is not the stored version's.
	h.lock(w)
	w.Nodes[1].Lock.Digest = "sha256:" + sha("other")
	stored, err = h.store.WorkflowInsert(context.Background(), h.tenant, w)
	require.NoError(t, err)
	r = h.run(stored.ID)
	require.Equal(t, store.ExecutionFailed, r.ex.Status)
	require.Contains(t, string(r.node(t, "hash").Error), "but the workflow locked")

	// No lock at all (saved without a registry).
	w.Nodes[1].Lock = nil
	stored, err = h.store.WorkflowInsert(context.Background(), h.tenant, w)
	require.NoError(t, err)
	r = h.run(stored.ID)
	require.Contains(t, string(r.node(t, "hash").Error), "no locked version")

	// A manual start of a workflow without a manual trigger is refused.
	hook := h.save(`{"name": "hook-only", "nodes": [{"name": "hook", "type": "trigger.webhook", "params": {"path": "hook-only"}}], "connections": []}`)
	_, err = h.eng.Start(context.Background(), h.tenant, hook, startParams())
	ee, ok := errors.AsType[*engine.Error](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, engine.CodeNoTrigger, ee.Code)
	_, err = h.eng.Start(context.Background(), h.tenant, "wf_unknown", startParams())
	require.ErrorIs(t, err, store.ErrNotFound)
}

// A caller that has just read the workflow (a webhook checks its auth on
// it) hands it to Start, which runs that version rather than reading the
// workflow again; a copy that is not the tenant's workflow is ignored.
func TestStartRunsTheWorkflowItWasGiven(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mode{name: "embedded"}, harnessOpts{})
	ctx := context.Background()
	id := h.save(`{"name": "given", "nodes": [{"name": "start", "type": "trigger.manual"}]}`)
	read, err := h.store.WorkflowGet(ctx, h.tenant, id)
	require.NoError(t, err)
	h.update(id, `{"name": "given", "nodes": [{"name": "start", "type": "trigger.manual"}, {"name": "after", "type": "core.noop"}],
		"connections": [{"from": "start", "to": "after"}]}`)

	ex, err := h.eng.Start(ctx, h.tenant, id, engine.StartParams{Trigger: engine.TriggerManual, Workflow: read})
	require.NoError(t, err)
	require.Equal(t, 1, ex.WorkflowVersion, "the version the caller read")

	other := *read
	other.TenantID = "tn_someone_else"
	ex, err = h.eng.Start(ctx, h.tenant, id, engine.StartParams{Trigger: engine.TriggerManual, Workflow: &other})
	require.NoError(t, err)
	require.Equal(t, 2, ex.WorkflowVersion, "another tenant's copy is not used: the store's current version runs")
}
