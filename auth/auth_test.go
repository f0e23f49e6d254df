package auth_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "auth.db")})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(t.Context()))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestNewAPIKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		key, prefix, hash := auth.NewAPIKey()
		require.Len(t, key, 46)
		require.True(t, strings.HasPrefix(key, "wf_"))
		for _, c := range key[3:] {
			require.True(t, '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z', key)
		}
		require.Equal(t, key[:11], prefix)
		sum := sha256.Sum256([]byte(key))
		require.Equal(t, sum[:], hash)
		require.Equal(t, hash, auth.HashAPIKey(key))
		require.False(t, seen[key])
		seen[key] = true
	}
}

func TestRoleAtLeast(t *testing.T) {
	t.Parallel()
	order := []string{auth.RoleViewer, auth.RoleRunner, auth.RoleEditor, auth.RoleAdmin, auth.RoleOwner}
	for i, have := range order {
		require.True(t, auth.ValidRole(have))
		for j, need := range order {
			require.Equal(t, i >= j, auth.RoleAtLeast(have, need), "%s vs %s", have, need)
		}
		require.False(t, auth.RoleAtLeast(have, "superuser"))
		require.False(t, auth.RoleAtLeast("superuser", have))
		require.False(t, auth.RoleAtLeast(have, ""))
		require.False(t, auth.RoleAtLeast(strings.ToUpper(have), have))
	}
	require.False(t, auth.ValidRole(""))
	require.False(t, auth.ValidRole("Owner"))
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := t.Context()
	tn, err := st.TenantInsert(ctx, "acme")
	require.NoError(t, err)
	insert := func(role string, mod func(*store.APIKeyInsertParams)) (string, *store.APIKey) {
		key, prefix, hash := auth.NewAPIKey()
		p := &store.APIKeyInsertParams{Name: "k", Role: role, Prefix: prefix, Hash: hash}
		if mod != nil {
			mod(p)
		}
		rec, err := st.APIKeyInsert(ctx, tn.ID, p)
		require.NoError(t, err)
		return key, rec
	}

	key, rec := insert(auth.RoleEditor, nil)
	p, err := auth.Authenticate(ctx, st, key)
	require.NoError(t, err)
	require.Equal(t, &auth.Principal{TenantID: tn.ID, KeyID: rec.ID, Role: auth.RoleEditor, Actor: "api_key:" + rec.ID}, p)

	future := time.Now().Add(time.Hour)
	adminKey, _ := insert(auth.RoleOwner, func(p *store.APIKeyInsertParams) { p.PlatformAdmin = true; p.ExpiresAt = &future })
	p, err = auth.Authenticate(ctx, st, adminKey)
	require.NoError(t, err)
	require.True(t, p.PlatformAdmin)

	revoked, revokedRec := insert(auth.RoleOwner, nil)
	require.NoError(t, st.APIKeyRevoke(ctx, tn.ID, revokedRec.ID))
	past := time.Now().Add(-time.Second)
	expired, _ := insert(auth.RoleOwner, func(p *store.APIKeyInsertParams) { p.ExpiresAt = &past })
	unknown, _, _ := auth.NewAPIKey()

	for name, bearer := range map[string]string{
		"empty":       "",
		"no prefix":   key[3:],
		"short":       key[:45],
		"long":        key + "a",
		"bad digit":   key[:45] + "-",
		"other shape": "wf_" + strings.Repeat("!", 43),
		"unknown":     unknown,
		"revoked":     revoked,
		"expired":     expired,
	} {
		p, err := auth.Authenticate(ctx, st, bearer)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
		require.Nil(t, p, name)
	}

	// A store that cannot answer is an error, not a refusal.
	require.NoError(t, st.Close())
	_, err = auth.Authenticate(ctx, st, key)
	require.Error(t, err)
	require.NotErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestPrincipalContext(t *testing.T) {
	t.Parallel()
	_, ok := auth.FromContext(context.Background())
	require.False(t, ok)
	want := &auth.Principal{TenantID: "tn_1", Role: auth.RoleViewer}
	got, ok := auth.FromContext(auth.NewContext(context.Background(), want))
	require.True(t, ok)
	require.Same(t, want, got)
	_, ok = auth.FromContext(auth.NewContext(context.Background(), nil))
	require.False(t, ok)
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := t.Context()

	key, created, err := auth.Bootstrap(ctx, st)
	require.NoError(t, err)
	require.True(t, created)
	p, err := auth.Authenticate(ctx, st, key)
	require.NoError(t, err)
	require.Equal(t, auth.RoleOwner, p.Role)
	require.True(t, p.PlatformAdmin)
	tn, err := st.TenantGetByName(ctx, auth.DefaultTenant)
	require.NoError(t, err)
	require.Equal(t, tn.ID, p.TenantID)

	// Once is enough: later starts do nothing.
	again, created, err := auth.Bootstrap(ctx, st)
	require.NoError(t, err)
	require.False(t, created)
	require.Empty(t, again)
	n, err := st.TenantCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	keys, _, err := st.APIKeyList(ctx, tn.ID, store.Page{})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, key[:11], keys[0].Prefix)
}

func TestBootstrapFinishesAnInterruptedStart(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := t.Context()
	// A start that died after creating the tenant, before its key.
	_, err := st.TenantInsert(ctx, auth.DefaultTenant)
	require.NoError(t, err)
	key, created, err := auth.Bootstrap(ctx, st)
	require.NoError(t, err)
	require.True(t, created)
	_, err = auth.Authenticate(ctx, st, key)
	require.NoError(t, err)
}

func TestBootstrapLeavesConfiguredStoresAlone(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	_, err := st.TenantInsert(t.Context(), "acme")
	require.NoError(t, err)
	key, created, err := auth.Bootstrap(t.Context(), st)
	require.NoError(t, err)
	require.False(t, created)
	require.Empty(t, key)
	_, err = st.TenantGetByName(t.Context(), auth.DefaultTenant)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestBootstrapConcurrent(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	var wg sync.WaitGroup
	keys := make([]string, 4)
	errs := make([]error, 4)
	for i := range keys {
		wg.Go(func() { keys[i], _, errs[i] = auth.Bootstrap(t.Context(), st) })
	}
	wg.Wait()
	made := 0
	for i := range keys {
		require.NoError(t, errs[i])
		if keys[i] != "" {
			made++
			_, err := auth.Authenticate(t.Context(), st, keys[i])
			require.NoError(t, err)
		}
	}
	require.GreaterOrEqual(t, made, 1)
	n, err := st.TenantCount(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestBootstrapStoreFailure(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	require.NoError(t, st.Close())
	_, created, err := auth.Bootstrap(t.Context(), st)
	require.Error(t, err)
	require.False(t, created)
}
