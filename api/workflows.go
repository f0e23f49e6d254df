package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// workflowCreate is the body of POST /workflows: a workflow definition and
// nothing else (unknown fields are refused, with their path).
type workflowCreate struct {
	workflow.Workflow
}

// workflowUpdate is the body of PUT /workflows/{id}: a new definition, and
// optionally the version it was edited from.
type workflowUpdate struct {
	workflow.Workflow
	ExpectedVersion int `json:"expected_version,omitempty" minimum:"1" doc:"Fail with 409 unless the workflow is still at this version (the If-Match header does the same)."`
}

// TransformSchema leaves name, nodes and connections optional in the
// request schema: Validate reports what a workflow lacks, with its path, next
// to every other problem, and a one-node workflow needs no connections.
func (workflowCreate) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return optionalWorkflowFields(s)
}

// TransformSchema: as for workflowCreate.
func (workflowUpdate) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return optionalWorkflowFields(s)
}

func optionalWorkflowFields(s *huma.Schema) *huma.Schema {
	s.Required = slices.DeleteFunc(s.Required, func(name string) bool {
		return name == "name" || name == "nodes" || name == "connections"
	})
	return s
}

// workflowResponse is a workflow as the API shows it: the current version's
// definition and the server's fields.
type workflowResponse struct {
	ID          string                `json:"id" example:"wf_01jd8x4q0c6f5e3mz2k7r9t1vb" doc:"Workflow id."`
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Version     int                   `json:"version" minimum:"1" doc:"Current version; every save adds one."`
	Active      bool                  `json:"active" doc:"Whether its triggers fire."`
	Nodes       []workflow.Node       `json:"nodes"`
	Connections []workflow.Connection `json:"connections"`
	Settings    workflow.Settings     `json:"settings"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
}

func newWorkflowResponse(w *store.Workflow) workflowResponse {
	d := w.Definition
	r := workflowResponse{
		ID:          w.ID,
		Name:        d.Name,
		Description: d.Description,
		Version:     w.Version,
		Active:      w.Active,
		Nodes:       d.Nodes,
		Connections: d.Connections,
		CreatedAt:   w.CreatedAt,
		UpdatedAt:   w.UpdatedAt,
	}
	if d.Settings != nil {
		r.Settings = *d.Settings
	}
	if r.Nodes == nil {
		r.Nodes = []workflow.Node{}
	}
	if r.Connections == nil {
		r.Connections = []workflow.Connection{}
	}
	return r
}

// workflowVersionResponse is one saved version of a workflow.
type workflowVersionResponse struct {
	WorkflowID string            `json:"workflow_id"`
	Version    int               `json:"version" minimum:"1"`
	CreatedAt  time.Time         `json:"created_at"`
	Definition workflow.Workflow `json:"definition"`
}

func newWorkflowVersionResponse(v *store.WorkflowVersion) workflowVersionResponse {
	r := workflowVersionResponse{WorkflowID: v.WorkflowID, Version: v.Version, CreatedAt: v.CreatedAt, Definition: v.Definition}
	if r.Definition.Nodes == nil {
		r.Definition.Nodes = []workflow.Node{}
	}
	if r.Definition.Connections == nil {
		r.Definition.Connections = []workflow.Connection{}
	}
	return r
}

// workflowIDInput names one workflow. Inputs repeat its ID field rather
// than embed it: huma skips the fields of an embedded unexported struct.
type workflowIDInput struct {
	ID string `path:"id" maxLength:"64" example:"wf_01jd8x4q0c6f5e3mz2k7r9t1vb" doc:"Workflow id."`
}

type workflowOutput struct {
	ETag string `header:"ETag" doc:"The version, quoted: send it back as If-Match."`
	Body workflowResponse
}

type workflowCreatedOutput struct {
	ETag     string `header:"ETag" doc:"The version, quoted: send it back as If-Match."`
	Location string `header:"Location" doc:"The new workflow's URL."`
	Body     workflowResponse
}

func newWorkflowOutput(w *store.Workflow) *workflowOutput {
	return &workflowOutput{ETag: etag(w.Version), Body: newWorkflowResponse(w)}
}

func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

func (s *Server) registerWorkflows() {
	tags := []string{"workflows"}
	conflict := []int{http.StatusConflict}
	register(s, huma.Operation{
		OperationID:   "createWorkflow",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/workflows",
		Summary:       "Create a workflow",
		Description:   "Stores a new workflow as version 1. The definition is validated; every problem is listed with its path. Each module node's reference is resolved in the tenant's registry and locked (lock: version and digest) to the version it resolved to; a reference that resolves to nothing is a problem at its node's module.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge},
	}, auth.RoleEditor, s.createWorkflow)
	register(s, huma.Operation{
		OperationID: "listWorkflows",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/workflows",
		Summary:     "List workflows",
		Description: "Newest first, one page at a time.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleViewer, s.listWorkflows)
	register(s, huma.Operation{
		OperationID: "getWorkflow",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/workflows/{id}",
		Summary:     "Get a workflow",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getWorkflow)
	register(s, huma.Operation{
		OperationID: "updateWorkflow",
		Method:      http.MethodPut,
		Path:        apiPrefix + "/workflows/{id}",
		Summary:     "Save a new version of a workflow",
		Description: "Stores the definition as the next version, validated and with its module references locked as on create. With If-Match or expected_version, fails with 409 unless the workflow is still at that version.",
		Tags:        tags,
		Errors:      append([]int{http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge}, conflict...),
	}, auth.RoleEditor, s.updateWorkflow)
	register(s, huma.Operation{
		OperationID:   "deleteWorkflow",
		Method:        http.MethodDelete,
		Path:          apiPrefix + "/workflows/{id}",
		Summary:       "Delete a workflow",
		Description:   "Removes the workflow from listings and reads; the versions its executions ran are kept.",
		Tags:          tags,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound},
	}, auth.RoleEditor, s.deleteWorkflow)
	register(s, huma.Operation{
		OperationID: "listWorkflowVersions",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/workflows/{id}/versions",
		Summary:     "List a workflow's versions",
		Description: "Newest first, one page at a time, each with its definition.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound},
	}, auth.RoleViewer, s.listWorkflowVersions)
	register(s, huma.Operation{
		OperationID: "getWorkflowVersion",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/workflows/{id}/versions/{version}",
		Summary:     "Get one version of a workflow",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getWorkflowVersion)
}

// definition turns a decoded body into the definition to store. Locks are
// the server's to set: any the client sent are dropped, and with a registry
// every module reference is resolved in the tenant and locked to the version
// and digest it resolved to. The definition is then normalized and validated
// exactly as workflow.Parse does any stored workflow, in one pass that also
// checks module nodes' ports against their resolved manifests and lists
// references that resolve to nothing next to every other problem.
func (s *Server) definition(ctx context.Context, tenantID string, w *workflow.Workflow) (*workflow.Workflow, error) {
	for i := range w.Nodes {
		w.Nodes[i].Lock = nil
	}
	// Through JSON and back, as workflow.Parse reads it: the stored
	// definition shares nothing with the request and reads back equal.
	data, err := w.Encode()
	if err != nil {
		return nil, fmt.Errorf("api: encode workflow: %w", err)
	}
	def := &workflow.Workflow{}
	if err := json.Unmarshal(data, def); err != nil {
		return nil, fmt.Errorf("api: decode workflow: %w", err)
	}
	def.Normalize()

	var (
		opts       *workflow.ValidateOptions
		unresolved []workflow.Problem
	)
	// Past MaxNodes validation looks at no node: resolve none either.
	if s.registry != nil && len(def.Nodes) <= workflow.MaxNodes {
		resolved, problems, err := s.lockModules(ctx, tenantID, def)
		if err != nil {
			return nil, err
		}
		unresolved = problems
		opts = &workflow.ValidateOptions{ModulePorts: func(module string) (inputs, outputs []string, ok bool) {
			r := resolved[module]
			if r == nil {
				return nil, nil, false
			}
			return r.Manifest.InputPorts(), r.Manifest.OutputPorts(), true
		}}
	}
	var problems []workflow.Problem
	if err := def.Validate(opts); err != nil {
		ve, ok := errors.AsType[*workflow.ValidationError](err)
		if !ok {
			return nil, err
		}
		problems = ve.Problems
	}
	if problems = mergeProblems(problems, unresolved); len(problems) > 0 {
		return nil, &workflow.ValidationError{Problems: problems}
	}
	return def, nil
}

// lockModules resolves the reference of every module node of def in the
// tenant and sets the node's Lock. It returns what each reference resolved
// to, and a problem at nodes[i].module for each node whose reference
// resolves to nothing or that the registry refuses; any other failure is an
// error.
func (s *Server) lockModules(ctx context.Context, tenantID string, def *workflow.Workflow) (map[string]*registry.Resolved, []workflow.Problem, error) {
	resolved := map[string]*registry.Resolved{}
	why := map[string][]string{} // reference → why it resolves to nothing
	var problems []workflow.Problem
	for i := range def.Nodes {
		n := &def.Nodes[i]
		if n.Type != "" || n.Module == "" {
			continue // a core node, or neither (Validate says so)
		}
		r, done := resolved[n.Module]
		if _, failed := why[n.Module]; !done && !failed {
			var err error
			r, err = s.registry.Resolve(ctx, tenantID, n.Module)
			nf, notFound := errors.AsType[*registry.NotFoundError](err)
			re, refused := errors.AsType[*registry.Error](err)
			switch {
			case err == nil:
				resolved[n.Module] = r
			case notFound:
				why[n.Module] = []string{nf.Message}
			case refused:
				for _, p := range re.Problems {
					why[n.Module] = append(why[n.Module], p.Message)
				}
			default:
				return nil, nil, fmt.Errorf("api: resolve %s: %w", n.Module, err)
			}
		}
		if r == nil {
			for _, msg := range why[n.Module] {
				problems = append(problems, workflow.Problem{Path: fmt.Sprintf("nodes[%d].module", i), Message: msg})
			}
			continue
		}
		n.Lock = &workflow.Lock{Version: r.Version, Digest: r.Digest}
		problems = append(problems, undeclaredBindings(i, n, r)...)
	}
	return resolved, problems, nil
}

// undeclaredBindings finds the secret names a node binds that its module
// does not declare: a run could never read them.
func undeclaredBindings(i int, n *workflow.Node, r *registry.Resolved) []workflow.Problem {
	var problems []workflow.Problem
	declared := r.Manifest.Capabilities.Secrets
	for _, name := range slices.Sorted(maps.Keys(n.Secrets)) {
		if slices.Contains(declared, name) {
			continue
		}
		msg := fmt.Sprintf("binds %q, which %s@%s does not declare", name, r.Name, r.Version)
		if len(declared) == 0 {
			msg += " (it declares no secrets)"
		} else {
			msg += fmt.Sprintf(" (it declares %s)", strings.Join(declared, ", "))
		}
		problems = append(problems, workflow.Problem{Path: fmt.Sprintf("nodes[%d].secrets.%s", i, name), Message: msg})
	}
	return problems
}

// mergeProblems adds the unresolved module references to what validation
// found, in document order, leaving out those at a path validation already
// faults (a reference it finds malformed is not resolved again in words).
func mergeProblems(validation, unresolved []workflow.Problem) []workflow.Problem {
	faulted := make(map[string]bool, len(validation))
	for _, p := range validation {
		faulted[p.Path] = true
	}
	out := validation
	for _, p := range unresolved {
		if !faulted[p.Path] {
			out = append(out, p)
		}
	}
	// Validation lists its problems in this order already; the sort is
	// stable, so it only moves each added one after its node's others.
	slices.SortStableFunc(out, func(a, b workflow.Problem) int {
		sa, na := problemOrder(a.Path)
		sb, nb := problemOrder(b.Path)
		if sa != sb {
			return sa - sb
		}
		return na - nb
	})
	return out
}

// problemOrder ranks a problem's path in the order Validate reports them:
// the workflow's own fields, each node by index, the node list as a whole,
// the connections, the settings.
func problemOrder(path string) (section, node int) {
	switch {
	case strings.HasPrefix(path, "nodes["):
		n, _, _ := strings.Cut(strings.TrimPrefix(path, "nodes["), "]")
		i, _ := strconv.Atoi(n)
		return 1, i
	case path == "nodes":
		return 2, 0
	case strings.HasPrefix(path, "connections"):
		return 3, 0
	case strings.HasPrefix(path, "settings"):
		return 4, 0
	}
	return 0, 0
}

type createWorkflowInput struct {
	Body workflowCreate
}

func (s *Server) createWorkflow(ctx context.Context, in *createWorkflowInput) (*workflowCreatedOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	def, err := s.definition(ctx, p.TenantID, &in.Body.Workflow)
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkflowInsert(ctx, p.TenantID, def)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.create", w.ID, map[string]any{"name": def.Name, "version": w.Version})
	return &workflowCreatedOutput{
		ETag:     etag(w.Version),
		Location: apiPrefix + "/workflows/" + w.ID,
		Body:     newWorkflowResponse(w),
	}, nil
}

type listWorkflowsInput struct {
	PageParams
}

func (s *Server) listWorkflows(ctx context.Context, in *listWorkflowsInput) (*listOutput[workflowResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.WorkflowList(ctx, p.TenantID, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, newWorkflowResponse), nil
}

func (s *Server) getWorkflow(ctx context.Context, in *workflowIDInput) (*workflowOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkflowGet(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	out := newWorkflowOutput(w)
	if err := s.lockProblems(ctx, p.TenantID, out.Body.Nodes); err != nil {
		return nil, err
	}
	return out, nil
}

// lockProblems sets, on each module node's lock, why a run of the locked
// version would be refused now, so that a workflow shows which of its
// nodes a revoked key, a yanked version or an outgrown grant stops.
func (s *Server) lockProblems(ctx context.Context, tenantID string, nodes []workflow.Node) error {
	if s.registry == nil {
		return nil
	}
	for i := range nodes {
		n := &nodes[i]
		if n.Lock == nil {
			continue
		}
		name, _ := n.ModuleRef()
		v, err := s.registry.Get(ctx, tenantID, name, n.Lock.Version)
		if errors.Is(err, store.ErrNotFound) {
			n.Lock.Problem = &workflow.LockProblem{Code: "module_unavailable", Message: fmt.Sprintf("%s@%s is not installed", name, n.Lock.Version)}
			continue
		}
		if err != nil {
			return err
		}
		_, problem, err := s.authorizeLock(ctx, tenantID, v)
		if err != nil {
			return err
		}
		n.Lock.Problem = problem
	}
	return nil
}

// authorizeLock asks the registry what a run of v would be allowed, as the
// engine does before every run: the grant, or the refusal (a revoked key, a
// yanked version, an outgrown grant…) as a lock problem.
func (s *Server) authorizeLock(ctx context.Context, tenantID string, v *store.ModuleVersion) (workflow.Capabilities, *workflow.LockProblem, error) {
	grant, err := s.registry.Authorize(ctx, tenantID, v)
	if re, ok := errors.AsType[*registry.Error](err); ok {
		msg := re.Code
		if len(re.Problems) > 0 {
			msg = re.Problems[0].Message
		}
		return grant, &workflow.LockProblem{Code: re.Code, Message: msg}, nil
	}
	return grant, nil, err
}

type updateWorkflowInput struct {
	ID      string `path:"id" maxLength:"64" doc:"Workflow id."`
	IfMatch string `header:"If-Match" doc:"The ETag (version) the update expects, such as \"3\"; * or absent accepts any."`
	Body    workflowUpdate
}

func (s *Server) updateWorkflow(ctx context.Context, in *updateWorkflowInput) (*workflowOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	expected, err := expectedVersion(in.IfMatch, in.Body.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	def, err := s.definition(ctx, p.TenantID, &in.Body.Workflow)
	if err != nil {
		return nil, err
	}
	// A save of an active workflow stays active: it must pass the checks
	// activation makes, and its webhooks must stay its own.
	current, err := s.store.WorkflowGet(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	if current.Active && s.engine != nil {
		if err := s.checkActivation(ctx, p.TenantID, in.ID, def); err != nil {
			return nil, err
		}
	}
	w, err := s.store.WorkflowUpdate(ctx, p.TenantID, in.ID, &store.WorkflowUpdateParams{Definition: *def, ExpectedVersion: expected})
	if errors.Is(err, store.ErrConflict) && expected != 0 {
		if cur, gerr := s.store.WorkflowGet(ctx, p.TenantID, in.ID); gerr == nil && cur.Version != expected {
			return nil, newProblem(CodeConflict, fmt.Sprintf("the workflow is no longer at version %d: read it again and reapply the change", expected))
		}
	}
	if errors.Is(err, store.ErrConflict) && current.Active {
		return nil, s.activationConflict(ctx, p.TenantID, in.ID, def)
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.update", w.ID, map[string]any{"name": def.Name, "version": w.Version})
	return newWorkflowOutput(w), nil
}

// expectedVersion reads the optimistic-lock version from If-Match and the
// body; 0 means no precondition.
func expectedVersion(ifMatch string, fromBody int) (int, error) {
	version := 0
	if h := strings.TrimSpace(ifMatch); h != "" && h != "*" {
		n, err := strconv.Atoi(strings.Trim(h, `"`))
		if err != nil || n < 1 {
			return 0, newProblem(CodeInvalidRequest, "If-Match must be a workflow version such as \"3\"",
				FieldProblem{Location: "header.If-Match", Message: "not a workflow version"})
		}
		version = n
	}
	if fromBody != 0 {
		if version != 0 && version != fromBody {
			return 0, newProblem(CodeInvalidRequest, "If-Match and expected_version name different versions",
				FieldProblem{Location: "body.expected_version", Message: "differs from If-Match"})
		}
		version = fromBody
	}
	return version, nil
}

func (s *Server) deleteWorkflow(ctx context.Context, in *workflowIDInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.store.WorkflowDelete(ctx, p.TenantID, in.ID); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.delete", in.ID, nil)
	return nil, nil
}

type listWorkflowVersionsInput struct {
	ID string `path:"id" maxLength:"64" doc:"Workflow id."`
	PageParams
}

func (s *Server) listWorkflowVersions(ctx context.Context, in *listWorkflowVersionsInput) (*listOutput[workflowVersionResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	// A deleted workflow, or another tenant's, is 404 here too, whatever
	// the store keeps of its versions.
	if _, err := s.store.WorkflowGet(ctx, p.TenantID, in.ID); err != nil {
		return nil, err
	}
	rows, next, err := s.store.WorkflowVersionList(ctx, p.TenantID, in.ID, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, newWorkflowVersionResponse), nil
}

type getWorkflowVersionInput struct {
	ID      string `path:"id" maxLength:"64" doc:"Workflow id."`
	Version int    `path:"version" minimum:"1" doc:"Version number."`
}

type workflowVersionOutput struct {
	Body workflowVersionResponse
}

func (s *Server) getWorkflowVersion(ctx context.Context, in *getWorkflowVersionInput) (*workflowVersionOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.WorkflowGet(ctx, p.TenantID, in.ID); err != nil {
		return nil, err
	}
	v, err := s.store.WorkflowVersionGet(ctx, p.TenantID, in.ID, in.Version)
	if err != nil {
		return nil, err
	}
	return &workflowVersionOutput{Body: newWorkflowVersionResponse(v)}, nil
}

// audit records a change. The change is already stored, so a failed audit
// write does not fail the request (the client would retry a change that
// happened); it is logged at error level with everything the entry held.
func (s *Server) audit(ctx context.Context, p *auth.Principal, action, resource string, detail map[string]any) {
	var raw json.RawMessage
	if detail != nil {
		raw, _ = json.Marshal(detail) // strings and ints only
	}
	err := s.store.AuditInsert(ctx, p.TenantID, &store.AuditEntry{Actor: p.Actor, Action: action, Resource: resource, Detail: raw})
	if err != nil {
		attrs := []slog.Attr{
			slog.String("tenant", p.TenantID), slog.String("actor", p.Actor),
			slog.String("action", action), slog.String("resource", resource),
			slog.String("detail", string(raw)), slog.String("err", err.Error()),
		}
		if info := requestInfoFrom(ctx); info != nil {
			attrs = append(attrs, slog.String("request_id", info.id))
		}
		s.logger.LogAttrs(ctx, slog.LevelError, "audit write failed", attrs...)
	}
}
