package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Reconcile runs reconciler passes every ReconcileInterval until ctx is
// done. Any number of processes may run it at once: every step is a
// conditional write.
func (e *Engine) Reconcile(ctx context.Context) error {
	t := time.NewTicker(e.reconcileEvery)
	defer t.Stop()
	for {
		if err := e.ReconcileOnce(ctx); err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "reconciler pass failed", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ReconcileOnce makes one pass: it queues again the runs whose lease
// expired, enqueues the outbox entries nobody enqueued (or the queue lost),
// fails the executions past their deadline and prunes old ones.
func (e *Engine) ReconcileOnce(ctx context.Context) error {
	now := e.now()
	expired, err := e.store.RunRequeueExpired(ctx, now, reconcileBatch)
	if err != nil {
		return fmt.Errorf("engine: requeue expired leases: %w", err)
	}
	if len(expired) > 0 {
		e.log.InfoContext(ctx, "runs queued again after their lease expired", slog.Int("runs", len(expired)))
		e.metrics.reconciled("lease_expired", len(expired))
		e.enqueue(ctx, expired)
	}

	due, err := e.store.OutboxDue(ctx, now.Add(-e.redeliverAfter), now, reconcileBatch)
	if err != nil {
		return fmt.Errorf("engine: outbox: %w", err)
	}
	if len(due) > 0 {
		e.metrics.reconciled("outbox_redelivered", len(due))
		e.enqueue(ctx, due)
	}

	timeoutErr, _ := json.Marshal(RunError{Kind: KindExecutionTimeout, Message: "the execution ran past its timeout"})
	timedOut, err := e.store.ExecutionFailExpired(ctx, now, timeoutErr, reconcileBatch)
	if err != nil {
		return fmt.Errorf("engine: fail expired executions: %w", err)
	}
	for _, ex := range timedOut {
		e.running.cancelExecution(ex.ID)
		e.metrics.executionFinished(ex.Status)
		e.waiters.notify(ex.ID)
	}
	if len(timedOut) > 0 {
		e.metrics.reconciled("execution_timeout", len(timedOut))
	}

	if e.retention > 0 {
		n, err := e.store.ExecutionPrune(ctx, now.Add(-e.retention), reconcileBatch)
		if err != nil {
			return fmt.Errorf("engine: prune: %w", err)
		}
		if n > 0 {
			e.metrics.reconciled("pruned", n)
		}
	}
	return nil
}
