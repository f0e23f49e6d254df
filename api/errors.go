package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// problemTypeBase prefixes a Problem's Code to make its Type URI.
const problemTypeBase = "https://wasmflow.dev/problems/"

// problemContentType is the media type of every error body (RFC 9457).
const problemContentType = "application/problem+json"

// Problem codes: stable, snake_case; clients switch on them.
const (
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidCursor        = "invalid_cursor"
	CodeWorkflowInvalid      = "workflow_invalid"
	CodeUnauthenticated      = "unauthenticated"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeNotAcceptable        = "not_acceptable"
	CodeRequestTimeout       = "request_timeout"
	CodeConflict             = "conflict"
	CodeBodyTooLarge         = "body_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeHeadersTooLarge      = "headers_too_large"
	CodeNotReady             = "not_ready"
	CodeInternal             = "internal"
	// CodeRateLimited: the tenant's API requests a minute are used up; Retry-After says when to retry.
	CodeRateLimited = "rate_limited"
	// CodeQuotaExceeded: the tenant has as many of a resource as its limit allows.
	CodeQuotaExceeded = "quota_exceeded"

	// Node module uploads: the registry's codes (registry.Code…).
	CodeModuleTooLarge    = registry.CodeModuleTooLarge
	CodeManifestTooLarge  = registry.CodeManifestTooLarge
	CodeSignatureTooLarge = registry.CodeSignatureTooLarge
	CodeManifestInvalid   = registry.CodeManifestInvalid
	CodeSignatureInvalid  = registry.CodeSignatureInvalid
	CodeModuleInvalid     = registry.CodeModuleInvalid
	CodeImportNotAllowed  = registry.CodeImportNotAllowed
	CodeMissingEntrypoint = registry.CodeMissingEntrypoint
	CodeVersionImmutable  = registry.CodeVersionImmutable
	CodeRefInvalid        = registry.CodeRefInvalid
	// Signatures, trust and the marketplace: the registry's codes.
	CodeSignatureMismatch   = registry.CodeSignatureMismatch
	CodeSignatureNamespace  = registry.CodeSignatureNamespace
	CodeSignatureKeyUnknown = registry.CodeSignatureKeyUnknown
	CodeSignatureKeyRevoked = registry.CodeSignatureKeyRevoked
	CodeSignatureKeyExpired = registry.CodeSignatureKeyExpired
	CodeSignatureRequired   = registry.CodeSignatureRequired
	CodePublisherUntrusted  = registry.CodePublisherUntrusted
	CodeVersionBelowMinimum = registry.CodeVersionBelowMinimum
	CodeVersionYanked       = registry.CodeVersionYanked
	CodeGrantRequired       = registry.CodeGrantRequired
	CodeGrantExceedsRequest = registry.CodeGrantExceedsRequest
	CodeGrantInsufficient   = registry.CodeGrantInsufficient
	CodePublisherInvalid    = registry.CodePublisherInvalid
	CodePublisherTaken      = registry.CodePublisherTaken
	CodePublisherNotFound   = registry.CodePublisherNotFound
	CodeKeyInvalid          = registry.CodeKeyInvalid
	CodeProofInvalid        = registry.CodeProofInvalid
	CodeKeyExists           = registry.CodeKeyExists
	CodeTrustPolicyInvalid  = registry.CodeTrustPolicyInvalid
	// CodeNodeFailed: a test run of a node module failed; Problem.Kind says why.
	CodeNodeFailed = "node_failed"
	// CodeNoTrigger: the workflow has no trigger node that this start can fire.
	CodeNoTrigger = "no_trigger"
	// CodeExecutionState: the execution is not in a state that allows this
	// (cancelling a finished one, retrying one that did not fail).
	CodeExecutionState = "execution_state"
	// CodeLastOwner: the change would leave the tenant without an owner member.
	CodeLastOwner = "last_owner"
	// CodeActivationRefused: the workflow could not run once active; Errors lists why.
	CodeActivationRefused = "activation_refused"
	// CodeWebhookConflict: another active workflow of the tenant answers a webhook's method and path.
	CodeWebhookConflict = "webhook_conflict"
	// Webhook requests: a wrong token, a wrong or old signature, a signature used before.
	CodeWebhookTokenInvalid     = "webhook_token_invalid"
	CodeWebhookSignatureInvalid = "webhook_signature_invalid"
	CodeWebhookSignatureExpired = "webhook_signature_expired"
	CodeWebhookReplayed         = "webhook_replayed"
	// CodeWebhookTimeout: a last_node webhook's execution did not finish within its wait.
	CodeWebhookTimeout = "webhook_timeout"
	// CodeExecutionFailed: a last_node webhook's execution failed.
	CodeExecutionFailed = "execution_failed"
)

// codeTitles gives each code its fixed title and status.
var codeTitles = map[string]struct {
	status int
	title  string
}{
	CodeInvalidJSON:          {http.StatusBadRequest, "request body is not valid JSON"},
	CodeInvalidRequest:       {http.StatusBadRequest, "request is invalid"},
	CodeInvalidCursor:        {http.StatusBadRequest, "cursor is invalid"},
	CodeWorkflowInvalid:      {http.StatusUnprocessableEntity, "workflow is invalid"},
	CodeUnauthenticated:      {http.StatusUnauthorized, "authentication required"},
	CodeForbidden:            {http.StatusForbidden, "permission denied"},
	CodeNotFound:             {http.StatusNotFound, "resource not found"},
	CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "method not allowed"},
	CodeNotAcceptable:        {http.StatusNotAcceptable, "not acceptable"},
	CodeRequestTimeout:       {http.StatusRequestTimeout, "request timed out"},
	CodeConflict:             {http.StatusConflict, "conflict"},
	CodeBodyTooLarge:         {http.StatusRequestEntityTooLarge, "request body is too large"},
	CodeUnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported media type"},
	CodeHeadersTooLarge:      {http.StatusRequestHeaderFieldsTooLarge, "request headers are too large"},
	CodeNotReady:             {http.StatusServiceUnavailable, "service not ready"},
	CodeInternal:             {http.StatusInternalServerError, "internal error"},
	CodeRateLimited:          {http.StatusTooManyRequests, "too many requests"},
	CodeQuotaExceeded:        {http.StatusTooManyRequests, "tenant limit reached"},

	CodeModuleTooLarge:    {http.StatusRequestEntityTooLarge, "module is too large"},
	CodeManifestTooLarge:  {http.StatusRequestEntityTooLarge, "manifest is too large"},
	CodeSignatureTooLarge: {http.StatusRequestEntityTooLarge, "signature is too large"},
	CodeManifestInvalid:   {http.StatusUnprocessableEntity, "manifest is invalid"},
	CodeSignatureInvalid:  {http.StatusUnprocessableEntity, "signature is invalid"},
	CodeModuleInvalid:     {http.StatusUnprocessableEntity, "module is invalid"},
	CodeImportNotAllowed:  {http.StatusUnprocessableEntity, "module imports what it may not"},
	CodeMissingEntrypoint: {http.StatusUnprocessableEntity, "module does not export its entrypoint"},
	CodeVersionImmutable:  {http.StatusConflict, "version exists: versions are immutable"},
	CodeRefInvalid:        {http.StatusUnprocessableEntity, "module reference is invalid"},
	CodeNodeFailed:        {http.StatusUnprocessableEntity, "node run failed"},
	CodeNoTrigger:         {http.StatusUnprocessableEntity, "workflow has no such trigger"},
	CodeExecutionState:    {http.StatusConflict, "execution is not in a state that allows this"},
	CodeLastOwner:         {http.StatusConflict, "the tenant's last owner must stay"},

	CodeActivationRefused:       {http.StatusUnprocessableEntity, "workflow cannot be activated"},
	CodeWebhookConflict:         {http.StatusConflict, "webhook is another active workflow's"},
	CodeWebhookTokenInvalid:     {http.StatusUnauthorized, "webhook token missing or wrong"},
	CodeWebhookSignatureInvalid: {http.StatusUnauthorized, "webhook signature missing or wrong"},
	CodeWebhookSignatureExpired: {http.StatusUnauthorized, "webhook signature outside its time window"},
	CodeWebhookReplayed:         {http.StatusConflict, "webhook signature used before"},
	CodeWebhookTimeout:          {http.StatusGatewayTimeout, "workflow did not finish in time"},
	CodeExecutionFailed:         {http.StatusBadGateway, "workflow failed"},

	CodeSignatureMismatch:   {http.StatusUnprocessableEntity, "signature is for another module"},
	CodeSignatureNamespace:  {http.StatusUnprocessableEntity, "signer does not own the module's namespace"},
	CodeSignatureKeyUnknown: {http.StatusUnprocessableEntity, "signing key is not registered"},
	CodeSignatureKeyRevoked: {http.StatusUnprocessableEntity, "signing key is revoked"},
	CodeSignatureKeyExpired: {http.StatusUnprocessableEntity, "signature made outside the key's validity"},
	CodeSignatureRequired:   {http.StatusUnprocessableEntity, "signature required"},
	CodePublisherUntrusted:  {http.StatusUnprocessableEntity, "publisher is not trusted"},
	CodeVersionBelowMinimum: {http.StatusUnprocessableEntity, "version is below the tenant's minimum"},
	CodeVersionYanked:       {http.StatusUnprocessableEntity, "version is yanked"},
	CodeGrantRequired:       {http.StatusUnprocessableEntity, "grant required"},
	CodeGrantExceedsRequest: {http.StatusUnprocessableEntity, "grant exceeds what the module asks for"},
	CodeGrantInsufficient:   {http.StatusUnprocessableEntity, "grant does not cover what the module asks for"},
	CodePublisherInvalid:    {http.StatusUnprocessableEntity, "publisher name is invalid"},
	CodePublisherTaken:      {http.StatusConflict, "publisher name is taken"},
	CodePublisherNotFound:   {http.StatusNotFound, "publisher not found"},
	CodeKeyInvalid:          {http.StatusUnprocessableEntity, "key is invalid"},
	CodeProofInvalid:        {http.StatusUnprocessableEntity, "proof of possession is invalid"},
	CodeKeyExists:           {http.StatusConflict, "key is registered already"},
	CodeTrustPolicyInvalid:  {http.StatusUnprocessableEntity, "trust policy is invalid"},
}

// Problem is the body of every error response (RFC 9457) plus a stable
// machine code. It satisfies huma.StatusError, so handlers may return one.
type Problem struct {
	Type   string         `json:"type" format:"uri" example:"https://wasmflow.dev/problems/not_found" doc:"URI of the problem type: https://wasmflow.dev/problems/ followed by code."`
	Title  string         `json:"title" example:"resource not found" doc:"Short summary of the problem type; the same for every occurrence."`
	Status int            `json:"status" example:"404" doc:"HTTP status code."`
	Detail string         `json:"detail,omitempty" doc:"What went wrong this time."`
	Code   string         `json:"code" example:"not_found" doc:"Stable machine-readable code, snake_case."`
	Errors []FieldProblem `json:"errors,omitempty" doc:"Which fields are wrong, and why."`
	Kind   string         `json:"kind,omitempty" example:"timeout" doc:"For node_failed: why the run failed (timeout, trap, guest_error, memory_limit, output_too_large, invalid_output, capability_not_granted, …)."`

	// headers go out with the problem (WWW-Authenticate, Allow).
	headers http.Header `json:"-"`
	// cause is why a 5xx happened: logged with the request, never sent.
	cause error `json:"-"`
}

// FieldProblem is one thing wrong with one part of the request.
type FieldProblem struct {
	Location string `json:"location,omitempty" example:"body.nodes[1].name" doc:"Where: body.<json path>, query.<name>, path.<name> or header.<name>; for a node upload, the part (module, signature) or manifest.<json path>."`
	Message  string `json:"message" example:"duplicate node name" doc:"What is wrong there."`
}

// newProblem builds the problem for code; detail may be empty.
func newProblem(code, detail string, errs ...FieldProblem) *Problem {
	t, ok := codeTitles[code]
	if !ok {
		code, t = CodeInternal, codeTitles[CodeInternal]
	}
	return &Problem{
		Type:   problemTypeBase + code,
		Title:  t.title,
		Status: t.status,
		Detail: detail,
		Code:   code,
		Errors: errs,
	}
}

// withStatus overrides the code's usual status (a huma validation failure is
// invalid_request with 422, a bad query value invalid_request with 400).
func (p *Problem) withStatus(status int) *Problem {
	p.Status = status
	return p
}

// withHeader adds a header the problem response carries.
func (p *Problem) withHeader(name, value string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Add(name, value)
	return p
}

func (p *Problem) Error() string {
	if p.Detail == "" {
		return p.Code + ": " + p.Title
	}
	return p.Code + ": " + p.Detail
}

// GetStatus is the response status (huma.StatusError).
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders are headers huma sends with a returned problem (huma.HeadersError).
func (p *Problem) GetHeaders() http.Header { return p.headers }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return problemContentType
	}
	return ct
}

// statusCodes maps the statuses that reach us without a code (huma's own
// errors, fiber.Error) to one.
var statusCodes = map[int]string{
	http.StatusBadRequest:                  CodeInvalidRequest,
	http.StatusUnauthorized:                CodeUnauthenticated,
	http.StatusForbidden:                   CodeForbidden,
	http.StatusNotFound:                    CodeNotFound,
	http.StatusMethodNotAllowed:            CodeMethodNotAllowed,
	http.StatusNotAcceptable:               CodeNotAcceptable,
	http.StatusRequestTimeout:              CodeRequestTimeout,
	http.StatusConflict:                    CodeConflict,
	http.StatusRequestEntityTooLarge:       CodeBodyTooLarge,
	http.StatusUnsupportedMediaType:        CodeUnsupportedMediaType,
	http.StatusUnprocessableEntity:         CodeInvalidRequest,
	http.StatusRequestHeaderFieldsTooLarge: CodeHeadersTooLarge,
}

// statusProblem is the problem for a bare status. A 5xx keeps no detail: it
// may come from an error's text.
func statusProblem(status int, detail string) *Problem {
	code, ok := statusCodes[status]
	switch {
	case status >= 500:
		return newProblem(CodeInternal, "").withStatus(status)
	case !ok:
		code = CodeInvalidRequest
	}
	return newProblem(code, detail).withStatus(status)
}

// toProblem is the one mapping from an error to the response it becomes.
// Anything it does not know is a 500 whose body says nothing about err.
func toProblem(err error) *Problem {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	if v, ok := errors.AsType[*workflow.ValidationError](err); ok {
		errs := make([]FieldProblem, len(v.Problems))
		for i, p := range v.Problems {
			errs[i] = FieldProblem{Location: bodyLocation(p.Path), Message: p.Message}
		}
		return newProblem(CodeWorkflowInvalid, fmt.Sprintf("%d problem(s) in the workflow", len(errs)), errs...)
	}
	if re, ok := errors.AsType[*registry.Error](err); ok {
		errs := make([]FieldProblem, len(re.Problems))
		for i, p := range re.Problems {
			errs[i] = FieldProblem{Location: p.Field, Message: p.Message}
		}
		detail := fmt.Sprintf("%d problem(s) in the request", len(errs))
		if len(errs) == 1 {
			detail = errs[0].Location + ": " + errs[0].Message
		}
		return newProblem(re.Code, detail, errs...)
	}
	if re, ok := errors.AsType[*registry.RunError](err); ok {
		p := newProblem(CodeNodeFailed, re.Message)
		p.Kind = re.Kind
		return p
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newProblem(CodeNotFound, "")
	case errors.Is(err, store.ErrConflict):
		return newProblem(CodeConflict, "")
	case errors.Is(err, store.ErrInvalidCursor):
		return newProblem(CodeInvalidCursor, "the cursor was not returned by this list",
			FieldProblem{Location: "query.cursor", Message: "not a cursor this list returned"})
	case errors.Is(err, auth.ErrUnauthenticated):
		return unauthenticated("")
	}
	var p *Problem
	if fe, ok := errors.AsType[*fiber.Error](err); ok {
		p = statusProblem(fe.Code, fe.Message)
	} else if se, ok := errors.AsType[huma.StatusError](err); ok {
		p = statusProblem(se.GetStatus(), se.Error())
	} else {
		p = newProblem(CodeInternal, "")
	}
	if p.Status >= 500 {
		p.cause = err
	}
	return p
}

// bodyLocation turns a workflow path ("nodes[2].name") into a location.
func bodyLocation(path string) string {
	if path == "" {
		return "body"
	}
	return "body." + path
}

// unauthenticated is the 401 every refused credential gets, with the
// challenge RFC 6750 asks for.
func unauthenticated(detail string) *Problem {
	return newProblem(CodeUnauthenticated, detail).withHeader("WWW-Authenticate", `Bearer realm="wasmflow"`)
}

// humaError replaces huma.NewError: huma's own failures (request validation,
// unreadable or oversized bodies, unknown content types) and handler errors
// that are not already a *Problem come out as one. It is the bridge between
// huma and toProblem.
func humaError(status int, msg string, errs ...error) huma.StatusError {
	// huma wraps every handler error that is not a StatusError as a 500 with
	// that one error: map it like any other error.
	if status == http.StatusInternalServerError && len(errs) == 1 && errs[0] != nil {
		return toProblem(errs[0])
	}
	p := statusProblem(status, msg)
	if status >= 500 {
		// Never echo error text; keep it for the log.
		p.cause = errors.Join(append([]error{errors.New(msg)}, errs...)...)
		return p
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		fp := FieldProblem{Message: err.Error()}
		var d interface {
			error
			huma.ErrorDetailer
		}
		if errors.As(err, &d) {
			// Location and message only: Value would echo the input back
			// (all of it, for a body that is not JSON).
			detail := d.ErrorDetail()
			fp = FieldProblem{Location: detail.Location, Message: detail.Message}
			if fp.Message == "unexpected property" {
				fp.Message = "unknown field" // as workflow.Parse says it
			}
		}
		p.Errors = append(p.Errors, fp)
	}
	// huma answers 400 with the decoder's error at "body" when the body is
	// not JSON at all.
	if status == http.StatusBadRequest && len(p.Errors) == 1 && p.Errors[0].Location == "body" {
		p.Code, p.Type, p.Title = CodeInvalidJSON, problemTypeBase+CodeInvalidJSON, codeTitles[CodeInvalidJSON].title
	}
	if status == http.StatusRequestEntityTooLarge {
		p.Detail = "" // huma's names its limit plus one
	}
	if p.Detail == "validation failed" {
		p.Detail = fmt.Sprintf("%d problem(s) in the request", len(p.Errors))
	}
	return p
}

// humaErrorWithContext replaces huma.NewErrorWithContext. The request is
// not needed here: finishProblem, run on every problem huma writes, logs and
// numbers the 5xx ones.
func humaErrorWithContext(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
	return humaError(status, msg, errs...)
}

var installHumaErrors sync.Once

// useProblems points huma's error constructors at humaError. huma keeps them
// in package variables, so this happens once per process, before the first
// operation is registered (huma documents error responses with the type
// NewError returns).
func useProblems() {
	installHumaErrors.Do(func() {
		huma.NewError = humaError
		huma.NewErrorWithContext = humaErrorWithContext
	})
}

// finishProblem is the last step of every error response, whoever writes it
// (huma, the auth middleware, Fiber's ErrorHandler): a 5xx's cause goes to
// the request's log line, and an internal error's body names only the
// request id.
func finishProblem(ctx context.Context, p *Problem) *Problem {
	if p.Status < 500 {
		return p
	}
	info := requestInfoFrom(ctx)
	id := ""
	if info != nil {
		id = info.id
		if p.cause != nil && info.err == nil {
			info.err = p.cause
		}
	}
	if p.Code != CodeInternal {
		return p
	}
	return internalProblem(p.Status, id)
}

// problemTransformer runs finishProblem on the problems huma writes.
func problemTransformer(ctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*Problem); ok {
		return finishProblem(ctx.Context(), p), nil
	}
	return v, nil
}

// internalProblem is the body of a 5xx: no cause, only the request id that
// finds the cause in the log.
func internalProblem(status int, requestID string) *Problem {
	return newProblem(CodeInternal, "request id "+requestID).withStatus(status)
}

// fiberError is Fiber's ErrorHandler and the one way errors that come up
// outside huma operations (unknown routes, 405s, oversized or malformed
// requests fasthttp refuses, panics) become problem+json.
func (s *Server) fiberError(c *fiber.Ctx, err error) error {
	if requestInfoFrom(c.UserContext()) == nil {
		// fasthttp refused the request before any handler ran (body or
		// headers too large, unparsable): no request id, no log line yet.
		info := s.beginRequest(c)
		defer s.logRequest(c, info)
	}
	p := finishProblem(c.UserContext(), toProblem(err))
	for name, values := range p.headers {
		for _, v := range values {
			c.Append(name, v)
		}
	}
	return c.Status(p.Status).JSON(p, problemContentType)
}

// notFoundOrMethod answers a request no route took: 405 with Allow when the
// path exists for other methods, 404 otherwise.
func (s *Server) notFoundOrMethod(c *fiber.Ctx) error {
	if allowed := s.known.methods(c.Path()); len(allowed) > 0 {
		return newProblem(CodeMethodNotAllowed, c.Method()+" is not allowed here").
			withHeader("Allow", strings.Join(allowed, ", "))
	}
	return newProblem(CodeNotFound, "no route "+c.Method()+" "+c.Path())
}
