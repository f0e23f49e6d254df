package nodekit

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmflow/wasmflow/registry"
)

// templates are the new projects: common/ for every language, then the
// language's own folder. Every file ends in .tmpl, so that no Go file of a
// template is built as part of this module; the guest SDKs in them are
// copies of plugins-examples/sdk (make nodekit-sdk; a test keeps them equal).
//
//go:embed template
var templates embed.FS

// InitParams is one new project.
type InitParams struct {
	// Dir is the project's directory: created, or empty.
	Dir string
	// Language is one of Languages().
	Language string
	// Name is the module's name, owner/name (lower case).
	Name string
}

// Init writes a new node project into p.Dir: the source of a small node
// (it greets every item) on the language's SDK, carried in the project so
// that it builds offline, a wasmflow.json, a Makefile with the commands
// `wasmflow node build` runs, testdata/ with input documents and their
// expected outputs, a README and a .gitignore. It returns the files
// written, relative to p.Dir and sorted. It refuses a directory that holds
// anything, so it never overwrites a file.
func Init(p InitParams) ([]string, error) {
	lang, err := LanguageByName(p.Language)
	if err != nil {
		return nil, err
	}
	if !registry.ValidName(p.Name) {
		return nil, fmt.Errorf("nodekit: %q is not a module name: want owner/name, lower case (letters, digits, '-'; the name may also hold '.' and '_')", p.Name)
	}
	if p.Dir == "" {
		return nil, errors.New("nodekit: init: a directory is required")
	}
	entries, err := os.ReadDir(p.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("nodekit: init: %w", err)
	case len(entries) > 0:
		return nil, fmt.Errorf("nodekit: init: %s is not empty", p.Dir)
	}

	owner, short, _ := strings.Cut(p.Name, "/")
	fill := strings.NewReplacer(
		"@@NAME@@", p.Name, "@@SHORT@@", short, "@@ABI@@", lang.ABI, "@@ENTRY@@", lang.Entry,
		"@@PKG@@", owner+"-"+short,
	)
	files := map[string][]byte{"Makefile": []byte(lang.makefile(short + ".wasm"))}
	for _, root := range []string{"template/common", "template/" + lang.Name} {
		err := fs.WalkDir(templates, root, func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := templates.ReadFile(name)
			if err != nil {
				return err
			}
			rel := strings.TrimSuffix(strings.TrimPrefix(name, root+"/"), ".tmpl")
			if rel == "gitignore" {
				rel = ".gitignore"
			}
			files[rel] = []byte(fill.Replace(string(data)))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("nodekit: init: template: %w", err)
		}
	}

	written := make([]string, 0, len(files))
	for rel := range files {
		written = append(written, rel)
	}
	slices.Sort(written)
	for _, rel := range written {
		dst := filepath.Join(p.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil { //nolint:gosec // G301: a source tree, not secrets
			return nil, fmt.Errorf("nodekit: init: %w", err)
		}
		if err := os.WriteFile(dst, files[rel], 0o644); err != nil { //nolint:gosec // G306: project sources, not secrets
			return nil, fmt.Errorf("nodekit: init: %w", err)
		}
	}
	return written, nil
}
