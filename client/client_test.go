package client_test

import (
	"encoding/json"
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
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/client"
	"github.com/wasmflow/wasmflow/workflow"
)

// newServer starts an API stub and a client for it.
func newServer(t *testing.T, h http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(client.Config{Server: srv.URL + "/", APIKey: "wf_test", UserAgent: "wasmflow-cli/test"})
	require.NoError(t, err)
	return c
}

func problem(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func TestNewRefusesBadServers(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"127.0.0.1:8080", "ftp://host", "http://", "http://host/?q=1", "http://user:pw@host", "::"} {
		_, err := client.New(client.Config{Server: server})
		require.Error(t, err, server)
	}
	_, err := client.New(client.Config{APIKey: "wf_x\r\nX-Evil: 1"})
	require.ErrorContains(t, err, "line break")

	c, err := client.New(client.Config{})
	require.NoError(t, err)
	require.Equal(t, client.DefaultServer, c.Server())
}

func TestRequestsCarryKeyAndJSON(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body []byte
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"name": "acme", "created_at": "2026-11-26T08:00:00Z"}`)
	})
	p, err := c.PublisherCreate(t.Context(), "acme")
	require.NoError(t, err)
	require.Equal(t, "acme", p.Name)
	require.Equal(t, http.MethodPost, got.Method)
	require.Equal(t, "/api/v1/publishers", got.URL.Path)
	require.Equal(t, "Bearer wf_test", got.Header.Get("Authorization"))
	require.Equal(t, "wasmflow-cli/test", got.Header.Get("User-Agent"))
	require.Equal(t, "application/json", got.Header.Get("Content-Type"))
	require.JSONEq(t, `{"name": "acme"}`, string(body))
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	t.Parallel()
	var path string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	_, err := c.KeyRevoke(t.Context(), "acme", "ed25519:0123/../x")
	require.NoError(t, err)
	require.Equal(t, "/api/v1/publishers/acme/keys/ed25519:0123%2F..%2Fx/revoke", path)

	_, err = c.MarketplaceGet(t.Context(), "acme/x/y")
	require.ErrorContains(t, err, "not a module name")
}

func TestProblemsAreDecoded(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		problem(w, http.StatusUnprocessableEntity, `{"type": "https://wasmflow.dev/problems/signature_key_revoked",
			"title": "signature is invalid", "status": 422, "code": "signature_key_revoked",
			"detail": "key ed25519:0123456789abcdef was revoked",
			"errors": [{"location": "signature", "message": "revoked key"}]}`)
	})
	_, _, err := c.NodeUpload(t.Context(), &client.UploadParams{Module: []byte("\x00asm"), Manifest: []byte("{}")})
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, 422, p.Status)
	require.Equal(t, "signature_key_revoked", p.Code)
	require.True(t, client.HasCode(err, "signature_key_revoked"))
	require.True(t, client.HasStatus(err, 422))
	require.False(t, client.HasCode(io.EOF, "x"))
	require.Equal(t, "server answered 422 signature_key_revoked: signature is invalid: key ed25519:0123456789abcdef was revoked; signature: revoked key", err.Error())
}

func TestProblemErrorSaysEachThingOnce(t *testing.T) {
	t.Parallel()
	p := &client.Problem{Status: 422, Code: "signature_mismatch", Title: "signature is for another module",
		Detail: "signature: the wasm bytes differ", Errors: []client.FieldProblem{{Location: "signature", Message: "the wasm bytes differ"}}}
	require.Equal(t, "server answered 422 signature_mismatch: signature is for another module: signature: the wasm bytes differ", p.Error())
	p.Detail = "2 problem(s) in the request"
	p.Errors = append(p.Errors, client.FieldProblem{Message: "no location"})
	require.Equal(t, "server answered 422 signature_mismatch: signature is for another module: 2 problem(s) in the request; "+
		"signature: the wasm bytes differ; no location", p.Error())
	require.Equal(t, "server answered 502", (&client.Problem{Status: 502}).Error())
}

func TestErrorsThatAreNotProblems(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/publishers":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>\n  <body>"+strings.Repeat("é", 400)+"</body></html>")
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"items": "not a list"}`)
		}
	})
	_, err := c.PublisherCreate(t.Context(), "acme")
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, http.StatusBadGateway, p.Status)
	require.Equal(t, "bad gateway", p.Title)
	require.True(t, strings.HasPrefix(p.Detail, "<html> <body>éé"), p.Detail)
	require.True(t, utf8.ValidString(p.Detail))
	require.LessOrEqual(t, len(p.Detail), 310)

	_, err = c.KeyList(t.Context(), "acme")
	require.ErrorContains(t, err, "not the expected JSON")
}

func TestUploadIsMultipartWithProgress(t *testing.T) {
	t.Parallel()
	parts := map[string]string{}
	types := map[string]string{}
	status := http.StatusCreated
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mediaType != "multipart/form-data" || r.ContentLength <= 0 {
			problem(w, http.StatusUnsupportedMediaType, `{"code": "unsupported_media_type", "title": "no"}`)
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(part)
			parts[part.FormName()] = string(data)
			types[part.FormName()] = part.Header.Get("Content-Type")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"name": "acme/x", "version": "1.0.0", "digest": "sha256:ab", "size": 3,
			"signature": {"status": "verified", "publisher": "acme", "key_id": "ed25519:0123456789abcdef", "signed_at": "2026-11-26T08:00:00Z"}}`)
	})
	module := []byte(strings.Repeat("w", 200_000))
	var (
		mu          sync.Mutex
		calls       int
		last, total int64
		backwards   bool
	)
	v, created, err := c.NodeUpload(t.Context(), &client.UploadParams{
		Module: module, Manifest: []byte(`{"name": "acme/x"}`), Signature: []byte(`{"statement": {}}`),
		// Called on the transport's goroutine: record, check below.
		Progress: func(sent, size int64) {
			mu.Lock()
			defer mu.Unlock()
			backwards = backwards || sent < last
			calls, last, total = calls+1, sent, size
		},
	})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "verified", v.Signature.Status)
	require.Equal(t, "ed25519:0123456789abcdef", v.Signature.KeyID)
	require.Equal(t, string(module), parts["module"])
	require.Equal(t, `{"name": "acme/x"}`, parts["manifest"])
	require.Equal(t, `{"statement": {}}`, parts["signature"])
	require.Equal(t, "application/wasm", types["module"])
	mu.Lock()
	require.False(t, backwards, "progress never goes back")
	require.Greater(t, calls, 1)
	require.Equal(t, total, last, "progress reaches the whole body")
	mu.Unlock()

	// Unsigned: no signature part; 200 is "already there".
	clear(parts)
	status = http.StatusOK
	_, created, err = c.NodeUpload(t.Context(), &client.UploadParams{Module: []byte("m"), Manifest: []byte("{}")})
	require.NoError(t, err)
	require.False(t, created)
	require.NotContains(t, parts, "signature")

	_, _, err = c.NodeUpload(t.Context(), &client.UploadParams{Manifest: []byte("{}")})
	require.ErrorContains(t, err, "needs a module")
}

func TestListsFollowCursors(t *testing.T) {
	t.Parallel()
	var cursors []string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		cursor := r.URL.Query().Get("cursor")
		cursors = append(cursors, cursor)
		w.Header().Set("Content-Type", "application/json")
		switch cursor {
		case "":
			_, _ = io.WriteString(w, `{"items": [{"key_id": "ed25519:1111111111111111"}], "next_cursor": "c2"}`)
		case "c2":
			_, _ = io.WriteString(w, `{"items": [{"key_id": "ed25519:2222222222222222", "revoked_at": "2026-11-26T08:00:00Z"}], "next_cursor": ""}`)
		}
	})
	keys, err := c.KeyList(t.Context(), "acme")
	require.NoError(t, err)
	require.Equal(t, []string{"", "c2"}, cursors)
	require.Len(t, keys, 2)
	require.Nil(t, keys[0].RevokedAt)
	require.NotNil(t, keys[1].RevokedAt)
}

func TestMarketplace(t *testing.T) {
	t.Parallel()
	var query string
	var install map[string]any
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/marketplace":
			query = r.URL.RawQuery
			_, _ = io.WriteString(w, `{"items": [], "next_cursor": ""}`)
		case "/api/v1/marketplace/install":
			_ = json.NewDecoder(r.Body).Decode(&install)
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"name": "acme/x", "version": "1.0.0", "digest": "sha256:ab", "grant": {"http": {"hosts": ["a.example"]}}}`)
		case "/api/v1/marketplace/acme/x/versions/1.0.0/yank":
			_, _ = io.WriteString(w, `{}`)
		default:
			problem(w, http.StatusNotFound, `{"code": "not_found", "title": "resource not found"}`)
		}
	})
	page, err := c.MarketplaceSearch(t.Context(), &client.MarketplaceSearchParams{Query: "hash sum", Cursor: "c1", Limit: 5})
	require.NoError(t, err)
	require.Empty(t, page.Items)
	require.NotNil(t, page.Items)
	require.Equal(t, "cursor=c1&limit=5&q=hash+sum", query)

	in, err := c.MarketplaceInstall(t.Context(), &client.InstallParams{Name: "acme/x", Version: "1.0.0",
		Grant: workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"a.example"}}}})
	require.NoError(t, err)
	require.Equal(t, []string{"a.example"}, in.Grant.HTTP.Hosts)
	require.Equal(t, map[string]any{"name": "acme/x", "version": "1.0.0",
		"grant": map[string]any{"http": map[string]any{"hosts": []any{"a.example"}}}}, install)

	require.NoError(t, c.MarketplaceYank(t.Context(), "acme/x", "1.0.0", "broken"))
	_, err = c.MarketplaceGet(t.Context(), "acme/missing")
	require.True(t, client.HasStatus(err, http.StatusNotFound))
}

func TestCatalogEntryVersion(t *testing.T) {
	t.Parallel()
	e := client.CatalogEntry{Versions: []client.CatalogVersion{{Version: "1.0.0"}, {Version: "1.1.0"}, {Version: "1.2.0", Yanked: true}}}
	v, ok := e.Version("")
	require.True(t, ok)
	require.Equal(t, "1.1.0", v.Version, "the newest not yanked")
	v, ok = e.Version("1.2.0")
	require.True(t, ok, "an exact version even when yanked: the server says why it refuses")
	require.True(t, v.Yanked)
	_, ok = e.Version("2.0.0")
	require.False(t, ok)
	_, ok = (&client.CatalogEntry{Versions: []client.CatalogVersion{{Version: "1.0.0", Yanked: true}}}).Version("")
	require.False(t, ok)
}

func TestReadConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string, perm os.FileMode) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), perm))
		require.NoError(t, os.Chmod(path, perm))
		return path
	}

	c, err := client.ReadConfigFile(filepath.Join(dir, "missing.json"), false)
	require.NoError(t, err)
	require.Equal(t, &client.FileConfig{}, c)
	_, err = client.ReadConfigFile(filepath.Join(dir, "missing.json"), true)
	require.ErrorContains(t, err, "no such file")

	c, err = client.ReadConfigFile(write("ok.json", `{"server": "http://h:1", "api_key": "wf_k"}`, 0o600), true)
	require.NoError(t, err)
	require.Equal(t, &client.FileConfig{Server: "http://h:1", APIKey: "wf_k"}, c)

	_, err = client.ReadConfigFile(write("open.json", `{"api_key": "wf_k"}`, 0o644), true)
	require.ErrorContains(t, err, "chmod 600")
	c, err = client.ReadConfigFile(write("server-only.json", `{"server": "http://h:1"}`, 0o644), true)
	require.NoError(t, err, "a file without a key may be readable")
	require.Equal(t, "http://h:1", c.Server)

	_, err = client.ReadConfigFile(write("typo.json", `{"sever": "http://h:1"}`, 0o600), true)
	require.ErrorContains(t, err, `unknown field "sever"`)
	_, err = client.ReadConfigFile(write("big.json", strings.Repeat(" ", 70<<10)+"{}", 0o600), true)
	require.ErrorContains(t, err, "over")
}

func TestDefaultConfigPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	require.Equal(t, "/xdg/wasmflow/config.json", client.DefaultConfigPath())
}
