package vault

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

// mapSecrets is a SecretStore over a map keyed by tenant and name.
type mapSecrets map[[2]string]*store.Secret

func (m mapSecrets) SecretGet(_ context.Context, tenantID, name string) (*store.Secret, error) {
	s, ok := m[[2]string{tenantID, name}]
	if !ok {
		return nil, store.ErrNotFound
	}
	return s, nil
}

func TestReader(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	ct, wk, id, err := k.Seal("t1", "slack-prod", []byte("xoxb-1"))
	require.NoError(t, err)
	secrets := mapSecrets{
		{"t1", "slack-prod"}: {TenantID: "t1", Name: "slack-prod", Ciphertext: ct, WrappedKey: wk, KeyID: id},
		// Another tenant's row holding t1's ciphertext does not open: the
		// tenant and name are bound into the encryption.
		{"t2", "slack-prod"}: {TenantID: "t2", Name: "slack-prod", Ciphertext: ct, WrappedKey: wk, KeyID: id},
	}
	r := &Reader{Store: secrets, Keys: k}
	v, err := r.ReadSecret(context.Background(), "t1", "slack-prod")
	require.NoError(t, err)
	require.Equal(t, "xoxb-1", v)

	_, err = r.ReadSecret(context.Background(), "t1", "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = r.ReadSecret(context.Background(), "t2", "slack-prod")
	require.ErrorIs(t, err, ErrDecrypt)

	_, err = (&Reader{Store: secrets}).ReadSecret(context.Background(), "t1", "slack-prod")
	require.ErrorContains(t, err, EnvMasterKey)
}

// A reader without keys loads them when a read first needs them, and keeps
// trying until there are some.
func TestReaderLoadsKeysOnDemand(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	ct, wk, id, err := k.Seal("t1", "s", []byte("v"))
	require.NoError(t, err)
	secrets := mapSecrets{{"t1", "s"}: {TenantID: "t1", Name: "s", Ciphertext: ct, WrappedKey: wk, KeyID: id}}
	var loads int
	var found *Keyring
	r := &Reader{Store: secrets, LoadKeys: func() (*Keyring, error) {
		loads++
		return found, nil
	}}
	_, err = r.ReadSecret(context.Background(), "t1", "s")
	require.ErrorContains(t, err, EnvMasterKey)
	found = k
	for range 2 {
		v, err := r.ReadSecret(context.Background(), "t1", "s")
		require.NoError(t, err)
		require.Equal(t, "v", v)
	}
	require.Equal(t, 2, loads, "loaded until found, then kept")

	failing := &Reader{Store: secrets, LoadKeys: func() (*Keyring, error) { return nil, errors.New("mode 0644") }}
	_, err = failing.ReadSecret(context.Background(), "t1", "s")
	require.ErrorContains(t, err, "mode 0644")
}
