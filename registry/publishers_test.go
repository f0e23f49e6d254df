package registry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
)

// Publisher names are checked, global, and the platform's is reserved; a
// tenant lists only its own.
func TestCreatePublisher(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	for _, name := range []string{"", "Acme", "-acme", "acme/x", "acme_x", string(make([]byte, 64))} {
		_, err := e.reg.CreatePublisher(ctx, e.tenant, name, nil)
		re := refusal(t, err, registry.CodePublisherInvalid)
		require.Equal(t, []string{"body.name"}, fields(re), "%q", name)
	}

	_, err := e.reg.CreatePublisher(ctx, e.tenant, registry.PlatformPublisher, nil)
	re := refusal(t, err, registry.CodePublisherTaken)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, re.Problems[0].Message, "reserved for the platform")
	_, err = e.reg.CreatePublisher(ctx, e.tenant, registry.PlatformPublisher, &registry.CreatePublisherOpts{})
	refusal(t, err, registry.CodePublisherTaken)

	p, err := e.reg.CreatePublisher(ctx, e.tenant, "zeta", nil)
	require.NoError(t, err)
	require.Equal(t, "zeta", p.Name)
	require.Equal(t, e.tenant, p.TenantID)
	_, err = e.reg.CreatePublisher(ctx, e.tenant, "acme", nil)
	require.NoError(t, err)

	// Taken: by this tenant, or by another.
	for _, tenant := range []string{e.tenant, e.tenantB} {
		_, err = e.reg.CreatePublisher(ctx, tenant, "acme", nil)
		re = refusal(t, err, registry.CodePublisherTaken)
		require.ErrorIs(t, err, store.ErrConflict)
		require.Equal(t, []string{"body.name"}, fields(re))
		require.Contains(t, re.Problems[0].Message, "another tenant or this one")
	}

	// The platform's name with the bootstrap's option.
	_, err = e.reg.CreatePublisher(ctx, e.tenantB, registry.PlatformPublisher, &registry.CreatePublisherOpts{Platform: true})
	require.NoError(t, err)

	ps, err := e.reg.Publishers(ctx, e.tenant)
	require.NoError(t, err)
	require.Equal(t, []string{"acme", "zeta"}, publisherNames(ps))
	ps, err = e.reg.Publishers(ctx, e.tenantB)
	require.NoError(t, err)
	require.Equal(t, []string{registry.PlatformPublisher}, publisherNames(ps))
	ps, err = e.reg.Publishers(ctx, "nobody")
	require.NoError(t, err)
	require.Empty(t, ps)
}

func publisherNames(ps []*store.Publisher) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// A key is registered only by the publisher's tenant, with a proof that
// it holds the private half, once; it is public to any reader.
func TestRegisterKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	_, err := e.reg.CreatePublisher(ctx, e.tenant, "acme", nil)
	require.NoError(t, err)
	k, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	other, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	foreign, err := signing.GenerateKey("globex")
	require.NoError(t, err)
	pub := signing.EncodePublicKey(k.Public())

	// Not the tenant's publisher, or no such publisher.
	_, err = e.reg.RegisterKey(ctx, e.tenantB, "acme", &registry.KeyParams{PublicKey: pub, Proof: k.Prove()})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.reg.RegisterKey(ctx, e.tenant, "initech", &registry.KeyParams{PublicKey: pub, Proof: k.Prove()})
	require.ErrorIs(t, err, store.ErrNotFound)

	for _, bad := range []string{"", "not base64!", "c2hvcnQ="} {
		_, err = e.reg.RegisterKey(ctx, e.tenant, "acme", &registry.KeyParams{PublicKey: bad, Proof: k.Prove()})
		re := refusal(t, err, registry.CodeKeyInvalid)
		require.Equal(t, []string{"body.public_key"}, fields(re))
		require.NotContains(t, re.Problems[0].Message, "signing: invalid", "the package prefix is cut")
	}
	for name, proof := range map[string]string{
		"empty":                   "",
		"not base64":              "???",
		"another key's":           other.Prove(),
		"for another publisher":   foreign.Prove(),
		"the public key, not one": pub,
	} {
		_, err = e.reg.RegisterKey(ctx, e.tenant, "acme", &registry.KeyParams{PublicKey: pub, Proof: proof})
		re := refusal(t, err, registry.CodeProofInvalid)
		require.Equal(t, []string{"body.proof"}, fields(re), name)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, notAfter := range []time.Time{now, now.Add(-time.Hour)} {
		_, err = e.reg.RegisterKey(ctx, e.tenant, "acme", &registry.KeyParams{PublicKey: pub, Proof: k.Prove(), NotBefore: &now, NotAfter: &notAfter})
		re := refusal(t, err, registry.CodeKeyInvalid)
		require.Equal(t, []string{"body.not_after"}, fields(re))
	}
	ks, err := e.reg.Keys(ctx, "acme")
	require.NoError(t, err)
	require.Empty(t, ks, "no refused key was stored")

	later := now.Add(time.Hour)
	got, err := e.reg.RegisterKey(ctx, e.tenant, "acme", &registry.KeyParams{PublicKey: pub, Proof: k.Prove(), NotBefore: &now, NotAfter: &later})
	require.NoError(t, err)
	require.Equal(t, k.KeyID, got.KeyID)
	require.Equal(t, "acme", got.Publisher)
	require.Equal(t, []byte(k.Public()), got.PublicKey)
	require.True(t, got.NotBefore.Equal(now))
	require.True(t, got.NotAfter.Equal(later))
	require.Nil(t, got.RevokedAt)

	_, err = e.reg.RegisterKey(ctx, e.tenant, "acme", &registry.KeyParams{PublicKey: pub, Proof: k.Prove()})
	re := refusal(t, err, registry.CodeKeyExists)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Equal(t, []string{"body.public_key"}, fields(re))
	require.Contains(t, re.Problems[0].Message, k.KeyID)

	// Any reader sees the keys; an unknown publisher has none to show.
	ks, err = e.reg.Keys(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, ks, 1)
	require.Equal(t, k.KeyID, ks[0].KeyID)
	_, err = e.reg.Keys(ctx, "initech")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// Revoking is the owner's alone, keeps the first time, and the key stays
// listed as revoked.
func TestRevokeKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	k := e.publisher(t, e.tenant, "acme")
	kept := e.key(t, e.tenant, "acme", nil, nil)

	_, err := e.reg.RevokeKey(ctx, e.tenantB, "acme", k.KeyID)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's publisher")
	_, err = e.reg.RevokeKey(ctx, e.tenant, "initech", k.KeyID)
	require.ErrorIs(t, err, store.ErrNotFound, "no such publisher")
	_, err = e.reg.RevokeKey(ctx, e.tenant, "acme", "ed25519:0000000000000000")
	require.ErrorIs(t, err, store.ErrNotFound, "no such key")

	first, err := e.reg.RevokeKey(ctx, e.tenant, "acme", k.KeyID)
	require.NoError(t, err)
	require.NotNil(t, first.RevokedAt)
	require.Equal(t, k.KeyID, first.KeyID)
	time.Sleep(2 * time.Millisecond)
	again, err := e.reg.RevokeKey(ctx, e.tenant, "acme", k.KeyID)
	require.NoError(t, err)
	require.True(t, first.RevokedAt.Equal(*again.RevokedAt), "revoking again keeps the first time: %v, %v", first.RevokedAt, again.RevokedAt)

	ks, err := e.reg.Keys(ctx, "acme")
	require.NoError(t, err)
	revoked := map[string]bool{}
	for _, key := range ks {
		revoked[key.KeyID] = key.RevokedAt != nil
	}
	require.Equal(t, map[string]bool{k.KeyID: true, kept.KeyID: false}, revoked)
}

// A trust policy is checked field by field, stored with its publishers
// sorted and deduplicated, and read back; a tenant without one has the
// default.
func TestSetTrustPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	def, err := e.reg.TrustPolicy(ctx, e.tenant)
	require.NoError(t, err)
	require.False(t, def.RequireSignatures)
	require.Empty(t, def.TrustedPublishers)
	require.Empty(t, def.MinimumVersions)

	_, err = e.reg.SetTrustPolicy(ctx, e.tenant, &store.TrustPolicy{
		TrustedPublishers: []string{"acme", "Bad", "also bad"},
		MinimumVersions:   map[string]string{"acme/x": "one", "noslash": "1.0.0", "acme/y": "1.2", "acme/z": "2.0.0"},
	})
	re := refusal(t, err, registry.CodeTrustPolicyInvalid)
	require.Equal(t, []string{
		"body.trusted_publishers[1]", "body.trusted_publishers[2]",
		"body.minimum_versions.acme/x", "body.minimum_versions.acme/y", "body.minimum_versions.noslash",
	}, fields(re))
	require.Contains(t, re.Problems[0].Message, `"Bad"`)
	require.Contains(t, re.Problems[2].Message, "not a version")
	require.Contains(t, re.Problems[4].Message, "not a module name")
	got, err := e.reg.TrustPolicy(ctx, e.tenant)
	require.NoError(t, err)
	require.Empty(t, got.TrustedPublishers, "a refused policy is not stored")

	in := &store.TrustPolicy{
		RequireSignatures: true,
		TrustedPublishers: []string{"zeta", "acme", "zeta"},
		MinimumVersions:   map[string]string{"acme/x": "1.2.0"},
	}
	out, err := e.reg.SetTrustPolicy(ctx, e.tenant, in)
	require.NoError(t, err)
	require.Equal(t, []string{"acme", "zeta"}, out.TrustedPublishers)
	require.Equal(t, []string{"zeta", "acme", "zeta"}, in.TrustedPublishers, "the caller's policy is left alone")
	got, err = e.reg.TrustPolicy(ctx, e.tenant)
	require.NoError(t, err)
	require.True(t, got.RequireSignatures)
	require.Equal(t, []string{"acme", "zeta"}, got.TrustedPublishers)
	require.Equal(t, map[string]string{"acme/x": "1.2.0"}, got.MinimumVersions)
	other, err := e.reg.TrustPolicy(ctx, e.tenantB)
	require.NoError(t, err)
	require.False(t, other.RequireSignatures, "another tenant keeps the default")
}
