package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
)

const (
	examplesDir = "../plugins-examples"
	fixturesDir = "../registry/testdata" // the registry's hostile and helper modules
)

// newNodeEnv is an env whose server has a registry configured by cfg.
func newNodeEnv(t testing.TB, cfg registry.Config) *env {
	t.Helper()
	e := newEnvWith(t, envOpts{registry: &cfg})
	// Compiling a module on upload (the 3.4 MB Go example) takes seconds
	// under -race on a busy machine.
	e.client.Timeout = 5 * time.Minute
	return e
}

// part is one part of a multipart upload.
type part struct {
	name, filename string
	data           []byte
}

// multipartBody encodes parts; a part without a filename is a plain field.
func multipartBody(t testing.TB, parts ...part) (body []byte, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
			h.Set("Content-Type", "application/octet-stream")
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return buf.Bytes(), mw.FormDataContentType()
}

// upload posts parts to /api/v1/nodes with key.
func (e *env) upload(key string, parts ...part) *response {
	e.t.Helper()
	body, ct := multipartBody(e.t, parts...)
	return e.do(req{method: http.MethodPost, path: "/api/v1/nodes", key: key, body: body, header: map[string]string{"Content-Type": ct}})
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// testManifest is a valid manifest for acme/guest@1.0.0 with the key/value
// pairs given (a nil value deletes the key).
func testManifest(t testing.TB, kv ...any) []byte {
	t.Helper()
	m := map[string]any{"name": "acme/guest", "version": "1.0.0", "abi": "extism-v1"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func moduleParts(t testing.TB, wasmPath string, manifest []byte) []part {
	t.Helper()
	return []part{
		{name: "module", filename: filepath.Base(wasmPath), data: readFile(t, wasmPath)},
		{name: "manifest", filename: "wasmflow.json", data: manifest},
	}
}

// Every example uploads, lists, reads and test-runs to its expected outputs.
func TestNodeExamplesThroughHTTP(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	dirs, err := filepath.Glob(filepath.Join(examplesDir, "*", "wasmflow.json"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)

	var names []string
	for _, mf := range dirs {
		dir := filepath.Dir(mf)
		wasms, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
		require.NoError(t, err)
		require.Len(t, wasms, 1)
		wasm := readFile(t, wasms[0])
		manifest := readFile(t, mf)

		r := e.upload(e.key, part{name: "module", filename: filepath.Base(wasms[0]), data: wasm}, part{name: "manifest", filename: "wasmflow.json", data: manifest})
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		var created nodeVersionResponse
		r.decode(t, &created)
		raw := r.json(t)
		for _, field := range []string{"name", "version", "digest", "abi", "size", "manifest", "created_at"} {
			require.Contains(t, raw, field)
		}
		require.Equal(t, map[string]any{"status": "unsigned"}, raw["signature"])
		require.True(t, strings.HasPrefix(created.Digest, "sha256:"), created.Digest)
		require.Len(t, created.Digest, len("sha256:")+64)
		require.EqualValues(t, len(wasm), created.Size)
		require.Equal(t, "1.0.0", created.Version)
		require.Equal(t, created.Name, created.Manifest.Name)
		require.NotEmpty(t, created.Manifest.ParamsSchema)
		require.Equal(t, "/api/v1/nodes/"+created.Name+"/versions/1.0.0", r.header.Get("Location"))
		names = append(names, created.Name)

		// The same upload again: 200, the same version, the manifest as a field this time.
		r = e.upload(e.key, part{name: "module", filename: "x.wasm", data: wasm}, part{name: "manifest", data: manifest})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		var again nodeVersionResponse
		r.decode(t, &again)
		require.Equal(t, created, again)

		// Readable.
		r = e.do(req{method: http.MethodGet, path: "/api/v1/nodes/" + created.Name + "/versions/1.0.0", key: e.key})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		var got nodeVersionResponse
		r.decode(t, &got)
		require.Equal(t, created, got)
		r = e.do(req{method: http.MethodGet, path: "/api/v1/nodes/" + created.Name, key: e.key})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		var node nodeResponse
		r.decode(t, &node)
		require.Equal(t, nodeResponse{Name: created.Name, LatestVersion: "1.0.0", Versions: []nodeVersionResponse{created}}, node)

		// Its testdata through the test route, but for cases whose HTTP
		// requests only the node's own tests can answer (NAME.fetch.json,
		// with the host function faked).
		inputs, err := filepath.Glob(filepath.Join(dir, "testdata", "*.input.json"))
		require.NoError(t, err)
		for _, in := range inputs {
			if _, err := os.Stat(strings.TrimSuffix(in, ".input.json") + ".fetch.json"); err == nil {
				continue
			}
			var doc struct {
				Items  json.RawMessage `json:"items"`
				Params json.RawMessage `json:"params"`
			}
			require.NoError(t, json.Unmarshal(readFile(t, in), &doc), in)
			body := map[string]json.RawMessage{}
			if doc.Items != nil {
				body["items"] = doc.Items
			}
			if doc.Params != nil {
				body["params"] = doc.Params
			}
			r := e.do(req{method: http.MethodPost, path: "/api/v1/nodes/" + created.Name + "/versions/1.0.0/test", key: e.key, body: body})
			require.Equal(t, http.StatusOK, r.status, "%s: %s", in, r.body)
			var res struct {
				Output     json.RawMessage `json:"output"`
				Logs       []any           `json:"logs"`
				DurationMS *int64          `json:"duration_ms"`
			}
			r.decode(t, &res)
			want := readFile(t, strings.TrimSuffix(in, ".input.json")+".output.json")
			require.JSONEq(t, string(want), string(res.Output), in)
			require.NotNil(t, res.Logs, in)
			require.NotNil(t, res.DurationMS, in)
		}
	}

	// The listing has every example, by name.
	r := e.do(req{method: http.MethodGet, path: "/api/v1/nodes?limit=2", key: e.key})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var page Page[nodeSummaryResponse]
	r.decode(t, &page)
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.NextCursor)
	listed := []string{}
	for cursor := ""; ; {
		r := e.do(req{method: http.MethodGet, path: "/api/v1/nodes?cursor=" + cursor, key: e.key})
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		var p Page[nodeSummaryResponse]
		r.decode(t, &p)
		for _, it := range p.Items {
			listed = append(listed, it.Name)
			require.Equal(t, "1.0.0", it.LatestVersion)
			require.Equal(t, 1, it.Versions)
			require.False(t, it.UpdatedAt.IsZero())
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	require.ElementsMatch(t, names, listed)
	e.do(req{method: http.MethodGet, path: "/api/v1/nodes?cursor=garbage", key: e.key}).problem(t, http.StatusBadRequest, CodeInvalidCursor)
}

// Each hostile upload gets the right status, code and field.
func TestNodeUploadRefusals(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{MaxModuleBytes: 64 << 10})
	guest := filepath.Join(fixturesDir, "guest.wasm")
	hash := readFile(t, filepath.Join(examplesDir, "hash", "hash.wasm"))
	manifest := testManifest(t)
	random := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000)

	for _, tc := range []struct {
		name      string
		parts     []part
		status    int
		code      string
		locations []string
	}{
		{"random bytes", []part{{name: "module", filename: "m.wasm", data: random}, {name: "manifest", data: manifest}}, 422, CodeModuleInvalid, []string{"module"}},
		{"truncated module", []part{{name: "module", filename: "m.wasm", data: hash[:len(hash)/3]}, {name: "manifest", data: manifest}}, 422, CodeModuleInvalid, []string{"module"}},
		{"compiler crash", moduleParts(t, filepath.Join(fixturesDir, "bad_type_index.wasm"), manifest), 422, CodeModuleInvalid, []string{"module"}},
		{"no entrypoint", moduleParts(t, filepath.Join(fixturesDir, "no_entry.wasm"), manifest), 422, CodeMissingEntrypoint, []string{"manifest.entrypoint"}},
		{"unknown host function", moduleParts(t, filepath.Join(fixturesDir, "unknown_hostfunc.wasm"), manifest), 422, CodeImportNotAllowed, []string{"module"}},
		{"http_fetch undeclared", moduleParts(t, filepath.Join(fixturesDir, "http_fetch.wasm"), manifest), 422, CodeImportNotAllowed, []string{"manifest.capabilities.http"}},
		{"wasi command importing extism", moduleParts(t, filepath.Join(fixturesDir, "wasi_extism.wasm"), testManifest(t, "abi", "wasi-command-v1")), 422, CodeImportNotAllowed, []string{"module"}},
		{"module over the cap", []part{{name: "module", filename: "m.wasm", data: make([]byte, 64<<10+1)}, {name: "manifest", data: manifest}}, 413, CodeModuleTooLarge, []string{"module"}},
		{"manifest over its cap", []part{{name: "module", filename: "m.wasm", data: readFile(t, guest)}, {name: "manifest", data: bytes.Repeat([]byte(" "), 64<<10+1)}}, 413, CodeManifestTooLarge, []string{"manifest"}},
		{"no module", []part{{name: "manifest", data: manifest}}, 422, CodeModuleInvalid, []string{"module"}},
		{"no manifest", []part{{name: "module", filename: "m.wasm", data: readFile(t, guest)}}, 422, CodeManifestInvalid, []string{"manifest"}},
		{"bad name", moduleParts(t, guest, testManifest(t, "name", "Acme/Guest")), 422, CodeManifestInvalid, []string{"manifest.name"}},
		{"bad semver", moduleParts(t, guest, testManifest(t, "version", "1.0")), 422, CodeManifestInvalid, []string{"manifest.version"}},
		{"unknown abi", moduleParts(t, guest, testManifest(t, "abi", "wasm32")), 422, CodeManifestInvalid, []string{"manifest.abi"}},
		{"unknown field", moduleParts(t, guest, testManifest(t, "permissions", "all")), 422, CodeManifestInvalid, []string{"manifest.permissions"}},
		{"bad params_schema", moduleParts(t, guest, testManifest(t, "params_schema", map[string]any{"type": 5})), 422, CodeManifestInvalid, []string{"manifest.params_schema.type"}},
		{"bad host", moduleParts(t, guest, testManifest(t, "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"ok.com", "a b"}}})), 422, CodeManifestInvalid, []string{"manifest.capabilities.http.hosts[1]"}},
		{"signature not JSON", append(moduleParts(t, guest, manifest), part{name: "signature", filename: "m.sig", data: []byte("sig")}), 422, CodeSignatureInvalid, []string{"signature"}},
		{"unknown part", append(moduleParts(t, guest, manifest), part{name: "readme", data: []byte("hi")}), 400, CodeInvalidRequest, []string{"body.readme"}},
		{"part twice", append(moduleParts(t, guest, manifest), part{name: "manifest", data: manifest}), 400, CodeInvalidRequest, []string{"body.manifest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := e.upload(e.key, tc.parts...).problem(t, tc.status, tc.code)
			require.Equal(t, tc.locations, p.locations())
			require.NotEmpty(t, p.Detail)
			for _, fp := range p.Errors {
				require.NotEmpty(t, fp.Message)
			}
		})
	}

	// Nothing was stored.
	e.do(req{method: http.MethodGet, path: "/api/v1/nodes/acme/guest", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
}

// The request itself is wrong: not multipart, malformed, compressed, too large.
func TestNodeUploadRequestProblems(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{MaxModuleBytes: 64 << 10})
	post := func(body []byte, header map[string]string) *response {
		return e.do(req{method: http.MethodPost, path: "/api/v1/nodes", key: e.key, body: body, header: header})
	}
	good, ct := multipartBody(t, moduleParts(t, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t))...)

	p := post([]byte(`{"module": "x"}`), nil).problem(t, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType)
	require.Equal(t, []string{"header.Content-Type"}, p.locations())
	post(good, map[string]string{"Content-Type": "multipart/form-data"}).problem(t, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType)
	rr := post(good[:len(good)-20], map[string]string{"Content-Type": ct})
	p = rr.problem(t, http.StatusBadRequest, CodeInvalidRequest)
	require.Equal(t, []string{"body"}, p.locations())
	post(nil, map[string]string{"Content-Type": ct}).problem(t, http.StatusBadRequest, CodeInvalidRequest)

	// Compressed: refused before the body is read (a gzip bomb would be
	// decompressed whole).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(good)
	require.NoError(t, zw.Close())
	p = post(gz.Bytes(), map[string]string{"Content-Type": ct, "Content-Encoding": "gzip"}).problem(t, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType)
	require.Equal(t, []string{"header.Content-Encoding"}, p.locations())

	// Over the upload's own cap: module + manifest + signature caps + framing.
	limit := e.srv.uploadBodyLimit()
	require.Equal(t, 64<<10+64<<10+16<<10+64<<10, limit)
	huge, hct := multipartBody(t, part{name: "module", filename: "m.wasm", data: make([]byte, limit)}, part{name: "manifest", data: testManifest(t)})
	post(huge, map[string]string{"Content-Type": hct}).problem(t, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)

	// JSON routes keep the server's own cap.
	big := `{"name": "` + strings.Repeat("x", DefaultBodyLimit) + `"}`
	e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: big}).problem(t, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)

	// A well-formed upload still works after all that.
	r := post(good, map[string]string{"Content-Type": ct, "Content-Encoding": "identity"})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
}

// Versions are immutable: other bytes or another manifest under an existing
// version is 409.
func TestNodeUploadImmutable(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	r := e.upload(e.key, moduleParts(t, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var first nodeVersionResponse
	r.decode(t, &first)

	p := e.upload(e.key, moduleParts(t, filepath.Join(fixturesDir, "bigmem.wasm"), testManifest(t))...).problem(t, http.StatusConflict, CodeVersionImmutable)
	require.Equal(t, []string{"manifest.version"}, p.locations())
	require.Contains(t, p.Errors[0].Message, "versions are immutable")
	p = e.upload(e.key, moduleParts(t, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t, "description", "changed"))...).problem(t, http.StatusConflict, CodeVersionImmutable)
	require.Contains(t, p.Errors[0].Message, "another manifest")

	// A signed version: verified, and described.
	key := e.newPublisher(e.key, "acme")
	r = e.upload(e.key, e.signedParts(key, filepath.Join(fixturesDir, "guest.wasm"), testManifest(t, "version", "1.1.0"))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var signed nodeVersionResponse
	r.decode(t, &signed)
	require.Equal(t, "verified", signed.Signature.Status)
	require.Equal(t, "acme", signed.Signature.Publisher)
	require.Equal(t, key.KeyID, signed.Signature.KeyID)
	require.Equal(t, "unsigned", first.Signature.Status)

	r = e.do(req{method: http.MethodGet, path: "/api/v1/nodes/acme/guest", key: e.key})
	require.Equal(t, http.StatusOK, r.status)
	var node nodeResponse
	r.decode(t, &node)
	require.Equal(t, "1.1.0", node.LatestVersion)
	require.Len(t, node.Versions, 2)
	require.Equal(t, first, node.Versions[0])
}

// A failing run is 422 node_failed with the run's kind.
func TestNodeTestRunFailures(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	guest := filepath.Join(fixturesDir, "guest.wasm")
	for _, m := range [][]byte{
		testManifest(t, "name", "acme/trap", "entrypoint", "trap"),
		testManifest(t, "name", "acme/loop", "entrypoint", "loop", "limits", map[string]any{"timeout_ms": 50}),
		testManifest(t, "name", "acme/fail", "entrypoint", "fail"),
		testManifest(t, "name", "acme/echo"),
	} {
		r := e.upload(e.key, moduleParts(t, guest, m)...)
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	}
	r := e.upload(e.key, moduleParts(t, filepath.Join(fixturesDir, "http_fetch.wasm"),
		testManifest(t, "name", "acme/http", "capabilities", map[string]any{"http": map[string]any{"hosts": []string{"example.com"}}}))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	for _, tc := range []struct{ name, kind, detail string }{
		{"acme/trap", "trap", "unreachable"},
		{"acme/loop", "timeout", "deadline"},
		{"acme/fail", "guest_error", "boom: bad params"},
		// Granted as its manifest declares, called with an empty handle: the
		// fetch answers invalid_request, and the guest outputs nothing.
		{"acme/http", "invalid_output", "output is empty"},
	} {
		p := e.do(req{method: http.MethodPost, path: "/api/v1/nodes/" + tc.name + "/versions/1.0.0/test", key: e.key, body: map[string]any{"items": []any{map[string]any{"a": 1}}}}).
			problem(t, http.StatusUnprocessableEntity, CodeNodeFailed)
		require.Equal(t, tc.kind, p.Kind, tc.name)
		require.Contains(t, p.Detail, tc.detail, tc.name)
	}

	// The echo module shows the input document a test run builds.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/nodes/acme/echo/versions/1.0.0/test", key: e.key,
		body: map[string]any{"items": []any{map[string]any{"n": 12345678901234567}}, "params": map[string]any{"p": true}}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var res testNodeResponse
	r.decode(t, &res)
	require.JSONEq(t, `{"items": [{"n": 12345678901234567}], "inputs": {"main": [{"n": 12345678901234567}]}, "params": {"p": true},
		"node": {"name": "test", "module": "acme/echo", "version": "1.0.0"}, "execution": {"id": "test", "workflow_id": "", "attempt": 1}}`, string(res.Output))
	require.Equal(t, []registry.LogLine{}, res.Logs)

	// An empty body runs with no items; bad bodies are the request's fault.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/nodes/acme/echo/versions/1.0.0/test", key: e.key, body: map[string]any{}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodPost, path: "/api/v1/nodes/acme/echo/versions/1.0.0/test", key: e.key, body: `{"items": [1]}`}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
	e.do(req{method: http.MethodPost, path: "/api/v1/nodes/acme/echo/versions/1.0.0/test", key: e.key, body: `{"items": `}).
		problem(t, http.StatusBadRequest, CodeInvalidJSON)
	e.do(req{method: http.MethodPost, path: "/api/v1/nodes/acme/echo/versions/9.9.9/test", key: e.key, body: map[string]any{}}).
		problem(t, http.StatusNotFound, CodeNotFound)
}

// Another tenant's modules are 404, and it may use the same names.
func TestNodeTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	guest := filepath.Join(fixturesDir, "guest.wasm")
	r := e.upload(e.key, moduleParts(t, guest, testManifest(t))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	_, other := e.newTenant("globex")
	for _, rq := range []req{
		{method: http.MethodGet, path: "/api/v1/nodes/acme/guest"},
		{method: http.MethodGet, path: "/api/v1/nodes/acme/guest/versions/1.0.0"},
		{method: http.MethodPost, path: "/api/v1/nodes/acme/guest/versions/1.0.0/test", body: map[string]any{}},
	} {
		rq.key = other
		e.do(rq).problem(t, http.StatusNotFound, CodeNotFound)
	}
	r = e.do(req{method: http.MethodGet, path: "/api/v1/nodes", key: other})
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"items": [], "next_cursor": ""}`, string(r.body))

	// The same name and version with other bytes is the other tenant's own.
	r = e.upload(other, moduleParts(t, filepath.Join(fixturesDir, "bigmem.wasm"), testManifest(t))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
}

// Reads need viewer, uploads editor, test runs runner.
func TestNodeRoles(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	guest := filepath.Join(fixturesDir, "guest.wasm")
	viewer, _ := e.newKey(e.tenantID, auth.RoleViewer, nil)
	runner, _ := e.newKey(e.tenantID, auth.RoleRunner, nil)
	editor, _ := e.newKey(e.tenantID, auth.RoleEditor, nil)

	e.upload(viewer, moduleParts(t, guest, testManifest(t))...).problem(t, http.StatusForbidden, CodeForbidden)
	e.upload(runner, moduleParts(t, guest, testManifest(t))...).problem(t, http.StatusForbidden, CodeForbidden)
	e.upload("", moduleParts(t, guest, testManifest(t))...).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	r := e.upload(editor, moduleParts(t, guest, testManifest(t))...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)

	for _, path := range []string{"/api/v1/nodes", "/api/v1/nodes/acme/guest", "/api/v1/nodes/acme/guest/versions/1.0.0"} {
		r := e.do(req{method: http.MethodGet, path: path, key: viewer})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
		e.do(req{method: http.MethodGet, path: path}).problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	}
	test := req{method: http.MethodPost, path: "/api/v1/nodes/acme/guest/versions/1.0.0/test", body: map[string]any{}}
	test.key = viewer
	e.do(test).problem(t, http.StatusForbidden, CodeForbidden)
	test.key = runner
	r = e.do(test)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	// The upload was audited, with the actor.
	entries, _, err := e.store.AuditList(t.Context(), e.tenantID, store.AuditFilter{Action: "node.upload"}, store.Page{})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "acme/guest@1.0.0", entries[0].Resource)
}

// The OpenAPI document lists the node routes with their roles, and still
// documents exactly what the server serves.
func TestNodeRoutesDocumented(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, registry.Config{})
	r := e.do(req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, r.status)
	var doc struct {
		Paths map[string]map[string]struct {
			Role        string         `json:"x-required-role"`
			RequestBody map[string]any `json:"requestBody"`
			Responses   map[string]any `json:"responses"`
		} `json:"paths"`
	}
	r.decode(t, &doc)
	for _, tc := range []struct{ method, path, role string }{
		{"post", "/api/v1/nodes", auth.RoleEditor},
		{"get", "/api/v1/nodes", auth.RoleViewer},
		{"get", "/api/v1/nodes/{owner}/{name}", auth.RoleViewer},
		{"get", "/api/v1/nodes/{owner}/{name}/versions/{version}", auth.RoleViewer},
		{"post", "/api/v1/nodes/{owner}/{name}/versions/{version}/test", auth.RoleRunner},
	} {
		op, ok := doc.Paths[tc.path][tc.method]
		require.True(t, ok, "%s %s is not documented", tc.method, tc.path)
		require.Equal(t, tc.role, op.Role, "%s %s", tc.method, tc.path)
	}
	uploadOp := doc.Paths["/api/v1/nodes"]["post"]
	require.Contains(t, uploadOp.RequestBody["content"], "multipart/form-data")
	for _, status := range []string{"200", "201", "409", "413", "415", "422"} {
		require.Contains(t, uploadOp.Responses, status)
	}

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range e.srv.app.GetRoutes(true) {
		if rt.Path == openAPIPath {
			continue
		}
		path := rt.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served[rt.Method+" "+path] = true
	}
	require.Equal(t, documented, served)

	// Without a registry there are no node routes.
	plain := newEnv(t)
	plain.do(req{method: http.MethodGet, path: "/api/v1/nodes", key: plain.key}).problem(t, http.StatusNotFound, CodeNotFound)
}

// Every registry code maps to its status; a run failure carries its kind.
func TestNodeProblemMapping(t *testing.T) {
	t.Parallel()
	for code, status := range map[string]int{
		registry.CodeModuleTooLarge:    413,
		registry.CodeManifestTooLarge:  413,
		registry.CodeSignatureTooLarge: 413,
		registry.CodeManifestInvalid:   422,
		registry.CodeSignatureInvalid:  422,
		registry.CodeModuleInvalid:     422,
		registry.CodeImportNotAllowed:  422,
		registry.CodeMissingEntrypoint: 422,
		registry.CodeVersionImmutable:  409,
		registry.CodeRefInvalid:        422,
	} {
		p := toProblem(fmt.Errorf("wrapped: %w", &registry.Error{Code: code, Problems: []registry.Problem{{Field: "manifest.x", Message: "bad"}, {Field: "module", Message: "worse"}}}))
		require.Equal(t, status, p.Status, code)
		require.Equal(t, code, p.Code)
		require.Equal(t, []FieldProblem{{Location: "manifest.x", Message: "bad"}, {Location: "module", Message: "worse"}}, p.Errors)
		require.Equal(t, "2 problem(s) in the request", p.Detail)
	}
	p := toProblem(&registry.RunError{Kind: "timeout", Message: "run exceeded its deadline"})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Equal(t, CodeNodeFailed, p.Code)
	require.Equal(t, "timeout", p.Kind)
	require.Equal(t, "run exceeded its deadline", p.Detail)
}
