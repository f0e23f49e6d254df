package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// apiKeyResponse is an API key as listings show it: never the key or its hash.
type apiKeyResponse struct {
	ID        string     `json:"id" example:"ak_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	Name      string     `json:"name" example:"ci"`
	Role      string     `json:"role" enum:"owner,admin,editor,runner,viewer" example:"editor"`
	Prefix    string     `json:"prefix" example:"wf_3kT9aQ2z" doc:"The key's first characters, to tell keys apart."`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at" doc:"When the key stops working; null when it never expires."`
	RevokedAt *time.Time `json:"revoked_at" doc:"When the key was revoked; null while it is not."`
}

func newAPIKeyResponse(k *store.APIKey) apiKeyResponse {
	return apiKeyResponse{
		ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt,
	}
}

// apiKeyCreatedResponse is the one response that carries the key itself.
type apiKeyCreatedResponse struct {
	apiKeyResponse
	Key string `json:"key" example:"wf_3kT9aQ2zP0cV7bN1mX4wL8eR6tY5uI9oA2sD3fG7hJ1" doc:"The key. Shown this once: store it now, it cannot be read again."`
}

type apiKeyCreateInput struct {
	Body struct {
		Name      string     `json:"name" minLength:"1" maxLength:"64" example:"ci" doc:"A label for people; need not be unique."`
		Role      string     `json:"role" enum:"owner,admin,editor,runner,viewer" example:"editor" doc:"The key's role: no higher than the caller's."`
		ExpiresAt *time.Time `json:"expires_at,omitempty" example:"2027-01-01T00:00:00Z" doc:"When the key stops working; in the future. Absent: never."`
	}
}

type apiKeyCreatedOutput struct {
	Location string `header:"Location" doc:"The new key's URL (DELETE revokes it)."`
	Body     apiKeyCreatedResponse
}

type apiKeyIDInput struct {
	ID string `path:"id" maxLength:"64" example:"ak_01jdq8m3x7k2c9v4b6n0p5r8t1"`
}

type listAPIKeysInput struct {
	PageParams
}

func (s *Server) registerAPIKeys() {
	tags := []string{"api-keys"}
	register(s, huma.Operation{
		OperationID:   "createAPIKey",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/api-keys",
		Summary:       "Create an API key",
		Description:   "Creates a key in the caller's tenant with a role no higher than the caller's. The response carries the key (`wf_…`) this once; the server keeps only its hash.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge},
	}, auth.RoleAdmin, s.createAPIKey)
	register(s, huma.Operation{
		OperationID: "listAPIKeys",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/api-keys",
		Summary:     "List API keys",
		Description: "Newest first, revoked and expired keys included, one page at a time: never a key or its hash.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleAdmin, s.listAPIKeys)
	register(s, huma.Operation{
		OperationID:   "revokeAPIKey",
		Method:        http.MethodDelete,
		Path:          apiPrefix + "/api-keys/{id}",
		Summary:       "Revoke an API key",
		Description:   "The key answers 401 from now on; it stays listed, with `revoked_at`. Revoking a revoked key succeeds. A key with a higher role than the caller's cannot be revoked (403).",
		Tags:          tags,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}, auth.RoleAdmin, s.revokeAPIKey)
}

func (s *Server) createAPIKey(ctx context.Context, in *apiKeyCreateInput) (*apiKeyCreatedOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !auth.RoleAtLeast(p.Role, in.Body.Role) {
		return nil, newProblem(CodeForbidden, "a key's role cannot be higher than the caller's ("+p.Role+")",
			FieldProblem{Location: "body.role", Message: "higher than " + p.Role})
	}
	if in.Body.ExpiresAt != nil && !in.Body.ExpiresAt.After(time.Now()) {
		return nil, newProblem(CodeInvalidRequest, "expires_at is in the past",
			FieldProblem{Location: "body.expires_at", Message: "must be in the future"}).withStatus(http.StatusUnprocessableEntity)
	}
	key, prefix, hash := auth.NewAPIKey()
	k, err := s.store.APIKeyInsert(ctx, p.TenantID, &store.APIKeyInsertParams{
		Name: in.Body.Name, Role: in.Body.Role, Prefix: prefix, Hash: hash, ExpiresAt: in.Body.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "api_key.create", k.ID, map[string]any{"name": k.Name, "role": k.Role})
	return &apiKeyCreatedOutput{
		Location: apiPrefix + "/api-keys/" + k.ID,
		Body:     apiKeyCreatedResponse{apiKeyResponse: newAPIKeyResponse(k), Key: key},
	}, nil
}

func (s *Server) listAPIKeys(ctx context.Context, in *listAPIKeysInput) (*listOutput[apiKeyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.APIKeyList(ctx, p.TenantID, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, newAPIKeyResponse), nil
}

func (s *Server) revokeAPIKey(ctx context.Context, in *apiKeyIDInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	k, err := s.store.APIKeyGet(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	if !auth.RoleAtLeast(p.Role, k.Role) {
		return nil, newProblem(CodeForbidden, "this key's role ("+k.Role+") is higher than the caller's ("+p.Role+")")
	}
	if err := s.store.APIKeyRevoke(ctx, p.TenantID, k.ID); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "api_key.revoke", k.ID, map[string]any{"name": k.Name, "role": k.Role})
	return nil, nil
}
