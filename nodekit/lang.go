package nodekit

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmflow/wasmflow/workflow"
)

// Language is a guest language the kit makes and builds projects in.
type Language struct {
	// Name is how --lang names it: "go", "c", "rust", "assemblyscript".
	Name string
	// ABI and Entry are what a new project's manifest says.
	ABI, Entry string
	// Tools are what the build needs, each checked before it runs.
	Tools []Tool
	// Steps are the build's commands, run in order in the project directory.
	Steps []Step
	// marker is the file that says a directory is a project in this language.
	marker string
}

// Tool is one thing a build needs: a command on PATH (or at an absolute
// path), or files a package installs (a glob that must match).
type Tool struct {
	// Command is a program name or an absolute path; "" when Files is set.
	Command string
	// Files is a glob of files the package installs (a library, a sysroot).
	Files string
	// What says what it is, for the message: "the wasm32-wasi C library".
	What string
	// Install says what provides it: "apt-get install clang".
	Install string
}

// Step is one command of a build. In Args and Env, {dir} is the project's
// absolute directory, {out} the module's file name and {sources} the
// sources (the sorted *.c files, for C).
type Step struct {
	Args []string
	Env  []string
	// Unless skips the step when this file exists in the project (npm ci
	// once node_modules is there).
	Unless string
}

// aptInstall is the install hint of Debian packages.
func aptInstall(pkgs ...string) string {
	return "apt-get install " + strings.Join(pkgs, " ") + " (all guest toolchains: make -C plugins-examples install-toolchains)"
}

// Debian packages of each toolchain (/work/shared FACTS, plugins-examples/Makefile).
var (
	cPackages    = []string{"clang", "lld", "wasi-libc", "libclang-rt-14-dev-wasm32"}
	rustPackages = []string{"rustc", "libstd-rust-dev-wasm32"}
	npmPackages  = []string{"nodejs", "npm"}
)

// rustc is Debian's compiler: a rustup rustc on PATH has no wasm32-wasi
// standard library unless its owner added the target.
const rustc = "/usr/bin/rustc"

// languages are the kit's languages, in the order help lists them.
var languages = []*Language{
	{
		Name: "go", ABI: workflow.ABIExtism, Entry: "run", marker: "go.mod",
		Tools: []Tool{{Command: "go", What: "the Go toolchain (1.26 or newer)", Install: "Go 1.26 from https://go.dev/dl/ (Debian's golang package is older)"}},
		Steps: []Step{{
			// Reproducible: no VCS stamp, no local paths, no workspace, no
			// toolchain download (a project needs no network to build).
			Env:  []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local"},
			Args: []string{"go", "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", "{out}", "."},
		}},
	},
	{
		Name: "c", ABI: workflow.ABIExtism, Entry: "run", marker: "*.c",
		Tools: []Tool{
			{Command: "clang", What: "clang", Install: aptInstall(cPackages...)},
			{Command: "wasm-ld", What: "the wasm linker (lld)", Install: aptInstall(cPackages...)},
			{Files: "/usr/include/wasm32-wasi/stdlib.h", What: "the wasm32-wasi C library", Install: aptInstall(cPackages...)},
			{Files: "/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a", What: "clang's wasm32 runtime library", Install: aptInstall(cPackages...)},
		},
		Steps: []Step{{Args: []string{"clang", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-std=c11",
			"-Wall", "-Wextra", "-Werror", "-ffile-prefix-map={dir}=.", "-Wl,--strip-debug", "-Isdk", "-o", "{out}", "{sources}"}}},
	},
	{
		Name: "rust", ABI: workflow.ABIWASICommand, Entry: "_start", marker: "main.rs",
		Tools: []Tool{
			{Command: rustc, What: "Debian's rustc", Install: aptInstall(rustPackages...)},
			{Files: "/usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib", What: "the wasm32-wasi Rust standard library", Install: aptInstall(rustPackages...)},
		},
		Steps: []Step{{Args: []string{rustc, "--edition", "2021", "--target", "wasm32-wasi", "-O", "-C", "strip=symbols",
			"-C", "codegen-units=1", "--remap-path-prefix={dir}=.", "main.rs", "-o", "{out}"}}},
	},
	{
		Name: "assemblyscript", ABI: workflow.ABIExtism, Entry: "run", marker: "package.json",
		Tools: []Tool{
			{Command: "node", What: "Node.js", Install: aptInstall(npmPackages...)},
			{Command: "npm", What: "npm", Install: aptInstall(npmPackages...)},
		},
		Steps: []Step{
			// The lockfile pins every package: the npm registry is the only network used.
			{Args: []string{"npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"}, Unless: "node_modules/.bin/asc"},
			{Args: []string{"node_modules/.bin/asc", "assembly/index.ts", "--outFile", "{out}",
				"--use", "abort=assembly/wasmflow/wasmflow/abort", "--optimize", "--noAssert"}},
		},
	},
}

// Languages returns the names of the kit's languages.
func Languages() []string {
	names := make([]string, 0, len(languages))
	for _, l := range languages {
		names = append(names, l.Name)
	}
	return names
}

// LanguageByName returns the language called name.
func LanguageByName(name string) (*Language, error) {
	for _, l := range languages {
		if l.Name == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("nodekit: unknown language %q (one of %s)", name, strings.Join(Languages(), ", "))
}

// DetectLanguage says which language the project in dir is written in, by
// its files: go.mod (Go), package.json (AssemblyScript), main.rs (Rust), a
// *.c file (C), checked in that order.
func DetectLanguage(dir string) (*Language, error) {
	order := []string{"go", "assemblyscript", "rust", "c"}
	for _, name := range order {
		l, _ := LanguageByName(name)
		matches, err := filepath.Glob(filepath.Join(dir, l.marker))
		if err != nil {
			return nil, fmt.Errorf("nodekit: %w", err)
		}
		if len(matches) > 0 {
			return l, nil
		}
	}
	return nil, fmt.Errorf("nodekit: %s has no go.mod, package.json, main.rs or *.c file: not a node project (wasmflow node init makes one)", dir)
}

// sources are the project's C files, sorted.
func sources(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.c"))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(files))
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	slices.Sort(out)
	return out, nil
}

// expand fills a step's placeholders for a build in dir.
func expand(args []string, dir, out string, srcs []string) []string {
	var res []string
	for _, a := range args {
		if a == "{sources}" {
			res = append(res, srcs...)
			continue
		}
		res = append(res, strings.NewReplacer("{dir}", dir, "{out}", out).Replace(a))
	}
	return res
}

// makefile renders the language's build as the project's Makefile: the
// same commands `wasmflow node build` runs, for those who build without it.
func (l *Language) makefile(out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Builds %s: the commands `wasmflow node build` runs (which also checks the\n", out)
	b.WriteString("# toolchain first and names the package that provides a missing one).\n")
	b.WriteString(".PHONY: build\nbuild:\n")
	for _, s := range l.Steps {
		line := strings.Join(quoteAll(expand(s.Args, "$(CURDIR)", out, []string{"$(wildcard *.c)"})), " ")
		if len(s.Env) > 0 {
			line = strings.Join(s.Env, " ") + " " + line
		}
		if s.Unless != "" {
			line = "test -e " + s.Unless + " || " + line
		}
		b.WriteString("\t" + line + "\n")
	}
	return b.String()
}

// quoteAll quotes arguments a shell would split.
func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"\\;&|<>*?") && !strings.HasPrefix(a, "$(") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// missing returns the first tool the build lacks, if any.
func (l *Language) missing(lookPath func(string) (string, error), glob func(string) ([]string, error)) *Tool {
	for i := range l.Tools {
		t := &l.Tools[i]
		if t.Command != "" {
			if _, err := lookPath(t.Command); err != nil {
				return t
			}
		}
		if t.Files != "" {
			if m, err := glob(t.Files); err != nil || len(m) == 0 {
				return t
			}
		}
	}
	return nil
}

// Missing returns the first tool a build in the language would lack on
// this machine, or nil when it has them all.
func (l *Language) Missing() *Tool {
	return l.missing(exec.LookPath, filepath.Glob)
}
