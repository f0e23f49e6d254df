package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

// WorkflowActivate makes the workflow active at version and writes its
// webhook routes and schedules, in one transaction.
func (s *Store) WorkflowActivate(ctx context.Context, tenantID, id string, version int) (*store.Workflow, error) {
	var w *store.Workflow
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := execOne(ctx, tx, `UPDATE workflows SET active = true
			WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND version = $3`, tenantID, id, version)
		if errors.Is(err, store.ErrNotFound) {
			return versionConflict(ctx, tx, tenantID, id, version)
		}
		if err != nil {
			return err
		}
		if w, err = getOne(ctx, tx, scanWorkflow, workflowSelect+` WHERE w.tenant_id = $1 AND w.id = $2`, tenantID, id); err != nil {
			return err
		}
		return writeTriggers(ctx, tx, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// WorkflowDeactivate makes the workflow inactive and deletes its webhook
// routes and schedules, in one transaction.
func (s *Store) WorkflowDeactivate(ctx context.Context, tenantID, id string) (*store.Workflow, error) {
	var w *store.Workflow
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := execOne(ctx, tx, `UPDATE workflows SET active = false WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`, tenantID, id)
		if err != nil {
			return err
		}
		if w, err = getOne(ctx, tx, scanWorkflow, workflowSelect+` WHERE w.tenant_id = $1 AND w.id = $2`, tenantID, id); err != nil {
			return err
		}
		return writeTriggers(ctx, tx, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// writeTriggers replaces the webhook routes and schedules of w with those
// of its definition when it is active, and deletes them when it is not. A
// schedule node that stays keeps its Since. The caller holds the
// workflow's row lock (it has just updated the row).
func writeTriggers(ctx context.Context, tx pgx.Tx, w *store.Workflow) error {
	if !w.Active {
		return deleteTriggers(ctx, tx, w.TenantID, w.ID)
	}
	since := map[string]time.Time{}
	rows, err := tx.Query(ctx, `SELECT node, since FROM schedules WHERE tenant_id = $1 AND workflow_id = $2`, w.TenantID, w.ID)
	if err != nil {
		return translate(err)
	}
	var (
		node string
		t    time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&node, &t}, func() error {
		since[node] = t
		return nil
	})
	if err != nil {
		return translate(err)
	}
	if err := deleteTriggers(ctx, tx, w.TenantID, w.ID); err != nil {
		return err
	}
	routes, schedules := record.Triggers(w.TenantID, w.ID, &w.Definition, since, record.Now())
	for _, r := range routes {
		_, err := tx.Exec(ctx, `INSERT INTO webhook_routes (tenant_id, path, method, workflow_id, node)
			VALUES ($1, $2, $3, $4, $5)`, r.TenantID, r.Path, r.Method, r.WorkflowID, r.Node)
		if err != nil {
			return routeConflict(err, r)
		}
	}
	for _, sc := range schedules {
		_, err := tx.Exec(ctx, `INSERT INTO schedules (tenant_id, workflow_id, node, cron, timezone, missed, since)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, sc.TenantID, sc.WorkflowID, sc.Node, sc.Cron, sc.Timezone, sc.Missed, sc.Since)
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

// routeConflict says which route a unique violation is about.
func routeConflict(err error, r *store.WebhookRoute) error {
	err = translate(err)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: webhook %s %s is another active workflow's", store.ErrConflict, r.Method, r.Path)
	}
	return err
}

// deleteTriggers deletes the workflow's webhook routes and schedules.
func deleteTriggers(ctx context.Context, tx pgx.Tx, tenantID, id string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM webhook_routes WHERE tenant_id = $1 AND workflow_id = $2`, tenantID, id); err != nil {
		return translate(err)
	}
	_, err := tx.Exec(ctx, `DELETE FROM schedules WHERE tenant_id = $1 AND workflow_id = $2`, tenantID, id)
	return translate(err)
}

// WebhookRouteGet finds the active webhook for method and path.
func (s *Store) WebhookRouteGet(ctx context.Context, tenantID, method, path string) (*store.WebhookRoute, error) {
	return getOne(ctx, s.pool, func(r pgx.Row) (*store.WebhookRoute, error) {
		var w store.WebhookRoute
		return &w, r.Scan(&w.TenantID, &w.Path, &w.Method, &w.WorkflowID, &w.Node)
	}, `SELECT tenant_id, path, method, workflow_id, node FROM webhook_routes
		WHERE tenant_id = $1 AND path = $2 AND method = $3`, tenantID, path, method)
}

// ScheduleList lists the schedules of active workflows, across tenants, in
// key order, each with its latest tick.
func (s *Store) ScheduleList(ctx context.Context, page store.Page) ([]*store.Schedule, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Schedules, 3)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	if after != nil {
		q.Where("(s.tenant_id, s.workflow_id, s.node) > (?, ?, ?)", after[0], after[1], after[2])
	}
	stmt, args := q.Build(`SELECT s.tenant_id, s.workflow_id, s.node, s.cron, s.timezone, s.missed, s.since,
		(SELECT max(t.tick_at) FROM schedule_ticks t
		 WHERE t.tenant_id = s.tenant_id AND t.workflow_id = s.workflow_id AND t.node = s.node)
		FROM schedules s`, `ORDER BY s.tenant_id, s.workflow_id, s.node`, page.Size())
	list, err := getAll(ctx, s.pool, func(r pgx.Row) (*store.Schedule, error) {
		var sc store.Schedule
		err := r.Scan(&sc.TenantID, &sc.WorkflowID, &sc.Node, &sc.Cron, &sc.Timezone, &sc.Missed, &sc.Since, &sc.LastTick)
		sc.Since, sc.LastTick = utc(sc.Since), utcp(sc.LastTick)
		return &sc, err
	}, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	list, next := keyset.Trim(list, page.Size(), func(sc *store.Schedule) string {
		return keyset.Encode(keyset.Schedules, sc.TenantID, sc.WorkflowID, sc.Node)
	})
	return list, next, nil
}

// ScheduleTickClaim inserts the tick unless it or a later one is there, and
// deletes the schedule's earlier ticks, in one transaction. Of two claims
// of one tick at once, the second waits on the first's row and then fails
// on the primary key.
func (s *Store) ScheduleTickClaim(ctx context.Context, tenantID, workflowID, node string, tick time.Time) error {
	tick = record.Norm(tick)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM schedules WHERE tenant_id = $1 AND workflow_id = $2 AND node = $3`,
			tenantID, workflowID, node).Scan(&one)
		if err != nil {
			return translate(err)
		}
		err = execOne(ctx, tx, `INSERT INTO schedule_ticks (tenant_id, workflow_id, node, tick_at, created_at)
			SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM schedule_ticks
				WHERE tenant_id = $1 AND workflow_id = $2 AND node = $3 AND tick_at >= $4)`,
			tenantID, workflowID, node, tick, record.Now())
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: tick %s of %s/%s was claimed already", store.ErrConflict, tick.Format(time.RFC3339Nano), workflowID, node)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM schedule_ticks
			WHERE tenant_id = $1 AND workflow_id = $2 AND node = $3 AND tick_at < $4`, tenantID, workflowID, node, tick)
		return translate(err)
	})
}

// WebhookSignatureUse inserts the signature, or takes over its expired row.
func (s *Store) WebhookSignatureUse(ctx context.Context, tenantID, signature string, now, expiresAt time.Time) error {
	err := execOne(ctx, s.pool, `INSERT INTO webhook_signatures (tenant_id, signature, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, signature) DO UPDATE SET expires_at = excluded.expires_at
		WHERE webhook_signatures.expires_at <= $4`, tenantID, signature, record.Norm(expiresAt), record.Norm(now))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: the signature was used already", store.ErrConflict)
	}
	return err
}

// WebhookSignaturePrune deletes up to limit expired signatures.
func (s *Store) WebhookSignaturePrune(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_signatures WHERE (tenant_id, signature) IN (
		SELECT tenant_id, signature FROM webhook_signatures WHERE expires_at < $1 LIMIT $2)`, record.Norm(now), limit)
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}
