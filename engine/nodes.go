package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// outcome is what running a node produced.
type outcome struct {
	// status is RunSucceeded or RunSkipped; a failure has err set instead.
	status    string
	output    json.RawMessage
	logs      json.RawMessage
	err       *RunError
	inputSize int64
	// hostCalls is the JSON record of the run's host function calls.
	hostCalls json.RawMessage
}

func failed(kind, format string, args ...any) *outcome {
	return &outcome{err: &RunError{Kind: kind, Message: fmt.Sprintf(format, args...)}}
}

func succeeded(doc workflow.OutputDocument) (*outcome, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	return &outcome{status: store.RunSucceeded, output: raw}, nil
}

// runContext is what a node run sees: its node, its inputs and the outputs
// of the nodes its expressions name.
type runContext struct {
	run    *store.NodeRun
	ex     *store.Execution
	plan   *plan
	node   *workflow.Node
	inputs map[string][]workflow.Item // by input port
	nodes  map[string]workflow.NodeData
}

// main returns the items of the main input.
func (rc *runContext) main() []workflow.Item {
	items := rc.inputs[workflow.PortMain]
	if items == nil {
		return []workflow.Item{}
	}
	return items
}

// env is the expression environment for one item.
func (rc *runContext) env(item workflow.Item) *workflow.Env {
	return &workflow.Env{
		JSON:      item,
		Items:     rc.main(),
		Nodes:     rc.nodes,
		Execution: workflow.ExecutionInfo{ID: rc.ex.ID, WorkflowID: rc.ex.WorkflowID, Attempt: rc.run.Attempt},
		Now:       startedAt(rc.run),
	}
}

// startedAt is $now: when the run was claimed, so that every expression of
// the run sees one time.
func startedAt(r *store.NodeRun) time.Time {
	if r.StartedAt != nil {
		return *r.StartedAt
	}
	return time.Time{}
}

// runNode reads what the run needs and runs its node. An error is a store
// failure (the run cannot be judged); the node's own failure is in the outcome.
func (e *Engine) runNode(ctx context.Context, tenantID string, run *store.NodeRun) (*outcome, *workflow.Node, error) {
	ex, err := e.store.ExecutionGet(ctx, tenantID, run.ExecutionID)
	if err != nil {
		return nil, nil, err
	}
	p, err := e.plan(ctx, tenantID, ex.WorkflowID, ex.WorkflowVersion)
	if errors.Is(err, store.ErrNotFound) {
		return failed(KindInternal, "the workflow was deleted"), nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	node := p.def.Node(run.Node)
	if node == nil {
		return failed(KindInternal, "node %q is not in workflow version %d", run.Node, ex.WorkflowVersion), nil, nil
	}
	rc := &runContext{run: run, ex: ex, plan: p, node: node}
	if err := e.gatherInputs(ctx, tenantID, rc); err != nil {
		return nil, node, err
	}
	if node.IsTrigger() {
		return e.runTrigger(rc), node, nil
	}
	if len(p.graph.parents[node.Name]) > 0 && allEmpty(rc.inputs) {
		return &outcome{status: store.RunSkipped}, node, nil
	}
	if perr := p.errs[node.Name]; perr != nil {
		return failed(KindExpression, "%s", perr.Error()), node, nil
	}
	var out *outcome
	switch node.Type {
	case workflow.TypeNoop:
		out, err = succeeded(workflow.OutputDocument{Items: rc.main()})
	case workflow.TypeMerge:
		out, err = succeeded(workflow.OutputDocument{Items: rc.main()})
	case workflow.TypeIf:
		out, err = runIf(rc)
	case workflow.TypeSwitch:
		out, err = runSwitch(rc)
	case "":
		out, err = e.runModule(ctx, tenantID, rc)
	default:
		out = failed(KindInternal, "node type %q is not supported", node.Type)
	}
	return out, node, err
}

// gatherInputs fills rc.inputs from the parents' outputs (connection order,
// so a merge concatenates in the order its connections are listed) and
// rc.nodes with the outputs of the nodes its expressions name.
func (e *Engine) gatherInputs(ctx context.Context, tenantID string, rc *runContext) error {
	incoming := rc.plan.graph.incoming[rc.node.Name]
	refs := map[string]bool{}
	if c := rc.plan.params[rc.node.Name]; c != nil {
		for _, r := range c.NodeRefs() {
			refs[r.Node] = true
		}
	}
	rc.inputs = map[string][]workflow.Item{}
	rc.nodes = map[string]workflow.NodeData{}
	if len(incoming) == 0 && len(refs) == 0 {
		return nil
	}
	runs, err := e.store.NodeRunList(ctx, tenantID, rc.ex.ID)
	if err != nil {
		return err
	}
	latest := latestRuns(runs)
	decoded := map[string]*output{}
	outputOf := func(name string) *output {
		if o, ok := decoded[name]; ok {
			return o
		}
		r := latest[name]
		var o *output
		if r != nil && (r.Status == store.RunSucceeded || r.Status == store.RunFailed) && len(r.Output) > 0 {
			o, _ = decodeOutput(r.Output) // the engine wrote it; a bad one counts as empty
		}
		decoded[name] = o
		return o
	}
	for _, c := range incoming {
		if o := outputOf(c.From); o != nil {
			rc.inputs[c.TargetPort()] = append(rc.inputs[c.TargetPort()], o.port(c.SourcePort())...)
		}
	}
	for name := range refs {
		if o := outputOf(name); o != nil {
			rc.nodes[name] = workflow.NodeData{Items: o.all()}
		}
	}
	return nil
}

func allEmpty(inputs map[string][]workflow.Item) bool {
	for _, items := range inputs {
		if len(items) > 0 {
			return false
		}
	}
	return true
}

// runTrigger outputs the execution's input from the trigger node that
// started it (every node of its kind when the execution names none); any
// other trigger node is skipped.
func (e *Engine) runTrigger(rc *runContext) *outcome {
	if rc.node.Type != "trigger."+rc.ex.Trigger || (rc.ex.TriggerNode != "" && rc.node.Name != rc.ex.TriggerNode) {
		return &outcome{status: store.RunSkipped}
	}
	var items []workflow.Item
	if err := json.Unmarshal(rc.ex.Input, &items); err != nil {
		return failed(KindInternal, "the execution's input is not a list of items: %v", err)
	}
	out, err := succeeded(workflow.OutputDocument{Items: items})
	if err != nil {
		return failed(KindInternal, "%v", err)
	}
	if len(items) == 0 {
		out.output = json.RawMessage(`{"items":[]}`)
	}
	return out
}

// evalFor evaluates the node's params for one item.
func evalFor(rc *runContext, item workflow.Item) (map[string]any, *outcome) {
	c := rc.plan.params[rc.node.Name]
	if c == nil {
		return map[string]any{}, nil
	}
	params, err := c.Eval(rc.env(item))
	if err != nil {
		return nil, expressionFailure(err)
	}
	if params == nil {
		params = map[string]any{}
	}
	return params, nil
}

// expressionFailure is an expression's evaluation error as a run's error,
// naming the expression and the reason.
func expressionFailure(err error) *outcome {
	re := &RunError{Kind: KindExpression, Message: err.Error()}
	if ee, ok := errors.AsType[*workflow.ExpressionError](err); ok {
		re.Expression = ee.Expr
		re.Message = strings.TrimPrefix(ee.Error(), "workflow: ")
	}
	return &outcome{err: re}
}

// runIf sends each item to port "true" or "false" by its condition.
func runIf(rc *runContext) (*outcome, error) {
	doc := workflow.OutputDocument{Outputs: map[string][]workflow.Item{"true": {}, "false": {}}}
	for _, item := range rc.main() {
		params, fail := evalFor(rc, item)
		if fail != nil {
			return fail, nil
		}
		port := "false"
		if truthy(params["condition"]) {
			port = "true"
		}
		doc.Outputs[port] = append(doc.Outputs[port], item)
	}
	return succeeded(doc)
}

// runSwitch sends each item to the port of the first case whose condition
// holds, or to "default".
func runSwitch(rc *runContext) (*outcome, error) {
	doc := workflow.OutputDocument{Outputs: map[string][]workflow.Item{workflow.SwitchDefaultPort: {}}}
	for _, c := range casesOf(rc.node.Params) {
		doc.Outputs[c] = []workflow.Item{}
	}
	for _, item := range rc.main() {
		params, fail := evalFor(rc, item)
		if fail != nil {
			return fail, nil
		}
		port := workflow.SwitchDefaultPort
		cases, _ := params["cases"].([]any)
		for _, c := range cases {
			obj, _ := c.(map[string]any)
			if name, _ := obj["port"].(string); name != "" && truthy(obj["condition"]) {
				port = name
				break
			}
		}
		doc.Outputs[port] = append(doc.Outputs[port], item)
	}
	return succeeded(doc)
}

// casesOf lists a switch's case ports.
func casesOf(params map[string]any) []string {
	var ports []string
	cases, _ := params["cases"].([]any)
	for _, c := range cases {
		obj, _ := c.(map[string]any)
		if p, _ := obj["port"].(string); p != "" {
			ports = append(ports, p)
		}
	}
	return ports
}

// truthy is how a condition's value decides: false, null, 0, "", "false"
// and empty lists and objects are false; everything else is true.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		s := strings.TrimSpace(v)
		return s != "" && !strings.EqualFold(s, "false") && s != "0"
	case float64:
		return v != 0
	case int:
		return v != 0
	case json.Number:
		f, err := v.Float64()
		return err != nil || f != 0
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// runModule runs a module node in the sandbox, on the version its workflow
// version locked.
func (e *Engine) runModule(ctx context.Context, tenantID string, rc *runContext) (*outcome, error) {
	node := rc.node
	name, _ := node.ModuleRef()
	if node.Lock == nil {
		return failed(KindModuleUnavailable, "module %s has no locked version: save the workflow again", node.Module), nil
	}
	mod, err := e.modules.load(ctx, tenantID, name, node.Lock.Version)
	if errors.Is(err, store.ErrNotFound) {
		return failed(KindModuleUnavailable, "module %s@%s is not installed", name, node.Lock.Version), nil
	}
	if err != nil {
		return nil, err
	}
	if mod.Version.Digest != node.Lock.Digest {
		return failed(KindModuleUnavailable, "module %s@%s has digest %s, but the workflow locked %s",
			name, node.Lock.Version, mod.Version.Digest, node.Lock.Digest), nil
	}
	// Verified before every run, cached or not: a revoked key, a yanked
	// version, a stricter trust policy or a grant the version outgrew stops
	// the run here, before any compile.
	grant, err := e.modules.Authorize(ctx, tenantID, mod.Version)
	if re, ok := errors.AsType[*registry.Error](err); ok {
		return refusedModule(name, node.Lock.Version, re), nil
	}
	if err != nil {
		return nil, err
	}
	sess := e.modules.HostSession(ctx, registry.RunGrant{
		TenantID: tenantID, Module: mod, Node: node.Name, Bindings: node.Secrets,
		Actor:  "node_run:" + rc.run.ID,
		Detail: map[string]any{"execution_id": rc.ex.ID, "workflow_id": rc.ex.WorkflowID, "node_run_id": rc.run.ID},
		Grant:  &grant,
	})
	rp := runtime.RunParams{
		Wasm: mod.Wasm, Digest: mod.Version.Digest, Manifest: mod.Manifest,
		Limits: workflow.Limits{TimeoutMS: node.TimeoutMS}, HostFuncs: sess.Funcs(),
	}
	var out *outcome
	if mod.Manifest.IO == workflow.IORaw {
		out, err = e.runRaw(ctx, tenantID, rc, &rp)
	} else {
		out, err = runDocument(ctx, e.rt, rc, mod, &rp)
	}
	if err != nil {
		return nil, err
	}
	// What the run did through host functions is its record; the secrets
	// it read are stored nowhere.
	out.hostCalls = sess.CallsJSON()
	out.output = sess.Redact(out.output)
	out.logs = sess.Redact(out.logs)
	if out.err != nil {
		out.err.Message = redactString(sess, out.err.Message)
	}
	return out, nil
}

// refusedModule is the failure of a run the registry refused: its kind is
// the refusal's code (signature_key_revoked, version_yanked,
// grant_insufficient, …).
func refusedModule(name, version string, re *registry.Error) *outcome {
	msg := re.Code
	if len(re.Problems) > 0 {
		msg = re.Problems[0].Message
	}
	return failed(re.Code, "module %s@%s may not run: %s", name, version, msg)
}

// runDocument runs a document-IO module once with the node's input document.
func runDocument(ctx context.Context, rt Runtime, rc *runContext, mod *registry.Module, rp *runtime.RunParams) (*outcome, error) {
	node := rc.node
	items := rc.main()
	first := workflow.Item{}
	if len(items) > 0 {
		first = items[0]
	}
	params, fail := evalFor(rc, first)
	if fail != nil {
		return fail, nil
	}
	doc := workflow.InputDocument{
		Items: items, Inputs: rc.inputs, Params: params,
		Node:      workflow.NodeInfo{Name: node.Name, Module: mod.Version.Name, Version: mod.Version.Version},
		Execution: workflow.ExecutionInfo{ID: rc.ex.ID, WorkflowID: rc.ex.WorkflowID, Attempt: rc.run.Attempt},
	}
	if doc.Inputs[workflow.PortMain] == nil {
		doc.Inputs[workflow.PortMain] = items
	}
	input, err := json.Marshal(doc)
	if err != nil {
		return failed(KindInvalidParams, "the node's input cannot be encoded: %v", err), nil
	}
	rp.Input = input
	res, runErr := rt.Run(ctx, rp)
	out := &outcome{inputSize: int64(len(input))}
	if res != nil {
		out.logs, _ = json.Marshal(res.Logs)
	}
	if runErr != nil {
		ne, ok := errors.AsType[*runtime.NodeError](runErr)
		if !ok {
			return nil, runErr // the runtime itself failed (closed): not the node's fault
		}
		out.err = &RunError{Kind: string(ne.Kind), Message: ne.Message}
		return out, nil
	}
	out.status = store.RunSucceeded
	out.output = res.Output
	return out, nil
}

// redactString redacts the secrets the run read from s.
func redactString(sess *registry.HostSession, s string) string {
	raw, err := json.Marshal(s)
	if err != nil {
		return s
	}
	var out string
	if json.Unmarshal(sess.Redact(raw), &out) != nil {
		return s
	}
	return out
}

// KindInvalidModule is the runtime's kind for a module that cannot run.
const KindInvalidModule = string(runtime.KindInvalidModule)
