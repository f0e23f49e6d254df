package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/client"
	"github.com/wasmflow/wasmflow/registry/signing"
)

// maxKeyFileBytes caps a key file read; a real one is under 300 bytes.
const maxKeyFileBytes = 64 << 10

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage a publisher's signing keys",
		Long: "A publisher (acme) owns the module names acme/*, and signs its modules with Ed25519 keys it registers " +
			"with the server. `keys generate` makes a key pair locally, `keys register` registers its public half, " +
			"`keys revoke` stops every module it signed from running.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeysGenerateCmd(), newKeysRegisterCmd(), newKeysListCmd(), newKeysRevokeCmd())
	return cmd
}

// keyFileNames are the files of a publisher's key: the private key file
// and the public half beside it. The key id's colon stays out of the name.
func keyFileNames(dir string, k *signing.PrivateKey) (private, public string) {
	base := k.Publisher + "-" + strings.TrimPrefix(k.KeyID, "ed25519:")
	return filepath.Join(dir, base+".key"), filepath.Join(dir, base+".pub.json")
}

func newKeysGenerateCmd() *cobra.Command {
	var publisher, out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "generate --publisher NAME",
		Short: "Make a new signing key for a publisher",
		Long: "Writes <publisher>-<key id>.key (the private key, mode 0600: whoever reads it signs as the publisher) " +
			"and <publisher>-<key id>.pub.json (the public half, to share) into --out, and prints the key id. " +
			"Register it with `wasmflow keys register`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := signing.GenerateKey(publisher)
			if err != nil {
				return fmt.Errorf("--publisher: %w", err)
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			private, public := keyFileNames(out, k)
			pub, err := jsonBytes(k.PublicFile())
			if err != nil {
				return err
			}
			// O_EXCL: a key file is never overwritten.
			if err := writeNewFile(private, k.Marshal(), 0o600); err != nil {
				return err
			}
			if err := writeNewFile(public, pub, 0o644); err != nil {
				return errors.Join(err, os.Remove(private))
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]string{
					"publisher": k.Publisher, "key_id": k.KeyID, "key_file": private, "public_key_file": public,
				})
			}
			say(cmd, "private key: %s (keep it secret)\npublic key:  %s", private, public)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), k.KeyID)
			return err
		},
	}
	cmd.Flags().StringVar(&publisher, "publisher", "", "the publisher the key signs for (required)")
	cmd.Flags().StringVar(&out, "out", ".", "directory for the key files")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	_ = cmd.MarkFlagRequired("publisher")
	return cmd
}

func newKeysRegisterCmd() *cobra.Command {
	var cf clientFlags
	var keyFile, notBefore, notAfter string
	var createPublisher bool
	cmd := &cobra.Command{
		Use:   "register --key FILE",
		Short: "Register a key's public half with its publisher on the server",
		Long: "Sends the public key with a proof of possession (a signature made with the private key), so nobody can " +
			"register a key they do not hold. --not-before and --not-after (RFC 3339) bound when the key may sign. " +
			"--create-publisher first creates the publisher in your tenant when it has none of that name.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			p := &client.KeyRegisterParams{PublicKey: signing.EncodePublicKey(k.Public()), Proof: k.Prove()}
			if p.NotBefore, err = parseOptionalTime("--not-before", notBefore); err != nil {
				return err
			}
			if p.NotAfter, err = parseOptionalTime("--not-after", notAfter); err != nil {
				return err
			}
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if createPublisher {
				if err := ensurePublisher(cmd, c, k.Publisher); err != nil {
					return err
				}
			}
			key, err := c.KeyRegister(ctx, k.Publisher, p)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), key)
			}
			return printKeys(cmd, []client.PublisherKey{*key})
		},
	}
	addClientFlags(cmd, &cf)
	cmd.Flags().StringVar(&keyFile, "key", "", "the private key file written by `keys generate` (required)")
	cmd.Flags().StringVar(&notBefore, "not-before", "", "the key may sign from this time on (RFC 3339)")
	cmd.Flags().StringVar(&notAfter, "not-after", "", "the key may sign until this time (RFC 3339)")
	cmd.Flags().BoolVar(&createPublisher, "create-publisher", false, "create the key's publisher first if your tenant has none of that name")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

// ensurePublisher creates the publisher unless the tenant owns it already.
func ensurePublisher(cmd *cobra.Command, c *client.Client, name string) error {
	owned, err := c.PublisherList(cmd.Context())
	if err != nil {
		return err
	}
	for _, p := range owned {
		if p.Name == name {
			return nil
		}
	}
	if _, err := c.PublisherCreate(cmd.Context(), name); err != nil {
		return err
	}
	say(cmd, "created publisher %s", name)
	return nil
}

func newKeysListCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "list PUBLISHER",
		Short: "List a publisher's registered keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			keys, err := c.KeyList(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), keys)
			}
			return printKeys(cmd, keys)
		},
	}
	addClientFlags(cmd, &cf)
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "revoke PUBLISHER KEY_ID",
		Short: "Revoke a publisher's key",
		Long:  "From now on every module version signed with the key fails verification: new runs of it stop with an error naming the key.",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient()
			if err != nil {
				return err
			}
			key, err := c.KeyRevoke(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), key)
			}
			return printKeys(cmd, []client.PublisherKey{*key})
		},
	}
	addClientFlags(cmd, &cf)
	return cmd
}

func printKeys(cmd *cobra.Command, keys []client.PublisherKey) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "KEY ID\tPUBLISHER\tNOT BEFORE\tNOT AFTER\tREVOKED")
	for _, k := range keys {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.KeyID, k.Publisher, timeOrDash(k.NotBefore), timeOrDash(k.NotAfter), timeOrDash(k.RevokedAt))
	}
	return tw.Flush()
}

func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func parseOptionalTime(flag, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: want an RFC 3339 time such as 2027-01-01T00:00:00Z", flag, s)
	}
	return &t, nil
}

// readPrivateKey reads a key file written by `keys generate`, refusing one
// that others may read, as ssh does: whoever reads it signs as the publisher.
func readPrivateKey(path string) (*signing.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--key %s: others may read this private key: chmod 600 %s", path, path)
	}
	data, err := readSmallFile(path, maxKeyFileBytes)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	k, err := signing.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", path, err)
	}
	return k, nil
}
