package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

// bumpEpoch increments the trust epoch in tx.
func bumpEpoch(ctx context.Context, tx *txn) error {
	return execOne(ctx, tx, `UPDATE trust_epoch SET epoch = epoch + 1 WHERE id = 1`)
}

// TrustEpoch reads the trust epoch.
func (s *Store) TrustEpoch(ctx context.Context) (int64, error) {
	return getOne(ctx, s.read, func(r row) (int64, error) {
		var n int64
		return n, r.Scan(&n)
	}, `SELECT epoch FROM trust_epoch WHERE id = 1`)
}

// PublisherInsert creates a publisher owned by the tenant.
func (s *Store) PublisherInsert(ctx context.Context, tenantID, name string) (*store.Publisher, error) {
	p, err := record.NewPublisher(tenantID, name)
	if err != nil {
		return nil, err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO publishers (name, tenant_id, created_at) VALUES ($1, $2, $3)`,
		p.Name, p.TenantID, us(p.CreatedAt))
	if err != nil {
		return nil, translate(err)
	}
	return p, nil
}

const publisherColumns = `name, tenant_id, created_at`

func scanPublisher(r row) (*store.Publisher, error) {
	var p store.Publisher
	return &p, r.Scan(&p.Name, &p.TenantID, micros{&p.CreatedAt})
}

// PublisherGet reads a publisher by name.
func (s *Store) PublisherGet(ctx context.Context, name string) (*store.Publisher, error) {
	return getOne(ctx, s.read, scanPublisher, `SELECT `+publisherColumns+` FROM publishers WHERE name = $1`, name)
}

// PublisherList lists the tenant's publishers by name.
func (s *Store) PublisherList(ctx context.Context, tenantID string) ([]*store.Publisher, error) {
	return getAll(ctx, s.read, scanPublisher, `SELECT `+publisherColumns+` FROM publishers WHERE tenant_id = $1 ORDER BY name`, tenantID)
}

const keyColumns = `publisher, key_id, public_key, not_before, not_after, revoked_at, created_at`

func scanKey(r row) (*store.PublisherKey, error) {
	var k store.PublisherKey
	return &k, r.Scan(&k.Publisher, &k.KeyID, &k.PublicKey, optMicros{&k.NotBefore}, optMicros{&k.NotAfter},
		optMicros{&k.RevokedAt}, micros{&k.CreatedAt})
}

// PublisherKeyInsert registers a key of one of the tenant's publishers.
func (s *Store) PublisherKeyInsert(ctx context.Context, tenantID string, k *store.PublisherKey) (*store.PublisherKey, error) {
	key, err := record.NewPublisherKey(k)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *txn) error {
		if err := ownsPublisher(ctx, tx, tenantID, key.Publisher); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO publisher_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, NULL, $6)`,
			key.Publisher, key.KeyID, key.PublicKey, usp(key.NotBefore), usp(key.NotAfter), us(key.CreatedAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// ownsPublisher is ErrNotFound unless the tenant owns the publisher.
func ownsPublisher(ctx context.Context, tx *txn, tenantID, publisher string) error {
	_, err := getOne(ctx, tx, scanPublisher, `SELECT `+publisherColumns+` FROM publishers WHERE name = $1 AND tenant_id = $2`,
		publisher, tenantID)
	return err
}

// PublisherKeyGet reads one key of a publisher.
func (s *Store) PublisherKeyGet(ctx context.Context, publisher, keyID string) (*store.PublisherKey, error) {
	return getOne(ctx, s.read, scanKey, `SELECT `+keyColumns+` FROM publisher_keys WHERE publisher = $1 AND key_id = $2`, publisher, keyID)
}

// PublisherKeyList lists a publisher's keys by creation.
func (s *Store) PublisherKeyList(ctx context.Context, publisher string) ([]*store.PublisherKey, error) {
	return getAll(ctx, s.read, scanKey, `SELECT `+keyColumns+` FROM publisher_keys WHERE publisher = $1 ORDER BY created_at, key_id`, publisher)
}

// PublisherKeyRevoke revokes a key of one of the tenant's publishers and
// bumps the trust epoch.
func (s *Store) PublisherKeyRevoke(ctx context.Context, tenantID, publisher, keyID string) (*store.PublisherKey, error) {
	var key *store.PublisherKey
	err := s.inTx(ctx, func(tx *txn) error {
		if err := ownsPublisher(ctx, tx, tenantID, publisher); err != nil {
			return err
		}
		var err error
		key, err = getOne(ctx, tx, scanKey, `UPDATE publisher_keys SET revoked_at = COALESCE(revoked_at, $3)
			WHERE publisher = $1 AND key_id = $2 RETURNING `+keyColumns, publisher, keyID, us(record.Now()))
		if err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// TrustPolicyGet reads the tenant's trust policy, or the default.
func (s *Store) TrustPolicyGet(ctx context.Context, tenantID string) (*store.TrustPolicy, error) {
	p, err := getOne(ctx, s.read, func(r row) (*store.TrustPolicy, error) {
		var (
			p                store.TrustPolicy
			trusted, minimum []byte
		)
		if err := r.Scan(&p.TenantID, &p.RequireSignatures, &trusted, &minimum, micros{&p.UpdatedAt}); err != nil {
			return nil, err
		}
		return &p, record.DecodeTrustPolicy(&p, trusted, minimum)
	}, `SELECT tenant_id, require_signatures, trusted_publishers, minimum_versions, updated_at
		FROM trust_policies WHERE tenant_id = $1`, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return record.DefaultTrustPolicy(tenantID), nil
	}
	return p, err
}

// TrustPolicyPut replaces the tenant's trust policy and bumps the trust epoch.
func (s *Store) TrustPolicyPut(ctx context.Context, tenantID string, p *store.TrustPolicy) (*store.TrustPolicy, error) {
	out, trusted, minimum, err := record.NewTrustPolicy(tenantID, p)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO trust_policies (tenant_id, require_signatures, trusted_publishers, minimum_versions, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id) DO UPDATE SET require_signatures = excluded.require_signatures,
			trusted_publishers = excluded.trusted_publishers, minimum_versions = excluded.minimum_versions, updated_at = excluded.updated_at`,
			tenantID, out.RequireSignatures, string(trusted), string(minimum), us(out.UpdatedAt))
		if err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const catalogModuleColumns = `name, publisher, tenant_id, description, latest_version, versions, created_at, updated_at`

func scanCatalogModule(r row) (*store.CatalogModule, error) {
	var m store.CatalogModule
	return &m, r.Scan(&m.Name, &m.Publisher, &m.TenantID, &m.Description, &m.LatestVersion, &m.Versions,
		micros{&m.CreatedAt}, micros{&m.UpdatedAt})
}

const catalogVersionColumns = `name, version, tenant_id, digest, abi, size, manifest, manifest_sha256, signature, yanked_at, yank_reason, created_at`

func scanCatalogVersion(r row) (*store.CatalogVersion, error) {
	var v store.CatalogVersion
	return &v, r.Scan(&v.Name, &v.Version, &v.TenantID, &v.Digest, &v.ABI, &v.Size, (*[]byte)(&v.Manifest),
		&v.ManifestSHA256, (*[]byte)(&v.Signature), optMicros{&v.YankedAt}, &v.YankReason, micros{&v.CreatedAt})
}

// CatalogPublish adds a version to the catalog.
func (s *Store) CatalogPublish(ctx context.Context, tenantID string, p *store.CatalogPublishParams) (*store.CatalogModule, *store.CatalogVersion, error) {
	m, v, err := record.NewCatalogVersion(tenantID, p)
	if err != nil {
		return nil, nil, err
	}
	var (
		module *store.CatalogModule
		stored *store.CatalogVersion
	)
	err = s.inTx(ctx, func(tx *txn) error {
		var err error
		module, err = getOne(ctx, tx, scanCatalogModule, `SELECT `+catalogModuleColumns+` FROM catalog_modules WHERE name = $1`, m.Name)
		switch {
		case err == nil && module.TenantID != tenantID:
			return fmt.Errorf("%w: %s is published by another tenant", store.ErrConflict, m.Name)
		case errors.Is(err, store.ErrNotFound):
			module = nil
		case err != nil:
			return err
		}
		stored, err = getOne(ctx, tx, scanCatalogVersion, `SELECT `+catalogVersionColumns+` FROM catalog_versions
			WHERE name = $1 AND version = $2`, v.Name, v.Version)
		switch {
		case err == nil && stored.Digest == v.Digest:
			return nil
		case err == nil:
			return fmt.Errorf("%w: %s@%s is published with digest %s", store.ErrConflict, v.Name, v.Version, stored.Digest)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if module == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO catalog_modules (`+catalogModuleColumns+`) VALUES ($1, $2, $3, $4, $5, 0, $6, $6)`,
				m.Name, m.Publisher, m.TenantID, m.Description, m.LatestVersion, us(m.CreatedAt))
			if err != nil {
				return err
			}
		}
		module, err = getOne(ctx, tx, scanCatalogModule, `UPDATE catalog_modules SET latest_version = $2, versions = versions + 1,
			updated_at = $3, description = CASE WHEN $4 = '' THEN description ELSE $4 END
			WHERE name = $1 RETURNING `+catalogModuleColumns, m.Name, v.Version, us(v.CreatedAt), p.Description)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO catalog_versions (seq, `+catalogVersionColumns+`)
			VALUES ($13, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			v.Name, v.Version, v.TenantID, v.Digest, v.ABI, v.Size, string(v.Manifest), v.ManifestSHA256,
			string(v.Signature), nil, "", us(v.CreatedAt), module.Versions)
		stored = v
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return module, stored, nil
}

// CatalogGet reads a module of the catalog.
func (s *Store) CatalogGet(ctx context.Context, name string) (*store.CatalogModule, error) {
	return getOne(ctx, s.read, scanCatalogModule, `SELECT `+catalogModuleColumns+` FROM catalog_modules WHERE name = $1`, name)
}

// CatalogList lists the catalog by name, filtered by query.
func (s *Store) CatalogList(ctx context.Context, query string, page store.Page) ([]*store.CatalogModule, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Catalog, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("versions > 0")
	if query != "" {
		q.Where("instr(lower(name || ' ' || description), lower(?)) > 0", query)
	}
	if after != nil {
		q.Where("name > ?", after[0])
	}
	stmt, args := q.Build(`SELECT `+catalogModuleColumns+` FROM catalog_modules`, `ORDER BY name`, page.Size())
	ms, err := getAll(ctx, s.read, scanCatalogModule, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	ms, next := keyset.Trim(ms, page.Size(), func(m *store.CatalogModule) string { return keyset.Encode(keyset.Catalog, m.Name) })
	return ms, next, nil
}

// CatalogVersionList lists a module's versions in publish order.
func (s *Store) CatalogVersionList(ctx context.Context, name string) ([]*store.CatalogVersion, error) {
	vs, err := getAll(ctx, s.read, scanCatalogVersion, `SELECT `+catalogVersionColumns+` FROM catalog_versions
		WHERE name = $1 ORDER BY seq`, name)
	if err == nil && len(vs) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// CatalogVersionGet reads one published version.
func (s *Store) CatalogVersionGet(ctx context.Context, name, version string) (*store.CatalogVersion, error) {
	return getOne(ctx, s.read, scanCatalogVersion, `SELECT `+catalogVersionColumns+` FROM catalog_versions
		WHERE name = $1 AND version = $2`, name, version)
}

// CatalogVersionYank yanks a version the tenant published and bumps the
// trust epoch.
func (s *Store) CatalogVersionYank(ctx context.Context, tenantID, name, version, reason string) (*store.CatalogVersion, error) {
	var v *store.CatalogVersion
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		v, err = getOne(ctx, tx, scanCatalogVersion, `UPDATE catalog_versions
			SET yank_reason = CASE WHEN yanked_at IS NULL THEN $5 ELSE yank_reason END, yanked_at = COALESCE(yanked_at, $4)
			WHERE name = $1 AND version = $2 AND tenant_id = $3 RETURNING `+catalogVersionColumns,
			name, version, tenantID, us(record.Now()), reason)
		if err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
