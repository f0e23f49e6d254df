package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/store"
)

func newSecretsCmd(logs *logConfig) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the encryption of stored secrets",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRotateKeyCmd(logs))
	return cmd
}

func newRotateKeyCmd(logs *logConfig) *cobra.Command {
	cfg := storeConfig{}
	var tenants []string
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Make a new master key current and re-wrap every secret's data key with it",
		Long: "With the key file (<data-dir>/" + vault.KeyFileName + "), adds a new random master key, makes it current " +
			"(older keys stay in the file) and re-wraps every secret of every tenant with it.\n\n" +
			"With " + vault.EnvMasterKey + ", the environment holds the keys: put the new key in " + vault.EnvMasterKey +
			" and the old one in " + vault.EnvMasterKeyPrevious + " (comma-separated if several), run this, then restart the servers " +
			"with the new key; " + vault.EnvMasterKeyPrevious + " can go once this has finished.\n\n" +
			"Values are not decrypted or re-encrypted, only their data keys. Safe to run again after a failure.\n\n" +
			"Every tenant is re-wrapped, or only those named with --tenant.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, logs, cfg, func(ctx context.Context, st store.Store) error {
				return rotate(ctx, st, cfg, tenants, cmd.OutOrStdout())
			})
		},
	}
	addStoreFlags(cmd, &cfg)
	cmd.Flags().StringSliceVar(&tenants, "tenant", nil, "re-wrap only these tenants (names); default: every tenant")
	return cmd
}

// rotationKeyring loads the master keys and makes a new one current: in the
// key file, or, with the environment, by checking that it names a new key
// and an old one.
func rotationKeyring(cfg storeConfig, lookup func(string) (string, bool)) (*vault.Keyring, error) {
	kr, fromEnv, err := vault.FromEnv(lookup)
	if err != nil {
		return nil, err
	}
	if fromEnv {
		if prev, _ := lookup(vault.EnvMasterKeyPrevious); prev == "" {
			return nil, fmt.Errorf("rotate-key: with %s set, put the new key there and the old one in %s", vault.EnvMasterKey, vault.EnvMasterKeyPrevious)
		}
		return kr, nil
	}
	kr, err = vault.LoadFile(filepath.Join(cfg.DataDir, vault.KeyFileName))
	if err != nil {
		return nil, fmt.Errorf("rotate-key: %w", err)
	}
	if _, err := kr.Rotate(); err != nil {
		return nil, fmt.Errorf("rotate-key: %w", err)
	}
	return kr, nil
}

// rotate finds the tenants (before any key changes), rotates the key and
// re-wraps their secrets.
func rotate(ctx context.Context, st store.Store, cfg storeConfig, names []string, out io.Writer) error {
	var tenants []string
	switch {
	case len(names) > 0:
		for _, name := range names {
			tn, err := st.TenantGetByName(ctx, name)
			if err != nil {
				return fmt.Errorf("rotate-key: --tenant %q: %w", name, err)
			}
			tenants = append(tenants, tn.ID)
		}
	default:
		all, err := st.TenantList(ctx)
		if err != nil {
			return fmt.Errorf("rotate-key: list tenants: %w", err)
		}
		for _, tn := range all {
			tenants = append(tenants, tn.ID)
		}
	}
	kr, err := rotationKeyring(cfg, os.LookupEnv)
	if err != nil {
		return err
	}
	return rewrapAll(ctx, st, kr, tenants, out)
}

// rewrapAll re-wraps every secret of the tenants not yet under the current
// key, printing a line per tenant and a summary.
func rewrapAll(ctx context.Context, st store.Store, kr *vault.Keyring, tenants []string, out io.Writer) error {
	current := kr.CurrentKeyID()
	_, _ = fmt.Fprintf(out, "current master key: %s\n", current)
	var rewrapped, unchanged int
	for _, tenantID := range tenants {
		n, same, err := rewrapTenant(ctx, st, kr, tenantID)
		rewrapped, unchanged = rewrapped+n, unchanged+same
		if err != nil {
			return fmt.Errorf("rotate-key: tenant %s: %w (%d secrets re-wrapped so far; run again to finish)", tenantID, err, rewrapped)
		}
		_, _ = fmt.Fprintf(out, "tenant %s: %d re-wrapped, %d already current\n", tenantID, n, same)
	}
	_, _ = fmt.Fprintf(out, "done: %d secrets re-wrapped with key %s, %d already were, in %d tenants\n", rewrapped, current, unchanged, len(tenants))
	return nil
}

func rewrapTenant(ctx context.Context, st store.Store, kr *vault.Keyring, tenantID string) (rewrapped, unchanged int, err error) {
	current := kr.CurrentKeyID()
	page := store.Page{Limit: 200}
	for {
		secrets, next, err := st.SecretList(ctx, tenantID, page)
		if err != nil {
			return rewrapped, unchanged, err
		}
		for _, sec := range secrets {
			if sec.KeyID == current {
				unchanged++
				continue
			}
			wk, id, err := kr.Rewrap(tenantID, sec.Name, sec.WrappedKey, sec.KeyID)
			if err != nil {
				return rewrapped, unchanged, fmt.Errorf("secret %s: %w", sec.Name, err)
			}
			sec.WrappedKey, sec.KeyID = wk, id
			if _, err := st.SecretUpdate(ctx, tenantID, sec); err != nil {
				return rewrapped, unchanged, fmt.Errorf("secret %s: %w", sec.Name, err)
			}
			rewrapped++
		}
		if next == "" {
			return rewrapped, unchanged, nil
		}
		page.Cursor = next
	}
}
