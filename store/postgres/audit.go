package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
)

const auditColumns = `id, tenant_id, actor, action, resource, detail, created_at`

// AuditInsert appends an entry. It sets e.TenantID, and e.ID and
// e.CreatedAt when they are zero (a given CreatedAt is kept, in UTC and
// truncated to microseconds).
func (s *Store) AuditInsert(ctx context.Context, tenantID string, e *store.AuditEntry) error {
	if e == nil {
		return errors.New("store: AuditInsert needs an entry")
	}
	detail, err := rawJSON("audit detail", e.Detail)
	if err != nil {
		return err
	}
	e.TenantID, e.Detail = tenantID, detail
	if e.ID == "" {
		e.ID = store.NewID("au")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	e.CreatedAt = norm(e.CreatedAt)
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_entries (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.TenantID, e.Actor, e.Action, e.Resource, e.Detail, e.CreatedAt)
	return translate(err)
}

// AuditList lists entries newest first (by time, then id), optionally only
// one actor's, one action's, or those since a time.
func (s *Store) AuditList(ctx context.Context, tenantID string, f store.AuditFilter, page store.Page) ([]*store.AuditEntry, string, error) {
	after, err := decodeCursor(page.Cursor, cursorAudit, 2)
	if err != nil {
		return nil, "", err
	}
	var q query
	q.where("tenant_id = ?", tenantID)
	if f.Actor != "" {
		q.where("actor = ?", f.Actor)
	}
	if f.Action != "" {
		q.where("action = ?", f.Action)
	}
	if f.Since != nil {
		q.where("created_at >= ?", norm(*f.Since))
	}
	if after != nil {
		us, err := strconv.ParseInt(after[0], 10, 64)
		if err != nil {
			return nil, "", invalidCursor(cursorAudit)
		}
		q.where("(created_at, id) < (?, ?)", time.UnixMicro(us).UTC(), after[1])
	}
	stmt, args := q.build(`SELECT `+auditColumns+` FROM audit_entries`, `ORDER BY created_at DESC, id DESC`, page.Size())
	es, err := getAll(ctx, s.pool, scanAudit, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	es, next := pageOf(es, page.Size(), func(e *store.AuditEntry) string {
		return encodeCursor(cursorAudit, strconv.FormatInt(e.CreatedAt.UnixMicro(), 10), e.ID)
	})
	return es, next, nil
}

func scanAudit(r pgx.Row) (*store.AuditEntry, error) {
	var e store.AuditEntry
	err := r.Scan(&e.ID, &e.TenantID, &e.Actor, &e.Action, &e.Resource, (*[]byte)(&e.Detail), &e.CreatedAt)
	e.CreatedAt = utc(e.CreatedAt)
	return &e, err
}
