package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

func TestAuthRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	revoked, revokedRec := e.newKey(e.tenantID, auth.RoleOwner, nil)
	require.NoError(t, e.store.APIKeyRevoke(context.Background(), e.tenantID, revokedRec.ID))
	past := time.Now().Add(-time.Minute)
	expired, _ := e.newKey(e.tenantID, auth.RoleOwner, func(p *store.APIKeyInsertParams) { p.ExpiresAt = &past })
	future := time.Now().Add(time.Hour)
	valid, _ := e.newKey(e.tenantID, auth.RoleViewer, func(p *store.APIKeyInsertParams) { p.ExpiresAt = &future })
	unknown, _, _ := auth.NewAPIKey()

	cases := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"empty bearer", "Bearer "},
		{"other scheme", "Basic " + e.key},
		{"no scheme", e.key},
		{"malformed key", "Bearer wf_short"},
		{"unknown key", "Bearer " + unknown},
		{"key with a changed character", "Bearer " + e.key[:len(e.key)-1] + flip(e.key[len(e.key)-1])},
		{"revoked key", "Bearer " + revoked},
		{"expired key", "Bearer " + expired},
	}
	// The group waits for its parallel cases before the checks below.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := req{method: http.MethodGet, path: "/api/v1/workflows"}
				if tc.header != "" {
					r.header = map[string]string{"Authorization": tc.header}
				}
				resp := e.do(r)
				resp.problem(t, http.StatusUnauthorized, CodeUnauthenticated)
				require.True(t, strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer"), resp.header.Get("WWW-Authenticate"))
				// Every operation refuses the same way, before reading the body.
				resp = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", body: `{not json`, header: r.header})
				resp.problem(t, http.StatusUnauthorized, CodeUnauthenticated)
			})
		}
	})
	// The scheme is case-insensitive; an unexpired key works.
	r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", header: map[string]string{"Authorization": "bearer " + valid}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)

	// No log line holds a key.
	logs := e.logs.String()
	require.NotEmpty(t, logs)
	for _, k := range []string{e.key, revoked, expired, valid, unknown} {
		require.NotContains(t, logs, k)
	}
	require.NotContains(t, logs, "Authorization")
}

// flip changes one base62 digit into another.
func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"Bearer abc":    "abc",
		"bearer abc":    "abc",
		"BEARER  abc  ": "abc",
		" Bearer abc":   "abc",
		"Bearer":        "",
		"Bearer ":       "",
		"Basic abc":     "",
		"":              "",
		"Bearerabc":     "",
		"Token abc":     "",
	} {
		got, ok := bearerToken(header)
		require.Equal(t, want, got, header)
		require.Equal(t, want != "", ok, header)
	}
}

func TestRequestLogAndID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A well-formed incoming id is kept; anything else is replaced.
	r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: e.key, header: map[string]string{HeaderRequestID: "proxy-123.abc_X"}})
	require.Equal(t, "proxy-123.abc_X", r.header.Get(HeaderRequestID))
	r = e.do(req{method: http.MethodGet, path: "/healthz", header: map[string]string{HeaderRequestID: "bad id\"}"}})
	require.True(t, strings.HasPrefix(r.header.Get(HeaderRequestID), "req_"), r.header.Get(HeaderRequestID))
	r = e.do(req{method: http.MethodGet, path: "/healthz", header: map[string]string{HeaderRequestID: strings.Repeat("a", 129)}})
	require.True(t, strings.HasPrefix(r.header.Get(HeaderRequestID), "req_"))

	logs := e.logs.String()
	var line string
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, "proxy-123.abc_X") {
			line = l
		}
	}
	require.NotEmpty(t, line, logs)
	for _, want := range []string{`"msg":"request"`, `"method":"GET"`, `"path":"/api/v1/workflows"`, `"status":200`, `"duration":`, `"tenant":"` + e.tenantID + `"`, `"actor":"api_key:`} {
		require.Contains(t, line, want)
	}
}
