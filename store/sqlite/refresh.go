package sqlite

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const refreshColumns = `id, tenant_id, user_id, family_id, hash, created_at, expires_at, used_at`

// RefreshTokenInsert stores a refresh token.
func (s *Store) RefreshTokenInsert(ctx context.Context, tenantID, userID, familyID string, hash []byte, expiresAt time.Time) (*store.RefreshToken, error) {
	id := store.NewID("rt")
	r := &store.RefreshToken{ID: id, TenantID: tenantID, UserID: userID, FamilyID: cmp.Or(familyID, id), Hash: hash,
		CreatedAt: record.Now(), ExpiresAt: record.Norm(expiresAt)}
	_, err := s.write.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)`,
		r.ID, r.TenantID, r.UserID, r.FamilyID, r.Hash, us(r.CreatedAt), us(r.ExpiresAt))
	if err != nil {
		return nil, translate(err)
	}
	return r, nil
}

// RefreshTokenUse spends a token and returns it as it was.
func (s *Store) RefreshTokenUse(ctx context.Context, hash []byte) (*store.RefreshToken, error) {
	r, err := getOne(ctx, s.write, scanRefreshToken,
		`UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL RETURNING `+refreshColumns, hash, us(record.Now()))
	if err == nil {
		r.UsedAt = nil // as it was before
		return r, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return getOne(ctx, s.write, scanRefreshToken, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash)
}

// RefreshTokenRevokeFamily spends every unspent token of the family.
func (s *Store) RefreshTokenRevokeFamily(ctx context.Context, tenantID, familyID string) (int, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $3 WHERE family_id = $2 AND tenant_id = $1 AND used_at IS NULL`,
		tenantID, familyID, us(record.Now()))
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected() // never fails with this driver
	return int(n), nil
}

func scanRefreshToken(r row) (*store.RefreshToken, error) {
	var t store.RefreshToken
	err := r.Scan(&t.ID, &t.TenantID, &t.UserID, &t.FamilyID, &t.Hash, micros{&t.CreatedAt}, micros{&t.ExpiresAt}, optMicros{&t.UsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}
