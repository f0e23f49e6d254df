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

// secretResponse is a secret as the API shows it: never its value.
type secretResponse struct {
	Name      string              `json:"name" example:"slack-prod"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at" doc:"When the value was last set (or its key re-wrapped by a master key rotation)."`
	BoundBy   []secretBindingBody `json:"bound_by" doc:"The workflow nodes that bind it, in the current version of each workflow."`
}

// secretBindingBody is one workflow node binding a secret.
type secretBindingBody struct {
	WorkflowID   string `json:"workflow_id"`
	WorkflowName string `json:"workflow_name"`
	Node         string `json:"node" doc:"The node's name in the workflow."`
	Name         string `json:"name" doc:"The name the node's module declares, bound to this secret." example:"token"`
}

// secretResponses shows secrets with the workflow nodes that bind them.
func (s *Server) secretResponses(ctx context.Context, tenantID string, secrets ...*store.Secret) ([]secretResponse, error) {
	names := make([]string, len(secrets))
	for i, sec := range secrets {
		names[i] = sec.Name
	}
	bound := map[string][]secretBindingBody{}
	if len(names) > 0 {
		bindings, err := s.store.SecretBindingList(ctx, tenantID, names)
		if err != nil {
			return nil, err
		}
		for _, b := range bindings {
			bound[b.Secret] = append(bound[b.Secret], secretBindingBody{
				WorkflowID: b.WorkflowID, WorkflowName: b.WorkflowName, Node: b.Node, Name: b.Name,
			})
		}
	}
	out := make([]secretResponse, len(secrets))
	for i, sec := range secrets {
		out[i] = secretResponse{Name: sec.Name, CreatedAt: sec.CreatedAt, UpdatedAt: sec.UpdatedAt, BoundBy: bound[sec.Name]}
		if out[i].BoundBy == nil {
			out[i].BoundBy = []secretBindingBody{}
		}
	}
	return out, nil
}

// secretCreateInput: a name is lower-case letters, digits, '-', '_' and '.',
// 1 to 64 of them; a value is 1 to 65536 characters.
type secretCreateInput struct {
	Body struct {
		Name  string `json:"name" pattern:"^[a-z0-9._-]{1,64}$" patternDescription:"lower-case letters, digits, '-', '_' and '.', at most 64" minLength:"1" maxLength:"64" example:"slack-prod" doc:"Unique in the tenant."`
		Value string `json:"value" minLength:"1" maxLength:"65536" doc:"The secret value. Write-only: no response ever contains it."`
	}
}

type secretUpdateInput struct {
	Name string `path:"name" maxLength:"64" example:"slack-prod"`
	Body struct {
		Value string `json:"value" minLength:"1" maxLength:"65536" doc:"The new value. Write-only: no response ever contains it."`
	}
}

type secretNameInput struct {
	Name string `path:"name" maxLength:"64" example:"slack-prod"`
}

type listSecretsInput struct {
	PageParams
}

type secretOutput struct {
	Body secretResponse
}

type secretCreatedOutput struct {
	Location string `header:"Location" doc:"The new secret's URL."`
	Body     secretResponse
}

func (s *Server) registerSecrets() {
	if s.vault == nil {
		return
	}
	tags := []string{"secrets"}
	register(s, huma.Operation{
		OperationID:   "createSecret",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/secrets",
		Summary:       "Create a secret",
		Description:   "Stores a value encrypted (AES-256-GCM, envelope encryption under the server's master key). Values are write-only: no operation returns them. 409 when the name exists.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests},
	}, auth.RoleEditor, s.createSecret)
	register(s, huma.Operation{
		OperationID: "listSecrets",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/secrets",
		Summary:     "List secrets",
		Description: "By name, one page at a time: names, times and the workflow nodes that bind each, never values.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleViewer, s.listSecrets)
	register(s, huma.Operation{
		OperationID: "updateSecret",
		Method:      http.MethodPut,
		Path:        apiPrefix + "/secrets/{name}",
		Summary:     "Replace a secret's value",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge},
	}, auth.RoleEditor, s.updateSecret)
	register(s, huma.Operation{
		OperationID:   "deleteSecret",
		Method:        http.MethodDelete,
		Path:          apiPrefix + "/secrets/{name}",
		Summary:       "Delete a secret",
		Tags:          tags,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}, auth.RoleEditor, s.deleteSecret)
}

// sealSecret encrypts value for the tenant's secret name.
func (s *Server) sealSecret(tenantID, name, value string) (*store.Secret, error) {
	ct, wk, keyID, err := s.vault.Seal(tenantID, name, []byte(value))
	if err != nil {
		return nil, fmt.Errorf("api: seal secret: %w", err)
	}
	return &store.Secret{TenantID: tenantID, Name: name, Ciphertext: ct, WrappedKey: wk, KeyID: keyID}, nil
}

func (s *Server) createSecret(ctx context.Context, in *secretCreateInput) (*secretCreatedOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkSecretQuota(ctx, p.TenantID); err != nil {
		return nil, err
	}
	sec, err := s.sealSecret(p.TenantID, in.Body.Name, in.Body.Value)
	if err != nil {
		return nil, err
	}
	sec, err = s.store.SecretInsert(ctx, p.TenantID, sec)
	if errors.Is(err, store.ErrConflict) {
		return nil, newProblem(CodeConflict, fmt.Sprintf("a secret named %q exists: PUT /secrets/%s replaces its value", in.Body.Name, in.Body.Name),
			FieldProblem{Location: "body.name", Message: "already exists"})
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "secret.create", sec.Name, map[string]any{"key_id": sec.KeyID})
	body, err := s.secretResponses(ctx, p.TenantID, sec)
	if err != nil {
		return nil, err
	}
	return &secretCreatedOutput{Location: apiPrefix + "/secrets/" + sec.Name, Body: body[0]}, nil
}

func (s *Server) listSecrets(ctx context.Context, in *listSecretsInput) (*listOutput[secretResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.SecretList(ctx, p.TenantID, in.page())
	if err != nil {
		return nil, err
	}
	items, err := s.secretResponses(ctx, p.TenantID, rows...)
	if err != nil {
		return nil, err
	}
	return &listOutput[secretResponse]{Body: Page[secretResponse]{Items: items, NextCursor: next}}, nil
}

func (s *Server) updateSecret(ctx context.Context, in *secretUpdateInput) (*secretOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.sealSecret(p.TenantID, in.Name, in.Body.Value)
	if err != nil {
		return nil, err
	}
	sec, err = s.store.SecretUpdate(ctx, p.TenantID, sec)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "secret.update", sec.Name, map[string]any{"key_id": sec.KeyID})
	body, err := s.secretResponses(ctx, p.TenantID, sec)
	if err != nil {
		return nil, err
	}
	return &secretOutput{Body: body[0]}, nil
}

func (s *Server) deleteSecret(ctx context.Context, in *secretNameInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.store.SecretDelete(ctx, p.TenantID, in.Name); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "secret.delete", in.Name, nil)
	return nil, nil
}
