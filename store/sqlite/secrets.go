package sqlite

import (
	"context"
	"strconv"
	"strings"

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
	_, err = s.write.ExecContext(ctx, `INSERT INTO secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		sec.TenantID, sec.Name, sec.Ciphertext, sec.WrappedKey, sec.KeyID, us(sec.CreatedAt), us(sec.UpdatedAt))
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
	return getOne(ctx, s.write, scanSecret, `
		UPDATE secrets SET ciphertext = $3, wrapped_key = $4, key_id = $5, updated_at = $6
		WHERE tenant_id = $1 AND name = $2
		RETURNING `+secretColumns, sec.TenantID, sec.Name, sec.Ciphertext, sec.WrappedKey, sec.KeyID, us(sec.UpdatedAt))
}

// SecretGet reads a secret.
func (s *Store) SecretGet(ctx context.Context, tenantID, name string) (*store.Secret, error) {
	return getOne(ctx, s.read, scanSecret,
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
	secs, err := getAll(ctx, s.read, scanSecret, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	secs, next := keyset.Trim(secs, page.Size(), func(s *store.Secret) string { return keyset.Encode(keyset.Secrets, s.Name) })
	return secs, next, nil
}

// SecretDelete deletes a secret.
func (s *Store) SecretDelete(ctx context.Context, tenantID, name string) error {
	return execOne(ctx, s.write, `DELETE FROM secrets WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

// SecretCount counts the tenant's secrets.
func (s *Store) SecretCount(ctx context.Context, tenantID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM secrets WHERE tenant_id = $1`, tenantID).Scan(&n)
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
// and name. SQLite reads an IN list in sorted order, one index range per
// secret, so the index gives the list order.
func (s *Store) SecretBindingList(ctx context.Context, tenantID string, secrets []string) ([]*store.SecretBinding, error) {
	stmt, args := bindingSelect+` WHERE b.tenant_id = $1`, []any{tenantID}
	if len(secrets) > 0 {
		marks := make([]string, len(secrets))
		for i, name := range secrets {
			args = append(args, name)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		stmt += ` AND b.secret IN (` + strings.Join(marks, ", ") + `)`
	}
	return getAll(ctx, s.read, scanSecretBinding, stmt+` ORDER BY b.secret, b.workflow_id, b.node, b.name`, args...)
}

func scanSecretBinding(r row) (*store.SecretBinding, error) {
	var sb store.SecretBinding
	return &sb, r.Scan(&sb.WorkflowID, &sb.WorkflowName, &sb.Node, &sb.Name, &sb.Secret)
}

func scanSecret(r row) (*store.Secret, error) {
	var s store.Secret
	return &s, r.Scan(&s.TenantID, &s.Name, &s.Ciphertext, &s.WrappedKey, &s.KeyID, micros{&s.CreatedAt}, micros{&s.UpdatedAt})
}
