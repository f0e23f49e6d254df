// Package api is wasmflow's HTTP API: Fiber v2 routes described with huma v2,
// so the OpenAPI 3.1 document (served at /api/v1/openapi.json) is generated
// from the Go types the handlers use.
//
// # Layout
//
// One file per resource (workflows.go, health.go, …) registers its operations
// with [register], which attaches the least role an operation needs; auth.go
// holds the one middleware that authenticates the bearer key and enforces that
// role; errors.go holds the one mapping from Go errors to RFC 9457
// application/problem+json bodies ([Problem]). Handlers return plain errors
// (store.ErrNotFound, *workflow.ValidationError, …) and never write error
// bodies themselves.
//
// A new resource adds a file with a registerX(s *Server) method and one line
// in [Server.routes].
package api
