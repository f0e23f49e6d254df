package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/client"
	"github.com/wasmflow/wasmflow/registry/signing"
)

// serverFromConfig is --server given without a value: the server comes from
// WASMFLOW_SERVER, the config file or the default. It is no URL, so no
// server is mistaken for it.
const serverFromConfig = "configured"

func newNodeVerifyCmd() *cobra.Command {
	var files moduleFiles
	var cf clientFlags
	var sigFile, pubFile string
	cmd := &cobra.Command{
		Use:   "verify [DIR] --signature FILE (--public-key FILE | --server[=URL])",
		Short: "Check a node module's signature",
		Long: "Checks that the signature describes exactly the module in DIR (name, version, wasm and manifest bytes) and " +
			"that the key it names made it: with --public-key, the .pub.json file of `wasmflow keys generate`, offline; " +
			"with --server, the key the publisher registered there, which must also be unrevoked and valid when the " +
			"module was signed. --server alone takes the server from WASMFLOW_SERVER or the config file; " +
			"--server=URL names it.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			useServer := cmd.Flags().Changed("server")
			if useServer == (pubFile != "") {
				return errors.New("give either --public-key FILE or --server")
			}
			m, err := files.load(args)
			if err != nil {
				return err
			}
			if sigFile == "" {
				sigFile = filepath.Join(m.dir, defaultSignatureFile)
			}
			env, err := readEnvelope(sigFile)
			if err != nil {
				return err
			}
			if err := env.Statement.Matches(m.subject()); err != nil {
				return fmt.Errorf("%s does not sign %s: %w", sigFile, m.ref(), err)
			}
			var pub ed25519.PublicKey
			var from string
			if useServer {
				if cf.server == serverFromConfig {
					cf.server = os.Getenv(envName("server"))
				}
				c, err := cf.newClient()
				if err != nil {
					return err
				}
				if pub, err = registeredKey(cmd.Context(), c, &env.Statement); err != nil {
					return err
				}
				from = "registered at " + c.Server()
			} else {
				if pub, err = readPublicKey(pubFile, env.Statement.Publisher); err != nil {
					return err
				}
				from = pubFile
			}
			if err := env.Verify(pub); err != nil {
				return fmt.Errorf("%s: %w", sigFile, err)
			}
			st := env.Statement
			if cf.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"verified": true, "key": from, "statement": st})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "verified %s: signed by %s with %s (%s) at %s\n",
				m.ref(), st.Publisher, st.KeyID, from, st.SignedAt.Format(time.RFC3339))
			return err
		},
	}
	addModuleFileFlags(cmd, &files)
	cmd.Flags().StringVar(&sigFile, "signature", "", "the signature file (default: DIR/"+defaultSignatureFile+")")
	cmd.Flags().StringVar(&pubFile, "public-key", "", "the publisher's .pub.json file: verify offline")
	cmd.Flags().StringVar(&cf.server, "server", "", "verify with the key registered on the server (alone: the configured server; or --server=URL)")
	cmd.Flags().Lookup("server").NoOptDefVal = serverFromConfig
	addAuthFlags(cmd, &cf)
	return cmd
}

func readEnvelope(path string) (*signing.Envelope, error) {
	data, err := readSmallFile(path, signing.MaxEnvelopeBytes)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	env, err := signing.ParseEnvelope(data)
	if err != nil {
		return nil, fmt.Errorf("signature %s: %w", path, err)
	}
	return env, nil
}

// readPublicKey reads a .pub.json file and checks that it is the
// publisher's and that its id is its key's.
func readPublicKey(path, publisher string) (ed25519.PublicKey, error) {
	data, err := readSmallFile(path, maxKeyFileBytes)
	if err != nil {
		return nil, fmt.Errorf("--public-key: %w", err)
	}
	var f signing.PublicKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("--public-key %s: not a public key file: %w", path, err)
	}
	pub, err := signing.ParsePublicKey(f.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("--public-key %s: %w", path, err)
	}
	if f.KeyID != "" && f.KeyID != signing.KeyID(pub) {
		return nil, fmt.Errorf("--public-key %s: key_id %s is not the key's (%s)", path, f.KeyID, signing.KeyID(pub))
	}
	if f.Publisher != publisher {
		return nil, fmt.Errorf("--public-key %s is publisher %q's key, the signature is by %q", path, f.Publisher, publisher)
	}
	return pub, nil
}

// registeredKey finds the key the statement names among those its
// publisher registered, and checks that the key could sign at SignedAt and
// is not revoked.
func registeredKey(ctx context.Context, c *client.Client, st *signing.Statement) (ed25519.PublicKey, error) {
	keys, err := c.KeyList(ctx, st.Publisher)
	if err != nil {
		return nil, fmt.Errorf("keys of publisher %s: %w", st.Publisher, err)
	}
	for _, k := range keys {
		if k.KeyID != st.KeyID {
			continue
		}
		switch {
		case k.RevokedAt != nil:
			return nil, fmt.Errorf("key %s of %s was revoked at %s", k.KeyID, st.Publisher, k.RevokedAt.Format(time.RFC3339))
		case k.NotBefore != nil && st.SignedAt.Before(*k.NotBefore):
			return nil, fmt.Errorf("key %s of %s is valid from %s, the module was signed at %s", k.KeyID, st.Publisher,
				k.NotBefore.Format(time.RFC3339), st.SignedAt.Format(time.RFC3339))
		case k.NotAfter != nil && st.SignedAt.After(*k.NotAfter):
			return nil, fmt.Errorf("key %s of %s was valid until %s, the module was signed at %s", k.KeyID, st.Publisher,
				k.NotAfter.Format(time.RFC3339), st.SignedAt.Format(time.RFC3339))
		}
		pub, err := signing.ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("the server's key %s: %w", k.KeyID, err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("publisher %s has registered no key %s", st.Publisher, st.KeyID)
}
