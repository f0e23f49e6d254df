package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
)

// Every attack on an upload is refused with a clear problem naming the
// signature (or the version), and stores nothing.
func TestUploadSignatureAttacks(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	acme := e.newPublisher(e.key, "acme")
	evil := e.newPublisher(e.key, "evil")
	guest := readFile(t, filepath.Join(fixturesDir, "guest.wasm"))
	other := readFile(t, filepath.Join(fixturesDir, "bigmem.wasm"))
	mf := func(version string, kv ...any) []byte {
		return testManifest(t, append([]any{"name", "acme/x", "version", version}, kv...)...)
	}
	upload := func(wasm, manifest, sig []byte) *response {
		parts := []part{{name: "module", filename: "x.wasm", data: wasm}, {name: "manifest", filename: "wasmflow.json", data: manifest}}
		if sig != nil {
			parts = append(parts, part{name: "signature", filename: "x.sig", data: sig})
		}
		return e.upload(e.key, parts...)
	}

	// The one version stored: 2.0.0, signed.
	r := upload(guest, mf("2.0.0"), signature(t, acme, "acme/x", "2.0.0", guest, mf("2.0.0"), time.Time{}))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var stored nodeVersionResponse
	r.decode(t, &stored)
	require.Equal(t, "verified", stored.Signature.Status)

	unregistered, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	revoked := e.newKeyOf(e.key, "acme", nil)
	rr := e.do(req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys/" + revoked.KeyID + "/revoke", key: e.key})
	require.Equal(t, http.StatusOK, rr.status, "body: %s", rr.body)
	require.Contains(t, string(rr.body), `"revoked_at":"`)
	now := time.Now().UTC()
	expired := e.newKeyOf(e.key, "acme", map[string]any{
		"not_before": now.Add(-48 * time.Hour).Format(time.RFC3339), "not_after": now.Add(-24 * time.Hour).Format(time.RFC3339)})
	early := e.newKeyOf(e.key, "acme", map[string]any{"not_before": now.Add(24 * time.Hour).Format(time.RFC3339)})
	wider := mf("1.0.0", "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"*"}}})
	outside, err := signing.NewStatement("acme", evil.KeyID, signing.Subject{Name: "acme/x", Version: "1.0.0", Wasm: guest, Manifest: mf("1.0.0")}, now)
	require.NoError(t, err)
	outside.Publisher = "evil" // evil signs acme/x with its own registered key

	cases := []struct {
		name           string
		wasm, manifest []byte
		sig            []byte
		status         int
		code, contains string
	}{
		{"tampered bytes", other, mf("1.0.0"), signature(t, acme, "acme/x", "1.0.0", guest, mf("1.0.0"), now),
			422, CodeSignatureMismatch, "wasm bytes differ"},
		{"tampered manifest: wider capabilities", guest, wider, signature(t, acme, "acme/x", "1.0.0", guest, mf("1.0.0"), now),
			422, CodeSignatureMismatch, "manifest differs"},
		{"unregistered key", guest, mf("1.0.0"), signature(t, unregistered, "acme/x", "1.0.0", guest, mf("1.0.0"), now),
			422, CodeSignatureKeyUnknown, "not registered"},
		{"revoked key", guest, mf("1.0.0"), signature(t, revoked, "acme/x", "1.0.0", guest, mf("1.0.0"), now),
			422, CodeSignatureKeyRevoked, "revoked"},
		{"key past its validity", guest, mf("1.0.0"), signature(t, expired, "acme/x", "1.0.0", guest, mf("1.0.0"), now),
			422, CodeSignatureKeyExpired, "valid from"},
		{"key not yet valid", guest, mf("1.0.0"), signature(t, early, "acme/x", "1.0.0", guest, mf("1.0.0"), now),
			422, CodeSignatureKeyExpired, "valid from"},
		{"valid signature of another name", guest, mf("1.0.0"),
			signature(t, acme, "acme/y", "1.0.0", guest, testManifest(t, "name", "acme/y"), now),
			422, CodeSignatureMismatch, "for acme/y, not acme/x"},
		{"valid signature of another version", guest, mf("1.0.0"), signature(t, acme, "acme/x", "1.0.1", guest, mf("1.0.1"), now),
			422, CodeSignatureMismatch, "version 1.0.1, not 1.0.0"},
		{"publisher signing outside its namespace", guest, mf("1.0.0"), forgeStatement(t, evil, *outside),
			422, CodeSignatureNamespace, `publisher "evil" signed it`},
		{"signature by another key than it names", guest, mf("1.0.0"), func() []byte {
			env, err := acme.Sign(signing.Subject{Name: "acme/x", Version: "1.0.0", Wasm: guest, Manifest: mf("1.0.0")}, now)
			require.NoError(t, err)
			forged := forgeStatement(t, revoked, env.Statement) // revoked's signature, naming acme's key
			return forged
		}(), 422, CodeSignatureInvalid, "does not verify"},
		{"re-upload of an existing version with other bytes", other, mf("2.0.0"), signature(t, acme, "acme/x", "2.0.0", other, mf("2.0.0"), now),
			409, CodeVersionImmutable, "versions are immutable"},
	}
	for _, tc := range cases {
		r := upload(tc.wasm, tc.manifest, tc.sig)
		p := r.problem(t, tc.status, tc.code)
		require.Contains(t, p.Detail, tc.contains, tc.name)
		if tc.code != CodeVersionImmutable {
			require.Equal(t, []string{"signature"}, p.locations(), tc.name)
		}
	}

	// The tenant's trust policy: signatures required, trusted publishers,
	// a minimum version.
	put := func(body map[string]any) {
		r := e.do(req{method: http.MethodPut, path: "/api/v1/trust-policy", key: e.key, body: body})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	put(map[string]any{"require_signatures": true})
	upload(guest, mf("1.0.0"), nil).problem(t, 422, CodeSignatureRequired)
	put(map[string]any{"trusted_publishers": []string{"wasmflow"}})
	upload(guest, mf("1.0.0"), signature(t, acme, "acme/x", "1.0.0", guest, mf("1.0.0"), now)).problem(t, 422, CodePublisherUntrusted)
	put(map[string]any{"minimum_versions": map[string]any{"acme/x": "3.0.0"}})
	p := upload(guest, mf("2.5.0"), signature(t, acme, "acme/x", "2.5.0", guest, mf("2.5.0"), now)).problem(t, 422, CodeVersionBelowMinimum)
	require.Contains(t, p.Detail, "below the tenant's minimum version 3.0.0")
	r = e.do(req{method: http.MethodPut, path: "/api/v1/trust-policy", key: e.key, body: map[string]any{
		"trusted_publishers": []string{"Not A Name"}, "minimum_versions": map[string]any{"acme/x": "one", "bad": "1.0.0"}}})
	p = r.problem(t, 422, CodeTrustPolicyInvalid)
	require.ElementsMatch(t, []string{"body.trusted_publishers[0]", "body.minimum_versions.acme/x", "body.minimum_versions.bad"}, p.locations())

	// Nothing of the refused uploads was stored.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/nodes/acme/x", key: e.key})
	require.Equal(t, http.StatusOK, r.status)
	var node nodeResponse
	r.decode(t, &node)
	require.Len(t, node.Versions, 1)
	require.Equal(t, stored, node.Versions[0])
	uploads := e.auditPage(e.key, "action=node.upload")
	require.Len(t, uploads.Items, 1)
}

// The publisher and key routes check what they are given.
func TestPublishersAndKeys(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	k := e.newPublisher(e.key, "acme")
	e.do(req{method: http.MethodPost, path: "/api/v1/publishers", key: e.key, body: map[string]any{"name": "acme"}}).problem(t, 409, CodePublisherTaken)
	e.do(req{method: http.MethodPost, path: "/api/v1/publishers", key: e.key, body: map[string]any{"name": "wasmflow"}}).problem(t, 409, CodePublisherTaken)
	e.do(req{method: http.MethodPost, path: "/api/v1/publishers", key: e.key, body: map[string]any{"name": "Bad Name"}}).problem(t, 422, CodePublisherInvalid)

	// A proof made for another publisher, or by another key, is refused.
	other, err := signing.GenerateKey("other")
	require.NoError(t, err)
	fresh, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	for _, proof := range []string{other.Prove(), k.Prove(), "bm90IGEgc2lnbmF0dXJl"} {
		r := e.do(req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys", key: e.key,
			body: map[string]any{"public_key": signing.EncodePublicKey(fresh.Public()), "proof": proof}})
		p := r.problem(t, 422, CodeProofInvalid)
		require.Equal(t, []string{"body.proof"}, p.locations())
	}
	r := e.do(req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys", key: e.key,
		body: map[string]any{"public_key": signing.EncodePublicKey(k.Public()), "proof": k.Prove()}})
	r.problem(t, 409, CodeKeyExists)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys", key: e.key,
		body: map[string]any{"public_key": "AAAA", "proof": k.Prove()}})
	r.problem(t, 422, CodeKeyInvalid)

	// Anyone reads the public keys; they are what signatures verify with.
	r = e.do(req{method: http.MethodGet, path: "/api/v1/publishers/acme/keys"})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var keys struct{ Items []publisherKeyResponse }
	r.decode(t, &keys)
	require.Len(t, keys.Items, 1)
	require.Equal(t, k.KeyID, keys.Items[0].KeyID)
	require.Equal(t, signing.EncodePublicKey(k.Public()), keys.Items[0].PublicKey)
	require.Nil(t, keys.Items[0].RevokedAt)
	e.do(req{method: http.MethodGet, path: "/api/v1/publishers/nobody/keys"}).problem(t, 404, CodeNotFound)

	r = e.do(req{method: http.MethodGet, path: "/api/v1/publishers", key: e.key})
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `"name":"acme"`)
	actions := map[string]bool{}
	for _, it := range e.auditPage(e.key, "").Items {
		actions[it.Action] = true
	}
	require.True(t, actions["publisher.create"])
	require.True(t, actions["key.register"])
}

// The marketplace end to end with a real module that asks for HTTP: a
// tenant installs it only with a grant, runs it within the grant (a
// narrower grant is enforced by the host function), an upgrade asking for
// more does not run until granted, and a yanked version, a version below
// the minimum and a revoked key stop new runs, each naming the node.
func TestMarketplaceGrantsAndRuns(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{engine: true, registry: &registry.Config{HTTP: registry.HTTPOptions{AllowPrivate: true}}})
	// Compiling the 3.4 MB Go module on upload takes minutes under -race
	// on a loaded machine.
	e.client.Timeout = 5 * time.Minute
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	t.Cleanup(srv.Close)

	// Tenant A publishes acme/fetch 1.0.0 (the http-request example).
	acme := e.newPublisher(e.key, "acme")
	wasm := filepath.Join(examplesDir, "http-request", "http-request.wasm")
	fetchManifest := func(version string, hosts ...string) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(examplesDir, "http-request", "wasmflow.json")), &m))
		m["name"], m["version"] = "acme/fetch", version
		m["capabilities"] = map[string]any{"http": map[string]any{"hosts": hosts}, "secrets": []string{"token"}}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	publish := func(version string, hosts ...string) {
		r := e.upload(e.key, e.signedParts(acme, wasm, fetchManifest(version, hosts...))...)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		r = e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/publish", key: e.key,
			body: map[string]any{"name": "acme/fetch", "version": version, "description": "fetches"}})
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	}
	publish("1.0.0", "127.0.0.1", "example.com")

	// Tenant B finds it, with what it asks for.
	_, b := e.newTenant("tenant-b")
	r := e.do(req{method: http.MethodGet, path: "/api/v1/marketplace?q=fetch", key: b})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var found Page[catalogEntryResponse]
	r.decode(t, &found)
	require.Len(t, found.Items, 1)
	entry := found.Items[0]
	require.Equal(t, "acme", entry.Publisher)
	require.Equal(t, "fetches", entry.Description)
	require.Equal(t, "verified", entry.Versions[0].Signature.Status)
	require.Equal(t, acme.KeyID, entry.Versions[0].Signature.KeyID)
	require.Equal(t, []string{"127.0.0.1", "example.com"}, entry.Versions[0].Capabilities.HTTP.Hosts)

	install := func(version string, grant any) *response {
		body := map[string]any{"name": "acme/fetch", "version": version}
		if grant != nil {
			body["grant"] = grant
		}
		return e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/install", key: b, body: body})
	}
	grant := func(hosts ...string) map[string]any {
		return map[string]any{"http": map[string]any{"hosts": hosts}, "secrets": []string{"token"}}
	}
	// Without a grant, or with a wider one: refused, nothing installed.
	p := install("1.0.0", nil).problem(t, 422, CodeGrantRequired)
	require.ElementsMatch(t, []string{"body.grant.http", "body.grant.secrets"}, p.locations())
	p = install("1.0.0", grant("evil.example")).problem(t, 422, CodeGrantExceedsRequest)
	require.Equal(t, []string{"body.grant.http.hosts[0]"}, p.locations())
	e.do(req{method: http.MethodGet, path: "/api/v1/nodes/acme/fetch", key: b}).problem(t, 404, CodeNotFound)

	// A narrower grant installs, and the host function enforces it.
	r = install("1.0.0", grant("example.com"))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	wf := e.saveWorkflow(b, chain("fetch", map[string]any{"name": "fetch", "module": "acme/fetch@1.0.0", "params": map[string]any{"url": srv.URL}}))
	run := func() *nodeRunBody {
		ex := e.startExec(b, wf, "wait=60s", items(map[string]any{}), http.StatusOK)
		return latestRun(&ex, "fetch")
	}
	n := run()
	require.Equal(t, "failed", n.Status)
	require.Contains(t, string(n.Error), "host_not_allowed")

	// With the host granted, it runs.
	r = install("1.0.0", grant("127.0.0.1"))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	n = run()
	require.Equal(t, "succeeded", n.Status, "error: %s", n.Error)
	require.Contains(t, string(n.Output), `"ok":true`)

	// 1.1.0 asks for another host. Installed without a new grant it does
	// not run, and the workflow shows which node is stopped.
	publish("1.1.0", "127.0.0.1", "example.com", "api.other.example")
	r = install("1.1.0", nil)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Contains(t, string(r.body), `"grant_covers":false`)
	update := func(ref string) {
		r := e.do(req{method: http.MethodPut, path: "/api/v1/workflows/" + wf, key: b,
			body: chain("fetch", map[string]any{"name": "fetch", "module": ref, "params": map[string]any{"url": srv.URL}})})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	}
	update("acme/fetch@^1")
	requireRefused := func(kind, contains string) {
		t.Helper()
		n := run()
		require.Equal(t, "failed", n.Status)
		require.Equal(t, kind, errorField(t, n.Error, "kind"), "error: %s", n.Error)
		require.Contains(t, errorField(t, n.Error, "message"), contains)
		require.Contains(t, []string{"", "null"}, string(n.Output), "the module did not run")
		require.Contains(t, []string{"", "null", "[]"}, string(n.HostCalls), "the module did not run")
		r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + wf, key: b})
		require.Equal(t, http.StatusOK, r.status)
		var w workflowResponse
		r.decode(t, &w)
		require.NotNil(t, w.Nodes[1].Lock.Problem, "the workflow names the stopped node")
		require.Equal(t, kind, w.Nodes[1].Lock.Problem.Code)
		require.Nil(t, w.Nodes[0].Lock)
	}
	requireRefused(CodeGrantInsufficient, `asks for HTTP to "api.other.example"`)
	r = install("1.1.0", grant("127.0.0.1"))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Contains(t, string(r.body), `"grant_covers":true`)
	n = run()
	require.Equal(t, "succeeded", n.Status, "error: %s", n.Error)
	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + wf, key: b})
	require.NotContains(t, string(r.body), `"problem"`)

	// B cannot yank A's version; A can, and B's next run stops.
	e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/acme/fetch/versions/1.1.0/yank", key: b, body: map[string]any{}}).problem(t, 404, CodeNotFound)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/marketplace/acme/fetch/versions/1.1.0/yank", key: e.key, body: map[string]any{"reason": "leaks tokens"}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Contains(t, string(r.body), `"yanked":true`)
	requireRefused(CodeVersionYanked, "leaks tokens")
	install("1.1.0", grant("127.0.0.1")).problem(t, 422, CodeVersionYanked)

	// Back on 1.0.0 (a new install, the newest not yanked), then a minimum
	// version stops it, and the install is refused.
	r = install("", grant("127.0.0.1"))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	require.Contains(t, string(r.body), `"version":"1.0.0"`)
	update("acme/fetch@1.0.0")
	n = run()
	require.Equal(t, "succeeded", n.Status, "error: %s", n.Error)
	r = e.do(req{method: http.MethodPut, path: "/api/v1/trust-policy", key: b, body: map[string]any{"minimum_versions": map[string]any{"acme/fetch": "1.1.0"}}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	requireRefused(CodeVersionBelowMinimum, "below the tenant's minimum version 1.1.0")
	install("1.0.0", grant("127.0.0.1")).problem(t, 422, CodeVersionBelowMinimum)
	r = e.do(req{method: http.MethodPut, path: "/api/v1/trust-policy", key: b, body: map[string]any{}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	n = run()
	require.Equal(t, "succeeded", n.Status, "error: %s", n.Error)

	// A revokes the key that signed everything: B's runs stop.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/publishers/acme/keys/" + acme.KeyID + "/revoke", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	requireRefused(CodeSignatureKeyRevoked, "revoked")
	r = e.do(req{method: http.MethodGet, path: "/api/v1/marketplace/acme/fetch", key: b})
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `"status":"revoked"`)

	// Every change was audited in its tenant.
	actionsOf := func(key string) map[string]bool {
		out := map[string]bool{}
		for _, it := range e.auditPage(key, "").Items {
			out[it.Action] = true
		}
		return out
	}
	a := actionsOf(e.key)
	for _, action := range []string{"publisher.create", "key.register", "key.revoke", "module.publish", "module.yank"} {
		require.True(t, a[action], action)
	}
	bActions := actionsOf(b)
	for _, action := range []string{"module.install", "trust_policy.update"} {
		require.True(t, bActions[action], fmt.Sprint(action))
	}
}
