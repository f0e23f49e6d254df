package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// The marketplace is one catalog shared by every tenant. A tenant publishes
// its own signed module versions there under a publisher it owns; any
// tenant reads the catalog and installs a version into itself with an
// explicit grant of the capabilities the version asks for. Only the
// publishing tenant yanks. Installing copies the version (bytes, manifest,
// signature) into the tenant, so its runs never depend on the publisher's
// tenant, except for the checks that must follow the publisher: its keys
// and its yanks.

// CatalogEntry is a module of the catalog with its versions.
type CatalogEntry struct {
	Module   *store.CatalogModule
	Versions []*CatalogVersionInfo
}

// CatalogVersionInfo is a published version as the catalog shows it.
type CatalogVersionInfo struct {
	Version *store.CatalogVersion
	// Signature is its signature's state now: verified, or revoked when
	// the key that made it has since been revoked.
	Signature SignatureInfo
	// Capabilities is what the version asks for.
	Capabilities workflow.Capabilities
}

// Publish copies one of the tenant's module versions into the catalog. The
// version must be signed by the publisher that owns its namespace, and the
// tenant must own that publisher (else publisher_not_found, which matches
// store.ErrNotFound); the signature is verified again. description, when
// empty, is the manifest's. Publishing a version again is a no-op; the same
// version with other bytes is version_immutable (store.ErrConflict).
func (r *Registry) Publish(ctx context.Context, tenantID, name, version, description string) (*CatalogEntry, error) {
	owner, _, _ := strings.Cut(name, "/")
	if _, err := r.ownPublisher(ctx, tenantID, owner); errors.Is(err, store.ErrNotFound) {
		e := refuse(CodePublisherNotFound, "body.name", "the tenant has no publisher %q: only %q may publish %s", owner, owner, name)
		e.Err = store.ErrNotFound
		return nil, e
	} else if err != nil {
		return nil, err
	}
	v, err := r.store.ModuleVersionGet(ctx, tenantID, name, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuseNotFound("body.version", "the tenant has no module %s@%s: upload it first", name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: publish %s@%s: %w", name, version, err)
	}
	if len(v.Signature) == 0 {
		return nil, refuse(CodeSignatureRequired, "body.version", "%s@%s is not signed: marketplace modules must be signed by %q",
			name, version, owner)
	}
	if _, err := r.verifySignature(ctx, v.Signature, subjectOf(v), "body.version"); err != nil {
		return nil, err
	}
	m, err := decodeStoredManifest(v)
	if err != nil {
		return nil, err
	}
	_, _, err = r.store.CatalogPublish(ctx, tenantID, &store.CatalogPublishParams{
		Publisher: owner, Description: cmp.Or(description, m.Description),
		Version: &store.CatalogVersion{
			Name: v.Name, Version: v.Version, Digest: v.Digest, ABI: v.ABI, Size: v.Size,
			Manifest: v.Manifest, ManifestSHA256: v.ManifestSHA256, Signature: v.Signature,
		},
	})
	if errors.Is(err, store.ErrConflict) {
		e := refuse(CodeVersionImmutable, "body.version", "%s@%s is published with other bytes: versions are immutable", name, version)
		e.Err = store.ErrConflict
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("registry: publish %s@%s: %w", name, version, err)
	}
	return r.CatalogEntry(ctx, name)
}

// refuseNotFound is an *Error that also matches store.ErrNotFound.
func refuseNotFound(field, format string, args ...any) *Error {
	e := refuse("not_found", field, format, args...)
	e.Err = store.ErrNotFound
	return e
}

// CatalogEntry reads a module of the catalog with its versions;
// store.ErrNotFound when the catalog has no such module.
func (r *Registry) CatalogEntry(ctx context.Context, name string) (*CatalogEntry, error) {
	m, err := r.store.CatalogGet(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("registry: catalog %s: %w", name, err)
	}
	return r.entry(ctx, m)
}

func (r *Registry) entry(ctx context.Context, m *store.CatalogModule) (*CatalogEntry, error) {
	vs, err := r.store.CatalogVersionList(ctx, m.Name)
	if err != nil {
		return nil, fmt.Errorf("registry: catalog %s: %w", m.Name, err)
	}
	e := &CatalogEntry{Module: m}
	for _, v := range vs {
		info := &CatalogVersionInfo{Version: v, Signature: SignatureOf(v.Signature)}
		var mf workflow.Manifest
		if err := json.Unmarshal(v.Manifest, &mf); err != nil {
			return nil, fmt.Errorf("registry: catalog %s@%s: manifest: %w", v.Name, v.Version, err)
		}
		info.Capabilities = mf.Capabilities
		if s := info.Signature; s.Status == StatusVerified {
			k, err := r.store.PublisherKeyGet(ctx, s.Publisher, s.KeyID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("registry: key %s: %w", s.KeyID, err)
			}
			if err != nil || k.RevokedAt != nil {
				info.Signature.Status = StatusRevoked
			}
		}
		e.Versions = append(e.Versions, info)
	}
	return e, nil
}

// SearchCatalog lists the catalog by name, one page at a time; query, when
// not empty, keeps modules whose name or description contains it.
func (r *Registry) SearchCatalog(ctx context.Context, query string, page store.Page) ([]*CatalogEntry, string, error) {
	ms, next, err := r.store.CatalogList(ctx, query, page)
	if err != nil {
		return nil, "", fmt.Errorf("registry: search catalog: %w", err)
	}
	out := make([]*CatalogEntry, 0, len(ms))
	for _, m := range ms {
		e, err := r.entry(ctx, m)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	return out, next, nil
}

// InstallParams is an install from the marketplace.
type InstallParams struct {
	Name string
	// Version is the exact version; empty is the newest release not yanked.
	Version string
	// Grant is what the tenant grants the module. Nil keeps the tenant's
	// grant for the module, if it has one; a version asking for more than
	// that grant then does not run (grant_insufficient) until installed
	// with a new grant.
	Grant *workflow.Capabilities
	// Actor names who installs, for the log.
	Actor string
}

// Installed is what an install stored.
type Installed struct {
	Version *store.ModuleVersion
	// Grant is the tenant's grant for the module now.
	Grant workflow.Capabilities
	// Covered reports whether the grant covers what the version asks for;
	// false only when an install without a grant kept a narrower one.
	Covered bool
}

// Install copies a catalog version into the tenant with the tenant's grant.
// It refuses, each as an *Error: a version that is yanked
// (version_yanked), whose signature no longer verifies (signature_*), that
// the tenant's trust policy refuses (publisher_untrusted,
// version_below_minimum), a grant missing a capability the version asks
// for (grant_required, at body.grant.<capability>) or granting more
// (grant_exceeds_request), and a version the tenant has with other bytes
// (version_immutable). An unknown module or version is store.ErrNotFound.
func (r *Registry) Install(ctx context.Context, tenantID string, p *InstallParams) (*Installed, error) {
	cv, err := r.catalogVersion(ctx, p.Name, p.Version)
	if err != nil {
		return nil, err
	}
	if cv.YankedAt != nil {
		return nil, refuse(CodeVersionYanked, "body.version", "%s@%s was yanked (%s): install another version",
			cv.Name, cv.Version, cmp.Or(cv.YankReason, "no reason given"))
	}
	sub := subject{name: cv.Name, version: cv.Version, wasmSHA256: strings.TrimPrefix(cv.Digest, "sha256:"),
		manifestSHA256: cv.ManifestSHA256, digest: cv.Digest}
	signer, err := r.verifySignature(ctx, cv.Signature, sub, "body.version")
	if err != nil {
		return nil, err
	}
	pol, err := r.store.TrustPolicyGet(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("registry: trust policy: %w", err)
	}
	if perr := checkPolicy(pol, sub, signer, store.SourceMarketplace, "body.version"); perr != nil {
		if perr.Code == CodeVersionBelowMinimum {
			perr.Problems[0].Field = "body.version"
		}
		return nil, perr
	}
	var mf workflow.Manifest
	if err := json.Unmarshal(cv.Manifest, &mf); err != nil {
		return nil, fmt.Errorf("registry: catalog %s@%s: manifest: %w", cv.Name, cv.Version, err)
	}
	grant, err := r.installGrant(ctx, tenantID, cv.Name, p.Grant, mf.Capabilities)
	if err != nil {
		return nil, err
	}
	wasm, err := r.store.ModuleBlobGet(ctx, cv.TenantID, cv.Digest)
	if err != nil {
		return nil, fmt.Errorf("registry: install %s@%s: bytes: %w", cv.Name, cv.Version, err)
	}
	if got := digestOf(wasm); got != cv.Digest {
		return nil, fmt.Errorf("registry: install %s@%s: stored bytes have digest %s, want %s", cv.Name, cv.Version, got, cv.Digest)
	}
	v, err := r.store.ModuleInstall(ctx, tenantID, &store.ModuleVersion{
		Name: cv.Name, Version: cv.Version, Digest: cv.Digest, ABI: cv.ABI, Manifest: cv.Manifest,
		Signature: cv.Signature, ManifestSHA256: cv.ManifestSHA256, Source: store.SourceMarketplace,
	}, wasm, grant)
	if errors.Is(err, store.ErrConflict) {
		return nil, immutable(&store.ModuleVersion{Name: cv.Name, Version: cv.Version}, "other bytes in this tenant")
	}
	if err != nil {
		return nil, fmt.Errorf("registry: install %s@%s: %w", cv.Name, cv.Version, err)
	}
	g, err := r.store.ModuleGrantGet(ctx, tenantID, cv.Name)
	if err != nil {
		return nil, fmt.Errorf("registry: install %s@%s: grant: %w", cv.Name, cv.Version, err)
	}
	_, covered := covers(g.Requested, mf.Capabilities)
	r.log.InfoContext(ctx, "module installed from the marketplace", "tenant_id", tenantID, "module", cv.Name+"@"+cv.Version,
		"digest", cv.Digest, "actor", p.Actor, "grant_covers", covered)
	return &Installed{Version: v, Grant: g.Granted, Covered: covered}, nil
}

// installGrant decides the grant an install stores: the one given, checked
// against what the version asks for; without one, none (keeping the
// tenant's grant) when the tenant has a grant for the module, else an empty
// grant when the version asks for nothing, else grant_required.
func (r *Registry) installGrant(ctx context.Context, tenantID, name string, given *workflow.Capabilities, asked workflow.Capabilities) (*store.ModuleGrant, error) {
	if given != nil {
		if err := checkGrant(*given, asked); err != nil {
			return nil, err
		}
		return &store.ModuleGrant{Granted: *given, Requested: asked}, nil
	}
	_, err := r.store.ModuleGrantGet(ctx, tenantID, name)
	switch {
	case err == nil:
		return nil, nil // keep it
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("registry: grant of %s: %w", name, err)
	}
	if err := checkGrant(workflow.Capabilities{}, asked); err != nil {
		return nil, err
	}
	return &store.ModuleGrant{Requested: asked}, nil
}

// catalogVersion finds the version an install asks for: the exact one, or
// the newest release not yanked.
func (r *Registry) catalogVersion(ctx context.Context, name, version string) (*store.CatalogVersion, error) {
	if version != "" {
		cv, err := r.store.CatalogVersionGet(ctx, name, version)
		if err != nil {
			return nil, fmt.Errorf("registry: catalog %s@%s: %w", name, version, err)
		}
		return cv, nil
	}
	vs, err := r.store.CatalogVersionList(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("registry: catalog %s: %w", name, err)
	}
	var (
		best  *store.CatalogVersion
		bestV *semver.Version
	)
	for _, cv := range vs {
		v, err := semver.NewVersion(cv.Version)
		if err != nil || cv.YankedAt != nil || v.Prerelease() != "" {
			continue
		}
		if bestV == nil || v.GreaterThan(bestV) {
			best, bestV = cv, v
		}
	}
	if best == nil {
		return nil, refuse(CodeVersionYanked, "body.version", "every release of %s is yanked: name a version", name)
	}
	return best, nil
}

// Yank marks a published version yanked: it cannot be installed any more,
// and no tenant's run of it starts from now on. Only the publishing tenant
// may yank; for any other it is store.ErrNotFound.
func (r *Registry) Yank(ctx context.Context, tenantID, name, version, reason string) (*store.CatalogVersion, error) {
	v, err := r.store.CatalogVersionYank(ctx, tenantID, name, version, reason)
	if err != nil {
		return nil, fmt.Errorf("registry: yank %s@%s: %w", name, version, err)
	}
	return v, nil
}
