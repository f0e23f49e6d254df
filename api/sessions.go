package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// RefreshTokenTTL is how long a refresh token may be used. Each use spends it
// and hands out the next one, so an active session lasts as long as it is used.
const RefreshTokenTTL = 7 * 24 * time.Hour

// refreshTokenPrefix marks refresh tokens, so one sent as a bearer token is
// plainly not an API key.
const refreshTokenPrefix = "wfr_"

// loginFailed is the one answer to an unknown email and a wrong password.
const loginFailed = "the email or the password is wrong"

type loginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"1" maxLength:"254" example:"ada@example.com"`
		Password string `json:"password" minLength:"1" maxLength:"256" writeOnly:"true"`
		Tenant   string `json:"tenant,omitempty" maxLength:"128" example:"default" doc:"The tenant to act in, by name or id. May be absent when the user belongs to one tenant."`
	}
}

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"128" doc:"The refresh_token of the login or of the last refresh."`
	}
}

// sessionResponse is a new access token and the refresh token that renews it.
type sessionResponse struct {
	AccessToken      string    `json:"access_token" doc:"A JWT (EdDSA) to send as Authorization: Bearer <token>."`
	TokenType        string    `json:"token_type" example:"Bearer"`
	ExpiresIn        int       `json:"expires_in" example:"900" doc:"Seconds the access token is valid."`
	RefreshToken     string    `json:"refresh_token" doc:"Single use: POST it to /auth/refresh for the next pair, or to /auth/logout."`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	TenantID         string    `json:"tenant_id" example:"tn_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	UserID           string    `json:"user_id" example:"us_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	Role             string    `json:"role" example:"editor"`
}

type sessionOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         sessionResponse
}

func (s *Server) registerSessions() {
	if s.jwtKeys == nil {
		return
	}
	tags := []string{"auth"}
	registerPublic(s, huma.Operation{
		OperationID: "login",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/auth/login",
		Summary:     "Sign in",
		Description: "Checks an email and password and returns an access token (a JWT valid 15 minutes) for one tenant of the user, and a refresh token. 401 with the same answer for an unknown email and a wrong password; 429 with Retry-After after 10 attempts for one email in a minute.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests},
	}, s.login)
	registerPublic(s, huma.Operation{
		OperationID: "refreshSession",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/auth/refresh",
		Summary:     "Renew an access token",
		Description: "Spends the refresh token and returns a new access token and a new refresh token, with the user's current role. A spent, expired or unknown refresh token answers 401.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized},
	}, s.refreshSession)
	registerPublic(s, huma.Operation{
		OperationID:   "logout",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/auth/logout",
		Summary:       "Sign out",
		Description:   "Spends the refresh token so it cannot renew the session. Access tokens already issued stay valid until they expire (at most 15 minutes). Always 204.",
		Tags:          tags,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest},
	}, s.logout)
}

func (s *Server) login(ctx context.Context, in *loginInput) (*sessionOutput, error) {
	if err := s.limitLogin(normalEmail(in.Body.Email)); err != nil {
		return nil, err
	}
	u, err := s.store.UserGetByEmail(ctx, normalEmail(in.Body.Email))
	if errors.Is(err, store.ErrNotFound) {
		auth.SpendPasswordTime(in.Body.Password)
		return nil, unauthenticated(loginFailed)
	}
	if err != nil {
		return nil, err
	}
	ok, err := auth.VerifyPassword(in.Body.Password, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	memberships, err := s.store.MembershipListByUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	m, choiceErr := s.chooseTenant(ctx, memberships, in.Body.Tenant)
	if !ok {
		if m != nil {
			s.audit(ctx, &auth.Principal{TenantID: m.TenantID, Actor: "user:" + u.ID}, "auth.login_failed", u.ID, nil)
		}
		return nil, unauthenticated(loginFailed)
	}
	if choiceErr != nil {
		return nil, choiceErr
	}
	out, err := s.newSession(ctx, m, "")
	if err != nil {
		return nil, err
	}
	s.audit(ctx, &auth.Principal{TenantID: m.TenantID, Actor: "user:" + u.ID}, "auth.login", u.ID, nil)
	return out, nil
}

// chooseTenant picks the membership a login acts in: the named tenant (name
// or id), or the only one.
func (s *Server) chooseTenant(ctx context.Context, ms []*store.Membership, tenant string) (*store.Membership, error) {
	if tenant == "" {
		switch len(ms) {
		case 1:
			return ms[0], nil
		case 0:
			return nil, newProblem(CodeForbidden, "the user belongs to no tenant")
		}
		return nil, newProblem(CodeInvalidRequest, "the user belongs to several tenants: name one",
			FieldProblem{Location: "body.tenant", Message: "required for this user"}).withStatus(http.StatusUnprocessableEntity)
	}
	id := tenant
	if !strings.HasPrefix(tenant, "tn_") {
		t, err := s.store.TenantGetByName(ctx, tenant)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if t != nil {
			id = t.ID
		}
	}
	for _, m := range ms {
		if m.TenantID == id {
			return m, nil
		}
	}
	return nil, newProblem(CodeForbidden, "the user is not a member of this tenant",
		FieldProblem{Location: "body.tenant", Message: "not a member"})
}

// newSession issues an access token and a stored refresh token for m.
// familyID continues a refreshed session's token family; empty starts one.
func (s *Server) newSession(ctx context.Context, m *store.Membership, familyID string) (*sessionOutput, error) {
	now := time.Now()
	access, err := s.jwtKeys.Issue(m.UserID, m.TenantID, m.Role, now)
	if err != nil {
		return nil, err
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	refresh := refreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	rt, err := s.store.RefreshTokenInsert(ctx, m.TenantID, m.UserID, familyID, hashRefreshToken(refresh), now.Add(RefreshTokenTTL))
	if err != nil {
		return nil, err
	}
	return &sessionOutput{CacheControl: "no-store", Body: sessionResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(auth.AccessTokenTTL / time.Second),
		RefreshToken: refresh, RefreshExpiresAt: rt.ExpiresAt,
		TenantID: m.TenantID, UserID: m.UserID, Role: m.Role,
	}}, nil
}

func hashRefreshToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (s *Server) refreshSession(ctx context.Context, in *refreshInput) (*sessionOutput, error) {
	rt, err := s.store.RefreshTokenUse(ctx, hashRefreshToken(in.Body.RefreshToken))
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated("the refresh token is unknown, spent or expired")
	}
	if err != nil {
		return nil, err
	}
	actor := &auth.Principal{TenantID: rt.TenantID, Actor: "user:" + rt.UserID}
	if rt.UsedAt != nil {
		// A spent token again: it was stolen, or the client replays. Either
		// way the session's current token may be in the wrong hands too.
		n, err := s.store.RefreshTokenRevokeFamily(ctx, rt.TenantID, rt.FamilyID)
		if err != nil {
			return nil, err
		}
		s.audit(ctx, actor, "auth.refresh_reused", rt.ID, map[string]any{"revoked": n})
		return nil, unauthenticated("the refresh token is unknown, spent or expired")
	}
	if !time.Now().Before(rt.ExpiresAt) {
		return nil, unauthenticated("the refresh token is unknown, spent or expired")
	}
	// The current role: a demotion or removal takes effect at the next refresh.
	m, err := s.store.MembershipGet(ctx, rt.TenantID, rt.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated("the user is no longer a member of this tenant")
	}
	if err != nil {
		return nil, err
	}
	out, err := s.newSession(ctx, m, rt.FamilyID)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, actor, "auth.refresh", rt.ID, nil)
	return out, nil
}

func (s *Server) logout(ctx context.Context, in *refreshInput) (*struct{}, error) {
	rt, err := s.store.RefreshTokenUse(ctx, hashRefreshToken(in.Body.RefreshToken))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rt.UsedAt == nil {
		s.audit(ctx, &auth.Principal{TenantID: rt.TenantID, Actor: "user:" + rt.UserID}, "auth.logout", rt.ID, nil)
	}
	return nil, nil
}
