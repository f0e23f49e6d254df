package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// multipartOverhead is what an upload's body may hold besides its parts'
// contents: boundaries and part headers.
const multipartOverhead = 64 << 10

// uploadBodyLimit caps the body of POST /nodes: the registry's caps on the
// module, manifest and signature, plus multipart framing. 0 without a
// registry.
func (s *Server) uploadBodyLimit() int {
	if s.registry == nil {
		return 0
	}
	return int(s.registry.MaxModuleBytes()+s.registry.MaxManifestBytes()) + registry.MaxSignatureBytes + multipartOverhead
}

// nodeVersionResponse is one version of a node module.
type nodeVersionResponse struct {
	Name      string            `json:"name" example:"acme/slack-post" doc:"Module name, owner/name."`
	Version   string            `json:"version" example:"1.2.0" doc:"Semantic version; immutable."`
	Digest    string            `json:"digest" example:"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" doc:"sha256: and the hex SHA-256 of the module's bytes."`
	ABI       string            `json:"abi" enum:"extism-v1,wasi-command-v1"`
	Size      int64             `json:"size" doc:"Module size in bytes."`
	Manifest  workflow.Manifest `json:"manifest" doc:"The manifest, as checked and stored (normalized)."`
	Signature signatureResponse `json:"signature" doc:"The version's signature: verified when it was stored, or unsigned."`
	CreatedAt time.Time         `json:"created_at"`
}

func newNodeVersionResponse(v *store.ModuleVersion) (nodeVersionResponse, error) {
	r := nodeVersionResponse{
		Name: v.Name, Version: v.Version, Digest: v.Digest, ABI: v.ABI, Size: v.Size,
		Signature: newSignatureResponse(registry.SignatureOf(v.Signature)), CreatedAt: v.CreatedAt,
	}
	if err := json.Unmarshal(v.Manifest, &r.Manifest); err != nil {
		return r, fmt.Errorf("api: %s@%s: stored manifest: %w", v.Name, v.Version, err)
	}
	return r, nil
}

// nodeSummaryResponse is one module in a listing.
type nodeSummaryResponse struct {
	Name          string    `json:"name" example:"acme/slack-post"`
	LatestVersion string    `json:"latest_version" example:"1.2.0" doc:"The version uploaded last."`
	Versions      int       `json:"versions" doc:"How many versions the module has."`
	UpdatedAt     time.Time `json:"updated_at" doc:"When the last version was uploaded."`
}

func newNodeSummaryResponse(m *store.ModuleSummary) nodeSummaryResponse {
	return nodeSummaryResponse{Name: m.Name, LatestVersion: m.LatestVersion, Versions: m.Versions, UpdatedAt: m.UpdatedAt}
}

// nodeResponse is a module with every version.
type nodeResponse struct {
	Name          string                `json:"name" example:"acme/slack-post"`
	LatestVersion string                `json:"latest_version" example:"1.2.0" doc:"The version uploaded last."`
	Versions      []nodeVersionResponse `json:"versions" doc:"Every version, in upload order."`
}

func (s *Server) registerNodes() {
	if s.registry == nil {
		return
	}
	tags := []string{"nodes"}
	upload := huma.Operation{
		OperationID: "uploadNode",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/nodes",
		Summary:     "Upload a node module",
		Description: "Checks a module and its manifest and stores them as a new, immutable version: " +
			"201 when created, 200 when the same bytes and manifest were uploaded before. " +
			"A refused upload is a problem naming each field at fault (module, signature, manifest.<json path>): " +
			"413 for a part over its cap, 409 version_immutable for an existing version with other bytes or another manifest, " +
			"422 for anything else (manifest_invalid, module_invalid, import_not_allowed, missing_entrypoint; for the signature, verified before anything is stored: " +
			"signature_invalid, signature_mismatch, signature_namespace, signature_key_unknown, signature_key_revoked, signature_key_expired; for the tenant's trust policy: " +
			"signature_required, publisher_untrusted, version_below_minimum; version_yanked). " +
			"The body is not compressed (Content-Encoding is refused).",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity},
		MaxBodyBytes: int64(s.uploadBodyLimit()) + 1, // one past: huma refuses a body that fills its cap
		RequestBody:  uploadRequestBody(),
		// The body is multipart, split by uploadParts; the schema above only
		// documents it (huma would try to decode it as a format it knows).
		SkipValidateBody: true,
	}
	upload.Responses = map[string]*huma.Response{
		"200": {
			Description: "The same version was uploaded before with the same bytes and manifest: nothing changed.",
			Content: map[string]*huma.MediaType{"application/json": {
				Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[nodeVersionResponse](), true, ""),
			}},
		},
	}
	register(s, upload, auth.RoleEditor, s.uploadNode)
	register(s, huma.Operation{
		OperationID: "listNodes",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/nodes",
		Summary:     "List node modules",
		Description: "By name, one page at a time, each with the version uploaded last.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleViewer, s.listNodes)
	register(s, huma.Operation{
		OperationID: "getNode",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/nodes/{owner}/{name}",
		Summary:     "Get a node module with its versions",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getNode)
	register(s, huma.Operation{
		OperationID: "getNodeVersion",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/nodes/{owner}/{name}/versions/{version}",
		Summary:     "Get one version of a node module",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getNodeVersion)
	register(s, huma.Operation{
		OperationID: "testNode",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/nodes/{owner}/{name}/versions/{version}/test",
		Summary:     "Run one version of a node module once",
		Description: "Runs the module outside any workflow, as a node named \"test\", with the given items (its main input) and params. " +
			"It gets the host functions its grant allows, with secrets bound as in body.secrets (which needs the editor role); " +
			"host_calls records what they did, and the secrets read are redacted from the output, logs and error. A run that fails is a 422 problem with code node_failed and the reason in kind " +
			"(timeout, trap, guest_error, memory_limit, output_too_large, invalid_output, capability_not_granted, …).",
		Tags:   tags,
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, auth.RoleRunner, s.testNode)
}

// uploadRequestBody documents the multipart upload.
func uploadRequestBody() *huma.RequestBody {
	return &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{"multipart/form-data": {
			Schema: &huma.Schema{
				Type:     "object",
				Required: []string{"module", "manifest"},
				Properties: map[string]*huma.Schema{
					"module":    {Type: "string", Format: "binary", Description: "The WebAssembly module (application/wasm)."},
					"manifest":  {Type: "string", Description: "The manifest (wasmflow.json), as a file or a field."},
					"signature": {Type: "string", Format: "binary", Description: "A detached signature (the JSON envelope wasmflow node sign writes). Optional, unless the tenant's trust policy requires signatures."},
				},
			},
			Encoding: map[string]*huma.Encoding{
				"module":   {ContentType: "application/wasm, application/octet-stream"},
				"manifest": {ContentType: "application/json"},
			},
		}},
	}
}

type uploadNodeInput struct {
	ContentType string `header:"Content-Type" hidden:"true"`
	RawBody     []byte `contentType:"multipart/form-data"`
}

type nodeVersionOutput struct {
	Body nodeVersionResponse
}

type uploadNodeOutput struct {
	Status   int
	Location string `header:"Location" doc:"The version's URL."`
	Body     nodeVersionResponse
}

func (s *Server) uploadNode(ctx context.Context, in *uploadNodeInput) (*uploadNodeOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	params, err := s.uploadParts(in.ContentType, in.RawBody)
	if err != nil {
		return nil, err
	}
	v, created, err := s.registry.Upload(ctx, p.TenantID, params)
	if err != nil {
		return nil, err
	}
	body, err := newNodeVersionResponse(v)
	if err != nil {
		return nil, err
	}
	out := &uploadNodeOutput{Status: http.StatusOK, Location: nodeVersionPath(v.Name, v.Version), Body: body}
	if created {
		out.Status = http.StatusCreated
		s.audit(ctx, p, "node.upload", v.Name+"@"+v.Version, map[string]any{"digest": v.Digest, "size": v.Size})
	}
	return out, nil
}

func nodeVersionPath(name, version string) string {
	return apiPrefix + "/nodes/" + name + "/versions/" + version
}

// uploadParts splits a multipart upload into its parts: module, manifest
// and signature, each read up to one byte past its cap so that the registry
// reports which one is too large.
func (s *Server) uploadParts(contentType string, body []byte) (*registry.UploadParams, error) {
	mediaType, mt, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/form-data" || mt["boundary"] == "" {
		return nil, newProblem(CodeUnsupportedMediaType, "send multipart/form-data with a module part and a manifest part",
			FieldProblem{Location: "header.Content-Type", Message: "want multipart/form-data with a boundary"})
	}
	limits := map[string]int64{
		"module":    s.registry.MaxModuleBytes(),
		"manifest":  s.registry.MaxManifestBytes(),
		"signature": registry.MaxSignatureBytes,
	}
	parts := map[string][]byte{}
	mr := multipart.NewReader(bytes.NewReader(body), mt["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformedUpload(err)
		}
		name := part.FormName()
		limit, known := limits[name]
		switch {
		case !known:
			return nil, newProblem(CodeInvalidRequest, fmt.Sprintf("unknown part %q: an upload has module, manifest and signature", name),
				FieldProblem{Location: "body." + name, Message: "unknown part"})
		case parts[name] != nil:
			return nil, newProblem(CodeInvalidRequest, fmt.Sprintf("part %q is given twice", name),
				FieldProblem{Location: "body." + name, Message: "given twice"})
		}
		data, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			return nil, malformedUpload(err)
		}
		parts[name] = append([]byte{}, data...) // non-nil: seen
	}
	return &registry.UploadParams{Module: parts["module"], Manifest: parts["manifest"], Signature: parts["signature"]}, nil
}

func malformedUpload(err error) *Problem {
	return newProblem(CodeInvalidRequest, "the multipart body is malformed: "+err.Error(),
		FieldProblem{Location: "body", Message: "malformed multipart body"})
}

type listNodesInput struct {
	PageParams
}

func (s *Server) listNodes(ctx context.Context, in *listNodesInput) (*listOutput[nodeSummaryResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.registry.List(ctx, p.TenantID, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, newNodeSummaryResponse), nil
}

type nodeNameInput struct {
	Owner string `path:"owner" maxLength:"64" example:"acme" doc:"The module's owner."`
	Name  string `path:"name" maxLength:"128" example:"slack-post" doc:"The module's name within its owner."`
}

type nodeOutput struct {
	Body nodeResponse
}

func (s *Server) getNode(ctx context.Context, in *nodeNameInput) (*nodeOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	vs, err := s.registry.Versions(ctx, p.TenantID, in.Owner+"/"+in.Name)
	if err != nil {
		return nil, err
	}
	out := &nodeOutput{Body: nodeResponse{Name: vs[0].Name, LatestVersion: vs[len(vs)-1].Version, Versions: make([]nodeVersionResponse, 0, len(vs))}}
	for _, v := range vs {
		r, err := newNodeVersionResponse(v)
		if err != nil {
			return nil, err
		}
		out.Body.Versions = append(out.Body.Versions, r)
	}
	return out, nil
}

type nodeVersionInput struct {
	Owner   string `path:"owner" maxLength:"64" example:"acme" doc:"The module's owner."`
	Name    string `path:"name" maxLength:"128" example:"slack-post" doc:"The module's name within its owner."`
	Version string `path:"version" maxLength:"64" example:"1.2.0" doc:"An exact version."`
}

func (s *Server) getNodeVersion(ctx context.Context, in *nodeVersionInput) (*nodeVersionOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.registry.Get(ctx, p.TenantID, in.Owner+"/"+in.Name, in.Version)
	if err != nil {
		return nil, err
	}
	body, err := newNodeVersionResponse(v)
	if err != nil {
		return nil, err
	}
	return &nodeVersionOutput{Body: body}, nil
}

// testNodeRequest is the body of a test run. Items and params are kept as
// sent, numbers included ("1.50" stays 1.50): nodes may copy them byte for byte.
type testNodeRequest struct {
	Items   []jsonObject      `json:"items,omitempty" doc:"The items of the node's main input."`
	Params  *jsonObject       `json:"params,omitempty" doc:"The node's params, as a workflow passes them once their expressions are evaluated."`
	Secrets map[string]string `json:"secrets,omitempty" doc:"Binds secret names the module declares to secrets of the tenant, as a workflow node's secrets do." example:"{\"token\":\"slack-prod\"}"`
}

// jsonObject is a JSON object kept as sent.
type jsonObject struct {
	raw json.RawMessage
}

// UnmarshalJSON keeps the bytes.
func (o *jsonObject) UnmarshalJSON(b []byte) error {
	o.raw = append(o.raw[:0], b...)
	return nil
}

// Schema documents (and has huma check) that it is an object.
func (jsonObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}
}

// decode decodes the object, numbers as json.Number so that they encode as sent.
func (o *jsonObject) decode() (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(o.raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// testRunInput turns the request into the registry's input.
func (r *testNodeRequest) testRunInput() (*registry.TestRunInput, error) {
	in := &registry.TestRunInput{Items: make([]workflow.Item, 0, len(r.Items))}
	for i := range r.Items {
		item, err := r.Items[i].decode()
		if err != nil || item == nil {
			return nil, newProblem(CodeInvalidRequest, "an item is not a JSON object",
				FieldProblem{Location: fmt.Sprintf("body.items[%d]", i), Message: "not a JSON object"})
		}
		in.Items = append(in.Items, item)
	}
	if r.Params != nil {
		params, err := r.Params.decode()
		if err != nil {
			return nil, newProblem(CodeInvalidRequest, "params is not a JSON object",
				FieldProblem{Location: "body.params", Message: "not a JSON object"})
		}
		in.Params = params
	}
	in.Secrets = r.Secrets
	return in, nil
}

type testNodeInput struct {
	Owner   string `path:"owner" maxLength:"64" example:"acme" doc:"The module's owner."`
	Name    string `path:"name" maxLength:"128" example:"slack-post" doc:"The module's name within its owner."`
	Version string `path:"version" maxLength:"64" example:"1.2.0" doc:"An exact version."`
	Body    testNodeRequest
}

// testNodeResponse is what a test run produced.
type testNodeResponse struct {
	Output        json.RawMessage     `json:"output" doc:"The module's output document: {\"items\": [...]} or {\"outputs\": {\"port\": [...]}}."`
	Logs          []registry.LogLine  `json:"logs" doc:"What the module logged."`
	LogsTruncated bool                `json:"logs_truncated" doc:"Lines were dropped at the log cap."`
	DurationMS    int64               `json:"duration_ms" doc:"Wall time of the run, in milliseconds."`
	HostCalls     []registry.HostCall `json:"host_calls" doc:"The secret reads and HTTP requests the run made (never values, headers or bodies)."`
}

type testNodeOutput struct {
	Body testNodeResponse
}

func (s *Server) testNode(ctx context.Context, in *testNodeInput) (*testNodeOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	run, err := in.Body.testRunInput()
	if err != nil {
		return nil, err
	}
	if len(run.Secrets) > 0 && !auth.RoleAtLeast(p.Role, auth.RoleEditor) {
		// Binding secrets is changing what a node may read: an editor's
		// right, as in a workflow.
		return nil, newProblem(CodeForbidden, "binding secrets in a test run needs the editor role",
			FieldProblem{Location: "body.secrets", Message: "needs the editor role"})
	}
	run.Actor = p.Actor
	res, err := s.registry.TestRun(ctx, p.TenantID, in.Owner+"/"+in.Name, in.Version, run)
	if err != nil {
		return nil, err
	}
	out := &testNodeOutput{Body: testNodeResponse{
		Output:        res.Output,
		Logs:          res.Logs,
		LogsTruncated: res.LogsTruncated,
		DurationMS:    res.Duration.Milliseconds(),
		HostCalls:     res.HostCalls,
	}}
	if out.Body.HostCalls == nil {
		out.Body.HostCalls = []registry.HostCall{}
	}
	if out.Body.Logs == nil {
		out.Body.Logs = []registry.LogLine{}
	}
	return out, nil
}
