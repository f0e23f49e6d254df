package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Signer is who vouched for a module version: what its verified signature says.
type Signer struct {
	Publisher string
	KeyID     string
	SignedAt  time.Time
}

// subject is a module version as a signature must describe it.
type subject struct {
	name, version string
	// wasmSHA256 and manifestSHA256 are lower-case hex digests: of the
	// bytes, and of the manifest's canonical form as uploaded.
	wasmSHA256, manifestSHA256 string
	digest                     string // "sha256:<hex>", for yank checks
}

func subjectOf(v *store.ModuleVersion) subject {
	return subject{name: v.Name, version: v.Version, wasmSHA256: strings.TrimPrefix(v.Digest, "sha256:"),
		manifestSHA256: v.ManifestSHA256, digest: v.Digest}
}

// verifySignature checks a detached signature document against the module
// it came with and the publisher's registered keys: the signer must own the
// module's namespace, the statement must name exactly this module (name,
// version, bytes, manifest), the key must be registered to the publisher,
// the Ed25519 signature must verify with it, the key must not be revoked,
// and the signature must have been made within the key's validity window.
// Refusals are *Error at field, with the precise code.
func (r *Registry) verifySignature(ctx context.Context, doc []byte, sub subject, field string) (*Signer, error) {
	// The namespace first, from a lenient read: a statement outside its
	// publisher's namespace is malformed to ParseEnvelope, but this is
	// what it means.
	var loose struct {
		Statement struct {
			Publisher string `json:"publisher"`
		} `json:"statement"`
	}
	owner, _, _ := strings.Cut(sub.name, "/")
	if json.Unmarshal(doc, &loose) == nil && loose.Statement.Publisher != "" && loose.Statement.Publisher != owner {
		return nil, refuse(CodeSignatureNamespace, field, "publisher %q signed it, but only publisher %q may sign %s",
			loose.Statement.Publisher, owner, sub.name)
	}
	env, err := signing.ParseEnvelope(doc)
	if err != nil {
		return nil, refuse(CodeSignatureInvalid, field, "%s", signingMessage(err))
	}
	st := &env.Statement
	switch {
	case st.Name != sub.name:
		return nil, refuse(CodeSignatureMismatch, field, "the signature is for %s, not %s", st.Name, sub.name)
	case st.Version != sub.version:
		return nil, refuse(CodeSignatureMismatch, field, "the signature is for version %s, not %s", st.Version, sub.version)
	case st.WasmSHA256 != sub.wasmSHA256:
		return nil, refuse(CodeSignatureMismatch, field, "the wasm bytes differ from the signed ones")
	case st.ManifestSHA256 != sub.manifestSHA256:
		return nil, refuse(CodeSignatureMismatch, field, "the manifest differs from the signed one")
	}
	if _, err := r.store.PublisherGet(ctx, st.Publisher); errors.Is(err, store.ErrNotFound) {
		return nil, refuse(CodeSignatureKeyUnknown, field, "publisher %q is not registered", st.Publisher)
	} else if err != nil {
		return nil, fmt.Errorf("registry: publisher %s: %w", st.Publisher, err)
	}
	key, err := r.store.PublisherKeyGet(ctx, st.Publisher, st.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(CodeSignatureKeyUnknown, field, "key %s is not registered to publisher %q", st.KeyID, st.Publisher)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: key %s of %s: %w", st.KeyID, st.Publisher, err)
	}
	if err := env.Verify(ed25519.PublicKey(key.PublicKey)); err != nil {
		return nil, refuse(CodeSignatureInvalid, field, "%s", signingMessage(err))
	}
	if key.RevokedAt != nil {
		return nil, refuse(CodeSignatureKeyRevoked, field, "key %s of publisher %q was revoked at %s",
			st.KeyID, st.Publisher, key.RevokedAt.Format(time.RFC3339))
	}
	signedAt := st.SignedAt.UTC()
	if key.NotBefore != nil && signedAt.Before(*key.NotBefore) || key.NotAfter != nil && signedAt.After(*key.NotAfter) {
		return nil, refuse(CodeSignatureKeyExpired, field, "key %s of publisher %q is valid %s, and the signature was made at %s",
			st.KeyID, st.Publisher, window(key), signedAt.Format(time.RFC3339))
	}
	return &Signer{Publisher: st.Publisher, KeyID: st.KeyID, SignedAt: signedAt}, nil
}

// signingMessage is a signing error's message without its package prefix.
func signingMessage(err error) string {
	return strings.TrimPrefix(err.Error(), signing.ErrInvalid.Error()+": ")
}

// window describes a key's validity window.
func window(k *store.PublisherKey) string {
	from, to := "from the start", "with no end"
	if k.NotBefore != nil {
		from = "from " + k.NotBefore.Format(time.RFC3339)
	}
	if k.NotAfter != nil {
		to = "until " + k.NotAfter.Format(time.RFC3339)
	}
	return from + " " + to
}

// checkPolicy applies the tenant's trust policy to a version: a signature
// when the policy (or a marketplace source) requires one, a trusted
// publisher, the minimum version.
func checkPolicy(pol *store.TrustPolicy, sub subject, signer *Signer, source, field string) *Error {
	if signer == nil && (pol.RequireSignatures || source == store.SourceMarketplace) {
		why := "the tenant's trust policy requires signed modules"
		if source == store.SourceMarketplace {
			why = "marketplace modules must be signed"
		}
		return refuse(CodeSignatureRequired, field, "%s@%s is not signed, and %s", sub.name, sub.version, why)
	}
	if signer != nil && len(pol.TrustedPublishers) > 0 && !slices.Contains(pol.TrustedPublishers, signer.Publisher) {
		return refuse(CodePublisherUntrusted, field, "publisher %q is not among the tenant's trusted publishers (%s)",
			signer.Publisher, strings.Join(pol.TrustedPublishers, ", "))
	}
	if minimum, ok := pol.MinimumVersions[sub.name]; ok {
		v, err := semver.NewVersion(sub.version)
		m, merr := semver.NewVersion(minimum)
		if err == nil && merr == nil && v.LessThan(m) {
			return refuse(CodeVersionBelowMinimum, "manifest.version", "%s@%s is below the tenant's minimum version %s",
				sub.name, sub.version, minimum)
		}
	}
	return nil
}

// checkYanked refuses a version whose bytes the marketplace yanked.
func (r *Registry) checkYanked(ctx context.Context, sub subject, field string) error {
	cv, err := r.store.CatalogVersionGet(ctx, sub.name, sub.version)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: catalog %s@%s: %w", sub.name, sub.version, err)
	}
	if cv.YankedAt == nil || cv.Digest != sub.digest {
		return nil
	}
	reason := ""
	if cv.YankReason != "" {
		reason = ": " + cv.YankReason
	}
	return refuse(CodeVersionYanked, field, "%s@%s was yanked at %s%s", sub.name, sub.version,
		cv.YankedAt.Format(time.RFC3339), reason)
}

// verdict is whether a version may run, as decided at one trust epoch.
type verdict struct {
	epoch int64
	grant workflow.Capabilities
	err   *Error
}

type verdictKey struct {
	tenant, name, version, digest string
}

// verdictCache keeps the verdicts of the versions runs asked about. It is
// bounded: past its size, an arbitrary entry goes.
type verdictCache struct {
	mu      sync.Mutex
	max     int
	entries map[verdictKey]verdict
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, entries: map[verdictKey]verdict{}}
}

func (c *verdictCache) get(k verdictKey) (verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[k]
	return v, ok
}

func (c *verdictCache) put(k verdictKey, v verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = v
}

// Authorize decides whether the tenant may run a stored module version now,
// and with which capabilities. It re-checks what the upload checked (the
// signature against the publisher's keys as they are now, the tenant's
// trust policy), that the marketplace has not yanked the version, and, for
// a version installed from the marketplace, that the tenant's grant covers
// what it asks for; the grant it returns is the tenant's for an installed
// version and the manifest's for a private upload.
//
// A refusal is an *[Error] whose code says why (signature_key_revoked,
// version_yanked, grant_insufficient, …). Verdicts are cached by tenant,
// version and digest at the store's trust epoch, which every revocation,
// yank, policy change and install bumps: a cached verdict costs one read of
// the epoch, and no process runs on a verdict older than the last change.
func (r *Registry) Authorize(ctx context.Context, tenantID string, v *store.ModuleVersion) (workflow.Capabilities, error) {
	epoch, err := r.store.TrustEpoch(ctx)
	if err != nil {
		return workflow.Capabilities{}, fmt.Errorf("registry: trust epoch: %w", err)
	}
	key := verdictKey{tenantID, v.Name, v.Version, v.Digest}
	if cached, ok := r.verdicts.get(key); ok && cached.epoch == epoch {
		return cached.grant, errOrNil(cached.err)
	}
	grant, err := r.authorize(ctx, tenantID, v)
	var refused *Error
	if err != nil && !errors.As(err, &refused) {
		return workflow.Capabilities{}, err // the store failed: no verdict
	}
	r.verdicts.put(key, verdict{epoch: epoch, grant: grant, err: refused})
	return grant, err
}

// errOrNil keeps a nil *Error from becoming a non-nil error.
func errOrNil(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// authorize is Authorize without the cache.
func (r *Registry) authorize(ctx context.Context, tenantID string, v *store.ModuleVersion) (workflow.Capabilities, error) {
	m, err := decodeStoredManifest(v)
	if err != nil {
		return workflow.Capabilities{}, err
	}
	// A version stored before signatures were verified has no manifest
	// digest: whatever signature document it kept was never checked, so
	// it counts as unsigned.
	var sig json.RawMessage
	if len(v.Signature) > 0 && v.ManifestSHA256 != "" {
		sig = v.Signature
	}
	if err := r.checkTrust(ctx, tenantID, subjectOf(v), sig, v.Source, "version"); err != nil {
		return workflow.Capabilities{}, err
	}
	if v.Source != store.SourceMarketplace {
		return m.Capabilities, nil
	}
	g, err := r.store.ModuleGrantGet(ctx, tenantID, v.Name)
	if errors.Is(err, store.ErrNotFound) {
		return workflow.Capabilities{}, refuse(CodeGrantInsufficient, "grant",
			"the tenant granted %s nothing: install it from the marketplace with a grant", v.Name)
	}
	if err != nil {
		return workflow.Capabilities{}, fmt.Errorf("registry: grant of %s: %w", v.Name, err)
	}
	if what, ok := covers(g.Requested, m.Capabilities); !ok {
		return workflow.Capabilities{}, refuse(CodeGrantInsufficient, "grant",
			"%s@%s asks for %s, more than the tenant granted for %s@%s: install it again with a new grant",
			v.Name, v.Version, what, v.Name, g.Version)
	}
	return g.Granted, nil
}

// Verify checks a stored version as Authorize does, without the cache, and
// returns who signed it (nil for an unsigned one).
func (r *Registry) Verify(ctx context.Context, tenantID string, v *store.ModuleVersion) (*Signer, error) {
	if _, err := r.authorize(ctx, tenantID, v); err != nil {
		return nil, err
	}
	return signerOf(v.Signature), nil
}

// SignatureInfo describes a stored signature, for listings.
type SignatureInfo struct {
	// Status is "verified" (checked when stored) or "unsigned".
	Status    string
	Publisher string
	KeyID     string
	SignedAt  *time.Time
}

// Signature statuses.
const (
	StatusVerified = "verified"
	StatusUnsigned = "unsigned"
	StatusRevoked  = "revoked"
)

// SignatureOf describes a stored version's signature: every stored one
// was verified before it was stored.
func SignatureOf(doc json.RawMessage) SignatureInfo {
	s := signerOf(doc)
	if s == nil {
		return SignatureInfo{Status: StatusUnsigned}
	}
	return SignatureInfo{Status: StatusVerified, Publisher: s.Publisher, KeyID: s.KeyID, SignedAt: &s.SignedAt}
}

// signerOf reads who signed a stored signature document; nil when there is none.
func signerOf(doc json.RawMessage) *Signer {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil
	}
	var env signing.Envelope
	if json.Unmarshal(doc, &env) != nil || env.Statement.Publisher == "" {
		return nil
	}
	return &Signer{Publisher: env.Statement.Publisher, KeyID: env.Statement.KeyID, SignedAt: env.Statement.SignedAt.UTC()}
}
