package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

func newNodeSignCmd() *cobra.Command {
	var files moduleFiles
	var keyFile, out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sign [DIR] --key FILE",
		Short: "Sign a node module with a publisher key",
		Long: "Signs the module in DIR (default: the current directory; its wasmflow.json and .wasm) with the key file " +
			"written by `wasmflow keys generate`: an Ed25519 signature over the publisher, the module's name and version, " +
			"the sha256 of the wasm and of the manifest, the key id and the time. The signature is a separate file " +
			"(--out, default DIR/" + defaultSignatureFile + "); the wasm bytes stay untouched. The module's name must be " +
			"in the key's publisher's namespace (publisher acme signs acme/*). `wasmflow node push` uploads it.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := files.load(args)
			if err != nil {
				return err
			}
			k, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			env, err := k.Sign(m.subject(), time.Now())
			if err != nil {
				return fmt.Errorf("sign %s: %w", m.ref(), err)
			}
			if out == "" {
				out = filepath.Join(m.dir, defaultSignatureFile)
			}
			if err := os.WriteFile(out, env.Marshal(), 0o644); err != nil { //nolint:gosec // G306: a signature is public
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"signature_file": out, "statement": env.Statement})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "signed %s with %s (%s)\n  wasm     %s sha256:%s\n  manifest %s sha256:%s\n  signature %s\n",
				m.ref(), k.KeyID, k.Publisher, m.modulePath, env.Statement.WasmSHA256, m.manifestPath, env.Statement.ManifestSHA256, out)
			return err
		},
	}
	addModuleFileFlags(cmd, &files)
	cmd.Flags().StringVar(&keyFile, "key", "", "the private key file (required)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the signature (default: DIR/"+defaultSignatureFile+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
