package sqlite

import (
	"context"
	"time"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const executionColumns = `id, tenant_id, workflow_id, workflow_version, status, deadline_at, trigger_kind, input, error,
	created_at, started_at, finished_at, admitted_at, trigger_node`

const nodeRunColumns = `id, tenant_id, execution_id, node, attempt, status, pending, lease_until, claim_token,
	input_size, output, logs, error, host_calls, created_at, started_at, finished_at`

// ExecutionInsert stores a queued execution and its node runs, with the
// outbox entries of the queued ones, in one transaction. ErrNotFound when
// the workflow version is not the tenant's; ErrConflict when two runs share
// a node and attempt.
func (s *Store) ExecutionInsert(ctx context.Context, tenantID string, p *store.ExecutionInsertParams) (*store.Execution, []*store.NodeRun, error) {
	ex, runs, err := record.NewExecution(tenantID, p)
	if err != nil {
		return nil, nil, err
	}
	err = s.inTx(ctx, func(tx *txn) error {
		// One writer at a time (see Open): counting the slots and taking
		// one cannot interleave with another start or admission.
		if p.MaxActive > 0 { // without slots every execution is admitted
			var active, waiting int
			// Each count stops at the limit that matters; without a waiting
			// cap, whether anyone waits is all that matters.
			err := tx.QueryRowContext(ctx, `SELECT
				(SELECT count(*) FROM (SELECT 1 FROM executions
					WHERE tenant_id = $1 AND admitted_at IS NOT NULL AND status IN ('queued', 'running') LIMIT $2)),
				(SELECT count(*) FROM (SELECT 1 FROM executions
					WHERE tenant_id = $1 AND admitted_at IS NULL AND status = 'queued' LIMIT $3))`,
				tenantID, p.MaxActive, max(p.MaxWaiting, 1)).Scan(&active, &waiting)
			if err != nil {
				return err
			}
			if err := record.Admission(ex, runs, p, active, waiting); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO executions (`+executionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			ex.ID, ex.TenantID, ex.WorkflowID, ex.WorkflowVersion, ex.Status, usp(ex.DeadlineAt), ex.Trigger,
			jsonArg(ex.Input), jsonArg(ex.Error), us(ex.CreatedAt), usp(ex.StartedAt), usp(ex.FinishedAt), usp(ex.AdmittedAt), ex.TriggerNode)
		if err != nil {
			return err
		}
		_, err = insertRuns(ctx, tx, runs, 0, ex.CreatedAt, ex.CreatedAt)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return ex, runs, nil
}

// insertRuns inserts runs into their execution, numbered from seq, and the
// outbox entries of those that are queued, which it returns.
func insertRuns(ctx context.Context, tx *txn, runs []*store.NodeRun, seq int, availableAt, createdAt time.Time) ([]*store.OutboxEntry, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO node_runs (seq, `+nodeRunColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ins.Close() }()
	for i, r := range runs {
		_, err := ins.ExecContext(ctx, seq+i, r.ID, r.TenantID, r.ExecutionID, r.Node, r.Attempt, r.Status, r.Pending,
			usp(r.LeaseUntil), r.ClaimToken, r.InputSize, jsonArg(r.Output), jsonArg(r.Logs), jsonArg(r.Error),
			jsonArg(r.HostCalls), us(r.CreatedAt), usp(r.StartedAt), usp(r.FinishedAt))
		if err != nil {
			return nil, err
		}
	}
	entries := record.Outbox(runs, availableAt, createdAt)
	for _, e := range entries {
		if err := insertOutbox(ctx, tx, e); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// ExecutionGet reads an execution.
func (s *Store) ExecutionGet(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	return getOne(ctx, s.read, scanExecution,
		`SELECT `+executionColumns+` FROM executions WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// ExecutionList lists the tenant's executions, newest first, optionally
// only one workflow's or those in one status.
func (s *Store) ExecutionList(ctx context.Context, tenantID string, f store.ExecutionFilter, page store.Page) ([]*store.Execution, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Executions, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("tenant_id = ?", tenantID)
	if f.WorkflowID != "" {
		q.Where("workflow_id = ?", f.WorkflowID)
	}
	if f.Status != "" {
		q.Where("status = ?", f.Status)
	}
	if after != nil {
		q.Where("id < ?", after[0])
	}
	stmt, args := q.Build(`SELECT `+executionColumns+` FROM executions`, `ORDER BY id DESC`, page.Size())
	exs, err := getAll(ctx, s.read, scanExecution, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	exs, next := keyset.Trim(exs, page.Size(), func(e *store.Execution) string { return keyset.Encode(keyset.Executions, e.ID) })
	return exs, next, nil
}

// NodeRunList lists an execution's node runs in creation order.
func (s *Store) NodeRunList(ctx context.Context, tenantID, executionID string) ([]*store.NodeRun, error) {
	runs, err := getAll(ctx, s.read, scanNodeRun, `SELECT `+nodeRunColumns+` FROM node_runs
		WHERE tenant_id = $1 AND execution_id = $2 ORDER BY seq`, tenantID, executionID)
	if err == nil && len(runs) == 0 {
		_, err = s.ExecutionGet(ctx, tenantID, executionID)
	}
	if err != nil {
		return nil, err
	}
	return runs, nil
}

func scanExecution(r row) (*store.Execution, error) {
	var e store.Execution
	return &e, r.Scan(&e.ID, &e.TenantID, &e.WorkflowID, &e.WorkflowVersion, &e.Status, optMicros{&e.DeadlineAt}, &e.Trigger,
		(*[]byte)(&e.Input), (*[]byte)(&e.Error), micros{&e.CreatedAt}, optMicros{&e.StartedAt}, optMicros{&e.FinishedAt},
		optMicros{&e.AdmittedAt}, &e.TriggerNode)
}

func scanNodeRun(r row) (*store.NodeRun, error) {
	var n store.NodeRun
	return &n, r.Scan(&n.ID, &n.TenantID, &n.ExecutionID, &n.Node, &n.Attempt, &n.Status, &n.Pending,
		optMicros{&n.LeaseUntil}, &n.ClaimToken, &n.InputSize, (*[]byte)(&n.Output), (*[]byte)(&n.Logs), (*[]byte)(&n.Error),
		(*[]byte)(&n.HostCalls), micros{&n.CreatedAt}, optMicros{&n.StartedAt}, optMicros{&n.FinishedAt})
}
