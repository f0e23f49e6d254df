package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/nodekit"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
)

// newNodeKitCmds are the developer kit's commands: init, build, test, inspect.
func newNodeKitCmds() []*cobra.Command {
	return []*cobra.Command{newNodeInitCmd(), newNodeBuildCmd(), newNodeTestCmd(), newNodeInspectCmd()}
}

func newNodeInitCmd() *cobra.Command {
	var lang, dir string
	cmd := &cobra.Command{
		Use:   "init --lang go|c|rust|assemblyscript <owner/name>",
		Short: "Make a new node project: source on the language's SDK, wasmflow.json, Makefile, testdata",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if dir == "" {
				_, dir, _ = strings.Cut(name, "/")
			}
			files, err := nodekit.Init(nodekit.InitParams{Dir: dir, Language: lang, Name: name})
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "created %s (%s) in %s:\n", name, lang, dir)
			for _, f := range files {
				fmt.Fprintf(&b, "  %s\n", f)
			}
			fmt.Fprintf(&b, "next: cd %s && wasmflow node build && wasmflow node test\n", dir)
			_, err = io.WriteString(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "", "language: "+strings.Join(nodekit.Languages(), ", "))
	cmd.Flags().StringVar(&dir, "dir", "", "project directory (default: the name after the slash)")
	_ = cmd.MarkFlagRequired("lang")
	return cmd
}

func newNodeBuildCmd() *cobra.Command {
	var lang string
	cmd := &cobra.Command{
		Use:   "build [dir]",
		Short: "Build the node project in dir (default .) into <name>.wasm with its language's toolchain",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := nodekit.Build(cmd.Context(), dirArg(args), &nodekit.BuildOpts{Language: lang, Output: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			info, err := os.Stat(path)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "built %s (%d bytes)\n", path, info.Size())
			return err
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "", "language, when the project's files do not say: "+strings.Join(nodekit.Languages(), ", "))
	return cmd
}

func newNodeTestCmd() *cobra.Command {
	var (
		opts        nodekit.TestOpts
		secretsFile string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "test [dir]",
		Short: "Run the built module on every testdata/*.input.json, offline, as the server would, and compare with *.output.json",
		Long: `Runs the project's module without a server, in the platform's sandbox with its
default limits, on every testdata/NAME.input.json, and compares the output with
testdata/NAME.output.json (or, with testdata/NAME.error.txt, expects a failure
saying that text). HTTP requests are answered from testdata/http/*.json; a
request without a fixture fails its case. Exits 1 when a case fails.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if secretsFile != "" {
				secrets, err := nodekit.ReadSecretsFile(secretsFile)
				if err != nil {
					return err
				}
				opts.Secrets = secrets
			}
			report, err := nodekit.Test(cmd.Context(), dirArg(args), &opts)
			if err != nil {
				return err
			}
			if err := writeReport(cmd.OutOrStdout(), asJSON, report, report.WriteText); err != nil {
				return err
			}
			if report.Failed > 0 {
				return fmt.Errorf("node test: %d of %d case(s) failed", report.Failed, len(report.Cases))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Update, "update", false, "write each case's output as its expected output")
	cmd.Flags().StringVar(&secretsFile, "secrets", "", "JSON file of the secrets the module reads: {\"name\": \"value\"}")
	cmd.Flags().StringVar(&opts.Wasm, "wasm", "", "module to test (default: the project's <name>.wasm)")
	cmd.Flags().StringSliceVar(&opts.Cases, "run", nil, "run only these cases (names of testdata/NAME.input.json)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func newNodeInspectCmd() *cobra.Command {
	var (
		manifestPath string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "inspect <file.wasm>",
		Short: "Describe a module for review: ABI, exports, imports and the capabilities they need, memory, size, sha256",
		Long: `Describes a module without running it. With a manifest (--manifest, or the
wasmflow.json beside the file) it also makes every check an upload makes.
Exits 1 when the module has a problem: an import nothing provides, a refused
one, or one whose capability the manifest does not declare.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			manifest, err := readInspectManifest(args[0], manifestPath)
			if err != nil {
				return err
			}
			rt, err := runtime.New(cmd.Context(), runtime.Config{})
			if err != nil {
				return err
			}
			defer func() { _ = rt.Close(cmd.Context()) }()
			report, err := nodekit.Inspect(cmd.Context(), rt, wasm, manifest)
			if err != nil {
				return err
			}
			if err := writeReport(cmd.OutOrStdout(), asJSON, report, report.WriteText); err != nil {
				return err
			}
			if len(report.Problems) > 0 {
				return fmt.Errorf("node inspect: %s has %d problem(s)", args[0], len(report.Problems))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manifestPath, "manifest", "", "manifest to check the module against (default: the wasmflow.json beside the file, if any)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// readInspectManifest reads the manifest named, or the one beside the module; nil when there is none.
func readInspectManifest(wasmPath, manifestPath string) ([]byte, error) {
	if manifestPath != "" {
		return os.ReadFile(manifestPath) //nolint:gosec // the user names it
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(wasmPath), registry.ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "."
}

// writeReport writes v as indented JSON (printJSON), or as text.
func writeReport(w io.Writer, asJSON bool, v any, text func(io.Writer) error) error {
	if asJSON {
		return printJSON(w, v)
	}
	return text(w)
}
