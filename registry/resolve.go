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
// (">=2.0.0-0"). No matching version is store.ErrNotFound, with a message
// saying what exists; an invalid reference is an *[Error] with code
// ref_invalid.
func (r *Registry) Resolve(ctx context.Context, tenantID, ref string) (*Resolved, error) {
	name, rng, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	var chosen *store.ModuleVersion
	if v, err := semver.StrictNewVersion(rng); err == nil && v.Metadata() == "" {
		chosen, err = r.store.ModuleVersionGet(ctx, tenantID, name, rng)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("registry: resolve %s: %s has no version %s: %w", ref, name, rng, err)
		}
		if err != nil {
			return nil, fmt.Errorf("registry: resolve %s: %w", ref, err)
		}
	} else {
		all, err := r.store.ModuleVersionList(ctx, tenantID, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("registry: resolve %s: no module %s: %w", ref, name, err)
		}
		if err != nil {
			return nil, fmt.Errorf("registry: resolve %s: %w", ref, err)
		}
		if chosen, err = newest(all, rng); err != nil {
			return nil, fmt.Errorf("registry: resolve %s: %w", ref, err)
		}
	}
	m, err := decodeStoredManifest(chosen)
	if err != nil {
		return nil, err
	}
	return &Resolved{Name: chosen.Name, Version: chosen.Version, Digest: chosen.Digest, Manifest: m}, nil
}

// newest returns the newest of versions that rng admits (every release when
// rng is empty).
func newest(versions []*store.ModuleVersion, rng string) (*store.ModuleVersion, error) {
	var c *semver.Constraints
	if rng != "" {
		var err error
		if c, err = semver.NewConstraint(rng); err != nil { // ParseRef checked it
			return nil, err
		}
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
		return best, nil
	}
	slices.SortFunc(listing, func(a, b *semver.Version) int { return b.Compare(a) })
	var have []string
	for i, v := range listing {
		if i == 10 {
			have = append(have, fmt.Sprintf("and %d more", len(listing)-i))
			break
		}
		have = append(have, v.Original())
	}
	what := "no release (only pre-releases, which must be asked for explicitly)"
	if rng != "" {
		what = fmt.Sprintf("no version matches %q", rng)
	}
	return nil, fmt.Errorf("%s; versions: %s: %w", what, strings.Join(have, ", "), store.ErrNotFound)
}
