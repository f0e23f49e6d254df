package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
)

// Caps on the files the node commands read; the server's own caps are
// smaller, so these only stop a mistaken path from filling memory.
const (
	maxModuleFileBytes   = 256 << 20
	maxManifestFileBytes = 1 << 20
)

// defaultSignatureFile is where `node sign` writes and `node push` looks.
const defaultSignatureFile = "node.sig"

// moduleFiles say where a node's files are: a directory holding
// wasmflow.json and its .wasm, or each file named.
type moduleFiles struct {
	module, manifest string
}

func addModuleFileFlags(cmd *cobra.Command, f *moduleFiles) {
	cmd.Flags().StringVar(&f.module, "module", "", "the .wasm file (default: the one .wasm in DIR, or the one named after the module)")
	cmd.Flags().StringVar(&f.manifest, "manifest", "", "the manifest (default: DIR/"+registry.ManifestFile+")")
}

// localModule is a node module read from disk.
type localModule struct {
	dir                      string
	modulePath, manifestPath string
	module, manifest         []byte
	name, version            string
}

func (m *localModule) subject() signing.Subject {
	return signing.Subject{Name: m.name, Version: m.version, Wasm: m.module, Manifest: m.manifest}
}

// ref is name@version.
func (m *localModule) ref() string { return m.name + "@" + m.version }

// load reads the manifest and module of the node in dir (args[0], or the
// current directory) and checks the manifest.
func (f *moduleFiles) load(args []string) (*localModule, error) {
	m := &localModule{dir: "."}
	if len(args) > 0 {
		m.dir = args[0]
	}
	m.manifestPath = f.manifest
	if m.manifestPath == "" {
		m.manifestPath = filepath.Join(m.dir, registry.ManifestFile)
	}
	var err error
	if m.manifest, err = readSmallFile(m.manifestPath, maxManifestFileBytes); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	// The server checks the manifest again; checking it here says what is
	// wrong before anything is signed or sent.
	mf, err := registry.ParseManifest(m.manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.manifestPath, err)
	}
	m.name, m.version = mf.Name, mf.Version
	if m.modulePath = f.module; m.modulePath == "" {
		if m.modulePath, err = findWasm(m.dir, m.name); err != nil {
			return nil, err
		}
	}
	if m.module, err = readSmallFile(m.modulePath, maxModuleFileBytes); err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	return m, nil
}

// findWasm picks the module file in dir: the only .wasm there, or else the
// one named after the module ("acme/hash" → hash.wasm).
func findWasm(dir, name string) (string, error) {
	wasms, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return "", err
	}
	if len(wasms) == 1 {
		return wasms[0], nil
	}
	_, base, _ := strings.Cut(name, "/")
	named := filepath.Join(dir, base+".wasm")
	for _, w := range wasms {
		if w == named {
			return w, nil
		}
	}
	if len(wasms) == 0 {
		return "", fmt.Errorf("no .wasm file in %s: build the node first, or name it with --module", dir)
	}
	return "", fmt.Errorf("%d .wasm files in %s and none is %s.wasm: name one with --module", len(wasms), dir, base)
}

// readSmallFile reads a whole file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the user names the file
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return data, nil
}

// writeNewFile writes a file that must not exist yet.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm) //nolint:gosec // G304: the user names the file
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: not overwriting it", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// jsonBytes is v as indented JSON and a newline.
func jsonBytes(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
