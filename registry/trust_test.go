package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
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

var _ = errors.Is
