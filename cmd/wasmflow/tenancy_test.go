package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
)

// runRootIn runs the CLI with stdin.
func runRootIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestTenantUserAPIKeyCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := runRoot(t, "migrate", "--data-dir", dir)
	require.NoError(t, err)

	out, err := runRoot(t, "tenant", "create", "acme", "--data-dir", dir)
	require.NoError(t, err)
	require.Regexp(t, `^tn_[0-9a-z]{26}\tacme\n$`, out)
	tenantID := strings.Fields(out)[0]
	_, err = runRoot(t, "tenant", "create", "acme", "--data-dir", dir)
	require.ErrorContains(t, err, "exists")

	// A new user needs a password, read from stdin.
	_, err = runRoot(t, "user", "add", "--email", "ada@example.com", "--tenant", "acme", "--role", "owner", "--data-dir", dir)
	require.ErrorContains(t, err, "--password-stdin")
	out, err = runRootIn(t, "a long enough password\n", "user", "add", "--email", "Ada@Example.com", "--tenant", "acme",
		"--role", "owner", "--password-stdin", "--data-dir", dir)
	require.NoError(t, err)
	require.Contains(t, out, "ada@example.com\tacme\towner")
	_, err = runRootIn(t, "short\n", "user", "add", "--email", "bob@example.com", "--tenant", "acme", "--password-stdin", "--data-dir", dir)
	require.ErrorIs(t, err, auth.ErrPasswordLength)
	_, err = runRoot(t, "user", "add", "--email", "ada@example.com", "--tenant", "acme", "--role", "viewer", "--data-dir", dir)
	require.ErrorContains(t, err, "member of acme already")
	_, err = runRoot(t, "user", "add", "--email", "ada@example.com", "--tenant", "nope", "--data-dir", dir)
	require.ErrorContains(t, err, `no tenant "nope"`)
	_, err = runRoot(t, "user", "add", "--email", "ada@example.com", "--tenant", "acme", "--role", "root", "--data-dir", dir)
	require.ErrorContains(t, err, "--role")

	// An API key, by tenant id, printed once.
	out, err = runRoot(t, "apikey", "create", "--tenant", tenantID, "--role", "admin", "--name", "ops", "--data-dir", dir)
	require.NoError(t, err)
	key := strings.TrimSpace(out)
	require.Regexp(t, `^wf_[0-9A-Za-z]{43}$`, key)

	st, err := openStore(context.Background(), storeConfig{DataDir: dir}, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	p, err := auth.Authenticate(context.Background(), st, key)
	require.NoError(t, err)
	require.Equal(t, tenantID, p.TenantID)
	require.Equal(t, auth.RoleAdmin, p.Role)
	require.False(t, p.PlatformAdmin)
	u, err := st.UserGetByEmail(context.Background(), "ada@example.com")
	require.NoError(t, err)
	ok, err := auth.VerifyPassword("a long enough password", u.PasswordHash)
	require.NoError(t, err)
	require.True(t, ok)
}
