package sqlite

import (
	"context"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const (
	userColumns = `id, email, password_hash, created_at`
	// membershipSelect reads memberships with their user's email.
	membershipSelect = `SELECT m.tenant_id, m.user_id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id`
)

// UserInsert creates a user; ErrConflict when the email is taken.
func (s *Store) UserInsert(ctx context.Context, email, passwordHash string) (*store.User, error) {
	u, err := record.NewUser(email, passwordHash)
	if err != nil {
		return nil, err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Email, u.PasswordHash, us(u.CreatedAt))
	if err != nil {
		return nil, translate(err)
	}
	return u, nil
}

// UserGet reads a user by id.
func (s *Store) UserGet(ctx context.Context, id string) (*store.User, error) {
	return getOne(ctx, s.read, scanUser, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
}

// UserGetByEmail reads a user by the exact email.
func (s *Store) UserGetByEmail(ctx context.Context, email string) (*store.User, error) {
	return getOne(ctx, s.read, scanUser, `SELECT `+userColumns+` FROM users WHERE email = $1`, email)
}

// MembershipInsert adds the user to the tenant.
func (s *Store) MembershipInsert(ctx context.Context, tenantID, userID, role string) (*store.Membership, error) {
	var m *store.Membership
	err := s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			tenantID, userID, role, us(record.Now()))
		if err != nil {
			return translate(err)
		}
		m, err = getOne(ctx, tx, scanMembership, membershipSelect+` WHERE m.tenant_id = $1 AND m.user_id = $2`, tenantID, userID)
		return err
	})
	return m, err
}

// MembershipGet reads the user's membership in the tenant.
func (s *Store) MembershipGet(ctx context.Context, tenantID, userID string) (*store.Membership, error) {
	return getOne(ctx, s.read, scanMembership, membershipSelect+` WHERE m.tenant_id = $1 AND m.user_id = $2`, tenantID, userID)
}

// MembershipList lists the tenant's members by user id.
func (s *Store) MembershipList(ctx context.Context, tenantID string, page store.Page) ([]*store.Membership, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Memberships, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("m.tenant_id = ?", tenantID)
	if after != nil {
		q.Where("m.user_id > ?", after[0])
	}
	stmt, args := q.Build(membershipSelect, `ORDER BY m.user_id`, page.Size())
	ms, err := getAll(ctx, s.read, scanMembership, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	ms, next := keyset.Trim(ms, page.Size(), func(m *store.Membership) string { return keyset.Encode(keyset.Memberships, m.UserID) })
	return ms, next, nil
}

// MembershipListByUser lists the user's memberships by tenant id.
func (s *Store) MembershipListByUser(ctx context.Context, userID string) ([]*store.Membership, error) {
	return getAll(ctx, s.read, scanMembership, membershipSelect+` WHERE m.user_id = $1 ORDER BY m.tenant_id`, userID)
}

// MembershipUpdate changes the user's role; ErrLastOwner when it would
// demote the tenant's last owner. Writes are serialized, so the count read
// in the transaction holds until it commits.
func (s *Store) MembershipUpdate(ctx context.Context, tenantID, userID, role string) (*store.Membership, error) {
	var m *store.Membership
	err := s.inTx(ctx, func(tx *txn) error {
		if err := keepOwner(ctx, tx, tenantID, userID, role); err != nil {
			return err
		}
		if err := execOne(ctx, tx, `UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID, role); err != nil {
			return err
		}
		var err error
		m, err = getOne(ctx, tx, scanMembership, membershipSelect+` WHERE m.tenant_id = $1 AND m.user_id = $2`, tenantID, userID)
		return err
	})
	return m, err
}

// MembershipDelete removes the user from the tenant; ErrLastOwner when the
// user is its last owner.
func (s *Store) MembershipDelete(ctx context.Context, tenantID, userID string) error {
	return s.inTx(ctx, func(tx *txn) error {
		if err := keepOwner(ctx, tx, tenantID, userID, ""); err != nil {
			return err
		}
		return execOne(ctx, tx, `DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
	})
}

// keepOwner returns ErrLastOwner when giving the member newRole ("" for
// removing it) would leave the tenant without an owner member, and
// ErrNotFound when the user is not a member.
func keepOwner(ctx context.Context, tx *txn, tenantID, userID, newRole string) error {
	var role string
	err := tx.QueryRowContext(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID).Scan(&role)
	if err != nil {
		return translate(err)
	}
	if role != record.RoleOwner || newRole == record.RoleOwner {
		return nil
	}
	var owners int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = $2`, tenantID, record.RoleOwner).Scan(&owners)
	if err != nil {
		return translate(err)
	}
	if owners <= 1 {
		return store.ErrLastOwner
	}
	return nil
}

func scanUser(r row) (*store.User, error) {
	var u store.User
	if err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, micros{&u.CreatedAt}); err != nil {
		return nil, err
	}
	return &u, nil
}

func scanMembership(r row) (*store.Membership, error) {
	var m store.Membership
	if err := r.Scan(&m.TenantID, &m.UserID, &m.Email, &m.Role, micros{&m.CreatedAt}); err != nil {
		return nil, err
	}
	return &m, nil
}
