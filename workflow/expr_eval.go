package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// evalState is one Eval: the variables, the meter and a VM, shared by the
// node's expressions.
type evalState struct {
	vars       map[string]any
	meter      meter
	vm         vm.VM
	resultLeft int // JSON bytes the results may still take
}

func newEvalState(env *Env, limit time.Duration) *evalState {
	if env == nil {
		env = &Env{}
	}
	now := env.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	nodes := make(map[string]nodeVars, len(env.Nodes))
	for name, d := range env.Nodes {
		nv := nodeVars{Items: d.Items}
		if len(d.Items) > 0 {
			nv.JSON = d.Items[0]
		}
		nodes[name] = nv
	}
	st := &evalState{resultLeft: MaxResultBytes}
	st.vm.MemoryBudget = MaxEvalValues
	st.meter = meter{deadline: time.Now().Add(limit), duration: limit}
	st.vars = map[string]any{
		"$json":  env.JSON,
		"$items": env.Items,
		"$node":  nodes,
		"$execution": executionVars{
			ID: env.Execution.ID, WorkflowID: env.Execution.WorkflowID, Attempt: env.Execution.Attempt,
		},
		"$now":   now.Round(0), // no monotonic reading
		meterVar: &st.meter,
	}
	return st
}

func (st *evalState) value(cv *cvalue) (any, error) {
	switch cv.kind {
	case ckMap:
		out := make(map[string]any, len(cv.keys))
		for i, k := range cv.keys {
			v, err := st.value(&cv.elems[i])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case ckList:
		out := make([]any, len(cv.elems))
		for i := range cv.elems {
			v, err := st.value(&cv.elems[i])
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case ckTemplate:
		return st.template(cv.tmpl)
	}
	return cv.value, nil
}

func (st *evalState) template(t *template) (any, error) {
	if t.raw {
		p := &t.parts[0]
		v, err := st.run(t, p)
		if err != nil {
			return nil, err
		}
		out, _, err := normalize(v, 0, &st.resultLeft)
		if err != nil {
			return nil, st.resultError(t, p, err)
		}
		return out, nil
	}
	var b strings.Builder
	for i := range t.parts {
		p := &t.parts[i]
		if p.prog == nil {
			st.resultLeft -= len(p.text)
			if st.resultLeft < 0 {
				return nil, st.resultError(t, p, errTooBig)
			}
			b.WriteString(p.text)
			continue
		}
		v, err := st.run(t, p)
		if err != nil {
			return nil, err
		}
		nv, _, err := normalize(v, 0, &st.resultLeft)
		if err != nil {
			return nil, st.resultError(t, p, err)
		}
		s, err := formatValue(nv)
		if err != nil {
			return nil, st.resultError(t, p, err)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// run evaluates one expression.
func (st *evalState) run(t *template, p *tpart) (any, error) {
	if err := st.meter.checkDeadline(); err != nil {
		return nil, &ExpressionError{Path: t.path, Expr: p.src, Reason: err.Error(), err: err}
	}
	out, err := st.vm.Run(p.prog, st.vars)
	if err != nil {
		reason, cause := runReason(err)
		return nil, &ExpressionError{Path: t.path, Expr: p.src, Reason: reason, err: cause}
	}
	return out, nil
}

func (st *evalState) resultError(t *template, p *tpart, err error) error {
	src := p.src
	if p.prog == nil {
		src = ""
	}
	if errors.Is(err, errTooBig) {
		err = budgetError("the values of these params are more than %d bytes of JSON", MaxResultBytes)
	}
	return &ExpressionError{Path: t.path, Expr: src, Reason: err.Error(), err: err}
}

// runReason makes an evaluation error readable: expr-lang's message with
// line:column, the VM's budget in our terms, Go's interface conversions as
// type errors.
func runReason(err error) (string, error) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return firstLine(err.Error()), err
	}
	msg := fe.Message
	cause := error(fe)
	switch {
	case msg == "memory budget exceeded":
		cause = budgetError("more than %d values in ranges, literals and sorts", MaxEvalValues)
		msg = cause.Error()
	case strings.HasPrefix(msg, "interface conversion: interface {} is "):
		got, want, ok := strings.Cut(strings.TrimPrefix(msg, "interface conversion: interface {} is "), ", not ")
		if ok {
			msg = fmt.Sprintf("wrong type: %s where %s is needed", got, want)
		}
	}
	if fe.Line > 0 {
		msg = fmt.Sprintf("%s (%d:%d)", msg, fe.Line, fe.Column+1)
	}
	return msg, cause
}
