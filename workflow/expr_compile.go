package workflow

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
)

// How an expression becomes a program
//
// expr-lang parses $json, $items, … as ordinary identifiers ('$' is a letter
// to its lexer), so they are the keys of a map environment and need no
// rewriting. The pipeline is parse → gate → check → rewrite → check →
// optimize → compile:
//
//   - gate rejects what expressions must not do: $env (expr's whole
//     environment, which also holds the meter), calls other than built-in
//     functions and allowed methods, disabled built-ins, long regexps.
//   - the first check reports type errors with expr's own messages.
//   - rewrite routes every cost through a per-Eval meter, reached through the
//     identifier meterVar, which the lexer cannot produce: each predicate
//     iteration (map, filter, …) ticks; built-ins that build strings or lists,
//     string +, dynamic `matches` and method calls become calls of metered
//     functions (named "·name", which the lexer cannot produce either).
//   - the second check types the rewritten tree for the compiler.

// meterVar names the per-Eval meter in the environment.
const meterVar = "·meter"

// Names of the metered functions the rewrite calls.
const (
	fnTick        = "·tick"
	fnAdd         = "·add"
	fnMatches     = "·matches"
	fnMethod      = "·method"
	fnMethodMaybe = "·method?" // receiver?.Method(): nil receiver gives nil
)

// nativeBuiltins run as expr implements them: their result is small, or
// shares the memory of their argument, and their work is linear in it.
var nativeBuiltins = []string{
	"len", "type", "abs", "ceil", "floor", "round", "int", "float",
	"trim", "trimPrefix", "trimSuffix", "indexOf", "lastIndexOf", "hasPrefix", "hasSuffix",
	"duration", "first", "last", "get", "take",
}

// predicateBuiltins are expr's loops; the rewrite makes each iteration tick.
var predicateBuiltins = []string{
	"all", "none", "any", "one", "filter", "map", "find", "findIndex",
	"count", "sum", "groupBy", "sortBy", "reduce",
}

// unavailableBuiltins explains why an expr built-in is missing.
var unavailableBuiltins = map[string]string{
	"now":      "is not available: use $now",
	"timezone": "is not available: expressions do no I/O, and time zones are files",
	// expr-lang v1.17.8 compiles these two with a stray value left on the
	// stack, so that [1, findLastIndex(l, p)] is [false, nil].
	"findLast":      "is not available: use last(filter(list, …))",
	"findLastIndex": "is not available: use findIndex(reverse(list), …)",
}

// executionFields and nodeFields are the fields of $execution and of $node["name"].
var (
	executionFields = []string{"id", "workflow_id", "attempt"}
	nodeFields      = []string{"items", "json"}
)

// executionVars is $execution.
type executionVars struct {
	ID         string `expr:"id"`
	WorkflowID string `expr:"workflow_id"`
	Attempt    int    `expr:"attempt"`
}

// nodeVars is $node["name"].
type nodeVars struct {
	Items []Item `expr:"items"`
	JSON  Item   `expr:"json"`
}

// newExprConfig returns a configuration for one compilation (a Config
// caches types and is not safe for concurrent use).
func newExprConfig() *conf.Config {
	c := conf.CreateNew()
	c.WithEnv(map[string]any{
		"$json":      Item(nil),
		"$items":     []Item(nil),
		"$node":      map[string]nodeVars(nil),
		"$execution": executionVars{},
		"$now":       time.Time{},
		meterVar:     (*meter)(nil),
	})
	c.Strict = true
	c.MaxNodes = MaxExpressionNodes
	for name := range c.Builtins {
		if !allowedBuiltin(name) {
			c.Disabled[name] = true
			delete(c.Builtins, name)
		}
	}
	for name, fn := range meteredFuncs {
		c.Functions[name] = &builtin.Function{Name: name, Func: fn}
	}
	return c
}

func allowedBuiltin(name string) bool {
	_, metered := meteredBuiltins[name]
	return metered || slices.Contains(nativeBuiltins, name) || slices.Contains(predicateBuiltins, name)
}

// compileExpr compiles one expression. It never panics: a panic inside
// expr-lang becomes the expression's error.
func compileExpr(src string) (ce *compiledExpr) {
	fail := func(reason string, err error) *compiledExpr {
		return &compiledExpr{err: &ExpressionError{Expr: src, Reason: reason, err: err}}
	}
	defer func() {
		if r := recover(); r != nil {
			ce = fail(fmt.Sprintf("cannot compile: %v", r), nil)
		}
	}()
	if len(src) > MaxExpressionLength {
		return fail(fmt.Sprintf("expression is %d bytes long, more than the %d allowed", len(src), MaxExpressionLength), nil)
	}
	cfg := newExprConfig()
	tree, err := parser.ParseWithConfig(src, cfg)
	if err != nil {
		return fail(reason(err), err)
	}
	g := gate{}
	g.walk(&tree.Node)
	if g.err != nil {
		fe := &file.Error{Location: g.err.Location(), Message: g.msg}
		return fail(reason(fe.Bind(tree.Source)), nil)
	}
	if _, err := checker.Check(tree, cfg); err != nil {
		return fail(reason(err), err)
	}
	rewrite(&tree.Node)
	if _, err := checker.Check(tree, cfg); err != nil {
		return fail("cannot compile: "+reason(err), err)
	}
	if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
		return fail(reason(err), err)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return fail("cannot compile: "+firstLine(err.Error()), err)
	}
	return &compiledExpr{prog: prog, refs: g.refs}
}

// reason is an expr-lang error as one line: the message and line:column,
// without the source snippet.
func reason(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1)
		}
		return fe.Message
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// gate rejects what expressions must not do, before type checking.
type gate struct {
	err  ast.Node // where the first rejection is
	msg  string   // and why
	refs []string
}

func (g *gate) reject(n ast.Node, format string, args ...any) {
	if g.err == nil {
		g.err, g.msg = n, fmt.Sprintf(format, args...)
	}
}

func (g *gate) walk(np *ast.Node) {
	if g.err != nil || *np == nil {
		return
	}
	switch n := (*np).(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.StringNode,
		*ast.PointerNode, *ast.UnaryNode, *ast.ChainNode, *ast.SliceNode, *ast.PredicateNode,
		*ast.VariableDeclaratorNode, *ast.SequenceNode, *ast.ConditionalNode, *ast.ArrayNode,
		*ast.MapNode, *ast.PairNode:
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			g.reject(n, "$env is not available: expressions cannot read the environment (use $json, $items, $node, $execution or $now)")
		}
	case *ast.BytesNode:
		g.reject(n, "byte string literals are not supported")
	case *ast.BinaryNode:
		if s, ok := n.Right.(*ast.StringNode); ok && n.Operator == "matches" && len(s.Value) > MaxRegexpLength {
			g.reject(n, "regular expression is %d bytes long, more than the %d allowed", len(s.Value), MaxRegexpLength)
		}
	case *ast.MemberNode:
		g.member(n)
	case *ast.CallNode:
		g.call(n)
	case *ast.BuiltinNode:
		if why, ok := unavailableBuiltins[n.Name]; ok {
			g.reject(n, "%s() %s", n.Name, why)
		} else if !allowedBuiltin(n.Name) {
			g.reject(n, "%s() is not available", n.Name)
		} else if n.Name == "date" && len(n.Arguments) > 2 {
			g.reject(n, "date() takes no time zone: expressions do no I/O (put the offset in the layout, e.g. -0700)")
		}
	default:
		g.reject(n, "unsupported syntax %T", n)
	}
	for _, c := range children(*np) {
		g.walk(c)
	}
}

func (g *gate) member(n *ast.MemberNode) {
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		return
	}
	switch base := n.Node.(type) {
	case *ast.IdentifierNode:
		switch {
		case base.Value == "$execution" && !slices.Contains(executionFields, prop.Value):
			g.reject(n, "$execution has no field %q (it has %s)", prop.Value, strings.Join(executionFields, ", "))
		case base.Value == "$node" && !slices.Contains(g.refs, prop.Value):
			g.refs = append(g.refs, prop.Value)
		}
	case *ast.MemberNode:
		if id, ok := base.Node.(*ast.IdentifierNode); ok && id.Value == "$node" && !slices.Contains(nodeFields, prop.Value) {
			g.reject(n, "$node[…] has no field %q (it has %s)", prop.Value, strings.Join(nodeFields, ", "))
		}
	}
}

func (g *gate) call(n *ast.CallNode) {
	switch callee := n.Callee.(type) {
	case *ast.IdentifierNode:
		switch why, known := unavailableBuiltins[callee.Value]; {
		case known:
			g.reject(n, "%s() %s", callee.Value, why)
		case isBuiltinName(callee.Value):
			g.reject(n, "%s() is not available", callee.Value)
		default:
			g.reject(n, "unknown function %s()", callee.Value)
		}
	case *ast.MemberNode:
		name, ok := callee.Property.(*ast.StringNode)
		if !ok || !callee.Method {
			g.reject(n, "only built-in functions and methods can be called")
			return
		}
		if !methodAllowed(name.Value) {
			g.reject(n, "method %s() is not available", name.Value)
		}
	default:
		g.reject(n, "only built-in functions and methods can be called")
	}
}

// rewrite routes the costs of the expression through the meter (see the top
// of this file). Types come from the first check.
func rewrite(np *ast.Node) {
	switch n := (*np).(type) {
	case *ast.PredicateNode:
		rewrite(&n.Node)
		n.Node = &ast.SequenceNode{Nodes: []ast.Node{call(n, fnTick), n.Node}}
		return
	case *ast.BinaryNode:
		_, lit1 := n.Left.(*ast.StringNode)
		_, lit2 := n.Right.(*ast.StringNode)
		stringAdd := n.Operator == "+" && maybeString(n.Left) && maybeString(n.Right) && (!lit1 || !lit2)
		_, constPattern := n.Right.(*ast.StringNode)
		dynMatches := n.Operator == "matches" && !constPattern
		rewrite(&n.Left)
		rewrite(&n.Right)
		switch {
		case stringAdd:
			*np = call(n, fnAdd, n.Left, n.Right)
		case dynMatches:
			*np = call(n, fnMatches, n.Left, n.Right)
		}
		return
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			rewrite(&n.Arguments[i])
		}
		if _, ok := meteredBuiltins[n.Name]; ok {
			*np = call(n, "·"+n.Name, n.Arguments...)
		}
		return
	case *ast.CallNode:
		if m, ok := n.Callee.(*ast.MemberNode); ok {
			rewrite(&m.Node)
			for i := range n.Arguments {
				rewrite(&n.Arguments[i])
			}
			fn := fnMethod
			if m.Optional {
				fn = fnMethodMaybe
			}
			*np = call(n, fn, append([]ast.Node{m.Node, m.Property}, n.Arguments...)...)
			return
		}
	}
	for _, c := range children(*np) {
		rewrite(c)
	}
}

// maybeString reports whether the checker found a string or did not know.
func maybeString(n ast.Node) bool {
	if _, ok := n.(*ast.StringNode); ok {
		return true
	}
	t := n.Type()
	return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
}

// call builds a call of a metered function with the meter as first argument,
// at the location of the node it replaces.
func call(at ast.Node, fn string, args ...ast.Node) ast.Node {
	loc := at.Location()
	m := &ast.IdentifierNode{Value: meterVar}
	m.SetLocation(loc)
	callee := &ast.IdentifierNode{Value: fn}
	callee.SetLocation(loc)
	c := &ast.CallNode{Callee: callee, Arguments: append([]ast.Node{m}, args...)}
	c.SetLocation(loc)
	return c
}

// children returns pointers to the child nodes of n.
func children(n ast.Node) []*ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []*ast.Node{&n.Node}
	case *ast.BinaryNode:
		return []*ast.Node{&n.Left, &n.Right}
	case *ast.ChainNode:
		return []*ast.Node{&n.Node}
	case *ast.MemberNode:
		return []*ast.Node{&n.Node, &n.Property}
	case *ast.SliceNode:
		out := []*ast.Node{&n.Node}
		if n.From != nil {
			out = append(out, &n.From)
		}
		if n.To != nil {
			out = append(out, &n.To)
		}
		return out
	case *ast.CallNode:
		return append([]*ast.Node{&n.Callee}, ptrs(n.Arguments)...)
	case *ast.BuiltinNode:
		return ptrs(n.Arguments)
	case *ast.PredicateNode:
		return []*ast.Node{&n.Node}
	case *ast.VariableDeclaratorNode:
		return []*ast.Node{&n.Value, &n.Expr}
	case *ast.SequenceNode:
		return ptrs(n.Nodes)
	case *ast.ConditionalNode:
		return []*ast.Node{&n.Cond, &n.Exp1, &n.Exp2}
	case *ast.ArrayNode:
		return ptrs(n.Nodes)
	case *ast.MapNode:
		return ptrs(n.Pairs)
	case *ast.PairNode:
		return []*ast.Node{&n.Key, &n.Value}
	}
	return nil
}

func ptrs(nodes []ast.Node) []*ast.Node {
	out := make([]*ast.Node, len(nodes))
	for i := range nodes {
		out[i] = &nodes[i]
	}
	return out
}

func isBuiltinName(name string) bool {
	_, ok := builtin.Index[name]
	return ok
}
