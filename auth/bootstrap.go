package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmflow/wasmflow/store"
)

// DefaultTenant is the name of the tenant Bootstrap creates.
const DefaultTenant = "default"

// BootstrapStore is the part of the store Bootstrap needs; store.Store has it.
type BootstrapStore interface {
	TenantCount(ctx context.Context) (int, error)
	TenantInsert(ctx context.Context, name string) (*store.Tenant, error)
	TenantGetByName(ctx context.Context, name string) (*store.Tenant, error)
	APIKeyInsert(ctx context.Context, tenantID string, p *store.APIKeyInsertParams) (*store.APIKey, error)
	APIKeyList(ctx context.Context, tenantID string, page store.Page) ([]*store.APIKey, string, error)
}

// Bootstrap prepares a fresh installation: on a store without tenants it
// creates the tenant DefaultTenant and an owner API key that is also the
// platform admin's, and returns that key, which exists nowhere else (the
// caller writes it to a 0600 file and says where). created is false and key
// empty when there was nothing to do.
//
// A start that stopped between creating the tenant and its key is finished on
// the next start: a DefaultTenant without any key gets one. When two processes
// bootstrap at once, the one that loses the tenant insert (store.ErrConflict)
// goes on with the winner's tenant.
func Bootstrap(ctx context.Context, st BootstrapStore) (key string, created bool, err error) {
	n, err := st.TenantCount(ctx)
	if err != nil {
		return "", false, fmt.Errorf("auth: bootstrap: count tenants: %w", err)
	}
	var tenant *store.Tenant
	if n == 0 {
		tenant, err = st.TenantInsert(ctx, DefaultTenant)
		if errors.Is(err, store.ErrConflict) {
			tenant, err = st.TenantGetByName(ctx, DefaultTenant)
		}
	} else {
		tenant, err = st.TenantGetByName(ctx, DefaultTenant)
		if errors.Is(err, store.ErrNotFound) {
			return "", false, nil // tenants exist, none is the default: set up already
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("auth: bootstrap: tenant %s: %w", DefaultTenant, err)
	}
	keys, _, err := st.APIKeyList(ctx, tenant.ID, store.Page{Limit: 1})
	if err != nil {
		return "", false, fmt.Errorf("auth: bootstrap: list keys: %w", err)
	}
	if len(keys) > 0 {
		return "", false, nil
	}
	key, prefix, hash := NewAPIKey()
	_, err = st.APIKeyInsert(ctx, tenant.ID, &store.APIKeyInsertParams{
		Name:          "admin",
		Role:          RoleOwner,
		Prefix:        prefix,
		Hash:          hash,
		PlatformAdmin: true,
	})
	if err != nil {
		return "", false, fmt.Errorf("auth: bootstrap: insert key: %w", err)
	}
	return key, true, nil
}
