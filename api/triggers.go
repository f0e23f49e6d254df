package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// nextScheduleTimes is how many upcoming ticks GET …/triggers lists.
const nextScheduleTimes = 5

// triggersResponse is what starts a workflow.
type triggersResponse struct {
	WorkflowID string         `json:"workflow_id"`
	Active     bool           `json:"active" doc:"Whether the webhooks answer and the schedules fire."`
	Webhooks   []webhookBody  `json:"webhooks"`
	Schedules  []scheduleBody `json:"schedules"`
}

type webhookBody struct {
	Node    string `json:"node"`
	Method  string `json:"method" example:"POST"`
	Path    string `json:"path" example:"orders/new"`
	URL     string `json:"url" example:"https://wasmflow.example.com/hooks/tn_01jd8x4q0c6f5e3mz2k7r9t1vb/orders/new" doc:"Where to send requests: absolute when the server knows its public URL, else the path."`
	Respond string `json:"respond" enum:"immediately,last_node"`
	Auth    string `json:"auth" enum:"none,header,hmac"`
}

type scheduleBody struct {
	Node     string      `json:"node"`
	Cron     string      `json:"cron" example:"0 9 * * 1-5"`
	Timezone string      `json:"timezone" example:"Europe/Berlin"`
	Missed   string      `json:"missed" enum:"skip,run_once"`
	Next     []time.Time `json:"next" doc:"The next ticks (UTC), from now."`
}

type triggersOutput struct {
	Body triggersResponse
}

func (s *Server) registerTriggers() {
	tags := []string{"workflows"}
	register(s, huma.Operation{
		OperationID: "activateWorkflow",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/workflows/{id}/activate",
		Summary:     "Activate a workflow",
		Description: "Checks the current version (every module installed with the locked digest and the secrets its nodes bind granted and present, webhook and schedule params, the error workflow) and makes its webhooks answer and its schedules fire. 422 activation_refused lists the problems; 409 webhook_conflict names the active workflow that holds a webhook's method and path.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, auth.RoleEditor, s.activateWorkflow)
	register(s, huma.Operation{
		OperationID: "deactivateWorkflow",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/workflows/{id}/deactivate",
		Summary:     "Deactivate a workflow",
		Description: "Its webhooks answer 404 and its schedules stop; executions under way go on.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleEditor, s.deactivateWorkflow)
	register(s, huma.Operation{
		OperationID: "getWorkflowTriggers",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/workflows/{id}/triggers",
		Summary:     "List a workflow's webhook URLs and next schedule times",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getWorkflowTriggers)
}

func (s *Server) activateWorkflow(ctx context.Context, in *workflowIDInput) (*workflowOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkflowGet(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkActivation(ctx, p.TenantID, w.ID, &w.Definition); err != nil {
		return nil, err
	}
	act, err := s.store.WorkflowActivate(ctx, p.TenantID, w.ID, w.Version)
	if errors.Is(err, store.ErrConflict) {
		return nil, s.activationConflict(ctx, p.TenantID, w.ID, &w.Definition)
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.activate", w.ID, map[string]any{"version": act.Version})
	return newWorkflowOutput(act), nil
}

func (s *Server) deactivateWorkflow(ctx context.Context, in *workflowIDInput) (*workflowOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkflowDeactivate(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.deactivate", w.ID, map[string]any{"version": w.Version})
	return newWorkflowOutput(w), nil
}

func (s *Server) getWorkflowTriggers(ctx context.Context, in *workflowIDInput) (*triggersOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkflowGet(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	out := triggersResponse{WorkflowID: w.ID, Active: w.Active, Webhooks: []webhookBody{}, Schedules: []scheduleBody{}}
	for _, h := range w.Definition.Webhooks() {
		out.Webhooks = append(out.Webhooks, webhookBody{Node: h.Node, Method: h.Method, Path: h.Path,
			URL: s.webhookURL(p.TenantID, h.Path), Respond: h.Respond, Auth: h.Auth})
	}
	now := time.Now()
	for _, sc := range w.Definition.Schedules() {
		body := scheduleBody{Node: sc.Node, Cron: sc.Cron, Timezone: sc.Timezone, Missed: sc.Missed, Next: []time.Time{}}
		if c, err := engine.ParseCron(sc.Cron, sc.Timezone); err == nil {
			at := now
			for range nextScheduleTimes {
				if at = c.Next(at); at.IsZero() {
					break
				}
				body.Next = append(body.Next, at)
			}
		}
		out.Schedules = append(out.Schedules, body)
	}
	return &triggersOutput{Body: out}, nil
}

// webhookURL is where a tenant's webhook at path answers.
func (s *Server) webhookURL(tenantID, path string) string {
	return s.publicURL + hooksPrefix + "/" + tenantID + "/" + path
}

// checkActivation refuses, with every problem it finds, a definition that
// could not run once active: an *activationError (422).
func (s *Server) checkActivation(ctx context.Context, tenantID, id string, def *workflow.Workflow) error {
	var problems []FieldProblem
	add := func(path, format string, args ...any) {
		problems = append(problems, FieldProblem{Location: path, Message: fmt.Sprintf(format, args...)})
	}
	if err := def.Validate(&workflow.ValidateOptions{Cron: engine.CheckCron}); err != nil {
		ve, ok := errors.AsType[*workflow.ValidationError](err)
		if !ok {
			return err
		}
		for _, p := range ve.Problems {
			add(p.Path, "%s", p.Message)
		}
	}
	if !slices.ContainsFunc(def.Nodes, func(n workflow.Node) bool {
		return n.Type == workflow.TypeWebhookTrigger || n.Type == workflow.TypeScheduleTrigger
	}) {
		add("nodes", "has no %s or %s node: nothing would start it", workflow.TypeWebhookTrigger, workflow.TypeScheduleTrigger)
	}
	for i := range def.Nodes {
		n := &def.Nodes[i]
		at := fmt.Sprintf("nodes[%d]", i)
		switch {
		case n.IsModule():
			ps, err := s.moduleProblems(ctx, tenantID, n)
			if err != nil {
				return err
			}
			for _, p := range ps {
				add(at+p.Path, "%s", p.Message)
			}
		case n.Type == workflow.TypeWebhookTrigger:
			if h, ps := workflow.WebhookOf(n); len(ps) == 0 && h.Secret != "" {
				if err := s.secretExists(ctx, tenantID, h.Secret); errors.Is(err, store.ErrNotFound) {
					add(at+".params.secret", "the tenant has no secret %q", h.Secret)
				} else if err != nil {
					return err
				}
			}
		}
	}
	if st := def.Settings; st != nil && st.ErrorWorkflow != "" {
		ew, err := s.store.WorkflowGet(ctx, tenantID, st.ErrorWorkflow)
		switch {
		case errors.Is(err, store.ErrNotFound):
			add("settings.error_workflow", "the tenant has no workflow %s", st.ErrorWorkflow)
		case err != nil:
			return err
		case !slices.ContainsFunc(ew.Definition.Nodes, func(n workflow.Node) bool { return n.Type == workflow.TypeErrorTrigger }):
			add("settings.error_workflow", "workflow %s (%s) has no %s node", ew.ID, ew.Definition.Name, workflow.TypeErrorTrigger)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return newProblem(CodeActivationRefused, fmt.Sprintf("%d problem(s) keep workflow %s from being active", len(problems), id), problems...)
}

// moduleProblems checks a module node as a run would load it: the locked
// version installed with the locked digest, and each secret it binds
// granted to the module and present in the tenant. Paths are relative to
// the node.
func (s *Server) moduleProblems(ctx context.Context, tenantID string, n *workflow.Node) ([]workflow.Problem, error) {
	name, _ := n.ModuleRef()
	if n.Lock == nil {
		return []workflow.Problem{{Path: ".module", Message: "has no locked version: save the workflow again"}}, nil
	}
	if s.registry == nil {
		return nil, nil
	}
	v, err := s.registry.Get(ctx, tenantID, name, n.Lock.Version)
	if errors.Is(err, store.ErrNotFound) {
		return []workflow.Problem{{Path: ".module", Message: fmt.Sprintf("%s@%s is not installed", name, n.Lock.Version)}}, nil
	}
	if err != nil {
		return nil, err
	}
	if v.Digest != n.Lock.Digest {
		return []workflow.Problem{{Path: ".module", Message: fmt.Sprintf("%s@%s has digest %s, but the workflow locked %s: save the workflow again",
			name, n.Lock.Version, v.Digest, n.Lock.Digest)}}, nil
	}
	// What a run would be allowed: signature, trust policy, yanks and the
	// tenant's grant, as the engine checks before every run.
	grant, refused, err := s.authorizeLock(ctx, tenantID, v)
	if err != nil {
		return nil, err
	}
	if refused != nil {
		why := refused.Code
		if refused.Message != refused.Code {
			why += ": " + refused.Message
		}
		return []workflow.Problem{{Path: ".module", Message: fmt.Sprintf("%s@%s cannot run (%s)", name, n.Lock.Version, why)}}, nil
	}
	var problems []workflow.Problem
	granted := grant.Secrets
	for _, declared := range slices.Sorted(maps.Keys(n.Secrets)) {
		bound := n.Secrets[declared]
		if !slices.Contains(granted, declared) {
			problems = append(problems, workflow.Problem{Path: ".secrets." + declared,
				Message: fmt.Sprintf("%s@%s is not granted secret %q", name, n.Lock.Version, declared)})
			continue
		}
		if err := s.secretExists(ctx, tenantID, bound); errors.Is(err, store.ErrNotFound) {
			problems = append(problems, workflow.Problem{Path: ".secrets." + declared,
				Message: fmt.Sprintf("the tenant has no secret %q", bound)})
		} else if err != nil {
			return nil, err
		}
	}
	return problems, nil
}

func (s *Server) secretExists(ctx context.Context, tenantID, name string) error {
	_, err := s.store.SecretGet(ctx, tenantID, name)
	return err
}

// activationConflict explains a refused activation: the webhooks another
// active workflow of the tenant holds (409 webhook_conflict), or a save
// that came between the check and the activation (409 conflict).
func (s *Server) activationConflict(ctx context.Context, tenantID, id string, def *workflow.Workflow) error {
	var problems []FieldProblem
	for i := range def.Nodes {
		if def.Nodes[i].Type != workflow.TypeWebhookTrigger {
			continue
		}
		h, ps := workflow.WebhookOf(&def.Nodes[i])
		if len(ps) > 0 {
			continue
		}
		r, err := s.store.WebhookRouteGet(ctx, tenantID, h.Method, h.Path)
		if errors.Is(err, store.ErrNotFound) || (err == nil && r.WorkflowID == id) {
			continue
		}
		if err != nil {
			return err
		}
		holder := r.WorkflowID
		if other, err := s.store.WorkflowGet(ctx, tenantID, r.WorkflowID); err == nil {
			holder += " (" + other.Definition.Name + ")"
		}
		problems = append(problems, FieldProblem{Location: fmt.Sprintf("nodes[%d].params.path", i),
			Message: fmt.Sprintf("%s %s is the webhook of active workflow %s", h.Method, h.Path, holder)})
	}
	if len(problems) == 0 {
		return newProblem(CodeConflict, "the workflow changed while it was being activated: try again")
	}
	paths := make([]string, len(problems))
	for i, p := range problems {
		paths[i] = p.Message
	}
	return newProblem(CodeWebhookConflict, strings.Join(paths, "; "), problems...)
}
