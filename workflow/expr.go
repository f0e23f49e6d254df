package workflow

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"
)

// Bounds on expressions. Compile-time bounds fail [CompileParams] (and so
// [Workflow.Validate]); evaluation bounds fail [CompiledParams.Eval] with an
// error that matches [ErrExpressionBudget].
const (
	// MaxExpressionLength bounds the source of one {{ … }}, in bytes.
	MaxExpressionLength = 4 << 10
	// MaxParamsExpressionLength bounds the source of all expressions in one
	// node's params together, in bytes.
	MaxParamsExpressionLength = 64 << 10
	// MaxExpressionNodes bounds the syntax tree of one expression (expr's MaxNodes).
	MaxExpressionNodes = 1000
	// MaxParamsDepth bounds the nesting of objects and lists, both in params
	// and in the value of an expression.
	MaxParamsDepth = 128
	// MaxRegexpLength bounds the pattern of a `matches`, in bytes.
	MaxRegexpLength = 1 << 10

	// MaxEvalSteps bounds the loop iterations (map, filter, reduce, …) and the
	// element visits of aggregate functions in one Eval.
	MaxEvalSteps = 1_000_000
	// MaxEvalBytes bounds the strings and lists that built-in functions and
	// string concatenation create in one Eval, in bytes (an element counts 16).
	MaxEvalBytes = 32 << 20
	// MaxEvalValues bounds the elements one expression puts in ranges (1..n),
	// list and map literals and sorts (expr's memory budget).
	MaxEvalValues = 1_000_000
	// MaxResultBytes bounds the JSON size of all the values one Eval produces.
	MaxResultBytes = 16 << 20
	// MaxEvalDuration bounds the wall time of one Eval.
	MaxEvalDuration = time.Second
)

// ErrExpressionBudget is matched (errors.Is) by an evaluation that ran out of
// one of the evaluation bounds above.
var ErrExpressionBudget = errors.New("expression budget exceeded")

// Env is what expressions see while a node runs. The zero value is usable.
type Env struct {
	// JSON is $json, the current item.
	JSON Item
	// Items is $items, all the items the node received.
	Items []Item
	// Nodes are the outputs of the nodes that already ran, by node name:
	// $node["name"].items, and $node["name"].json for the first of them.
	Nodes map[string]NodeData
	// Execution is $execution: $execution.id, .workflow_id and .attempt.
	Execution ExecutionInfo
	// Now is $now; when zero, Eval uses the current time in UTC.
	Now time.Time
}

// NodeData is what one node produced, as expressions see it through $node.
type NodeData struct {
	Items []Item `json:"items"`
}

// ExpressionError is a problem with one expression: its syntax, found when
// compiling, or its evaluation.
type ExpressionError struct {
	// Path locates the string in the params, as in "set.total" or
	// "cases[0].condition"; it is empty for a problem with the params as a whole.
	Path string
	// Expr is the source between {{ and }} (for an unterminated {{, the rest
	// of the string).
	Expr string
	// Reason says what is wrong, with the line:column in Expr where expr-lang tells one.
	Reason string
	err    error
	open   bool // Expr has no closing }}
}

func (e *ExpressionError) Error() string {
	var b strings.Builder
	b.WriteString("workflow: ")
	b.WriteString(paramsPath(e.Path))
	b.WriteString(": ")
	b.WriteString(e.message())
	return b.String()
}

// paramsPath is a params path as seen from the node: "params.set.total".
func paramsPath(path string) string {
	switch {
	case path == "":
		return "params"
	case path[0] == '[':
		return "params" + path
	}
	return "params." + path
}

// message is the error without the path, as a validation problem shows it.
func (e *ExpressionError) message() string {
	if e.Expr == "" {
		return e.Reason
	}
	return "expression " + e.quote() + ": " + e.Reason
}

// Unwrap returns the cause, such as [ErrExpressionBudget].
func (e *ExpressionError) Unwrap() error { return e.err }

func (e *ExpressionError) quote() string {
	if e.open {
		return strconv.Quote("{{" + shorten(e.Expr))
	}
	return quoteExpr(e.Expr)
}

// quoteExpr shows an expression as "{{ source }}", shortened to a readable length.
func quoteExpr(src string) string {
	return strconv.Quote("{{" + shorten(src) + "}}")
}

func shorten(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ExpressionErrors lists every expression problem in a node's params, in
// params order (object keys sorted). errors.As finds each *ExpressionError.
type ExpressionErrors []*ExpressionError

func (e ExpressionErrors) Error() string {
	if len(e) == 0 {
		return "workflow: no expression errors"
	}
	if len(e) == 1 {
		return e[0].Error()
	}
	return fmt.Sprintf("%s; and %d more", e[0].Error(), len(e)-1)
}

// Unwrap returns the errors, for errors.As and errors.Is.
func (e ExpressionErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, err := range e {
		errs[i] = err
	}
	return errs
}

// NodeRef is a $node["name"] with a constant name, found at compile time.
type NodeRef struct {
	Path string // where the expression is in the params
	Expr string // the expression
	Node string // the node it names
}

// CompiledParams are a node's params with every expression compiled: compile
// once per workflow version, then Eval once per run. It is safe for
// concurrent use.
type CompiledParams struct {
	root     cvalue
	nilRoot  bool
	exprs    int
	refs     []NodeRef
	duration time.Duration // MaxEvalDuration, shortened by tests
}

// cvalue is one compiled params value.
type cvalue struct {
	kind  ckind
	value any       // ckConst
	keys  []string  // ckMap, sorted
	elems []cvalue  // ckMap values, in keys order; ckList elements
	tmpl  *template // ckTemplate
}

type ckind uint8

const (
	ckConst ckind = iota
	ckMap
	ckList
	ckTemplate
)

// template is a string with expressions: literal text and expressions in turn.
type template struct {
	path  string
	parts []tpart
	// raw is set when the string is one expression and whitespace: it
	// evaluates to the expression's value rather than to a string.
	raw bool
}

type tpart struct {
	text string // literal text, when prog is nil
	src  string
	prog *vm.Program
}

// CompileParams compiles every {{ expression }} in params, at any depth of
// objects (map[string]any) and lists ([]any); other values are kept as they
// are (a []string, say, is neither searched nor copied). It returns
// [ExpressionErrors] listing every problem, each with its path.
//
// # Templates
//
// A string that is exactly one {{ expression }}, with optional whitespace
// around it, evaluates to the expression's value (a number, bool, string,
// object, list or null). A string that mixes text and expressions evaluates
// to a string in which each value is formatted: strings as they are, null as
// nothing, anything else as compact JSON. Values are JSON values: numbers
// are int or float64 (NaN and ±Inf are errors), times become RFC 3339
// strings and durations strings such as "1h30m0s".
//
// {{secret:NAME}} is not an expression but literal text: the host replaces
// it in HTTP request headers, so no workflow ever holds a secret's value.
// \{{ stands for a literal {{ (in JSON, "\\{{"), as does {{ "{{" }}; any other
// backslash is literal text. An expression ends at the first }} that is
// outside its string literals and braces, so {{ {"a": {"b": 1}} }} is one
// expression. A {{ without its }}, and an empty {{ }}, are errors.
//
// # Expressions
//
// Expressions are expr-lang (https://expr-lang.org) with these variables:
// $json (the current item; a missing field is null, so
// {{ $json.missing ?? "default" }} works), $items, $node["name"].items and
// .json, $execution.id, .workflow_id and .attempt, and $now (a time). They
// cannot read the environment ($env is not available), call anything but
// the built-in functions below and a few time methods, or do I/O.
//
// Built-in functions: len, type, abs, ceil, floor, round, int, float, string,
// trim, trimPrefix, trimSuffix, upper, lower, split, splitAfter, replace,
// repeat, join, indexOf, lastIndexOf, hasPrefix, hasSuffix, max, min, mean,
// median, toJSON (compact), fromJSON, toBase64, fromBase64, duration, date
// (in UTC, without a time zone argument), first, last, get, take, keys, values,
// toPairs, fromPairs, reverse, uniq, concat, flatten, sort, and the
// predicates all, none, any, one, filter, map, find, findIndex, count, sum,
// groupBy, sortBy and reduce; the operators include matches (a pattern of at
// most MaxRegexpLength bytes), contains, startsWith, endsWith, in, .. and ??.
// Not available: now (use $now), timezone, the bit functions, and findLast
// and findLastIndex (expr-lang v1.17.8 miscompiles them). Methods: on times Format,
// Year, Month, Day, Hour, Minute, Second, Nanosecond, Weekday, YearDay,
// Unix, UnixMilli, Add, AddDate, Sub, Before, After, Equal, Compare, UTC,
// Truncate, Round, IsZero; on durations Hours, Minutes, Seconds,
// Milliseconds, String, Round, Truncate, Abs.
//
// # Budget
//
// Every bound is a constant above: source length per expression and per
// node, syntax tree size, and, per Eval, steps, bytes built, values, result
// size and wall time. An Eval that runs out of one fails fast with an error
// that says which and matches [ErrExpressionBudget].
func CompileParams(params map[string]any) (*CompiledParams, error) {
	c := &paramsCompiler{programs: make(map[string]*compiledExpr)}
	cp := &CompiledParams{duration: MaxEvalDuration}
	if params == nil {
		cp.nilRoot = true
	} else {
		cp.root = c.value(params, "", 0)
	}
	if c.srcBytes > MaxParamsExpressionLength {
		c.errs = append(ExpressionErrors{{Reason: fmt.Sprintf(
			"the expressions in these params total %d bytes, more than the %d allowed",
			c.srcBytes, MaxParamsExpressionLength)}}, c.errs...)
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	cp.exprs = c.exprs
	cp.refs = c.refs
	return cp, nil
}

// EvalParams compiles params and evaluates them once; see [CompileParams] and
// [CompiledParams.Eval].
func EvalParams(params map[string]any, env *Env) (map[string]any, error) {
	c, err := CompileParams(params)
	if err != nil {
		return nil, err
	}
	return c.Eval(env)
}

// Expressions reports how many expressions the params hold; with none, Eval
// only copies them.
func (c *CompiledParams) Expressions() int { return c.exprs }

// NodeRefs lists the $node["name"] references with a constant name, in
// params order.
func (c *CompiledParams) NodeRefs() []NodeRef { return slices.Clone(c.refs) }

// Eval evaluates every expression against env (nil means the zero Env) and
// returns a new params object; it never modifies the compiled params or env,
// but the result may share values with env (an expression's value is not
// copied). It stops at the first failing expression with an
// *[ExpressionError]. It does not panic.
func (c *CompiledParams) Eval(env *Env) (map[string]any, error) {
	if c.nilRoot {
		return nil, nil
	}
	st := newEvalState(env, c.duration)
	v, err := st.value(&c.root)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

type paramsCompiler struct {
	programs map[string]*compiledExpr // by source: one program per distinct expression
	errs     ExpressionErrors
	refs     []NodeRef
	exprs    int
	srcBytes int
}

type compiledExpr struct {
	prog *vm.Program
	refs []string
	err  *ExpressionError // without path
}

func (c *paramsCompiler) fail(path, src, format string, args ...any) {
	c.errs = append(c.errs, &ExpressionError{Path: path, Expr: src, Reason: fmt.Sprintf(format, args...)})
}

func (c *paramsCompiler) value(v any, path string, depth int) cvalue {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, "{{") {
			return cvalue{kind: ckConst, value: x}
		}
		return c.template(x, path)
	case map[string]any:
		if depth >= MaxParamsDepth {
			c.fail(path, "", "params are nested deeper than %d levels", MaxParamsDepth)
			return cvalue{}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		elems := make([]cvalue, len(keys))
		for i, k := range keys {
			elems[i] = c.value(x[k], joinKey(path, k), depth+1)
		}
		return cvalue{kind: ckMap, keys: keys, elems: elems}
	case []any:
		if depth >= MaxParamsDepth {
			c.fail(path, "", "params are nested deeper than %d levels", MaxParamsDepth)
			return cvalue{}
		}
		elems := make([]cvalue, len(x))
		for i, e := range x {
			elems[i] = c.value(e, path+"["+strconv.Itoa(i)+"]", depth+1)
		}
		return cvalue{kind: ckList, elems: elems}
	}
	return cvalue{kind: ckConst, value: v}
}

func (c *paramsCompiler) template(s, path string) cvalue {
	spans, err := splitTemplate(s)
	if err != nil {
		err.Path = path
		c.errs = append(c.errs, err)
		return cvalue{}
	}
	t := &template{path: path}
	exprs := 0
	onlySpace := true
	ok := true
	for _, sp := range spans {
		if !sp.expr {
			if strings.TrimSpace(sp.text) != "" {
				onlySpace = false
			}
			if n := len(t.parts); n > 0 && t.parts[n-1].prog == nil {
				t.parts[n-1].text += sp.text // after an escape
			} else {
				t.parts = append(t.parts, tpart{text: sp.text})
			}
			continue
		}
		exprs++
		c.exprs++
		c.srcBytes += len(sp.text)
		ce := c.compile(sp.text)
		if ce.err != nil {
			e := *ce.err
			e.Path = path
			c.errs = append(c.errs, &e)
			ok = false
			continue
		}
		for _, name := range ce.refs {
			c.refs = append(c.refs, NodeRef{Path: path, Expr: sp.text, Node: name})
		}
		t.parts = append(t.parts, tpart{src: sp.text, prog: ce.prog})
	}
	if !ok {
		return cvalue{}
	}
	if exprs == 0 {
		// Only escapes: the string is its text.
		var b strings.Builder
		for _, p := range t.parts {
			b.WriteString(p.text)
		}
		return cvalue{kind: ckConst, value: b.String()}
	}
	if exprs == 1 && onlySpace {
		t.raw = true
		for _, p := range t.parts {
			if p.prog != nil {
				t.parts = []tpart{p}
				break
			}
		}
	}
	return cvalue{kind: ckTemplate, tmpl: t}
}

// compile compiles one expression, once per distinct source.
func (c *paramsCompiler) compile(src string) *compiledExpr {
	if ce, ok := c.programs[src]; ok {
		return ce
	}
	ce := compileExpr(src)
	c.programs[src] = ce
	return ce
}

// joinKey appends an object key to a params path: .key when the key is an
// identifier, ["key"] otherwise.
func joinKey(path, key string) string {
	if isIdentifier(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '-' || r == '$' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// secretPlaceholder matches a {{secret:NAME}} placeholder (DESIGN §4), which
// is not an expression: it stays in the text so that the host can replace it
// with the secret's value when the module hands an HTTP request over, and
// neither the workflow nor the guest ever holds the value.
var secretPlaceholder = regexp.MustCompile(`^\{\{\s*secret:[A-Za-z0-9_.\-]+\s*\}\}`)

// span is a piece of a template: literal text, or an expression's source.
type span struct {
	text string
	expr bool
}

// splitTemplate splits a string into literal text and expressions.
func splitTemplate(s string) ([]span, *ExpressionError) {
	var spans []span
	lit := 0 // start of the pending literal text
	for i := 0; i < len(s); {
		if s[i] == '{' {
			if m := secretPlaceholder.FindStringIndex(s[i:]); m != nil {
				i += m[1] // literal text: the host fills it in when the request is sent
				continue
			}
		}
		switch {
		case s[i] == '\\' && strings.HasPrefix(s[i+1:], "{{"):
			spans = appendText(spans, s[lit:i]+"{{")
			i += 3
			lit = i
		case strings.HasPrefix(s[i:], "{{"):
			spans = appendText(spans, s[lit:i])
			end := exprEnd(s, i+2)
			if end < 0 {
				return nil, &ExpressionError{Expr: s[i+2:], Reason: `unterminated "{{": no matching "}}"`, open: true}
			}
			src := s[i+2 : end]
			if strings.TrimSpace(src) == "" {
				return nil, &ExpressionError{Expr: src, Reason: "empty expression"}
			}
			spans = append(spans, span{text: src, expr: true})
			i = end + 2
			lit = i
		default:
			i++
		}
	}
	return appendText(spans, s[lit:]), nil
}

func appendText(spans []span, text string) []span {
	if text == "" {
		return spans
	}
	return append(spans, span{text: text})
}

// exprEnd returns the index of the "}}" that closes the expression starting
// at from: the first one outside string literals and braces. It returns -1
// when there is none.
func exprEnd(s string, from int) int {
	depth := 0
	for i := from; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			i = stringEnd(s, i)
			if i < 0 {
				return -1
			}
		case '{':
			depth++
		case '}':
			if depth == 0 && i+1 < len(s) && s[i+1] == '}' {
				return i
			}
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// stringEnd returns the index of the quote closing the literal opened at i, or -1.
func stringEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return j
		}
	}
	return -1
}
