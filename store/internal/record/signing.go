package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/wasmflow/wasmflow/store"
)

// NewPublisher returns a publisher named name owned by the tenant.
func NewPublisher(tenantID, name string) (*store.Publisher, error) {
	if name == "" {
		return nil, errors.New("store: PublisherInsert needs a name")
	}
	return &store.Publisher{Name: name, TenantID: tenantID, CreatedAt: Now()}, nil
}

// NewPublisherKey checks k and returns the key to store.
func NewPublisherKey(k *store.PublisherKey) (*store.PublisherKey, error) {
	if k == nil || k.Publisher == "" || k.KeyID == "" || len(k.PublicKey) == 0 {
		return nil, errors.New("store: PublisherKeyInsert needs a publisher, a key id and a public key")
	}
	out := *k
	out.PublicKey = slices.Clone(k.PublicKey)
	out.NotBefore, out.NotAfter, out.RevokedAt = NormPtr(k.NotBefore), NormPtr(k.NotAfter), nil
	out.CreatedAt = Now()
	return &out, nil
}

// DefaultTrustPolicy is the policy of a tenant that never set one.
func DefaultTrustPolicy(tenantID string) *store.TrustPolicy {
	return &store.TrustPolicy{TenantID: tenantID, TrustedPublishers: []string{}, MinimumVersions: map[string]string{}}
}

// NewTrustPolicy returns the policy to store and its two JSON columns.
func NewTrustPolicy(tenantID string, p *store.TrustPolicy) (*store.TrustPolicy, []byte, []byte, error) {
	if p == nil {
		return nil, nil, nil, errors.New("store: TrustPolicyPut needs a policy")
	}
	out := DefaultTrustPolicy(tenantID)
	out.RequireSignatures = p.RequireSignatures
	out.TrustedPublishers = append(out.TrustedPublishers, p.TrustedPublishers...)
	for k, v := range p.MinimumVersions {
		out.MinimumVersions[k] = v
	}
	out.UpdatedAt = Now()
	trusted, _ := json.Marshal(out.TrustedPublishers) // strings: cannot fail
	minimum, _ := json.Marshal(out.MinimumVersions)
	return out, trusted, minimum, nil
}

// DecodeTrustPolicy fills the JSON columns of a stored policy.
func DecodeTrustPolicy(p *store.TrustPolicy, trusted, minimum []byte) error {
	if err := json.Unmarshal(trusted, &p.TrustedPublishers); err != nil {
		return fmt.Errorf("store: trusted_publishers: %w", err)
	}
	if err := json.Unmarshal(minimum, &p.MinimumVersions); err != nil {
		return fmt.Errorf("store: minimum_versions: %w", err)
	}
	if p.TrustedPublishers == nil {
		p.TrustedPublishers = []string{}
	}
	if p.MinimumVersions == nil {
		p.MinimumVersions = map[string]string{}
	}
	return nil
}

// NewModuleGrant returns the grant to store for the tenant's version v and
// its two JSON columns.
func NewModuleGrant(tenantID string, v *store.ModuleVersion, g *store.ModuleGrant) (*store.ModuleGrant, []byte, []byte, error) {
	out := *g
	out.TenantID, out.Name, out.Version, out.UpdatedAt = tenantID, v.Name, v.Version, Now()
	granted, err := json.Marshal(out.Granted)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: grant: %w", err)
	}
	requested, err := json.Marshal(out.Requested)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: grant: %w", err)
	}
	// As it reads back.
	if err := DecodeModuleGrant(&out, granted, requested); err != nil {
		return nil, nil, nil, err
	}
	return &out, granted, requested, nil
}

// DecodeModuleGrant fills the JSON columns of a stored grant.
func DecodeModuleGrant(g *store.ModuleGrant, granted, requested []byte) error {
	g.Granted, g.Requested = store.ModuleGrant{}.Granted, store.ModuleGrant{}.Requested
	if err := json.Unmarshal(granted, &g.Granted); err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	if err := json.Unmarshal(requested, &g.Requested); err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	return nil
}

// NewCatalogVersion checks p and returns the module row to insert (used
// only the first time) and the version to store.
func NewCatalogVersion(tenantID string, p *store.CatalogPublishParams) (*store.CatalogModule, *store.CatalogVersion, error) {
	if p == nil || p.Version == nil || p.Publisher == "" || p.Version.Name == "" || p.Version.Version == "" {
		return nil, nil, errors.New("store: CatalogPublish needs a publisher and a version")
	}
	v := *p.Version
	v.TenantID, v.CreatedAt, v.YankedAt, v.YankReason = tenantID, Now(), nil, ""
	var err error
	if v.Manifest, err = JSON("catalog manifest", v.Manifest); err != nil {
		return nil, nil, err
	}
	if v.Signature, err = JSON("catalog signature", v.Signature); err != nil {
		return nil, nil, err
	}
	if v.Manifest == nil || v.Signature == nil {
		return nil, nil, errors.New("store: a catalog version needs its manifest and signature")
	}
	m := &store.CatalogModule{
		Name: v.Name, Publisher: p.Publisher, TenantID: tenantID, Description: p.Description,
		LatestVersion: v.Version, Versions: 1, CreatedAt: v.CreatedAt, UpdatedAt: v.CreatedAt,
	}
	return m, &v, nil
}
