package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/wasmflow/wasmflow/store"
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
// fails the executions past their deadline (starting their error
// workflows), admits waiting executions to free slots, forgets expired
// webhook signatures and prunes old executions. A step that
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
	} else if since := e.redeliveries.pass(now); len(due) > 0 {
		var again []*store.OutboxEntry
		for _, en := range due {
			if redeliveryDue(now.Sub(en.CreatedAt), since, e.redeliverAfter) {
				again = append(again, en)
			}
		}
		if len(again) > 0 {
			e.metrics.reconciled("outbox_redelivered", len(again))
			// Under the task's own id: a task still waiting in the queue
			// absorbs it (see redeliveryDue), a lost one is replaced.
			e.enqueue(ctx, again)
		}
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
		e.startErrorWorkflow(ctx, ex)
	}
	if len(timedOut) > 0 {
		e.metrics.reconciled("execution_timeout", len(timedOut))
	}

	// Slots freed by a process that died before admitting the next
	// execution, by the timeouts above, or by a raised limit.
	waiting, err := e.store.ExecutionWaitingTenants(ctx, reconcileBatch)
	if err != nil {
		errs = append(errs, fmt.Errorf("engine: waiting tenants: %w", err))
	}
	for _, tenantID := range waiting {
		if n, err := e.admitWaiting(ctx, tenantID); err != nil {
			errs = append(errs, fmt.Errorf("engine: admit %s: %w", tenantID, err))
		} else if n > 0 {
			e.metrics.reconciled("admitted", n)
		}
	}

	if n, err := e.store.WebhookSignaturePrune(ctx, now, reconcileBatch); err != nil {
		errs = append(errs, fmt.Errorf("engine: prune webhook signatures: %w", err))
	} else if n > 0 {
		e.metrics.reconciled("signatures_pruned", n)
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

// maxRedeliverGap bounds the time between two redeliveries of one outbox
// entry (see redeliveryDue).
const maxRedeliverGap = 10 * time.Second

// redeliveryDue reports whether the reconciler offers an outbox entry to
// the queue again in a pass made age after the entry was written, when the
// pass before it (of this reconciler) was since ago; since <= 0 when there
// was none.
//
// An entry stays until its run is claimed, so one that is older than
// RedeliverAfter is either lost (the process that wrote it died before
// enqueueing it, Redis lost it, a dead worker took it) or still waiting
// behind others in a busy queue. The reconciler cannot tell which, so it
// enqueues it again under the task's own id: a task still waiting under
// that id absorbs the offer, and only a lost one is replaced. (Redelivering
// under a new id per pass or per window, as the engine once did, put a
// second copy behind every waiting task each window; under load the queue's
// wait grew past RedeliverAfter, the copies multiplied it further, and a
// backlog of a few hundred runs became one of thousands of duplicates,
// behind which real tasks waited for minutes.)
//
// Each offer costs the queue a lookup, so an entry is offered at ages
// RedeliverAfter, then twice that, four times…, at most maxRedeliverGap
// apart: a pass offers it when its age crossed one of those points since
// the pass before.
func redeliveryDue(age, since, after time.Duration) bool {
	if age < after {
		return false
	}
	prev := age - since
	if since <= 0 || prev < after {
		return true
	}
	gap := max(after, maxRedeliverGap)
	point := after
	for point <= prev {
		point += min(point, gap)
	}
	return point <= age
}

// redeliveries remembers when this engine's reconciler last looked at the
// outbox.
type redeliveries struct {
	mu   sync.Mutex
	last time.Time
}

// pass records a pass at now and returns the time since the one before it
// (0 for the first, or when the clock went back).
func (r *redeliveries) pass(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.last
	r.last = now
	if last.IsZero() || !now.After(last) {
		return 0
	}
	return now.Sub(last)
}
