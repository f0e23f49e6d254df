package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
	"github.com/wasmflow/wasmflow/workflow"
)

// workflowSelect reads the current version of live workflows.
const workflowSelect = `
SELECT w.id, w.tenant_id, w.version, v.definition, w.active, w.created_at, w.updated_at
FROM workflows w
JOIN workflow_versions v ON v.tenant_id = w.tenant_id AND v.workflow_id = w.id AND v.version = w.version`

// versionSelect reads versions of live workflows.
const versionSelect = `
SELECT v.workflow_id, v.tenant_id, v.version, v.definition, v.created_at
FROM workflow_versions v
JOIN workflows w ON w.tenant_id = v.tenant_id AND w.id = v.workflow_id AND w.deleted_at IS NULL`

// WorkflowInsert stores a new, inactive workflow as version 1 (a row in
// workflows, one in workflow_versions and its secret bindings, in one
// transaction).
func (s *Store) WorkflowInsert(ctx context.Context, tenantID string, def *workflow.Workflow) (*store.Workflow, error) {
	w, raw, err := record.NewWorkflow(tenantID, def)
	if err != nil {
		return nil, err
	}
	t := w.CreatedAt
	err = s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO workflows (id, tenant_id, name, version, active, created_at, updated_at)
			VALUES ($1, $2, $3, 1, $4, $5, $5)`, w.ID, w.TenantID, w.Definition.Name, w.Active, us(t))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO workflow_versions (tenant_id, workflow_id, version, definition, created_at)
			VALUES ($1, $2, 1, $3, $4)`, w.TenantID, w.ID, string(raw), us(t))
		if err != nil {
			return err
		}
		return insertSecretBindings(ctx, tx, w.TenantID, w.ID, &w.Definition)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// WorkflowGet reads the current version of a live workflow.
func (s *Store) WorkflowGet(ctx context.Context, tenantID, id string) (*store.Workflow, error) {
	return getOne(ctx, s.read, scanWorkflow,
		workflowSelect+` WHERE w.tenant_id = $1 AND w.id = $2 AND w.deleted_at IS NULL`, tenantID, id)
}

// WorkflowList lists the tenant's live workflows, newest first.
func (s *Store) WorkflowList(ctx context.Context, tenantID string, page store.Page) ([]*store.Workflow, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Workflows, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("w.tenant_id = ?", tenantID)
	q.Where("w.deleted_at IS NULL")
	if after != nil {
		q.Where("w.id < ?", after[0])
	}
	stmt, args := q.Build(workflowSelect, `ORDER BY w.id DESC`, page.Size())
	ws, err := getAll(ctx, s.read, scanWorkflow, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	ws, next := keyset.Trim(ws, page.Size(), func(w *store.Workflow) string { return keyset.Encode(keyset.Workflows, w.ID) })
	return ws, next, nil
}

// WorkflowUpdate stores p.Definition as the next version and makes it
// current, replacing the workflow's secret bindings and (see Triggers) its
// triggers, in one transaction.
// With p.ExpectedVersion set, it is ErrConflict unless the current version
// is that one.
func (s *Store) WorkflowUpdate(ctx context.Context, tenantID, id string, p *store.WorkflowUpdateParams) (*store.Workflow, error) {
	raw, stored, err := record.WorkflowUpdate(p)
	if err != nil {
		return nil, err
	}
	t := record.Now()
	var w *store.Workflow
	err = s.inTx(ctx, func(tx *txn) error {
		var err error
		w, err = getOne(ctx, tx, scanWorkflowRow, `
			UPDATE workflows SET version = version + 1, name = $3, active = coalesce($4, active), updated_at = $5
			WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND ($6 = 0 OR version = $6)
			RETURNING id, tenant_id, version, active, created_at, updated_at`,
			tenantID, id, stored.Name, p.Active, us(t), p.ExpectedVersion)
		if errors.Is(err, store.ErrNotFound) {
			return versionConflict(ctx, tx, tenantID, id, p.ExpectedVersion)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO workflow_versions (tenant_id, workflow_id, version, definition, created_at)
			VALUES ($1, $2, $3, $4, $5)`, tenantID, id, w.Version, string(raw), us(t))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM secret_bindings WHERE tenant_id = $1 AND workflow_id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if err := insertSecretBindings(ctx, tx, tenantID, id, &stored); err != nil {
			return err
		}
		w.Definition = stored
		return writeTriggers(ctx, tx, w)
	})
	if err != nil {
		return nil, err
	}
	w.Definition = stored
	return w, nil
}

// versionConflict explains an update that matched no row: the workflow is
// not there (ErrNotFound) or is at another version (ErrConflict).
func versionConflict(ctx context.Context, tx *txn, tenantID, id string, expected int) error {
	var current int
	err := tx.QueryRowContext(ctx, `SELECT version FROM workflows WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
		tenantID, id).Scan(&current)
	if err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: workflow %s is at version %d, not %d", store.ErrConflict, id, current, expected)
}

// WorkflowDelete soft-deletes a live workflow and deletes its secret
// bindings and triggers, in one transaction: reads, lists and updates no longer see it,
// and its versions stay for the executions that ran them.
func (s *Store) WorkflowDelete(ctx context.Context, tenantID, id string) error {
	return s.inTx(ctx, func(tx *txn) error {
		err := execOne(ctx, tx, `UPDATE workflows SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
			tenantID, id, us(record.Now()))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM secret_bindings WHERE tenant_id = $1 AND workflow_id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if err := deleteTriggers(ctx, tx, tenantID, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM schedule_ticks WHERE tenant_id = $1 AND workflow_id = $2`, tenantID, id)
		return err
	})
}

// insertSecretBindings inserts the secret bindings of def, a definition of
// the workflow id.
func insertSecretBindings(ctx context.Context, tx *txn, tenantID, id string, def *workflow.Workflow) error {
	bindings := record.SecretBindings(id, def)
	if len(bindings) == 0 {
		return nil
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO secret_bindings (tenant_id, workflow_id, node, name, secret)
		VALUES ($1, $2, $3, $4, $5)`)
	if err != nil {
		return err
	}
	defer func() { _ = ins.Close() }()
	for _, sb := range bindings {
		if _, err := ins.ExecContext(ctx, tenantID, id, sb.Node, sb.Name, sb.Secret); err != nil {
			return err
		}
	}
	return nil
}

// WorkflowVersionGet reads one version of a live workflow.
func (s *Store) WorkflowVersionGet(ctx context.Context, tenantID, id string, version int) (*store.WorkflowVersion, error) {
	return getOne(ctx, s.read, scanVersion,
		versionSelect+` WHERE v.tenant_id = $1 AND v.workflow_id = $2 AND v.version = $3`, tenantID, id, version)
}

// WorkflowVersionList lists the versions of a live workflow, newest first;
// ErrNotFound when there is no such workflow.
func (s *Store) WorkflowVersionList(ctx context.Context, tenantID, id string, page store.Page) ([]*store.WorkflowVersion, string, error) {
	before, ok, err := keyset.DecodeInt(page.Cursor, keyset.WorkflowVersions)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("v.tenant_id = ?", tenantID)
	q.Where("v.workflow_id = ?", id)
	if ok {
		q.Where("v.version < ?", before)
	}
	stmt, args := q.Build(versionSelect, `ORDER BY v.version DESC`, page.Size())
	vs, err := getAll(ctx, s.read, scanVersion, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	if len(vs) == 0 {
		// Every workflow has a version 1: none means no workflow, unless a
		// cursor asked for the page after the last.
		var one int
		err := s.read.QueryRowContext(ctx, `SELECT 1 FROM workflows WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
			tenantID, id).Scan(&one)
		if err != nil {
			return nil, "", translate(err)
		}
	}
	vs, next := keyset.Trim(vs, page.Size(), func(v *store.WorkflowVersion) string {
		return keyset.Encode(keyset.WorkflowVersions, strconv.Itoa(v.Version))
	})
	return vs, next, nil
}

func scanWorkflow(r row) (*store.Workflow, error) {
	var (
		w   store.Workflow
		raw []byte
	)
	err := r.Scan(&w.ID, &w.TenantID, &w.Version, &raw, &w.Active, micros{&w.CreatedAt}, micros{&w.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &w, record.DecodeDefinition(raw, &w.Definition)
}

// scanWorkflowRow scans a workflows row without its definition.
func scanWorkflowRow(r row) (*store.Workflow, error) {
	var w store.Workflow
	err := r.Scan(&w.ID, &w.TenantID, &w.Version, &w.Active, micros{&w.CreatedAt}, micros{&w.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

func scanVersion(r row) (*store.WorkflowVersion, error) {
	var (
		v   store.WorkflowVersion
		raw []byte
	)
	if err := r.Scan(&v.WorkflowID, &v.TenantID, &v.Version, &raw, micros{&v.CreatedAt}); err != nil {
		return nil, err
	}
	return &v, record.DecodeDefinition(raw, &v.Definition)
}
