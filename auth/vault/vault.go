// Package vault encrypts secrets with AES-256-GCM envelope encryption.
//
// Every secret gets a fresh random 32-byte data key. The value is sealed
// with it (random nonce; the tenant id and the secret's name are additional
// data, so a ciphertext moved to another tenant or name does not open), and
// the data key is sealed (wrapped) with a master key of a [Keyring] (the key
// id, tenant and name are its additional data). The store keeps the value's
// ciphertext, the wrapped data key and the master key's id; rotating the
// master key re-wraps the data keys ([Keyring.Rewrap]) and leaves every
// value's ciphertext alone.
//
// Master keys come from the environment ([FromEnv]: WASMFLOW_MASTER_KEY and,
// while rotating, WASMFLOW_MASTER_KEY_PREVIOUS) or from a key file in the
// data directory ([LoadOrCreateFile]). No error, log attribute or formatted
// value of this package holds a key or a plaintext.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// KeySize is the size of master and data keys: AES-256.
const KeySize = 32

// Errors a caller can test for with errors.Is.
var (
	// ErrUnknownKey: a secret names a master key id the keyring lacks.
	ErrUnknownKey = errors.New("vault: unknown master key id")
	// ErrDecrypt: the wrapped key or ciphertext does not open: another
	// tenant, name or key id than it was sealed for, or tampered bytes.
	ErrDecrypt = errors.New("vault: decryption failed (wrong tenant, name or key, or tampered data)")
)

// Keyring holds master keys by id, one of them current. It is safe for
// concurrent use.
type Keyring struct {
	mu      sync.RWMutex
	current string
	keys    map[string][]byte
	// path is the key file the keyring was loaded from, "" for the
	// environment; Rotate saves there.
	path string
}

// KeyID is the id of a master key: the first 8 hex digits of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// GenerateKey returns a new random master key.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}

// NewKeyring builds a keyring from keys; the first is current. Each key's
// id is KeyID of it.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}}
	for i, key := range append([][]byte{current}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("vault: master key %d is %d bytes, not %d", i, len(key), KeySize)
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.keys[id] = slices.Clone(key)
	}
	return k, nil
}

// CurrentKeyID is the id of the key Seal and Rewrap wrap with.
func (k *Keyring) CurrentKeyID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// KeyIDs lists the ids of every key, sorted.
func (k *Keyring) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// String names the current key id and the number of keys, never a key.
func (k *Keyring) String() string {
	return fmt.Sprintf("vault.Keyring{current: %s, keys: %d}", k.CurrentKeyID(), len(k.KeyIDs()))
}

// GoString is String: %#v shows no key either.
func (k *Keyring) GoString() string { return k.String() }

// LogValue keeps keys out of logs.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("current_key_id", k.CurrentKeyID()), slog.Int("keys", len(k.KeyIDs())))
}

// key returns the master key id names, and the current id when id is "".
func (k *Keyring) key(id string) (string, []byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if id == "" {
		id = k.current
	}
	key, ok := k.keys[id]
	if !ok {
		return "", nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	return id, key, nil
}

// Seal encrypts plaintext for the secret name of tenantID under a fresh data
// key wrapped with the current master key.
func (k *Keyring) Seal(tenantID, name string, plaintext []byte) (ciphertext, wrappedKey []byte, keyID string, err error) {
	keyID, master, err := k.key("")
	if err != nil {
		return nil, nil, "", err
	}
	dataKey := make([]byte, KeySize)
	_, _ = rand.Read(dataKey)
	ciphertext, err = seal(dataKey, plaintext, valueAAD(tenantID, name))
	if err != nil {
		return nil, nil, "", err
	}
	wrappedKey, err = seal(master, dataKey, wrapAAD(keyID, tenantID, name))
	if err != nil {
		return nil, nil, "", err
	}
	return ciphertext, wrappedKey, keyID, nil
}

// Open decrypts a secret Seal (or Rewrap) produced for the same tenant and
// name. It fails with ErrUnknownKey when keyID is not in the keyring, and
// ErrDecrypt when anything else does not match.
func (k *Keyring) Open(tenantID, name string, ciphertext, wrappedKey []byte, keyID string) ([]byte, error) {
	dataKey, err := k.unwrap(tenantID, name, wrappedKey, keyID)
	if err != nil {
		return nil, err
	}
	return open(dataKey, ciphertext, valueAAD(tenantID, name))
}

// Rewrap re-wraps a secret's data key under the current master key; the
// value's ciphertext stays valid as it is. A key already wrapped with the
// current key comes back unchanged.
func (k *Keyring) Rewrap(tenantID, name string, wrappedKey []byte, keyID string) (newWrappedKey []byte, newKeyID string, err error) {
	current, master, err := k.key("")
	if err != nil {
		return nil, "", err
	}
	if keyID == current {
		return wrappedKey, keyID, nil
	}
	dataKey, err := k.unwrap(tenantID, name, wrappedKey, keyID)
	if err != nil {
		return nil, "", err
	}
	newWrappedKey, err = seal(master, dataKey, wrapAAD(current, tenantID, name))
	if err != nil {
		return nil, "", err
	}
	return newWrappedKey, current, nil
}

func (k *Keyring) unwrap(tenantID, name string, wrappedKey []byte, keyID string) ([]byte, error) {
	if keyID == "" {
		return nil, fmt.Errorf("%w: the secret names none", ErrUnknownKey)
	}
	_, master, err := k.key(keyID)
	if err != nil {
		return nil, err
	}
	dataKey, err := open(master, wrappedKey, wrapAAD(keyID, tenantID, name))
	if err != nil {
		return nil, err
	}
	if len(dataKey) != KeySize {
		return nil, ErrDecrypt
	}
	return dataKey, nil
}

// add makes key the current key (keeping the others) and returns its id.
func (k *Keyring) add(key []byte) string {
	id := KeyID(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[id] = slices.Clone(key)
	k.current = id
	return id
}

// valueAAD binds a value's ciphertext to its tenant and name.
func valueAAD(tenantID, name string) []byte {
	return aad("wasmflow/secret/v1", tenantID, name)
}

// wrapAAD binds a wrapped data key to its master key id, tenant and name.
func wrapAAD(keyID, tenantID, name string) []byte {
	return aad("wasmflow/data-key/v1", keyID, tenantID, name)
}

// aad joins parts, each prefixed by its length, so no two lists of parts
// encode alike.
func aad(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p))) //nolint:gosec // G115: ids and names are short
		b = append(b, p...)
	}
	return b
}

// seal encrypts with AES-256-GCM: nonce, then ciphertext and tag.
func seal(key, plaintext, additional []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	_, _ = rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plaintext, additional), nil
}

func open(key, sealed, additional []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrDecrypt
	}
	n := gcm.NonceSize()
	plaintext, err := gcm.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("vault: bad key size")
	}
	return cipher.NewGCM(block)
}
