package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// checkTimeout bounds one readiness check.
const checkTimeout = 2 * time.Second

// ReadinessCheck is one dependency /readyz checks (the store is always one).
type ReadinessCheck struct {
	// Name is how /readyz reports the check: "store", "queue", …
	Name string
	// CheckFunc returns nil when the dependency answers; it gets 2s.
	CheckFunc func(ctx context.Context) error
}

type healthOutput struct {
	Body health
}

type health struct {
	Status  string `json:"status" example:"ok" doc:"Always ok: the process is alive."`
	Version string `json:"version" example:"1.0.0" doc:"Server version."`
}

type readyOutput struct {
	Body readiness
}

type readiness struct {
	Status string        `json:"status" example:"ready" doc:"Always ready: otherwise the answer is a 503 problem."`
	Checks []checkResult `json:"checks" doc:"Each dependency checked."`
}

type checkResult struct {
	Name   string `json:"name" example:"store"`
	Status string `json:"status" example:"ok"`
}

func (s *Server) registerHealth() {
	registerPublic(s, huma.Operation{
		OperationID: "healthz",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness",
		Description: "Answers 200 while the process serves requests; checks nothing else.",
		Tags:        []string{"health"},
	}, s.healthz)
	registerPublic(s, huma.Operation{
		OperationID: "readyz",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness",
		Description: "Answers 200 when every dependency (store, queue) answers, 503 otherwise.",
		Tags:        []string{"health"},
		Errors:      []int{http.StatusServiceUnavailable},
	}, s.readyz)
}

func (s *Server) healthz(context.Context, *struct{}) (*healthOutput, error) {
	out := &healthOutput{}
	out.Body.Status, out.Body.Version = "ok", s.version
	return out, nil
}

func (s *Server) readyz(ctx context.Context, _ *struct{}) (*readyOutput, error) {
	out := &readyOutput{}
	out.Body.Status = "ready"
	var failed []FieldProblem
	var causes []error
	for _, c := range s.readiness {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c.CheckFunc(cctx)
		cancel()
		if err != nil {
			failed = append(failed, FieldProblem{Location: "checks." + c.Name, Message: "not reachable"})
			causes = append(causes, fmt.Errorf("%s: %w", c.Name, err))
			continue
		}
		out.Body.Checks = append(out.Body.Checks, checkResult{Name: c.Name, Status: "ok"})
	}
	if len(failed) > 0 {
		p := newProblem(CodeNotReady, "a dependency is not reachable", failed...)
		p.cause = errors.Join(causes...)
		return nil, p
	}
	return out, nil
}
