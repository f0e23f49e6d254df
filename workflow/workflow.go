package workflow

import (
	"encoding/json"
	"strings"
)

// Core node types built into the engine. Every other node is a Wasm module.
const (
	TypeManualTrigger   = "trigger.manual"
	TypeWebhookTrigger  = "trigger.webhook"
	TypeScheduleTrigger = "trigger.schedule"
	TypeErrorTrigger    = "trigger.error"
	TypeIf              = "core.if"
	TypeSwitch          = "core.switch"
	TypeMerge           = "core.merge"
	TypeNoop            = "core.noop"
)

// PortMain is the default input and output port of every node.
const PortMain = "main"

// What a node does when its run fails for good (after its retries).
const (
	OnErrorStop     = "stop"     // the execution fails and its remaining runs are cancelled
	OnErrorContinue = "continue" // the error becomes the node's output item
)

// Workflow is a DAG of nodes joined by connections, as stored and as sent over the API.
type Workflow struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Nodes       []Node       `json:"nodes"`
	Connections []Connection `json:"connections"`
	Settings    *Settings    `json:"settings,omitempty"`
}

// Node is one step of a workflow: either a core Type or a Wasm Module reference.
type Node struct {
	// Name is unique within the workflow; connections and expressions refer to it.
	Name string `json:"name"`
	// Type is a core type such as "core.if"; empty for module nodes.
	Type string `json:"type,omitempty"`
	// Module is "owner/name@range", where range is an exact version or a semver
	// constraint ("@^1", "@1.2.0"); without "@range" the newest version is used.
	Module string `json:"module,omitempty"`
	// Params are the node's parameters; string values may hold {{ expressions }}.
	Params map[string]any `json:"params,omitempty"`
	// Secrets binds a secret name the module declares to a secret of the tenant.
	Secrets map[string]string `json:"secrets,omitempty"`
	Retry   *Retry            `json:"retry,omitempty"`
	// TimeoutMS tightens the module's own wall-time limit; 0 keeps it.
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// OnError is OnErrorStop (the default when empty) or OnErrorContinue.
	OnError string `json:"on_error,omitempty"`
	// Lock is the exact version and digest the module reference resolved to when
	// the workflow version was saved. Set by the server, ignored on input.
	Lock *Lock `json:"lock,omitempty"`
}

// Retry is a node's retry policy: each attempt is a node run of its own.
type Retry struct {
	// MaxAttempts counts the first attempt too: 1 means no retry.
	MaxAttempts int `json:"max_attempts"`
	// BackoffMS is the wait before the second attempt; it doubles for each later one.
	BackoffMS int `json:"backoff_ms"`
}

// Lock pins a module node to the exact version and digest it resolved to.
type Lock struct {
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Problem, when set, is why a run of the locked version would be
	// refused now (a revoked key, a yanked version, a grant it outgrew).
	// The server sets it when it shows a workflow; it is never stored.
	Problem *LockProblem `json:"problem,omitempty"`
}

// LockProblem is why a locked module version may not run.
type LockProblem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Connection sends the items of one node's output port to another node's input port.
type Connection struct {
	From     string `json:"from"`
	FromPort string `json:"from_port,omitempty"`
	To       string `json:"to"`
	ToPort   string `json:"to_port,omitempty"`
}

// Settings holds workflow-wide options.
type Settings struct {
	// ErrorWorkflow is the id of a workflow started when an execution of this one fails.
	ErrorWorkflow string `json:"error_workflow,omitempty"`
	// TimeoutMS bounds a whole execution; 0 means the operator's default.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// Item is one data record flowing between nodes.
type Item = map[string]any

// IsTrigger reports whether the node starts executions (it has no inputs).
func (n *Node) IsTrigger() bool { return strings.HasPrefix(n.Type, "trigger.") }

// IsModule reports whether the node runs a Wasm module.
func (n *Node) IsModule() bool { return n.Module != "" }

// ModuleRef splits Module into its name and version range ("" when none is given).
func (n *Node) ModuleRef() (name, versionRange string) {
	name, versionRange, _ = strings.Cut(n.Module, "@")
	return name, versionRange
}

// SourcePort is the connection's output port, PortMain when empty.
func (c Connection) SourcePort() string {
	if c.FromPort == "" {
		return PortMain
	}
	return c.FromPort
}

// TargetPort is the connection's input port, PortMain when empty.
func (c Connection) TargetPort() string {
	if c.ToPort == "" {
		return PortMain
	}
	return c.ToPort
}

// Node returns the node with the given name, or nil.
func (w *Workflow) Node(name string) *Node {
	for i := range w.Nodes {
		if w.Nodes[i].Name == name {
			return &w.Nodes[i]
		}
	}
	return nil
}

// Encode returns the workflow as JSON. It fails only on params built in Go
// that JSON cannot hold (NaN, channels); params parsed from JSON always encode.
func (w *Workflow) Encode() ([]byte, error) {
	return json.Marshal(w)
}
