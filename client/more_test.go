package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/client"
)

func TestNodeGet(t *testing.T) {
	t.Parallel()
	var path string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/nodes/acme/x/versions/1.0.0" {
			problem(w, http.StatusNotFound, `{"code": "not_found", "title": "resource not found"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name": "acme/x", "version": "1.0.0", "digest": "sha256:ab", "abi": "wasmflow/1", "size": 3,
			"created_at": "2026-11-26T08:00:00Z"}`)
	})
	v, err := c.NodeGet(t.Context(), "acme/x", "1.0.0")
	require.NoError(t, err)
	require.Equal(t, &client.NodeVersion{Name: "acme/x", Version: "1.0.0", Digest: "sha256:ab", ABI: "wasmflow/1", Size: 3,
		CreatedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}, v)
	require.Nil(t, v.Signature, "unsigned")

	_, err = c.NodeGet(t.Context(), "acme/x", "1.0.0/../../y")
	require.True(t, client.HasCode(err, "not_found"))
	require.Equal(t, "/api/v1/nodes/acme/x/versions/1.0.0%2F..%2F..%2Fy", path, "the version is one segment")

	for _, name := range []string{"acme", "acme/", "/x", "acme/x/y", ""} {
		path = ""
		_, err = c.NodeGet(t.Context(), name, "1.0.0")
		require.ErrorContains(t, err, "not a module name", name)
		require.Empty(t, path, "nothing is sent for %q", name)
	}
}

func TestPublisherListFollowsCursors(t *testing.T) {
	t.Parallel()
	var cursors []string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/publishers" {
			problem(w, http.StatusNotFound, `{"code": "not_found", "title": "resource not found"}`)
			return
		}
		cursor := r.URL.Query().Get("cursor")
		cursors = append(cursors, cursor)
		w.Header().Set("Content-Type", "application/json")
		switch cursor {
		case "":
			_, _ = io.WriteString(w, `{"items": [{"name": "acme"}, {"name": "beta"}], "next_cursor": "c2"}`)
		case "c2":
			_, _ = io.WriteString(w, `{"items": [{"name": "gamma"}]}`)
		}
	})
	pubs, err := c.PublisherList(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"", "c2"}, cursors)
	require.Len(t, pubs, 3)
	require.Equal(t, "gamma", pubs[2].Name)
}

func TestListsStopOnARepeatedCursor(t *testing.T) {
	t.Parallel()
	calls := 0
	c := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"items": [{"name": "acme"}], "next_cursor": "same"}`)
	})
	pubs, err := c.PublisherList(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, calls, "a server that repeats its cursor does not loop the client")
	require.Len(t, pubs, 2)
}

func TestListsEmptyAndFailing(t *testing.T) {
	t.Parallel()
	fail := false
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if fail && r.URL.Query().Get("cursor") == "c2" {
			problem(w, http.StatusForbidden, `{"code": "forbidden", "title": "not allowed"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if fail {
			_, _ = io.WriteString(w, `{"items": [{"name": "acme"}], "next_cursor": "c2"}`)
			return
		}
		_, _ = io.WriteString(w, `{"items": null, "next_cursor": ""}`)
	})
	pubs, err := c.PublisherList(t.Context())
	require.NoError(t, err)
	require.NotNil(t, pubs, "an empty list is empty, not nil")
	require.Empty(t, pubs)

	fail = true
	pubs, err = c.PublisherList(t.Context())
	require.True(t, client.HasStatus(err, http.StatusForbidden))
	require.Nil(t, pubs, "a failed page fails the whole list")
}

func TestKeyRegister(t *testing.T) {
	t.Parallel()
	var got map[string]any
	var path string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"key_id": "ed25519:0123456789abcdef", "publisher": "acme", "public_key": "AAAA",
			"not_before": null, "not_after": "2027-01-01T00:00:00Z", "revoked_at": null}`)
	})
	notAfter := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	k, err := c.KeyRegister(t.Context(), "acme", &client.KeyRegisterParams{PublicKey: "AAAA", Proof: "sig", NotAfter: &notAfter})
	require.NoError(t, err)
	require.Equal(t, "/api/v1/publishers/acme/keys", path)
	require.Equal(t, map[string]any{"public_key": "AAAA", "proof": "sig", "not_after": "2027-01-01T00:00:00Z"}, got,
		"an unset bound is left out")
	require.Equal(t, "ed25519:0123456789abcdef", k.KeyID)
	require.Nil(t, k.NotBefore)
	require.Equal(t, notAfter, *k.NotAfter)
	require.Nil(t, k.RevokedAt)
}

func TestKeyRegisterProblem(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		problem(w, http.StatusUnprocessableEntity, `{"code": "invalid_proof", "title": "the proof does not verify"}`)
	})
	_, err := c.KeyRegister(t.Context(), "acme", &client.KeyRegisterParams{PublicKey: "AAAA", Proof: "bad"})
	require.True(t, client.HasCode(err, "invalid_proof"))
	require.True(t, client.HasStatus(err, http.StatusUnprocessableEntity))
}

func TestMarketplacePublish(t *testing.T) {
	t.Parallel()
	var got map[string]any
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/marketplace/publish" {
			problem(w, http.StatusNotFound, `{"code": "not_found", "title": "resource not found"}`)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		if got["name"] == "acme/unsigned" {
			problem(w, http.StatusUnprocessableEntity, `{"code": "signature_required", "title": "the version is not signed"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"name": "acme/x", "publisher": "acme", "description": "does x", "latest_version": "1.0.0",
			"versions": [{"version": "1.0.0", "digest": "sha256:ab", "signature": {"status": "verified", "publisher": "acme"}}]}`)
	})
	e, err := c.MarketplacePublish(t.Context(), &client.PublishParams{Name: "acme/x", Version: "1.0.0"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"name": "acme/x", "version": "1.0.0"}, got, "an empty description is left out")
	require.Equal(t, "1.0.0", e.LatestVersion)
	v, ok := e.Version("")
	require.True(t, ok)
	require.Equal(t, "verified", v.Signature.Status)

	_, err = c.MarketplacePublish(t.Context(), &client.PublishParams{Name: "acme/unsigned", Version: "1.0.0", Description: "d"})
	require.True(t, client.HasCode(err, "signature_required"))
	require.Equal(t, "d", got["description"])
}

func TestMarketplaceEdges(t *testing.T) {
	t.Parallel()
	var query string
	requests := 0
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests++
		query = r.URL.RawQuery
		if r.URL.Query().Get("q") == "boom" {
			problem(w, http.StatusServiceUnavailable, `{"code": "unavailable", "title": "try later"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	page, err := c.MarketplaceSearch(t.Context(), &client.MarketplaceSearchParams{})
	require.NoError(t, err)
	require.Empty(t, query, "no params, no query")
	require.NotNil(t, page.Items, "a page without items lists none")
	require.Empty(t, page.Items)
	require.Empty(t, page.NextCursor)

	page, err = c.MarketplaceSearch(t.Context(), &client.MarketplaceSearchParams{Query: "boom", Limit: -1})
	require.True(t, client.HasStatus(err, http.StatusServiceUnavailable))
	require.Equal(t, "q=boom", query, "a negative limit is not sent")
	require.NotNil(t, page)
	require.NotNil(t, page.Items)

	requests = 0
	require.ErrorContains(t, c.MarketplaceYank(t.Context(), "acme", "1.0.0", "broken"), "not a module name")
	_, err = c.MarketplaceGet(t.Context(), "/x")
	require.ErrorContains(t, err, "not a module name")
	require.Zero(t, requests, "a bad module name is refused before anything is sent")
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := client.New(client.Config{Server: url})
	require.NoError(t, err)
	_, err = c.NodeGet(t.Context(), "acme/x", "1.0.0")
	require.ErrorContains(t, err, "client: GET "+url+"/api/v1/nodes/acme/x/versions/1.0.0")
	var p *client.Problem
	require.False(t, errors.As(err, &p), "no answer is no problem document")

	c = newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.PublisherList(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestTruncatedAndOversizedAnswers(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("q") {
		case "short":
			// Promise more than is sent, then hang up.
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, `{"items": [`)
		case "huge":
			_, _ = io.WriteString(w, `{"items": [], "next_cursor": "`+strings.Repeat("x", 16<<20)+`"}`)
		}
	})
	_, err := c.MarketplaceSearch(t.Context(), &client.MarketplaceSearchParams{Query: "short"})
	require.ErrorContains(t, err, "read response")
	_, err = c.MarketplaceSearch(t.Context(), &client.MarketplaceSearchParams{Query: "huge"})
	require.ErrorContains(t, err, "response over 16777216 bytes")
}

func TestReadConfigFileEdges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	c, err := client.ReadConfigFile("", true)
	require.NoError(t, err, "no path is no config, even when required")
	require.Equal(t, &client.FileConfig{}, c)

	_, err = client.ReadConfigFile(dir, true)
	require.ErrorContains(t, err, "config file", "a directory is not a config file")

	empty := filepath.Join(dir, "empty.json")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = client.ReadConfigFile(empty, true)
	require.ErrorContains(t, err, "want {")

	for name, body := range map[string]string{
		"not-json.json": `server = "x"`,
		"list.json":     `["http://h:1"]`,
		"number.json":   `{"server": 1}`,
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		_, err := client.ReadConfigFile(path, false)
		require.ErrorContains(t, err, "config file "+path+": want {", name)
	}

	// Exactly at the cap is read.
	atCap := filepath.Join(dir, "at-cap.json")
	body := `{"server": "http://h:1"}`
	require.NoError(t, os.WriteFile(atCap, []byte(body+strings.Repeat(" ", 64<<10-len(body))), 0o600))
	c, err = client.ReadConfigFile(atCap, true)
	require.NoError(t, err)
	require.Equal(t, "http://h:1", c.Server)

	// Group-readable is open too.
	group := filepath.Join(dir, "group.json")
	require.NoError(t, os.WriteFile(group, []byte(`{"api_key": "wf_k"}`), 0o600))
	require.NoError(t, os.Chmod(group, 0o640))
	_, err = client.ReadConfigFile(group, true)
	require.ErrorContains(t, err, "chmod 600")
}

func TestDefaultConfigPathWithoutHome(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/u")
	require.Equal(t, "/home/u/.config/wasmflow/config.json", client.DefaultConfigPath())
	t.Setenv("HOME", "")
	require.Empty(t, client.DefaultConfigPath(), "no config dir, no default path")
}

func TestListsStopOnACursorCycle(t *testing.T) {
	t.Parallel()
	calls := 0
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		next := "a"
		if r.URL.Query().Get("cursor") == "a" {
			next = "b"
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"items": [{"name": "acme"}], "next_cursor": "`+next+`"}`)
	})
	pubs, err := c.PublisherList(t.Context())
	require.NoError(t, err)
	require.Equal(t, 3, calls, "pages '', a, b: b hands back a, seen already")
	require.Len(t, pubs, 3)
}
