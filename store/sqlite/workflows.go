package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wasmflow/wasmflow/store"
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
// workflows and one in workflow_versions, in one transaction).
func (s *Store) WorkflowInsert(ctx context.Context, tenantID string, def *workflow.Workflow) (*store.Workflow, error) {
	if def == nil {
		return nil, errors.New("store: WorkflowInsert needs a definition")
	}
	raw, stored, err := encodeDefinition(def)
	if err != nil {
		return nil, err
	}
	t := now()
	w := &store.Workflow{ID: store.NewID("wf"), TenantID: tenantID, Version: 1, Definition: stored,
		CreatedAt: t, UpdatedAt: t}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO workflows (id, tenant_id, name, version, active, created_at, updated_at)
			VALUES ($1, $2, $3, 1, $4, $5, $5)`, w.ID, w.TenantID, stored.Name, w.Active, us(t))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO workflow_versions (tenant_id, workflow_id, version, definition, created_at)
			VALUES ($1, $2, 1, $3, $4)`, w.TenantID, w.ID, string(raw), us(t))
		return err
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
	after, err := decodeCursor(page.Cursor, cursorWorkflows, 1)
	if err != nil {
		return nil, "", err
	}
	var q query
	q.where("w.tenant_id = ?", tenantID)
	q.where("w.deleted_at IS NULL")
	if after != nil {
		q.where("w.id < ?", after[0])
	}
	stmt, args := q.build(workflowSelect, `ORDER BY w.id DESC`, page.Size())
	ws, err := getAll(ctx, s.read, scanWorkflow, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	ws, next := pageOf(ws, page.Size(), func(w *store.Workflow) string { return encodeCursor(cursorWorkflows, w.ID) })
	return ws, next, nil
}

// WorkflowUpdate stores p.Definition as the next version and makes it
// current, in one transaction. With p.ExpectedVersion set, it is ErrConflict
// unless the current version is that one.
func (s *Store) WorkflowUpdate(ctx context.Context, tenantID, id string, p *store.WorkflowUpdateParams) (*store.Workflow, error) {
	if p == nil {
		return nil, errors.New("store: WorkflowUpdate needs params")
	}
	raw, stored, err := encodeDefinition(&p.Definition)
	if err != nil {
		return nil, err
	}
	t := now()
	var w *store.Workflow
	err = s.inTx(ctx, func(tx *sql.Tx) error {
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
		return err
	})
	if err != nil {
		return nil, err
	}
	w.Definition = stored
	return w, nil
}

// versionConflict explains an update that matched no row: the workflow is
// not there (ErrNotFound) or is at another version (ErrConflict).
func versionConflict(ctx context.Context, tx *sql.Tx, tenantID, id string, expected int) error {
	var current int
	err := tx.QueryRowContext(ctx, `SELECT version FROM workflows WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
		tenantID, id).Scan(&current)
	if err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: workflow %s is at version %d, not %d", store.ErrConflict, id, current, expected)
}

// WorkflowDelete soft-deletes a live workflow: reads, lists and updates no
// longer see it, and its versions stay for the executions that ran them.
func (s *Store) WorkflowDelete(ctx context.Context, tenantID, id string) error {
	return execOne(ctx, s.write, `UPDATE workflows SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
		tenantID, id, us(now()))
}

// WorkflowVersionGet reads one version of a live workflow.
func (s *Store) WorkflowVersionGet(ctx context.Context, tenantID, id string, version int) (*store.WorkflowVersion, error) {
	return getOne(ctx, s.read, scanVersion,
		versionSelect+` WHERE v.tenant_id = $1 AND v.workflow_id = $2 AND v.version = $3`, tenantID, id, version)
}

// WorkflowVersionList lists the versions of a live workflow, newest first;
// ErrNotFound when there is no such workflow.
func (s *Store) WorkflowVersionList(ctx context.Context, tenantID, id string, page store.Page) ([]*store.WorkflowVersion, string, error) {
	before, ok, err := decodeIntCursor(page.Cursor, cursorWorkflowVersions)
	if err != nil {
		return nil, "", err
	}
	var q query
	q.where("v.tenant_id = ?", tenantID)
	q.where("v.workflow_id = ?", id)
	if ok {
		q.where("v.version < ?", before)
	}
	stmt, args := q.build(versionSelect, `ORDER BY v.version DESC`, page.Size())
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
	vs, next := pageOf(vs, page.Size(), func(v *store.WorkflowVersion) string {
		return encodeCursor(cursorWorkflowVersions, strconv.Itoa(v.Version))
	})
	return vs, next, nil
}

// encodeDefinition returns the JSON the store keeps for def and the
// definition as it reads back (JSON numbers in params become float64), so
// that what a write returns equals what a later read returns.
func encodeDefinition(def *workflow.Workflow) ([]byte, workflow.Workflow, error) {
	var stored workflow.Workflow
	raw, err := def.Encode()
	if err == nil {
		err = json.Unmarshal(raw, &stored)
	}
	if err != nil {
		return nil, stored, fmt.Errorf("store: encode workflow: %w", err)
	}
	return raw, stored, nil
}

func decodeDefinition(raw []byte, def *workflow.Workflow) error {
	if err := json.Unmarshal(raw, def); err != nil {
		return fmt.Errorf("store: decode workflow: %w", err)
	}
	return nil
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
	return &w, decodeDefinition(raw, &w.Definition)
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
	return &v, decodeDefinition(raw, &v.Definition)
}
