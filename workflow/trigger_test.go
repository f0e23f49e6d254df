package workflow_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/workflow"
)

func TestNormalizeWebhookPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"orders": "orders", "/orders/new/": "orders/new", "a.b~c_d-e": "a.b~c_d-e"} {
		got, err := workflow.NormalizeWebhookPath(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"", "/", "a//b", "a/../b", "./a", "a b", "a?b", "%2e%2e", "é", strings.Repeat("a", 65),
		strings.Repeat("a/", 17) + "a", strings.Repeat("abcdefghij/", 19)} {
		_, err := workflow.NormalizeWebhookPath(bad)
		require.Error(t, err, bad)
	}
}

func TestTriggerParamsValidation(t *testing.T) {
	t.Parallel()
	parse := func(nodes string, opts *workflow.ValidateOptions) []workflow.Problem {
		var w workflow.Workflow
		require.NoError(t, json.Unmarshal([]byte(`{"name": "t", "nodes": [`+nodes+`], "connections": []}`), &w))
		w.Normalize()
		err := w.Validate(opts)
		if err == nil {
			return nil
		}
		ve, ok := errors.AsType[*workflow.ValidationError](err)
		require.True(t, ok, "%v", err)
		return ve.Problems
	}
	paths := func(ps []workflow.Problem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Path)
		}
		return out
	}
	require.Empty(t, parse(`{"name": "h", "type": "trigger.webhook", "params": {"path": "a", "method": "get", "respond": "last_node",
		"auth": "hmac", "secret": "k", "replay_window_s": 60, "max_body_bytes": 10, "response_timeout_ms": 1000}}`, nil))
	require.Equal(t, []string{"nodes[0].params.path", "nodes[0].params.method", "nodes[0].params.respond",
		"nodes[0].params.response_timeout_ms", "nodes[0].params.auth", "nodes[0].params.max_body_bytes", "nodes[0].params.response_node"},
		paths(parse(`{"name": "h", "type": "trigger.webhook", "params": {"method": "HEAD", "respond": "later", "response_timeout_ms": 0.5,
			"auth": "basic", "max_body_bytes": -1, "response_node": "nobody"}}`, nil)))
	require.Equal(t, []string{"nodes[0].params.secret", "nodes[0].params.header"},
		paths(parse(`{"name": "h", "type": "trigger.webhook", "params": {"path": "a", "auth": "header", "header": "Bad Header"}}`, nil)))
	require.Equal(t, []string{"nodes[1].params.path"}, paths(parse(`{"name": "a", "type": "trigger.webhook", "params": {"path": "x"}},
		{"name": "b", "type": "trigger.webhook", "params": {"path": "/x/"}}`, nil)), "two nodes, one webhook")
	require.Empty(t, parse(`{"name": "a", "type": "trigger.webhook", "params": {"path": "x"}},
		{"name": "b", "type": "trigger.webhook", "params": {"path": "x", "method": "PUT"}}`, nil))

	require.Empty(t, parse(`{"name": "s", "type": "trigger.schedule", "params": {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "missed": "run_once"}}`, nil))
	require.Equal(t, []string{"nodes[0].params.cron", "nodes[0].params.timezone", "nodes[0].params.missed"},
		paths(parse(`{"name": "s", "type": "trigger.schedule", "params": {"timezone": "Mars/Base", "missed": "later"}}`, nil)))
	cron := &workflow.ValidateOptions{Cron: func(spec string) error {
		if spec == "bad" {
			return errors.New("not a spec")
		}
		return nil
	}}
	require.Equal(t, []string{"nodes[0].params.cron"}, paths(parse(`{"name": "s", "type": "trigger.schedule", "params": {"cron": "bad"}}`, cron)))
	w := &workflow.Workflow{Name: "m", Nodes: []workflow.Node{{Name: "m", Type: workflow.TypeManualTrigger}},
		Settings: &workflow.Settings{ErrorWorkflow: "not an id"}}
	err := w.Validate(nil)
	ve, ok := errors.AsType[*workflow.ValidationError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, []string{"settings.error_workflow"}, paths(ve.Problems))
}

func FuzzNormalizeWebhookPath(f *testing.F) {
	for _, s := range []string{"orders", "/a/b/", "a//b", "..", "a/./b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		p, err := workflow.NormalizeWebhookPath(path)
		if err != nil {
			return
		}
		// A normal path is its own normal form, holds no dot segments and
		// stays within the bounds.
		again, err := workflow.NormalizeWebhookPath(p)
		require.NoError(t, err)
		require.Equal(t, p, again)
		require.LessOrEqual(t, len(p), workflow.MaxWebhookPathLength)
		for _, seg := range strings.Split(p, "/") {
			require.NotContains(t, []string{"", ".", ".."}, seg)
		}
	})
}
