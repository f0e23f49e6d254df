package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/store"
)

// seedSecrets stores n secrets in each of two tenants, sealed with kr, and
// returns their plaintexts by tenant id and name.
func seedSecrets(t *testing.T, cfg storeConfig, kr *vault.Keyring, n int) map[[2]string]string {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	values := map[[2]string]string{}
	for _, tenant := range []string{"acme", "globex"} {
		tn, err := st.TenantInsert(ctx, tenant)
		require.NoError(t, err)
		for i := range n {
			name := tenant + "-" + string(rune('a'+i))
			value := "value of " + name
			ct, wk, id, err := kr.Seal(tn.ID, name, []byte(value))
			require.NoError(t, err)
			_, err = st.SecretInsert(ctx, tn.ID, &store.Secret{Name: name, Ciphertext: ct, WrappedKey: wk, KeyID: id})
			require.NoError(t, err)
			values[[2]string{tn.ID, name}] = value
		}
	}
	return values
}

// checkSecrets asserts every secret is under keyID and opens to its value.
func checkSecrets(t *testing.T, cfg storeConfig, kr *vault.Keyring, keyID string, values map[[2]string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	for k, want := range values {
		sec, err := st.SecretGet(ctx, k[0], k[1])
		require.NoError(t, err)
		require.Equal(t, keyID, sec.KeyID, k[1])
		got, err := kr.Open(k[0], k[1], sec.Ciphertext, sec.WrappedKey, sec.KeyID)
		require.NoError(t, err, k[1])
		require.Equal(t, want, string(got))
	}
}

func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestRotateKeyWithKeyFile(t *testing.T) {
	t.Setenv(vault.EnvMasterKey, "") // the key file, whatever the environment says
	dir := t.TempDir()
	cfg := storeConfig{DataDir: dir}
	kr, _, err := vault.LoadOrCreateFile(filepath.Join(dir, vault.KeyFileName))
	require.NoError(t, err)
	oldID := kr.CurrentKeyID()
	values := seedSecrets(t, cfg, kr, 3)

	out, err := runRoot(t, "secrets", "rotate-key", "--data-dir", dir)
	require.NoError(t, err, out)
	rotated, err := vault.LoadFile(filepath.Join(dir, vault.KeyFileName))
	require.NoError(t, err)
	newID := rotated.CurrentKeyID()
	require.NotEqual(t, oldID, newID)
	require.ElementsMatch(t, []string{oldID, newID}, rotated.KeyIDs())
	require.Contains(t, out, "current master key: "+newID)
	require.Contains(t, out, "done: 6 secrets re-wrapped with key "+newID+", 0 already were, in 2 tenants")
	checkSecrets(t, cfg, rotated, newID, values)

	// Again: another new key, every secret moves once more.
	out, err = runRoot(t, "secrets", "rotate-key", "--data-dir", dir)
	require.NoError(t, err, out)
	rotated, err = vault.LoadFile(filepath.Join(dir, vault.KeyFileName))
	require.NoError(t, err)
	require.Len(t, rotated.KeyIDs(), 3)
	require.Contains(t, out, "done: 6 secrets re-wrapped")
	checkSecrets(t, cfg, rotated, rotated.CurrentKeyID(), values)
}

func TestRotateKeyWithEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfg := storeConfig{DataDir: dir}
	oldKey, newKey := vault.GenerateKey(), vault.GenerateKey()
	old, err := vault.NewKeyring(oldKey)
	require.NoError(t, err)
	values := seedSecrets(t, cfg, old, 2)

	// The new key without the old one is refused before anything changes.
	t.Setenv(vault.EnvMasterKey, vault.EncodeKey(newKey))
	t.Setenv(vault.EnvMasterKeyPrevious, "")
	_, err = runRoot(t, "secrets", "rotate-key", "--data-dir", dir)
	require.ErrorContains(t, err, vault.EnvMasterKeyPrevious)
	checkSecrets(t, cfg, old, vault.KeyID(oldKey), values)

	t.Setenv(vault.EnvMasterKeyPrevious, vault.EncodeKey(oldKey))
	out, err := runRoot(t, "secrets", "rotate-key", "--data-dir", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "done: 4 secrets re-wrapped with key "+vault.KeyID(newKey))
	onlyNew, err := vault.NewKeyring(newKey)
	require.NoError(t, err)
	checkSecrets(t, cfg, onlyNew, vault.KeyID(newKey), values)

	// Run again: nothing left to do.
	out, err = runRoot(t, "secrets", "rotate-key", "--data-dir", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "done: 0 secrets re-wrapped with key "+vault.KeyID(newKey)+", 4 already were, in 2 tenants")
}

func TestRotateKeyNamedTenants(t *testing.T) {
	t.Setenv(vault.EnvMasterKey, "")
	dir := t.TempDir()
	cfg := storeConfig{DataDir: dir}
	kr, _, err := vault.LoadOrCreateFile(filepath.Join(dir, vault.KeyFileName))
	require.NoError(t, err)
	seedSecrets(t, cfg, kr, 2)

	// An unknown tenant is refused before the key changes.
	_, err = runRoot(t, "secrets", "rotate-key", "--data-dir", dir, "--tenant", "nope")
	require.ErrorContains(t, err, `"nope"`)
	same, err := vault.LoadFile(filepath.Join(dir, vault.KeyFileName))
	require.NoError(t, err)
	require.Equal(t, kr.CurrentKeyID(), same.CurrentKeyID())

	out, err := runRoot(t, "secrets", "rotate-key", "--data-dir", dir, "--tenant", "acme")
	require.NoError(t, err, out)
	require.Contains(t, out, "done: 2 secrets re-wrapped")
	require.Contains(t, out, "in 1 tenants")
}
