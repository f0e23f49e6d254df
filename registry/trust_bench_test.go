package registry_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// BenchmarkAuthorize is what verifying a module version costs each run: a
// cached verdict (one read of the trust epoch) against a full verification
// (the signature with Ed25519, the publisher and its key, the trust policy,
// the marketplace's yank, the grant), on the SQLite store, for a version
// installed from the marketplace.
func BenchmarkAuthorize(b *testing.B) {
	e := newEnv(b)
	ctx := b.Context()
	key := e.publisher(b, e.tenant, "acme")
	wasm := fixture(b, "http_fetch.wasm")
	mf := manifest(b, "name", "acme/http", "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"*.example.com"}}})
	_, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(b, key, "acme/http", "1.0.0", wasm, mf)})
	require.NoError(b, err)
	_, err = e.reg.Publish(ctx, e.tenant, "acme/http", "1.0.0", "")
	require.NoError(b, err)
	grant := registry.InstallParams{Name: "acme/http"}
	caps := mustCaps(b, `{"http": {"hosts": ["api.example.com"]}}`)
	grant.Grant = &caps
	installed, err := e.reg.Install(ctx, e.tenantB, &grant)
	require.NoError(b, err)
	v := installed.Version

	b.Run("cached", func(b *testing.B) {
		_, err := e.reg.Authorize(ctx, e.tenantB, v)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.reg.Authorize(ctx, e.tenantB, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.reg.Verify(ctx, e.tenantB, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("epoch_read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.store.TrustEpoch(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	require.Equal(b, store.SourceMarketplace, v.Source)
}

func mustCaps(tb testing.TB, doc string) workflow.Capabilities {
	tb.Helper()
	var c workflow.Capabilities
	require.NoError(tb, json.Unmarshal([]byte(doc), &c))
	return c
}
