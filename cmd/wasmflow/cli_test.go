package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/client"
	"github.com/wasmflow/wasmflow/registry/signing"
)

// runCLI runs the command line in-process with a config file that names
// nothing, so that no file of the user's is read.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// emptyConfig is a config file that sets nothing.
func emptyConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o600))
	return path
}

// exampleNode copies an example node into a temporary directory under the
// publisher's namespace ("wasmflow/hash" becomes "<publisher>/hash").
func exampleNode(t *testing.T, example, publisher string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), example)
	copyExample(t, filepath.Join("../../plugins-examples", example), dir)
	manifest := filepath.Join(dir, "wasmflow.json")
	data, err := os.ReadFile(manifest)
	require.NoError(t, err)
	renamed := strings.Replace(string(data), `"wasmflow/`+example+`"`, `"`+publisher+`/`+example+`"`, 1)
	require.NotEqual(t, string(data), renamed)
	require.NoError(t, os.WriteFile(manifest, []byte(renamed), 0o600))
	return dir
}

// generateKey runs `keys generate` and returns the key and public files.
func generateKey(t *testing.T, publisher string) (keyFile, pubFile string) {
	t.Helper()
	dir := t.TempDir()
	stdout, _, err := runCLI(t, "keys", "generate", "--publisher", publisher, "--out", dir)
	require.NoError(t, err)
	keyID := strings.TrimSpace(stdout)
	base := filepath.Join(dir, publisher+"-"+strings.TrimPrefix(keyID, "ed25519:"))
	return base + ".key", base + ".pub.json"
}

func TestKeysGenerate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdout, stderr, err := runCLI(t, "keys", "generate", "--publisher", "acme", "--out", dir, "--json")
	require.NoError(t, err, stderr)
	var res map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Regexp(t, `^ed25519:[0-9a-f]{16}$`, res["key_id"])

	info, err := os.Stat(res["key_file"])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.Equal(t, filepath.Join(dir, "acme-"+strings.TrimPrefix(res["key_id"], "ed25519:")+".key"), res["key_file"])
	data, err := os.ReadFile(res["key_file"])
	require.NoError(t, err)
	k, err := signing.ParsePrivateKey(data)
	require.NoError(t, err)
	require.Equal(t, res["key_id"], k.KeyID)

	data, err = os.ReadFile(res["public_key_file"])
	require.NoError(t, err)
	var pub signing.PublicKeyFile
	require.NoError(t, json.Unmarshal(data, &pub))
	require.Equal(t, *k.PublicFile(), pub)
	require.NotContains(t, string(data), k.Seed, "the public file holds no secret")

	// Never overwritten; a bad publisher name is refused.
	require.ErrorContains(t, writeNewFile(res["key_file"], []byte("x"), 0o600), "not overwriting")
	_, _, err = runCLI(t, "keys", "generate", "--publisher", "Acme!", "--out", dir)
	require.ErrorContains(t, err, "--publisher")
}

func TestNodeSignAndVerifyOffline(t *testing.T) {
	t.Parallel()
	keyFile, pubFile := generateKey(t, "acme")
	otherKey, otherPub := generateKey(t, "acme")
	dir := exampleNode(t, "hash", "acme")

	stdout, stderr, err := runCLI(t, "node", "sign", dir, "--key", keyFile)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "signed acme/hash@1.0.0 with ed25519:")
	sigFile := filepath.Join(dir, "node.sig")
	env := readSignature(t, sigFile)
	wasm, err := os.ReadFile(filepath.Join(dir, "hash.wasm"))
	require.NoError(t, err)
	require.Equal(t, signing.SHA256Hex(wasm), env.Statement.WasmSHA256)

	stdout, stderr, err = runCLI(t, "node", "verify", dir, "--public-key", pubFile)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "verified acme/hash@1.0.0: signed by acme with "+env.Statement.KeyID)

	// Another key of the same publisher did not make it.
	_, _, err = runCLI(t, "node", "verify", dir, "--public-key", otherPub)
	require.ErrorContains(t, err, "did not make this signature")
	// Neither or both of --public-key and --server.
	_, _, err = runCLI(t, "node", "verify", dir)
	require.ErrorContains(t, err, "either --public-key FILE or --server")

	// A signature elsewhere (--out, --signature), and one by the other key.
	other := filepath.Join(t.TempDir(), "other.sig")
	_, _, err = runCLI(t, "node", "sign", dir, "--key", otherKey, "--out", other)
	require.NoError(t, err)
	_, _, err = runCLI(t, "node", "verify", dir, "--signature", other, "--public-key", otherPub)
	require.NoError(t, err)

	// Tampered wasm, a wider manifest, another version: each no longer matches.
	for name, tc := range map[string]struct {
		file, from, to, want string
	}{
		"wasm":     {"hash.wasm", "", "\x00", "wasm bytes differ"},
		"manifest": {"wasmflow.json", `"limits"`, `"capabilities": {"secrets": ["token"]}, "limits"`, "manifest differs"},
		"version":  {"wasmflow.json", `"1.0.0"`, `"1.0.1"`, "version 1.0.0, not 1.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tampered := t.TempDir()
			copyExample(t, dir, tampered)
			path := filepath.Join(tampered, tc.file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			changed := append(data, tc.to...)
			if tc.from != "" {
				changed = []byte(strings.Replace(string(data), tc.from, tc.to, 1))
			}
			require.NoError(t, os.WriteFile(path, changed, 0o600))
			_, _, err = runCLI(t, "node", "verify", tampered, "--signature", sigFile, "--public-key", pubFile)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func readSignature(t *testing.T, path string) *signing.Envelope {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	env, err := signing.ParseEnvelope(data)
	require.NoError(t, err)
	return env
}

func TestNodeSignRefuses(t *testing.T) {
	t.Parallel()
	keyFile, _ := generateKey(t, "acme")
	otherKey, _ := generateKey(t, "globex")
	dir := exampleNode(t, "hash", "acme")

	// Outside the key's namespace.
	_, _, err := runCLI(t, "node", "sign", dir, "--key", otherKey)
	require.ErrorContains(t, err, `outside publisher "globex"'s namespace`)
	require.NoFileExists(t, filepath.Join(dir, "node.sig"))

	// A key file others may read.
	open := filepath.Join(t.TempDir(), "open.key")
	data, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(open, data, 0o600))
	require.NoError(t, os.Chmod(open, 0o644))
	_, _, err = runCLI(t, "node", "sign", dir, "--key", open)
	require.ErrorContains(t, err, "chmod 600")

	// An invalid manifest is refused before signing, naming the field.
	bad := t.TempDir()
	copyExample(t, dir, bad)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "wasmflow.json"), []byte(`{"name": "acme/hash", "version": "one", "abi": "extism-v1"}`), 0o600))
	_, _, err = runCLI(t, "node", "sign", bad, "--key", keyFile)
	require.ErrorContains(t, err, "manifest.version")

	// No .wasm, or several without one named after the module.
	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, "wasmflow.json"), []byte(`{"name": "acme/hash", "version": "1.0.0", "abi": "extism-v1"}`), 0o600))
	_, _, err = runCLI(t, "node", "sign", empty, "--key", keyFile)
	require.ErrorContains(t, err, "no .wasm file")
	for _, name := range []string{"a.wasm", "b.wasm"} {
		require.NoError(t, os.WriteFile(filepath.Join(empty, name), []byte("\x00asm"), 0o600))
	}
	_, _, err = runCLI(t, "node", "sign", empty, "--key", keyFile)
	require.ErrorContains(t, err, "name one with --module")
	require.NoError(t, os.WriteFile(filepath.Join(empty, "hash.wasm"), []byte("\x00asm"), 0o600))
	_, _, err = runCLI(t, "node", "sign", empty, "--key", keyFile)
	require.NoError(t, err, "the one named after the module")
	_, _, err = runCLI(t, "node", "sign", empty, "--key", keyFile, "--module", filepath.Join(empty, "a.wasm"), "--out", filepath.Join(empty, "a.sig"))
	require.NoError(t, err)
	require.Equal(t, signing.SHA256Hex([]byte("\x00asm")), readSignature(t, filepath.Join(empty, "a.sig")).Statement.WasmSHA256)
}

// fakeAPI answers the routes the commands use, recording what it was sent.
type fakeAPI struct {
	mu       sync.Mutex
	requests []string
	uploads  []map[string][]byte
	installs []client.InstallParams
	keys     []client.PublisherKey
	catalog  map[string]string // name → catalog entry JSON
	// publishers are the tenant's; registered the key registrations sent.
	publishers []string
	registered []map[string]any
}

// handler serves the fake API; a request it cannot read is a 400 (the
// handler runs outside the test's goroutine, where require cannot stop it).
func (f *fakeAPI) handler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer wf_good" {
			writeProblem(w, http.StatusUnauthorized, `{"code": "unauthenticated", "title": "authentication required"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/nodes":
			parts, err := readMultipart(r)
			if err != nil {
				writeProblem(w, http.StatusBadRequest, `{"code": "invalid_request", "title": "malformed multipart body"}`)
				return
			}
			if env, err := signing.ParseEnvelope(parts["signature"]); parts["signature"] != nil && (err != nil ||
				env.Statement.Matches(signing.Subject{Name: env.Statement.Name, Version: env.Statement.Version,
					Wasm: parts["module"], Manifest: parts["manifest"]}) != nil) {
				writeProblem(w, http.StatusUnprocessableEntity, `{"code": "signature_mismatch", "title": "signature is invalid",
					"detail": "the wasm bytes differ from the signed ones", "errors": [{"location": "signature", "message": "does not match the module"}]}`)
				return
			}
			f.uploads = append(f.uploads, parts)
			w.WriteHeader(http.StatusCreated)
			sig := `{"status": "unsigned"}`
			if parts["signature"] != nil {
				sig = `{"status": "verified", "publisher": "acme", "key_id": "ed25519:0123456789abcdef"}`
			}
			_, _ = io.WriteString(w, `{"name": "acme/hash", "version": "1.0.0", "digest": "sha256:`+signing.SHA256Hex(parts["module"])+
				`", "size": `+jsonInt(len(parts["module"]))+`, "signature": `+sig+`}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/publishers":
			page := client.Page[client.Publisher]{Items: []client.Publisher{}}
			for _, name := range f.publishers {
				page.Items = append(page.Items, client.Publisher{Name: name})
			}
			_ = json.NewEncoder(w).Encode(page)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/publishers":
			var in client.Publisher
			if !decode(w, r, &in) {
				return
			}
			f.publishers = append(f.publishers, in.Name)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(in)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/keys"):
			var in map[string]any
			if !decode(w, r, &in) {
				return
			}
			f.registered = append(f.registered, in)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(client.PublisherKey{KeyID: "ed25519:0123456789abcdef", Publisher: "acme"})
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/keys"):
			_ = json.NewEncoder(w).Encode(client.Page[client.PublisherKey]{Items: f.keys})
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/marketplace/"):
			entry, ok := f.catalog[strings.TrimPrefix(r.URL.Path, "/api/v1/marketplace/")]
			if !ok {
				writeProblem(w, http.StatusNotFound, `{"code": "not_found", "title": "resource not found"}`)
				return
			}
			_, _ = io.WriteString(w, entry)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/marketplace/install":
			var in client.InstallParams
			if !decode(w, r, &in) {
				return
			}
			f.installs = append(f.installs, in)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(client.Install{Name: in.Name, Version: in.Version, Digest: "sha256:ab", Grant: in.Grant, GrantCovers: true})
		default:
			writeProblem(w, http.StatusNotFound, `{"code": "not_found", "title": "resource not found"}`)
		}
	}
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func writeProblem(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func readMultipart(r *http.Request) (map[string][]byte, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	parts := map[string][]byte{}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, err
		}
		parts[part.FormName()] = data
	}
}

// decode reads a JSON body, answering 400 when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeProblem(w, http.StatusBadRequest, `{"code": "invalid_json", "title": "request body is not valid JSON"}`)
		return false
	}
	return true
}

func startFake(t *testing.T, f *fakeAPI) string {
	t.Helper()
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNodePush(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	server := startFake(t, f)
	conf := emptyConfig(t)
	keyFile, _ := generateKey(t, "acme")
	dir := exampleNode(t, "hash", "acme")
	push := func(args ...string) (string, string, error) {
		return runCLI(t, append([]string{"node", "push", "--server", server, "--api-key", "wf_good", "--config", conf}, args...)...)
	}

	// Unsigned (no node.sig yet); not a terminal: no progress line.
	stdout, stderr, err := push(dir)
	require.NoError(t, err, stderr)
	require.Contains(t, stdout, "pushed acme/hash@1.0.0 sha256:")
	require.Contains(t, stdout, "signature: unsigned")
	require.Empty(t, stderr)
	require.Len(t, f.uploads, 1)
	require.NotContains(t, f.uploads[0], "signature")

	// Signed: DIR/node.sig is picked up and sent as it is.
	_, _, err = runCLI(t, "node", "sign", dir, "--key", keyFile)
	require.NoError(t, err)
	stdout, _, err = push(dir, "--json")
	require.NoError(t, err)
	var res struct {
		Name      string
		Created   bool
		Signature client.SignatureStatus
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.True(t, res.Created)
	require.Equal(t, "verified", res.Signature.Status)
	sig, err := os.ReadFile(filepath.Join(dir, "node.sig"))
	require.NoError(t, err)
	require.Equal(t, sig, f.uploads[1]["signature"])
	wasm, err := os.ReadFile(filepath.Join(dir, "hash.wasm"))
	require.NoError(t, err)
	require.Equal(t, wasm, f.uploads[1]["module"], "the wasm bytes go untouched")

	// --unsigned leaves node.sig out; --signature and --unsigned conflict.
	_, _, err = push(dir, "--unsigned")
	require.NoError(t, err)
	require.NotContains(t, f.uploads[2], "signature")
	_, _, err = push(dir, "--unsigned", "--signature", "x.sig")
	require.ErrorContains(t, err, "not both")
	_, _, err = push(dir, "--signature", filepath.Join(dir, "missing.sig"))
	require.ErrorContains(t, err, "--signature")

	// Tampered after signing: the server's problem is printed, title,
	// detail and field.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hash.wasm"), append(wasm, 0), 0o600))
	_, _, err = push(dir)
	require.EqualError(t, err, "push acme/hash@1.0.0: server answered 422 signature_mismatch: signature is invalid: "+
		"the wasm bytes differ from the signed ones; signature: does not match the module")
	require.Len(t, f.uploads, 3, "nothing stored")

	// A wrong key: 401 as the server says it.
	_, _, err = runCLI(t, "node", "push", dir, "--server", server, "--api-key", "wf_bad", "--config", conf)
	require.ErrorContains(t, err, "server answered 401 unauthenticated: authentication required")
}

func TestKeysRegister(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	server := startFake(t, f)
	conf := emptyConfig(t)
	keyFile, _ := generateKey(t, "acme")
	data, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	k, err := signing.ParsePrivateKey(data)
	require.NoError(t, err)
	register := func(args ...string) error {
		_, _, err := runCLI(t, append([]string{"keys", "register", "--key", keyFile, "--server", server, "--api-key", "wf_good", "--config", conf}, args...)...)
		return err
	}

	// A bad time is refused before anything is sent.
	require.ErrorContains(t, register("--not-after", "next year"), "--not-after")
	require.Empty(t, f.requests)

	// --create-publisher creates it once; the proof shows possession.
	require.NoError(t, register("--create-publisher", "--not-after", "2027-01-01T00:00:00Z"))
	require.NoError(t, register("--create-publisher"))
	require.Equal(t, []string{"acme"}, f.publishers)
	require.Len(t, f.registered, 2)
	reg := f.registered[0]
	require.Equal(t, signing.EncodePublicKey(k.Public()), reg["public_key"])
	require.Equal(t, "2027-01-01T00:00:00Z", reg["not_after"])
	require.NotContains(t, reg, "not_before")
	proof, ok := reg["proof"].(string)
	require.True(t, ok)
	require.NoError(t, signing.VerifyProof("acme", k.Public(), proof))
	require.NotContains(t, f.registered[1], "not_after")
}

func TestNodeVerifyWithServer(t *testing.T) {
	t.Parallel()
	keyFile, _ := generateKey(t, "acme")
	data, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	k, err := signing.ParsePrivateKey(data)
	require.NoError(t, err)
	dir := exampleNode(t, "hash", "acme")
	_, _, err = runCLI(t, "node", "sign", dir, "--key", keyFile)
	require.NoError(t, err)
	signedAt := readSignature(t, filepath.Join(dir, "node.sig")).Statement.SignedAt

	f := &fakeAPI{}
	server := startFake(t, f)
	conf := emptyConfig(t)
	verify := func() error {
		_, _, err := runCLI(t, "node", "verify", dir, "--server="+server, "--api-key", "wf_good", "--config", conf)
		return err
	}
	require.ErrorContains(t, verify(), "publisher acme has registered no key "+k.KeyID)

	registered := client.PublisherKey{KeyID: k.KeyID, Publisher: "acme", PublicKey: signing.EncodePublicKey(k.Public())}
	f.keys = []client.PublisherKey{registered}
	require.NoError(t, verify())

	before, after := signedAt.Add(-1), signedAt.Add(1)
	f.keys[0].NotBefore = &after
	require.ErrorContains(t, verify(), "is valid from")
	f.keys[0].NotBefore, f.keys[0].NotAfter = nil, &before
	require.ErrorContains(t, verify(), "was valid until")
	f.keys[0].NotAfter, f.keys[0].RevokedAt = nil, &after
	require.ErrorContains(t, verify(), "was revoked at")

	// A key listed under the id but another public key fails the check.
	other, err := signing.GenerateKey("acme")
	require.NoError(t, err)
	f.keys[0] = registered
	f.keys[0].PublicKey = signing.EncodePublicKey(other.Public())
	require.ErrorContains(t, verify(), "did not make this signature")
}

func TestMarketplaceInstallNeedsAGrant(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{catalog: map[string]string{
		"acme/fetch": `{"name": "acme/fetch", "publisher": "acme", "description": "fetches", "versions": [
			{"version": "1.0.0", "digest": "sha256:01", "signature": {"status": "verified", "key_id": "ed25519:0123456789abcdef"},
			 "capabilities": {"http": {"hosts": ["a.example", "b.example"], "methods": ["GET"]}, "secrets": ["token"]}, "yanked": false},
			{"version": "1.1.0", "digest": "sha256:02", "signature": {"status": "verified"}, "capabilities": {}, "yanked": true}]}`,
		"acme/plain": `{"name": "acme/plain", "publisher": "acme", "versions": [{"version": "2.0.0", "signature": {"status": "verified"}, "capabilities": {}}]}`,
	}}
	server := startFake(t, f)
	conf := emptyConfig(t)
	install := func(args ...string) (string, string, error) {
		return runCLI(t, append([]string{"marketplace", "install", "--server", server, "--api-key", "wf_good", "--config", conf}, args...)...)
	}

	// Without a grant: refused, after saying what is asked; nothing sent.
	_, stderr, err := install("acme/fetch")
	require.ErrorContains(t, err, "not installed: acme/fetch@1.0.0 asks for http GET to a.example, b.example; secrets token")
	require.Contains(t, stderr, "acme/fetch@1.0.0 by acme, signature verified (ed25519:0123456789abcdef)")
	require.Empty(t, f.installs)

	// --grant-requested grants exactly what is asked.
	stdout, _, err := install("acme/fetch", "--grant-requested")
	require.NoError(t, err)
	require.Contains(t, stdout, "installed acme/fetch@1.0.0 sha256:ab\ngranted: http GET to a.example, b.example; secrets token")
	require.Equal(t, "1.0.0", f.installs[0].Version, "the newest not yanked, named exactly")
	require.Equal(t, []string{"a.example", "b.example"}, f.installs[0].Grant.HTTP.Hosts)

	// A narrower grant: fewer hosts, the methods asked for.
	_, _, err = install("acme/fetch@1.0.0", "--grant-http-hosts", "a.example", "--grant-secrets", "token")
	require.NoError(t, err)
	require.Equal(t, []string{"a.example"}, f.installs[1].Grant.HTTP.Hosts)
	require.Equal(t, []string{"GET"}, f.installs[1].Grant.HTTP.Methods)
	require.Equal(t, []string{"token"}, f.installs[1].Grant.Secrets)

	_, _, err = install("acme/fetch", "--grant-requested", "--grant-secrets", "token")
	require.ErrorContains(t, err, "not both")
	_, _, err = install("acme/fetch@9.9.9", "--grant-requested")
	require.ErrorContains(t, err, "no published version 9.9.9")
	_, _, err = install("acme/missing", "--grant-requested")
	require.ErrorContains(t, err, "server answered 404 not_found")
	_, _, err = install("acme", "--grant-requested")
	require.ErrorContains(t, err, "not owner/name")

	// A module that asks for nothing needs no grant.
	_, _, err = install("acme/plain")
	require.NoError(t, err)
	require.Len(t, f.installs, 3)
	require.Equal(t, "2.0.0", f.installs[2].Version)
}

func TestSplitRef(t *testing.T) {
	t.Parallel()
	name, version, err := splitRef("acme/x@1.2.0", true)
	require.NoError(t, err)
	require.Equal(t, []string{"acme/x", "1.2.0"}, []string{name, version})
	_, _, err = splitRef("acme/x", true)
	require.ErrorContains(t, err, "give the version")
	for _, bad := range []string{"x", "/x", "acme/", "a/b/c", "@1.0.0"} {
		_, _, err = splitRef(bad, false)
		require.Error(t, err, bad)
	}
}

func FuzzSplitRef(f *testing.F) {
	f.Add("acme/x@1.2.0")
	f.Add("a/b/c@")
	f.Fuzz(func(t *testing.T, ref string) {
		name, version, err := splitRef(ref, false)
		if err != nil {
			return
		}
		again := name
		if version != "" || strings.Contains(ref, "@") {
			again += "@" + version
		}
		require.Equal(t, ref, again)
		require.Equal(t, 1, strings.Count(name, "/"))
	})
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgressLine(&buf, "pushing acme/x@1.0.0")
	p.done()
	require.Empty(t, buf.String(), "nothing drawn, nothing to end")
	for _, sent := range []int64{0, 1 << 19, 1<<19 + 1, 3 << 20} {
		p.update(sent, 3<<20)
	}
	p.done()
	require.Equal(t, "\rpushing acme/x@1.0.0  0 B / 3 MiB    0%\x1b[K"+
		"\rpushing acme/x@1.0.0  512 KiB / 3 MiB   16%\x1b[K"+
		"\rpushing acme/x@1.0.0  3 MiB / 3 MiB  100%  sent; the server checks it\x1b[K\n", buf.String())
	require.Equal(t, "1.5 MiB", formatBytes(3<<19))
	require.Equal(t, "999 B", formatBytes(999))
}

// TestClientConfigPrecedence: a flag over its environment variable over the
// config file over the default; the config file is --config,
// WASMFLOW_CONFIG or $XDG_CONFIG_HOME/wasmflow/config.json.
func TestClientConfigPrecedence(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	for _, name := range []string{"WASMFLOW_SERVER", "WASMFLOW_API_KEY", "WASMFLOW_CONFIG"} {
		t.Setenv(name, "")
		require.NoError(t, os.Unsetenv(name))
	}
	resolve := func(args ...string) (client.Config, error) {
		t.Helper()
		var cf clientFlags
		cmd := &cobra.Command{}
		addClientFlags(cmd, &cf)
		require.NoError(t, cmd.Flags().Parse(args))
		require.NoError(t, applyEnv(cmd.Flags()))
		return cf.clientConfig()
	}

	cfg, err := resolve()
	require.NoError(t, err, "no config file is fine")
	require.Equal(t, client.DefaultServer, cfg.Server)
	require.Empty(t, cfg.APIKey)

	require.NoError(t, os.MkdirAll(filepath.Join(xdg, "wasmflow"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(xdg, "wasmflow", "config.json"), []byte(`{"server": "http://file:1", "api_key": "wf_file"}`), 0o600))
	cfg, err = resolve()
	require.NoError(t, err)
	require.Equal(t, "http://file:1", cfg.Server)
	require.Equal(t, "wf_file", cfg.APIKey)

	t.Setenv("WASMFLOW_SERVER", "http://env:2")
	cfg, err = resolve()
	require.NoError(t, err)
	require.Equal(t, "http://env:2", cfg.Server)
	require.Equal(t, "wf_file", cfg.APIKey)

	cfg, err = resolve("--server", "http://flag:3", "--api-key", "wf_flag")
	require.NoError(t, err)
	require.Equal(t, "http://flag:3", cfg.Server)
	require.Equal(t, "wf_flag", cfg.APIKey)

	// Another config file by the environment, then by the flag.
	other := filepath.Join(t.TempDir(), "other.json")
	require.NoError(t, os.WriteFile(other, []byte(`{"api_key": "wf_other"}`), 0o600))
	t.Setenv("WASMFLOW_CONFIG", other)
	cfg, err = resolve()
	require.NoError(t, err)
	require.Equal(t, "wf_other", cfg.APIKey)
	_, err = resolve("--config", filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorContains(t, err, "config file", "a named file must exist")

	// node verify: --server alone takes the configured server.
	f := &fakeAPI{}
	server := startFake(t, f)
	t.Setenv("WASMFLOW_SERVER", server)
	t.Setenv("WASMFLOW_API_KEY", "wf_good")
	require.NoError(t, os.Unsetenv("WASMFLOW_CONFIG"))
	keyFile, _ := generateKey(t, "acme")
	dir := exampleNode(t, "hash", "acme")
	_, _, err = runCLI(t, "node", "sign", dir, "--key", keyFile)
	require.NoError(t, err)
	_, _, err = runCLI(t, "node", "verify", dir, "--server")
	require.ErrorContains(t, err, "publisher acme has registered no key")
	require.Equal(t, []string{"GET /api/v1/publishers/acme/keys"}, f.requests)
}
