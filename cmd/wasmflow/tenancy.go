package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// withStore runs fn on the configured store and closes it.
func withStore(cmd *cobra.Command, logs *logConfig, cfg storeConfig, fn func(ctx context.Context, st store.Store) error) error {
	logger, err := logs.newLogger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	st, err := openStore(cmd.Context(), cfg, logger)
	if err != nil {
		return err
	}
	return errors.Join(fn(cmd.Context(), st), st.Close())
}

// tenantByName finds a tenant by name or id.
func tenantByName(ctx context.Context, st store.Store, nameOrID string) (*store.Tenant, error) {
	t, err := st.TenantGetByName(ctx, nameOrID)
	if errors.Is(err, store.ErrNotFound) && strings.HasPrefix(nameOrID, "tn_") {
		t, err = st.TenantGet(ctx, nameOrID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no tenant %q", nameOrID)
	}
	return t, err
}

func newTenantCmd(logs *logConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants", Args: cobra.NoArgs}
	cfg := storeConfig{}
	create := &cobra.Command{
		Use:   "create <name>",
		Short: "Create a tenant",
		Long:  "Creates a tenant and prints its id. Give it members with `wasmflow user add` or keys with `wasmflow apikey create`.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, logs, cfg, func(ctx context.Context, st store.Store) error {
				t, err := st.TenantInsert(ctx, args[0])
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("a tenant named %q exists", args[0])
				}
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", t.ID, t.Name)
				return err
			})
		},
	}
	addStoreFlags(create, &cfg)
	cmd.AddCommand(create)
	return cmd
}

func newUserCmd(logs *logConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users", Args: cobra.NoArgs}
	cfg := storeConfig{}
	var email, tenant, role string
	var passwordStdin bool
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a user to a tenant, creating the user if needed",
		Long: "Adds the user with --email to --tenant with --role. A new user needs a password: " +
			"--password-stdin reads it from the first line of standard input (never from a flag, which other users could see).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !auth.ValidRole(role) {
				return fmt.Errorf("--role %q: one of owner, admin, editor, runner, viewer", role)
			}
			var password string
			if passwordStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			return withStore(cmd, logs, cfg, func(ctx context.Context, st store.Store) error {
				t, err := tenantByName(ctx, st, tenant)
				if err != nil {
					return err
				}
				email := strings.ToLower(strings.TrimSpace(email))
				u, err := st.UserGetByEmail(ctx, email)
				switch {
				case errors.Is(err, store.ErrNotFound):
					if !passwordStdin {
						return fmt.Errorf("no user %s: pass --password-stdin to create one", email)
					}
					hash, err := auth.HashPassword(password)
					if err != nil {
						return err
					}
					if u, err = st.UserInsert(ctx, email, hash); err != nil {
						return err
					}
				case err != nil:
					return err
				case passwordStdin:
					return fmt.Errorf("user %s exists: omit --password-stdin to add them", email)
				}
				if _, err := st.MembershipInsert(ctx, t.ID, u.ID, role); err != nil {
					if errors.Is(err, store.ErrConflict) {
						return fmt.Errorf("%s is a member of %s already", email, t.Name)
					}
					return err
				}
				if err := st.AuditInsert(ctx, t.ID, &store.AuditEntry{Actor: "system", Action: "member.add", Resource: u.ID}); err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s\n", u.ID, u.Email, t.Name, role)
				return err
			})
		},
	}
	addStoreFlags(add, &cfg)
	add.Flags().StringVar(&email, "email", "", "the user's email (required)")
	add.Flags().StringVar(&tenant, "tenant", "", "the tenant, by name or id (required)")
	add.Flags().StringVar(&role, "role", auth.RoleViewer, "owner, admin, editor, runner or viewer")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read a new user's password from standard input")
	_ = add.MarkFlagRequired("email")
	_ = add.MarkFlagRequired("tenant")
	cmd.AddCommand(add)
	return cmd
}

func newAPIKeyCmd(logs *logConfig) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage API keys", Args: cobra.NoArgs}
	cfg := storeConfig{}
	var tenant, role, name string
	var expiresIn time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key in a tenant and print it",
		Long:  "Prints the new key (wf_…) once on standard output; the store keeps only its hash.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !auth.ValidRole(role) {
				return fmt.Errorf("--role %q: one of owner, admin, editor, runner, viewer", role)
			}
			if expiresIn < 0 {
				return errors.New("--expires-in is negative")
			}
			return withStore(cmd, logs, cfg, func(ctx context.Context, st store.Store) error {
				t, err := tenantByName(ctx, st, tenant)
				if err != nil {
					return err
				}
				key, prefix, hash := auth.NewAPIKey()
				p := &store.APIKeyInsertParams{Name: name, Role: role, Prefix: prefix, Hash: hash}
				if expiresIn > 0 {
					at := time.Now().Add(expiresIn)
					p.ExpiresAt = &at
				}
				k, err := st.APIKeyInsert(ctx, t.ID, p)
				if err != nil {
					return err
				}
				if err := st.AuditInsert(ctx, t.ID, &store.AuditEntry{Actor: "system", Action: "api_key.create", Resource: k.ID}); err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), key)
				return err
			})
		},
	}
	addStoreFlags(create, &cfg)
	create.Flags().StringVar(&tenant, "tenant", "", "the tenant, by name or id (required)")
	create.Flags().StringVar(&role, "role", "", "owner, admin, editor, runner or viewer (required)")
	create.Flags().StringVar(&name, "name", "cli", "a label for the key")
	create.Flags().DurationVar(&expiresIn, "expires-in", 0, "the key stops working after this long (e.g. 720h); 0: never")
	_ = create.MarkFlagRequired("tenant")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}
