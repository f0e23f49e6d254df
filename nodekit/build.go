package nodekit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ToolchainError is a build that could not start: a tool it needs is
// missing. It names the tool and what installs it.
type ToolchainError struct {
	Language string
	Tool     Tool
}

func (e *ToolchainError) Error() string {
	name := e.Tool.Command
	if name == "" {
		name = e.Tool.Files
	}
	return fmt.Sprintf("nodekit: building %s needs %s (%s), which is missing: install it with %s",
		e.Language, e.Tool.What, name, e.Tool.Install)
}

// BuildOpts are a build's settings; nil is all defaults.
type BuildOpts struct {
	// Language overrides the language DetectLanguage finds.
	Language string
	// Output receives the build commands and their output. Defaults to discarding.
	Output io.Writer
	// LookPath finds a command on PATH (or checks an absolute path).
	// Defaults to exec.LookPath.
	LookPath func(string) (string, error)
	// Glob finds the files a toolchain installs. Defaults to filepath.Glob.
	Glob func(string) ([]string, error)
}

// Build builds the project in dir into <name>.wasm beside its
// wasmflow.json (name being the part of the manifest's name after the
// slash) and returns that file's path. It checks the toolchain first: a
// missing tool is a *ToolchainError naming the package that provides it,
// not an error from exec. A failing command is an error that quotes the
// command; its output went to opts.Output.
func Build(ctx context.Context, dir string, opts *BuildOpts) (string, error) {
	if opts == nil {
		opts = &BuildOpts{}
	}
	out := opts.Output
	if out == nil {
		out = io.Discard
	}
	lookPath, glob := opts.LookPath, opts.Glob
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if glob == nil {
		glob = filepath.Glob
	}
	p, err := OpenProject(dir)
	if err != nil {
		return "", err
	}
	var lang *Language
	if opts.Language != "" {
		lang, err = LanguageByName(opts.Language)
	} else {
		lang, err = DetectLanguage(p.Dir)
	}
	if err != nil {
		return "", err
	}
	if t := lang.missing(lookPath, glob); t != nil {
		return "", &ToolchainError{Language: lang.Name, Tool: *t}
	}
	srcs, err := sources(p.Dir)
	if err != nil {
		return "", fmt.Errorf("nodekit: build: %w", err)
	}
	wasm := filepath.Base(p.WasmPath())
	for _, s := range lang.Steps {
		if s.Unless != "" {
			if _, err := os.Stat(filepath.Join(p.Dir, s.Unless)); err == nil {
				continue
			}
		}
		args := expand(s.Args, p.Dir, wasm, srcs)
		env := expand(s.Env, p.Dir, wasm, srcs)
		if _, err := fmt.Fprintf(out, "$ %s\n", strings.Join(quoteAll(append(env[:len(env):len(env)], args...)), " ")); err != nil {
			return "", fmt.Errorf("nodekit: build: %w", err)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...) //nolint:gosec // the language's own build commands
		cmd.Dir = p.Dir
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("nodekit: build: %s: %w (install the %s toolchain: %s)", args[0], err, lang.Name, lang.Tools[0].Install)
			}
			return "", fmt.Errorf("nodekit: build: %s: %w", strings.Join(args, " "), err)
		}
	}
	if _, err := os.Stat(p.WasmPath()); err != nil {
		return "", fmt.Errorf("nodekit: build: the build made no %s: %w", wasm, err)
	}
	return p.WasmPath(), nil
}
