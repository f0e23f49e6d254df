package registry_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
)

// envelopeDoc marshals an envelope after edit changes it.
func envelopeDoc(t *testing.T, doc []byte, edit func(*signing.Envelope)) []byte {
	t.Helper()
	var env signing.Envelope
	require.NoError(t, json.Unmarshal(doc, &env))
	edit(&env)
	return env.Marshal()
}

// Every way an upload's signature can fail to vouch for the module is
// refused at "signature" with its own code, and nothing is stored.
func TestUploadSignatureRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	wasm, mf := fixture(t, "guest.wasm"), manifest(t, "name", "acme/x")
	good := sign(t, key, "acme/x", "1.0.0", wasm, mf)

	unregistered, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	stranger, err := signing.GenerateKey("initech")
	require.NoError(t, err)
	revoked := e.key(t, e.tenant, "acme", nil, nil)
	_, err = e.reg.RevokeKey(ctx, e.tenant, "acme", revoked.KeyID)
	require.NoError(t, err)
	now := time.Now().UTC()
	soon, later := now.Add(time.Hour), now.Add(2*time.Hour)
	notYet := e.key(t, e.tenant, "acme", &soon, &later)
	past, pastEnd := now.Add(-2*time.Hour), now.Add(-time.Hour)
	expired := e.key(t, e.tenant, "acme", nil, &pastEnd)
	windowed := e.key(t, e.tenant, "acme", &past, &pastEnd)

	// A signature made a second later by the same key: well-formed, but
	// not over this statement.
	other, err := key.Sign(signing.Subject{Name: "acme/x", Version: "1.0.0", Wasm: wasm, Manifest: mf}, time.Now().Add(time.Second))
	require.NoError(t, err)

	for _, tc := range []struct {
		name, code, says string
		sig              []byte
	}{
		{"another publisher's namespace", registry.CodeSignatureNamespace, `publisher "globex" signed it`,
			envelopeDoc(t, good, func(env *signing.Envelope) { env.Statement.Publisher = "globex" })},
		{"malformed", registry.CodeSignatureInvalid, "statement.publisher", []byte(`{"statement": {}, "signature": ""}`)},
		{"unknown field", registry.CodeSignatureInvalid, "not valid", []byte(`{"statement": {}, "signature": "", "x": 1}`)},
		{"another module", registry.CodeSignatureMismatch, "for acme/y, not acme/x", sign(t, key, "acme/y", "1.0.0", wasm, manifest(t, "name", "acme/y"))},
		{"another version", registry.CodeSignatureMismatch, "version 1.0.1", sign(t, key, "acme/x", "1.0.1", wasm, mf)},
		{"other bytes", registry.CodeSignatureMismatch, "wasm bytes differ", sign(t, key, "acme/x", "1.0.0", fixture(t, "no_entry.wasm"), mf)},
		{"another manifest", registry.CodeSignatureMismatch, "manifest differs", sign(t, key, "acme/x", "1.0.0", wasm, manifest(t, "name", "acme/x", "description", "other"))},
		{"unregistered key", registry.CodeSignatureKeyUnknown, unregistered.KeyID, sign(t, unregistered, "acme/x", "1.0.0", wasm, mf)},
		{"signature over another statement", registry.CodeSignatureInvalid, "does not verify",
			envelopeDoc(t, good, func(env *signing.Envelope) { env.Signature = other.Signature })},
		{"revoked key", registry.CodeSignatureKeyRevoked, "was revoked at", sign(t, revoked, "acme/x", "1.0.0", wasm, mf)},
		{"before the window", registry.CodeSignatureKeyExpired, "valid from " + soon.Format(time.RFC3339) + " until " + later.Format(time.RFC3339),
			sign(t, notYet, "acme/x", "1.0.0", wasm, mf)},
		{"after the window", registry.CodeSignatureKeyExpired, "valid from the start until " + pastEnd.Format(time.RFC3339),
			sign(t, expired, "acme/x", "1.0.0", wasm, mf)},
		{"after a closed window", registry.CodeSignatureKeyExpired, "valid from " + past.Format(time.RFC3339),
			sign(t, windowed, "acme/x", "1.0.0", wasm, mf)},
	} {
		_, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: tc.sig})
		re := refusal(t, err, tc.code)
		require.Equal(t, []string{"signature"}, fields(re), tc.name)
		require.Contains(t, re.Problems[0].Message, tc.says, tc.name)
		require.NotContains(t, re.Problems[0].Message, "signing: invalid", tc.name)
	}
	// A publisher nobody registered signs in its own namespace.
	strangerMf := manifest(t, "name", "initech/x")
	_, _, err = e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: strangerMf,
		Signature: sign(t, stranger, "initech/x", "1.0.0", wasm, strangerMf)})
	re := refusal(t, err, registry.CodeSignatureKeyUnknown)
	require.Equal(t, []string{"signature"}, fields(re))
	require.Contains(t, re.Problems[0].Message, `publisher "initech" is not registered`)

	for _, name := range []string{"acme/x", "initech/x"} {
		_, err = e.reg.Get(ctx, e.tenant, name, "1.0.0")
		require.ErrorIs(t, err, store.ErrNotFound, "no refused upload was stored")
	}

	// A key whose window has no end accepts a signature made within it.
	open := e.key(t, e.tenant, "acme", &past, nil)
	v, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, open, "acme/x", "1.0.0", wasm, mf)})
	require.NoError(t, err)
	signer, err := e.reg.Verify(ctx, e.tenant, v)
	require.NoError(t, err)
	require.Equal(t, "acme", signer.Publisher)
	require.Equal(t, open.KeyID, signer.KeyID)

	// Revoked later: Verify refuses what it accepted.
	_, err = e.reg.RevokeKey(ctx, e.tenant, "acme", open.KeyID)
	require.NoError(t, err)
	signer, err = e.reg.Verify(ctx, e.tenant, v)
	refusal(t, err, registry.CodeSignatureKeyRevoked)
	require.Nil(t, signer)
}

// The tenant's trust policy refuses signed uploads by a publisher it does
// not trust and versions below its minimum.
func TestUploadTrustPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	wasm := fixture(t, "guest.wasm")
	upload := func(version string) (*store.ModuleVersion, error) {
		mf := manifest(t, "name", "acme/x", "version", version)
		v, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, key, "acme/x", version, wasm, mf)})
		return v, err
	}

	_, err := e.reg.SetTrustPolicy(ctx, e.tenant, &store.TrustPolicy{TrustedPublishers: []string{"globex", "initech"}})
	require.NoError(t, err)
	_, err = upload("1.0.0")
	re := refusal(t, err, registry.CodePublisherUntrusted)
	require.Equal(t, []string{"signature"}, fields(re))
	require.Contains(t, re.Problems[0].Message, `publisher "acme" is not among the tenant's trusted publishers (globex, initech)`)
	// Unsigned uploads are not the trusted list's business.
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/unsigned"))

	_, err = e.reg.SetTrustPolicy(ctx, e.tenant, &store.TrustPolicy{
		TrustedPublishers: []string{"acme"},
		MinimumVersions:   map[string]string{"acme/x": "1.2.0", "acme/other": "9.0.0"},
	})
	require.NoError(t, err)
	for _, version := range []string{"1.0.0", "1.1.9", "1.2.0-rc.1"} {
		_, err = upload(version)
		re = refusal(t, err, registry.CodeVersionBelowMinimum)
		require.Equal(t, []string{"manifest.version"}, fields(re), version)
		require.Contains(t, re.Problems[0].Message, "below the tenant's minimum version 1.2.0", version)
	}
	for _, version := range []string{"1.2.0", "2.0.0"} {
		v, err := upload(version)
		require.NoError(t, err, version)
		require.Equal(t, version, v.Version)
	}
}

// The verdict cache is bounded: past its size an entry goes, and the next
// run of that version is verified again.
func TestAuthorizeVerdictCacheBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	counting := &countingStore{Store: e.store}
	reg, err := registry.New(registry.Config{Store: counting, Runtime: e.rt, MaxVerdicts: 1})
	require.NoError(t, err)
	key := e.publisher(t, e.tenant, "acme")
	wasm := fixture(t, "guest.wasm")
	var vs []*store.ModuleVersion
	for _, version := range []string{"1.0.0", "2.0.0"} {
		mf := manifest(t, "name", "acme/x", "version", version)
		v, _, err := e.reg.Upload(ctx, e.tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, key, "acme/x", version, wasm, mf)})
		require.NoError(t, err)
		vs = append(vs, v)
	}
	authorize := func(v *store.ModuleVersion) {
		t.Helper()
		_, err := reg.Authorize(ctx, e.tenant, v)
		require.NoError(t, err)
	}
	authorize(vs[0])
	authorize(vs[0])
	require.Equal(t, int64(1), counting.keyReads.Load(), "cached")
	authorize(vs[1]) // evicts the first
	authorize(vs[1])
	require.Equal(t, int64(2), counting.keyReads.Load())
	authorize(vs[0])
	require.Equal(t, int64(3), counting.keyReads.Load(), "evicted, so verified again")
}
