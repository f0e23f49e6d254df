package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/workflow"
)

// The marketplace is shared on purpose: every tenant reads the whole
// catalog and installs from it. Publishing and yanking belong to the tenant
// that owns the module's publisher; for any other tenant a yank answers 404
// and a publish 404 publisher_not_found, as if the publisher did not exist.

// signatureResponse describes a module version's signature.
type signatureResponse struct {
	Status    string     `json:"status" enum:"verified,unsigned,revoked" doc:"verified: signed, and the signature verified when stored; unsigned; revoked: the key that signed it has been revoked since."`
	Publisher string     `json:"publisher,omitempty" example:"acme"`
	KeyID     string     `json:"key_id,omitempty" example:"ed25519:3f8a9c1d2b4e6f70"`
	SignedAt  *time.Time `json:"signed_at,omitempty"`
}

func newSignatureResponse(s registry.SignatureInfo) signatureResponse {
	return signatureResponse{Status: s.Status, Publisher: s.Publisher, KeyID: s.KeyID, SignedAt: s.SignedAt}
}

// catalogVersionResponse is one published version.
type catalogVersionResponse struct {
	Version      string                `json:"version" example:"1.2.0"`
	Digest       string                `json:"digest"`
	Size         int64                 `json:"size" doc:"Module size in bytes."`
	Signature    signatureResponse     `json:"signature"`
	Capabilities workflow.Capabilities `json:"capabilities" doc:"What the version asks for: an install grants these, or fewer."`
	Yanked       bool                  `json:"yanked"`
	YankReason   string                `json:"yank_reason,omitempty"`
	PublishedAt  time.Time             `json:"published_at"`
}

// catalogEntryResponse is a module of the marketplace.
type catalogEntryResponse struct {
	Name          string                   `json:"name" example:"acme/slack-post"`
	Publisher     string                   `json:"publisher" example:"acme"`
	Description   string                   `json:"description"`
	LatestVersion string                   `json:"latest_version" doc:"The version published last."`
	Versions      []catalogVersionResponse `json:"versions" doc:"Every version, in publish order, yanked ones included."`
}

func newCatalogEntryResponse(e *registry.CatalogEntry) catalogEntryResponse {
	r := catalogEntryResponse{
		Name: e.Module.Name, Publisher: e.Module.Publisher, Description: e.Module.Description,
		LatestVersion: e.Module.LatestVersion, Versions: make([]catalogVersionResponse, 0, len(e.Versions)),
	}
	for _, v := range e.Versions {
		r.Versions = append(r.Versions, catalogVersionResponse{
			Version: v.Version.Version, Digest: v.Version.Digest, Size: v.Version.Size,
			Signature: newSignatureResponse(v.Signature), Capabilities: v.Capabilities,
			Yanked: v.Version.YankedAt != nil, YankReason: v.Version.YankReason, PublishedAt: v.Version.CreatedAt,
		})
	}
	return r
}

type catalogEntryOutput struct {
	Body catalogEntryResponse
}

type publishInput struct {
	Body struct {
		Name        string `json:"name" maxLength:"128" example:"acme/slack-post" doc:"One of the tenant's modules; the tenant must own its publisher."`
		Version     string `json:"version" maxLength:"64" example:"1.2.0" doc:"The version to publish; it must be signed by the publisher."`
		Description string `json:"description,omitempty" maxLength:"2048" doc:"Shown in the catalog; absent: the manifest's."`
	}
}

type searchInput struct {
	PageParams
	Q string `query:"q" maxLength:"128" doc:"Keeps modules whose name or description contains this text (ASCII case ignored)."`
}

type catalogNameInput struct {
	Owner string `path:"owner" maxLength:"64" example:"acme"`
	Name  string `path:"name" maxLength:"128" example:"slack-post"`
}

type installInput struct {
	Body struct {
		Name    string                 `json:"name" maxLength:"128" example:"acme/slack-post"`
		Version string                 `json:"version,omitempty" maxLength:"64" example:"1.2.0" doc:"Absent or empty: the newest release not yanked."`
		Grant   *workflow.Capabilities `json:"grant,omitempty" doc:"The capabilities granted: each one the version asks for, no more (a narrower one is fine: fewer hosts, methods or secrets). Absent: keep the tenant's grant for the module, if any; a version asking more than it does not run until installed with a new grant."`
	}
}

type installResponse struct {
	Name    string                `json:"name"`
	Version string                `json:"version"`
	Digest  string                `json:"digest"`
	Grant   workflow.Capabilities `json:"grant" doc:"The tenant's grant for the module now."`
	Covered bool                  `json:"grant_covers" doc:"Whether the grant covers what this version asks for; false when an install without a grant kept a narrower one: runs of the version are refused (grant_insufficient) until it is installed with a new grant."`
}

type installOutput struct {
	Body installResponse
}

type yankInput struct {
	Owner   string `path:"owner" maxLength:"64" example:"acme"`
	Name    string `path:"name" maxLength:"128" example:"slack-post"`
	Version string `path:"version" maxLength:"64" example:"1.2.0"`
	Body    struct {
		Reason string `json:"reason,omitempty" maxLength:"1024" example:"CVE-2026-1234" doc:"Why: shown in the catalog and in the errors of refused runs."`
	}
}

func (s *Server) registerMarketplace() {
	if s.registry == nil {
		return
	}
	tags := []string{"marketplace"}
	register(s, huma.Operation{
		OperationID:   "publishModule",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/marketplace/publish",
		Summary:       "Publish a module version to the marketplace",
		Description:   "Copies one of the tenant's module versions, signed by its publisher, into the shared catalog. The tenant must own the publisher (else 404 publisher_not_found). Publishing again is a no-op; the same version with other bytes is 409 version_immutable.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, auth.RoleEditor, s.publishModule)
	register(s, huma.Operation{
		OperationID: "searchMarketplace",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/marketplace",
		Summary:     "Search the marketplace",
		Description: "The shared catalog by name, one page at a time: each module with its publisher, versions, their signature status and the capabilities they ask for.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleViewer, s.searchMarketplace)
	register(s, huma.Operation{
		OperationID: "getMarketplaceModule",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/marketplace/{owner}/{name}",
		Summary:     "Get a marketplace module",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getMarketplaceModule)
	register(s, huma.Operation{
		OperationID:   "installModule",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/marketplace/install",
		Summary:       "Install a marketplace module into the tenant",
		Description:   "Copies a version into the tenant with an explicit grant of the capabilities it asks for (or fewer within each). A capability asked and not granted is 422 grant_required at body.grant.<capability>; more than asked is 422 grant_exceeds_request. A yanked version, a signature that no longer verifies and a version the tenant's trust policy refuses are 422 with the reason.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, auth.RoleEditor, s.installModule)
	register(s, huma.Operation{
		OperationID: "yankModuleVersion",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/marketplace/{owner}/{name}/versions/{version}/yank",
		Summary:     "Yank a published version",
		Description: "The version can no longer be installed, and runs of it stop in every tenant: each fails its node run with version_yanked. 404 unless the tenant published it.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleAdmin, s.yankModuleVersion)
}

func (s *Server) publishModule(ctx context.Context, in *publishInput) (*catalogEntryOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.registry.Publish(ctx, p.TenantID, in.Body.Name, in.Body.Version, in.Body.Description)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "module.publish", in.Body.Name+"@"+in.Body.Version, nil)
	return &catalogEntryOutput{Body: newCatalogEntryResponse(e)}, nil
}

func (s *Server) searchMarketplace(ctx context.Context, in *searchInput) (*listOutput[catalogEntryResponse], error) {
	es, next, err := s.registry.SearchCatalog(ctx, in.Q, in.page())
	if err != nil {
		return nil, err
	}
	return newList(es, next, newCatalogEntryResponse), nil
}

func (s *Server) getMarketplaceModule(ctx context.Context, in *catalogNameInput) (*catalogEntryOutput, error) {
	e, err := s.registry.CatalogEntry(ctx, in.Owner+"/"+in.Name)
	if err != nil {
		return nil, err
	}
	return &catalogEntryOutput{Body: newCatalogEntryResponse(e)}, nil
}

func (s *Server) installModule(ctx context.Context, in *installInput) (*installOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.registry.Install(ctx, p.TenantID, &registry.InstallParams{
		Name: in.Body.Name, Version: in.Body.Version, Grant: in.Body.Grant, Actor: p.Actor,
	})
	if err != nil {
		return nil, err
	}
	v := res.Version
	s.audit(ctx, p, "module.install", v.Name+"@"+v.Version, map[string]any{"digest": v.Digest, "grant": res.Grant, "grant_covers": res.Covered})
	return &installOutput{Body: installResponse{Name: v.Name, Version: v.Version, Digest: v.Digest, Grant: res.Grant, Covered: res.Covered}}, nil
}

func (s *Server) yankModuleVersion(ctx context.Context, in *yankInput) (*catalogEntryOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	name := in.Owner + "/" + in.Name
	if _, err := s.registry.Yank(ctx, p.TenantID, name, in.Version, in.Body.Reason); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "module.yank", name+"@"+in.Version, map[string]any{"reason": in.Body.Reason})
	e, err := s.registry.CatalogEntry(ctx, name)
	if err != nil {
		return nil, err
	}
	return &catalogEntryOutput{Body: newCatalogEntryResponse(e)}, nil
}
