package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const executionColumns = `id, tenant_id, workflow_id, workflow_version, status, deadline_at, trigger_kind, input, error,
	created_at, started_at, finished_at, admitted_at, trigger_node`

const nodeRunColumns = `id, tenant_id, execution_id, node, attempt, status, pending, lease_until, claim_token,
	input_size, output, logs, error, host_calls, created_at, started_at, finished_at`

// ExecutionInsert stores a queued execution and its node runs, with the
// outbox entries of the queued ones, in one transaction (one round trip).
// ErrNotFound when the workflow version is not the tenant's; ErrConflict
// when two runs share a node and attempt.
func (s *Store) ExecutionInsert(ctx context.Context, tenantID string, p *store.ExecutionInsertParams) (*store.Execution, []*store.NodeRun, error) {
	ex, runs, err := record.NewExecution(tenantID, p)
	if err != nil {
		return nil, nil, err
	}
	insert := func(q batcher) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO executions (`+executionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			ex.ID, ex.TenantID, ex.WorkflowID, ex.WorkflowVersion, ex.Status, ex.DeadlineAt, ex.Trigger, ex.Input, ex.Error,
			ex.CreatedAt, ex.StartedAt, ex.FinishedAt, ex.AdmittedAt, ex.TriggerNode)
		queueRuns(b, runs, 0, ex.CreatedAt, ex.CreatedAt)
		return sendBatch(ctx, q, b)
	}
	if p.MaxActive <= 0 { // without slots every execution is admitted
		if err := insert(s.pool); err != nil {
			return nil, nil, err
		}
		return ex, runs, nil
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Whether anyone waits is all that matters without a waiting cap.
		if err := lockSlots(ctx, tx, tenantID); err != nil {
			return err
		}
		active, waiting, err := countSlots(ctx, tx, tenantID, p.MaxActive, max(p.MaxWaiting, 1))
		if err != nil {
			return err
		}
		if err := record.Admission(ex, runs, p, active, waiting); err != nil {
			return err
		}
		return insert(tx)
	})
	if err != nil {
		return nil, nil, err
	}
	return ex, runs, nil
}

// batcher sends a batch: the pool or a transaction.
type batcher interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}

// lockSlots locks the tenant's execution slots until the transaction ends:
// the tenant row, FOR NO KEY UPDATE (it does not block the inserts that
// reference the tenant). ErrNotFound when the tenant does not exist.
func lockSlots(ctx context.Context, tx pgx.Tx, tenantID string) error {
	return execOne(ctx, tx, `SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE`, tenantID)
}

// countSlots counts, under lockSlots, the tenant's unfinished admitted
// executions and its waiting ones, each only as far as the limit that
// matters (activeCap, waitingCap), so a long queue costs nothing here. It
// is a statement of its own after the lock: under READ COMMITTED it must
// take its snapshot after the lock is granted, or it would miss what the
// transaction that held the lock committed.
func countSlots(ctx context.Context, tx pgx.Tx, tenantID string, activeCap, waitingCap int) (active, waiting int, err error) {
	err = tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM (SELECT 1 FROM executions
			WHERE tenant_id = $1 AND admitted_at IS NOT NULL AND status IN ('queued', 'running') LIMIT $2) a),
		(SELECT count(*) FROM (SELECT 1 FROM executions
			WHERE tenant_id = $1 AND admitted_at IS NULL AND status = 'queued' LIMIT $3) w)`,
		tenantID, activeCap, waitingCap).Scan(&active, &waiting)
	return active, waiting, translate(err)
}

// queueRuns adds to b the inserts of runs into their execution, numbered
// from seq, and of the outbox entries of those that are queued, which it
// returns.
func queueRuns(b *pgx.Batch, runs []*store.NodeRun, seq int, availableAt, createdAt time.Time) []*store.OutboxEntry {
	for i, r := range runs {
		b.Queue(`INSERT INTO node_runs (seq, `+nodeRunColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			seq+i, r.ID, r.TenantID, r.ExecutionID, r.Node, r.Attempt, r.Status, r.Pending, r.LeaseUntil, r.ClaimToken,
			r.InputSize, r.Output, r.Logs, r.Error, r.HostCalls, r.CreatedAt, r.StartedAt, r.FinishedAt)
	}
	entries := record.Outbox(runs, availableAt, createdAt)
	for _, e := range entries {
		queueOutbox(b, e)
	}
	return entries
}

// ExecutionGet reads an execution.
func (s *Store) ExecutionGet(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	return getOne(ctx, s.pool, scanExecution,
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
	exs, err := getAll(ctx, s.pool, scanExecution, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	exs, next := keyset.Trim(exs, page.Size(), func(e *store.Execution) string { return keyset.Encode(keyset.Executions, e.ID) })
	return exs, next, nil
}

// NodeRunList lists an execution's node runs in creation order.
func (s *Store) NodeRunList(ctx context.Context, tenantID, executionID string) ([]*store.NodeRun, error) {
	runs, err := getAll(ctx, s.pool, scanNodeRun, `SELECT `+nodeRunColumns+` FROM node_runs
		WHERE tenant_id = $1 AND execution_id = $2 ORDER BY seq`, tenantID, executionID)
	if err == nil && len(runs) == 0 {
		_, err = s.ExecutionGet(ctx, tenantID, executionID)
	}
	if err != nil {
		return nil, err
	}
	return runs, nil
}

func scanExecution(r pgx.Row) (*store.Execution, error) {
	var e store.Execution
	err := r.Scan(&e.ID, &e.TenantID, &e.WorkflowID, &e.WorkflowVersion, &e.Status, &e.DeadlineAt, &e.Trigger,
		(*[]byte)(&e.Input), (*[]byte)(&e.Error), &e.CreatedAt, &e.StartedAt, &e.FinishedAt, &e.AdmittedAt, &e.TriggerNode)
	e.DeadlineAt, e.CreatedAt, e.StartedAt, e.FinishedAt = utcp(e.DeadlineAt), utc(e.CreatedAt), utcp(e.StartedAt), utcp(e.FinishedAt)
	e.AdmittedAt = utcp(e.AdmittedAt)
	return &e, err
}

func scanNodeRun(r pgx.Row) (*store.NodeRun, error) {
	var n store.NodeRun
	err := r.Scan(&n.ID, &n.TenantID, &n.ExecutionID, &n.Node, &n.Attempt, &n.Status, &n.Pending, &n.LeaseUntil,
		&n.ClaimToken, &n.InputSize, (*[]byte)(&n.Output), (*[]byte)(&n.Logs), (*[]byte)(&n.Error),
		(*[]byte)(&n.HostCalls), &n.CreatedAt, &n.StartedAt, &n.FinishedAt)
	n.LeaseUntil, n.CreatedAt, n.StartedAt, n.FinishedAt = utcp(n.LeaseUntil), utc(n.CreatedAt), utcp(n.StartedAt), utcp(n.FinishedAt)
	return &n, err
}
