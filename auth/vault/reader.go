package vault

import (
	"context"
	"fmt"
	"sync"

	"github.com/wasmflow/wasmflow/store"
)

// SecretStore is the part of the store a [Reader] reads.
type SecretStore interface {
	SecretGet(ctx context.Context, tenantID, name string) (*store.Secret, error)
}

// Reader decrypts stored secrets: what node runs read through
// wasmflow_secret_get and {{secret:NAME}} headers.
type Reader struct {
	Store SecretStore
	// Keys opens the secrets. When nil, the first read that needs them
	// calls LoadKeys (a worker that started before the api process wrote
	// the key file finds it later); without either, every read fails
	// saying the key is missing.
	Keys *Keyring
	// LoadKeys, when set, finds the keys on demand; nil keys and no error
	// mean there are none yet.
	LoadKeys func() (*Keyring, error)

	mu sync.Mutex
}

// keys returns the keyring, loading it on first need.
func (r *Reader) keys() (*Keyring, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Keys == nil && r.LoadKeys != nil {
		k, err := r.LoadKeys()
		if err != nil {
			return nil, err
		}
		r.Keys = k
	}
	return r.Keys, nil
}

// ReadSecret returns the value of the tenant's secret name. A missing secret
// is store.ErrNotFound.
func (r *Reader) ReadSecret(ctx context.Context, tenantID, name string) (string, error) {
	s, err := r.Store.SecretGet(ctx, tenantID, name)
	if err != nil {
		return "", err
	}
	keys, err := r.keys()
	if err != nil {
		return "", fmt.Errorf("vault: load the master key: %w", err)
	}
	if keys == nil {
		return "", fmt.Errorf("vault: no master key in this process to open secret %q (set %s)", name, EnvMasterKey)
	}
	value, err := keys.Open(tenantID, name, s.Ciphertext, s.WrappedKey, s.KeyID)
	if err != nil {
		return "", fmt.Errorf("vault: open secret %q: %w", name, err)
	}
	return string(value), nil
}
