package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Resolved is the version a module reference resolved to: what a workflow
// locks.
type Resolved struct {
	Name     string
	Version  string
	Digest   string
	Manifest *workflow.Manifest
}

// NotFoundError is a reference that no version of the tenant's modules
// matches. Message says what the tenant has instead, fit to show to whoever
// wrote the reference: "no version matches \"^3\"; versions: 1.2.0, 1.0.0",
// "acme/x has no version 3.0.0; versions: 1.2.0", "no module acme/x". It
// matches store.ErrNotFound.
type NotFoundError struct {
	Ref     string
	Message string
}

// Error implements error.
func (e *NotFoundError) Error() string {
	return "registry: resolve " + e.Ref + ": " + e.Message + ": " + store.ErrNotFound.Error()
}

// Unwrap returns store.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return store.ErrNotFound }

// ParseRef splits a module reference "owner/name@range" into the name and
// the range ("" when there is none). An invalid reference is an *[Error]
// with code ref_invalid.
func ParseRef(ref string) (name, versionRange string, err error) {
	name, versionRange, hasRange := strings.Cut(ref, "@")
	if !ValidName(name) {
		return "", "", refuse(CodeRefInvalid, "ref", "%q is not a module name: want owner/name, lower case", name)
	}
	versionRange = strings.TrimSpace(versionRange)
	if hasRange && versionRange == "" {
		return "", "", refuse(CodeRefInvalid, "ref", "%q has an empty version range after @", ref)
	}
	if len(versionRange) > 128 {
		return "", "", refuse(CodeRefInvalid, "ref", "the version range is longer than 128 characters")
	}
	if versionRange != "" {
		if _, err := semver.NewConstraint(versionRange); err != nil {
			return "", "", refuse(CodeRefInvalid, "ref", "%q is not a version or version range (1.2.0, ^1, ~1.2, >=1.0 <2): %v",
				versionRange, err)
		}
	}
	return name, versionRange, nil
}

// Resolve picks the version a reference means: "owner/name@1.2.0" that
// exact version, "owner/name@^1" (any Masterminds semver constraint: ~1.2,
// >=1.0 <2, 1.x, …) the newest version it admits, "owner/name" the newest
// version. Pre-releases are picked only when asked for: by their exact
// version, or by a constraint that itself names a pre-release
// (">=2.0.0-0"). No matching version is a *[NotFoundError] (which matches
// store.ErrNotFound) saying what exists; an invalid reference is an *[Error]
// with code ref_invalid.
func (r *Registry) Resolve(ctx context.Context, tenantID, ref string) (*Resolved, error) {
	name, rng, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var chosen *store.ModuleVersion
	if v, err := semver.StrictNewVersion(rng); err == nil && v.Metadata() == "" {
		chosen, err = r.store.ModuleVersionGet(ctx, tenantID, name, rng)
		if errors.Is(err, store.ErrNotFound) {
			return nil, r.noSuchVersion(ctx, tenantID, ref, name, rng)
		}
		if err != nil {
			return nil, fmt.Errorf("registry: resolve %s: %w", ref, err)
		}
	} else {
		all, err := r.store.ModuleVersionList(ctx, tenantID, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &NotFoundError{Ref: ref, Message: "no module " + name}
		}
		if err != nil {
			return nil, fmt.Errorf("registry: resolve %s: %w", ref, err)
		}
		var why string
		if chosen, why = newest(all, rng); chosen == nil {
			return nil, &NotFoundError{Ref: ref, Message: why}
		}
	}
	m, err := decodeStoredManifest(chosen)
	if err != nil {
		return nil, err
	}
	return &Resolved{Name: chosen.Name, Version: chosen.Version, Digest: chosen.Digest, Manifest: m}, nil
}

// noSuchVersion is the error for an exact version the module lacks, listing
// the versions it has.
func (r *Registry) noSuchVersion(ctx context.Context, tenantID, ref, name, version string) error {
	all, err := r.store.ModuleVersionList(ctx, tenantID, name)
	if errors.Is(err, store.ErrNotFound) {
		return &NotFoundError{Ref: ref, Message: "no module " + name}
	}
	if err != nil {
		return fmt.Errorf("registry: resolve %s: %w", ref, err)
	}
	var listing []*semver.Version
	for _, mv := range all {
		if v, err := semver.NewVersion(mv.Version); err == nil { // checked at upload
			listing = append(listing, v)
		}
	}
	return &NotFoundError{Ref: ref, Message: fmt.Sprintf("%s has no version %s; versions: %s", name, version, versionList(listing))}
}

// newest returns the newest of versions that rng admits (every release when
// rng is empty); when none is admitted, it returns nil and says why, naming
// the versions there are.
func newest(versions []*store.ModuleVersion, rng string) (*store.ModuleVersion, string) {
	var c *semver.Constraints
	if rng != "" {
		c, _ = semver.NewConstraint(rng) // ParseRef checked it
	}
	var (
		best    *store.ModuleVersion
		bestV   *semver.Version
		listing []*semver.Version
	)
	for _, mv := range versions {
		v, err := semver.NewVersion(mv.Version)
		if err != nil {
			continue // checked at upload: cannot happen
		}
		listing = append(listing, v)
		ok := v.Prerelease() == ""
		if c != nil {
			ok = c.Check(v)
		}
		if ok && (bestV == nil || v.GreaterThan(bestV)) {
			best, bestV = mv, v
		}
	}
	if best != nil {
		return best, ""
	}
	what := "no release (only pre-releases, which must be asked for explicitly)"
	if rng != "" {
		what = fmt.Sprintf("no version matches %q", rng)
	}
	return nil, what + "; versions: " + versionList(listing)
}

// versionList names versions newest first, the first ten of them.
func versionList(versions []*semver.Version) string {
	slices.SortFunc(versions, func(a, b *semver.Version) int { return b.Compare(a) })
	var have []string
	for i, v := range versions {
		if i == 10 {
			have = append(have, fmt.Sprintf("and %d more", len(versions)-i))
			break
		}
		have = append(have, v.Original())
	}
	return strings.Join(have, ", ")
}
