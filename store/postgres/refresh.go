package postgres

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const refreshColumns = `id, tenant_id, user_id, family_id, hash, created_at, expires_at, used_at`

// RefreshTokenInsert stores a refresh token.
func (s *Store) RefreshTokenInsert(ctx context.Context, tenantID, userID, familyID string, hash []byte, expiresAt time.Time) (*store.RefreshToken, error) {
	id := store.NewID("rt")
	r := &store.RefreshToken{ID: id, TenantID: tenantID, UserID: userID, FamilyID: cmp.Or(familyID, id), Hash: hash,
		CreatedAt: record.Now(), ExpiresAt: record.Norm(expiresAt)}
	_, err := s.pool.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)`,
		r.ID, r.TenantID, r.UserID, r.FamilyID, r.Hash, r.CreatedAt, r.ExpiresAt)
	if err != nil {
		return nil, translate(err)
	}
	return r, nil
}

// RefreshTokenUse spends a token and returns it as it was. The UPDATE's
// row lock makes one of concurrent uses win; the others see it spent.
func (s *Store) RefreshTokenUse(ctx context.Context, hash []byte) (*store.RefreshToken, error) {
	r, err := getOne(ctx, s.pool, scanRefreshToken,
		`UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL RETURNING `+refreshColumns, hash, record.Now())
	if err == nil {
		r.UsedAt = nil // as it was before
		return r, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return getOne(ctx, s.pool, scanRefreshToken, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash)
}

// RefreshTokenRevokeFamily spends every unspent token of the family.
func (s *Store) RefreshTokenRevokeFamily(ctx context.Context, tenantID, familyID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET used_at = $3 WHERE family_id = $2 AND tenant_id = $1 AND used_at IS NULL`,
		tenantID, familyID, record.Now())
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func scanRefreshToken(r pgx.Row) (*store.RefreshToken, error) {
	var t store.RefreshToken
	if err := r.Scan(&t.ID, &t.TenantID, &t.UserID, &t.FamilyID, &t.Hash, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = utc(t.CreatedAt), utc(t.ExpiresAt), utcp(t.UsedAt)
	return &t, nil
}
