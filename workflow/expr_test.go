package workflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/workflow"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) // a Tuesday

// testEnv is the environment most expression tests evaluate against; Eval
// must not change it, so tests share it.
func testEnv() *workflow.Env {
	return &workflow.Env{
		JSON: workflow.Item{
			"total": 150.0, "name": "Ada", "weird key": "w", "tags": []any{"a", "b"},
			"address": map[string]any{"city": "Zürich & <Co>"}, "when": "2024-01-02",
		},
		Items: []workflow.Item{{"total": 150.0, "name": "Ada"}, {"total": 50.0, "name": "Bob"}},
		Nodes: map[string]workflow.NodeData{
			"start": {Items: []workflow.Item{{"id": "x1"}, {"id": "x2"}}},
			"empty": {},
		},
		Execution: workflow.ExecutionInfo{ID: "ex_1", WorkflowID: "wf_1", Attempt: 2},
		Now:       testNow,
	}
}

// evalOne evaluates one template as the param "p".
func evalOne(t testing.TB, tmpl string, env *workflow.Env) (any, error) {
	t.Helper()
	out, err := workflow.EvalParams(map[string]any{"p": tmpl}, env)
	if err != nil {
		return nil, err
	}
	return out["p"], nil
}

func exprError(t testing.TB, err error) *workflow.ExpressionError {
	t.Helper()
	e, ok := errors.AsType[*workflow.ExpressionError](err)
	require.True(t, ok, "want *ExpressionError, got %T %v", err, err)
	return e
}

func TestTemplateValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tmpl string
		want any
	}{
		// One expression: its raw value.
		{"number", "{{ $json.total }}", 150.0},
		{"bool with whitespace", "  {{ $json.total > 100 }}\n", true},
		{"string", "{{ $json.name }}", "Ada"},
		{"list", "{{ $json.tags }}", []any{"a", "b"}},
		{"object", "{{ $json.address }}", map[string]any{"city": "Zürich & <Co>"}},
		{"null", "{{ nil }}", nil},
		{"int", "{{ 1 + 2 }}", 3},
		{"division", "{{ 7 / 2 }}", 3.5},
		{"object literal with braces", `{{ {"a": {"b": 1}} }}`, map[string]any{"a": map[string]any{"b": 1}}},
		{"braces in a string", `{{ "}}" + '{{' + ` + "`}}`" + ` }}`, "}}{{}}"},
		{"range", "{{ 1..3 }}", []any{1, 2, 3}},
		{"conditional", `{{ $json.total > 100 ? "big" : "small" }}`, "big"},
		{"let", `{{ let x = $json.total; x * 2 }}`, 300.0},
		{"sequence", `{{ 1; 2 }}`, 2},
		{"predicate block", `{{ map(1..2, { let x = #; x * 2 }) }}`, []any{2, 4}},

		// Text and expressions: a string.
		{"interpolated number", "Total: {{ $json.total }}", "Total: 150"},
		{"interpolated list", "{{ $json.name }} has {{ $json.tags }}", `Ada has ["a","b"]`},
		{"interpolated object, no HTML escaping", "{{ $json.address }}!", `{"city":"Zürich & <Co>"}!`},
		{"interpolated null is empty", "x{{ nil }}y{{ $json.missing }}z", "xyz"},
		{"interpolated scalars", "{{ true }} {{ 1.5 }} {{ 2 }} {{ 1e21 }}", "true 1.5 2 1e+21"},
		{"two expressions are text", "{{ 1 }}{{ 2 }}", "12"},

		// No expressions.
		{"plain", "plain", "plain"},
		{"empty", "", ""},
		{"single braces", "{ a } }}", "{ a } }}"},

		// Escapes.
		{"escaped braces", `\{{ $json.name }}`, "{{ $json.name }}"},
		{"escape beside an expression", `\{{ a }} and {{ $json.name }}`, "{{ a }} and Ada"},
		{"braces as a string expression", `{{ "{{" }} x }}`, "{{ x }}"},
		{"other backslashes stay", `a\b\{c`, `a\b\{c`},

		// Secret placeholders are text the host fills in later.
		{"secret placeholder", "{{secret:token}}", "{{secret:token}}"},
		{"secret placeholder in text", "Bearer {{ secret:api.key-1 }} for {{ $json.name }}", "Bearer {{ secret:api.key-1 }} for Ada"},
		{"secret is an ordinary name in an expression", "{{ $json.name }}{{secret:x}}", "Ada{{secret:x}}"},

		// Fields.
		{"index with a weird key", `{{ $json["weird key"] }}`, "w"},
		{"missing field is null", "{{ $json.missing }}", nil},
		{"missing field default", `{{ $json.missing ?? "default" }}`, "default"},
		{"optional chaining", "{{ $json.missing?.deeper }}", nil},
		{"slice of a string", "{{ $json.name[0:2] }}", "Ad"},

		// $items, $node, $execution, $now.
		{"items length", "{{ len($items) }}", 2},
		{"items pipeline", "{{ $items | filter(.total > 100) | map(.name) }}", []any{"Ada"}},
		{"items sum", "{{ sum($items, .total) }}", 200.0},
		{"items index", "{{ $items[1].name }}", "Bob"},
		{"node json is the first item", `{{ $node["start"].json.id }}`, "x1"},
		{"node items", `{{ $node["start"].items | map(.id) }}`, []any{"x1", "x2"}},
		{"node as a member", "{{ $node.start.json.id }}", "x1"},
		{"node without items", `{{ $node["empty"].json }}`, nil},
		{"unknown node has no items", `{{ $node["nope"].items }}`, nil},
		{"node object", `{{ $node["empty"] }}`, map[string]any{"items": nil, "json": nil}},
		{"execution fields", "{{ $execution.id }}/{{ $execution.workflow_id }}/{{ $execution.attempt }}", "ex_1/wf_1/2"},
		{"execution object", "{{ $execution }}", map[string]any{"id": "ex_1", "workflow_id": "wf_1", "attempt": 2}},
		{"now is RFC 3339", "{{ $now }}", "2025-03-04T05:06:07Z"},
		{"now format", `{{ $now.Format("2006-01-02") }}`, "2025-03-04"},
		{"now arithmetic", `{{ ($now + duration("90m")).Hour() }}`, 6},
		{"time difference", `{{ $now - date($json.when) }}`, "10253h6m7s"},

		// Built-in functions.
		{"upper lower", `{{ upper($json.name) + lower("X") }}`, "ADAx"},
		{"trim", `{{ trim("  a ") + trimPrefix("xa", "x") + trimSuffix("ax", "x") }}`, "aaa"},
		{"split join", `{{ join(split("a,b,c", ","), "+") }}`, "a+b+c"},
		{"split n", `{{ splitAfter("a,b,c", ",", 2) }}`, []any{"a,", "b,c"}},
		{"join without separator", `{{ join(["a", "b"]) }}`, "ab"},
		{"join empty", `{{ join([], "-") }}`, ""},
		{"replace", `{{ replace("aaa", "a", "bb") }}`, "bbbbbb"},
		{"replace n", `{{ replace("aaa", "a", "b", 2) }}`, "bba"},
		{"repeat", `{{ repeat("ab", 3) }}`, "ababab"},
		{"operators on strings", `{{ "abc" contains "b" && "abc" startsWith "a" && "abc" endsWith "c" }}`, true},
		{"matches constant", `{{ $json.name matches "^A" }}`, true},
		{"matches dynamic", `{{ $json.name matches ("^" + "B") }}`, false},
		{"matches dynamic twice", `{{ map(["^A", "^B", "^A"], $json.name matches #) }}`, []any{true, false, true}},
		{"not matches", `{{ $json.name not matches "^B" }}`, true},
		{"string of a number", `{{ string(42) }}`, "42"},
		{"string of a list", `{{ string([1, "a"]) }}`, "[1 a]"},
		{"string of a string", `{{ string("s") }}`, "s"},
		{"toJSON is compact", `{{ toJSON({"a": [1, "<"]}) }}`, `{"a":[1,"<"]}`},
		{"fromJSON", `{{ fromJSON("{\"a\": [1, {\"b\": null}]}") }}`, map[string]any{"a": []any{1.0, map[string]any{"b": nil}}}},
		{"base64", `{{ fromBase64(toBase64("hé")) }}`, "hé"},
		{"keys values", `{{ [sort(keys({"b": 1, "a": 2})), sort(values({"b": "y", "a": "x"}))] }}`, []any{[]any{"a", "b"}, []any{"x", "y"}}},
		{"pairs", `{{ fromPairs(toPairs({"a": 1})) }}`, map[string]any{"a": 1}},
		{"to pairs", `{{ toPairs({"a": 1}) }}`, []any{[]any{"a", 1}}},
		{"reverse", `{{ reverse([1, 2, 3]) }}`, []any{3, 2, 1}},
		{"uniq", `{{ uniq([1, 1.0, "a", "a", nil, nil, [1], [1], true]) }}`, []any{1, "a", nil, []any{1}, true}},
		{"uniq typed", `{{ uniq(split("a,b,a", ",")) }}`, []any{"a", "b"}},
		{"uniq ints", `{{ uniq(1..3) }}`, []any{1, 2, 3}},
		{"concat", `{{ concat([1], [2, 3]) }}`, []any{1, 2, 3}},
		{"flatten", `{{ flatten([1, [2, [3]]]) }}`, []any{1, 2, 3}},
		{"aggregates", `{{ [max([1, [5, 3]]), min(4, 2), mean([1, 2, 3]), median([3, 1, 2])] }}`, []any{5, 2, 2.0, 2.0}},
		{"first last take", `{{ [first($json.tags), last($json.tags), take([1, 2, 3], 2)] }}`, []any{"a", "b", []any{1, 2}}},
		{"get", `{{ get($json, "name") }}`, "Ada"},
		{"sortBy", `{{ sortBy($items, .total) | map(.name) }}`, []any{"Bob", "Ada"}},
		{"groupBy", `{{ groupBy($items, .total > 100) }}`, map[string]any{
			"true": []any{map[string]any{"total": 150.0, "name": "Ada"}}, "false": []any{map[string]any{"total": 50.0, "name": "Bob"}}}},
		{"groupBy number keys", `{{ keys(groupBy([1, 2], # % 2)) | sort() }}`, []any{0, 1}},
		{"groupBy object", `{{ groupBy([1, 2], # % 2) }}`, map[string]any{"0": []any{2}, "1": []any{1}}},
		{"reduce", `{{ reduce(1..4, #acc + #, 0) }}`, 10},
		{"predicates", `{{ [all($items, .total > 10), none($items, .total > 500), any($items, .name == "Bob"), one($items, .total > 100)] }}`,
			[]any{true, true, true, true}},
		{"find", `{{ [find($items, .total < 100).name, findIndex($items, .total < 100), find($items, false), findIndex($items, false)] }}`,
			[]any{"Bob", 1, nil, nil}},
		{"predicates on empty lists", `{{ [1, all([], true), none([], true), any([], true), one([], true), filter([], true), map([], 1),
			find([], true), findIndex([], true), count([], true), sum([]), groupBy([], #), sortBy([], #), reduce([], #acc, 0), 2] }}`,
			[]any{1, true, true, false, false, []any{}, []any{}, nil, nil, 0, 0, map[string]any{}, []any{}, 0, 2}},
		{"count", `{{ count($items, .total > 10) }}`, 2},
		{"type", `{{ type($json.tags) }}`, "array"},
		{"numbers", `{{ [abs(-2), ceil(1.2), floor(1.8), round(1.5), int("7"), float("1.5")] }}`, []any{2, 2.0, 1.0, 2.0, 7, 1.5}},
		{"string search", `{{ [indexOf("abc", "c"), lastIndexOf("aba", "a"), hasPrefix("abc", "ab"), hasSuffix("abc", "bc")] }}`,
			[]any{2, 2, true, true}},
		{"date with layout", `{{ date("04.03.2025", "02.01.2006").Month() }}`, 3},
		{"date zone abbreviation is not local", `{{ date("02 Jan 06 15:04 CET") }}`, "2006-01-02T15:04:00Z"},
		{"date with offset", `{{ date("2024-01-02T03:04:05+02:00").UTC() }}`, "2024-01-02T01:04:05Z"},

		// Go values that become JSON.
		{"byte of a string", `{{ first(["abc"])[0] }}`, 97},
		{"month", `{{ uniq([$now.Month(), $now.Month()]) }}`, []any{3}},
		{"month as a count", `{{ repeat("a", first([$now.Month()])) }}`, "aaa"},
		{"typed lists", `{{ [max(1..3), flatten(toPairs({"a": 1})), split("a,b", ",")] }}`, []any{3, []any{"a", 1}, []any{"a", "b"}}},
		{"null map key", `{{ groupBy([1, nil], #) }}`, map[string]any{"1": []any{1}, "null": []any{nil}}},
		{"string map keys", `{{ groupBy($items, .name) | keys() | sort() }}`, []any{"Ada", "Bob"}},
		{"all nodes", `{{ $node | keys() | sort() }}`, []any{"empty", "start"}},
		{"node map", `{{ $node["start"] }}`, map[string]any{
			"items": []any{map[string]any{"id": "x1"}, map[string]any{"id": "x2"}}, "json": map[string]any{"id": "x1"}}},
	}
	env := testEnv()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := evalOne(t, tc.tmpl, env)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestTimeMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want any
	}{
		{`$now.Year()`, 2025}, {`$now.Month()`, 3}, {`$now.Month().String()`, "March"}, {`$now.Day()`, 4},
		{`$now.Hour()`, 5}, {`$now.Minute()`, 6}, {`$now.Second()`, 7}, {`$now.Nanosecond()`, 0},
		{`$now.Weekday()`, 2}, {`$now.Weekday().String()`, "Tuesday"}, {`$now.YearDay()`, 63},
		{`$now.Unix()`, 1741064767}, {`$now.UnixMilli()`, 1741064767000},
		{`$now.Add(duration("1h")).Hour()`, 6}, {`$now.AddDate(0, 1, 1).Format("01-02")`, "04-05"},
		{`first([$now]).AddDate(1.0, 0, 0).Year()`, 2026},
		{`$now.Sub(date("2025-03-04"))`, "5h6m7s"}, {`$now.Before(date("2025-03-05"))`, true},
		{`$now.After(date("2025-03-05"))`, false}, {`$now.Equal($now)`, true}, {`$now.Compare(date("2025-03-05"))`, -1},
		{`$now.UTC().Hour()`, 5}, {`$now.Truncate(duration("1h")).Minute()`, 0}, {`$now.Round(duration("1h")).Hour()`, 5},
		{`$now.IsZero()`, false},
		{`duration("90m").Hours()`, 1.5}, {`duration("90m").Minutes()`, 90.0}, {`duration("90s").Seconds()`, 90.0},
		{`duration("1s").Milliseconds()`, 1000}, {`duration("90m").String()`, "1h30m0s"},
		{`duration("95m").Round(duration("1h"))`, "2h0m0s"}, {`duration("95m").Truncate(duration("1h"))`, "1h0m0s"},
		{`duration("-1m").Abs()`, "1m0s"},
		{`$json.missing?.Format("2006")`, nil},
	}
	env := testEnv()
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			got, err := evalOne(t, "{{ "+tc.expr+" }}", env)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestEvalNestedParams(t *testing.T) {
	t.Parallel()
	typed := []string{"{{ not evaluated }}"}
	params := map[string]any{
		"url":     "https://api.example.com/orders/{{ $json.name }}",
		"retries": 3.0,
		"enabled": true,
		"nothing": nil,
		"typed":   typed,
		"set": map[string]any{
			"total": "{{ $json.total * 2 }}",
			"tags":  []any{"{{ $json.tags[0] }}", "literal", 1.0, []any{"{{ $execution.attempt }}"}},
			"empty": map[string]any{},
		},
		"weird key": "{{ $json[\"weird key\"] }}",
	}
	c, err := workflow.CompileParams(params)
	require.NoError(t, err)
	require.Equal(t, 5, c.Expressions())
	got, err := c.Eval(testEnv())
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"url":     "https://api.example.com/orders/Ada",
		"retries": 3.0,
		"enabled": true,
		"nothing": nil,
		"typed":   typed,
		"set": map[string]any{
			"total": 300.0,
			"tags":  []any{"a", "literal", 1.0, []any{2}},
			"empty": map[string]any{},
		},
		"weird key": "w",
	}, got)
}

func TestEvalDoesNotMutate(t *testing.T) {
	t.Parallel()
	params := map[string]any{
		"a":    "{{ $json.name }}",
		"list": []any{"{{ $json.total }}", map[string]any{"b": "x {{ $json.name }}", "c": 1.0}},
		"obj":  map[string]any{"plain": "text"},
	}
	snapshot, err := json.Marshal(params)
	require.NoError(t, err)
	env := testEnv()
	envSnapshot, err := json.Marshal(env)
	require.NoError(t, err)

	c, err := workflow.CompileParams(params)
	require.NoError(t, err)
	first, err := c.Eval(env)
	require.NoError(t, err)
	// Scribble over the result: the compiled params must not see it.
	first["a"] = "changed"
	first["list"].([]any)[1].(map[string]any)["b"] = "changed"
	first["obj"].(map[string]any)["plain"] = "changed"

	second, err := c.Eval(env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"a":    "Ada",
		"list": []any{150.0, map[string]any{"b": "x Ada", "c": 1.0}},
		"obj":  map[string]any{"plain": "text"},
	}, second)

	after, err := json.Marshal(params)
	require.NoError(t, err)
	require.JSONEq(t, string(snapshot), string(after))
	envAfter, err := json.Marshal(env)
	require.NoError(t, err)
	require.JSONEq(t, string(envSnapshot), string(envAfter))
}

func TestEvalNilAndEmpty(t *testing.T) {
	t.Parallel()
	c, err := workflow.CompileParams(nil)
	require.NoError(t, err)
	out, err := c.Eval(nil)
	require.NoError(t, err)
	require.Nil(t, out)

	out, err = workflow.EvalParams(map[string]any{}, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{}, out)

	// A nil Env is the zero Env: no items, no nodes, now is the current time.
	out, err = workflow.EvalParams(map[string]any{
		"json": "{{ $json }}", "field": "{{ $json.x }}", "items": "{{ len($items) }}",
		"node": `{{ $node["a"].json }}`, "exec": "{{ $execution.id }}", "now": "{{ $now }}",
	}, nil)
	require.NoError(t, err)
	now, err := time.Parse(time.RFC3339Nano, out["now"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), now, time.Minute)
	delete(out, "now")
	require.Equal(t, map[string]any{"json": nil, "field": nil, "items": 0, "node": nil, "exec": ""}, out)
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]any
		path   string // of the first error
		expr   string // a fragment of it
		reason string // a fragment
	}{
		{"syntax", map[string]any{"set": map[string]any{"total": "{{ $json.total * }}"}},
			"set.total", "$json.total *", "unexpected token EOF (1:"},
		{"unterminated", map[string]any{"msg": "Hello {{ $json.name"}, "msg", "$json.name", `unterminated "{{"`},
		{"unterminated string", map[string]any{"msg": `{{ "}} }}`}, "msg", `"}} }}`, "unterminated"},
		{"empty", map[string]any{"msg": "a {{ }} b"}, "msg", " ", "empty expression"},
		{"list path", map[string]any{"cases": []any{map[string]any{"condition": "{{ ) }}"}}},
			"cases[0].condition", ")", "unexpected token"},
		{"weird key path", map[string]any{"a b": map[string]any{"c.d": "{{ ( }}"}}, `["a b"]["c.d"]`, "(", "unexpected token"},
		{"type error", map[string]any{"p": `{{ "a" * 2 }}`}, "p", `"a" * 2`, "invalid operation"},
		{"unknown name", map[string]any{"p": "{{ totl > 1 }}"}, "p", "totl", "unknown name totl"},
		{"execution field", map[string]any{"p": "{{ $execution.user }}"}, "p", "$execution.user", `$execution has no field "user"`},
		{"node field", map[string]any{"p": `{{ $node["a"].data }}`}, "p", `$node["a"].data`, `has no field "data"`},
		{"predicate type", map[string]any{"p": "{{ filter($items, 1) }}"}, "p", "filter", "predicate should return boolean"},
		{"constant regexp", map[string]any{"p": `{{ "a" matches "(" }}`}, "p", "matches", "missing closing )"},
		{"long regexp", map[string]any{"p": `{{ "a" matches "` + strings.Repeat("a", workflow.MaxRegexpLength+1) + `" }}`},
			"p", "matches", "regular expression is 1025 bytes long"},
		{"bytes", map[string]any{"p": `{{ b"x" }}`}, "p", `b"x"`, "byte string literals"},
		{"date with a time zone", map[string]any{"p": `{{ date("2024-01-01", "2006-01-02", "UTC") }}`}, "p", "date", "no time zone"},
		{"call a value", map[string]any{"p": `{{ $json["Format"]() }}`}, "p", "Format", "unexpected token"},
		{"call a let variable", map[string]any{"p": `{{ let f = upper; f("a") }}`}, "p", "f(", "unknown function f()"},
		{"call a pipe of a value", map[string]any{"p": `{{ "a" | $now() }}`}, "p", "$now", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := workflow.CompileParams(tc.params)
			require.Error(t, err)
			require.Nil(t, c)
			errs, ok := errors.AsType[workflow.ExpressionErrors](err)
			require.True(t, ok, "want ExpressionErrors, got %T", err)
			require.NotEmpty(t, errs)
			e := exprError(t, err)
			require.Equal(t, tc.path, e.Path)
			require.Contains(t, e.Expr, tc.expr)
			require.Contains(t, e.Reason, tc.reason)
			require.Contains(t, err.Error(), e.Reason)
			require.Contains(t, err.Error(), "workflow: params")
		})
	}
}

func TestEvalJSONNumber(t *testing.T) {
	t.Parallel()
	env := &workflow.Env{JSON: workflow.Item{"n": json.Number("12.50")}}
	out, err := workflow.EvalParams(map[string]any{"raw": "{{ $json.n }}", "text": "n={{ $json.n }}"}, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"raw": json.Number("12.50"), "text": "n=12.50"}, out)
}

func TestEvalParamsCompileError(t *testing.T) {
	t.Parallel()
	out, err := workflow.EvalParams(map[string]any{"1st": "{{ ( }}"}, nil)
	require.Nil(t, out)
	require.Equal(t, `["1st"]`, exprError(t, err).Path)
}

func TestCompileCollectsEveryError(t *testing.T) {
	t.Parallel()
	_, err := workflow.CompileParams(map[string]any{
		"b":  "{{ ( }}",
		"a":  []any{"ok {{ 1 }}", "{{ 1 + }}"},
		"ok": "{{ $json.x }}",
	})
	errs, ok := errors.AsType[workflow.ExpressionErrors](err)
	require.True(t, ok)
	require.Len(t, errs, 2)
	require.Equal(t, "a[1]", errs[0].Path)
	require.Equal(t, "b", errs[1].Path)
	require.Contains(t, err.Error(), "; and 1 more")
	require.Len(t, errs.Unwrap(), 2)
	require.Equal(t, "workflow: no expression errors", workflow.ExpressionErrors{}.Error())
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tmpl   string
		reason string
	}{
		{"operator types", "{{ $json.name * 2 }}", "invalid operation: string * int (1:"},
		{"add types", `{{ $json.total + "a" }}`, "invalid operation: float64 + string"},
		{"function argument", "{{ upper($json.total) }}", "upper: argument 1 must be a string, not float"},
		{"native function argument", `{{ indexOf($json.total, "a") }}`, "wrong type: float64 where string is needed"},
		{"index", "{{ $items[5] }}", "index out of range"},
		{"field of null", "{{ $json.missing.deeper }}", "cannot fetch deeper from <nil>"},
		{"infinity", "{{ 1 / 0 }}", "the number +Inf has no JSON form"},
		{"infinity in text", "x {{ 1 / 0 }}", "the number +Inf has no JSON form"},
		{"method value", "{{ $now.Year }}", "has no JSON form"},
		{"method on a string", `{{ $json.name.Format("2006") }}`, "method Format() is not available on string"},
		{"method on null", `{{ $json.missing.Year() }}`, "method Year() is not available on nil"},
		// first([x]) hides the type from the checker: the method is checked as it runs.
		{"method arguments", `{{ first([$now]).Format() }}`, "Format(): takes 1 arguments, not 0"},
		{"method argument type", `{{ first([$now]).Add(1) }}`, "Add(): argument 1 must be a duration, not int"},
		{"method argument time", `{{ first([$now]).Sub(1) }}`, "Sub(): argument 1 must be a time, not int"},
		{"method argument int", `{{ first([$now]).AddDate("a", 1, 1) }}`, "AddDate(): argument 1 must be an integer, not string"},
		{"method no arguments", `{{ first([$now]).Year(1) }}`, "Year(): takes 0 arguments, not 1"},
		{"duration argument", `{{ first([duration("1h")]).Round($now) }}`, "Round(): argument 1 must be a duration, not time"},
		{"duration no arguments", `{{ first([duration("1h")]).Hours(1) }}`, "Hours(): takes 0 arguments, not 1"},
		{"method of a month", `{{ first([$now.Month()]).Hours() }}`, "method Hours() is not available on int"},
		{"long layout", `{{ $now.Format(repeat("2006", 100)) }}`, "layout is 400 bytes long"},
		{"bad regexp at run time", `{{ "a" matches ("(" + $json.name) }}`, "matches: error parsing regexp"},
		{"long regexp at run time", `{{ "a" matches repeat("a", 2000) }}`, "regular expression is 2000 bytes long"},
		{"regexp subject", `{{ $json.total matches ("a" + "") }}`, "matches: argument 1 must be a string, not float"},
		{"regexp pattern", `{{ "a" matches $json.total }}`, "matches: argument 2 must be a string, not float"},
		{"join elements", `{{ join([1], ",") }}`, "join: element 0 is int, not a string"},
		{"join argument", `{{ join($json.name) }}`, "join: argument 1 must be an array of strings, not string"},
		{"join separator", `{{ join($json.tags, $json.total) }}`, "join: argument 2 must be a string"},
		{"repeat count", `{{ repeat("a", -1) }}`, "repeat: count -1 is negative"},
		{"repeat count type", `{{ repeat("a", $json.name) }}`, "repeat: argument 2 must be an integer, not string"},
		{"repeat string", `{{ repeat($json.total, 2) }}`, "repeat: argument 1 must be a string"},
		{"replace argument", `{{ replace("a", $json.total, "b") }}`, "replace: argument 2 must be a string"},
		{"replace count", `{{ replace("a", "a", "b", $json.name) }}`, "replace: argument 4 must be an integer"},
		{"split argument", `{{ split($json.total, ",") }}`, "split: argument 1 must be a string"},
		{"split count", `{{ split("a", ",", $json.name) }}`, "split: argument 3 must be an integer"},
		{"fromJSON", `{{ fromJSON("{") }}`, "fromJSON: unexpected end of JSON input"},
		{"fromJSON argument", `{{ fromJSON($json.total) }}`, "fromJSON: argument 1 must be a string"},
		{"fromBase64", `{{ fromBase64("!") }}`, "fromBase64: illegal base64 data"},
		{"toBase64 argument", `{{ toBase64($json.total) }}`, "toBase64: argument 1 must be a string"},
		{"fromBase64 argument", `{{ fromBase64($json.total) }}`, "fromBase64: argument 1 must be a string"},
		{"toJSON of a function", `{{ toJSON($now.Year) }}`, "toJSON: a value of type func() int has no JSON form"},
		{"string of a function", `{{ string([$now.Year]) }}`, "string: a value of type func() int has no JSON form"},
		{"date", `{{ date("nope") }}`, `date: cannot parse "nope"`},
		{"date layout", `{{ date("nope", "2006") }}`, `cannot parse "nope" as "2006"`},
		{"date argument", `{{ date(first([1])) }}`, "date: argument 1 must be a string, not int"},
		{"date layout argument", `{{ date("x", first([1])) }}`, "date: argument 2 must be a string, not int"},
		{"uniq argument", `{{ uniq($json.name) }}`, "uniq: argument 1 must be an array, not string"},
		{"flatten argument", `{{ flatten(first(["a"])) }}`, "cannot flatten string"},
		{"type name bool", `{{ upper(first([true])) }}`, "upper: argument 1 must be a string, not bool"},
		{"type name time", `{{ upper(first([$now])) }}`, "not time"},
		{"type name duration", `{{ upper(first([duration("1s")])) }}`, "not duration"},
		{"type name map", `{{ upper(first([{"a": 1}])) }}`, "not map"},
		{"type name struct", `{{ upper(first([$execution])) }}`, "not map"},
		{"type name list", `{{ upper(first([[1]])) }}`, "not array"},
		{"type name nil", `{{ upper(first([nil])) }}`, "not nil"},
		{"integer from a float", `{{ repeat("a", first([1.5])) }}`, "repeat: argument 2 must be an integer, not float"},
		{"concat argument", `{{ concat([1], $json.name) }}`, "concat: argument 2 must be an array, not string"},
		{"keys argument", `{{ keys($json.name) }}`, "cannot get keys from string"},
		{"too deep", `{{ reduce(1..200, [#acc], 0) }}`, "nested deeper than 128 levels"},
		{"flatten too deep", `{{ flatten(reduce(1..200, [#acc], 0)) }}`, "nested deeper than 128 levels"},
	}
	env := testEnv()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := workflow.CompileParams(map[string]any{"set": map[string]any{"p": tc.tmpl}})
			require.NoError(t, err)
			_, err = c.Eval(env)
			require.Error(t, err)
			e := exprError(t, err)
			require.Equal(t, "set.p", e.Path)
			require.Contains(t, tc.tmpl, e.Expr)
			require.Contains(t, e.Reason, tc.reason)
			require.Contains(t, err.Error(), `workflow: params.set.p: expression "{{`)
			require.NotErrorIs(t, err, workflow.ErrExpressionBudget)
		})
	}
}

func TestEvalBudget(t *testing.T) {
	t.Parallel()
	manyItems := make([]workflow.Item, 2000)
	for i := range manyItems {
		manyItems[i] = workflow.Item{"i": float64(i)}
	}
	big := strings.Repeat("x", 9<<20)
	tests := []struct {
		name   string
		params map[string]any
		env    *workflow.Env
		reason string
	}{
		{"huge range", map[string]any{"p": "{{ 1..1000000000 }}"}, nil, "more than 1000000 values in ranges"},
		{"huge range in a loop", map[string]any{"p": "{{ count(1..1000, count(1..1000, true) > 0) }}"}, nil, "values in ranges"},
		{"huge repeat", map[string]any{"p": `{{ repeat("x", 1000000000) }}`}, nil, "repeat: 1000000000 × 1 bytes"},
		{"repeats add up", map[string]any{"p": `{{ map(1..100, repeat("x", 1000000)) }}`}, nil, "bytes of strings and lists built"},
		{"string doubling", map[string]any{"p": `{{ reduce(1..40, #acc + #acc, "x") }}`}, nil, "bytes of strings and lists built"},
		{"concatenation in a loop", map[string]any{"p": `{{ let s = repeat("x", 1000000); map(1..100, s + "y") }}`}, nil, "bytes of strings"},
		{"join amplification", map[string]any{"p": `{{ join(map(1..300000, "x"), repeat("y", 300000)) }}`}, nil, "bytes of strings"},
		{"replace amplification", map[string]any{"p": `{{ replace(repeat("a", 100000), "", repeat("b", 1000)) }}`}, nil, "bytes of strings"},
		{"base64 nesting", map[string]any{"p": "{{ " + strings.Repeat("toBase64(", 80) + `repeat("x", 100000)` + strings.Repeat(")", 80) + " }}"},
			nil, "bytes of strings"},
		{"upper in a loop", map[string]any{"p": `{{ let s = repeat("x", 1000000); map(1..100, upper(s)) }}`}, nil, "bytes of strings"},
		{"split in a loop", map[string]any{"p": `{{ let s = repeat("x,", 100000); map(1..100, split(s, ",")) }}`}, nil, "bytes of strings"},
		{"concat doubling", map[string]any{"p": `{{ reduce(1..40, concat(#acc, #acc), [1]) }}`}, nil, "bytes of strings"},
		{"reverse in a loop", map[string]any{"p": `{{ let r = 1..100000; map(1..1000, reverse(r)) }}`}, nil, "bytes of strings"},
		{"list doubling as a value", map[string]any{"p": `{{ reduce(1..60, [#acc, #acc], 1) }}`}, nil, "more than 16777216 bytes of JSON"},
		{"list doubling in text", map[string]any{"p": `x {{ reduce(1..60, [#acc, #acc], 1) }}`}, nil, "bytes of JSON"},
		{"list doubling to JSON", map[string]any{"p": `{{ toJSON(reduce(1..60, [#acc, #acc], 1)) }}`}, nil, "toJSON: more than"},
		{"list doubling to string", map[string]any{"p": `{{ string(reduce(1..60, [#acc, #acc], 1)) }}`}, nil, "string: more than"},
		{"list doubling flattened", map[string]any{"p": `{{ flatten(reduce(1..60, [#acc, #acc], 1)) }}`}, nil, "steps"},
		{"list doubling aggregated", map[string]any{"p": `{{ max(reduce(1..60, [#acc, #acc], 1)) }}`}, nil, "steps"},
		{"nested loops", map[string]any{"p": "{{ let r = 1..1000; sum(r, count(r, # > 0)) }}"}, nil,
			"more than 1000000 steps (loop iterations and element visits)"},
		{"nested loops over items", map[string]any{"p": "{{ sum($items, count($items, .i >= 0)) }}"},
			&workflow.Env{Items: manyItems}, "steps"},
		{"steps add up across expressions", map[string]any{
			"a": "{{ let r = 1..800; sum(r, count(r, # > 0)) }}", // 640800 steps
			"b": "{{ let r = 1..800; sum(r, count(r, # > 0)) }}",
		}, nil, "steps"},
		{"uniq of non-keys", map[string]any{"p": "{{ uniq(map(1..2000, [#])) }}"}, nil, "steps"},
		{"fromJSON size", map[string]any{"p": `{{ let s = "[" + repeat("[1,2,3,4],", 50000) + "[]]"; map(1..100, fromJSON(s)) }}`}, nil,
			"bytes of strings"},
		{"upper checks the size first", map[string]any{"p": `{{ let s = repeat("x", 30000000); upper(s) }}`}, nil, "bytes of strings"},
		{"results add up", map[string]any{"a": "{{ $json.big }}", "b": "{{ $json.big }}"},
			&workflow.Env{JSON: workflow.Item{"big": big}}, "bytes of JSON"},
		{"text adds up", map[string]any{"a": "{{ $json.big }}", "b": big + "{{ 1 }}"},
			&workflow.Env{JSON: workflow.Item{"big": big}}, "bytes of JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := workflow.CompileParams(tc.params)
			require.NoError(t, err)
			// Each case runs out of a deterministic budget; the clock, which
			// -race and a busy machine slow down, must not get there first.
			workflow.SetEvalDuration(c, time.Minute)
			start := time.Now()
			_, err = c.Eval(tc.env)
			// No timed assertion (a loaded machine makes any bound flaky):
			// the reason below shows which deterministic budget stopped it.
			t.Logf("%s: failed after %s", tc.name, time.Since(start))
			require.ErrorIs(t, err, workflow.ErrExpressionBudget)
			e := exprError(t, err)
			require.Contains(t, e.Reason, tc.reason)
			require.Contains(t, e.Reason, "expression budget exceeded")
		})
	}
}

func TestEvalTimeLimit(t *testing.T) {
	t.Parallel()
	// Each step is cheap to count but scans a megabyte: steps alone would
	// allow minutes of work, the clock stops it.
	c, err := workflow.CompileParams(map[string]any{
		"p": `{{ let s = repeat("a", 1000000); count(1..999999, indexOf(s, "b") >= 0) }}`,
	})
	require.NoError(t, err)
	workflow.SetEvalDuration(c, 50*time.Millisecond)
	start := time.Now()
	_, err = c.Eval(nil)
	require.Less(t, time.Since(start), 20*time.Second, "the clock stopped it, not minutes of work")
	require.ErrorIs(t, err, workflow.ErrExpressionBudget)
	require.Contains(t, exprError(t, err).Reason, "took longer than 50ms")

	// The clock is checked before each expression too.
	c, err = workflow.CompileParams(map[string]any{"p": "{{ 1 }}"})
	require.NoError(t, err)
	workflow.SetEvalDuration(c, -time.Second)
	_, err = c.Eval(nil)
	require.ErrorIs(t, err, workflow.ErrExpressionBudget)
}

func TestCompileLimits(t *testing.T) {
	t.Parallel()
	long := "{{ " + strings.Repeat("1+", workflow.MaxExpressionLength/2) + "1 }}"
	_, err := workflow.CompileParams(map[string]any{"p": long})
	require.Contains(t, exprError(t, err).Reason, "bytes long, more than the 4096 allowed")
	require.Contains(t, err.Error(), "…", "long expressions are shortened in messages")

	// Many expressions: the node's total is bounded too.
	many := map[string]any{}
	for i := range 20 {
		many[fmt.Sprint("p", i)] = "{{ " + strings.Repeat("1+", 1800) + "1 }}"
	}
	_, err = workflow.CompileParams(many)
	e := exprError(t, err)
	require.Empty(t, e.Path)
	require.Contains(t, e.Reason, "more than the 65536 allowed")
	require.Equal(t, "workflow: params: "+e.Reason, e.Error())

	// A syntax tree beyond MaxExpressionNodes.
	nested := "{{ " + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + " }}"
	_, err = workflow.CompileParams(map[string]any{"p": nested})
	require.Contains(t, exprError(t, err).Reason, "exceeds maximum allowed nodes")

	// Deep parentheses are one node and fine.
	got, err := evalOne(t, "{{ "+strings.Repeat("(", 2000)+"1"+strings.Repeat(")", 2000)+" }}", nil)
	require.NoError(t, err)
	require.Equal(t, 1, got)

	// Params nested deeper than MaxParamsDepth.
	var deep any = "{{ 1 }}"
	for range workflow.MaxParamsDepth + 1 {
		deep = []any{deep}
	}
	_, err = workflow.CompileParams(map[string]any{"p": deep})
	require.Contains(t, exprError(t, err).Reason, "nested deeper than 128 levels")
	deep = "x"
	for range workflow.MaxParamsDepth + 1 {
		deep = map[string]any{"k": deep}
	}
	_, err = workflow.CompileParams(map[string]any{"p": deep})
	require.Contains(t, exprError(t, err).Reason, "nested deeper")
}

func TestNoEnvironmentAccess(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, reason string }{
		{"$env", "$env is not available"},
		{`$env["$json"]`, "$env is not available"},
		{"$env.HOME", "$env is not available"},
		{`get($env, "PATH")`, "$env is not available"},
		{`$env?.PATH ?? ""`, "$env is not available"},
		{"os", "unknown name os"},
		{"env", "unknown name env"},
		{"HOME", "unknown name HOME"},
		{`getenv("HOME")`, "unknown function getenv()"},
		{`os.Getenv("HOME")`, "method Getenv() is not available"},
		{`exec("ls")`, "unknown function exec()"},
		{`readFile("/etc/passwd")`, "unknown function readFile()"},
		{"now()", "now() is not available: use $now"},
		{`timezone("Europe/Berlin")`, "timezone() is not available"},
		{`bitand(1, 2)`, "bitand() is not available"},
		{`date("2024-01-01", "2006-01-02", "Local")`, "no time zone"},
		{"$now.Local()", "method Local() is not available"},
		{"$now.Location()", "method Location() is not available"},
		{"$now.Zone()", "method Zone() is not available"},
		{`$now.In($now.Location())`, "method In() is not available"},
		{"let f = $now.Local; f()", "unknown function f()"},
		{"$json.Format()()", "unexpected token"},
		{"findLast($items, true)", "findLast() is not available"},
		{"findLastIndex($items, true)", "findLastIndex() is not available"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			_, err := workflow.CompileParams(map[string]any{"p": "{{ " + tc.expr + " }}"})
			require.Error(t, err)
			require.Contains(t, exprError(t, err).Reason, tc.reason)
		})
	}
}

func TestNodeRefs(t *testing.T) {
	t.Parallel()
	c, err := workflow.CompileParams(map[string]any{
		"a": `{{ $node["fetch"].json.id }} {{ $node.start.items }}`,
		"b": []any{`{{ len($node["fetch"].items) + len($node["fetch"].items) }}`, `{{ $node[$json.name] }}`},
	})
	require.NoError(t, err)
	require.Equal(t, []workflow.NodeRef{
		{Path: "a", Expr: ` $node["fetch"].json.id `, Node: "fetch"},
		{Path: "a", Expr: ` $node.start.items `, Node: "start"},
		{Path: "b[0]", Expr: ` len($node["fetch"].items) + len($node["fetch"].items) `, Node: "fetch"},
	}, c.NodeRefs())
}

func TestValidateExpressions(t *testing.T) {
	t.Parallel()
	doc := `{"name": "exprs", "nodes": [
	  {"name": "start", "type": "trigger.manual"},
	  {"name": "set", "module": "wasmflow/set-fields@^1", "params": {"set": {"total": "{{ $json.total * }}", "ok": "{{ $json.a }}"},
	   "list": ["{{ 1 }}", "Hello {{ $json.name"], "a b": "{{ $env }}"}},
	  {"name": "big?", "type": "core.if", "params": {"condition": "{{ $json.total > }}"}},
	  {"name": "route", "type": "core.switch", "params": {"cases": [
	    {"port": "a", "condition": "{{ $json.x == 1 }}"}, {"port": "b", "condition": "{{ $json.x === 2 }}"}]}},
	  {"name": "refs", "type": "core.noop", "params": {"x": "{{ $node[\"start\"].json }}", "y": "{{ $node[\"fecth\"].json }}"}}],
	 "connections": [{"from": "start", "to": "set"}, {"from": "set", "to": "big?"}, {"from": "big?", "from_port": "true", "to": "route"},
	   {"from": "route", "from_port": "a", "to": "refs"}]}`
	_, err := workflow.Parse([]byte(doc))
	got := problems(t, err)
	want := []struct{ path, msg string }{
		{`nodes[1].params["a b"]`, `expression "{{ $env }}": $env is not available`},
		{"nodes[1].params.list[1]", `expression "{{ $json.name": unterminated "{{"`},
		{"nodes[1].params.set.total", `expression "{{ $json.total * }}": unexpected token EOF (1:15)`},
		{"nodes[2].params.condition", `expression "{{ $json.total > }}": unexpected token EOF`},
		{"nodes[3].params.cases[1].condition", `expression "{{ $json.x === 2 }}": unexpected token`},
		{"nodes[4].params.y", `expression "{{ $node[\"fecth\"].json }}" refers to unknown node "fecth"`},
	}
	require.Len(t, got, len(want), "%+v", got)
	for i, w := range want {
		require.Equal(t, w.path, got[i].Path)
		require.Contains(t, got[i].Message, w.msg)
	}
}

func TestEvalConcurrent(t *testing.T) {
	t.Parallel()
	c, err := workflow.CompileParams(map[string]any{
		"name": "{{ upper($json.name) }}", "n": "{{ $items | map(.i * 2) | sum() }}",
		"m": `{{ map(["^A", "^B"], $json.name matches #) }}`,
	})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			name := fmt.Sprint("g", g)
			env := &workflow.Env{JSON: workflow.Item{"name": name}, Items: []workflow.Item{{"i": float64(g)}}}
			for range 200 {
				out, err := c.Eval(env)
				require.NoError(t, err)
				require.Equal(t, strings.ToUpper(name), out["name"])
				require.Equal(t, float64(2*g), out["n"])
			}
		})
	}
	wg.Wait()
}

func TestExpressionErrorMessage(t *testing.T) {
	t.Parallel()
	e := &workflow.ExpressionError{Path: "set.total", Expr: " $json.a * ", Reason: "boom"}
	require.Equal(t, `workflow: params.set.total: expression "{{ $json.a * }}": boom`, e.Error())
	e = &workflow.ExpressionError{Path: `["a b"]`, Expr: "x", Reason: "boom"}
	require.Equal(t, `workflow: params["a b"]: expression "{{x}}": boom`, e.Error())
	require.NoError(t, errors.Unwrap(e))
	long := &workflow.ExpressionError{Path: "p", Expr: strings.Repeat("é", 100), Reason: "r"}
	require.Contains(t, long.Error(), "…")
}

func ExampleCompileParams() {
	params := map[string]any{
		"url":   "https://api.example.com/orders/{{ $json.id }}",
		"total": "{{ $json.total * 1.2 }}",
		"big":   "{{ $json.total > 100 }}",
		"note":  `{{ $json.note ?? "none" }}, run {{ $execution.attempt }}`,
		"names": `{{ $items | map(upper(.name)) }}`,
	}
	c, err := workflow.CompileParams(params) // once per workflow version
	if err != nil {
		panic(err)
	}
	out, err := c.Eval(&workflow.Env{ // once per run
		JSON:      workflow.Item{"id": "o-17", "total": 250.0},
		Items:     []workflow.Item{{"name": "ada"}, {"name": "bob"}},
		Execution: workflow.ExecutionInfo{Attempt: 1},
	})
	if err != nil {
		panic(err)
	}
	for _, k := range slices.Sorted(maps.Keys(out)) {
		fmt.Printf("%s: %#v\n", k, out[k])
	}

	_, err = workflow.CompileParams(map[string]any{"if": map[string]any{"condition": "{{ $json.total > }}"}})
	fmt.Println(err)
	// Output:
	// big: true
	// names: []interface {}{"ADA", "BOB"}
	// note: "none, run 1"
	// total: 300
	// url: "https://api.example.com/orders/o-17"
	// workflow: params.if.condition: expression "{{ $json.total > }}": unexpected token EOF (1:15)
}

// FuzzTemplate: compiling any template never panics, and neither does
// evaluating one that compiles; errors are *ExpressionError with a reason,
// results encode as JSON, and params are left as they were. The seeds are
// in testdata/fuzz/FuzzTemplate, with every crasher kept as a regression case.
func FuzzTemplate(f *testing.F) {
	env := testEnv()
	f.Fuzz(func(t *testing.T, tmpl string) {
		params := map[string]any{"p": tmpl, "n": []any{map[string]any{"q": tmpl}}}
		c, err := workflow.CompileParams(params)
		if err != nil {
			errs, ok := errors.AsType[workflow.ExpressionErrors](err)
			require.True(t, ok, "%T", err)
			for _, e := range errs {
				require.NotEmpty(t, e.Reason)
			}
			return
		}
		workflow.SetEvalDuration(c, 100*time.Millisecond)
		out, err := c.Eval(env)
		require.Equal(t, tmpl, params["p"])
		if err != nil {
			require.NotEmpty(t, exprError(t, err).Reason)
			return
		}
		_, err = json.Marshal(out)
		require.NoError(t, err)
	})
}

func BenchmarkEval(b *testing.B) {
	c, err := workflow.CompileParams(map[string]any{
		"total":  "{{ $json.total * 1.2 }}",
		"url":    "https://api.example.com/orders/{{ $json.id }}",
		"big":    "{{ $json.total > 100 && $json.name startsWith \"A\" }}",
		"names":  "{{ $items | filter(.total > 100) | map(upper(.name)) }}",
		"source": `{{ $node["start"].json.id ?? "none" }}`,
		"static": map[string]any{"retries": 3.0, "tags": []any{"a", "b"}},
	})
	require.NoError(b, err)
	require.Equal(b, 5, c.Expressions())
	env := testEnv()
	env.JSON["id"] = "o-17"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}
