package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
)

// ManifestFile is the name of a module's manifest beside its .wasm.
const ManifestFile = "wasmflow.json"

// InstallDir uploads into the tenant every module found as
// dir/<folder>/wasmflow.json with the one *.wasm beside it, in folder order.
// Uploading is idempotent, so installing the same directory again changes
// nothing. It installs every module it can and returns them (created or
// already there), with the failures of the others joined into one error,
// each naming its folder; a folder with no or several .wasm files is such a
// failure.
func (r *Registry) InstallDir(ctx context.Context, tenantID, dir string) ([]*store.ModuleVersion, error) {
	manifests, err := filepath.Glob(filepath.Join(dir, "*", ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("registry: install %s: %w", dir, err)
	}
	slices.Sort(manifests)
	var (
		installed []*store.ModuleVersion
		errs      []error
	)
	for _, mf := range manifests {
		folder := filepath.Dir(mf)
		v, err := r.installFolder(ctx, tenantID, folder, mf)
		if err != nil {
			errs = append(errs, fmt.Errorf("registry: install %s: %w", folder, err))
			continue
		}
		installed = append(installed, v)
	}
	return installed, errors.Join(errs...)
}

// InstallDirSigned is InstallDir for the platform's own modules: it makes
// sure the platform publisher (PlatformPublisher) belongs to the tenant and
// has key registered, signs every module with key, uploads it into the
// tenant and publishes it to the marketplace. Everything it does is
// idempotent, so a restart changes nothing; a new key is registered beside
// the old ones. A module uploaded unsigned before stays unsigned and is not
// published (its failure names it).
func (r *Registry) InstallDirSigned(ctx context.Context, tenantID, dir string, key *signing.PrivateKey) ([]*store.ModuleVersion, error) {
	if key.Publisher != PlatformPublisher {
		return nil, fmt.Errorf("registry: the platform key is publisher %q's, want %q", key.Publisher, PlatformPublisher)
	}
	if err := r.ensurePlatform(ctx, tenantID, key); err != nil {
		return nil, err
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "*", ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("registry: install %s: %w", dir, err)
	}
	slices.Sort(manifests)
	var (
		installed []*store.ModuleVersion
		errs      []error
	)
	for _, mf := range manifests {
		folder := filepath.Dir(mf)
		v, err := r.installSigned(ctx, tenantID, folder, mf, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("registry: install %s: %w", folder, err))
			continue
		}
		installed = append(installed, v)
	}
	return installed, errors.Join(errs...)
}

// ensurePlatform creates the platform publisher in the tenant unless it
// exists, and registers key unless it is registered.
func (r *Registry) ensurePlatform(ctx context.Context, tenantID string, key *signing.PrivateKey) error {
	p, err := r.store.PublisherGet(ctx, PlatformPublisher)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := r.CreatePublisher(ctx, tenantID, PlatformPublisher, &CreatePublisherOpts{Platform: true}); err != nil &&
			!errors.Is(err, store.ErrConflict) { // another process made it first
			return err
		}
	case err != nil:
		return fmt.Errorf("registry: platform publisher: %w", err)
	case p.TenantID != tenantID:
		return fmt.Errorf("registry: publisher %q belongs to another tenant", PlatformPublisher)
	}
	_, err = r.store.PublisherKeyGet(ctx, PlatformPublisher, key.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		_, err = r.RegisterKey(ctx, tenantID, PlatformPublisher, &KeyParams{
			PublicKey: signing.EncodePublicKey(key.Public()), Proof: key.Prove(),
		})
		if errors.Is(err, store.ErrConflict) {
			err = nil // another process registered it first
		}
	}
	if err != nil {
		return fmt.Errorf("registry: platform key %s: %w", key.KeyID, err)
	}
	return nil
}

func (r *Registry) installSigned(ctx context.Context, tenantID, folder, manifestPath string, key *signing.PrivateKey) (*store.ModuleVersion, error) {
	module, manifest, err := r.readFolder(folder, manifestPath)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	env, err := key.Sign(signing.Subject{Name: m.Name, Version: m.Version, Wasm: module, Manifest: manifest}, r.now())
	if err != nil {
		return nil, err
	}
	v, _, err := r.Upload(ctx, tenantID, &UploadParams{Module: module, Manifest: manifest, Signature: env.Marshal()})
	if err != nil {
		return nil, err
	}
	if _, err := r.Publish(ctx, tenantID, v.Name, v.Version, ""); err != nil {
		return nil, err
	}
	return v, nil
}

// readFolder reads the one .wasm of a module folder and its manifest.
func (r *Registry) readFolder(folder, manifestPath string) (module, manifest []byte, err error) {
	wasms, err := filepath.Glob(filepath.Join(folder, "*.wasm"))
	if err != nil {
		return nil, nil, err
	}
	if len(wasms) != 1 {
		return nil, nil, fmt.Errorf("want one .wasm file beside %s, found %d", ManifestFile, len(wasms))
	}
	if manifest, err = readCapped(manifestPath, r.maxManifestBytes); err != nil {
		return nil, nil, err
	}
	if module, err = readCapped(wasms[0], r.maxModuleBytes); err != nil {
		return nil, nil, err
	}
	return module, manifest, nil
}

func (r *Registry) installFolder(ctx context.Context, tenantID, folder, manifestPath string) (*store.ModuleVersion, error) {
	module, manifest, err := r.readFolder(folder, manifestPath)
	if err != nil {
		return nil, err
	}
	v, _, err := r.Upload(ctx, tenantID, &UploadParams{Module: module, Manifest: manifest})
	return v, err
}

// readCapped reads a file, but no more than one byte past limit: enough for
// Upload to refuse it as too large without reading all of a huge file.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the directory
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only: closing cannot lose data
	return io.ReadAll(io.LimitReader(f, limit+1))
}
