package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// auditEntryResponse is one audit log entry as the API shows it.
type auditEntryResponse struct {
	ID        string          `json:"id" example:"au_01jd8x4q0c6f5e3mz2k7r9t1vb"`
	Actor     string          `json:"actor" example:"api_key:ak_01jd8x4q0c6f5e3mz2k7r9t1vb" doc:"Who acted: api_key:<id>, user:<id>, node_run:<id> or system."`
	Action    string          `json:"action" example:"secret.update" doc:"What was done, a dotted verb: workflow.create, secret.read, execution.cancel, …"`
	Resource  string          `json:"resource" example:"slack-prod" doc:"The id or name acted on."`
	Detail    json.RawMessage `json:"detail" doc:"What else the action recorded (a JSON object), or null."`
	CreatedAt time.Time       `json:"created_at"`
}

func newAuditEntryResponse(e *store.AuditEntry) auditEntryResponse {
	return auditEntryResponse{
		ID: e.ID, Actor: e.Actor, Action: e.Action, Resource: e.Resource,
		Detail: nullJSON(e.Detail), CreatedAt: e.CreatedAt,
	}
}

// listAuditInput filters the audit log; every filter given must match.
type listAuditInput struct {
	PageParams
	Actor    string `query:"actor" maxLength:"128" example:"system" doc:"Only this actor's entries."`
	Action   string `query:"action" maxLength:"128" pattern:"^[a-z0-9_]+(\\.[a-z0-9_]+)*\\.?$" patternDescription:"a dotted action such as secret.read, or a prefix ending in a dot such as secret." example:"secret." doc:"Only this action; a value ending in a dot (secret.) is a prefix: every secret action."`
	Resource string `query:"resource" maxLength:"256" doc:"Only entries about this id or name."`
	Since    string `query:"since" maxLength:"64" example:"2026-01-01T00:00:00Z" doc:"Only entries created at or after this time (RFC 3339)."`
	Until    string `query:"until" maxLength:"64" example:"2026-02-01T00:00:00Z" doc:"Only entries created before this time (RFC 3339)."`
}

// filter checks the query and turns it into the store's filter; a bad
// value is a 422 naming its parameter.
func (in *listAuditInput) filter() (store.AuditFilter, error) {
	f := store.AuditFilter{Actor: in.Actor, Resource: in.Resource}
	if strings.HasSuffix(in.Action, ".") {
		f.ActionPrefix = in.Action
	} else {
		f.Action = in.Action
	}
	var errs []FieldProblem
	parse := func(name, v string) *time.Time {
		if v == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, FieldProblem{Location: "query." + name, Message: "not an RFC 3339 time such as 2026-01-02T15:04:05Z"})
			return nil
		}
		return &t
	}
	f.Since, f.Until = parse("since", in.Since), parse("until", in.Until)
	if f.Since != nil && f.Until != nil && !f.Since.Before(*f.Until) {
		errs = append(errs, FieldProblem{Location: "query.until", Message: "must be later than since"})
	}
	if len(errs) > 0 {
		return f, newProblem(CodeInvalidRequest, "bad audit filter", errs...).withStatus(http.StatusUnprocessableEntity)
	}
	return f, nil
}

func (s *Server) registerAudit() {
	register(s, huma.Operation{
		OperationID: "listAudit",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/audit",
		Summary:     "List the audit log",
		Description: "Who did what and when in the tenant, newest first, one page at a time: workflow, node, secret and execution changes, and the secret reads of node runs. Filters combine.",
		Tags:        []string{"audit"},
		Errors:      []int{http.StatusBadRequest, http.StatusUnprocessableEntity},
	}, auth.RoleAdmin, s.listAudit)
}

func (s *Server) listAudit(ctx context.Context, in *listAuditInput) (*listOutput[auditEntryResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	f, err := in.filter()
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.AuditList(ctx, p.TenantID, f, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, newAuditEntryResponse), nil
}
