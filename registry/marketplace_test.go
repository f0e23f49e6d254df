package registry_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// uploadSigned uploads guest.wasm as name@version signed by key, with the
// manifest's extra key/value pairs.
func (e *env) uploadSigned(t *testing.T, tenant string, key *signing.PrivateKey, name, version string, kv ...any) *store.ModuleVersion {
	t.Helper()
	wasm := fixture(t, "guest.wasm")
	mf := manifest(t, append([]any{"name", name, "version", version}, kv...)...)
	v, _, err := e.reg.Upload(t.Context(), tenant, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, key, name, version, wasm, mf)})
	require.NoError(t, err)
	return v
}

// Only a tenant owning the namespace's publisher publishes, only signed
// versions it has, and only once with the same bytes.
func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	e.uploadSigned(t, e.tenant, key, "acme/x", "1.0.0", "description", "from the manifest")
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/unsigned"))
	e.upload(t, e.tenantB, "guest.wasm", manifest(t, "name", "initech/x"))

	for _, tc := range []struct {
		tenant, name string
	}{
		{e.tenantB, "acme/x"},    // another tenant's publisher
		{e.tenantB, "initech/x"}, // no such publisher
	} {
		_, err := e.reg.Publish(ctx, tc.tenant, tc.name, "1.0.0", "")
		re := refusal(t, err, registry.CodePublisherNotFound)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Equal(t, []string{"body.name"}, fields(re), tc.name)
	}

	_, err := e.reg.Publish(ctx, e.tenant, "acme/x", "9.9.9", "")
	re := refusal(t, err, "not_found")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Equal(t, []string{"body.version"}, fields(re))
	require.Contains(t, re.Problems[0].Message, "upload it first")

	_, err = e.reg.Publish(ctx, e.tenant, "acme/unsigned", "1.0.0", "")
	re = refusal(t, err, registry.CodeSignatureRequired)
	require.Equal(t, []string{"body.version"}, fields(re))
	_, err = e.reg.CatalogEntry(ctx, "acme/unsigned")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Published: the description defaults to the manifest's; again, a no-op.
	entry, err := e.reg.Publish(ctx, e.tenant, "acme/x", "1.0.0", "")
	require.NoError(t, err)
	require.Equal(t, "from the manifest", entry.Module.Description)
	require.Equal(t, "acme", entry.Module.Publisher)
	require.Len(t, entry.Versions, 1)
	require.Equal(t, registry.StatusVerified, entry.Versions[0].Signature.Status)
	require.Equal(t, key.KeyID, entry.Versions[0].Signature.KeyID)
	again, err := e.reg.Publish(ctx, e.tenant, "acme/x", "1.0.0", "")
	require.NoError(t, err)
	require.Len(t, again.Versions, 1)
	require.Equal(t, 1, again.Module.Versions)

	// The same version in the catalog with other bytes (stored bytes of
	// the tenant, as the catalog keeps only those).
	otherBytes := e.upload(t, e.tenant, "secret_get.wasm", manifest(t, "name", "acme/y", "capabilities", map[string]any{"secrets": []string{"token"}}))
	cv := *entry.Versions[0].Version
	cv.Version, cv.Digest = "2.0.0", otherBytes.Digest
	_, _, err = e.store.CatalogPublish(ctx, e.tenant, &store.CatalogPublishParams{Publisher: "acme", Version: &cv})
	require.NoError(t, err)
	e.uploadSigned(t, e.tenant, key, "acme/x", "2.0.0")
	_, err = e.reg.Publish(ctx, e.tenant, "acme/x", "2.0.0", "")
	re = refusal(t, err, registry.CodeVersionImmutable)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Equal(t, []string{"body.version"}, fields(re))

	// A version signed by a key revoked since is not published.
	e.uploadSigned(t, e.tenant, key, "acme/x", "3.0.0")
	_, err = e.reg.RevokeKey(ctx, e.tenant, "acme", key.KeyID)
	require.NoError(t, err)
	_, err = e.reg.Publish(ctx, e.tenant, "acme/x", "3.0.0", "")
	re = refusal(t, err, registry.CodeSignatureKeyRevoked)
	require.Equal(t, []string{"body.version"}, fields(re))

	// The catalog shows the published version's signature as revoked now.
	entry, err = e.reg.CatalogEntry(ctx, "acme/x")
	require.NoError(t, err)
	require.Equal(t, registry.StatusRevoked, entry.Versions[0].Signature.Status)
}

// The catalog is searched by name and description, a page at a time.
func TestSearchCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	for _, m := range []struct{ name, description string }{
		{"acme/alpha", "Parses CSV files"},
		{"acme/beta", "sends e-mail"},
		{"acme/gamma", "csv to JSON"},
	} {
		e.uploadSigned(t, e.tenant, key, m.name, "1.0.0",
			"capabilities", map[string]any{"secrets": []string{"token"}})
		_, err := e.reg.Publish(ctx, e.tenant, m.name, "1.0.0", m.description)
		require.NoError(t, err)
	}
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "acme/private")) // not published

	first, next, err := e.reg.SearchCatalog(ctx, "", store.Page{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"acme/alpha", "acme/beta"}, entryNames(first))
	require.NotEmpty(t, next)
	require.Len(t, first[0].Versions, 1)
	require.Equal(t, []string{"token"}, first[0].Versions[0].Capabilities.Secrets)
	require.Equal(t, registry.StatusVerified, first[0].Versions[0].Signature.Status)
	rest, next, err := e.reg.SearchCatalog(ctx, "", store.Page{Limit: 2, Cursor: next})
	require.NoError(t, err)
	require.Equal(t, []string{"acme/gamma"}, entryNames(rest))
	require.Empty(t, next)

	for query, want := range map[string][]string{
		"csv":      {"acme/alpha", "acme/gamma"},
		"MAIL":     {"acme/beta"},
		"acme/gam": {"acme/gamma"},
		"private":  {},
		"nothing":  {},
	} {
		got, next, err := e.reg.SearchCatalog(ctx, query, store.Page{})
		require.NoError(t, err)
		require.Empty(t, next)
		require.Equal(t, want, entryNames(got), query)
	}

	_, _, err = e.reg.SearchCatalog(ctx, "", store.Page{Cursor: "not a cursor"})
	require.Error(t, err)
}

func entryNames(es []*registry.CatalogEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Module.Name)
	}
	return out
}

// Only the publishing tenant yanks; a yanked version is neither installed
// nor run, nor uploaded again with its bytes; an install without a version
// takes the newest release not yanked.
func TestYankAndInstall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	for _, version := range []string{"1.0.0", "1.1.0", "1.2.0-rc.1"} {
		e.uploadSigned(t, e.tenant, key, "acme/x", version)
		_, err := e.reg.Publish(ctx, e.tenant, "acme/x", version, "")
		require.NoError(t, err)
	}
	install := func(version string) (*registry.Installed, error) {
		return e.reg.Install(ctx, e.tenantB, &registry.InstallParams{Name: "acme/x", Version: version, Actor: "user:b"})
	}

	_, err := e.reg.Install(ctx, e.tenantB, &registry.InstallParams{Name: "acme/nothing"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = install("9.9.9")
	require.ErrorIs(t, err, store.ErrNotFound)

	inst, err := install("")
	require.NoError(t, err)
	require.Equal(t, "1.1.0", inst.Version.Version, "the newest release, not the prerelease")
	require.True(t, inst.Covered)
	require.Equal(t, store.SourceMarketplace, inst.Version.Source)
	_, err = e.reg.Authorize(ctx, e.tenantB, inst.Version)
	require.NoError(t, err)

	_, err = e.reg.Yank(ctx, e.tenantB, "acme/x", "1.1.0", "not yours")
	require.ErrorIs(t, err, store.ErrNotFound, "only the publishing tenant yanks")
	_, err = e.reg.Yank(ctx, e.tenant, "acme/x", "9.9.9", "")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.reg.Yank(ctx, e.tenant, "acme/nothing", "1.0.0", "")
	require.ErrorIs(t, err, store.ErrNotFound)

	y, err := e.reg.Yank(ctx, e.tenant, "acme/x", "1.1.0", "leaks memory")
	require.NoError(t, err)
	require.NotNil(t, y.YankedAt)
	require.Equal(t, "leaks memory", y.YankReason)
	y2, err := e.reg.Yank(ctx, e.tenant, "acme/x", "1.1.0", "another reason")
	require.NoError(t, err)
	require.Equal(t, "leaks memory", y2.YankReason, "yanking again keeps the first")
	require.True(t, y.YankedAt.Equal(*y2.YankedAt))

	// The installed copy no longer runs; it is not installed again.
	_, err = e.reg.Authorize(ctx, e.tenantB, inst.Version)
	re := refusal(t, err, registry.CodeVersionYanked)
	require.Equal(t, []string{"version"}, fields(re))
	require.Contains(t, re.Problems[0].Message, ": leaks memory")
	_, err = install("1.1.0")
	re = refusal(t, err, registry.CodeVersionYanked)
	require.Equal(t, []string{"body.version"}, fields(re))
	require.Contains(t, re.Problems[0].Message, "(leaks memory)")

	// Uploading the yanked bytes under that version is refused, in any
	// tenant; other bytes under the same name and version are not the
	// yank's business.
	c, err := e.store.TenantInsert(ctx, "initech")
	require.NoError(t, err)
	wasm, mf := fixture(t, "guest.wasm"), manifest(t, "name", "acme/x", "version", "1.1.0")
	_, _, err = e.reg.Upload(ctx, c.ID, &registry.UploadParams{Module: wasm, Manifest: mf, Signature: sign(t, key, "acme/x", "1.1.0", wasm, mf)})
	re = refusal(t, err, registry.CodeVersionYanked)
	require.Equal(t, []string{"manifest.version"}, fields(re))
	require.Contains(t, re.Problems[0].Message, "acme/x@1.1.0 was yanked at")
	v, _, err := e.reg.Upload(ctx, c.ID, &registry.UploadParams{Module: fixture(t, "http_fetch.wasm"), Manifest: manifest(t,
		"name", "acme/x", "version", "1.1.0", "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"api.example.com"}}})})
	require.NoError(t, err)
	_, err = e.reg.Authorize(ctx, c.ID, v)
	require.NoError(t, err)

	// Without a version: the newest release left.
	inst, err = install("")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", inst.Version.Version)
	_, err = e.reg.Yank(ctx, e.tenant, "acme/x", "1.0.0", "")
	require.NoError(t, err)
	_, err = install("")
	re = refusal(t, err, registry.CodeVersionYanked)
	require.Contains(t, re.Problems[0].Message, "every release of acme/x is yanked")
	_, err = install("1.0.0")
	re = refusal(t, err, registry.CodeVersionYanked)
	require.Contains(t, re.Problems[0].Message, "no reason given")
	// The prerelease, named, still installs.
	inst, err = install("1.2.0-rc.1")
	require.NoError(t, err)
	require.Equal(t, "1.2.0-rc.1", inst.Version.Version)
}

// An install is refused by the installing tenant's trust policy, by a key
// revoked since publishing, and over a version the tenant has with other
// bytes; a grant wider than asked is refused before anything is stored.
func TestInstallRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	key := e.publisher(t, e.tenant, "acme")
	secrets := map[string]any{"secrets": []string{"token"}}
	for _, version := range []string{"1.0.0", "2.0.0"} {
		e.uploadSigned(t, e.tenant, key, "acme/x", version, "capabilities", secrets)
		_, err := e.reg.Publish(ctx, e.tenant, "acme/x", version, "")
		require.NoError(t, err)
	}
	grant := &workflow.Capabilities{Secrets: []string{"token"}}
	install := func(version string, g *workflow.Capabilities) (*registry.Installed, error) {
		return e.reg.Install(ctx, e.tenantB, &registry.InstallParams{Name: "acme/x", Version: version, Grant: g})
	}

	_, err := install("1.0.0", nil)
	re := refusal(t, err, registry.CodeGrantRequired)
	require.Equal(t, []string{"body.grant.secrets"}, fields(re))
	_, err = install("1.0.0", &workflow.Capabilities{Secrets: []string{"token", "admin"}})
	re = refusal(t, err, registry.CodeGrantExceedsRequest)
	require.Equal(t, []string{"body.grant.secrets[1]"}, fields(re))

	_, err = e.reg.SetTrustPolicy(ctx, e.tenantB, &store.TrustPolicy{TrustedPublishers: []string{"globex"}})
	require.NoError(t, err)
	_, err = install("1.0.0", grant)
	re = refusal(t, err, registry.CodePublisherUntrusted)
	require.Equal(t, []string{"body.version"}, fields(re))

	_, err = e.reg.SetTrustPolicy(ctx, e.tenantB, &store.TrustPolicy{TrustedPublishers: []string{"acme"}, MinimumVersions: map[string]string{"acme/x": "2.0.0"}})
	require.NoError(t, err)
	_, err = install("1.0.0", grant)
	re = refusal(t, err, registry.CodeVersionBelowMinimum)
	require.Equal(t, []string{"body.version"}, fields(re), "the install's field, not the manifest's")
	_, err = e.reg.Get(ctx, e.tenantB, "acme/x", "1.0.0")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing was installed")

	// The tenant has 2.0.0 already, with other bytes.
	_, _, err = e.reg.Upload(ctx, e.tenantB, &registry.UploadParams{Module: fixture(t, "secret_get.wasm"),
		Manifest: manifest(t, "name", "acme/x", "version", "2.0.0", "capabilities", secrets)})
	require.NoError(t, err)
	_, err = install("2.0.0", grant)
	re = refusal(t, err, registry.CodeVersionImmutable)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, re.Problems[0].Message, "other bytes in this tenant")

	_, err = e.reg.RevokeKey(ctx, e.tenant, "acme", key.KeyID)
	require.NoError(t, err)
	_, err = install("2.0.0", grant)
	re = refusal(t, err, registry.CodeSignatureKeyRevoked)
	require.Equal(t, []string{"body.version"}, fields(re))
}

// writeModule writes a module folder: the .wasm files given and a manifest.
func writeModule(t *testing.T, dir, folder string, mf []byte, wasms ...string) {
	t.Helper()
	d := filepath.Join(dir, folder)
	require.NoError(t, os.MkdirAll(d, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(d, registry.ManifestFile), mf, 0o600))
	for _, w := range wasms {
		require.NoError(t, os.WriteFile(filepath.Join(d, w), fixture(t, w), 0o600))
	}
}

// InstallDirSigned makes the platform publisher and key, signs, uploads
// and publishes every module, and changes nothing when run again; a
// module it cannot sign and publish is a failure naming its folder, and
// the others are installed all the same.
func TestInstallDirSigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	dir := t.TempDir()
	writeModule(t, dir, "guest", manifest(t, "name", "wasmflow/guest", "description", "echoes"), "guest.wasm")
	writeModule(t, dir, "old", manifest(t, "name", "wasmflow/old"), "guest.wasm")
	writeModule(t, dir, "two", manifest(t, "name", "wasmflow/two"), "guest.wasm", "no_entry.wasm")
	writeModule(t, dir, "broken", []byte(`{"name": "wasmflow/broken"}`), "guest.wasm")
	// Uploaded unsigned before: it stays so, and is not published.
	e.upload(t, e.tenant, "guest.wasm", manifest(t, "name", "wasmflow/old"))

	key, err := signing.GenerateKey(registry.PlatformPublisher)
	require.NoError(t, err)
	acmeKey, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	_, err = e.reg.InstallDirSigned(ctx, e.tenant, dir, acmeKey)
	require.ErrorContains(t, err, `publisher "acme"'s`)
	_, err = e.reg.Publishers(ctx, e.tenant)
	require.NoError(t, err)

	check := func() {
		t.Helper()
		installed, err := e.reg.InstallDirSigned(ctx, e.tenant, dir, key)
		require.Error(t, err)
		for _, folder := range []string{"old", "two", "broken"} {
			require.ErrorContains(t, err, filepath.Join(dir, folder)+":")
		}
		require.NotContains(t, err.Error(), filepath.Join(dir, "guest")+":")
		require.ErrorContains(t, err, "signature_required: body.version: wasmflow/old@1.0.0 is not signed")
		require.ErrorContains(t, err, "manifest_invalid")
		require.ErrorContains(t, err, "want one .wasm file beside wasmflow.json, found 2")
		require.Len(t, installed, 1)
		v := installed[0]
		require.Equal(t, "wasmflow/guest", v.Name)
		sig := registry.SignatureOf(v.Signature)
		require.Equal(t, registry.StatusVerified, sig.Status)
		require.Equal(t, registry.PlatformPublisher, sig.Publisher)
		entry, err := e.reg.CatalogEntry(ctx, "wasmflow/guest")
		require.NoError(t, err)
		require.Equal(t, "echoes", entry.Module.Description)
		require.Len(t, entry.Versions, 1)
		require.Equal(t, v.Digest, entry.Versions[0].Version.Digest)
		_, err = e.reg.CatalogEntry(ctx, "wasmflow/old")
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	check()
	first, err := e.reg.Get(ctx, e.tenant, "wasmflow/guest", "1.0.0")
	require.NoError(t, err)
	check()
	again, err := e.reg.Get(ctx, e.tenant, "wasmflow/guest", "1.0.0")
	require.NoError(t, err)
	require.Equal(t, first, again, "the second run changed nothing")
	ps, err := e.reg.Publishers(ctx, e.tenant)
	require.NoError(t, err)
	require.Equal(t, []string{registry.PlatformPublisher}, publisherNames(ps))
	ks, err := e.reg.Keys(ctx, registry.PlatformPublisher)
	require.NoError(t, err)
	require.Len(t, ks, 1)

	// A new key is registered beside the old one; what was signed stays.
	newKey, err := signing.GenerateKey(registry.PlatformPublisher)
	require.NoError(t, err)
	installed, err := e.reg.InstallDirSigned(ctx, e.tenant, dir, newKey)
	require.Error(t, err)
	require.Len(t, installed, 1)
	require.Equal(t, key.KeyID, registry.SignatureOf(installed[0].Signature).KeyID)
	ks, err = e.reg.Keys(ctx, registry.PlatformPublisher)
	require.NoError(t, err)
	require.Len(t, ks, 2)

	// Another tenant cannot install with the platform publisher.
	_, err = e.reg.InstallDirSigned(ctx, e.tenantB, dir, key)
	require.ErrorContains(t, err, "belongs to another tenant")
	_, err = e.reg.Get(ctx, e.tenantB, "wasmflow/guest", "1.0.0")
	require.ErrorIs(t, err, store.ErrNotFound)
}
