package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

const testPassword = "a long enough password"

// newSessionEnv is an env with JWT keys and a user ada@example.com who is an
// editor of the default tenant.
func newSessionEnv(t *testing.T) (e *env, keys *auth.JWTKeys, user *store.User) {
	t.Helper()
	keys, err := auth.ParseJWTKeys(auth.NewJWTSeed())
	require.NoError(t, err)
	e = newEnvWith(t, envOpts{cfg: Config{JWTKeys: keys}})
	hash, err := auth.HashPassword(testPassword)
	require.NoError(t, err)
	user, err = e.store.UserInsert(context.Background(), "ada@example.com", hash)
	require.NoError(t, err)
	_, err = e.store.MembershipInsert(context.Background(), e.tenantID, user.ID, auth.RoleEditor)
	require.NoError(t, err)
	return e, keys, user
}

func (e *env) login(body map[string]any) (*response, sessionResponse) {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: body})
	var s sessionResponse
	if r.status == http.StatusOK {
		r.decode(e.t, &s)
	}
	return r, s
}

func TestLoginRefreshLogout(t *testing.T) {
	t.Parallel()
	e, keys, user := newSessionEnv(t)

	r, s := e.login(map[string]any{"email": "Ada@example.com", "password": testPassword})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.Equal(t, "Bearer", s.TokenType)
	require.Equal(t, 900, s.ExpiresIn)
	require.Equal(t, e.tenantID, s.TenantID)
	require.Equal(t, user.ID, s.UserID)
	require.Equal(t, auth.RoleEditor, s.Role)
	require.Regexp(t, `^wfr_[A-Za-z0-9_-]{43}$`, s.RefreshToken)
	c, err := keys.Verify(s.AccessToken, time.Now())
	require.NoError(t, err)
	require.Equal(t, user.ID, c.Subject)

	// The access token acts as the user, with the membership's role.
	r = e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: s.AccessToken, body: sampleWorkflow("by-ada")})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodGet, path: "/api/v1/api-keys", key: s.AccessToken}).problem(t, http.StatusForbidden, CodeForbidden)
	entries, _, err := e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{Action: "workflow.create"}, store.Page{})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "user:"+user.ID, entries[0].Actor)

	// Refresh: a new pair, with the current role; the old refresh token is spent.
	_, err = e.store.MembershipUpdate(context.Background(), e.tenantID, user.ID, auth.RoleViewer)
	require.NoError(t, err)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": s.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var next sessionResponse
	r.decode(t, &next)
	require.NotEqual(t, s.RefreshToken, next.RefreshToken)
	require.Equal(t, auth.RoleViewer, next.Role)
	e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: next.AccessToken, body: sampleWorkflow("as-viewer")}).
		problem(t, http.StatusForbidden, CodeForbidden)
	// A refresh token used twice is refused, and revokes the session's
	// current refresh token with it.
	e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": s.RefreshToken}}).
		problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": next.RefreshToken}}).
		problem(t, http.StatusUnauthorized, CodeUnauthenticated)

	// Logout spends the refresh token; logging out again still answers 204.
	r, s = e.login(map[string]any{"email": "ada@example.com", "password": testPassword})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/auth/logout", body: map[string]any{"refresh_token": s.RefreshToken}})
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	r = e.do(req{method: http.MethodPost, path: "/api/v1/auth/logout", body: map[string]any{"refresh_token": s.RefreshToken}})
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": s.RefreshToken}}).
		problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	e.do(req{method: http.MethodPost, path: "/api/v1/auth/refresh", body: map[string]any{"refresh_token": "wfr_unknown"}}).
		problem(t, http.StatusUnauthorized, CodeUnauthenticated)

	entries, _, err = e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{Actor: "user:" + user.ID}, store.Page{})
	require.NoError(t, err)
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action)
	}
	require.Equal(t, []string{
		"auth.refresh_reused", // the refresh after logout
		"auth.logout", "auth.login",
		"auth.refresh_reused", // next: spent by the revocation
		"auth.refresh_reused", // the first replay, which revoked next
		"auth.refresh", "workflow.create", "auth.login",
	}, actions)
	require.JSONEq(t, `{"revoked": 1}`, string(entries[4].Detail))
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	e, _, user := newSessionEnv(t)

	// Unknown email and wrong password: the same 401.
	wrong := e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": "ada@example.com", "password": "not the password"}})
	unknown := e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": "eve@example.com", "password": "not the password"}})
	pw, pu := wrong.problem(t, http.StatusUnauthorized, CodeUnauthenticated), unknown.problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	require.Equal(t, pw.Detail, pu.Detail)
	require.Equal(t, pw.Title, pu.Title)
	entries, _, err := e.store.AuditList(context.Background(), e.tenantID, store.AuditFilter{Action: "auth.login_failed"}, store.Page{})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, user.ID, entries[0].Resource)

	// Bad bodies.
	e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: `{"email":`}).problem(t, http.StatusBadRequest, CodeInvalidJSON)
	p := e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": "ada@example.com"}}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
	require.Contains(t, p.Errors[0].Message, "password")

	// Several tenants: the login names one, by name or id; not a member: 403.
	other, _ := e.newTenant("other")
	_, err = e.store.MembershipInsert(context.Background(), other, user.ID, auth.RoleAdmin)
	require.NoError(t, err)
	_, _ = e.newTenant("third")
	p = e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": "ada@example.com", "password": testPassword}}).
		problem(t, http.StatusUnprocessableEntity, CodeInvalidRequest)
	require.Equal(t, []string{"body.tenant"}, p.locations())
	r, s := e.login(map[string]any{"email": "ada@example.com", "password": testPassword, "tenant": "other"})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, other, s.TenantID)
	require.Equal(t, auth.RoleAdmin, s.Role)
	r, s = e.login(map[string]any{"email": "ada@example.com", "password": testPassword, "tenant": e.tenantID})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	require.Equal(t, e.tenantID, s.TenantID)
	for _, tenant := range []string{"third", "missing", "tn_missing"} {
		p = e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": "ada@example.com", "password": testPassword, "tenant": tenant}}).
			problem(t, http.StatusForbidden, CodeForbidden)
		require.Equal(t, []string{"body.tenant"}, p.locations())
	}
	// A wrong password with a tenant the user is not in: still the same 401.
	e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": "ada@example.com", "password": "nope", "tenant": "third"}}).
		problem(t, http.StatusUnauthorized, CodeUnauthenticated)

	// A token of tenant "other" sees only that tenant.
	r, s = e.login(map[string]any{"email": "ada@example.com", "password": testPassword, "tenant": "other"})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	wf := e.createWorkflow(e.key, "in-default")
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows/" + wf, key: s.AccessToken}).problem(t, http.StatusNotFound, CodeNotFound)
}

// TestAccessTokenAttacks sends forged and out-of-date tokens through HTTP.
func TestAccessTokenAttacks(t *testing.T) {
	t.Parallel()
	e, keys, user := newSessionEnv(t)
	now := time.Now()

	expired, err := keys.Issue(user.ID, e.tenantID, auth.RoleOwner, now.Add(-time.Hour))
	require.NoError(t, err)
	otherKeys, err := auth.ParseJWTKeys(auth.NewJWTSeed())
	require.NoError(t, err)
	unknownKid, err := otherKeys.Issue(user.ID, e.tenantID, auth.RoleOwner, now)
	require.NoError(t, err)
	claims := auth.AccessClaims{Tenant: e.tenantID, Role: auth.RoleOwner, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: auth.JWTIssuer, Subject: user.ID, Audience: jwt.ClaimStrings{auth.JWTAudience},
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
	}}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"] = keys.CurrentID()
	hs256, err := hs.SignedString([]byte("any secret"))
	require.NoError(t, err)
	good, err := keys.Issue(user.ID, e.tenantID, auth.RoleEditor, now)
	require.NoError(t, err)
	tampered := good[:len(good)-4] + "AAAA"

	for name, tok := range map[string]string{
		"expired": expired, "unknown kid": unknownKid, "alg none": none, "HS256": hs256, "tampered signature": tampered,
	} {
		resp := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: tok})
		require.Equal(t, http.StatusUnauthorized, resp.status, "%s: %s", name, resp.body)
		resp.problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	}
	r := e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: good})
	require.Equal(t, http.StatusOK, r.status, "the control token works: %s", r.body)
}

// Sign-in attempts for one email are limited before any password work;
// another email is not affected.
func TestLoginAttemptsLimited(t *testing.T) {
	t.Parallel()
	e, _, _ := newSessionEnv(t)
	attempt := func(email string) *response {
		return e.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: map[string]any{"email": email, "password": "not the password"}})
	}
	attempt("ada@example.com").problem(t, http.StatusUnauthorized, CodeUnauthenticated)
	// The rest of the minute's attempts, spent without the password work
	// (argon2id under the race detector would let the bucket refill).
	for range loginAttemptsPerMinute - 1 {
		ok, _ := e.srv.logins.take("ada@example.com", time.Now())
		require.True(t, ok)
	}
	r := attempt("ADA@example.com") // the same email, however written
	p := r.problem(t, http.StatusTooManyRequests, CodeRateLimited)
	require.Contains(t, p.Detail, "sign-in attempts")
	require.NotEmpty(t, r.header.Get("Retry-After"))
	attempt("eve@example.com").problem(t, http.StatusUnauthorized, CodeUnauthenticated)
}
