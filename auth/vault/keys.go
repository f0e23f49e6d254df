package vault

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables of the master keys.
const (
	// EnvMasterKey holds the current master key: base64 of 32 bytes.
	EnvMasterKey = "WASMFLOW_MASTER_KEY"
	// EnvMasterKeyPrevious holds older master keys, comma-separated, that
	// still open secrets not yet re-wrapped (during a rotation).
	EnvMasterKeyPrevious = "WASMFLOW_MASTER_KEY_PREVIOUS"
)

// KeyFileName is the key file's name in the data directory.
const KeyFileName = "master-key"

// keyFile is the key file's JSON.
type keyFile struct {
	Current string            `json:"current"`
	Keys    map[string]string `json:"keys"` // id → base64 key
}

// decodeKey decodes a base64 master key (standard or URL alphabet, padded
// or not). Its errors never hold the input.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, not %d", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("is not base64")
}

// EncodeKey is the base64 form of a key, as EnvMasterKey takes it.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// FromEnv builds a keyring from EnvMasterKey (current) and
// EnvMasterKeyPrevious, read with lookup (os.LookupEnv). ok is false when
// EnvMasterKey is unset or empty.
func FromEnv(lookup func(string) (string, bool)) (k *Keyring, ok bool, err error) {
	v, _ := lookup(EnvMasterKey)
	if strings.TrimSpace(v) == "" {
		return nil, false, nil
	}
	current, err := decodeKey(v)
	if err != nil {
		return nil, true, fmt.Errorf("vault: %s %w", EnvMasterKey, err)
	}
	var previous [][]byte
	if p, _ := lookup(EnvMasterKeyPrevious); strings.TrimSpace(p) != "" {
		for i, part := range strings.Split(p, ",") {
			key, err := decodeKey(part)
			if err != nil {
				return nil, true, fmt.Errorf("vault: %s (key %d) %w", EnvMasterKeyPrevious, i+1, err)
			}
			previous = append(previous, key)
		}
	}
	k, err = NewKeyring(current, previous...)
	return k, true, err
}

// LoadFile reads a key file. A file that others than its owner may read is
// refused.
func LoadFile(path string) (*Keyring, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault: key file %s has mode %04o: others may read it; chmod 600 it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator chooses the data dir
	if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("vault: key file %s is not valid JSON", path) // the error would quote its bytes
	}
	k := &Keyring{keys: map[string][]byte{}, path: path}
	for id, enc := range f.Keys {
		key, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("vault: key file %s: key %q %w", path, id, err)
		}
		if KeyID(key) != id {
			return nil, fmt.Errorf("vault: key file %s: key %q does not match its id", path, id)
		}
		k.keys[id] = key
	}
	if _, ok := k.keys[f.Current]; !ok {
		return nil, fmt.Errorf("vault: key file %s: current key %q is not among its keys", path, f.Current)
	}
	k.current = f.Current
	return k, nil
}

// LoadOrCreateFile reads the key file at path, or creates it (0600) with
// one new key when it does not exist. created reports the latter.
func LoadOrCreateFile(path string) (k *Keyring, created bool, err error) {
	k, err = LoadFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, false, err
	}
	k, err = NewKeyring(GenerateKey())
	if err != nil {
		return nil, false, err
	}
	k.path = path
	data, err := k.marshal()
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the operator chooses the data dir
	if errors.Is(err, os.ErrExist) {
		// Another process created it first: use theirs.
		k, err = LoadFile(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("vault: create key file: %w", err)
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return nil, false, fmt.Errorf("vault: write key file: %w", err)
	}
	return k, true, nil
}

// Load is how the server finds its master keys: the environment
// (EnvMasterKey) when set, else the key file in dataDir, created on first
// start. source says which, for the log.
func Load(dataDir string, lookup func(string) (string, bool)) (k *Keyring, source string, err error) {
	k, ok, err := FromEnv(lookup)
	if ok || err != nil {
		return k, EnvMasterKey, err
	}
	path := filepath.Join(dataDir, KeyFileName)
	k, _, err = LoadOrCreateFile(path)
	return k, path, err
}

// Rotate makes a new random key current, keeping the older ones to open
// secrets not yet re-wrapped, and saves the key file. Only a keyring loaded
// from a key file can rotate: environment keys are rotated by changing the
// environment. It returns the new key's id.
func (k *Keyring) Rotate() (string, error) {
	if k.path == "" {
		return "", fmt.Errorf("vault: keys from %s rotate by setting a new key there and the old one in %s", EnvMasterKey, EnvMasterKeyPrevious)
	}
	next := &Keyring{keys: map[string][]byte{}, path: k.path}
	k.mu.RLock()
	for id, key := range k.keys {
		next.keys[id] = key
	}
	k.mu.RUnlock()
	key := GenerateKey()
	id := next.add(key)
	data, err := next.marshal()
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(k.path, data); err != nil {
		return "", err
	}
	k.add(key)
	return id, nil
}

func (k *Keyring) marshal() ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	f := keyFile{Current: k.current, Keys: map[string]string{}}
	for id, key := range k.keys {
		f.Keys[id] = EncodeKey(key)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, errors.New("vault: encode key file")
	}
	return append(data, '\n'), nil
}

// writeFileAtomic replaces path with data through a 0600 temporary file in
// the same directory, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("vault: write key file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("vault: write key file: %w", err)
	}
	_, err = tmp.Write(data)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("vault: write key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("vault: write key file: %w", err)
	}
	return nil
}
