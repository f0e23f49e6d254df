// Package hostfuncs holds the host functions a node module may import from
// extism:host/user, one file per capability.
//
// A host function exists for a guest only when its manifest declares the
// capability and the tenant granted it: the runtime registers exactly the
// [Func] values it is handed for a run, and a module importing any other
// fails to load with an error naming the import.
//
// # ABI
//
// Every function takes one Extism memory handle (i64 offset) holding UTF-8
// JSON or text and returns one handle with the reply. The ABI only grows:
// breaking it needs a new function name.
package hostfuncs

import "context"

// Func is one host function: it takes the bytes the guest handed over and
// returns the bytes to hand back. An error fails the node run; it should be a
// *workflow-level* reason the guest cannot recover from (a refused secret),
// while recoverable failures (an HTTP error) belong in the reply.
type Func struct {
	// Name is the import name in module extism:host/user, e.g. "wasmflow_http_fetch".
	Name string
	// Call runs the function. It must honour ctx and never panic on guest input.
	Call func(ctx context.Context, in []byte) ([]byte, error)
}
