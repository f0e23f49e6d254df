package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/signing"
	"github.com/wasmflow/wasmflow/store"
)

// Publishers are global names owned by one tenant each. What another
// tenant can do with a publisher that is not its own: read its public keys
// (to verify signatures) and install what it published to the marketplace.
// Everything that changes it (keys, revocations, publishing, yanks) answers
// 404 to any tenant but its owner's, as for a publisher that does not exist.

// publisherResponse is a publisher.
type publisherResponse struct {
	Name      string    `json:"name" example:"acme" doc:"The publisher; it owns the module names acme/*."`
	CreatedAt time.Time `json:"created_at"`
}

func newPublisherResponse(p *store.Publisher) publisherResponse {
	return publisherResponse{Name: p.Name, CreatedAt: p.CreatedAt}
}

// publisherKeyResponse is a publisher's public key.
type publisherKeyResponse struct {
	KeyID     string     `json:"key_id" example:"ed25519:3f8a9c1d2b4e6f70" doc:"The key's fingerprint: ed25519: and 16 hex digits of its sha256."`
	Publisher string     `json:"publisher" example:"acme"`
	PublicKey string     `json:"public_key" doc:"The base64 Ed25519 public key."`
	NotBefore *time.Time `json:"not_before" doc:"Signatures made before this time do not count; null: no lower bound."`
	NotAfter  *time.Time `json:"not_after" doc:"Signatures made after this time do not count; null: no upper bound."`
	RevokedAt *time.Time `json:"revoked_at" doc:"When the key was revoked: none of its signatures counts since; null while it is not."`
	CreatedAt time.Time  `json:"created_at"`
}

func newPublisherKeyResponse(k *store.PublisherKey) publisherKeyResponse {
	return publisherKeyResponse{
		KeyID: k.KeyID, Publisher: k.Publisher, PublicKey: signing.EncodePublicKey(k.PublicKey),
		NotBefore: k.NotBefore, NotAfter: k.NotAfter, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt,
	}
}

type createPublisherInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"63" example:"acme" doc:"Lower-case letters, digits and dashes: the owner part of the module names it signs."`
	}
}

type publisherCreatedOutput struct {
	Location string `header:"Location" doc:"The publisher's keys."`
	Body     publisherResponse
}

type publisherNameInput struct {
	Name string `path:"name" maxLength:"63" example:"acme" doc:"The publisher."`
}

type registerKeyInput struct {
	Name string `path:"name" maxLength:"63" example:"acme" doc:"The publisher."`
	Body struct {
		PublicKey string     `json:"public_key" minLength:"1" maxLength:"256" doc:"The base64 Ed25519 public key (wasmflow keys generate writes it)."`
		Proof     string     `json:"proof" minLength:"1" maxLength:"256" doc:"Proof of possession: the base64 Ed25519 signature, by the key, of the publisher's name and the key (signing.PrivateKey.Prove)."`
		NotBefore *time.Time `json:"not_before,omitempty" doc:"Signatures made before this time (RFC 3339) do not count."`
		NotAfter  *time.Time `json:"not_after,omitempty" doc:"Signatures made after this time (RFC 3339) do not count."`
	}
}

type publisherKeyOutput struct {
	Body publisherKeyResponse
}

type publisherKeyCreatedOutput struct {
	Location string `header:"Location" doc:"The publisher's keys."`
	Body     publisherKeyResponse
}

type revokeKeyInput struct {
	Name  string `path:"name" maxLength:"63" example:"acme" doc:"The publisher."`
	KeyID string `path:"key_id" maxLength:"64" example:"ed25519:3f8a9c1d2b4e6f70" doc:"The key's id."`
}

type listKeysOutput struct {
	Body struct {
		Items []publisherKeyResponse `json:"items" doc:"Every key of the publisher, revoked ones included, oldest first."`
	}
}

type listPublishersOutput struct {
	Body struct {
		Items []publisherResponse `json:"items" doc:"The tenant's publishers, by name."`
	}
}

func (s *Server) registerPublishers() {
	if s.registry == nil {
		return
	}
	tags := []string{"publishers"}
	register(s, huma.Operation{
		OperationID:   "createPublisher",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/publishers",
		Summary:       "Register a publisher",
		Description:   "A publisher owns a module namespace (publisher acme signs acme/*) and belongs to the calling tenant. Names are global: a name taken is 409 publisher_taken, as is wasmflow, the platform's.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, auth.RoleAdmin, s.createPublisher)
	register(s, huma.Operation{
		OperationID: "listPublishers",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/publishers",
		Summary:     "List the tenant's publishers",
		Tags:        tags,
	}, auth.RoleViewer, s.listPublishers)
	register(s, huma.Operation{
		OperationID:   "registerPublisherKey",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/publishers/{name}/keys",
		Summary:       "Register a signing key of a publisher",
		Description:   "Registers an Ed25519 public key with proof of possession and an optional validity window. 404 for a publisher the tenant does not own.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, auth.RoleAdmin, s.registerPublisherKey)
	registerPublic(s, huma.Operation{
		OperationID: "listPublisherKeys",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/publishers/{name}/keys",
		Summary:     "List a publisher's public keys",
		Description: "Public keys are public: anyone may read them to verify a module's signature (wasmflow node verify --server).",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, s.listPublisherKeys)
	register(s, huma.Operation{
		OperationID: "revokePublisherKey",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/publishers/{name}/keys/{key_id}/revoke",
		Summary:     "Revoke a publisher's key",
		Description: "From now on no signature of the key verifies: uploads signed with it are refused, and runs of every version it signed, in every tenant, fail before they start. Revoking again keeps the first time. 404 for a publisher the tenant does not own.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleAdmin, s.revokePublisherKey)
}

func (s *Server) createPublisher(ctx context.Context, in *createPublisherInput) (*publisherCreatedOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := s.registry.CreatePublisher(ctx, p.TenantID, in.Body.Name, nil)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "publisher.create", pub.Name, nil)
	return &publisherCreatedOutput{Location: apiPrefix + "/publishers/" + pub.Name + "/keys", Body: newPublisherResponse(pub)}, nil
}

func (s *Server) listPublishers(ctx context.Context, _ *struct{}) (*listPublishersOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := s.registry.Publishers(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	out := &listPublishersOutput{}
	out.Body.Items = make([]publisherResponse, 0, len(ps))
	for _, pub := range ps {
		out.Body.Items = append(out.Body.Items, newPublisherResponse(pub))
	}
	return out, nil
}

func (s *Server) registerPublisherKey(ctx context.Context, in *registerKeyInput) (*publisherKeyCreatedOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	k, err := s.registry.RegisterKey(ctx, p.TenantID, in.Name, &registry.KeyParams{
		PublicKey: in.Body.PublicKey, Proof: in.Body.Proof, NotBefore: in.Body.NotBefore, NotAfter: in.Body.NotAfter,
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "key.register", k.Publisher+"/"+k.KeyID, map[string]any{"publisher": k.Publisher, "key_id": k.KeyID})
	return &publisherKeyCreatedOutput{Location: apiPrefix + "/publishers/" + k.Publisher + "/keys", Body: newPublisherKeyResponse(k)}, nil
}

func (s *Server) listPublisherKeys(ctx context.Context, in *publisherNameInput) (*listKeysOutput, error) {
	ks, err := s.registry.Keys(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	out := &listKeysOutput{}
	out.Body.Items = make([]publisherKeyResponse, 0, len(ks))
	for _, k := range ks {
		out.Body.Items = append(out.Body.Items, newPublisherKeyResponse(k))
	}
	return out, nil
}

func (s *Server) revokePublisherKey(ctx context.Context, in *revokeKeyInput) (*publisherKeyOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	k, err := s.registry.RevokeKey(ctx, p.TenantID, in.Name, in.KeyID)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "key.revoke", k.Publisher+"/"+k.KeyID, map[string]any{"publisher": k.Publisher, "key_id": k.KeyID})
	return &publisherKeyOutput{Body: newPublisherKeyResponse(k)}, nil
}
