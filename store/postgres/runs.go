package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

// Locking. Every transition that changes an execution and its runs locks
// the execution's row first and the runs' rows after it, so that two
// transactions never wait for each other in a cycle. RunFinish, RunRelease
// and ExecutionResume lock the execution FOR NO KEY UPDATE, which the
// foreign key checks of inserted runs (FOR KEY SHARE) do not wait for; a
// release thus either comes before a cancel or failure of the execution
// (which then cancels the queued run and deletes its outbox entry) or
// after it (and finds the execution finished). Cross-tenant sweeps take
// their rows with SKIP LOCKED, so that two reconcilers share the work
// instead of queueing behind each other.

const outboxColumns = `run_id, tenant_id, execution_id, node, attempt, available_at, created_at`

// insertOutboxStmt writes a run's outbox entry; a run queued again (its
// lease expired) replaces the entry it may still have.
const insertOutboxStmt = `INSERT INTO outbox (` + outboxColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (run_id) DO UPDATE SET available_at = excluded.available_at, created_at = excluded.created_at`

// cancelRunsStmt cancels the runs that the executions $1 still wait for. A
// running run keeps its claim token, so that its worker may still record
// the outcome (RunFinish), but the lease is gone and the claim can no
// longer extend it.
const cancelRunsStmt = `UPDATE node_runs SET status = 'cancelled', finished_at = $2, lease_until = NULL
	WHERE execution_id = ANY($1) AND status IN ('pending', 'queued', 'running')`

// deleteOutboxStmt deletes the outbox entries of the executions $1.
const deleteOutboxStmt = `DELETE FROM outbox WHERE execution_id = ANY($1)`

// RunClaim moves a queued run of a queued or running execution to running,
// with a new claim token, and a queued execution to running.
func (s *Store) RunClaim(ctx context.Context, tenantID, runID string, leaseUntil time.Time) (*store.NodeRun, error) {
	now, token := record.Now(), record.NewClaimToken()
	var run *store.NodeRun
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The execution first (see Locking); rolled back below when the
		// run turns out not to be claimable.
		_, err := tx.Exec(ctx, `UPDATE executions SET status = 'running', started_at = $3
			WHERE tenant_id = $1 AND status = 'queued'
			AND id = (SELECT execution_id FROM node_runs WHERE tenant_id = $1 AND id = $2 AND status = 'queued')`,
			tenantID, runID, now)
		if err != nil {
			return err
		}
		run, err = getOne(ctx, tx, scanNodeRun, `
			UPDATE node_runs r SET status = 'running', claim_token = $3, lease_until = $4, started_at = $5
			WHERE r.tenant_id = $1 AND r.id = $2 AND r.status = 'queued' AND EXISTS (
				SELECT 1 FROM executions e WHERE e.tenant_id = r.tenant_id AND e.id = r.execution_id
				AND e.status IN ('queued', 'running'))
			RETURNING `+nodeRunColumns,
			tenantID, runID, token, record.Norm(leaseUntil), now)
		if errors.Is(err, store.ErrNotFound) {
			return runConflict(ctx, tx, tenantID, runID, "is not queued, or its execution has finished")
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM outbox WHERE tenant_id = $1 AND run_id = $2`, tenantID, runID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// runConflict explains a transition that matched no run: the run is not
// the tenant's (ErrNotFound) or is not in the state the transition needs
// (ErrConflict, with why).
func runConflict(ctx context.Context, q querier, tenantID, runID, why string) error {
	var one int
	if err := q.QueryRow(ctx, `SELECT 1 FROM node_runs WHERE tenant_id = $1 AND id = $2`, tenantID, runID).Scan(&one); err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: node run %s %s", store.ErrConflict, runID, why)
}

// RunExtendLease moves the lease of a running run that claimToken holds.
func (s *Store) RunExtendLease(ctx context.Context, tenantID, runID, claimToken string, leaseUntil time.Time) error {
	err := execOne(ctx, s.pool, `UPDATE node_runs SET lease_until = $4
		WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND claim_token = $3 AND claim_token <> ''`,
		tenantID, runID, claimToken, record.Norm(leaseUntil))
	if errors.Is(err, store.ErrNotFound) {
		return runConflict(ctx, s.pool, tenantID, runID, "is not held by this claim")
	}
	return err
}

// RunRelease queues again, with an outbox entry available now, a running
// run that claimToken holds, of an execution still queued or running.
func (s *Store) RunRelease(ctx context.Context, tenantID, runID, claimToken string) (*store.OutboxEntry, error) {
	now := record.Now()
	var entry *store.OutboxEntry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The execution first (see Locking): it stays open until the commit.
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM executions
			WHERE tenant_id = $1 AND id = (SELECT execution_id FROM node_runs WHERE tenant_id = $1 AND id = $2)
			FOR NO KEY UPDATE`, tenantID, runID).Scan(&status)
		if err != nil {
			return translate(err) // ErrNotFound: no such run
		}
		if record.ExecutionFinished(status) {
			return fmt.Errorf("%w: node run %s: its execution is %s", store.ErrConflict, runID, status)
		}
		run, err := getOne(ctx, tx, scanNodeRun, `
			UPDATE node_runs SET status = 'queued', claim_token = '', lease_until = NULL, started_at = NULL
			WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND claim_token = $3 AND claim_token <> ''
			RETURNING `+nodeRunColumns,
			tenantID, runID, claimToken)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: node run %s is not held by this claim", store.ErrConflict, runID)
		}
		if err != nil {
			return err
		}
		entry = record.NewOutboxEntry(run, now, now)
		_, err = tx.Exec(ctx, insertOutboxStmt,
			entry.RunID, entry.TenantID, entry.ExecutionID, entry.Node, entry.Attempt, entry.AvailableAt, entry.CreatedAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return entry, nil
}

// RunFinish stores a claimed run's outcome and what it causes, in one
// transaction; see [store.Runs].
func (s *Store) RunFinish(ctx context.Context, tenantID string, p *store.RunFinishParams) (*store.RunFinishResult, error) {
	p, err := record.RunFinish(p)
	if err != nil {
		return nil, err
	}
	now := record.Now()
	res := &store.RunFinishResult{}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Finishes of one execution's runs wait here for each other, so
		// that the last one sees every other run finished.
		ex, err := getOne(ctx, tx, scanExecution, `SELECT `+executionColumns+` FROM executions
			WHERE tenant_id = $1 AND id = (SELECT execution_id FROM node_runs WHERE tenant_id = $1 AND id = $2)
			FOR NO KEY UPDATE`, tenantID, p.RunID)
		if err != nil {
			return err // ErrNotFound: no such run
		}
		res.Execution = ex
		// A run cancelled with its execution while running is still its
		// claim's to finish: the outcome is stored, and causes nothing.
		finished := record.ExecutionFinished(ex.Status)
		run, err := getOne(ctx, tx, scanNodeRun, `
			UPDATE node_runs SET status = $4, output = $5, logs = $6, error = $7, host_calls = $8, input_size = $9,
				finished_at = $10, lease_until = NULL, claim_token = ''
			WHERE tenant_id = $1 AND id = $2 AND claim_token = $3 AND claim_token <> ''
				AND (status = 'running' OR (status = 'cancelled' AND $11))
			RETURNING `+nodeRunColumns,
			tenantID, p.RunID, p.ClaimToken, p.Status, p.Output, p.Logs, p.Error, p.HostCalls, p.InputSize, now, finished)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: node run %s is not held by this claim", store.ErrConflict, p.RunID)
		}
		if err != nil || finished {
			return err
		}
		switch {
		case p.FailExecution != nil:
			res.Execution, err = closeExecution(ctx, tx, tenantID, ex.ID, store.ExecutionFailed, p.FailExecution, now)
			return err
		case p.Retry != nil:
			var seq int
			if err := tx.QueryRow(ctx, `SELECT max(seq) + 1 FROM node_runs WHERE execution_id = $1`, ex.ID).Scan(&seq); err != nil {
				return err
			}
			b := &pgx.Batch{}
			res.Queued = queueRuns(b, []*store.NodeRun{record.RetryRun(run, now)}, seq, p.Retry.AvailableAt, now)
			err = sendBatch(ctx, tx, b)
		default:
			res.Queued, err = release(ctx, tx, ex, p.Release, now)
		}
		if err != nil {
			return err
		}
		var open bool
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM node_runs
			WHERE tenant_id = $1 AND execution_id = $2 AND status IN ('pending', 'queued', 'running'))`,
			tenantID, ex.ID).Scan(&open)
		if err != nil || open {
			return err
		}
		res.Execution, err = getOne(ctx, tx, scanExecution, `UPDATE executions SET status = 'succeeded', finished_at = $3
			WHERE tenant_id = $1 AND id = $2 RETURNING `+executionColumns, tenantID, ex.ID, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// release counts a finished parent done for each child's pending run,
// queues the runs that wait for no other parent and writes their outbox
// entries, which it returns.
func release(ctx context.Context, tx pgx.Tx, ex *store.Execution, children []store.ChildRelease, now time.Time) ([]*store.OutboxEntry, error) {
	var entries []*store.OutboxEntry
	for _, c := range children {
		runs, err := getAll(ctx, tx, scanNodeRun, `
			UPDATE node_runs SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END,
				status = CASE WHEN pending <= 1 THEN 'queued' ELSE status END
			WHERE tenant_id = $1 AND execution_id = $2 AND node = $3 AND status = 'pending'
			RETURNING `+nodeRunColumns, ex.TenantID, ex.ID, c.Node)
		if err != nil {
			return nil, err
		}
		queued := record.Outbox(runs, now, now)
		if len(queued) == 0 {
			continue
		}
		b := &pgx.Batch{}
		for _, e := range queued {
			queueOutbox(b, e)
		}
		if err := sendBatch(ctx, tx, b); err != nil {
			return nil, err
		}
		entries = append(entries, queued...)
	}
	return entries, nil
}

// closeExecution ends an open execution with status (failed or cancelled)
// and, when errJSON is set, that error; it cancels the runs the execution
// still waits for and deletes its outbox entries. ErrNotFound when the
// execution is not open, or not there.
func closeExecution(ctx context.Context, tx pgx.Tx, tenantID, id, status string, errJSON json.RawMessage, now time.Time) (*store.Execution, error) {
	ex, err := getOne(ctx, tx, scanExecution, `
		UPDATE executions SET status = $3, error = coalesce($4, error), finished_at = $5
		WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running')
		RETURNING `+executionColumns, tenantID, id, status, errJSON, now)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(cancelRunsStmt, []string{id}, now)
	b.Queue(deleteOutboxStmt, []string{id})
	if err := sendBatch(ctx, tx, b); err != nil {
		return nil, err
	}
	return ex, nil
}

// executionConflict explains a transition that matched no execution: it is
// not the tenant's (ErrNotFound) or not in the state the transition needs
// (ErrConflict).
func executionConflict(ctx context.Context, q querier, tenantID, id, why string) error {
	var status string
	if err := q.QueryRow(ctx, `SELECT status FROM executions WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&status); err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: execution %s is %s, %s", store.ErrConflict, id, status, why)
}

func queueOutbox(b *pgx.Batch, e *store.OutboxEntry) {
	b.Queue(insertOutboxStmt, e.RunID, e.TenantID, e.ExecutionID, e.Node, e.Attempt, e.AvailableAt, e.CreatedAt)
}

// RunRequeueExpired queues again, with outbox entries, up to limit running
// runs whose lease ended before now, oldest lease first, in one statement.
func (s *Store) RunRequeueExpired(ctx context.Context, now time.Time, limit int) ([]*store.OutboxEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	return getAll(ctx, s.pool, scanOutbox, `
		WITH expired AS (
			SELECT id FROM node_runs WHERE status = 'running' AND lease_until < $1
			ORDER BY lease_until LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED
		), requeued AS (
			UPDATE node_runs r SET status = 'queued', claim_token = '', lease_until = NULL
			FROM expired x WHERE r.id = x.id
			RETURNING r.id, r.tenant_id, r.execution_id, r.node, r.attempt
		)
		INSERT INTO outbox (`+outboxColumns+`)
		SELECT id, tenant_id, execution_id, node, attempt, $3::timestamptz, $3::timestamptz FROM requeued
		ON CONFLICT (run_id) DO UPDATE SET available_at = excluded.available_at, created_at = excluded.created_at
		RETURNING `+outboxColumns, now, limit, record.Now())
}

// OutboxDue lists up to limit entries created before createdBefore and
// available by availableBy, oldest first.
func (s *Store) OutboxDue(ctx context.Context, createdBefore, availableBy time.Time, limit int) ([]*store.OutboxEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	return getAll(ctx, s.pool, scanOutbox, `SELECT `+outboxColumns+` FROM outbox
		WHERE created_at < $1 AND available_at <= $2 ORDER BY created_at, available_at, run_id LIMIT $3`,
		createdBefore, availableBy, limit)
}

// OutboxDelete removes a run's entry, if it has one, unless the run is
// queued. The run's row is locked first: a requeue (which locks it before
// writing the entry) either comes before and the entry stays, or waits and
// writes its entry after the delete.
func (s *Store) OutboxDelete(ctx context.Context, tenantID, runID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM node_runs WHERE tenant_id = $1 AND id = $2 FOR SHARE`,
			tenantID, runID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case status == store.RunQueued:
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM outbox WHERE tenant_id = $1 AND run_id = $2`, tenantID, runID)
		return err
	})
}

// ExecutionCancel cancels an execution that has not finished, with the
// runs it still waits for.
func (s *Store) ExecutionCancel(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	var ex *store.Execution
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		ex, err = closeExecution(ctx, tx, tenantID, id, store.ExecutionCancelled, nil, record.Now())
		if errors.Is(err, store.ErrNotFound) {
			return executionConflict(ctx, tx, tenantID, id, "not queued or running")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ex, nil
}

// ExecutionResume sets a failed or cancelled execution running again and
// inserts p.Runs after its runs, with the outbox entries of the queued ones.
func (s *Store) ExecutionResume(ctx context.Context, tenantID, id string, p *store.ExecutionResumeParams) (*store.Execution, []*store.OutboxEntry, error) {
	now := record.Now()
	runs, err := record.ResumeRuns(tenantID, id, p, now)
	if err != nil {
		return nil, nil, err
	}
	var (
		ex      *store.Execution
		entries []*store.OutboxEntry
	)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		ex, err = getOne(ctx, tx, scanExecution, `
			UPDATE executions SET status = 'running', error = NULL, finished_at = NULL, deadline_at = $3,
				started_at = coalesce(started_at, $4), admitted_at = coalesce(admitted_at, $4)
			WHERE tenant_id = $1 AND id = $2 AND status IN ('failed', 'cancelled')
			RETURNING `+executionColumns, tenantID, id, record.NormPtr(p.DeadlineAt), now)
		if errors.Is(err, store.ErrNotFound) {
			return executionConflict(ctx, tx, tenantID, id, "not failed or cancelled")
		}
		if err != nil {
			return err
		}
		var seq int
		err = tx.QueryRow(ctx, `SELECT coalesce(max(seq) + 1, 0) FROM node_runs WHERE execution_id = $1`, id).Scan(&seq)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		// The claims of runs cancelled with the execution lapse: their
		// nodes run again as new attempts.
		b.Queue(`UPDATE node_runs SET claim_token = '' WHERE tenant_id = $1 AND execution_id = $2 AND claim_token <> ''`,
			tenantID, id)
		entries = queueRuns(b, runs, seq, now, now)
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return nil, nil, err
	}
	return ex, entries, nil
}

// ExecutionAdmit gives free execution slots to the tenant's oldest waiting
// executions.
func (s *Store) ExecutionAdmit(ctx context.Context, tenantID string, maxActive int) ([]*store.OutboxEntry, error) {
	var entries []*store.OutboxEntry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := lockSlots(ctx, tx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // no tenant, nothing waits
		}
		if err != nil {
			return err
		}
		now := record.Now() // under the lock: after the finish that freed a slot
		var slots any       // LIMIT NULL: all
		if maxActive > 0 {
			active, _, err := countSlots(ctx, tx, tenantID, maxActive, 1)
			if err != nil {
				return err
			}
			if maxActive <= active {
				return nil
			}
			slots = maxActive - active
		}
		roots, err := getAll(ctx, tx, scanNodeRun, `
			WITH admitted AS (
				UPDATE executions SET admitted_at = $2, deadline_at = deadline_at + ($2 - created_at)
				WHERE id IN (SELECT id FROM executions WHERE tenant_id = $1 AND admitted_at IS NULL AND status = 'queued'
					ORDER BY created_at, id LIMIT $3)
				RETURNING id)
			UPDATE node_runs SET status = 'queued'
			WHERE tenant_id = $1 AND execution_id IN (SELECT id FROM admitted) AND status = 'pending' AND pending = 0
			RETURNING `+nodeRunColumns, tenantID, now, slots)
		if err != nil {
			return err
		}
		entries = record.Outbox(roots, now, now)
		b := &pgx.Batch{}
		for _, e := range entries {
			queueOutbox(b, e)
		}
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// ExecutionWaitingTenants lists tenants with waiting executions.
func (s *Store) ExecutionWaitingTenants(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	return getAll(ctx, s.pool, scanString, `SELECT DISTINCT tenant_id FROM executions
		WHERE admitted_at IS NULL AND status = 'queued' LIMIT $1`, limit)
}

// ExecutionFailExpired fails up to limit queued or running executions whose
// deadline is before now.
func (s *Store) ExecutionFailExpired(ctx context.Context, now time.Time, errJSON json.RawMessage, limit int) ([]*store.Execution, error) {
	errJSON, err := record.JSON("execution error", errJSON)
	if err != nil || limit <= 0 {
		return nil, err
	}
	t := record.Now()
	var failed []*store.Execution
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		failed, err = getAll(ctx, tx, scanExecution, `
			UPDATE executions e SET status = 'failed', error = coalesce($2, e.error), finished_at = $3
			FROM (SELECT id AS expired_id FROM executions WHERE status IN ('queued', 'running') AND deadline_at < $1
				AND admitted_at IS NOT NULL
				LIMIT $4 FOR NO KEY UPDATE SKIP LOCKED) x
			WHERE e.id = x.expired_id
			RETURNING `+executionColumns, now, errJSON, t, limit)
		if err != nil || len(failed) == 0 {
			return err
		}
		ids := make([]string, len(failed))
		for i, e := range failed {
			ids[i] = e.ID
		}
		b := &pgx.Batch{}
		b.Queue(cancelRunsStmt, ids, t)
		b.Queue(deleteOutboxStmt, ids)
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return nil, err
	}
	return failed, nil
}

// ExecutionPrune deletes up to limit executions that finished before
// finishedBefore; their runs and outbox entries go with them (ON DELETE
// CASCADE).
func (s *Store) ExecutionPrune(ctx context.Context, finishedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `
		WITH doomed AS (
			SELECT id FROM executions WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1
			LIMIT $2 FOR UPDATE SKIP LOCKED
		)
		DELETE FROM executions e USING doomed d WHERE e.id = d.id`, finishedBefore, limit)
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func scanOutbox(r pgx.Row) (*store.OutboxEntry, error) {
	var e store.OutboxEntry
	err := r.Scan(&e.RunID, &e.TenantID, &e.ExecutionID, &e.Node, &e.Attempt, &e.AvailableAt, &e.CreatedAt)
	e.AvailableAt, e.CreatedAt = utc(e.AvailableAt), utc(e.CreatedAt)
	return &e, err
}
