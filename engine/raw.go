package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// runRaw runs a raw-IO module node (manifest "io": "raw", DESIGN §4), p
// being the node's RunParams as runModule built them (module, limits, host
// functions). The entrypoint is called once per input item, in order, on
// one runtime session: one instance for the whole node run, unless the
// manifest says "instance": "per_item". Each call gets the param input
// evaluated for its item ($json the item; without the param, the item
// itself), a string as its bytes and anything else as JSON. The reply, JSON
// when it parses and text otherwise, is stored in a copy of the item under
// the param output_field (default "result"). Every other param is
// evaluated once, with $json the first item, as for a document-IO module.
//
// An item whose call fails (or whose input expression does) fails the node
// run, its error naming the item (RunError.Item), and the items after it are
// not called. With on_error: continue, once the node has no retry left, the
// item instead carries {"error": {"kind", "message"}} in place of a result
// and the other items go on; while attempts remain, the run fails and is
// retried as any node's is. A timeout or a cancellation belongs to the node
// run, never to one item, and so does an output document over the limit.
// The logs of all the calls are stored with the run.
func (e *Engine) runRaw(ctx context.Context, tenantID string, rc *runContext, p *runtime.RunParams) (*outcome, error) {
	items := rc.main()
	if len(items) == 0 {
		return &outcome{status: store.RunSucceeded, output: json.RawMessage(`{"items":[]}`)}, nil
	}
	input, rest, fail := compileRawParams(rc.node.Params)
	if fail != nil {
		return fail, nil
	}
	params := map[string]any{}
	if rest != nil {
		v, err := rest.Eval(rc.env(items[0]))
		if err != nil {
			return expressionFailure(err), nil
		}
		params = v
	}
	field, err := workflow.RawOutputFieldOf(params)
	if err != nil {
		return failed(KindInvalidParams, "%v", err), nil
	}

	sess, err := e.rt.Session(ctx, p)
	if err != nil {
		return moduleFailure(&outcome{}, err)
	}
	out := &outcome{}
	results := make([]workflow.Item, 0, len(items))
	// Whether a failed item is marked and passed on: decided at the first
	// failure, as it reads the node's attempts.
	var markItems *bool
	var failure *RunError
	for i, item := range items {
		in, fail := rawInputFor(rc, input, item)
		whole := false
		if fail == nil {
			out.inputSize += int64(len(in))
			reply, err := sess.Call(ctx, in)
			if err == nil {
				results = append(results, workflow.WithField(item, field, workflow.RawReply(reply)))
				continue
			}
			ne, ok := errors.AsType[*runtime.NodeError](err)
			if !ok {
				sess.Close(ctx)
				return nil, err // the runtime itself failed (closed): not the node's fault
			}
			fail = &RunError{Kind: string(ne.Kind), Message: ne.Message}
			whole = ne.Kind == runtime.KindTimeout || ne.Kind == runtime.KindCanceled
		}
		if !whole && markItems == nil {
			mark := rc.node.OnError == workflow.OnErrorContinue && !e.shouldRetry(ctx, tenantID, rc.run, rc.node)
			markItems = &mark
		}
		if !whole && *markItems {
			results = append(results, workflow.WithField(item, "error", map[string]any{"kind": fail.Kind, "message": fail.Message}))
			continue
		}
		fail.Item = &i
		fail.Message = fmt.Sprintf("item %d: %s", i, fail.Message)
		failure = fail
		break
	}
	res := sess.Close(ctx)
	out.logs, _ = json.Marshal(res.Logs)
	if failure != nil {
		out.err = failure
		return out, nil
	}
	doc, err := json.Marshal(workflow.OutputDocument{Items: results})
	if err != nil {
		out.err = &RunError{Kind: KindInternal, Message: fmt.Sprintf("the output cannot be encoded: %v", err)}
		return out, nil
	}
	if err := sess.CheckOutput(doc); err != nil {
		return moduleFailure(out, err)
	}
	out.status = store.RunSucceeded
	out.output = doc
	return out, nil
}

// compileRawParams compiles a raw-IO node's params in two parts: the param
// input, evaluated per item, and the others, evaluated once. Either is nil
// when there is nothing to evaluate.
func compileRawParams(params map[string]any) (input, rest *workflow.CompiledParams, fail *outcome) {
	if len(params) == 0 {
		return nil, nil, nil
	}
	others := maps.Clone(params)
	v, ok := others[workflow.RawInputParam]
	delete(others, workflow.RawInputParam)
	var err error
	if ok {
		if input, err = workflow.CompileParams(map[string]any{workflow.RawInputParam: v}); err != nil {
			return nil, nil, expressionFailure(err)
		}
	}
	if rest, err = workflow.CompileParams(others); err != nil {
		return nil, nil, expressionFailure(err)
	}
	return input, rest, nil
}

// rawInputFor is what the module receives for item: the param input
// evaluated with $json the item, or the item itself.
func rawInputFor(rc *runContext, input *workflow.CompiledParams, item workflow.Item) ([]byte, *RunError) {
	var v any = item
	if input != nil {
		params, err := input.Eval(rc.env(item))
		if err != nil {
			return nil, expressionFailure(err).err
		}
		v = params[workflow.RawInputParam]
	}
	b, err := workflow.RawInput(v)
	if err != nil {
		return nil, &RunError{Kind: KindInvalidParams, Message: strings.TrimPrefix(err.Error(), "workflow: ")}
	}
	return b, nil
}

// moduleFailure records the runtime's verdict on the module in out; an
// error that is not one (the runtime closed) is returned as the engine's.
func moduleFailure(out *outcome, err error) (*outcome, error) {
	ne, ok := errors.AsType[*runtime.NodeError](err)
	if !ok {
		return nil, err
	}
	out.err = &RunError{Kind: string(ne.Kind), Message: ne.Message}
	return out, nil
}
