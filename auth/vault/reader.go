package vault

import (
	"context"
	"fmt"

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
	// Keys opens the secrets; nil when this process has no master key, and
	// then every read fails saying so.
	Keys *Keyring
}

// ReadSecret returns the value of the tenant's secret name. A missing secret
// is store.ErrNotFound.
func (r *Reader) ReadSecret(ctx context.Context, tenantID, name string) (string, error) {
	s, err := r.Store.SecretGet(ctx, tenantID, name)
	if err != nil {
		return "", err
	}
	if r.Keys == nil {
		return "", fmt.Errorf("vault: no master key in this process to open secret %q (set %s)", name, EnvMasterKey)
	}
	value, err := r.Keys.Open(tenantID, name, s.Ciphertext, s.WrappedKey, s.KeyID)
	if err != nil {
		return "", fmt.Errorf("vault: open secret %q: %w", name, err)
	}
	return string(value), nil
}
