package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
// fails the executions past their deadline and prunes old ones. A step that
// fails does not keep the others from running; the errors are joined.
func (e *Engine) ReconcileOnce(ctx context.Context) error {
	now := e.now()
	var errs []error
	expired, err := e.store.RunRequeueExpired(ctx, now, reconcileBatch)
	if err != nil {
		errs = append(errs, fmt.Errorf("engine: requeue expired leases: %w", err))
	}
	if len(expired) > 0 {
		e.log.InfoContext(ctx, "runs queued again after their lease expired", slog.Int("runs", len(expired)))
		e.metrics.reconciled("lease_expired", len(expired))
		// Each expiry gets its own id: the dead worker's task may still
		// hold the plain one.
		e.enqueueAs(ctx, expired, "#lease-"+strconv.FormatInt(now.UnixNano(), 36))
	}

	due, err := e.store.OutboxDue(ctx, now.Add(-e.redeliverAfter), now, reconcileBatch)
	if err != nil {
		errs = append(errs, fmt.Errorf("engine: outbox: %w", err))
	}
	if len(due) > 0 {
		e.metrics.reconciled("outbox_redelivered", len(due))
		// One id per entry per redelivery window: a task still waiting in
		// the queue absorbs the redeliveries of its window, and one a dead
		// worker took cannot block the next window's.
		window := max(e.redeliverAfter, time.Second)
		e.enqueueAs(ctx, due, "#redeliver-"+strconv.FormatInt(now.UnixNano()/int64(window), 36))
	}

	timeoutErr, _ := json.Marshal(RunError{Kind: KindExecutionTimeout, Message: "the execution ran past its timeout"})
	timedOut, err := e.store.ExecutionFailExpired(ctx, now, timeoutErr, reconcileBatch)
	if err != nil {
		errs = append(errs, fmt.Errorf("engine: fail expired executions: %w", err))
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
			errs = append(errs, fmt.Errorf("engine: prune: %w", err))
		}
		if n > 0 {
			e.metrics.reconciled("pruned", n)
		}
	}
	return errors.Join(errs...)
}
