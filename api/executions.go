package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// maxWait caps ?wait= on starting an execution.
const maxWait = 5 * time.Minute

// waitingRetryAfter is the Retry-After, in seconds, of a start refused
// because too many of the tenant's executions wait for a slot: the queue
// drains at the pace of whole executions, so a retry sooner would mostly
// be refused again.
const waitingRetryAfter = 10

// executionResponse is an execution as the API shows it; Nodes is present
// when one execution is read.
type executionResponse struct {
	ID              string          `json:"id" example:"ex_01jd8x4q0c6f5e3mz2k7r9t1vb"`
	WorkflowID      string          `json:"workflow_id"`
	WorkflowVersion int             `json:"workflow_version" doc:"The workflow version it runs, whatever was saved since."`
	Status          string          `json:"status" enum:"queued,running,succeeded,failed,cancelled"`
	Trigger         string          `json:"trigger" doc:"What started it: manual, webhook, schedule, error."`
	Error           json.RawMessage `json:"error" doc:"Why it failed: the failing node, kind and message; null otherwise."`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	DeadlineAt      *time.Time      `json:"deadline_at" doc:"When it fails with execution_timeout unless finished (a waiting execution's deadline moves by the time it waited)."`
	AdmittedAt      *time.Time      `json:"admitted_at" doc:"When it got one of the tenant's execution slots; null while it waits for one (status queued)."`
	Nodes           []nodeRunBody   `json:"nodes,omitempty" doc:"Every node run, attempts included, in the order they were created."`
}

// nodeRunBody is one attempt of one node.
type nodeRunBody struct {
	ID         string          `json:"id"`
	Name       string          `json:"name" doc:"The node's name."`
	Status     string          `json:"status" enum:"pending,queued,running,succeeded,failed,skipped,cancelled"`
	Attempt    int             `json:"attempt" minimum:"1"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	InputSize  int64           `json:"input_size" doc:"Bytes of the input document the node received."`
	Output     json.RawMessage `json:"output" doc:"The output document: {\"items\": [...]} or {\"outputs\": {port: [...]}}; null before it finished."`
	Logs       json.RawMessage `json:"logs" doc:"What the module logged: [{time, level, message}]."`
	Error      json.RawMessage `json:"error" doc:"{kind, message[, expression][, item][, retry_at]} when the run failed (item: the index of the input item whose call failed, for a raw-IO module); null otherwise."`
	HostCalls  json.RawMessage `json:"host_calls" doc:"The secret reads and HTTP requests the run made through host functions, in order: [{kind, at, name, secret, via, method, host, final_host, redirects, status, bytes_out, bytes_in, duration_ms, error}] (never values, headers or bodies); [] when none."`
}

func newExecutionResponse(ex *store.Execution, runs []*store.NodeRun) executionResponse {
	r := executionResponse{
		ID: ex.ID, WorkflowID: ex.WorkflowID, WorkflowVersion: ex.WorkflowVersion, Status: ex.Status,
		Trigger: ex.Trigger, Error: nullJSON(ex.Error), CreatedAt: ex.CreatedAt,
		StartedAt: ex.StartedAt, FinishedAt: ex.FinishedAt, DeadlineAt: ex.DeadlineAt, AdmittedAt: ex.AdmittedAt,
	}
	if runs != nil {
		r.Nodes = make([]nodeRunBody, 0, len(runs))
		for _, n := range runs {
			r.Nodes = append(r.Nodes, nodeRunBody{
				ID: n.ID, Name: n.Node, Status: n.Status, Attempt: n.Attempt,
				StartedAt: n.StartedAt, FinishedAt: n.FinishedAt, InputSize: n.InputSize,
				Output: nullJSON(n.Output), Logs: nullJSON(n.Logs), Error: nullJSON(n.Error),
				HostCalls: emptyListJSON(n.HostCalls),
			})
		}
	}
	return r
}

func emptyListJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("[]")
	}
	return raw
}

func nullJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func (s *Server) registerExecutions() {
	tags := []string{"executions"}
	register(s, huma.Operation{
		OperationID:   "startExecution",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/workflows/{id}/executions",
		Summary:       "Run a workflow",
		Description:   "Starts an execution of the workflow's current version; its trigger.manual node outputs the input items (one empty item when none are given). Answers 202 with the execution at once, or with ?wait= (at most 5m) 200 with the finished execution, or 202 if it has not finished by then. When the tenant's executions use every slot (serve --tenant-max-concurrent-executions), it waits, status queued and admitted_at null, until an older one finishes; 429 quota_exceeded with Retry-After when too many wait already.",
		Tags:          tags,
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests},
		// huma documents only DefaultStatus; a start that waits answers 200.
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The execution finished within ?wait=.",
				Headers: map[string]*huma.Param{"Location": {
					Description: "The execution's URL.",
					Schema:      &huma.Schema{Type: huma.TypeString, Description: "The execution's URL."},
				}},
				Content: map[string]*huma.MediaType{"application/json": {
					Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[executionResponse](), true, ""),
				}},
			},
		},
	}, auth.RoleRunner, s.startExecution)
	register(s, huma.Operation{
		OperationID: "listExecutions",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/executions",
		Summary:     "List executions",
		Description: "Newest first, one page at a time, optionally one workflow's or those in one status.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleViewer, s.listExecutions)
	register(s, huma.Operation{
		OperationID: "getExecution",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/executions/{id}",
		Summary:     "Get an execution with its node runs",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, auth.RoleViewer, s.getExecution)
	register(s, huma.Operation{
		OperationID: "cancelExecution",
		Method:      http.MethodPost,
		Path:        apiPrefix + "/executions/{id}/cancel",
		Summary:     "Cancel an execution",
		Description: "Cancels an execution that has not finished, with every node run not yet finished; a running node is stopped. 409 when it has finished.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, auth.RoleRunner, s.cancelExecution)
	register(s, huma.Operation{
		OperationID:   "retryExecution",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/executions/{id}/retry",
		Summary:       "Retry a failed execution from where it failed",
		Description:   "The nodes that failed, were cancelled or never ran get a new attempt on the same workflow version; nodes that succeeded keep their outputs. 409 unless the execution failed or was cancelled.",
		Tags:          tags,
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusNotFound, http.StatusConflict},
	}, auth.RoleRunner, s.retryExecution)
}

type startExecutionInput struct {
	ID   string `path:"id" maxLength:"64" example:"wf_01jd8x4q0c6f5e3mz2k7r9t1vb" doc:"Workflow id."`
	Wait string `query:"wait" maxLength:"16" example:"30s" doc:"Wait up to this long (Go duration, at most 5m) for the execution to finish."`
	Body struct {
		Input []jsonObject `json:"input,omitempty" maxItems:"10000" doc:"The items the trigger outputs."`
	}
}

type executionOutput struct {
	Status   int
	Location string `header:"Location" doc:"The execution's URL."`
	Body     executionResponse
}

func (s *Server) startExecution(ctx context.Context, in *startExecutionInput) (*executionOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var wait time.Duration
	if in.Wait != "" {
		wait, err = time.ParseDuration(in.Wait)
		if err != nil || wait < 0 || wait > maxWait {
			return nil, newProblem(CodeInvalidRequest, "wait is a duration such as 30s, at most 5m",
				FieldProblem{Location: "query.wait", Message: "not a duration between 0 and 5m"})
		}
	}
	items := make([]workflow.Item, 0, len(in.Body.Input))
	for i := range in.Body.Input {
		item, err := in.Body.Input[i].decode()
		if err != nil || item == nil {
			return nil, newProblem(CodeInvalidRequest, "an input item is not a JSON object",
				FieldProblem{Location: fmt.Sprintf("body.input[%d]", i), Message: "not a JSON object"})
		}
		items = append(items, item)
	}
	ex, err := s.engine.Start(ctx, p.TenantID, in.ID, engine.StartParams{Trigger: engine.TriggerManual, Input: items})
	if err != nil {
		return nil, engineProblem(err)
	}
	s.audit(ctx, p, "execution.start", ex.ID, map[string]any{"workflow_id": ex.WorkflowID, "workflow_version": ex.WorkflowVersion})
	status := http.StatusAccepted
	if wait > 0 {
		waitCtx, cancel := context.WithTimeout(ctx, wait)
		ex, err = s.engine.Wait(waitCtx, p.TenantID, ex.ID)
		cancel()
		if err != nil {
			return nil, err
		}
		if engine.Finished(ex.Status) {
			status = http.StatusOK
		}
	}
	return s.executionOutput(ctx, p.TenantID, ex, status)
}

// executionOutput reads the execution's runs and builds the response.
func (s *Server) executionOutput(ctx context.Context, tenantID string, ex *store.Execution, status int) (*executionOutput, error) {
	runs, err := s.store.NodeRunList(ctx, tenantID, ex.ID)
	if err != nil {
		return nil, err
	}
	return &executionOutput{Status: status, Location: apiPrefix + "/executions/" + ex.ID, Body: newExecutionResponse(ex, runs)}, nil
}

type listExecutionsInput struct {
	PageParams
	WorkflowID string `query:"workflow_id" maxLength:"64" doc:"Only this workflow's executions."`
	Status     string `query:"status" enum:"queued,running,succeeded,failed,cancelled" doc:"Only executions in this status."`
}

func (s *Server) listExecutions(ctx context.Context, in *listExecutionsInput) (*listOutput[executionResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.ExecutionList(ctx, p.TenantID, store.ExecutionFilter{WorkflowID: in.WorkflowID, Status: in.Status}, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, func(ex *store.Execution) executionResponse { return newExecutionResponse(ex, nil) }), nil
}

type executionIDInput struct {
	ID string `path:"id" maxLength:"64" example:"ex_01jd8x4q0c6f5e3mz2k7r9t1vb" doc:"Execution id."`
}

type executionBodyOutput struct {
	Body executionResponse
}

func (s *Server) getExecution(ctx context.Context, in *executionIDInput) (*executionBodyOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	ex, runs, err := s.engine.Get(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, err
	}
	return &executionBodyOutput{Body: newExecutionResponse(ex, runs)}, nil
}

func (s *Server) cancelExecution(ctx context.Context, in *executionIDInput) (*executionBodyOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	ex, err := s.engine.Cancel(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, engineProblem(err)
	}
	s.audit(ctx, p, "execution.cancel", ex.ID, nil)
	runs, err := s.store.NodeRunList(ctx, p.TenantID, ex.ID)
	if err != nil {
		return nil, err
	}
	return &executionBodyOutput{Body: newExecutionResponse(ex, runs)}, nil
}

func (s *Server) retryExecution(ctx context.Context, in *executionIDInput) (*executionOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	ex, err := s.engine.Retry(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, engineProblem(err)
	}
	s.audit(ctx, p, "execution.retry", ex.ID, nil)
	return s.executionOutput(ctx, p.TenantID, ex, http.StatusAccepted)
}

// engineProblem maps the engine's refusals to problems; anything else
// passes through to the one error mapping.
func engineProblem(err error) error {
	ee, ok := errors.AsType[*engine.Error](err)
	if !ok {
		return err
	}
	switch ee.Code {
	case engine.CodeNoTrigger:
		return newProblem(CodeNoTrigger, ee.Message)
	case engine.CodeFinished, engine.CodeNotRetryable:
		return newProblem(CodeExecutionState, ee.Message)
	case engine.CodeInvalidInput:
		return newProblem(CodeInvalidRequest, ee.Message, FieldProblem{Location: "body.input", Message: ee.Message})
	case engine.CodeTooManyWaiting:
		return newProblem(CodeQuotaExceeded, ee.Message+": retry once some have run").
			withHeader("Retry-After", strconv.Itoa(waitingRetryAfter))
	}
	return err
}
