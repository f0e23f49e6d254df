package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestToProblem(t *testing.T) {
	t.Parallel()
	own := newProblem(CodeForbidden, "mine")
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"problem", own, 403, CodeForbidden},
		{"wrapped problem", fmt.Errorf("x: %w", own), 403, CodeForbidden},
		{"validation", &workflow.ValidationError{Problems: []workflow.Problem{{Path: "nodes[1].name", Message: "dup"}, {Path: "", Message: "bad"}}}, 422, CodeWorkflowInvalid},
		{"not found", fmt.Errorf("get: %w", store.ErrNotFound), 404, CodeNotFound},
		{"conflict", store.ErrConflict, 409, CodeConflict},
		{"cursor", fmt.Errorf("%w: junk", store.ErrInvalidCursor), 400, CodeInvalidCursor},
		{"unauthenticated", auth.ErrUnauthenticated, 401, CodeUnauthenticated},
		{"fiber 413", fiber.ErrRequestEntityTooLarge, 413, CodeBodyTooLarge},
		{"fiber 431", fiber.ErrRequestHeaderFieldsTooLarge, 431, CodeHeadersTooLarge},
		{"fiber 408", fiber.ErrRequestTimeout, 408, CodeRequestTimeout},
		{"fiber 418", fiber.ErrTeapot, 418, CodeInvalidRequest},
		{"fiber 502", fiber.ErrBadGateway, 502, CodeInternal},
		{"huma 406", huma.Error406NotAcceptable("no"), 406, CodeNotAcceptable},
		{"other", errors.New("boom"), 500, CodeInternal},
		{"nil-free join", errors.Join(errors.New("a"), errors.New("b")), 500, CodeInternal},
	}
	for _, tc := range cases {
		p := toProblem(tc.err)
		require.Equal(t, tc.status, p.Status, tc.name)
		require.Equal(t, tc.code, p.Code, tc.name)
		require.Equal(t, problemTypeBase+p.Code, p.Type, tc.name)
		require.NotEmpty(t, p.Title, tc.name)
		if tc.status >= 500 {
			require.Empty(t, p.Detail, tc.name)
		}
	}
	v := toProblem(cases[2].err)
	require.Equal(t, []FieldProblem{{Location: "body.nodes[1].name", Message: "dup"}, {Location: "body", Message: "bad"}}, v.Errors)
}

func TestHumaErrorBridge(t *testing.T) {
	t.Parallel()
	useProblems()
	// huma's constructors now build Problems.
	err := huma.Error422UnprocessableEntity("validation failed",
		&huma.ErrorDetail{Location: "body.name", Message: "expected string", Value: "secret input"},
		errors.New("plain"), nil)
	p, ok := err.(*Problem)
	require.True(t, ok)
	require.Equal(t, CodeInvalidRequest, p.Code)
	require.Equal(t, "2 problem(s) in the request", p.Detail)
	require.Equal(t, []FieldProblem{{Location: "body.name", Message: "expected string"}, {Message: "plain"}}, p.Errors)
	require.Equal(t, problemContentType, p.ContentType("application/json"))
	require.Equal(t, "application/cbor", p.ContentType("application/cbor"))
	require.Equal(t, "invalid_request: 2 problem(s) in the request", p.Error())
	require.Equal(t, "not_found: resource not found", newProblem(CodeNotFound, "").Error())

	p = huma.Error400BadRequest("bad", &huma.ErrorDetail{Location: "body", Message: "invalid character"}).(*Problem)
	require.Equal(t, CodeInvalidJSON, p.Code)
	require.Equal(t, 400, p.Status)

	p = huma.Error500InternalServerError("db says "+"hunter2", errors.New("hunter2")).(*Problem)
	require.Equal(t, CodeInternal, p.Code)
	require.Empty(t, p.Detail)
	require.Empty(t, p.Errors)

	p = huma.NewError(http.StatusInternalServerError, "unexpected error occurred", store.ErrNotFound).(*Problem)
	require.Equal(t, CodeNotFound, p.Code)

	require.Equal(t, CodeInternal, newProblem("no_such_code", "").Code)
}
