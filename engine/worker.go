package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Work delivers the queue's tasks to Handle until ctx is done (the worker
// role). On shutdown the queue waits for running handlers up to its
// shutdown timeout, then cancels them; a run cut off that way is handed
// back at once (store.Runs.RunRelease: queued again, with an outbox entry)
// for another worker, or this one after a restart, to run from the start.
// Only when the hand-back fails does the run wait for its lease to expire.
func (e *Engine) Work(ctx context.Context) error {
	return e.queue.Run(ctx, e.Handle)
}

// errLeaseLost is the cause of a run stopped because its claim no longer
// holds (its lease expired and the run was queued again, or it was cancelled).
var errLeaseLost = errors.New("the run's claim was lost")

// Handle runs the node run a task names. It is idempotent: a task for a run
// that is not queued (a duplicate delivery, a run already claimed, finished
// or cancelled) does nothing.
func (e *Engine) Handle(ctx context.Context, t *queue.Task) error {
	if t.Kind != TaskKind {
		return fmt.Errorf("engine: task %s has unknown kind %q", t.ID, t.Kind)
	}
	tenantID, runID := t.TenantID, string(t.Payload)
	// The claim deletes the run's outbox entry in its transaction: a queued
	// run always has one, and a claimed run none.
	run, err := e.store.RunClaim(ctx, tenantID, runID, e.now().Add(e.lease))
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		// Not queued: a duplicate. An entry still left for it is stale
		// (OutboxDelete keeps the entry of a run queued again meanwhile).
		e.metrics.duplicateDelivery()
		if err := e.store.OutboxDelete(context.WithoutCancel(ctx), tenantID, runID); err != nil {
			return fmt.Errorf("engine: outbox delete %s: %w", runID, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("engine: claim %s: %w", runID, err) // the outbox entry stays: redelivered later
	}
	return e.execute(ctx, tenantID, run)
}

// execute runs a claimed run and finishes it.
func (e *Engine) execute(ctx context.Context, tenantID string, run *store.NodeRun) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.running.add(run.ExecutionID, run.ID, cancel)
	defer e.running.remove(run.ExecutionID, run.ID)
	stopHeartbeat := e.heartbeat(runCtx, cancel, tenantID, run)
	defer stopHeartbeat()

	started := e.now()
	out, node, err := e.runNode(runCtx, tenantID, run)
	if err != nil {
		if ctx.Err() != nil {
			e.handBack(ctx, tenantID, run) // shutdown cut the reads off
			return nil
		}
		// The store failed while reading what the run needs: the lease
		// expires and the run is queued again.
		return fmt.Errorf("engine: run %s: %w", run.ID, err)
	}
	stopHeartbeat()
	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errExecutionCancelled), errors.Is(cause, errLeaseLost):
		return nil // the store says where the run stands; nothing to finish
	case ctx.Err() != nil:
		// Shutdown cut the run off (the queue cancelled its handler):
		// hand it back, whatever the node got to do.
		e.handBack(ctx, tenantID, run)
		return nil
	}
	e.metrics.nodeRun(node, out.status, e.now().Sub(started))
	return e.finish(ctx, tenantID, run, node, out)
}

// handBackTimeout bounds the store write that hands a run back on shutdown.
const handBackTimeout = 5 * time.Second

// handBack queues again a run that shutdown cut off, with an outbox entry,
// and enqueues it, so that it runs again at once rather than when its lease
// expires. The enqueue is often a duplicate of the task being cut off (the
// queue still holds its id; Asynq pushes it back itself), and in the
// embedded mode this process's queue is stopping: the outbox entry stays
// until a worker claims the run, and a reconciler enqueues it after
// RedeliverAfter. If the hand-back fails, the run stays running and the
// reconciler queues it again once its lease expires.
func (e *Engine) handBack(ctx context.Context, tenantID string, run *store.NodeRun) {
	attrs := []any{slog.String("run_id", run.ID), slog.String("node", run.Node)}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
	defer cancel()
	entry, err := e.store.RunRelease(wctx, tenantID, run.ID, run.ClaimToken)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Cancelled, or its lease expired, meanwhile: it is not ours to hand back.
		e.log.InfoContext(ctx, "run interrupted by shutdown; its claim no longer holds it", attrs...)
		return
	case err != nil:
		e.log.WarnContext(ctx, "run interrupted by shutdown and not handed back; it will be queued again when its lease expires",
			append(attrs, slog.Any("err", err))...)
		return
	}
	e.log.InfoContext(ctx, "run interrupted by shutdown; handed back (queued again)", attrs...)
	e.enqueue(ctx, []*store.OutboxEntry{entry})
}

// heartbeat extends the run's lease every third of it until stopped; when
// the claim is lost it cancels the run.
func (e *Engine) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, tenantID string, run *store.NodeRun) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(e.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := e.store.RunExtendLease(ctx, tenantID, run.ID, run.ClaimToken, e.now().Add(e.lease))
			if errors.Is(err, store.ErrConflict) {
				cancel(errLeaseLost)
				return
			}
			if err != nil && ctx.Err() == nil {
				e.log.WarnContext(ctx, "lease not extended", slog.String("run_id", run.ID), slog.Any("err", err))
			}
		}
	}()
	var once bool
	return func() {
		if !once {
			once = true
			close(done)
			<-stopped
		}
	}
}

// finish stores the run's outcome with what it causes, then enqueues the
// runs it queued.
func (e *Engine) finish(ctx context.Context, tenantID string, run *store.NodeRun, node *workflow.Node, out *outcome) error {
	p := &store.RunFinishParams{
		RunID: run.ID, ClaimToken: run.ClaimToken, Status: out.status,
		Output: out.output, Logs: out.logs, InputSize: out.inputSize, HostCalls: out.hostCalls,
	}
	if out.err != nil {
		p.Status = store.RunFailed
		switch {
		case node != nil && e.shouldRetry(ctx, tenantID, run, node):
			at := e.now().Add(backoff(node.Retry, run.Attempt))
			out.err.RetryAt = at.UTC().Format(time.RFC3339Nano)
			p.Retry = &store.RunRetry{AvailableAt: at}
		case node != nil && node.OnError == workflow.OnErrorContinue:
			item := workflow.Item{"error": map[string]any{"kind": out.err.Kind, "message": out.err.Message}}
			p.Output, _ = json.Marshal(workflow.OutputDocument{Items: []workflow.Item{item}})
		default:
			p.FailExecution, _ = json.Marshal(map[string]any{
				"node": run.Node, "kind": out.err.Kind, "message": out.err.Message,
			})
		}
		p.Error, _ = json.Marshal(out.err)
	}
	if p.Retry == nil && p.FailExecution == nil && node != nil {
		for _, child := range e.childrenOf(ctx, tenantID, run, node) {
			p.Release = append(p.Release, store.ChildRelease{Node: child})
		}
	}
	res, err := e.store.RunFinish(context.WithoutCancel(ctx), tenantID, p)
	if errors.Is(err, store.ErrConflict) {
		return nil // the claim was lost meanwhile: whoever holds the run now finishes it
	}
	if err != nil {
		return fmt.Errorf("engine: finish %s: %w", run.ID, err)
	}
	if Finished(res.Execution.Status) {
		e.metrics.executionFinished(res.Execution.Status)
		e.waiters.notify(res.Execution.ID)
		if p.FailExecution != nil && sameJSON(res.Execution.Error, p.FailExecution) {
			// This finish failed the execution (not an earlier one of
			// another of its runs, which started the error workflow then).
			e.startErrorWorkflow(ctx, res.Execution)
		}
		defer e.freed(ctx, tenantID) // after this execution's own runs are enqueued
	}
	e.enqueue(ctx, res.Queued)
	return nil
}

// childrenOf lists the node's children from the plan (read again if it was
// evicted meanwhile).
func (e *Engine) childrenOf(ctx context.Context, tenantID string, run *store.NodeRun, node *workflow.Node) []string {
	ex, err := e.store.ExecutionGet(ctx, tenantID, run.ExecutionID)
	if err != nil {
		return nil
	}
	p, err := e.plan(ctx, tenantID, ex.WorkflowID, ex.WorkflowVersion)
	if err != nil {
		return nil
	}
	return p.graph.children[node.Name]
}

// shouldRetry reports whether a failed run gets another attempt: the
// attempts of this round (since the execution was last started or
// resumed) are fewer than the node's max_attempts.
func (e *Engine) shouldRetry(ctx context.Context, tenantID string, run *store.NodeRun, node *workflow.Node) bool {
	if node.Retry == nil || node.Retry.MaxAttempts <= 1 {
		return false
	}
	runs, err := e.store.NodeRunList(ctx, tenantID, run.ExecutionID)
	if err != nil {
		return false
	}
	return attemptsInRound(runs, run) < node.Retry.MaxAttempts
}

// attemptsInRound counts run and the attempts of its node just before it
// that failed and were retried (their error names a retry time).
func attemptsInRound(runs []*store.NodeRun, run *store.NodeRun) int {
	byAttempt := map[int]*store.NodeRun{}
	for _, r := range runs {
		if r.Node == run.Node {
			byAttempt[r.Attempt] = r
		}
	}
	n := 1
	for a := run.Attempt - 1; a >= 1; a-- {
		prev, ok := byAttempt[a]
		if !ok || prev.Status != store.RunFailed {
			break
		}
		var re RunError
		if json.Unmarshal(prev.Error, &re) != nil || re.RetryAt == "" {
			break
		}
		n++
	}
	return n
}

// backoff is the wait before the attempt after attempt: BackoffMS, doubled
// for each later attempt, capped at an hour.
func backoff(r *workflow.Retry, attempt int) time.Duration {
	if r == nil || r.BackoffMS <= 0 {
		return 0
	}
	d := time.Duration(r.BackoffMS) * time.Millisecond
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
