// Package workflow is wasmflow's vocabulary: workflows (nodes and the
// connections between them), node module manifests, and the documents a node
// receives and returns. It parses and validates them and does no I/O, so
// every other package can depend on it.
//
// # Validation
//
// [Parse] and [Workflow.Validate] report every problem at once, each with
// the JSON path it concerns, in a [*ValidationError]:
//
//	connections[0].to: unknown node "stpe"
//	nodes[2].retry.max_attempts: must be between 1 and 10
//
// A module node's ports are checked only when [ValidateOptions.ModulePorts]
// can tell them (the registry knows a module's manifest; this package does not).
package workflow
