package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/wasmflow/wasmflow/auth"
)

// securityScheme names the bearer scheme in the OpenAPI document.
const securityScheme = "bearer"

// Operation metadata keys the authorize middleware reads.
const (
	metaRole   = "wasmflow.role"   // string: the least role the operation needs
	metaPublic = "wasmflow.public" // bool: the operation needs no credentials
)

// register adds an operation that needs an authenticated caller holding at
// least role. It documents the role, the bearer scheme and the 401/403
// answers, and caps the body at the server's limit. It panics on an unknown
// role: that is a programming error found at start-up, like huma's own checks.
func register[I, O any](s *Server, op huma.Operation, role string, h func(context.Context, *I) (*O, error)) {
	if !auth.ValidRole(role) {
		panic(fmt.Sprintf("api: operation %s declares unknown role %q", op.OperationID, role))
	}
	op.Metadata = map[string]any{metaRole: role}
	op.Security = []map[string][]string{{securityScheme: {}}}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions["x-required-role"] = role
	op.Description = strings.TrimSpace(op.Description + "\n\nRequires the `" + role + "` role or higher.")
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	s.finish(&op)
	huma.Register(s.api, op, h)
}

// registerPublic adds an operation anyone may call (health checks).
func registerPublic[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.Metadata = map[string]any{metaPublic: true}
	op.Security = []map[string][]string{} // explicitly none
	s.finish(&op)
	huma.Register(s.api, op, h)
}

// finish applies what every operation shares.
func (s *Server) finish(op *huma.Operation) {
	// One past the limit: huma refuses a body that fills its cap exactly.
	// An operation that sets its own cap (uploads) keeps it.
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = int64(s.bodyLimit) + 1
	}
	// fasthttp has read the whole body before the handler runs and sets the
	// connection's deadlines itself; huma's would only cost a syscall.
	op.BodyReadTimeout = -1
}

// route is one registered method and path, split into segments.
type route struct {
	method   string
	segments []string // ":name" matches any one segment, "*" the rest
}

// routeTable answers which methods a path has, for 405 and Allow.
type routeTable []route

func newRouteTable(routes []fiber.Route) routeTable {
	t := make(routeTable, 0, len(routes))
	for _, r := range routes {
		t = append(t, route{method: r.Method, segments: splitPath(r.Path)})
	}
	return t
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// methods lists, sorted, the methods some route serves at path.
func (t routeTable) methods(path string) []string {
	segs := splitPath(path)
	var out []string
	for _, r := range t {
		if r.matches(segs) && !slices.Contains(out, r.method) {
			out = append(out, r.method)
		}
	}
	slices.Sort(out)
	return out
}

func (r route) matches(segs []string) bool {
	for i, want := range r.segments {
		switch {
		case want == "*" || strings.HasPrefix(want, "*"):
			return true
		case i >= len(segs):
			return false
		case strings.HasPrefix(want, ":"):
			if segs[i] == "" {
				return false
			}
		case !strings.EqualFold(want, segs[i]): // Fiber routes ignore case by default
			return false
		}
	}
	return len(segs) == len(r.segments)
}
