package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/client"
	"github.com/wasmflow/wasmflow/registry/signing"
)

func newNodePushCmd() *cobra.Command {
	var files moduleFiles
	var cf clientFlags
	var sigFile string
	var unsigned bool
	cmd := &cobra.Command{
		Use:   "push [DIR] [--signature FILE]",
		Short: "Upload a node module (and its signature) to the server",
		Long: "Uploads the module in DIR (default: the current directory) with its manifest and, when there is one, " +
			"its signature (--signature, default DIR/" + defaultSignatureFile + " if it exists; --unsigned sends none) " +
			"into your tenant. The server checks everything again and refuses a bad module or signature, naming why. " +
			"On a terminal a progress line shows the upload.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if unsigned && sigFile != "" {
				return errors.New("give --signature or --unsigned, not both")
			}
			m, err := files.load(args)
			if err != nil {
				return err
			}
			p := &client.UploadParams{Module: m.module, Manifest: m.manifest}
			if !unsigned {
				explicit := sigFile != ""
				if !explicit {
					sigFile = filepath.Join(m.dir, defaultSignatureFile)
				}
				p.Signature, err = readSmallFile(sigFile, signing.MaxEnvelopeBytes)
				switch {
				case errors.Is(err, fs.ErrNotExist) && !explicit:
					sigFile = ""
				case err != nil:
					return fmt.Errorf("--signature: %w", err)
				}
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			var progress *progressLine
			if stderrIsTerminal(cmd) {
				progress = newProgressLine(cmd.ErrOrStderr(), "pushing "+m.ref())
				p.Progress = progress.update
			}
			v, created, err := c.NodeUpload(cmd.Context(), p)
			if progress != nil {
				progress.done()
			}
			if err != nil {
				return fmt.Errorf("push %s: %w", m.ref(), err)
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), struct {
					*client.NodeVersion
					Created bool `json:"created"`
				}{v, created})
			}
			return printPushed(cmd, v, created, sigFile)
		},
	}
	addModuleFileFlags(cmd, &files)
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&sigFile, "signature", "", "the signature file (default: DIR/"+defaultSignatureFile+" when it exists)")
	cmd.Flags().BoolVar(&unsigned, "unsigned", false, "upload without a signature")
	return cmd
}

// printPushed is the final line of a push, and what the server concluded
// about the signature.
func printPushed(cmd *cobra.Command, v *client.NodeVersion, created bool, sigFile string) error {
	what := "pushed"
	if !created {
		what = "already there, unchanged:"
	}
	out := cmd.OutOrStdout()
	_, err := fmt.Fprintf(out, "%s %s@%s %s (%s)\n", what, v.Name, v.Version, v.Digest, formatBytes(v.Size))
	if err != nil {
		return err
	}
	switch {
	case v.Signature == nil && sigFile == "":
		_, err = fmt.Fprintln(out, "signature: none")
	case v.Signature == nil:
		_, err = fmt.Fprintf(out, "signature: %s sent\n", sigFile)
	case v.Signature.Status == "verified":
		_, err = fmt.Fprintf(out, "signature: verified, publisher %s, key %s\n", v.Signature.Publisher, v.Signature.KeyID)
	default:
		_, err = fmt.Fprintf(out, "signature: %s\n", v.Signature.Status)
	}
	return err
}
