package workflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/workflow"
)

const validWorkflow = `{"name": "enrich-orders",
 "nodes": [
   {"name": "start",  "type": "trigger.manual"},
   {"name": "fields", "module": "wasmflow/set-fields@^1", "params": {"set": {"source": "api"}}},
   {"name": "big?",   "type": "core.if", "params": {"condition": "{{ $json.total > 100 }}"}},
   {"name": "hash",   "module": "wasmflow/hash@1.0.0", "params": {"field": "email"},
    "retry": {"max_attempts": 3, "backoff_ms": 200}, "timeout_ms": 2000, "on_error": "stop"}],
 "connections": [{"from": "start", "to": "fields"}, {"from": "fields", "to": "big?"},
                 {"from": "big?", "from_port": "true", "to": "hash"}]}`

func TestParseValid(t *testing.T) {
	t.Parallel()
	w, err := workflow.Parse([]byte(validWorkflow))
	require.NoError(t, err)
	require.Equal(t, "enrich-orders", w.Name)
	require.Len(t, w.Nodes, 4)
	require.Equal(t, 3, w.Node("hash").Retry.MaxAttempts)
	name, rng := w.Node("fields").ModuleRef()
	require.Equal(t, "wasmflow/set-fields", name)
	require.Equal(t, "^1", rng)
	require.True(t, w.Node("start").IsTrigger())
	require.True(t, w.Node("hash").IsModule())
	require.Nil(t, w.Node("missing"))
}

func problems(t *testing.T, err error) []workflow.Problem {
	t.Helper()
	var verr *workflow.ValidationError
	require.True(t, errors.As(err, &verr), "want *ValidationError, got %v", err)
	return verr.Problems
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	trigger := `{"name": "t", "type": "trigger.manual"}`
	tests := []struct {
		name string
		doc  string
		want []workflow.Problem // each must be present (path and a fragment of the message)
	}{
		{"malformed JSON", `{"name": `, []workflow.Problem{{Path: "", Message: "malformed JSON"}}},
		{"trailing data", `{"name": "x", "nodes": [` + trigger + `], "connections": []} {}`,
			[]workflow.Problem{{Path: "", Message: "unexpected data"}}},
		{"wrong type", `{"name": 5}`, []workflow.Problem{{Path: "name", Message: "must be a string"}}},
		{"unknown field", `{"name": "x", "nodez": []}`, []workflow.Problem{{Path: "nodez", Message: "unknown field"}}},
		{"no name no nodes", `{"nodes": [], "connections": []}`, []workflow.Problem{
			{Path: "name", Message: "is required"}, {Path: "nodes", Message: "at least one node"}}},
		{"long name", `{"name": "` + strings.Repeat("x", 201) + `", "nodes": [` + trigger + `]}`,
			[]workflow.Problem{{Path: "name", Message: "longer than 200"}}},
		{"missing trigger", `{"name": "x", "nodes": [{"name": "a", "type": "core.noop"}]}`,
			[]workflow.Problem{{Path: "nodes", Message: "needs a trigger"}}},
		{"duplicate names", `{"name": "x", "nodes": [` + trigger + `, {"name": "t", "type": "core.noop"}]}`,
			[]workflow.Problem{{Path: "nodes[1].name", Message: "duplicates the name of nodes[0]"}}},
		{"node name problems", `{"name": "x", "nodes": [` + trigger + `, {"name": "", "type": "core.noop"},
			{"name": "a\u0007", "type": "core.noop"}, {"name": "` + strings.Repeat("n", 129) + `", "type": "core.noop"}]}`,
			[]workflow.Problem{{Path: "nodes[1].name", Message: "is required"},
				{Path: "nodes[2].name", Message: "control characters"}, {Path: "nodes[3].name", Message: "longer than 128"}}},
		{"type and module", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.noop", "module": "a/b"}]}`,
			[]workflow.Problem{{Path: "nodes[1]", Message: "both type and module"}}},
		{"neither type nor module", `{"name": "x", "nodes": [` + trigger + `, {"name": "a"}]}`,
			[]workflow.Problem{{Path: "nodes[1].type", Message: "type or module is required"}}},
		{"unknown type", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.nope"}]}`,
			[]workflow.Problem{{Path: "nodes[1].type", Message: `unknown node type "core.nope"`}}},
		{"bad module refs", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "module": "Acme/Thing"},
			{"name": "b", "module": "acme/thing@"}, {"name": "c", "module": "acme/thing@1;rm"}]}`,
			[]workflow.Problem{{Path: "nodes[1].module", Message: "owner/name"},
				{Path: "nodes[2].module", Message: "not a version"}, {Path: "nodes[3].module", Message: "not a version"}}},
		{"bad retry timeout on_error", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "module": "a/b",
			"retry": {"max_attempts": 0, "backoff_ms": -1}, "timeout_ms": -5, "on_error": "explode"}]}`,
			[]workflow.Problem{{Path: "nodes[1].retry.max_attempts", Message: "between 1 and 10"},
				{Path: "nodes[1].retry.backoff_ms", Message: "between 0"},
				{Path: "nodes[1].timeout_ms", Message: "between 0"}, {Path: "nodes[1].on_error", Message: `"stop" or "continue"`}}},
		{"too many attempts", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "module": "a/b",
			"retry": {"max_attempts": 11, "backoff_ms": 3600001}, "timeout_ms": 86400001}]}`,
			[]workflow.Problem{{Path: "nodes[1].retry.max_attempts", Message: "between 1"},
				{Path: "nodes[1].retry.backoff_ms", Message: "between 0"}, {Path: "nodes[1].timeout_ms", Message: "between 0"}}},
		{"secrets", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.noop", "secrets": {"a": "b"}},
			{"name": "b", "module": "a/b", "secrets": {"token": ""}}]}`,
			[]workflow.Problem{{Path: "nodes[1].secrets", Message: "only module nodes"},
				{Path: "nodes[2].secrets", Message: "both names are required"}}},
		{"if without condition", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.if"}]}`,
			[]workflow.Problem{{Path: "nodes[1].params.condition", Message: "is required"}}},
		{"switch without cases", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.switch"}]}`,
			[]workflow.Problem{{Path: "nodes[1].params.cases", Message: "is required"}}},
		{"switch bad cases", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.switch",
			"params": {"cases": [{"port": "x"}, {"condition": "{{ true }}"}, {"port": "x", "condition": "1"}, {"port": "default", "condition": "1"}]}}]}`,
			[]workflow.Problem{{Path: "nodes[1].params.cases[0].condition", Message: "is required"},
				{Path: "nodes[1].params.cases[1].port", Message: "is required"},
				{Path: "nodes[1].params.cases[2].port", Message: `"x" is used twice`},
				{Path: "nodes[1].params.cases[3].port", Message: "reserved"}}},
		{"unknown nodes in connection", `{"name": "x", "nodes": [` + trigger + `], "connections": [{"from": "nope", "to": "gone"}]}`,
			[]workflow.Problem{{Path: "connections[0].from", Message: `unknown node "nope"`},
				{Path: "connections[0].to", Message: `unknown node "gone"`}}},
		{"unknown ports", `{"name": "x", "nodes": [` + trigger + `, {"name": "if", "type": "core.if", "params": {"condition": "1"}},
			{"name": "n", "type": "core.noop"}], "connections": [{"from": "t", "to": "if"},
			{"from": "if", "from_port": "maybe", "to": "n"}, {"from": "t", "to": "n", "to_port": "side"}]}`,
			[]workflow.Problem{{Path: "connections[1].from_port", Message: `no output port "maybe" (it has true, false)`},
				{Path: "connections[2].to_port", Message: `no input port "side"`}}},
		{"into a trigger", `{"name": "x", "nodes": [` + trigger + `, {"name": "n", "type": "core.noop"}],
			"connections": [{"from": "n", "to": "t"}]}`,
			[]workflow.Problem{{Path: "connections[0].to", Message: "is a trigger"}}},
		{"duplicate connection", `{"name": "x", "nodes": [` + trigger + `, {"name": "n", "type": "core.noop"}],
			"connections": [{"from": "t", "to": "n"}, {"from": "t", "from_port": "main", "to": "n"}]}`,
			[]workflow.Problem{{Path: "connections[1]", Message: "duplicates connections[0]"}}},
		{"cycle", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.noop"}, {"name": "b", "type": "core.noop"},
			{"name": "c", "type": "core.noop"}], "connections": [{"from": "t", "to": "a"}, {"from": "a", "to": "b"},
			{"from": "b", "to": "c"}, {"from": "c", "to": "a"}]}`,
			[]workflow.Problem{{Path: "connections[3]", Message: `closes a cycle "a" → "b" → "c" → "a"`}}},
		{"self loop", `{"name": "x", "nodes": [` + trigger + `, {"name": "a", "type": "core.noop"}],
			"connections": [{"from": "a", "to": "a"}]}`,
			[]workflow.Problem{{Path: "connections[0]", Message: "cycle"}}},
		{"settings timeout", `{"name": "x", "nodes": [` + trigger + `], "settings": {"timeout_ms": -1}}`,
			[]workflow.Problem{{Path: "settings.timeout_ms", Message: "between 0"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := workflow.Parse([]byte(tc.doc))
			require.Error(t, err)
			got := problems(t, err)
			for _, want := range tc.want {
				found := false
				for _, p := range got {
					if p.Path == want.Path && strings.Contains(p.Message, want.Message) {
						found = true
						break
					}
				}
				require.True(t, found, "missing problem %+v in %+v", want, got)
			}
			require.Len(t, got, len(tc.want), "unexpected extra problems: %+v", got)
			require.Contains(t, err.Error(), "problem(s)")
		})
	}
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	w := workflow.Workflow{Name: "big", Nodes: make([]workflow.Node, workflow.MaxNodes+1)}
	require.Equal(t, "nodes", problems(t, w.Validate(nil))[0].Path)

	w = workflow.Workflow{Name: "wide", Nodes: []workflow.Node{{Name: "t", Type: workflow.TypeManualTrigger}},
		Connections: make([]workflow.Connection, workflow.MaxConnections+1)}
	require.Equal(t, "connections", problems(t, w.Validate(nil))[0].Path)
}

func TestValidateErrorMessageIsBounded(t *testing.T) {
	t.Parallel()
	w := workflow.Workflow{Nodes: []workflow.Node{{}, {}, {}, {}, {}}}
	err := w.Validate(nil)
	require.Contains(t, err.Error(), "more")
}

func TestValidateModulePorts(t *testing.T) {
	t.Parallel()
	w := workflow.Workflow{Name: "ports", Nodes: []workflow.Node{
		{Name: "t", Type: workflow.TypeManualTrigger},
		{Name: "f", Module: "wasmflow/filter@1"},
		{Name: "n", Type: workflow.TypeNoop},
	}, Connections: []workflow.Connection{
		{From: "t", To: "f"}, {From: "f", FromPort: "kept", To: "n"}, {From: "f", FromPort: "lost", To: "n"},
	}}
	// Without port knowledge, module ports are not checked.
	require.NoError(t, w.Validate(nil))
	require.NoError(t, w.Validate(&workflow.ValidateOptions{
		ModulePorts: func(string) ([]string, []string, bool) { return nil, nil, false },
	}))

	opts := &workflow.ValidateOptions{ModulePorts: func(module string) ([]string, []string, bool) {
		require.Equal(t, "wasmflow/filter@1", module)
		return []string{"main"}, []string{"kept", "dropped"}, true
	}}
	got := problems(t, w.Validate(opts))
	require.Equal(t, []workflow.Problem{{Path: "connections[2].from_port",
		Message: `node "f" has no output port "lost" (it has kept, dropped)`}}, got)
}

func TestSwitchPorts(t *testing.T) {
	t.Parallel()
	n := workflow.Node{Name: "s", Type: workflow.TypeSwitch, Params: map[string]any{
		"cases": []any{map[string]any{"port": "high", "condition": "1"}, "junk"}}}
	in, out, ok := n.Ports(nil)
	require.True(t, ok)
	require.Equal(t, []string{"main"}, in)
	require.Equal(t, []string{"high", workflow.SwitchDefaultPort}, out)
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	w, err := workflow.Parse([]byte(validWorkflow))
	require.NoError(t, err)
	data, err := w.Encode()
	require.NoError(t, err)
	again, err := workflow.Parse(data)
	require.NoError(t, err)
	require.Equal(t, w, again)
	require.Equal(t, "main", w.Connections[0].SourcePort())
	require.Equal(t, "true", w.Connections[2].SourcePort())
	require.Equal(t, "main", w.Connections[2].TargetPort())
}

func TestManifestDefaults(t *testing.T) {
	t.Parallel()
	var m workflow.Manifest
	require.NoError(t, json.Unmarshal([]byte(`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1"}`), &m))
	require.Equal(t, []string{"main"}, m.InputPorts())
	require.Equal(t, []string{"main"}, m.OutputPorts())
	require.Equal(t, "run", m.EntrypointOrDefault())
	m.ABI = workflow.ABIWASICommand
	require.Equal(t, "_start", m.EntrypointOrDefault())
	m.Entrypoint = "go"
	m.Inputs, m.Outputs = []string{"a"}, []string{"b", "c"}
	require.Equal(t, "go", m.EntrypointOrDefault())
	require.Equal(t, []string{"a"}, m.InputPorts())
	require.Equal(t, []string{"b", "c"}, m.OutputPorts())
}

func ExampleParse() {
	_, err := workflow.Parse([]byte(`{"name": "broken",
		"nodes": [{"name": "start", "type": "trigger.manual"}, {"name": "step", "module": "acme/step@^1"}],
		"connections": [{"from": "start", "to": "stpe"}]}`))
	var verr *workflow.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			fmt.Printf("%s: %s\n", p.Path, p.Message)
		}
	}
	// Output:
	// connections[0].to: unknown node "stpe"
}
