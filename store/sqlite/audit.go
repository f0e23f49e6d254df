package sqlite

import (
	"context"
	"errors"
	"strconv"

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
	_, err = s.write.ExecContext(ctx, `INSERT INTO audit_entries (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.TenantID, e.Actor, e.Action, e.Resource, jsonArg(e.Detail), us(e.CreatedAt))
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
		q.where("created_at >= ?", us(norm(*f.Since)))
	}
	if after != nil {
		at, err := strconv.ParseInt(after[0], 10, 64)
		if err != nil {
			return nil, "", invalidCursor(cursorAudit)
		}
		q.where("(created_at, id) < (?, ?)", at, after[1])
	}
	// Without statistics SQLite may prefer the time index, and so read every
	// entry of a time range to find one actor's: name the index to use.
	from := `audit_entries`
	switch {
	case f.Actor != "":
		from += ` INDEXED BY audit_entries_actor_idx`
	case f.Action != "":
		from += ` INDEXED BY audit_entries_action_idx`
	}
	stmt, args := q.build(`SELECT `+auditColumns+` FROM `+from, `ORDER BY created_at DESC, id DESC`, page.Size())
	es, err := getAll(ctx, s.read, scanAudit, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	es, next := pageOf(es, page.Size(), func(e *store.AuditEntry) string {
		return encodeCursor(cursorAudit, strconv.FormatInt(e.CreatedAt.UnixMicro(), 10), e.ID)
	})
	return es, next, nil
}

func scanAudit(r row) (*store.AuditEntry, error) {
	var e store.AuditEntry
	return &e, r.Scan(&e.ID, &e.TenantID, &e.Actor, &e.Action, &e.Resource, (*[]byte)(&e.Detail), micros{&e.CreatedAt})
}
