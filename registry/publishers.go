package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
)

// PlatformPublisher is the platform's own publisher, which signs the
// example nodes; no tenant may register it through the API.
const PlatformPublisher = "wasmflow"

// CreatePublisherOpts tweaks CreatePublisher.
type CreatePublisherOpts struct {
	// Platform allows the platform's reserved name (serve's bootstrap).
	Platform bool
}

// CreatePublisher registers a publisher owned by the tenant. An invalid
// name is an *Error publisher_invalid; a name taken (publisher names are
// global), or the platform's without opts.Platform, is publisher_taken,
// which matches store.ErrConflict.
func (r *Registry) CreatePublisher(ctx context.Context, tenantID, name string, opts *CreatePublisherOpts) (*store.Publisher, error) {
	if !signing.ValidPublisher(name) {
		return nil, refuse(CodePublisherInvalid, "body.name",
			"%q is not a publisher name: lower-case letters, digits and dashes, starting with a letter or digit, at most 63", name)
	}
	if name == PlatformPublisher && (opts == nil || !opts.Platform) {
		return nil, taken(name, "it is reserved for the platform")
	}
	p, err := r.store.PublisherInsert(ctx, tenantID, name)
	if errors.Is(err, store.ErrConflict) {
		return nil, taken(name, "another tenant or this one registered it")
	}
	if err != nil {
		return nil, fmt.Errorf("registry: create publisher %s: %w", name, err)
	}
	return p, nil
}

func taken(name, why string) *Error {
	e := refuse(CodePublisherTaken, "body.name", "publisher %q is taken: %s", name, why)
	e.Err = store.ErrConflict
	return e
}

// Publishers lists the tenant's publishers by name.
func (r *Registry) Publishers(ctx context.Context, tenantID string) ([]*store.Publisher, error) {
	ps, err := r.store.PublisherList(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("registry: publishers: %w", err)
	}
	return ps, nil
}

// ownPublisher reads a publisher the tenant owns; another tenant's is
// store.ErrNotFound, as one that does not exist.
func (r *Registry) ownPublisher(ctx context.Context, tenantID, name string) (*store.Publisher, error) {
	p, err := r.store.PublisherGet(ctx, name)
	if err == nil && p.TenantID != tenantID {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("registry: publisher %s: %w", name, err)
	}
	return p, nil
}

// KeyParams is a key to register.
type KeyParams struct {
	// PublicKey is the base64 Ed25519 public key.
	PublicKey string
	// Proof is the base64 signature over signing.ProofMessage: it shows
	// that whoever registers the key holds its private half.
	Proof string
	// NotBefore and NotAfter bound the signatures the key makes (by their
	// signed_at); nil is unbounded.
	NotBefore, NotAfter *time.Time
}

// RegisterKey registers a key of one of the tenant's publishers, after
// checking its proof of possession. Refusals are *Error: key_invalid,
// proof_invalid, key_exists (matching store.ErrConflict); another tenant's
// publisher is store.ErrNotFound.
func (r *Registry) RegisterKey(ctx context.Context, tenantID, publisher string, p *KeyParams) (*store.PublisherKey, error) {
	if _, err := r.ownPublisher(ctx, tenantID, publisher); err != nil {
		return nil, err
	}
	pub, err := signing.ParsePublicKey(p.PublicKey)
	if err != nil {
		return nil, refuse(CodeKeyInvalid, "body.public_key", "%s", signingMessage(err))
	}
	if err := signing.VerifyProof(publisher, pub, p.Proof); err != nil {
		return nil, refuse(CodeProofInvalid, "body.proof", "%s: sign the proof with the key's private half (wasmflow keys generate prints it)",
			signingMessage(err))
	}
	if p.NotBefore != nil && p.NotAfter != nil && !p.NotAfter.After(*p.NotBefore) {
		return nil, refuse(CodeKeyInvalid, "body.not_after", "must be later than not_before")
	}
	k, err := r.store.PublisherKeyInsert(ctx, tenantID, &store.PublisherKey{
		Publisher: publisher, KeyID: signing.KeyID(pub), PublicKey: pub, NotBefore: p.NotBefore, NotAfter: p.NotAfter,
	})
	if errors.Is(err, store.ErrConflict) {
		e := refuse(CodeKeyExists, "body.public_key", "key %s is registered to %q already", signing.KeyID(pub), publisher)
		e.Err = store.ErrConflict
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("registry: register key of %s: %w", publisher, err)
	}
	return k, nil
}

// RevokeKey revokes a key of one of the tenant's publishers: from now on no
// signature it made verifies, at upload or before a run. Revoking it again
// keeps the first time. Another tenant's publisher, or a key it does not
// have, is store.ErrNotFound.
func (r *Registry) RevokeKey(ctx context.Context, tenantID, publisher, keyID string) (*store.PublisherKey, error) {
	if _, err := r.ownPublisher(ctx, tenantID, publisher); err != nil {
		return nil, err
	}
	k, err := r.store.PublisherKeyRevoke(ctx, tenantID, publisher, keyID)
	if err != nil {
		return nil, fmt.Errorf("registry: revoke key %s of %s: %w", keyID, publisher, err)
	}
	return k, nil
}

// Keys lists a publisher's keys, revoked ones included; store.ErrNotFound
// when there is no such publisher. Public keys are public: any caller may
// read them, to verify signatures.
func (r *Registry) Keys(ctx context.Context, publisher string) ([]*store.PublisherKey, error) {
	if _, err := r.store.PublisherGet(ctx, publisher); err != nil {
		return nil, fmt.Errorf("registry: publisher %s: %w", publisher, err)
	}
	ks, err := r.store.PublisherKeyList(ctx, publisher)
	if err != nil {
		return nil, fmt.Errorf("registry: keys of %s: %w", publisher, err)
	}
	return ks, nil
}

// TrustPolicy reads the tenant's trust policy (the default when it set none).
func (r *Registry) TrustPolicy(ctx context.Context, tenantID string) (*store.TrustPolicy, error) {
	p, err := r.store.TrustPolicyGet(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("registry: trust policy: %w", err)
	}
	return p, nil
}

// SetTrustPolicy checks and stores the tenant's trust policy. Every run
// decides by it from now on, in every process (the change bumps the trust
// epoch). A publisher that is not a publisher name, a module that is not
// owner/name or a minimum that is not a version is an *Error
// trust_policy_invalid naming each.
func (r *Registry) SetTrustPolicy(ctx context.Context, tenantID string, p *store.TrustPolicy) (*store.TrustPolicy, error) {
	var problems []Problem
	for i, name := range p.TrustedPublishers {
		if !signing.ValidPublisher(name) {
			problems = append(problems, Problem{Field: fmt.Sprintf("body.trusted_publishers[%d]", i), Message: fmt.Sprintf("%q is not a publisher name", name)})
		}
	}
	names := make([]string, 0, len(p.MinimumVersions))
	for name := range p.MinimumVersions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		field := "body.minimum_versions." + name
		if !ValidName(name) {
			problems = append(problems, Problem{Field: field, Message: fmt.Sprintf("%q is not a module name (owner/name)", name)})
			continue
		}
		if _, err := semver.StrictNewVersion(p.MinimumVersions[name]); err != nil {
			problems = append(problems, Problem{Field: field, Message: fmt.Sprintf("%q is not a version such as 1.2.0", p.MinimumVersions[name])})
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Code: CodeTrustPolicyInvalid, Problems: problems}
	}
	in := *p
	in.TrustedPublishers = slices.Compact(slices.Sorted(slices.Values(p.TrustedPublishers)))
	out, err := r.store.TrustPolicyPut(ctx, tenantID, &in)
	if err != nil {
		return nil, fmt.Errorf("registry: set trust policy: %w", err)
	}
	return out, nil
}
