package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/keyset"
	"github.com/wasmflow/wasmflow/store/internal/record"
)

const moduleVersionColumns = `tenant_id, name, version, digest, abi, size, manifest, signature, created_at`

// selectVersions reads versions with their origin (a version stored before
// origins were kept is an upload with no manifest digest).
const selectVersions = `SELECT mv.tenant_id, mv.name, mv.version, mv.digest, mv.abi, mv.size, mv.manifest, mv.signature,
	mv.created_at, COALESCE(o.manifest_sha256, ''), COALESCE(o.source, 'upload')
	FROM module_versions mv LEFT JOIN module_version_origins o
	ON o.tenant_id = mv.tenant_id AND o.name = mv.name AND o.version = mv.version`

// ModuleVersionInsert stores a module version and, once per tenant and
// digest, its bytes, in one transaction. Inserting the same name, version
// and digest again returns the stored version; the same name and version
// with another digest is ErrConflict. v.Digest must be "sha256:<hex>" of
// wasm.
func (s *Store) ModuleVersionInsert(ctx context.Context, tenantID string, v *store.ModuleVersion, wasm []byte) (*store.ModuleVersion, error) {
	m, err := record.NewModuleVersion(tenantID, v, wasm)
	if err != nil {
		return nil, err
	}
	var stored *store.ModuleVersion
	err = s.inTx(ctx, func(tx *txn) error {
		stored, err = insertVersion(ctx, tx, m, wasm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// insertVersion stores m in tx unless it is there with the same digest, and
// returns the stored version.
func insertVersion(ctx context.Context, tx *txn, m *store.ModuleVersion, wasm []byte) (*store.ModuleVersion, error) {
	stored, err := getOne(ctx, tx, scanModuleVersion, selectVersions+`
		WHERE mv.tenant_id = $1 AND mv.name = $2 AND mv.version = $3`, m.TenantID, m.Name, m.Version)
	switch {
	case err == nil && stored.Digest == m.Digest:
		return stored, nil
	case err == nil:
		return nil, fmt.Errorf("%w: module %s@%s exists with digest %s", store.ErrConflict, m.Name, m.Version, stored.Digest)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	// One writer at a time (IMMEDIATE transactions), so no lock is needed.
	_, err = tx.ExecContext(ctx, `
		INSERT INTO modules (tenant_id, name, latest_version, versions, created_at, updated_at)
		VALUES ($1, $2, $3, 1, $4, $4)
		ON CONFLICT (tenant_id, name) DO UPDATE
		SET latest_version = excluded.latest_version, versions = modules.versions + 1, updated_at = excluded.updated_at;
		INSERT INTO module_blobs (tenant_id, digest, size, data, created_at) VALUES ($1, $5, $6, $7, $4)
		ON CONFLICT (tenant_id, digest) DO NOTHING;
		INSERT INTO module_versions (seq, `+moduleVersionColumns+`) VALUES (
			(SELECT versions FROM modules WHERE tenant_id = $1 AND name = $2),
			$1, $2, $3, $5, $8, $6, $9, $10, $4);
		INSERT INTO module_version_origins (tenant_id, name, version, manifest_sha256, source) VALUES ($1, $2, $3, $11, $12)`,
		m.TenantID, m.Name, m.Version, us(m.CreatedAt), m.Digest, m.Size, wasm, m.ABI,
		jsonArg(m.Manifest), jsonArg(m.Signature), m.ManifestSHA256, m.Source)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ModuleInstall stores a version and the tenant's grant for the module in
// one transaction, and bumps the trust epoch.
func (s *Store) ModuleInstall(ctx context.Context, tenantID string, v *store.ModuleVersion, wasm []byte, grant *store.ModuleGrant) (*store.ModuleVersion, error) {
	m, err := record.NewModuleVersion(tenantID, v, wasm)
	if err != nil {
		return nil, err
	}
	var stored *store.ModuleVersion
	err = s.inTx(ctx, func(tx *txn) error {
		if stored, err = insertVersion(ctx, tx, m, wasm); err != nil {
			return err
		}
		if grant != nil {
			g, granted, requested, err := record.NewModuleGrant(tenantID, stored, grant)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO module_grants (tenant_id, name, version, granted, requested, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (tenant_id, name) DO UPDATE SET version = excluded.version, granted = excluded.granted,
				requested = excluded.requested, updated_at = excluded.updated_at`,
				g.TenantID, g.Name, g.Version, string(granted), string(requested), us(g.UpdatedAt))
			if err != nil {
				return err
			}
		}
		return bumpEpoch(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// ModuleGrantGet reads the tenant's grant for a module.
func (s *Store) ModuleGrantGet(ctx context.Context, tenantID, name string) (*store.ModuleGrant, error) {
	return getOne(ctx, s.read, func(r row) (*store.ModuleGrant, error) {
		var (
			g                  store.ModuleGrant
			granted, requested []byte
		)
		if err := r.Scan(&g.TenantID, &g.Name, &g.Version, &granted, &requested, micros{&g.UpdatedAt}); err != nil {
			return nil, err
		}
		return &g, record.DecodeModuleGrant(&g, granted, requested)
	}, `SELECT tenant_id, name, version, granted, requested, updated_at FROM module_grants WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

// ModuleVersionGet reads one version of a module.
func (s *Store) ModuleVersionGet(ctx context.Context, tenantID, name, version string) (*store.ModuleVersion, error) {
	return getOne(ctx, s.read, scanModuleVersion, selectVersions+`
		WHERE mv.tenant_id = $1 AND mv.name = $2 AND mv.version = $3`, tenantID, name, version)
}

// ModuleVersionList lists every version of a module in upload order;
// ErrNotFound when it has none.
func (s *Store) ModuleVersionList(ctx context.Context, tenantID, name string) ([]*store.ModuleVersion, error) {
	vs, err := getAll(ctx, s.read, scanModuleVersion, selectVersions+`
		WHERE mv.tenant_id = $1 AND mv.name = $2 ORDER BY mv.seq`, tenantID, name)
	if err == nil && len(vs) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// ModuleList lists the tenant's modules by name, each with its newest
// (last uploaded) version.
func (s *Store) ModuleList(ctx context.Context, tenantID string, page store.Page) ([]*store.ModuleSummary, string, error) {
	after, err := keyset.Decode(page.Cursor, keyset.Modules, 1)
	if err != nil {
		return nil, "", err
	}
	var q keyset.Query
	q.Where("tenant_id = ?", tenantID)
	q.Where("versions > 0")
	if after != nil {
		q.Where("name > ?", after[0])
	}
	stmt, args := q.Build(`SELECT name, latest_version, versions, updated_at FROM modules`, `ORDER BY name`, page.Size())
	ms, err := getAll(ctx, s.read, func(r row) (*store.ModuleSummary, error) {
		var m store.ModuleSummary
		return &m, r.Scan(&m.Name, &m.LatestVersion, &m.Versions, micros{&m.UpdatedAt})
	}, stmt, args...)
	if err != nil {
		return nil, "", err
	}
	ms, next := keyset.Trim(ms, page.Size(), func(m *store.ModuleSummary) string { return keyset.Encode(keyset.Modules, m.Name) })
	return ms, next, nil
}

// ModuleBlobGet reads the wasm bytes stored under a digest for the tenant.
func (s *Store) ModuleBlobGet(ctx context.Context, tenantID, digest string) ([]byte, error) {
	return getOne(ctx, s.read, func(r row) ([]byte, error) {
		var b []byte
		return b, r.Scan(&b)
	}, `SELECT data FROM module_blobs WHERE tenant_id = $1 AND digest = $2`, tenantID, digest)
}

func scanModuleVersion(r row) (*store.ModuleVersion, error) {
	var m store.ModuleVersion
	return &m, r.Scan(&m.TenantID, &m.Name, &m.Version, &m.Digest, &m.ABI, &m.Size,
		(*[]byte)(&m.Manifest), (*[]byte)(&m.Signature), micros{&m.CreatedAt}, &m.ManifestSHA256, &m.Source)
}
