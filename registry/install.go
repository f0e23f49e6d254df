package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

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

func (r *Registry) installFolder(ctx context.Context, tenantID, folder, manifestPath string) (*store.ModuleVersion, error) {
	wasms, err := filepath.Glob(filepath.Join(folder, "*.wasm"))
	if err != nil {
		return nil, err
	}
	if len(wasms) != 1 {
		return nil, fmt.Errorf("want one .wasm file beside %s, found %d", ManifestFile, len(wasms))
	}
	manifest, err := readCapped(manifestPath, r.maxManifestBytes)
	if err != nil {
		return nil, err
	}
	module, err := readCapped(wasms[0], r.maxModuleBytes)
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
