package registry_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	digests := map[string]string{}
	// Uploaded out of order: resolution goes by semver, not upload order.
	for _, v := range []string{"1.2.0", "1.0.0", "2.0.0-beta.1", "1.2.3", "1.10.0", "0.9.0", "1.3.0-rc.1", "2.1.0-alpha"} {
		wasm := "guest.wasm"
		if v == "1.2.3" {
			wasm = "bigmem.wasm" // another digest
		}
		mv := e.upload(t, e.tenant, wasm, manifest(t, "version", v, "description", "v"+v))
		digests[v] = mv.Digest
	}
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/pre", "version", "0.1.0-alpha"))

	for _, tc := range []struct{ ref, want string }{
		{"acme/guest@1.2.0", "1.2.0"},
		{"acme/guest@2.0.0-beta.1", "2.0.0-beta.1"}, // a pre-release, asked for exactly
		{"acme/guest", "1.10.0"},                    // newest release
		{"acme/guest@^1", "1.10.0"},
		{"acme/guest@^1.2", "1.10.0"},
		{"acme/guest@~1.2", "1.2.3"},
		{"acme/guest@~1.2.0", "1.2.3"},
		{"acme/guest@1.2.x", "1.2.3"},
		{"acme/guest@>=1.0 <1.3", "1.2.3"},
		{"acme/guest@>=1.0, <1.3", "1.2.3"},
		{"acme/guest@<1", "0.9.0"},
		{"acme/guest@^0.9", "0.9.0"},
		{"acme/guest@*", "1.10.0"},
		{"acme/guest@=1.0.0", "1.0.0"},
		{"acme/guest@ ^1 ", "1.10.0"},
		{"acme/guest@^1 || ^2", "1.10.0"},       // no 2.x release; pre-releases not asked for
		{"acme/guest@>=2.0.0-0", "2.1.0-alpha"}, // a constraint naming a pre-release admits them
		{"acme/guest@^2.0.0-0", "2.1.0-alpha"},
		{"acme/guest@~1.3.0-0", "1.3.0-rc.1"},
		{"acme/pre@0.1.0-alpha", "0.1.0-alpha"},
	} {
		res, err := e.reg.Resolve(t.Context(), e.tenant, tc.ref)
		require.NoError(t, err, tc.ref)
		name, _, _ := registry.ParseRef(tc.ref)
		require.Equal(t, name, res.Name, tc.ref)
		require.Equal(t, tc.want, res.Version, tc.ref)
		if res.Name == "acme/guest" {
			require.Equal(t, digests[tc.want], res.Digest, tc.ref)
			require.Equal(t, "v"+tc.want, res.Manifest.Description, tc.ref)
		}
		require.Equal(t, tc.want, res.Manifest.Version)
	}

	for _, tc := range []struct{ ref, contains string }{
		{"acme/guest@3.0.0", "acme/guest has no version 3.0.0; versions: 2.1.0-alpha, 2.0.0-beta.1, 1.10.0, 1.3.0-rc.1, 1.2.3, 1.2.0, 1.0.0, 0.9.0"},
		{"acme/missing@1.0.0", "no module acme/missing"},
		{"acme/guest@^3", `no version matches "^3"; versions: 2.1.0-alpha, 2.0.0-beta.1, 1.10.0, 1.3.0-rc.1, 1.2.3, 1.2.0, 1.0.0, 0.9.0`},
		{"acme/guest@~1.3", `no version matches "~1.3"`}, // 1.3.0-rc.1 is not asked for
		{"acme/missing", "no module acme/missing"},
		{"acme/missing@^1", "no module acme/missing"},
		{"acme/pre", "no release (only pre-releases, which must be asked for explicitly)"},
		{"acme/pre@^0.1", `no version matches "^0.1"`},
	} {
		_, err := e.reg.Resolve(t.Context(), e.tenant, tc.ref)
		require.ErrorIs(t, err, store.ErrNotFound, tc.ref)
		require.Contains(t, err.Error(), tc.contains, tc.ref)
		_, isRefusal := errors.AsType[*registry.Error](err)
		require.False(t, isRefusal)
		// The message alone, for showing to the reference's author.
		nf, ok := errors.AsType[*registry.NotFoundError](err)
		require.True(t, ok, tc.ref)
		require.Equal(t, tc.ref, nf.Ref)
		require.Contains(t, nf.Message, tc.contains, tc.ref)
		require.NotContains(t, nf.Message, "registry:", tc.ref)
		require.NotContains(t, nf.Message, store.ErrNotFound.Error(), tc.ref)
	}

	for _, ref := range []string{"", "acme", "Acme/Guest@1", "acme/guest@", "acme/guest@not-a-version", "acme/guest@^1.0.0.0", "acme/guest@1.0.0@2", "acme/guest@>=1 <2 junk", "/guest@1", "acme/guest@" + string(make([]byte, 200))} {
		_, err := e.reg.Resolve(t.Context(), e.tenant, ref)
		re := refusal(t, err, registry.CodeRefInvalid)
		require.Equal(t, []string{"ref"}, fields(re), ref)
	}
}

func TestResolveManyVersionsMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 12 {
		e.upload(t, e.tenant, "guest.wasm", manifest(t, "version", "1.0."+itoa(i)))
	}
	_, err := e.reg.Resolve(t.Context(), e.tenant, "acme/guest@^2")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Contains(t, err.Error(), "versions: 1.0.11, 1.0.10, 1.0.9, 1.0.8, 1.0.7, 1.0.6, 1.0.5, 1.0.4, 1.0.3, 1.0.2, and 2 more")
	// An exact version that is missing lists them the same way.
	_, err = e.reg.Resolve(t.Context(), e.tenant, "acme/guest@2.0.0")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Contains(t, err.Error(), "acme/guest has no version 2.0.0; versions: 1.0.11, 1.0.10, 1.0.9, 1.0.8, 1.0.7, 1.0.6, 1.0.5, 1.0.4, 1.0.3, 1.0.2, and 2 more")
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	name, rng, err := registry.ParseRef("wasmflow/set-fields@^1")
	require.NoError(t, err)
	require.Equal(t, "wasmflow/set-fields", name)
	require.Equal(t, "^1", rng)
	name, rng, err = registry.ParseRef("wasmflow/hash")
	require.NoError(t, err)
	require.Equal(t, "wasmflow/hash", name)
	require.Empty(t, rng)
}

// A store failure while resolving is not a refusal nor a not-found.
func TestResolveStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, e.store.Close())
	for _, ref := range []string{"acme/guest", "acme/guest@1.0.0"} {
		_, err := e.reg.Resolve(t.Context(), e.tenant, ref)
		require.Error(t, err)
		require.NotErrorIs(t, err, store.ErrNotFound)
	}
}
