// Command set-fields is the wasmflow/set-fields node: it sets, overwrites and
// removes fields on every item.
//
// Params: {"set": {"key": value, ...}, "remove": ["key", ...], "dot_notation": true}.
// Keys are applied in sorted order ("a" before "a.b"), then removals. With
// dot_notation (the default) "a.b" names field b inside object a: setting it
// creates (or replaces with) objects along the way, removing it does nothing
// when a part is missing.
package main

import (
	"fmt"
	"sort"
	"strings"

	wasmflow "github.com/wasmflow/wasmflow/plugins-examples/sdk/go"
)

type params struct {
	Set         map[string]any `json:"set"`
	Remove      []string       `json:"remove"`
	DotNotation *bool          `json:"dot_notation"`
}

func handle(in *wasmflow.Input) (*wasmflow.Output, error) {
	var p params
	if err := in.DecodeParams(&p); err != nil {
		return nil, err
	}
	dots := p.DotNotation == nil || *p.DotNotation
	keys := make([]string, 0, len(p.Set))
	for k := range p.Set {
		if k == "" {
			return nil, fmt.Errorf("invalid params: set: empty field name")
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range p.Remove {
		if k == "" {
			return nil, fmt.Errorf("invalid params: remove[%d]: empty field name", i)
		}
	}
	for _, item := range in.Items {
		for _, k := range keys {
			setPath(item, split(k, dots), clone(p.Set[k]))
		}
		for _, k := range p.Remove {
			removePath(item, split(k, dots))
		}
	}
	logf("set %d and removed %d field(s) on %d item(s)", len(keys), len(p.Remove), len(in.Items))
	return &wasmflow.Output{Items: in.Items}, nil
}

func split(key string, dots bool) []string {
	if !dots {
		return []string{key}
	}
	return strings.Split(key, ".")
}

func setPath(obj map[string]any, path []string, v any) {
	for _, part := range path[:len(path)-1] {
		next, ok := obj[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[part] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = v
}

func removePath(obj map[string]any, path []string) {
	for _, part := range path[:len(path)-1] {
		next, ok := obj[part].(map[string]any)
		if !ok {
			return
		}
		obj = next
	}
	delete(obj, path[len(path)-1])
}

// clone deep-copies a decoded JSON value, so items never share objects.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// logf is wasmflow.LogInfo in the module and a no-op in host tests.
var logf = func(format string, args ...any) {}

func main() {}
