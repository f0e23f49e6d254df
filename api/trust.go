package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// trustPolicyBody is a tenant's trust policy.
type trustPolicyBody struct {
	RequireSignatures bool              `json:"require_signatures" doc:"Refuse unsigned private uploads, and stop runs of unsigned versions. Marketplace modules are always signed."`
	TrustedPublishers []string          `json:"trusted_publishers" maxItems:"256" doc:"The only publishers whose signatures the tenant accepts; empty: any registered publisher."`
	MinimumVersions   map[string]string `json:"minimum_versions" doc:"The lowest version of a module that may be uploaded, installed or run, by module name." example:"{\"acme/x\":\"1.2.0\"}"`
}

type trustPolicyResponse struct {
	trustPolicyBody
	UpdatedAt *time.Time `json:"updated_at" doc:"When the policy was last set; null for the default."`
}

func newTrustPolicyResponse(p *store.TrustPolicy) trustPolicyResponse {
	r := trustPolicyResponse{trustPolicyBody: trustPolicyBody{
		RequireSignatures: p.RequireSignatures, TrustedPublishers: p.TrustedPublishers, MinimumVersions: p.MinimumVersions,
	}}
	if !p.UpdatedAt.IsZero() {
		r.UpdatedAt = &p.UpdatedAt
	}
	return r
}

type trustPolicyOutput struct {
	Body trustPolicyResponse
}

type putTrustPolicyInput struct {
	Body struct {
		RequireSignatures bool              `json:"require_signatures,omitempty" doc:"Refuse unsigned private uploads, and stop runs of unsigned versions."`
		TrustedPublishers []string          `json:"trusted_publishers,omitempty" maxItems:"256" doc:"The only publishers whose signatures the tenant accepts; empty or absent: any."`
		MinimumVersions   map[string]string `json:"minimum_versions,omitempty" doc:"The lowest version of a module that may be uploaded, installed or run, by module name."`
	}
}

func (s *Server) registerTrust() {
	if s.registry == nil {
		return
	}
	tags := []string{"trust"}
	register(s, huma.Operation{
		OperationID: "getTrustPolicy",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/trust-policy",
		Summary:     "Get the tenant's trust policy",
		Tags:        tags,
	}, auth.RoleAdmin, s.getTrustPolicy)
	register(s, huma.Operation{
		OperationID: "putTrustPolicy",
		Method:      http.MethodPut,
		Path:        apiPrefix + "/trust-policy",
		Summary:     "Set the tenant's trust policy",
		Description: "Replaces the policy. It applies at upload, at install and before every run from now on, in every process: a run the new policy refuses fails its node run with the reason.",
		Tags:        tags,
		Errors:      []int{http.StatusUnprocessableEntity},
	}, auth.RoleAdmin, s.putTrustPolicy)
}

func (s *Server) getTrustPolicy(ctx context.Context, _ *struct{}) (*trustPolicyOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pol, err := s.registry.TrustPolicy(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	return &trustPolicyOutput{Body: newTrustPolicyResponse(pol)}, nil
}

func (s *Server) putTrustPolicy(ctx context.Context, in *putTrustPolicyInput) (*trustPolicyOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pol, err := s.registry.SetTrustPolicy(ctx, p.TenantID, &store.TrustPolicy{
		RequireSignatures: in.Body.RequireSignatures, TrustedPublishers: in.Body.TrustedPublishers, MinimumVersions: in.Body.MinimumVersions,
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "trust_policy.update", p.TenantID, map[string]any{
		"require_signatures": pol.RequireSignatures, "trusted_publishers": pol.TrustedPublishers, "minimum_versions": pol.MinimumVersions,
	})
	return &trustPolicyOutput{Body: newTrustPolicyResponse(pol)}, nil
}
