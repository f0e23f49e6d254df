package workflow

import "encoding/json"

// ABIs a node module may speak.
const (
	// ABIExtism is an Extism plugin: it works with every Extism PDK.
	ABIExtism = "extism-v1"
	// ABIWASICommand is a plain WASI program: input JSON on stdin, output JSON on
	// stdout, logs on stderr; nothing beyond WASI.
	ABIWASICommand = "wasi-command-v1"
)

// Manifest IO modes.
const (
	// IODocument (the default) sends the whole input document once per node run.
	IODocument = "document"
	// IORaw calls an unmodified Extism plugin once per item.
	IORaw = "raw"
)

// Manifest instance modes: how many instances a raw-IO node run uses.
const (
	// InstancePerRun (the default) calls the entrypoint for every item of a
	// node run on one instance, so a plugin may keep state between items.
	InstancePerRun = "per_run"
	// InstancePerItem gives each item a fresh instance: nothing is shared
	// between items. WASI commands always run this way.
	InstancePerItem = "per_item"
)

// Manifest describes a node module (wasmflow.json beside the .wasm).
type Manifest struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	ABI          string          `json:"abi"`
	Entrypoint   string          `json:"entrypoint,omitempty"`
	Description  string          `json:"description,omitempty"`
	IO           string          `json:"io,omitempty"`
	Instance     string          `json:"instance,omitempty"`
	Inputs       []string        `json:"inputs,omitempty"`
	Outputs      []string        `json:"outputs,omitempty"`
	ParamsSchema json.RawMessage `json:"params_schema,omitempty"`
	Capabilities Capabilities    `json:"capabilities,omitzero"`
	Limits       Limits          `json:"limits,omitzero"`
}

// Capabilities are what a module asks the host for; a tenant grants them at install.
type Capabilities struct {
	HTTP    *HTTPCapability `json:"http,omitempty"`
	Secrets []string        `json:"secrets,omitempty"`
}

// HTTPCapability allows outbound requests to Hosts (exact names or "*.domain")
// with Methods (all methods when empty).
type HTTPCapability struct {
	Hosts   []string `json:"hosts"`
	Methods []string `json:"methods,omitempty"`
}

// Limits bound one run of a module. Zero fields take the operator's defaults,
// and the operator's maxima cap every field.
type Limits struct {
	MemoryMB       int `json:"memory_mb,omitempty"`
	TimeoutMS      int `json:"timeout_ms,omitempty"`
	MaxOutputBytes int `json:"max_output_bytes,omitempty"`
	MaxLogBytes    int `json:"max_log_bytes,omitempty"`
}

// InputPorts returns the module's input ports, [PortMain] when none are declared.
func (m *Manifest) InputPorts() []string {
	if len(m.Inputs) == 0 {
		return []string{PortMain}
	}
	return m.Inputs
}

// OutputPorts returns the module's output ports, [PortMain] when none are declared.
func (m *Manifest) OutputPorts() []string {
	if len(m.Outputs) == 0 {
		return []string{PortMain}
	}
	return m.Outputs
}

// EntrypointOrDefault is the export to call: Entrypoint, or "run" for Extism
// modules and "_start" for WASI commands.
func (m *Manifest) EntrypointOrDefault() string {
	switch {
	case m.Entrypoint != "":
		return m.Entrypoint
	case m.ABI == ABIWASICommand:
		return "_start"
	}
	return "run"
}

// InputDocument is what a document-IO node receives (DESIGN §4).
type InputDocument struct {
	Items     []Item            `json:"items"`
	Inputs    map[string][]Item `json:"inputs"`
	Params    map[string]any    `json:"params"`
	Node      NodeInfo          `json:"node"`
	Execution ExecutionInfo     `json:"execution"`
}

// NodeInfo names the node being run.
type NodeInfo struct {
	Name    string `json:"name"`
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
}

// ExecutionInfo identifies the run a node belongs to.
type ExecutionInfo struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
	Attempt    int    `json:"attempt"`
}

// OutputDocument is what a document-IO node returns: Items for the main output,
// or Outputs for several ports.
type OutputDocument struct {
	Items   []Item            `json:"items,omitempty"`
	Outputs map[string][]Item `json:"outputs,omitempty"`
}
