package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

// TenantInsert creates a tenant; ErrConflict when the name is taken.
func (s *Store) TenantInsert(ctx context.Context, name string) (*store.Tenant, error) {
	t := record.NewTenant(name)
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`, t.ID, t.Name, t.CreatedAt)
	if err != nil {
		return nil, translate(err)
	}
	return t, nil
}

// TenantGet reads a tenant by id.
func (s *Store) TenantGet(ctx context.Context, id string) (*store.Tenant, error) {
	return getOne(ctx, s.pool, scanTenant, `SELECT id, name, created_at FROM tenants WHERE id = $1`, id)
}

// TenantGetByName reads a tenant by its unique name.
func (s *Store) TenantGetByName(ctx context.Context, name string) (*store.Tenant, error) {
	return getOne(ctx, s.pool, scanTenant, `SELECT id, name, created_at FROM tenants WHERE name = $1`, name)
}

// TenantCount counts all tenants.
func (s *Store) TenantCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&n)
	return n, translate(err)
}

// TenantList lists every tenant by name.
func (s *Store) TenantList(ctx context.Context) ([]*store.Tenant, error) {
	return getAll(ctx, s.pool, scanTenant, `SELECT id, name, created_at FROM tenants ORDER BY name`)
}

func scanTenant(r pgx.Row) (*store.Tenant, error) {
	var t store.Tenant
	if err := r.Scan(&t.ID, &t.Name, &t.CreatedAt); err != nil {
		return nil, err
	}
	t.CreatedAt = utc(t.CreatedAt)
	return &t, nil
}

const apiKeyColumns = `id, tenant_id, name, role, prefix, hash, platform_admin, created_at, expires_at, revoked_at` //nolint:gosec // G101: column names, not a credential

// APIKeyInsert stores a new API key; ErrConflict when the hash exists,
// ErrNotFound when the tenant does not.
func (s *Store) APIKeyInsert(ctx context.Context, tenantID string, p *store.APIKeyInsertParams) (*store.APIKey, error) {
	k, err := record.NewAPIKey(tenantID, p)
	if err != nil {
		return nil, err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`,
		k.ID, k.TenantID, k.Name, k.Role, k.Prefix, k.Hash, k.PlatformAdmin, k.CreatedAt, k.ExpiresAt)
	if err != nil {
		return nil, translate(err)
	}
	return k, nil
}

// APIKeyGetByHash finds a key by its hash, in any tenant.
func (s *Store) APIKeyGetByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	return getOne(ctx, s.pool, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash)
}

// APIKeyGet reads one of the tenant's keys by id.
func (s *Store) APIKeyGet(ctx context.Context, tenantID, id string) (*store.APIKey, error) {
	return getOne(ctx, s.pool, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// APIKeyList lists the tenant's keys, revoked ones included, newest first.
func (s *Store) APIKeyList(ctx context.Context, tenantID string, page store.Page) ([]*store.APIKey, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.APIKeys, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("tenant_id = ?", tenantID)
	if after != nil {
		q.Where("id < ?", after[0])
	}
	stmt, args := q.Build(`SELECT `+apiKeyColumns+` FROM api_keys`, `ORDER BY id DESC`, page.Size())
	keys, err := getAll(ctx, s.pool, scanAPIKey, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	keys, next := keyset.Trim(keys, page.Size(), func(k *store.APIKey) string { return keyset.Encode(keyset.APIKeys, k.ID) })
	return keys, next, nil
}

// APIKeyRevoke marks a key revoked; revoking it again keeps the first time.
func (s *Store) APIKeyRevoke(ctx context.Context, tenantID, id string) error {
	return execOne(ctx, s.pool, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, record.Now())
}

func scanAPIKey(r pgx.Row) (*store.APIKey, error) {
	var k store.APIKey
	err := r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Role, &k.Prefix, &k.Hash, &k.PlatformAdmin,
		&k.CreatedAt, &k.ExpiresAt, &k.RevokedAt)
	if err != nil {
		return nil, err
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = utc(k.CreatedAt), utcp(k.ExpiresAt), utcp(k.RevokedAt)
	return &k, nil
}
