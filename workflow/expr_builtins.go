package workflow

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

// meter counts what one Eval spends; every metered function charges it.
type meter struct {
	steps    int
	bytes    int
	ops      int
	deadline time.Time
	duration time.Duration
	regexps  map[string]*regexp.Regexp
}

// The sizes the meter charges: an element of a list or map, and a pair.
const (
	elemBytes = 16
	pairBytes = 48
)

// Bounds of the metered functions.
const (
	maxLayoutLength = 256 // bytes of a time layout for Format
	maxRegexpCache  = 16  // dynamic patterns kept compiled per Eval
)

func budgetError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrExpressionBudget, fmt.Sprintf(format, args...))
}

// step charges n loop iterations or element visits.
func (m *meter) step(n int) error {
	m.steps += n
	if m.steps > MaxEvalSteps {
		return budgetError("more than %d steps (loop iterations and element visits)", MaxEvalSteps)
	}
	return m.tick()
}

// alloc charges n bytes about to be built.
func (m *meter) alloc(n int) error {
	if n < 0 || n > MaxEvalBytes-m.bytes {
		return budgetError("more than %d bytes of strings and lists built", MaxEvalBytes)
	}
	m.bytes += n
	return m.tick()
}

// fits checks, without charging, that n more bytes may be built.
func (m *meter) fits(n int) error {
	if n > MaxEvalBytes-m.bytes {
		return budgetError("more than %d bytes of strings and lists built", MaxEvalBytes)
	}
	return nil
}

// tick looks at the clock every so often.
func (m *meter) tick() error {
	m.ops++
	if m.ops%256 == 0 {
		return m.checkDeadline()
	}
	return nil
}

func (m *meter) checkDeadline() error {
	if time.Now().After(m.deadline) {
		return budgetError("took longer than %s", m.duration)
	}
	return nil
}

// meteredFunc is a function the rewrite calls, with the meter first.
type meteredFunc func(m *meter, args []any) (any, error)

// meteredBuiltins replace the expr built-ins of the same name: each charges
// what it builds, and checks the size first where the result can be much
// larger than the arguments.
var meteredBuiltins = map[string]meteredFunc{
	"string":     fnString,
	"upper":      stringFunc("upper", strings.ToUpper),
	"lower":      stringFunc("lower", strings.ToLower),
	"split":      splitFunc("split"),
	"splitAfter": splitFunc("splitAfter"),
	"replace":    fnReplace,
	"repeat":     fnRepeat,
	"join":       fnJoin,
	"toJSON":     fnToJSON,
	"fromJSON":   fnFromJSON,
	"toBase64":   fnToBase64,
	"fromBase64": fnFromBase64,
	"keys":       chargeAfter("keys", elemBytes),
	"values":     chargeAfter("values", elemBytes),
	"toPairs":    chargeAfter("toPairs", pairBytes),
	"fromPairs":  chargeAfter("fromPairs", pairBytes),
	"reverse":    chargeAfter("reverse", elemBytes),
	"sort":       chargeAfter("sort", elemBytes),
	"uniq":       fnUniq,
	"concat":     fnConcat,
	"flatten":    fnFlatten,
	"max":        visitFirst("max"),
	"min":        visitFirst("min"),
	"mean":       visitFirst("mean"),
	"median":     visitFirst("median"),
	"date":       fnDate,
}

// meteredFuncs are the functions the rewritten programs call, by name.
var meteredFuncs = func() map[string]func(...any) (any, error) {
	fns := map[string]meteredFunc{
		fnTick:        func(m *meter, _ []any) (any, error) { return nil, m.step(1) },
		fnAdd:         fnStringAdd,
		fnMatches:     fnMatch,
		fnMethod:      func(m *meter, args []any) (any, error) { return callMethod(m, args, false) },
		fnMethodMaybe: func(m *meter, args []any) (any, error) { return callMethod(m, args, true) },
	}
	for name, fn := range meteredBuiltins {
		fns["·"+name] = fn
	}
	out := make(map[string]func(...any) (any, error), len(fns))
	for name, fn := range fns {
		out[name] = func(args ...any) (any, error) {
			m, ok := args[0].(*meter)
			if !ok {
				return nil, errors.New("internal error: no meter")
			}
			return fn(m, args[1:])
		}
	}
	return out
}()

// native calls expr's own implementation of a built-in (all those called
// here have Func or Safe).
func native(name string, args []any) (any, error) {
	f := builtin.Builtins[builtin.Index[name]]
	if f.Safe != nil {
		out, _, err := f.Safe(args...)
		return out, err
	}
	return f.Func(args...)
}

// typeName names a value's type as expressions know it.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case time.Time:
		return "time"
	case time.Duration:
		return "duration"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

func wantArgs(fn string, args []any, minArgs, maxArgs int) error {
	if len(args) < minArgs || len(args) > maxArgs {
		if minArgs == maxArgs {
			return fmt.Errorf("%s: takes %d arguments, not %d", fn, minArgs, len(args))
		}
		return fmt.Errorf("%s: takes %d to %d arguments, not %d", fn, minArgs, maxArgs, len(args))
	}
	return nil
}

func argString(fn string, args []any, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", fmt.Errorf("%s: argument %d must be a string, not %s", fn, i+1, typeName(args[i]))
	}
	return s, nil
}

func argInt(fn string, args []any, i int) (int, error) {
	switch x := args[i].(type) {
	case int:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x), nil
		}
	}
	rv := reflect.ValueOf(args[i])
	if rv.CanInt() {
		return int(rv.Int()), nil
	}
	return 0, fmt.Errorf("%s: argument %d must be an integer, not %s", fn, i+1, typeName(args[i]))
}

// listLen returns the length of a list, or false for anything else.
func listLen(v any) (int, bool) {
	switch x := v.(type) {
	case []any:
		return len(x), true
	case nil:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len(), true
	}
	return 0, false
}

func stringFunc(name string, f func(string) string) meteredFunc {
	return func(m *meter, args []any) (any, error) {
		if err := wantArgs(name, args, 1, 1); err != nil {
			return nil, err
		}
		s, err := argString(name, args, 0)
		if err != nil {
			return nil, err
		}
		if err := m.fits(len(s)); err != nil {
			return nil, err
		}
		out := f(s)
		return out, m.alloc(len(out))
	}
}

func fnString(m *meter, args []any) (any, error) {
	if err := wantArgs("string", args, 1, 1); err != nil {
		return nil, err
	}
	switch x := args[0].(type) {
	case string:
		return x, nil
	case nil, bool, int, int64, float64, time.Time, time.Duration:
		out := fmt.Sprint(x)
		return out, m.alloc(len(out))
	}
	// Check the size first: a list may hold one large value many times.
	left := MaxEvalBytes - m.bytes
	if _, _, err := normalize(args[0], 0, &left); err != nil {
		return nil, argError("string", err)
	}
	out := fmt.Sprint(args[0])
	return out, m.alloc(len(out))
}

// argError reports a normalize error met by a function.
func argError(fn string, err error) error {
	if errors.Is(err, errTooBig) {
		return budgetError("%s: more than %d bytes of strings and lists built", fn, MaxEvalBytes)
	}
	return fmt.Errorf("%s: %w", fn, err)
}

// splitFunc runs split or splitAfter: the parts share the string's memory,
// the list of them is charged.
func splitFunc(name string) meteredFunc {
	return func(m *meter, args []any) (any, error) {
		if err := wantArgs(name, args, 2, 3); err != nil {
			return nil, err
		}
		for i := range 2 {
			if _, err := argString(name, args, i); err != nil {
				return nil, err
			}
		}
		if len(args) == 3 {
			if _, err := argInt(name, args, 2); err != nil {
				return nil, err
			}
		}
		out, err := native(name, args)
		if err != nil {
			return nil, err
		}
		n, _ := listLen(out)
		return out, m.alloc(n * elemBytes)
	}
}

func fnReplace(m *meter, args []any) (any, error) {
	if err := wantArgs("replace", args, 3, 4); err != nil {
		return nil, err
	}
	var strs [3]string
	for i := range strs {
		s, err := argString("replace", args, i)
		if err != nil {
			return nil, err
		}
		strs[i] = s
	}
	s, old, repl := strs[0], strs[1], strs[2]
	limit := -1
	if len(args) == 4 {
		n, err := argInt("replace", args, 3)
		if err != nil {
			return nil, err
		}
		limit = n
	}
	count := strings.Count(s, old)
	if limit >= 0 && limit < count {
		count = limit
	}
	if err := m.alloc(len(s) + count*(len(repl)-len(old))); err != nil {
		return nil, err
	}
	return strings.Replace(s, old, repl, limit), nil
}

func fnRepeat(m *meter, args []any) (any, error) {
	if err := wantArgs("repeat", args, 2, 2); err != nil {
		return nil, err
	}
	s, err := argString("repeat", args, 0)
	if err != nil {
		return nil, err
	}
	n, err := argInt("repeat", args, 1)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("repeat: count %d is negative", n)
	}
	if len(s) > 0 && n > MaxEvalBytes/len(s) {
		return nil, budgetError("repeat: %d × %d bytes is more than %d bytes of strings and lists built", n, len(s), MaxEvalBytes)
	}
	if err := m.alloc(len(s) * n); err != nil {
		return nil, err
	}
	return strings.Repeat(s, n), nil
}

func fnJoin(m *meter, args []any) (any, error) {
	if err := wantArgs("join", args, 1, 2); err != nil {
		return nil, err
	}
	sep := ""
	if len(args) == 2 {
		s, err := argString("join", args, 1)
		if err != nil {
			return nil, err
		}
		sep = s
	}
	var parts []string
	switch x := args[0].(type) {
	case []string:
		parts = x
	case []any:
		parts = make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %s, not a string", i, typeName(e))
			}
			parts[i] = s
		}
	default:
		return nil, fmt.Errorf("join: argument 1 must be an array of strings, not %s", typeName(args[0]))
	}
	if len(parts) == 0 {
		return "", nil
	}
	size := len(sep) * (len(parts) - 1)
	if len(sep) > 0 && len(parts)-1 > MaxEvalBytes/len(sep) {
		size = -1
	}
	for _, p := range parts {
		if size < 0 || size > MaxEvalBytes {
			break
		}
		size += len(p)
	}
	if err := m.alloc(size); err != nil {
		return nil, err
	}
	return strings.Join(parts, sep), nil
}

func fnToJSON(m *meter, args []any) (any, error) {
	if err := wantArgs("toJSON", args, 1, 1); err != nil {
		return nil, err
	}
	left := MaxEvalBytes - m.bytes
	v, _, err := normalize(args[0], 0, &left)
	if err != nil {
		return nil, argError("toJSON", err)
	}
	out, err := encodeCompact(v)
	if err != nil {
		return nil, fmt.Errorf("toJSON: %w", err)
	}
	return out, m.alloc(len(out))
}

func fnFromJSON(m *meter, args []any) (any, error) {
	if err := wantArgs("fromJSON", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("fromJSON", args, 0)
	if err != nil {
		return nil, err
	}
	if err := m.alloc(len(s)); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("fromJSON: %w", err)
	}
	n, err := countElems(m, v)
	if err != nil {
		return nil, err
	}
	return v, m.alloc(n * elemBytes)
}

// countElems counts the elements of decoded JSON (a tree), as steps.
func countElems(m *meter, v any) (int, error) {
	n := 0
	switch x := v.(type) {
	case []any:
		n += len(x)
		for _, e := range x {
			c, err := countElems(m, e)
			if err != nil {
				return 0, err
			}
			n += c
		}
	case map[string]any:
		n += len(x)
		for _, e := range x {
			c, err := countElems(m, e)
			if err != nil {
				return 0, err
			}
			n += c
		}
	default:
		return 0, nil
	}
	return n, m.step(1)
}

func fnToBase64(m *meter, args []any) (any, error) {
	if err := wantArgs("toBase64", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("toBase64", args, 0)
	if err != nil {
		return nil, err
	}
	if err := m.alloc(base64.StdEncoding.EncodedLen(len(s))); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnFromBase64(m *meter, args []any) (any, error) {
	if err := wantArgs("fromBase64", args, 1, 1); err != nil {
		return nil, err
	}
	s, err := argString("fromBase64", args, 0)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("fromBase64: %w", err)
	}
	return string(b), m.alloc(len(b))
}

// dateLayouts are the layouts date tries when it is given none (expr's list).
var dateLayouts = []string{"2006-01-02", "15:04:05", "2006-01-02 15:04:05",
	time.RFC3339, time.RFC822, time.RFC850, time.RFC1123}

// fnDate parses a time as expr's date does, but in UTC rather than in the
// server's local zone: a zone abbreviation such as CET must not tell where
// the server is. The gate rejects the time zone argument.
func fnDate(_ *meter, args []any) (any, error) {
	if err := wantArgs("date", args, 1, 2); err != nil {
		return nil, err
	}
	s, err := argString("date", args, 0)
	if err != nil {
		return nil, err
	}
	if len(args) == 2 {
		layout, err := argString("date", args, 1)
		if err != nil {
			return nil, err
		}
		return time.ParseInLocation(layout, s, time.UTC)
	}
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return nil, fmt.Errorf("date: cannot parse %q (give a layout, e.g. date(s, \"02.01.2006\"))", shorten(s))
}

// chargeAfter runs expr's built-in and charges per element of the result,
// which is at most as long as the argument.
func chargeAfter(name string, per int) meteredFunc {
	return func(m *meter, args []any) (any, error) {
		out, err := native(name, args)
		if err != nil {
			return nil, err
		}
		n, ok := listLen(out)
		if !ok {
			n = reflect.ValueOf(out).Len() // a map, from fromPairs
		}
		return out, m.alloc(n * per)
	}
}

func fnUniq(m *meter, args []any) (any, error) {
	if err := wantArgs("uniq", args, 1, 1); err != nil {
		return nil, err
	}
	n, ok := listLen(args[0])
	if !ok {
		return nil, fmt.Errorf("uniq: argument 1 must be an array, not %s", typeName(args[0]))
	}
	if err := m.step(n); err != nil {
		return nil, err
	}
	if err := m.alloc(n * elemBytes); err != nil {
		return nil, err
	}
	switch x := args[0].(type) {
	case []int:
		return uniqComparable(x), nil
	case []string:
		return uniqComparable(x), nil
	case []float64:
		return uniqComparable(x), nil
	}
	rv := reflect.ValueOf(args[0])
	out := []any{}
	seen := make(map[any]struct{})
	var others []any // values that cannot be map keys, compared one by one
	for i := range n {
		e := rv.Index(i).Interface()
		if k, ok := uniqKey(e); ok {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				out = append(out, e)
			}
			continue
		}
		if err := m.step(len(others)); err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(others, func(o any) bool { return runtime.Equal(e, o) }) {
			others = append(others, e)
			out = append(out, e)
		}
	}
	return out, nil
}

func uniqComparable[T comparable](in []T) []any {
	out := []any{}
	seen := make(map[T]struct{}, len(in))
	for _, e := range in {
		if _, dup := seen[e]; !dup {
			seen[e] = struct{}{}
			out = append(out, e)
		}
	}
	return out
}

type nilKey struct{}

// uniqKey is a map key equal for values runtime.Equal finds equal.
func uniqKey(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nilKey{}, true
	case string, bool:
		return x, true
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	case rv.CanFloat():
		return rv.Float(), true
	}
	return nil, false
}

func fnConcat(m *meter, args []any) (any, error) {
	total := 0
	for i, a := range args {
		n, ok := listLen(a)
		if !ok {
			return nil, fmt.Errorf("concat: argument %d must be an array, not %s", i+1, typeName(a))
		}
		total += n
	}
	if err := m.alloc(total * elemBytes); err != nil {
		return nil, err
	}
	out := make([]any, 0, total)
	for _, a := range args {
		if x, ok := a.([]any); ok {
			out = append(out, x...)
			continue
		}
		rv := reflect.ValueOf(a)
		for i := range rv.Len() {
			out = append(out, rv.Index(i).Interface())
		}
	}
	return out, nil
}

func fnFlatten(m *meter, args []any) (any, error) {
	if err := wantArgs("flatten", args, 1, 1); err != nil {
		return nil, err
	}
	if err := visitLists(m, args[0], 0); err != nil {
		return nil, err
	}
	out, err := native("flatten", args)
	if err != nil {
		return nil, err
	}
	n, _ := listLen(out)
	return out, m.alloc(n * elemBytes)
}

// visitFirst walks nested lists before an aggregate that recurses into
// them: a list can hold the same list twice, at every level.
func visitFirst(name string) meteredFunc {
	return func(m *meter, args []any) (any, error) {
		for _, a := range args {
			if err := visitLists(m, a, 0); err != nil {
				return nil, err
			}
		}
		return native(name, args)
	}
}

// visitLists charges a step per element of v and of the lists inside it.
func visitLists(m *meter, v any, depth int) error {
	n, ok := listLen(v)
	if !ok {
		return nil
	}
	if depth >= MaxParamsDepth {
		return fmt.Errorf("lists nested deeper than %d levels", MaxParamsDepth)
	}
	if err := m.step(n); err != nil {
		return err
	}
	if x, ok := v.([]any); ok {
		for _, e := range x {
			if err := visitLists(m, e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	rv := reflect.ValueOf(v)
	if k := rv.Type().Elem().Kind(); k != reflect.Interface && k != reflect.Slice && k != reflect.Array {
		return nil // []int, []string, …: flat
	}
	for i := range n {
		if err := visitLists(m, rv.Index(i).Interface(), depth+1); err != nil {
			return err
		}
	}
	return nil
}

func fnStringAdd(m *meter, args []any) (any, error) {
	a, aok := args[0].(string)
	b, bok := args[1].(string)
	if aok && bok {
		if err := m.alloc(len(a) + len(b)); err != nil {
			return nil, err
		}
		return a + b, nil
	}
	return runtime.Add(args[0], args[1]), nil
}

func fnMatch(m *meter, args []any) (any, error) {
	s, err := argString("matches", args, 0)
	if err != nil {
		return nil, err
	}
	pattern, err := argString("matches", args, 1)
	if err != nil {
		return nil, err
	}
	if len(pattern) > MaxRegexpLength {
		return nil, fmt.Errorf("matches: regular expression is %d bytes long, more than the %d allowed", len(pattern), MaxRegexpLength)
	}
	re, ok := m.regexps[pattern]
	if !ok {
		if err := m.step(len(pattern)); err != nil {
			return nil, err
		}
		re, err = regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("matches: %w", err)
		}
		if m.regexps == nil {
			m.regexps = make(map[string]*regexp.Regexp)
		}
		if len(m.regexps) < maxRegexpCache {
			m.regexps[pattern] = re
		}
	}
	return re.MatchString(s), m.tick()
}

// Methods expressions may call, by receiver type.
var (
	timeMethods = []string{"Format", "Year", "Month", "Day", "Hour", "Minute", "Second", "Nanosecond",
		"Weekday", "YearDay", "Unix", "UnixMilli", "Add", "AddDate", "Sub", "Before", "After", "Equal",
		"Compare", "UTC", "Truncate", "Round", "IsZero"}
	durationMethods = []string{"Hours", "Minutes", "Seconds", "Milliseconds", "String", "Round", "Truncate", "Abs"}
)

func methodAllowed(name string) bool {
	return slices.Contains(timeMethods, name) || slices.Contains(durationMethods, name)
}

// callMethod calls an allowed method: args are the receiver, the method
// name, then the method's arguments.
func callMethod(m *meter, args []any, optional bool) (any, error) {
	recv, rest := args[0], args[2:]
	name, _ := args[1].(string)
	if recv == nil && optional {
		return nil, nil
	}
	if err := m.tick(); err != nil {
		return nil, err
	}
	fn := name + "()"
	switch r := recv.(type) {
	case time.Time:
		if slices.Contains(timeMethods, name) {
			return timeMethod(m, r, name, fn, rest)
		}
	case time.Duration:
		if slices.Contains(durationMethods, name) {
			return durationMethod(r, name, fn, rest)
		}
	case time.Month:
		if name == "String" && len(rest) == 0 {
			return r.String(), nil
		}
	case time.Weekday:
		if name == "String" && len(rest) == 0 {
			return r.String(), nil
		}
	}
	return nil, fmt.Errorf("method %s is not available on %s", fn, typeName(recv))
}

func timeMethod(m *meter, t time.Time, name, fn string, args []any) (any, error) {
	switch name {
	case "Format":
		if err := wantArgs(fn, args, 1, 1); err != nil {
			return nil, err
		}
		layout, err := argString(fn, args, 0)
		if err != nil {
			return nil, err
		}
		if len(layout) > maxLayoutLength {
			return nil, fmt.Errorf("%s: layout is %d bytes long, more than the %d allowed", fn, len(layout), maxLayoutLength)
		}
		out := t.Format(layout)
		return out, m.alloc(len(out))
	case "Add", "Truncate", "Round":
		if err := wantArgs(fn, args, 1, 1); err != nil {
			return nil, err
		}
		d, ok := args[0].(time.Duration)
		if !ok {
			return nil, fmt.Errorf("%s: argument 1 must be a duration, not %s", fn, typeName(args[0]))
		}
		switch name {
		case "Add":
			return t.Add(d), nil
		case "Truncate":
			return t.Truncate(d), nil
		}
		return t.Round(d), nil
	case "AddDate":
		if err := wantArgs(fn, args, 3, 3); err != nil {
			return nil, err
		}
		var ymd [3]int
		for i := range ymd {
			n, err := argInt(fn, args, i)
			if err != nil {
				return nil, err
			}
			ymd[i] = n
		}
		return t.AddDate(ymd[0], ymd[1], ymd[2]), nil
	case "Sub", "Before", "After", "Equal", "Compare":
		if err := wantArgs(fn, args, 1, 1); err != nil {
			return nil, err
		}
		u, ok := args[0].(time.Time)
		if !ok {
			return nil, fmt.Errorf("%s: argument 1 must be a time, not %s", fn, typeName(args[0]))
		}
		switch name {
		case "Sub":
			return t.Sub(u), nil
		case "Before":
			return t.Before(u), nil
		case "After":
			return t.After(u), nil
		case "Equal":
			return t.Equal(u), nil
		}
		return t.Compare(u), nil
	}
	if err := wantArgs(fn, args, 0, 0); err != nil {
		return nil, err
	}
	switch name {
	case "Year":
		return t.Year(), nil
	case "Month":
		return t.Month(), nil
	case "Day":
		return t.Day(), nil
	case "Hour":
		return t.Hour(), nil
	case "Minute":
		return t.Minute(), nil
	case "Second":
		return t.Second(), nil
	case "Nanosecond":
		return t.Nanosecond(), nil
	case "Weekday":
		return t.Weekday(), nil
	case "YearDay":
		return t.YearDay(), nil
	case "Unix":
		return int(t.Unix()), nil
	case "UnixMilli":
		return int(t.UnixMilli()), nil
	case "UTC":
		return t.UTC(), nil
	}
	return t.IsZero(), nil // "IsZero", the last of timeMethods
}

func durationMethod(d time.Duration, name, fn string, args []any) (any, error) {
	if name == "Round" || name == "Truncate" {
		if err := wantArgs(fn, args, 1, 1); err != nil {
			return nil, err
		}
		m, ok := args[0].(time.Duration)
		if !ok {
			return nil, fmt.Errorf("%s: argument 1 must be a duration, not %s", fn, typeName(args[0]))
		}
		if name == "Round" {
			return d.Round(m), nil
		}
		return d.Truncate(m), nil
	}
	if err := wantArgs(fn, args, 0, 0); err != nil {
		return nil, err
	}
	switch name {
	case "Hours":
		return d.Hours(), nil
	case "Minutes":
		return d.Minutes(), nil
	case "Seconds":
		return d.Seconds(), nil
	case "Milliseconds":
		return int(d.Milliseconds()), nil
	case "String":
		return d.String(), nil
	}
	return d.Abs(), nil // "Abs", the last of durationMethods
}
