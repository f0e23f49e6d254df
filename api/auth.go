package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
)

// authorize is the one middleware that authenticates and authorizes every
// operation. An operation registered with register names the least role it
// needs (Metadata[metaRole]); one registered with registerPublic needs
// nothing. Anything else is refused: a forgotten declaration denies.
func (s *Server) authorize(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if public, _ := op.Metadata[metaPublic].(bool); public {
		next(ctx)
		return
	}
	token, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		s.writeProblem(ctx, unauthenticated("send an API key or an access token: Authorization: Bearer wf_…"))
		return
	}
	var p *auth.Principal
	var err error
	if s.jwtKeys != nil && auth.LooksLikeJWT(token) {
		p, err = s.jwtPrincipal(token)
	} else {
		p, err = auth.Authenticate(ctx.Context(), s.store, token)
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		s.writeProblem(ctx, unauthenticated("the API key or access token is unknown, revoked or expired"))
		return
	case err != nil:
		s.writeProblem(ctx, err) // the store failed: a 500, not a refusal
		return
	}
	if info := requestInfoFrom(ctx.Context()); info != nil {
		info.principal = p
	}
	need, _ := op.Metadata[metaRole].(string)
	if !auth.RoleAtLeast(p.Role, need) {
		s.writeProblem(ctx, newProblem(CodeForbidden, "this operation needs the "+need+" role or higher"))
		return
	}
	next(huma.WithContext(ctx, auth.NewContext(ctx.Context(), p)))
}

// jwtPrincipal turns a verified access token into its principal: the user
// acting in the token's tenant with the token's role.
func (s *Server) jwtPrincipal(token string) (*auth.Principal, error) {
	c, err := s.jwtKeys.Verify(token, time.Now())
	if err != nil {
		return nil, err
	}
	return &auth.Principal{TenantID: c.Tenant, UserID: c.Subject, Role: c.Role, Actor: "user:" + c.Subject}, nil
}

// bearerToken takes the token out of an Authorization header value.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// principal returns the caller authorize put in ctx. Every operation that
// needs one is registered with a role, so a missing principal is a bug.
func principal(ctx context.Context) (*auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, errors.New("api: no principal in the request context")
	}
	return p, nil
}

// writeProblem answers with a problem from inside a huma middleware, where
// there is no handler to return an error from.
func (s *Server) writeProblem(ctx huma.Context, err error) {
	p := finishProblem(ctx.Context(), toProblem(err))
	for name, values := range p.headers {
		for _, v := range values {
			ctx.AppendHeader(name, v)
		}
	}
	ctx.SetHeader("Content-Type", problemContentType)
	ctx.SetStatus(p.Status)
	_ = json.NewEncoder(ctx.BodyWriter()).Encode(p)
}
