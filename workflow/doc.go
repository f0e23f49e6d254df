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
// Validation also compiles every {{ expression }} in the nodes' params.
//
// # Expressions
//
// A string param may hold {{ expressions }} (expr-lang, on the host, with no
// I/O and no access to the environment). [CompileParams] compiles a node's
// params once per workflow version; [CompiledParams.Eval] evaluates them for
// each run against an [Env] ($json, $items, $node, $execution, $now), within
// fixed bounds on size, steps, memory and time:
//
//	c, err := workflow.CompileParams(node.Params)
//	params, err := c.Eval(&workflow.Env{JSON: item, Items: items})
package workflow
