package vault

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func newKeyring(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring(GenerateKey())
	require.NoError(t, err)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	plaintext := []byte("xoxb-very-secret-token")
	ct, wk, id, err := k.Seal("t1", "slack-prod", plaintext)
	require.NoError(t, err)
	require.Equal(t, k.CurrentKeyID(), id)
	require.Len(t, id, 8)
	require.False(t, bytes.Contains(ct, plaintext))
	got, err := k.Open("t1", "slack-prod", ct, wk, id)
	require.NoError(t, err)
	require.Equal(t, plaintext, got)

	// Every seal uses a fresh data key and nonces.
	ct2, wk2, _, err := k.Seal("t1", "slack-prod", plaintext)
	require.NoError(t, err)
	require.NotEqual(t, ct, ct2)
	require.NotEqual(t, wk, wk2)

	// An empty value round-trips too.
	ct, wk, id, err = k.Seal("t1", "empty", nil)
	require.NoError(t, err)
	got, err = k.Open("t1", "empty", ct, wk, id)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestOpenRefusesWhatDoesNotMatch(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	ct, wk, id, err := k.Seal("t1", "db", []byte("hunter2"))
	require.NoError(t, err)

	_, err = k.Open("t2", "db", ct, wk, id)
	require.ErrorIs(t, err, ErrDecrypt, "another tenant")
	_, err = k.Open("t1", "db2", ct, wk, id)
	require.ErrorIs(t, err, ErrDecrypt, "another name")
	// Lengths are part of the additional data: no shifting between parts.
	_, err = k.Open("t1d", "b", ct, wk, id)
	require.ErrorIs(t, err, ErrDecrypt)

	// A wrapped key moved to another key id does not open either, even when
	// the keyring has that id.
	other := GenerateKey()
	k2, err := NewKeyring(other, mustKey(t, k, id))
	require.NoError(t, err)
	_, err = k2.Open("t1", "db", ct, wk, KeyID(other))
	require.ErrorIs(t, err, ErrDecrypt, "wrong key id")

	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 1
		_, err = k.Open("t1", "db", bad, wk, id)
		require.ErrorIs(t, err, ErrDecrypt, "ciphertext byte %d", i)
	}
	bad := bytes.Clone(wk)
	bad[len(bad)-1] ^= 0x80
	_, err = k.Open("t1", "db", ct, bad, id)
	require.ErrorIs(t, err, ErrDecrypt, "tampered wrapped key")
	_, err = k.Open("t1", "db", ct[:10], wk, id)
	require.ErrorIs(t, err, ErrDecrypt, "truncated")

	// A ciphertext sealed for another secret does not open with this one's key.
	ct2, _, _, err := k.Seal("t1", "db", []byte("other"))
	require.NoError(t, err)
	_, err = k.Open("t1", "db", ct2, wk, id)
	require.ErrorIs(t, err, ErrDecrypt)
}

func mustKey(t *testing.T, k *Keyring, id string) []byte {
	t.Helper()
	_, key, err := k.key(id)
	require.NoError(t, err)
	return key
}

func TestMissingKeyID(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	ct, wk, _, err := k.Seal("t1", "db", []byte("v"))
	require.NoError(t, err)
	_, err = k.Open("t1", "db", ct, wk, "deadbeef")
	require.ErrorIs(t, err, ErrUnknownKey)
	require.ErrorContains(t, err, `"deadbeef"`)
	_, err = k.Open("t1", "db", ct, wk, "")
	require.ErrorIs(t, err, ErrUnknownKey)
	_, _, err = k.Rewrap("t1", "db", wk, "deadbeef")
	require.ErrorIs(t, err, ErrUnknownKey)
}

func TestRotateAndRewrap(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), KeyFileName)
	k, created, err := LoadOrCreateFile(path)
	require.NoError(t, err)
	require.True(t, created)
	oldID := k.CurrentKeyID()

	ct1, wk1, id1, err := k.Seal("t1", "a", []byte("value-a"))
	require.NoError(t, err)
	ct2, wk2, id2, err := k.Seal("t1", "b", []byte("value-b"))
	require.NoError(t, err)

	newID, err := k.Rotate()
	require.NoError(t, err)
	require.NotEqual(t, oldID, newID)
	require.Equal(t, newID, k.CurrentKeyID())
	require.ElementsMatch(t, []string{oldID, newID}, k.KeyIDs())

	// Rewrap moves a to the new key; its ciphertext is untouched.
	nwk1, nid1, err := k.Rewrap("t1", "a", wk1, id1)
	require.NoError(t, err)
	require.Equal(t, newID, nid1)
	got, err := k.Open("t1", "a", ct1, nwk1, nid1)
	require.NoError(t, err)
	require.Equal(t, "value-a", string(got))
	// Rewrapping again is a no-op.
	same, sameID, err := k.Rewrap("t1", "a", nwk1, nid1)
	require.NoError(t, err)
	require.Equal(t, nwk1, same)
	require.Equal(t, newID, sameID)
	// The rewrapped key is bound to its new id, tenant and name.
	_, _, err = k.Rewrap("t2", "a", wk1, id1)
	require.ErrorIs(t, err, ErrDecrypt)

	// b, not rotated yet, still opens with the old key.
	got, err = k.Open("t1", "b", ct2, wk2, id2)
	require.NoError(t, err)
	require.Equal(t, "value-b", string(got))

	// New seals use the new key.
	_, _, id, err := k.Seal("t1", "c", []byte("c"))
	require.NoError(t, err)
	require.Equal(t, newID, id)

	// The file holds both keys, new current, and stays 0600.
	re, err := LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, newID, re.CurrentKeyID())
	got, err = re.Open("t1", "b", ct2, wk2, id2)
	require.NoError(t, err)
	require.Equal(t, "value-b", string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFileName)
	k, created, err := LoadOrCreateFile(path)
	require.NoError(t, err)
	require.True(t, created)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	ct, wk, id, err := k.Seal("t", "n", []byte("v"))
	require.NoError(t, err)

	again, created, err := LoadOrCreateFile(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, k.CurrentKeyID(), again.CurrentKeyID())
	got, err := again.Open("t", "n", ct, wk, id)
	require.NoError(t, err)
	require.Equal(t, "v", string(got))

	// Load without the environment uses the same file.
	loaded, source, err := Load(dir, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Equal(t, path, source)
	require.Equal(t, k.CurrentKeyID(), loaded.CurrentKeyID())

	// A file others may read is refused.
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = LoadFile(path)
	require.ErrorContains(t, err, "chmod 600")
	require.NoError(t, os.Chmod(path, 0o600))

	// A corrupt file is an error that does not quote it.
	require.NoError(t, os.WriteFile(path, []byte(`{"current": "x", "keys": {"x": "c2VjcmV0"}}`), 0o600))
	_, err = LoadFile(path)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "c2VjcmV0")
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	cur, prev := GenerateKey(), GenerateKey()
	env := map[string]string{}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	_, ok, err := FromEnv(lookup)
	require.NoError(t, err)
	require.False(t, ok)

	env[EnvMasterKey] = EncodeKey(prev)
	old, ok, err := FromEnv(lookup)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, KeyID(prev), old.CurrentKeyID())
	ct, wk, id, err := old.Seal("t", "n", []byte("v"))
	require.NoError(t, err)

	env[EnvMasterKey] = EncodeKey(cur)
	env[EnvMasterKeyPrevious] = EncodeKey(prev)
	k, ok, err := FromEnv(lookup)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, KeyID(cur), k.CurrentKeyID())
	got, err := k.Open("t", "n", ct, wk, id)
	require.NoError(t, err)
	require.Equal(t, "v", string(got))
	_, err = k.Rotate()
	require.ErrorContains(t, err, EnvMasterKeyPrevious)

	// Bad values are named, never quoted.
	env[EnvMasterKey] = "bm90LWEta2V5LWF0LWFsbA=="
	_, _, err = FromEnv(lookup)
	require.ErrorContains(t, err, EnvMasterKey)
	require.NotContains(t, err.Error(), env[EnvMasterKey])
	env[EnvMasterKey] = "!!! not base64 !!!"
	_, _, err = FromEnv(lookup)
	require.ErrorContains(t, err, "not base64")
	require.NotContains(t, err.Error(), "!!!")
}

func TestKeyringNeverFormatsKeys(t *testing.T) {
	t.Parallel()
	key := GenerateKey()
	k, err := NewKeyring(key)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), k.LogValue().String()} {
		require.NotContains(t, s, EncodeKey(key))
		require.False(t, strings.Contains(s, string(key)))
		require.Contains(t, s, k.CurrentKeyID())
	}
}

func TestKeyFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// No directory to create the file in.
	_, _, err := LoadOrCreateFile(filepath.Join(dir, "missing", KeyFileName))
	require.ErrorContains(t, err, "create key file")

	// A rotation whose directory has gone cannot save the new key.
	sub := filepath.Join(dir, "gone")
	require.NoError(t, os.Mkdir(sub, 0o700))
	k, created, err := LoadOrCreateFile(filepath.Join(sub, KeyFileName))
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, os.RemoveAll(sub))
	_, err = k.Rotate()
	require.ErrorContains(t, err, "write key file")

	// The key file's place taken by a directory: the rename fails.
	taken := filepath.Join(dir, "taken")
	require.NoError(t, os.Mkdir(taken, 0o700))
	k, _, err = LoadOrCreateFile(filepath.Join(taken, KeyFileName))
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(taken, KeyFileName)))
	require.NoError(t, os.MkdirAll(filepath.Join(taken, KeyFileName, "x"), 0o700))
	_, err = k.Rotate()
	require.ErrorContains(t, err, "write key file")
}

func TestKeyFileContents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := GenerateKey()
	id := KeyID(key)
	for name, tc := range map[string]struct{ body, want string }{
		"bad base64":   {`{"current": "x", "keys": {"x": "%%%"}}`, `key "x"`},
		"wrong id":     {fmt.Sprintf(`{"current": "x", "keys": {"x": %q}}`, EncodeKey(key)), "does not match its id"},
		"no current":   {fmt.Sprintf(`{"current": "nope", "keys": {%q: %q}}`, id, EncodeKey(key)), "current key"},
		"not JSON":     {`{`, "not valid JSON"},
		"a directory?": {"", ""},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if tc.body == "" {
			require.NoError(t, os.Mkdir(path, 0o700))
			_, err := LoadFile(path)
			require.Error(t, err, name)
			continue
		}
		require.NoError(t, os.WriteFile(path, []byte(tc.body), 0o600))
		_, err := LoadFile(path)
		require.ErrorContains(t, err, tc.want, name)
	}

	// Load reports a bad environment key rather than falling back to the file.
	_, source, err := Load(dir, func(name string) (string, bool) {
		if name == EnvMasterKey {
			return "not a key", true
		}
		return "", false
	})
	require.Error(t, err)
	require.Equal(t, EnvMasterKey, source)
}
