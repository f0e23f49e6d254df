package nodekit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/workflow"
)

// Project is a node project: a directory with a wasmflow.json.
type Project struct {
	// Dir is the project's absolute directory.
	Dir string
	// Manifest is wasmflow.json, checked as an upload would check it;
	// ManifestBytes its bytes as written.
	Manifest      *workflow.Manifest
	ManifestBytes []byte
}

// OpenProject reads and checks the manifest of the project in dir. A
// manifest the registry would refuse is its *registry.Error, every problem
// named.
func OpenProject(dir string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(abs, registry.ManifestFile)) //nolint:gosec // the developer names the project
	if err != nil {
		return nil, fmt.Errorf("nodekit: %s is not a node project: %w", abs, err)
	}
	m, err := registry.ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("nodekit: %s: %w", filepath.Join(abs, registry.ManifestFile), err)
	}
	return &Project{Dir: abs, Manifest: m, ManifestBytes: raw}, nil
}

// WasmPath is where the project's module is built: <name>.wasm beside
// wasmflow.json, name being the part of the module's name after the slash
// (the folder layout `wasmflow serve --examples-dir` installs from).
func (p *Project) WasmPath() string {
	_, short, _ := strings.Cut(p.Manifest.Name, "/")
	return filepath.Join(p.Dir, short+".wasm")
}
