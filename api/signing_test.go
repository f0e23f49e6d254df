package api

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry/signing"
)

// newPublisher registers publisher name with key (an admin of its tenant)
// and a fresh signing key, and returns the key.
func (e *env) newPublisher(key, name string) *signing.PrivateKey {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/v1/publishers", key: key, body: map[string]any{"name": name}})
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
	return e.newKeyOf(key, name, nil)
}

// newKeyOf registers a fresh key of publisher, with extra fields of the
// request (a validity window), and returns it.
func (e *env) newKeyOf(key, publisher string, extra map[string]any) *signing.PrivateKey {
	e.t.Helper()
	k, err := signing.GenerateKey(publisher)
	require.NoError(e.t, err)
	body := map[string]any{"public_key": signing.EncodePublicKey(k.Public()), "proof": k.Prove()}
	for name, v := range extra {
		body[name] = v
	}
	r := e.do(req{method: http.MethodPost, path: "/api/v1/publishers/" + publisher + "/keys", key: key, body: body})
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
	return k
}

// signature signs a module for upload, at time at (now when zero).
func signature(t interface {
	Helper()
	require.TestingT
}, key *signing.PrivateKey, name, version string, wasm, manifest []byte, at time.Time) []byte {
	t.Helper()
	if at.IsZero() {
		at = time.Now()
	}
	env, err := key.Sign(signing.Subject{Name: name, Version: version, Wasm: wasm, Manifest: manifest}, at)
	require.NoError(t, err)
	return env.Marshal()
}

// signedParts are the parts of an upload of wasmPath with manifest, signed
// by key for the manifest's name and version.
func (e *env) signedParts(key *signing.PrivateKey, wasmPath string, manifest []byte) []part {
	e.t.Helper()
	var m struct{ Name, Version string }
	require.NoError(e.t, json.Unmarshal(manifest, &m))
	parts := moduleParts(e.t, wasmPath, manifest)
	sig := signature(e.t, key, m.Name, m.Version, parts[0].data, manifest, time.Time{})
	return append(parts, part{name: "signature", filename: "module.sig", data: sig})
}

// forgeStatement signs a statement as it is, skipping the checks
// signing.PrivateKey.Sign makes (a publisher signing outside its namespace).
func forgeStatement(t interface {
	Helper()
	require.TestingT
}, key *signing.PrivateKey, st signing.Statement) []byte {
	t.Helper()
	seed, err := base64.StdEncoding.DecodeString(key.Seed)
	require.NoError(t, err)
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), st.Bytes())
	env := signing.Envelope{Statement: st, Signature: base64.StdEncoding.EncodeToString(sig)}
	return env.Marshal()
}
