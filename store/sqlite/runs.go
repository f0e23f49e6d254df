package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

// Every transition below runs in one write transaction. The write pool has
// one connection and its transactions begin IMMEDIATE, so transitions of
// this process never interleave: two finishes of one execution run one
// after the other, and the second sees what the first changed.

const outboxColumns = `run_id, tenant_id, execution_id, node, attempt, available_at, created_at`

// insertOutboxStmt writes a run's outbox entry; a run queued again (its
// lease expired) replaces the entry it may still have.
const insertOutboxStmt = `INSERT INTO outbox (` + outboxColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (run_id) DO UPDATE SET available_at = excluded.available_at, created_at = excluded.created_at`

// cancelRunsStmt cancels the runs an execution still waits for. A running
// run keeps its claim token, so that its worker may still record the
// outcome (RunFinish), but the lease is gone and the claim can no longer
// extend it.
const cancelRunsStmt = `UPDATE node_runs SET status = 'cancelled', finished_at = $3, lease_until = NULL
	WHERE tenant_id = $1 AND execution_id = $2 AND status IN ('pending', 'queued', 'running')`

// RunClaim moves a queued run of a queued or running execution to running,
// with a new claim token, and a queued execution to running.
func (s *Store) RunClaim(ctx context.Context, tenantID, runID string, leaseUntil time.Time) (*store.NodeRun, error) {
	now, token := record.Now(), record.NewClaimToken()
	var run *store.NodeRun
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		run, err = getOne(ctx, tx, scanNodeRun, `
			UPDATE node_runs SET status = 'running', claim_token = $3, lease_until = $4, started_at = $5
			WHERE tenant_id = $1 AND id = $2 AND status = 'queued' AND EXISTS (
				SELECT 1 FROM executions e WHERE e.tenant_id = node_runs.tenant_id AND e.id = node_runs.execution_id
				AND e.status IN ('queued', 'running'))
			RETURNING `+nodeRunColumns,
			tenantID, runID, token, us(leaseUntil), us(now))
		if errors.Is(err, store.ErrNotFound) {
			return runConflict(ctx, tx, tenantID, runID, "is not queued, or its execution has finished")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE executions SET status = 'running', started_at = $3
			WHERE tenant_id = $1 AND id = $2 AND status = 'queued'`, tenantID, run.ExecutionID, us(now))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE tenant_id = $1 AND run_id = $2`, tenantID, runID)
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
	if err := q.QueryRowContext(ctx, `SELECT 1 FROM node_runs WHERE tenant_id = $1 AND id = $2`, tenantID, runID).Scan(&one); err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: node run %s %s", store.ErrConflict, runID, why)
}

// RunExtendLease moves the lease of a running run that claimToken holds.
func (s *Store) RunExtendLease(ctx context.Context, tenantID, runID, claimToken string, leaseUntil time.Time) error {
	err := execOne(ctx, s.write, `UPDATE node_runs SET lease_until = $4
		WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND claim_token = $3 AND claim_token <> ''`,
		tenantID, runID, claimToken, us(leaseUntil))
	if errors.Is(err, store.ErrNotFound) {
		return runConflict(ctx, s.read, tenantID, runID, "is not held by this claim")
	}
	return err
}

// RunRelease queues again, with an outbox entry available now, a running
// run that claimToken holds, of an execution still queued or running.
func (s *Store) RunRelease(ctx context.Context, tenantID, runID, claimToken string) (*store.OutboxEntry, error) {
	now := record.Now()
	var entry *store.OutboxEntry
	err := s.inTx(ctx, func(tx *txn) error {
		run, err := getOne(ctx, tx, scanNodeRun, `
			UPDATE node_runs SET status = 'queued', claim_token = '', lease_until = NULL, started_at = NULL
			WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND claim_token = $3 AND claim_token <> ''
				AND EXISTS (
					SELECT 1 FROM executions e WHERE e.tenant_id = node_runs.tenant_id AND e.id = node_runs.execution_id
					AND e.status IN ('queued', 'running'))
			RETURNING `+nodeRunColumns,
			tenantID, runID, claimToken)
		if errors.Is(err, store.ErrNotFound) {
			return runConflict(ctx, tx, tenantID, runID, "is not held by this claim, or its execution has finished")
		}
		if err != nil {
			return err
		}
		entry = record.NewOutboxEntry(run, now, now)
		return insertOutbox(ctx, tx, entry)
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
	err = s.inTx(ctx, func(tx *txn) error {
		ex, err := getOne(ctx, tx, scanExecution, `SELECT `+executionColumns+` FROM executions
			WHERE tenant_id = $1 AND id = (SELECT execution_id FROM node_runs WHERE tenant_id = $1 AND id = $2)`,
			tenantID, p.RunID)
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
			tenantID, p.RunID, p.ClaimToken, p.Status, jsonArg(p.Output), jsonArg(p.Logs), jsonArg(p.Error),
			jsonArg(p.HostCalls), p.InputSize, us(now), finished)
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
			if err := tx.QueryRowContext(ctx, `SELECT max(seq) + 1 FROM node_runs WHERE execution_id = $1`, ex.ID).Scan(&seq); err != nil {
				return err
			}
			res.Queued, err = insertRuns(ctx, tx, []*store.NodeRun{record.RetryRun(run, now)}, seq, p.Retry.AvailableAt, now)
		default:
			res.Queued, err = release(ctx, tx, ex, p.Release, now)
		}
		if err != nil {
			return err
		}
		var open bool
		err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM node_runs
			WHERE tenant_id = $1 AND execution_id = $2 AND status IN ('pending', 'queued', 'running'))`,
			tenantID, ex.ID).Scan(&open)
		if err != nil || open {
			return err
		}
		res.Execution, err = getOne(ctx, tx, scanExecution, `UPDATE executions SET status = 'succeeded', finished_at = $3
			WHERE tenant_id = $1 AND id = $2 RETURNING `+executionColumns, tenantID, ex.ID, us(now))
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
func release(ctx context.Context, tx *txn, ex *store.Execution, children []store.ChildRelease, now time.Time) ([]*store.OutboxEntry, error) {
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
		for _, e := range record.Outbox(runs, now, now) {
			if err := insertOutbox(ctx, tx, e); err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// closeExecution ends an open execution with status (failed or cancelled)
// and, when errJSON is set, that error; it cancels the runs the execution
// still waits for and deletes its outbox entries. ErrNotFound when the
// execution is not open, or not there.
func closeExecution(ctx context.Context, tx *txn, tenantID, id, status string, errJSON json.RawMessage, now time.Time) (*store.Execution, error) {
	ex, err := getOne(ctx, tx, scanExecution, `
		UPDATE executions SET status = $3, error = coalesce($4, error), finished_at = $5
		WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running')
		RETURNING `+executionColumns, tenantID, id, status, jsonArg(errJSON), us(now))
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, cancelRunsStmt, tenantID, id, us(now)); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE execution_id = $1 AND tenant_id = $2`, id, tenantID); err != nil {
		return nil, err
	}
	return ex, nil
}

// executionConflict explains a transition that matched no execution: it is
// not the tenant's (ErrNotFound) or not in the state the transition needs
// (ErrConflict).
func executionConflict(ctx context.Context, q querier, tenantID, id, why string) error {
	var status string
	if err := q.QueryRowContext(ctx, `SELECT status FROM executions WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&status); err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: execution %s is %s, %s", store.ErrConflict, id, status, why)
}

func insertOutbox(ctx context.Context, tx *txn, e *store.OutboxEntry) error {
	_, err := tx.ExecContext(ctx, insertOutboxStmt,
		e.RunID, e.TenantID, e.ExecutionID, e.Node, e.Attempt, us(e.AvailableAt), us(e.CreatedAt))
	return err
}

// RunRequeueExpired queues again, with outbox entries, up to limit running
// runs whose lease ended before now, oldest lease first.
func (s *Store) RunRequeueExpired(ctx context.Context, now time.Time, limit int) ([]*store.OutboxEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	t := record.Now()
	var entries []*store.OutboxEntry
	err := s.inTx(ctx, func(tx *txn) error {
		runs, err := getAll(ctx, tx, scanNodeRun, `
			UPDATE node_runs SET status = 'queued', claim_token = '', lease_until = NULL
			WHERE id IN (SELECT id FROM node_runs WHERE status = 'running' AND lease_until < $1 ORDER BY lease_until LIMIT $2)
			RETURNING `+nodeRunColumns, us(now), limit)
		if err != nil {
			return err
		}
		entries = record.Outbox(runs, t, t)
		for _, e := range entries {
			if err := insertOutbox(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// OutboxDue lists up to limit entries created before createdBefore and
// available by availableBy, oldest first.
func (s *Store) OutboxDue(ctx context.Context, createdBefore, availableBy time.Time, limit int) ([]*store.OutboxEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	return getAll(ctx, s.read, scanOutbox, `SELECT `+outboxColumns+` FROM outbox
		WHERE created_at < $1 AND available_at <= $2 ORDER BY created_at, available_at, run_id LIMIT $3`,
		us(createdBefore), us(availableBy), limit)
}

// OutboxDelete removes a run's entry, if it has one, unless the run is
// queued (one statement of the single writer: nothing interleaves).
func (s *Store) OutboxDelete(ctx context.Context, tenantID, runID string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM outbox WHERE tenant_id = $1 AND run_id = $2
		AND NOT EXISTS (SELECT 1 FROM node_runs WHERE tenant_id = $1 AND id = $2 AND status = 'queued')`, tenantID, runID)
	return translate(err)
}

// ExecutionCancel cancels an execution that has not finished, with the
// runs it still waits for.
func (s *Store) ExecutionCancel(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	var ex *store.Execution
	err := s.inTx(ctx, func(tx *txn) error {
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
	err = s.inTx(ctx, func(tx *txn) error {
		var err error
		ex, err = getOne(ctx, tx, scanExecution, `
			UPDATE executions SET status = 'running', error = NULL, finished_at = NULL, deadline_at = $3,
				started_at = coalesce(started_at, $4), admitted_at = coalesce(admitted_at, $4)
			WHERE tenant_id = $1 AND id = $2 AND status IN ('failed', 'cancelled')
			RETURNING `+executionColumns, tenantID, id, usp(p.DeadlineAt), us(now))
		if errors.Is(err, store.ErrNotFound) {
			return executionConflict(ctx, tx, tenantID, id, "not failed or cancelled")
		}
		if err != nil {
			return err
		}
		// The claims of runs cancelled with the execution lapse: their
		// nodes run again as new attempts.
		_, err = tx.ExecContext(ctx, `UPDATE node_runs SET claim_token = ''
			WHERE tenant_id = $1 AND execution_id = $2 AND claim_token <> ''`, tenantID, id)
		if err != nil {
			return err
		}
		var seq int
		err = tx.QueryRowContext(ctx, `SELECT coalesce(max(seq) + 1, 0) FROM node_runs WHERE execution_id = $1`, id).Scan(&seq)
		if err != nil {
			return err
		}
		entries, err = insertRuns(ctx, tx, runs, seq, now, now)
		return err
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
	err := s.inTx(ctx, func(tx *txn) error {
		now := record.Now() // in the transaction: after the finish that freed a slot
		slots := -1         // all
		if maxActive > 0 {
			var active int
			err := tx.QueryRowContext(ctx, `SELECT count(*) FROM executions
				WHERE tenant_id = $1 AND admitted_at IS NOT NULL AND status IN ('queued', 'running')`, tenantID).Scan(&active)
			if err != nil {
				return err
			}
			if slots = maxActive - active; slots <= 0 {
				return nil
			}
		}
		admitted, err := getAll(ctx, tx, scanExecution, `
			UPDATE executions SET admitted_at = $2, deadline_at = deadline_at + ($2 - created_at)
			WHERE admitted_at IS NULL AND id IN (SELECT id FROM executions WHERE tenant_id = $1 AND admitted_at IS NULL AND status = 'queued'
				ORDER BY created_at, id LIMIT $3)
			RETURNING `+executionColumns, tenantID, us(now), slots)
		if err != nil {
			return err
		}
		for _, ex := range admitted {
			roots, err := getAll(ctx, tx, scanNodeRun, `UPDATE node_runs SET status = 'queued'
				WHERE tenant_id = $1 AND execution_id = $2 AND status = 'pending' AND pending = 0
				RETURNING `+nodeRunColumns, tenantID, ex.ID)
			if err != nil {
				return err
			}
			for _, e := range record.Outbox(roots, now, now) {
				if err := insertOutbox(ctx, tx, e); err != nil {
					return err
				}
				entries = append(entries, e)
			}
		}
		return nil
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
	// Without the hint SQLite's planner takes the status index and sorts
	// the tenants; the partial index holds only the waiting executions,
	// already by tenant.
	return getAll(ctx, s.read, scanString, `SELECT DISTINCT tenant_id FROM executions INDEXED BY executions_waiting_idx
		WHERE admitted_at IS NULL AND status = 'queued' LIMIT $1`, limit)
}

// ExecutionFailExpired fails up to limit admitted queued or running
// executions whose deadline is before now.
func (s *Store) ExecutionFailExpired(ctx context.Context, now time.Time, errJSON json.RawMessage, limit int) ([]*store.Execution, error) {
	errJSON, err := record.JSON("execution error", errJSON)
	if err != nil || limit <= 0 {
		return nil, err
	}
	t := record.Now()
	var failed []*store.Execution
	err = s.inTx(ctx, func(tx *txn) error {
		expired, err := getAll(ctx, tx, scanExecution, `SELECT `+executionColumns+` FROM executions
			WHERE status IN ('queued', 'running') AND deadline_at < $1 AND admitted_at IS NOT NULL LIMIT $2`, us(now), limit)
		if err != nil {
			return err
		}
		for _, e := range expired {
			ex, err := closeExecution(ctx, tx, e.TenantID, e.ID, store.ExecutionFailed, errJSON, t)
			if err != nil {
				return err
			}
			failed = append(failed, ex)
		}
		return nil
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
	res, err := s.write.ExecContext(ctx, `DELETE FROM executions WHERE id IN (
		SELECT id FROM executions WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1 LIMIT $2)`,
		us(finishedBefore), limit)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected() // never fails with this driver
	return int(n), nil
}

func scanOutbox(r row) (*store.OutboxEntry, error) {
	var e store.OutboxEntry
	return &e, r.Scan(&e.RunID, &e.TenantID, &e.ExecutionID, &e.Node, &e.Attempt, micros{&e.AvailableAt}, micros{&e.CreatedAt})
}
