package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

// LogLine is one line a module logged during a run.
type LogLine = runtime.LogLine

// TestRunInput is what a test run feeds a module.
type TestRunInput struct {
	// Items are the main input's items; nil runs with none.
	Items []workflow.Item
	// Params are the node's params, as a workflow would pass them once its
	// expressions are evaluated; nil is {}.
	Params map[string]any
	// Secrets binds the secret names the module declares to the tenant's
	// secrets, as a workflow node's "secrets" does.
	Secrets map[string]string
	// Actor names who asked for the run in the audit log of its secret
	// reads and requests.
	Actor string
}

// TestRunResult is what a test run produced.
type TestRunResult struct {
	// Output is the module's output document (document IO), or for raw IO
	// {"items": [...]} with each reply stored in its item (see TestRun).
	// Nil when the run failed.
	Output json.RawMessage
	// Logs are the lines the module logged, capped like any run's.
	Logs []LogLine
	// LogsTruncated says lines were dropped at the cap.
	LogsTruncated bool
	// Duration is the run's wall time (all the runs', for raw IO).
	Duration time.Duration
	// MemoryPeakBytes is the largest size the run's linear memories reached
	// together (see runtime.Result).
	MemoryPeakBytes uint64
	// HostCalls are the secret reads and requests the run made.
	HostCalls []HostCall
}

// Test run identity, as the module sees it in its input document.
const (
	testNodeName    = "test"
	testExecutionID = "test"
)

// TestRun runs one version of a module once, outside any workflow, with
// in's items and params, as a node named "test" in execution "test" (attempt
// 1). A document-IO module gets the input document of a node run (DESIGN
// §4), its params as given. A raw-IO module is called once per item, on one
// instance unless its manifest says "instance": "per_item", with the param
// input evaluated for the item as a workflow would ({{ }} expressions with
// $json the item and $items all of them; without the param, the item's
// JSON), and its reply (JSON when it parses, else text) is stored in the
// item under params.output_field (default "result"); other params are not
// evaluated. The first item that fails fails the test run, its message
// naming the item's index (from 0).
//
// The run gets the host functions the module's grant allows (see
// HostSession), with in.Secrets as its node's secret bindings; what they did
// is in the result's HostCalls, and the secrets read are redacted from its
// output, logs and error. A run that fails is a *[RunError], returned with
// a result that holds the run's logs and duration; a version the tenant may not run
// (see Authorize) is its *[Error]; an unknown version is
// store.ErrNotFound.
func (r *Registry) TestRun(ctx context.Context, tenantID, name, version string, in *TestRunInput) (*TestRunResult, error) {
	mod, err := r.Load(ctx, tenantID, name, version)
	if err != nil {
		return nil, err
	}
	grant, err := r.Authorize(ctx, tenantID, mod.Version)
	if err != nil {
		return nil, err
	}
	return r.runTest(ctx, tenantID, mod, &grant, in)
}

// TestRunModule runs mod as [Registry.TestRun] runs a stored version: the
// same input document, host functions, limits, redaction and errors, with
// the capabilities its manifest declares granted. mod need not be stored:
// [Registry.Check] returns one from a module's bytes and manifest
// (`wasmflow node test` runs it so, without a server). tenantID is the
// tenant whose secrets the run may read.
func (r *Registry) TestRunModule(ctx context.Context, tenantID string, mod *Module, in *TestRunInput) (*TestRunResult, error) {
	return r.runTest(ctx, tenantID, mod, nil, in)
}

// runTest is a test run of mod with grant (nil: what its manifest asks for).
func (r *Registry) runTest(ctx context.Context, tenantID string, mod *Module, grant *workflow.Capabilities, in *TestRunInput) (*TestRunResult, error) {
	if mod == nil || mod.Version == nil || mod.Manifest == nil {
		return nil, errors.New("registry: test run: a module with its version and manifest is required")
	}
	if in == nil {
		in = &TestRunInput{}
	}
	items := in.Items
	if items == nil {
		items = []workflow.Item{}
	}
	params := in.Params
	if params == nil {
		params = map[string]any{}
	}
	sess := r.HostSession(ctx, RunGrant{
		TenantID: tenantID, Module: mod, Node: testNodeName, Bindings: in.Secrets,
		Actor: cmp.Or(in.Actor, "system"), Detail: map[string]any{"test_run": true}, Grant: grant,
	})
	base := runtime.RunParams{Wasm: mod.Wasm, Digest: mod.Version.Digest, Manifest: mod.Manifest, HostFuncs: sess.Funcs()}
	out, err := r.testRun(ctx, mod, base, items, params)
	return redactTestRun(sess, out, err)
}

// testRun runs the module as TestRun describes, with base's host functions.
func (r *Registry) testRun(ctx context.Context, mod *Module, base runtime.RunParams, items []workflow.Item, params map[string]any) (*TestRunResult, error) {
	if cmp.Or(mod.Manifest.IO, workflow.IODocument) == workflow.IORaw {
		return r.testRunRaw(ctx, base, items, params)
	}
	doc := workflow.InputDocument{
		Items:     items,
		Inputs:    map[string][]workflow.Item{workflow.PortMain: items},
		Params:    params,
		Node:      workflow.NodeInfo{Name: testNodeName, Module: mod.Version.Name, Version: mod.Version.Version},
		Execution: workflow.ExecutionInfo{ID: testExecutionID, Attempt: 1},
	}
	input, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("registry: test run: encode input: %w", err)
	}
	p := base
	p.Input = input
	res, err := r.rt.Run(ctx, &p)
	out := &TestRunResult{}
	out.add(res)
	if err != nil {
		return runFailure(out, err)
	}
	out.Output = res.Output
	return out, nil
}

// redactTestRun records the run's host calls in its result and redacts the
// secrets it read from its output, logs and error message.
func redactTestRun(sess *HostSession, out *TestRunResult, err error) (*TestRunResult, error) {
	if out != nil {
		out.HostCalls = sess.Calls()
		out.Output = sess.Redact(out.Output)
		if len(out.Logs) > 0 {
			if raw, mErr := json.Marshal(out.Logs); mErr == nil {
				var logs []LogLine
				if json.Unmarshal(sess.Redact(raw), &logs) == nil {
					out.Logs = logs
				}
			}
		}
	}
	if re, ok := errors.AsType[*RunError](err); ok {
		if msg, mErr := json.Marshal(re.Message); mErr == nil {
			var redacted string
			if json.Unmarshal(sess.Redact(msg), &redacted) == nil {
				re.Message = redacted
			}
		}
	}
	return out, err
}

// testRunRaw runs a raw-IO module once per item, as a workflow node run
// would: on one session (one instance unless the manifest asks for one per
// item), the param input evaluated for each item, the reply stored under
// output_field. The first item that fails fails the test run, naming it.
func (r *Registry) testRunRaw(ctx context.Context, base runtime.RunParams, items []workflow.Item, params map[string]any) (*TestRunResult, error) {
	out := &TestRunResult{}
	field, err := workflow.RawOutputFieldOf(params)
	if err != nil {
		return out, &RunError{Kind: kindInvalidParams, Message: err.Error(), Err: err}
	}
	var input *workflow.CompiledParams
	if v, ok := params[workflow.RawInputParam]; ok {
		if input, err = workflow.CompileParams(map[string]any{workflow.RawInputParam: v}); err != nil {
			return out, expressionError(err)
		}
	}
	if len(items) == 0 {
		out.Output = json.RawMessage(`{"items":[]}`)
		return out, nil
	}
	sess, err := r.rt.Session(ctx, &base)
	if err != nil {
		return runFailure(out, err)
	}
	results := make([]workflow.Item, 0, len(items))
	var failure error
	for i, item := range items {
		in, re := rawInput(input, item, items)
		if re != nil {
			re.Message = fmt.Sprintf("item %d: %s", i, re.Message)
			failure = re
			break
		}
		reply, err := sess.Call(ctx, in)
		if err != nil {
			failure = itemFailure(i, err)
			break
		}
		results = append(results, workflow.WithField(item, field, workflow.RawReply(reply)))
	}
	out.add(sess.Close(ctx))
	if re, ok := errors.AsType[*RunError](failure); ok {
		return out, re
	}
	if failure != nil {
		return runFailure(out, failure)
	}
	output, err := json.Marshal(workflow.OutputDocument{Items: results})
	if err != nil {
		return nil, fmt.Errorf("registry: test run: encode output: %w", err)
	}
	if err := sess.CheckOutput(output); err != nil {
		return runFailure(out, err)
	}
	out.Output = output
	return out, nil
}

// Kinds of a test run's failure that are not the runtime's: the same as a
// workflow node run's.
const (
	kindExpression    = "expression"
	kindInvalidParams = "invalid_params"
)

// rawInput is what a raw-IO module receives for item: the param input
// evaluated with $json the item (and $items all of them), or the item.
func rawInput(input *workflow.CompiledParams, item workflow.Item, items []workflow.Item) ([]byte, *RunError) {
	var v any = item
	if input != nil {
		params, err := input.Eval(&workflow.Env{JSON: item, Items: items})
		if err != nil {
			return nil, expressionError(err)
		}
		v = params[workflow.RawInputParam]
	}
	b, err := workflow.RawInput(v)
	if err != nil {
		return nil, &RunError{Kind: kindInvalidParams, Message: strings.TrimPrefix(err.Error(), "workflow: "), Err: err}
	}
	return b, nil
}

func expressionError(err error) *RunError {
	return &RunError{Kind: kindExpression, Message: strings.TrimPrefix(err.Error(), "workflow: "), Err: err}
}

// itemFailure names the item in a module's failure.
func itemFailure(i int, err error) error {
	if ne, ok := errors.AsType[*runtime.NodeError](err); ok {
		named := *ne
		named.Message = fmt.Sprintf("item %d: %s", i, ne.Message)
		return &named
	}
	return err
}

// add appends one run's logs and duration.
func (t *TestRunResult) add(res *runtime.Result) {
	if res == nil {
		return
	}
	t.Logs = append(t.Logs, res.Logs...)
	t.LogsTruncated = t.LogsTruncated || res.LogsTruncated
	t.Duration += res.Duration
	t.MemoryPeakBytes = max(t.MemoryPeakBytes, res.MemoryPeakBytes)
}

// runFailure turns a run's error into a *RunError when the module failed;
// anything else (the runtime closed) passes through.
func runFailure(out *TestRunResult, err error) (*TestRunResult, error) {
	ne, ok := errors.AsType[*runtime.NodeError](err)
	if !ok {
		return nil, fmt.Errorf("registry: test run: %w", err)
	}
	return out, &RunError{Kind: string(ne.Kind), Message: ne.Message, ExitCode: ne.ExitCode, Err: err}
}
