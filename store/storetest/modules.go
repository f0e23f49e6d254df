package storetest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func moduleCases() []testCase {
	wasm := []byte("\x00asm\x01\x00\x00\x00 module bytes")
	return []testCase{
		{"ModuleVersionInsertGet", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			in := moduleVersion("acme/slack-post", "1.2.0", wasm)
			in.Signature = json.RawMessage(`{"key_id": "k1", "sig": "AAEC"}`)
			in.Size = 1 // ignored: the store counts the bytes
			v, err := s.ModuleVersionInsert(t.Context(), tenant, in, wasm)
			require.NoError(t, err)
			require.Equal(t, tenant, v.TenantID)
			require.Equal(t, "acme/slack-post", v.Name)
			require.Equal(t, "1.2.0", v.Version)
			require.Equal(t, digestOf(wasm), v.Digest)
			require.Equal(t, "extism-v1", v.ABI)
			require.Equal(t, int64(len(wasm)), v.Size)
			require.JSONEq(t, string(in.Manifest), string(v.Manifest))
			require.JSONEq(t, string(in.Signature), string(v.Signature))
			recent(t, v.CreatedAt)

			got, err := s.ModuleVersionGet(t.Context(), tenant, "acme/slack-post", "1.2.0")
			require.NoError(t, err)
			require.Equal(t, v, got)
			blob, err := s.ModuleBlobGet(t.Context(), tenant, v.Digest)
			require.NoError(t, err)
			require.Equal(t, wasm, blob)
		}},
		{"ModuleVersionInsertNoManifest", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			in := moduleVersion("acme/bare", "0.1.0", wasm)
			in.Manifest = nil
			v, err := s.ModuleVersionInsert(t.Context(), tenant, in, wasm)
			require.NoError(t, err)
			require.Nil(t, v.Manifest)
			require.Nil(t, v.Signature)
			got, err := s.ModuleVersionGet(t.Context(), tenant, "acme/bare", "0.1.0")
			require.NoError(t, err)
			require.Equal(t, v, got)
		}},
		{"ModuleVersionInsertIsIdempotent", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			first := insertModule(t, s, tenant, "acme/x", "1.0.0", wasm)
			again, err := s.ModuleVersionInsert(t.Context(), tenant, moduleVersion("acme/x", "1.0.0", wasm), wasm)
			require.NoError(t, err)
			require.Equal(t, first, again, "the stored version comes back")
			vs, err := s.ModuleVersionList(t.Context(), tenant, "acme/x")
			require.NoError(t, err)
			require.Len(t, vs, 1)
			ms, _, err := s.ModuleList(t.Context(), tenant, store.Page{})
			require.NoError(t, err)
			require.Len(t, ms, 1)
			require.Equal(t, 1, ms[0].Versions)
		}},
		{"ModuleVersionIsImmutable", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			first := insertModule(t, s, tenant, "acme/x", "1.0.0", wasm)
			other := []byte("\x00asm\x01\x00\x00\x00 other bytes")
			_, err := s.ModuleVersionInsert(t.Context(), tenant, moduleVersion("acme/x", "1.0.0", other), other)
			require.ErrorIs(t, err, store.ErrConflict)

			got, err := s.ModuleVersionGet(t.Context(), tenant, "acme/x", "1.0.0")
			require.NoError(t, err)
			require.Equal(t, first, got)
			_, err = s.ModuleBlobGet(t.Context(), tenant, digestOf(other))
			require.ErrorIs(t, err, store.ErrNotFound, "the refused bytes were not stored")
		}},
		{"ModuleVersionInsertChecks", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			bad := moduleVersion("acme/x", "1.0.0", wasm)
			bad.Digest = "sha256:0000"
			_, err := s.ModuleVersionInsert(t.Context(), tenant, bad, wasm)
			require.Error(t, err, "the digest must be the bytes'")

			bad = moduleVersion("acme/x", "1.0.0", wasm)
			bad.Manifest = json.RawMessage(`{not json`)
			_, err = s.ModuleVersionInsert(t.Context(), tenant, bad, wasm)
			require.Error(t, err)
			bad = moduleVersion("acme/x", "1.0.0", wasm)
			bad.Signature = json.RawMessage(`{not json`)
			_, err = s.ModuleVersionInsert(t.Context(), tenant, bad, wasm)
			require.Error(t, err)
			_, err = s.ModuleVersionList(t.Context(), tenant, "acme/x")
			require.ErrorIs(t, err, store.ErrNotFound, "nothing was stored")

			_, err = s.ModuleVersionInsert(t.Context(), "tn_missing", moduleVersion("acme/x", "1.0.0", wasm), wasm)
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"ModuleBlobStoredOnce", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			a := insertModule(t, s, tenant, "acme/a", "1.0.0", wasm)
			b := insertModule(t, s, tenant, "acme/b", "2.0.0", wasm)
			require.Equal(t, a.Digest, b.Digest)
			blob, err := s.ModuleBlobGet(t.Context(), tenant, a.Digest)
			require.NoError(t, err)
			require.Equal(t, wasm, blob)
			_, err = s.ModuleBlobGet(t.Context(), tenant, digestOf([]byte("missing")))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"ModuleVersionListOldestFirst", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			var want []*store.ModuleVersion
			for _, v := range []string{"2.0.0", "1.0.0", "1.10.0", "1.2.0"} {
				want = append(want, insertModule(t, s, tenant, "acme/x", v, []byte("bytes of "+v)))
			}
			insertModule(t, s, tenant, "acme/y", "9.9.9", wasm)
			got, err := s.ModuleVersionList(t.Context(), tenant, "acme/x")
			require.NoError(t, err)
			require.Equal(t, want, got)
			_, err = s.ModuleVersionList(t.Context(), tenant, "acme/missing")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.ModuleVersionGet(t.Context(), tenant, "acme/x", "3.0.0")
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
		{"ModuleListPages", func(t *testing.T, s store.Store) {
			tenant, other := newTenant(t, s), newTenant(t, s)
			names := []string{"zeta/last", "acme/b", "Acme/upper", "acme/a", "acme/a_b", "acme/a-b", "acme/a2", "m/ü", "b/x"}
			var last *store.ModuleVersion
			for _, n := range names {
				insertModule(t, s, tenant, n, "1.0.0", []byte(n))
				insertModule(t, s, other, n+"-other", "1.0.0", []byte(n))
			}
			insertModule(t, s, tenant, "acme/b", "3.0.0", []byte("b3"))
			last = insertModule(t, s, tenant, "acme/b", "2.0.0", []byte("b2"))

			got := collect(t, func(p store.Page) ([]*store.ModuleSummary, string, error) {
				return s.ModuleList(t.Context(), tenant, p)
			}, 2, func(m *store.ModuleSummary) string { return m.Name })
			require.Equal(t, sortedAsc(names), keys(got, func(m *store.ModuleSummary) string { return m.Name }))
			for _, m := range got {
				if m.Name != "acme/b" {
					require.Equal(t, "1.0.0", m.LatestVersion)
					require.Equal(t, 1, m.Versions)
					continue
				}
				require.Equal(t, "2.0.0", m.LatestVersion, "the version uploaded last")
				require.Equal(t, 3, m.Versions)
				require.Equal(t, last.CreatedAt, m.UpdatedAt)
			}
		}},
		{"ModuleVersionInsertConcurrent", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			const n = 10
			got := make([]*store.ModuleVersion, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					got[i], errs[i] = s.ModuleVersionInsert(t.Context(), tenant, moduleVersion("acme/race", "1.0.0", wasm), wasm)
				})
			}
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i])
				require.Equal(t, got[0], got[i], "every upload returns the one stored version")
			}
			ms, _, err := s.ModuleList(t.Context(), tenant, store.Page{})
			require.NoError(t, err)
			require.Len(t, ms, 1)
			require.Equal(t, 1, ms[0].Versions)
		}},
		{"ModuleTenantIsolation", func(t *testing.T, s store.Store) {
			a, b := newTenant(t, s), newTenant(t, s)
			v := insertModule(t, s, a, "acme/x", "1.0.0", wasm)

			_, err := s.ModuleVersionGet(t.Context(), b, "acme/x", "1.0.0")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.ModuleVersionList(t.Context(), b, "acme/x")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.ModuleBlobGet(t.Context(), b, v.Digest)
			require.ErrorIs(t, err, store.ErrNotFound)
			list, _, err := s.ModuleList(t.Context(), b, store.Page{})
			require.NoError(t, err)
			require.Empty(t, list)

			// Names are per tenant: B may own acme/x 1.0.0 with other bytes.
			other := []byte("b's bytes")
			bv := insertModule(t, s, b, "acme/x", "1.0.0", other)
			require.Equal(t, b, bv.TenantID)
			got, err := s.ModuleVersionGet(t.Context(), a, "acme/x", "1.0.0")
			require.NoError(t, err)
			require.Equal(t, v, got)
			_, err = s.ModuleBlobGet(t.Context(), a, bv.Digest)
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
	}
}
