package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Retry restarts a failed or cancelled execution from where it stopped: the
// nodes that failed (without on_error: continue), were cancelled or never
// ran get a new attempt, on the workflow version the execution started
// with; nodes that succeeded or were skipped keep their outputs. An *Error
// with CodeNotRetryable when the execution is not failed or cancelled.
func (e *Engine) Retry(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	ex, runs, err := e.Get(ctx, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("engine: retry: %w", err)
	}
	if ex.Status != store.ExecutionFailed && ex.Status != store.ExecutionCancelled {
		return nil, &Error{Code: CodeNotRetryable, Message: "only a failed or cancelled execution can be retried; this one is " + ex.Status}
	}
	p, err := e.plan(ctx, tenantID, ex.WorkflowID, ex.WorkflowVersion)
	if err != nil {
		return nil, fmt.Errorf("engine: retry: %w", err)
	}
	latest := latestRuns(runs)
	redo := map[string]bool{}
	for _, n := range p.def.Nodes {
		r := latest[n.Name]
		if r == nil || !doneForGood(r, &n) {
			redo[n.Name] = true
		}
	}
	var next []*store.NodeRun
	for _, n := range p.def.Nodes {
		if !redo[n.Name] {
			continue
		}
		pending := 0
		for _, parent := range p.graph.parents[n.Name] {
			if redo[parent] {
				pending++
			}
		}
		attempt := 1
		if r := latest[n.Name]; r != nil {
			attempt = r.Attempt + 1
		}
		status := store.RunPending
		if pending == 0 {
			status = store.RunQueued
		}
		next = append(next, &store.NodeRun{Node: n.Name, Attempt: attempt, Status: status, Pending: pending})
	}
	deadline := e.now().Add(e.timeoutOf(p.def))
	resumed, queued, err := e.store.ExecutionResume(ctx, tenantID, id, &store.ExecutionResumeParams{Runs: next, DeadlineAt: &deadline})
	if errors.Is(err, store.ErrConflict) {
		return nil, &Error{Code: CodeNotRetryable, Message: "the execution is not failed or cancelled (any more)"}
	}
	if err != nil {
		return nil, fmt.Errorf("engine: retry: %w", err)
	}
	e.enqueue(ctx, queued)
	return resumed, nil
}

// doneForGood reports whether a node's latest run stands on a retry: it
// succeeded, was skipped, or failed with on_error: continue (its error is
// its output).
func doneForGood(r *store.NodeRun, n *workflow.Node) bool {
	switch r.Status {
	case store.RunSucceeded, store.RunSkipped:
		return true
	case store.RunFailed:
		return n.OnError == workflow.OnErrorContinue && len(r.Output) > 0
	}
	return false
}
