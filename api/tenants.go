package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// tenantResponse is a tenant as the API shows it.
type tenantResponse struct {
	ID        string    `json:"id" example:"tn_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	Name      string    `json:"name" example:"acme"`
	CreatedAt time.Time `json:"created_at"`
}

type tenantCreateInput struct {
	Body struct {
		Name string `json:"name" pattern:"^[a-z0-9][a-z0-9._-]{0,62}$" patternDescription:"lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63" example:"acme" doc:"Unique across the platform."`
	}
}

type tenantCreatedOutput struct {
	Location string `header:"Location" doc:"The tenant's URL."`
	Body     tenantResponse
}

type tenantAPIKeyInput struct {
	ID   string `path:"id" maxLength:"64" example:"tn_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	Body struct {
		Name      string     `json:"name" minLength:"1" maxLength:"64" example:"acme-owner"`
		Role      string     `json:"role" enum:"owner,admin,editor,runner,viewer" example:"owner"`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the key stops working; in the future. Absent: never."`
	}
}

// platformDescription is added to the operations only platform admins may call.
const platformDescription = "\n\nOnly for platform admins (the key made at first start): anyone else gets 403."

func (s *Server) registerTenants() {
	tags := []string{"tenants"}
	register(s, huma.Operation{
		OperationID:   "createTenant",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/tenants",
		Summary:       "Create a tenant",
		Description:   "Creates an empty tenant; give it a first key with POST /tenants/{id}/api-keys." + platformDescription,
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge},
		Extensions:    map[string]any{"x-platform-admin": true},
	}, auth.RoleOwner, s.createTenant)
	register(s, huma.Operation{
		OperationID:   "createTenantAPIKey",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/tenants/{id}/api-keys",
		Summary:       "Create an API key in any tenant",
		Description:   "Like POST /api-keys, in the tenant named by the path: how a new tenant gets its first owner key. The key is shown once." + platformDescription,
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge},
		Extensions:    map[string]any{"x-platform-admin": true},
	}, auth.RoleOwner, s.createTenantAPIKey)
}

// platformAdmin refuses callers that are not platform admins.
func platformAdmin(ctx context.Context) (*auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.PlatformAdmin {
		return nil, newProblem(CodeForbidden, "only a platform admin may manage tenants")
	}
	return p, nil
}

func (s *Server) createTenant(ctx context.Context, in *tenantCreateInput) (*tenantCreatedOutput, error) {
	p, err := platformAdmin(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.store.TenantInsert(ctx, in.Body.Name)
	if errors.Is(err, store.ErrConflict) {
		return nil, newProblem(CodeConflict, fmt.Sprintf("a tenant named %q exists", in.Body.Name),
			FieldProblem{Location: "body.name", Message: "already exists"})
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "tenant.create", t.ID, map[string]any{"name": t.Name})
	return &tenantCreatedOutput{Location: apiPrefix + "/tenants/" + t.ID,
		Body: tenantResponse{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}}, nil
}

func (s *Server) createTenantAPIKey(ctx context.Context, in *tenantAPIKeyInput) (*apiKeyCreatedOutput, error) {
	p, err := platformAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if in.Body.ExpiresAt != nil && !in.Body.ExpiresAt.After(time.Now()) {
		return nil, newProblem(CodeInvalidRequest, "expires_at is in the past",
			FieldProblem{Location: "body.expires_at", Message: "must be in the future"}).withStatus(http.StatusUnprocessableEntity)
	}
	t, err := s.store.TenantGet(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	key, prefix, hash := auth.NewAPIKey()
	k, err := s.store.APIKeyInsert(ctx, t.ID, &store.APIKeyInsertParams{
		Name: in.Body.Name, Role: in.Body.Role, Prefix: prefix, Hash: hash, ExpiresAt: in.Body.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	detail := map[string]any{"name": k.Name, "role": k.Role, "tenant_id": t.ID}
	s.audit(ctx, p, "api_key.create", k.ID, detail)
	s.audit(ctx, &auth.Principal{TenantID: t.ID, Actor: p.Actor}, "api_key.create", k.ID, detail)
	return &apiKeyCreatedOutput{
		Location: apiPrefix + "/api-keys/" + k.ID,
		Body:     apiKeyCreatedResponse{apiKeyResponse: newAPIKeyResponse(k), Key: key},
	}, nil
}
