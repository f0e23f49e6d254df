package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const secretColumns = `tenant_id, name, ciphertext, wrapped_key, key_id, created_at, updated_at` //nolint:gosec // G101: column names, not a credential

// SecretInsert stores a new secret (ciphertext only); ErrConflict when the
// name exists in the tenant.
func (s *Store) SecretInsert(ctx context.Context, tenantID string, in *store.Secret) (*store.Secret, error) {
	sec, err := record.NewSecret(tenantID, in)
	if err != nil {
		return nil, err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		sec.TenantID, sec.Name, sec.Ciphertext, sec.WrappedKey, sec.KeyID, sec.CreatedAt, sec.UpdatedAt)
	if err != nil {
		return nil, translate(err)
	}
	return sec, nil
}

// SecretUpdate replaces a secret's ciphertext, wrapped key and key id.
func (s *Store) SecretUpdate(ctx context.Context, tenantID string, in *store.Secret) (*store.Secret, error) {
	sec, err := record.UpdatedSecret(tenantID, in)
	if err != nil {
		return nil, err
	}
	return getOne(ctx, s.pool, scanSecret, `
		UPDATE secrets SET ciphertext = $3, wrapped_key = $4, key_id = $5, updated_at = $6
		WHERE tenant_id = $1 AND name = $2
		RETURNING `+secretColumns, sec.TenantID, sec.Name, sec.Ciphertext, sec.WrappedKey, sec.KeyID, sec.UpdatedAt)
}

// SecretGet reads a secret.
func (s *Store) SecretGet(ctx context.Context, tenantID, name string) (*store.Secret, error) {
	return getOne(ctx, s.pool, scanSecret,
		`SELECT `+secretColumns+` FROM secrets WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

// SecretList lists the tenant's secrets sorted by name.
func (s *Store) SecretList(ctx context.Context, tenantID string, page store.Page) ([]*store.Secret, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Secrets, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("tenant_id = ?", tenantID)
	if after != nil {
		q.Where("name > ?", after[0])
	}
	stmt, args := q.Build(`SELECT `+secretColumns+` FROM secrets`, `ORDER BY name`, page.Size())
	secs, err := getAll(ctx, s.pool, scanSecret, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	secs, next := keyset.Trim(secs, page.Size(), func(s *store.Secret) string { return keyset.Encode(keyset.Secrets, s.Name) })
	return secs, next, nil
}

// SecretDelete deletes a secret.
func (s *Store) SecretDelete(ctx context.Context, tenantID, name string) error {
	return execOne(ctx, s.pool, `DELETE FROM secrets WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

// SecretCount counts the tenant's secrets.
func (s *Store) SecretCount(ctx context.Context, tenantID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE tenant_id = $1`, tenantID).Scan(&n)
	return n, translate(err)
}

// bindingSelect reads the secret bindings of live workflows, with the
// workflow's current name.
const bindingSelect = `
SELECT b.workflow_id, w.name, b.node, b.name, b.secret
FROM secret_bindings b
JOIN workflows w ON w.tenant_id = b.tenant_id AND w.id = b.workflow_id AND w.deleted_at IS NULL`

// SecretBindingList lists the bindings of the tenant's live workflows to
// the secrets named (all when none), sorted by secret, workflow id, node
// and name. With names, it reads the bindings of each secret by its own
// statement, in secret order and in one round trip: every statement then
// reads the index in list order, whereas "secret = ANY($2)" on the index's
// second column would need a sort before PostgreSQL 17.
func (s *Store) SecretBindingList(ctx context.Context, tenantID string, secrets []string) ([]*store.SecretBinding, error) {
	if len(secrets) == 0 {
		return getAll(ctx, s.pool, scanSecretBinding,
			bindingSelect+` WHERE b.tenant_id = $1 ORDER BY b.secret, b.workflow_id, b.node, b.name`, tenantID)
	}
	var out []*store.SecretBinding
	b := &pgx.Batch{}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(secrets))) {
		b.Queue(bindingSelect+` WHERE b.tenant_id = $1 AND b.secret = $2 ORDER BY b.workflow_id, b.node, b.name`,
			tenantID, name).Query(func(rows pgx.Rows) error {
			bs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.SecretBinding, error) { return scanSecretBinding(r) })
			out = append(out, bs...)
			return err
		})
	}
	if err := sendBatch(ctx, s.pool, b); err != nil {
		return nil, err
	}
	return out, nil
}

func scanSecretBinding(r pgx.Row) (*store.SecretBinding, error) {
	var sb store.SecretBinding
	return &sb, r.Scan(&sb.WorkflowID, &sb.WorkflowName, &sb.Node, &sb.Name, &sb.Secret)
}

func scanSecret(r pgx.Row) (*store.Secret, error) {
	var s store.Secret
	err := r.Scan(&s.TenantID, &s.Name, &s.Ciphertext, &s.WrappedKey, &s.KeyID, &s.CreatedAt, &s.UpdatedAt)
	s.CreatedAt, s.UpdatedAt = utc(s.CreatedAt), utc(s.UpdatedAt)
	return &s, err
}
