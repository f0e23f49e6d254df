package registry_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// publisher registers publisher name in the tenant (unless it has it) and a
// fresh key of it, and returns the key.
func (e *env) publisher(t testing.TB, tenant, name string) *signing.PrivateKey {
	t.Helper()
	ctx := context.Background()
	if _, err := e.reg.CreatePublisher(ctx, tenant, name, &registry.CreatePublisherOpts{Platform: true}); err != nil {
		require.ErrorIs(t, err, store.ErrConflict)
	}
	return e.key(t, tenant, name, nil, nil)
}

// key registers a fresh key of publisher with a validity window.
func (e *env) key(t testing.TB, tenant, publisher string, notBefore, notAfter *time.Time) *signing.PrivateKey {
	t.Helper()
	k, err := signing.GenerateKey(publisher)
	require.NoError(t, err)
	_, err = e.reg.RegisterKey(context.Background(), tenant, publisher, &registry.KeyParams{
		PublicKey: signing.EncodePublicKey(k.Public()), Proof: k.Prove(), NotBefore: notBefore, NotAfter: notAfter,
	})
	require.NoError(t, err)
	return k
}

// sign signs a module now.
func sign(t testing.TB, key *signing.PrivateKey, name, version string, wasm, manifest []byte) []byte {
	t.Helper()
	env, err := key.Sign(signing.Subject{Name: name, Version: version, Wasm: wasm, Manifest: manifest}, time.Now())
	require.NoError(t, err)
	return env.Marshal()
}

// countingStore counts the key reads of a full verification.
type countingStore struct {
	*sqlite.Store
	keyReads atomic.Int64
}

func (c *countingStore) PublisherKeyGet(ctx context.Context, publisher, keyID string) (*store.PublisherKey, error) {
	c.keyReads.Add(1)
	return c.Store.PublisherKeyGet(ctx, publisher, keyID)
}

// A verdict is cached until the trust epoch moves: a revocation, a policy
// change or an install made by another registry on the same store (another
// process) is seen by the next Authorize.
func TestAuthorizeCachesVerdictsPerEpoch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	counting := &countingStore{Store: e.store}
	reg, err := registry.New(registry.Config{Store: counting, Runtime: e.rt})
	require.NoError(t, err)
	other := e.reg // the other process

	key := e.publisher(t, e.tenant, "acme")
	wasm, mf := fixture(t, "guest.wasm"), manifest(t, "name", "acme/x")
	v, _, err := other.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, key, "acme/x", "1.0.0", wasm, mf)})
	require.NoError(t, err)

	for range 5 {
		_, err := reg.Authorize(ctx, e.tenant, v)
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), counting.keyReads.Load(), "one full verification, then the cached verdict")

	// A policy change elsewhere: verified again, still fine.
	_, err = other.SetTrustPolicy(ctx, e.tenant, &store.TrustPolicy{TrustedPublishers: []string{"acme"}})
	require.NoError(t, err)
	_, err = reg.Authorize(ctx, e.tenant, v)
	require.NoError(t, err)
	require.Equal(t, int64(2), counting.keyReads.Load())

	// Another tenant's untrusting policy does not refuse this one's run,
	// but refuses its own.
	_, err = other.SetTrustPolicy(ctx, e.tenantB, &store.TrustPolicy{TrustedPublishers: []string{"wasmflow"}})
	require.NoError(t, err)
	_, err = reg.Authorize(ctx, e.tenant, v)
	require.NoError(t, err)

	// The key revoked by the other process: the next run is refused.
	_, err = other.RevokeKey(ctx, e.tenant, "acme", key.KeyID)
	require.NoError(t, err)
	_, err = reg.Authorize(ctx, e.tenant, v)
	re := refusal(t, err, registry.CodeSignatureKeyRevoked)
	require.Equal(t, []string{"signature"}, fields(re))
	reads := counting.keyReads.Load()
	_, err = reg.Authorize(ctx, e.tenant, v)
	refusal(t, err, registry.CodeSignatureKeyRevoked)
	require.Equal(t, reads, counting.keyReads.Load(), "a refusal is cached too")

	// A test run is refused the same way, before anything runs.
	_, err = reg.TestRun(ctx, e.tenant, "acme/x", "1.0.0", nil)
	refusal(t, err, registry.CodeSignatureKeyRevoked)
}

// An unsigned private upload runs with its manifest's capabilities until
// the tenant requires signatures.
func TestAuthorizeUnsignedUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	caps := map[string]any{"http": map[string]any{"hosts": []string{"api.example.com"}}}
	v := e.upload(t, e.tenant, "http_fetch.wasm", manifest(t, "name", "acme/http", "capabilities", caps))
	grant, err := e.reg.Authorize(ctx, e.tenant, v)
	require.NoError(t, err)
	require.Equal(t, []string{"api.example.com"}, grant.HTTP.Hosts)
	signer, err := e.reg.Verify(ctx, e.tenant, v)
	require.NoError(t, err)
	require.Nil(t, signer)
	_, err = e.reg.SetTrustPolicy(ctx, e.tenant, &store.TrustPolicy{RequireSignatures: true})
	require.NoError(t, err)
	_, err = e.reg.Authorize(ctx, e.tenant, v)
	refusal(t, err, registry.CodeSignatureRequired)
}

// Installs copy a signed catalog version with the tenant's grant; the grant
// a run gets is the tenant's, not the manifest's.
func TestInstallGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	publish := func(version string, hosts ...string) {
		t.Helper()
		wasm := fixture(t, "http_fetch.wasm")
		mf := manifest(t, "name", "acme/http", "version", version, "capabilities", map[string]any{"http": map[string]any{"hosts": hosts, "methods": []string{"GET", "POST"}}})
		_, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, key, "acme/http", version, wasm, mf)})
		require.NoError(t, err)
		_, err = e.reg.Publish(ctx, e.tenant, "acme/http", version, "")
		require.NoError(t, err)
	}
	publish("1.0.0", "*.example.com")
	grant := func(methods []string, hosts ...string) *workflow.Capabilities {
		return &workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: hosts, Methods: methods}}
	}
	install := func(version string, g *workflow.Capabilities) (*registry.Installed, error) {
		return e.reg.Install(ctx, e.tenantB, &registry.InstallParams{Name: "acme/http", Version: version, Grant: g})
	}
	for _, tc := range []struct {
		name   string
		grant  *workflow.Capabilities
		code   string
		fields []string
	}{
		{"no grant", nil, registry.CodeGrantRequired, []string{"body.grant.http"}},
		{"no hosts", grant(nil), registry.CodeGrantRequired, []string{"body.grant.http"}},
		{"another domain", grant(nil, "example.org"), registry.CodeGrantExceedsRequest, []string{"body.grant.http.hosts[0]", "body.grant.http.methods"}},
		{"the domain itself", grant([]string{"GET"}, "example.com"), registry.CodeGrantExceedsRequest, []string{"body.grant.http.hosts[0]"}},
		{"every host", grant([]string{"GET"}, "*"), registry.CodeGrantExceedsRequest, []string{"body.grant.http.hosts[0]"}},
		{"every method", grant(nil, "api.example.com"), registry.CodeGrantExceedsRequest, []string{"body.grant.http.methods"}},
		{"another method", grant([]string{"DELETE"}, "api.example.com"), registry.CodeGrantExceedsRequest, []string{"body.grant.http.methods"}},
		{"a secret not asked", &workflow.Capabilities{HTTP: grant([]string{"GET"}, "a.example.com").HTTP, Secrets: []string{"x"}},
			registry.CodeGrantExceedsRequest, []string{"body.grant.secrets[0]"}},
	} {
		_, err := install("1.0.0", tc.grant)
		re := refusal(t, err, tc.code)
		require.Equal(t, tc.fields, fields(re), tc.name)
	}
	_, err := e.reg.Get(ctx, e.tenantB, "acme/http", "1.0.0")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing was installed")

	narrow := grant([]string{"get"}, "api.example.com", "*.eu.example.com")
	inst, err := install("1.0.0", narrow)
	require.NoError(t, err)
	require.True(t, inst.Covered)
	require.Equal(t, store.SourceMarketplace, inst.Version.Source)
	got, err := e.reg.Authorize(ctx, e.tenantB, inst.Version)
	require.NoError(t, err)
	require.Equal(t, *narrow, got, "the run gets the grant, not the manifest")
	mod, err := e.reg.Load(ctx, e.tenantB, "acme/http", "1.0.0")
	require.NoError(t, err)
	require.Len(t, e.reg.HostSession(ctx, registry.RunGrant{TenantID: e.tenantB, Module: mod, Grant: &got}).Funcs(), 1)

	// An upgrade asking the same installs without a grant and runs; one
	// asking for more installs but does not run until granted.
	publish("1.1.0", "*.example.com")
	inst, err = install("1.1.0", nil)
	require.NoError(t, err)
	require.True(t, inst.Covered)
	_, err = e.reg.Authorize(ctx, e.tenantB, inst.Version)
	require.NoError(t, err)
	publish("2.0.0", "*.example.com", "api.other.com")
	inst, err = install("2.0.0", nil)
	require.NoError(t, err)
	require.False(t, inst.Covered)
	_, err = e.reg.Authorize(ctx, e.tenantB, inst.Version)
	re := refusal(t, err, registry.CodeGrantInsufficient)
	require.Contains(t, re.Problems[0].Message, `HTTP to "api.other.com"`)
	inst, err = install("2.0.0", grant([]string{"GET"}, "api.other.com"))
	require.NoError(t, err)
	_, err = e.reg.Authorize(ctx, e.tenantB, inst.Version)
	require.NoError(t, err)
	// The older version still runs under the new grant's request.
	v1, err := e.reg.Get(ctx, e.tenantB, "acme/http", "1.0.0")
	require.NoError(t, err)
	_, err = e.reg.Authorize(ctx, e.tenantB, v1)
	require.NoError(t, err)
}

// A version stored before signatures were verified (no manifest digest)
// counts as unsigned, whatever signature document it kept.
func TestAuthorizeLegacyVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	wasm := fixture(t, "guest.wasm")
	legacy := &store.ModuleVersion{Name: "acme/old", Version: "1.0.0", Digest: digestHex(wasm), ABI: "extism-v1",
		Manifest: manifest(t, "name", "acme/old"), Signature: []byte(`{"key_id": "k1", "sig": "abc"}`)}
	v, err := e.store.ModuleVersionInsert(ctx, e.tenant, legacy, wasm)
	require.NoError(t, err)
	require.Empty(t, v.ManifestSHA256)
	_, err = e.reg.Authorize(ctx, e.tenant, v)
	require.NoError(t, err)
	require.Equal(t, registry.StatusUnsigned, registry.SignatureOf(v.Signature).Status)
	_, err = e.reg.SetTrustPolicy(ctx, e.tenant, &store.TrustPolicy{RequireSignatures: true})
	require.NoError(t, err)
	_, err = e.reg.Authorize(ctx, e.tenant, v)
	refusal(t, err, registry.CodeSignatureRequired)
}

func digestHex(b []byte) string {
	return "sha256:" + signing.SHA256Hex(b)
}
