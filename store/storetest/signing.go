package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func signingCases() []testCase {
	wasm := []byte("\x00asm\x01\x00\x00\x00 signed bytes")
	return []testCase{
		{"PublisherInsertGetList", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			p, err := s.PublisherInsert(t.Context(), a, "acme")
			require.NoError(t, err)
			require.Equal(t, "acme", p.Name)
			require.Equal(t, a, p.TenantID)
			recent(t, p.CreatedAt)
			_, err = s.PublisherInsert(t.Context(), b, "acme")
			require.ErrorIs(t, err, store.ErrConflict, "names are global")
			_, err = s.PublisherInsert(t.Context(), a, "acme")
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = s.PublisherInsert(t.Context(), a, "beta")
			require.NoError(t, err)

			got, err := s.PublisherGet(t.Context(), "acme")
			require.NoError(t, err)
			require.Equal(t, p, got)
			_, err = s.PublisherGet(t.Context(), "missing")
			require.ErrorIs(t, err, store.ErrNotFound)

			list, err := s.PublisherList(t.Context(), a)
			require.NoError(t, err)
			require.Equal(t, []string{"acme", "beta"}, keys(list, func(p *store.Publisher) string { return p.Name }))
			list, err = s.PublisherList(t.Context(), b)
			require.NoError(t, err)
			require.Empty(t, list)
			_, err = s.PublisherInsert(t.Context(), "tn_missing", "gamma")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"PublisherKeys", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			_, err := s.PublisherInsert(t.Context(), a, "acme")
			require.NoError(t, err)
			nb := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
			na := nb.Add(365 * 24 * time.Hour)
			k, err := s.PublisherKeyInsert(t.Context(), a, &store.PublisherKey{
				Publisher: "acme", KeyID: "ed25519:0000000000000001", PublicKey: []byte{1, 2, 3}, NotBefore: &nb, NotAfter: &na})
			require.NoError(t, err)
			sameTime(t, nb, *k.NotBefore)
			sameTime(t, na, *k.NotAfter)
			require.Nil(t, k.RevokedAt)
			recent(t, k.CreatedAt)
			open, err := s.PublisherKeyInsert(t.Context(), a, &store.PublisherKey{Publisher: "acme", KeyID: "ed25519:0000000000000002", PublicKey: []byte{4}})
			require.NoError(t, err)
			require.Nil(t, open.NotBefore)
			require.Nil(t, open.NotAfter)

			_, err = s.PublisherKeyInsert(t.Context(), a, &store.PublisherKey{Publisher: "acme", KeyID: k.KeyID, PublicKey: []byte{9}})
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = s.PublisherKeyInsert(t.Context(), b, &store.PublisherKey{Publisher: "acme", KeyID: "ed25519:0000000000000003", PublicKey: []byte{9}})
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's publisher")
			_, err = s.PublisherKeyInsert(t.Context(), a, &store.PublisherKey{Publisher: "missing", KeyID: "ed25519:0000000000000003", PublicKey: []byte{9}})
			require.ErrorIs(t, err, store.ErrNotFound)

			got, err := s.PublisherKeyGet(t.Context(), "acme", k.KeyID)
			require.NoError(t, err)
			require.Equal(t, k, got)
			list, err := s.PublisherKeyList(t.Context(), "acme")
			require.NoError(t, err)
			require.Equal(t, []*store.PublisherKey{k, open}, list)
			list, err = s.PublisherKeyList(t.Context(), "missing")
			require.NoError(t, err)
			require.Empty(t, list)

			epoch, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			_, err = s.PublisherKeyRevoke(t.Context(), b, "acme", k.KeyID)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant cannot revoke")
			_, err = s.PublisherKeyRevoke(t.Context(), a, "acme", "ed25519:ffffffffffffffff")
			require.ErrorIs(t, err, store.ErrNotFound)
			revoked, err := s.PublisherKeyRevoke(t.Context(), a, "acme", k.KeyID)
			require.NoError(t, err)
			require.NotNil(t, revoked.RevokedAt)
			recent(t, *revoked.RevokedAt)
			after, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			require.Greater(t, after, epoch, "a revocation bumps the epoch")
			again, err := s.PublisherKeyRevoke(t.Context(), a, "acme", k.KeyID)
			require.NoError(t, err)
			require.Equal(t, revoked.RevokedAt, again.RevokedAt, "the first revocation time stays")
			got, err = s.PublisherKeyGet(t.Context(), "acme", k.KeyID)
			require.NoError(t, err)
			require.Equal(t, revoked, got)
		}},
		{"TrustPolicy", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			p, err := s.TrustPolicyGet(t.Context(), a)
			require.NoError(t, err)
			require.Equal(t, &store.TrustPolicy{TenantID: a, TrustedPublishers: []string{}, MinimumVersions: map[string]string{}}, p)

			epoch, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			put, err := s.TrustPolicyPut(t.Context(), a, &store.TrustPolicy{RequireSignatures: true,
				TrustedPublishers: []string{"acme", "wasmflow"}, MinimumVersions: map[string]string{"acme/x": "1.2.0"}})
			require.NoError(t, err)
			require.Equal(t, a, put.TenantID)
			recent(t, put.UpdatedAt)
			got, err := s.TrustPolicyGet(t.Context(), a)
			require.NoError(t, err)
			require.Equal(t, put, got)
			after, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			require.Greater(t, after, epoch)

			other, err := s.TrustPolicyGet(t.Context(), b)
			require.NoError(t, err)
			require.False(t, other.RequireSignatures, "policies are per tenant")
			cleared, err := s.TrustPolicyPut(t.Context(), a, &store.TrustPolicy{})
			require.NoError(t, err)
			require.Empty(t, cleared.TrustedPublishers)
			got, err = s.TrustPolicyGet(t.Context(), a)
			require.NoError(t, err)
			require.Equal(t, cleared, got)
		}},
		{"ModuleVersionSigningFields", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			in := moduleVersion("acme/x", "1.0.0", wasm)
			in.ManifestSHA256 = "ab12"
			v, err := s.ModuleVersionInsert(t.Context(), tenant, in, wasm)
			require.NoError(t, err)
			require.Equal(t, "ab12", v.ManifestSHA256)
			require.Equal(t, store.SourceUpload, v.Source, "the default source")
			got, err := s.ModuleVersionGet(t.Context(), tenant, "acme/x", "1.0.0")
			require.NoError(t, err)
			require.Equal(t, v, got)
			bad := moduleVersion("acme/x", "2.0.0", wasm)
			bad.Source = "elsewhere"
			_, err = s.ModuleVersionInsert(t.Context(), tenant, bad, wasm)
			require.Error(t, err)
		}},
		{"ModuleInstallWithGrant", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			grant := &store.ModuleGrant{
				Granted:   workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"api.slack.com"}}},
				Requested: workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"*.slack.com"}, Methods: []string{"POST"}}, Secrets: []string{"token"}},
			}
			in := moduleVersion("acme/x", "1.0.0", wasm)
			in.Source = store.SourceMarketplace
			epoch, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			v, err := s.ModuleInstall(t.Context(), a, in, wasm, grant)
			require.NoError(t, err)
			require.Equal(t, store.SourceMarketplace, v.Source)
			after, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			require.Greater(t, after, epoch, "an install bumps the epoch")

			g, err := s.ModuleGrantGet(t.Context(), a, "acme/x")
			require.NoError(t, err)
			require.Equal(t, a, g.TenantID)
			require.Equal(t, "1.0.0", g.Version)
			require.Equal(t, grant.Granted, g.Granted)
			require.Equal(t, grant.Requested, g.Requested)
			recent(t, g.UpdatedAt)
			_, err = s.ModuleGrantGet(t.Context(), b, "acme/x")
			require.ErrorIs(t, err, store.ErrNotFound)
			blob, err := s.ModuleBlobGet(t.Context(), a, v.Digest)
			require.NoError(t, err)
			require.Equal(t, wasm, blob)

			// A second version without a grant keeps the first one.
			other := []byte("\x00asm\x01\x00\x00\x00 v2")
			in2 := moduleVersion("acme/x", "2.0.0", other)
			in2.Source = store.SourceMarketplace
			_, err = s.ModuleInstall(t.Context(), a, in2, other, nil)
			require.NoError(t, err)
			g2, err := s.ModuleGrantGet(t.Context(), a, "acme/x")
			require.NoError(t, err)
			require.Equal(t, g, g2)
			// With a grant, it replaces it.
			_, err = s.ModuleInstall(t.Context(), a, in2, other, &store.ModuleGrant{})
			require.NoError(t, err)
			g3, err := s.ModuleGrantGet(t.Context(), a, "acme/x")
			require.NoError(t, err)
			require.Equal(t, "2.0.0", g3.Version)
			require.Nil(t, g3.Granted.HTTP)

			// Versions stay immutable, and a refused install stores no grant.
			_, err = s.ModuleInstall(t.Context(), b, moduleVersion("acme/y", "1.0.0", wasm), wasm, nil)
			require.NoError(t, err)
			_, err = s.ModuleInstall(t.Context(), b, moduleVersion("acme/y", "1.0.0", other), other, grant)
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = s.ModuleGrantGet(t.Context(), b, "acme/y")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"CatalogPublishAndRead", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			_, err := s.PublisherInsert(t.Context(), a, "acme")
			require.NoError(t, err)
			mv := insertModule(t, s, a, "acme/x", "1.0.0", wasm)
			cv := catalogVersion(mv)
			m, v, err := s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Description: "Posts to Slack", Version: cv})
			require.NoError(t, err)
			require.Equal(t, &store.CatalogModule{Name: "acme/x", Publisher: "acme", TenantID: a, Description: "Posts to Slack",
				LatestVersion: "1.0.0", Versions: 1, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}, m)
			require.Equal(t, a, v.TenantID)
			require.Nil(t, v.YankedAt)
			recent(t, v.CreatedAt)
			require.JSONEq(t, string(cv.Signature), string(v.Signature))

			got, err := s.CatalogGet(t.Context(), "acme/x")
			require.NoError(t, err)
			require.Equal(t, m, got)
			gv, err := s.CatalogVersionGet(t.Context(), "acme/x", "1.0.0")
			require.NoError(t, err)
			require.Equal(t, v, gv)

			// Publishing again is a no-op; other bytes are a conflict.
			_, again, err := s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Version: catalogVersion(mv)})
			require.NoError(t, err)
			require.Equal(t, v, again)
			other := insertModule(t, s, a, "acme/x", "1.0.1", []byte("other bytes"))
			clash := catalogVersion(other)
			clash.Version = "1.0.0"
			_, _, err = s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Version: clash})
			require.ErrorIs(t, err, store.ErrConflict)
			// Another tenant cannot add to the module, nor publish bytes it lacks.
			bv := insertModule(t, s, b, "acme/x", "9.0.0", wasm)
			_, _, err = s.CatalogPublish(t.Context(), b, &store.CatalogPublishParams{Publisher: "acme", Version: catalogVersion(bv)})
			require.ErrorIs(t, err, store.ErrConflict)
			missing := catalogVersion(mv)
			missing.Name, missing.Digest = "acme/y", digestOf([]byte("never stored"))
			_, _, err = s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Version: missing})
			require.ErrorIs(t, err, store.ErrNotFound)

			m2, v2, err := s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Version: catalogVersion(other)})
			require.NoError(t, err)
			require.Equal(t, "1.0.1", m2.LatestVersion)
			require.Equal(t, 2, m2.Versions)
			require.Equal(t, "Posts to Slack", m2.Description, "an empty description keeps the last one")
			vs, err := s.CatalogVersionList(t.Context(), "acme/x")
			require.NoError(t, err)
			require.Equal(t, []*store.CatalogVersion{v, v2}, vs)
			_, err = s.CatalogVersionList(t.Context(), "acme/missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.CatalogVersionGet(t.Context(), "acme/x", "3.0.0")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"CatalogYank", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			_, err := s.PublisherInsert(t.Context(), a, "acme")
			require.NoError(t, err)
			mv := insertModule(t, s, a, "acme/x", "1.0.0", wasm)
			_, v, err := s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Version: catalogVersion(mv)})
			require.NoError(t, err)
			epoch, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			_, err = s.CatalogVersionYank(t.Context(), b, "acme/x", "1.0.0", "not yours")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.CatalogVersionYank(t.Context(), a, "acme/x", "2.0.0", "missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			y, err := s.CatalogVersionYank(t.Context(), a, "acme/x", "1.0.0", "CVE-2026-1")
			require.NoError(t, err)
			require.NotNil(t, y.YankedAt)
			recent(t, *y.YankedAt)
			require.Equal(t, "CVE-2026-1", y.YankReason)
			after, err := s.TrustEpoch(t.Context())
			require.NoError(t, err)
			require.Greater(t, after, epoch)
			again, err := s.CatalogVersionYank(t.Context(), a, "acme/x", "1.0.0", "second reason")
			require.NoError(t, err)
			require.Equal(t, y, again, "the first yank stays")
			v.YankedAt, v.YankReason = y.YankedAt, y.YankReason
			got, err := s.CatalogVersionGet(t.Context(), "acme/x", "1.0.0")
			require.NoError(t, err)
			require.Equal(t, v, got)
		}},
		{"CatalogListSearchesAndPages", func(t *testing.T, s store.Store) {
			a := newTenant(t, s)
			_, err := s.PublisherInsert(t.Context(), a, "acme")
			require.NoError(t, err)
			descriptions := map[string]string{
				"acme/slack-post": "Posts items to a Slack channel", "acme/hash": "Hashes a field",
				"acme/http": "Sends HTTP requests", "acme/filter": "Keeps items matching SLACK-like rules", "acme/z": "",
			}
			for name, d := range descriptions {
				mv := insertModule(t, s, a, name, "1.0.0", []byte(name))
				_, _, err := s.CatalogPublish(t.Context(), a, &store.CatalogPublishParams{Publisher: "acme", Description: d, Version: catalogVersion(mv)})
				require.NoError(t, err)
			}
			all := collect(t, func(p store.Page) ([]*store.CatalogModule, string, error) {
				return s.CatalogList(t.Context(), "", p)
			}, 2, func(m *store.CatalogModule) string { return m.Name })
			require.Equal(t, []string{"acme/filter", "acme/hash", "acme/http", "acme/slack-post", "acme/z"},
				keys(all, func(m *store.CatalogModule) string { return m.Name }))
			found := collect(t, func(p store.Page) ([]*store.CatalogModule, string, error) {
				return s.CatalogList(t.Context(), "slack", p)
			}, 1, func(m *store.CatalogModule) string { return m.Name })
			require.Equal(t, []string{"acme/filter", "acme/slack-post"}, keys(found, func(m *store.CatalogModule) string { return m.Name }))
			none, next, err := s.CatalogList(t.Context(), "%", store.Page{})
			require.NoError(t, err)
			require.Empty(t, none, "the query is text, not a pattern")
			require.Empty(t, next)
			for _, c := range garbageCursors {
				_, _, err := s.CatalogList(t.Context(), "", store.Page{Cursor: c})
				require.ErrorIs(t, err, store.ErrInvalidCursor, c)
			}
		}},
	}
}

// catalogVersion is the catalog copy of a stored module version.
func catalogVersion(mv *store.ModuleVersion) *store.CatalogVersion {
	return &store.CatalogVersion{
		Name: mv.Name, Version: mv.Version, Digest: mv.Digest, ABI: mv.ABI, Size: mv.Size, Manifest: mv.Manifest,
		ManifestSHA256: "00ff", Signature: json.RawMessage(`{"statement": {"key_id": "k"}, "signature": "c2ln"}`),
	}
}
