package registry_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/workflow"
)

// The embedded schema is a valid draft 2020-12 schema, and every example's
// manifest satisfies it.
func TestManifestSchema(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(registry.ManifestSchema, &doc))
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc["$schema"])
	_, err := registry.CompileParamsSchema(registry.ManifestSchema)
	require.NoError(t, err)

	manifests, err := filepath.Glob(filepath.Join(examplesDir, "*", "wasmflow.json"))
	require.NoError(t, err)
	for _, path := range manifests {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		m, err := registry.ParseManifest(data)
		require.NoError(t, err, path)
		require.True(t, strings.HasPrefix(m.Name, "wasmflow/"))
	}
}

func TestParseManifest(t *testing.T) {
	t.Parallel()
	m, err := registry.ParseManifest([]byte(`{
		"name": "acme/slack-post", "version": "1.2.0-rc.1", "abi": "extism-v1", "entrypoint": "run",
		"description": "Posts items to a Slack channel", "io": "document",
		"inputs": ["main"], "outputs": ["main", "error"],
		"params_schema": { "type": "object", "properties": { "channel": {"type": "string", "pattern": "^#<x>"} } },
		"capabilities": {
			"http":    { "hosts": ["slack.com", "*.slack.com"], "methods": ["POST"] },
			"secrets": ["slack_token"]
		},
		"limits": { "memory_mb": 32, "timeout_ms": 5000, "max_output_bytes": 1048576, "max_log_bytes": 0 }
	}`))
	require.NoError(t, err)
	require.Equal(t, &workflow.Manifest{
		Name: "acme/slack-post", Version: "1.2.0-rc.1", ABI: workflow.ABIExtism, Entrypoint: "run",
		Description: "Posts items to a Slack channel", IO: workflow.IODocument,
		Inputs: []string{"main"}, Outputs: []string{"main", "error"},
		// Compact, HTML-escaped: as json.Marshal writes it.
		ParamsSchema: json.RawMessage(`{"type":"object","properties":{"channel":{"type":"string","pattern":"^#\u003cx\u003e"}}}`),
		Capabilities: workflow.Capabilities{
			HTTP:    &workflow.HTTPCapability{Hosts: []string{"slack.com", "*.slack.com"}, Methods: []string{"POST"}},
			Secrets: []string{"slack_token"},
		},
		Limits: workflow.Limits{MemoryMB: 32, TimeoutMS: 5000, MaxOutputBytes: 1 << 20},
	}, m)
}

// Each bad manifest is refused with every problem, each at its JSON path.
func TestParseManifestProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		manifest string
		want     []registry.Problem // field, and a part of the message
	}{
		{"not JSON", `{"name": `, []registry.Problem{{"manifest", "is not valid JSON"}}},
		{"trailing data", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1"} {}`, []registry.Problem{{"manifest", "is not valid JSON"}}},
		{"not an object", `[]`, []registry.Problem{{"manifest", "want object"}}},
		{"empty object", `{}`, []registry.Problem{
			{"manifest.abi", "is required"}, {"manifest.name", "is required"}, {"manifest.version", "is required"},
		}},
		{"bad name", `{"name": "Acme/Slack", "version": "1.0.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.name", "owner/name, lower case"}}},
		{"name without owner", `{"name": "slack", "version": "1.0.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.name", "not a module name"}}},
		{"name too long", `{"name": "a/` + strings.Repeat("b", 127) + `", "version": "1.0.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.name", "at most 128"}}},
		{"version too long", `{"name": "a/b", "version": "1.0.0-` + strings.Repeat("1", 60) + `", "abi": "extism-v1"}`, []registry.Problem{{"manifest.version", "longer than 64"}}},
		{"name with two slashes", `{"name": "a/b/c", "version": "1.0.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.name", "not a module name"}}},
		{"name not a string", `{"name": 7, "version": "1.0.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.name", "want string"}}},
		{"loose semver", `{"name": "a/b", "version": "1.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.version", "strict semantic version"}}},
		{"v prefix", `{"name": "a/b", "version": "v1.0.0", "abi": "extism-v1"}`, []registry.Problem{{"manifest.version", "strict semantic version"}}},
		{"build metadata", `{"name": "a/b", "version": "1.0.0+git.abc", "abi": "extism-v1"}`, []registry.Problem{{"manifest.version", "build metadata"}}},
		{"unknown abi", `{"name": "a/b", "version": "1.0.0", "abi": "wasi-reactor"}`, []registry.Problem{{"manifest.abi", "extism-v1"}}},
		{"unknown io", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "stream"}`, []registry.Problem{{"manifest.io", "document"}}},
		{"unknown instance", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "raw", "instance": "pooled"}`, []registry.Problem{{"manifest.instance", "per_run"}}},
		{"instance without raw IO", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "instance": "per_item"}`, []registry.Problem{{"manifest.instance", "applies only to raw IO"}}},
		{"instance with document IO", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "document", "instance": "per_run"}`, []registry.Problem{{"manifest.instance", "applies only to raw IO"}}},
		{"one instance per run of a WASI command", `{"name": "a/b", "version": "1.0.0", "abi": "wasi-command-v1", "io": "raw", "instance": "per_run"}`, []registry.Problem{{"manifest.instance", "a WASI command runs once per instance"}}},
		{"unknown fields", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "permissions": [], "$schema": "x"}`, []registry.Problem{
			{"manifest.$schema", "unknown field"}, {"manifest.permissions", "unknown field"},
		}},
		{"unknown nested field", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"fs": {}, "http": {"hosts": ["x.com"], "ports": [80]}}}`, []registry.Problem{
			{"manifest.capabilities.fs", "unknown field"}, {"manifest.capabilities.http.ports", "unknown field"},
		}},
		{"bad host", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"http": {"hosts": ["ok.com", "http://evil.com/"]}}}`, []registry.Problem{
			{"manifest.capabilities.http.hosts[1]", "does not match pattern"},
		}},
		{"no hosts", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"http": {}}}`, []registry.Problem{
			{"manifest.capabilities.http.hosts", "is required"},
		}},
		{"bad method", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"http": {"hosts": ["a.com"], "methods": ["get"]}}}`, []registry.Problem{
			{"manifest.capabilities.http.methods[0]", "GET"},
		}},
		{"bad secret name", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"secrets": ["ok", "no spaces"]}}`, []registry.Problem{
			{"manifest.capabilities.secrets[1]", "does not match pattern"},
		}},
		{"negative limits", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "limits": {"memory_mb": -1, "timeout_ms": 1.5}}`, []registry.Problem{
			{"manifest.limits.memory_mb", "minimum"}, {"manifest.limits.timeout_ms", "want integer"},
		}},
		{"huge limit", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "limits": {"timeout_ms": 1e30}}`, []registry.Problem{
			{"manifest.limits.timeout_ms", "maximum"},
		}},
		{"duplicate ports", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "outputs": ["a", "a"]}`, []registry.Problem{
			{"manifest.outputs", "items at 0 and 1 are equal"},
		}},
		{"empty port", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "inputs": [""]}`, []registry.Problem{
			{"manifest.inputs[0]", "does not match pattern"},
		}},
		{"params_schema not an object", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": true}`, []registry.Problem{
			{"manifest.params_schema", "want object"},
		}},
		{"params_schema invalid", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": {"type": "object", "properties": {"x": {"minLength": -1}}}}`, []registry.Problem{
			{"manifest.params_schema.properties.x.minLength", "is not a valid JSON Schema"},
		}},
		{"params_schema bad regexp", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": {"pattern": "(("}}`, []registry.Problem{
			{"manifest.params_schema.pattern", "is not a valid JSON Schema"},
		}},
		{"params_schema remote ref", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": {"$ref": "file:///etc/passwd"}}`, []registry.Problem{
			{"manifest.params_schema", "references to other documents are not allowed"},
		}},
		{"params_schema relative ref", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": {"$ref": "other.json"}}`, []registry.Problem{
			{"manifest.params_schema", "not allowed"},
		}},
		{"params_schema missing local ref", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": {"$ref": "#/$defs/nope"}}`, []registry.Problem{
			{"manifest.params_schema", "is not a usable JSON Schema"},
		}},
		{"odd keys", `{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "limits": {"memory mb": 1}}`, []registry.Problem{
			{`manifest.limits["memory mb"]`, "unknown field"},
		}},
		{"several at once", `{"name": "A", "version": "one", "abi": "x", "limits": {"memory_mb": 99999}}`, []registry.Problem{
			{"manifest.abi", "must be one of"}, {"manifest.limits.memory_mb", "maximum"}, {"manifest.name", "not a module name"}, {"manifest.version", "strict semantic version"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := registry.ParseManifest([]byte(tc.manifest))
			require.Nil(t, m)
			re := refusal(t, err, registry.CodeManifestInvalid)
			require.Len(t, re.Problems, len(tc.want), "%v", err)
			for i, want := range tc.want {
				require.Equal(t, want.Field, re.Problems[i].Field, "%v", err)
				require.Contains(t, re.Problems[i].Message, want.Message, "%v", err)
			}
		})
	}
}

// The host names a manifest may list: exact names, "*.domain", or "*" alone
// (any host; the address policy still applies to every request).
func TestManifestHosts(t *testing.T) {
	t.Parallel()
	parse := func(host string) error {
		h, err := json.Marshal(host)
		require.NoError(t, err)
		_, err = registry.ParseManifest([]byte(`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"http": {"hosts": [` + string(h) + `]}}}`))
		return err
	}
	for _, host := range []string{"*", "*.slack.com", "slack.com", "localhost", "a", "x-1.example.io", "127.0.0.1",
		strings.Repeat("a", 63) + ".com"} {
		require.NoError(t, parse(host), host)
	}
	for _, host := range []string{"", "**", "*.*", "*.", "*x.com", "x.*.com", "x.com*", " *", "* ", "*,x.com",
		"Slack.com", "http://x.com", "x.com:443", "-x.com", "x-.com", "x..com", ".x.com", "x.com.", strings.Repeat("a", 64) + ".com"} {
		err := parse(host)
		re := refusal(t, err, registry.CodeManifestInvalid)
		require.Len(t, re.Problems, 1, "%q: %v", host, err)
		require.Equal(t, "manifest.capabilities.http.hosts[0]", re.Problems[0].Field, host)
		require.Contains(t, re.Problems[0].Message, "does not match pattern", host)
	}
}

// "instance" is accepted with raw IO, and kept.
func TestParseManifestInstance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ manifest, instance string }{
		{`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "raw"}`, ""},
		{`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "raw", "instance": "per_run"}`, workflow.InstancePerRun},
		{`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "raw", "instance": "per_item"}`, workflow.InstancePerItem},
		{`{"name": "a/b", "version": "1.0.0", "abi": "wasi-command-v1", "io": "raw", "instance": "per_item"}`, workflow.InstancePerItem},
	} {
		m, err := registry.ParseManifest([]byte(tc.manifest))
		require.NoError(t, err, tc.manifest)
		require.Equal(t, tc.instance, m.Instance)
	}
}

// A params_schema may use every local feature: $defs, $ref, $anchor, an
// older draft by $schema.
func TestParamsSchemaFeatures(t *testing.T) {
	t.Parallel()
	for _, ps := range []string{
		`{"$defs": {"s": {"type": "string"}}, "type": "object", "properties": {"a": {"$ref": "#/$defs/s"}}}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "number"}}, "properties": {"a": {"$ref": "#/definitions/n"}}}`,
		`{"type": "object", "properties": {"a": {"$anchor": "x", "type": "string"}, "b": {"$ref": "#x"}}}`,
		`{}`,
	} {
		_, err := registry.ParseManifest([]byte(`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": ` + ps + `}`))
		require.NoError(t, err, ps)
	}
	sch, err := registry.CompileParamsSchema(json.RawMessage(`{"type": "object", "required": ["x"]}`))
	require.NoError(t, err)
	require.Error(t, sch.Validate(map[string]any{}))
	require.NoError(t, sch.Validate(map[string]any{"x": 1}))
	_, err = registry.CompileParamsSchema(json.RawMessage(`{`))
	require.Error(t, err)
}

// FuzzManifest: parsing never panics; a refusal is always a manifest_invalid
// *registry.Error; a manifest that passes encodes to JSON that passes again,
// to an equal manifest.
func FuzzManifest(f *testing.F) {
	manifests, err := filepath.Glob(filepath.Join(examplesDir, "*", "wasmflow.json"))
	require.NoError(f, err)
	for _, path := range manifests {
		data, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"name": "a/b", "version": "1.0.0-beta.1", "abi": "wasi-command-v1", "io": "raw"}`))
	f.Add([]byte(`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "io": "raw", "instance": "per_item"}`))
	f.Add([]byte(`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "params_schema": {"$ref": "#/$defs/x", "$defs": {"x": {"pattern": "<&>"}}}}`))
	f.Add([]byte(`{"name": "a/b", "version": "1.0.0", "abi": "extism-v1", "capabilities": {"http": {"hosts": ["*.x.io"]}, "secrets": ["k"]}, "limits": {"memory_mb": 0}}`))
	f.Add([]byte(`{"name": "a/b", "name": "c/d", "version": "1.0.0", "abi": "extism-v1", "description": "\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := registry.ParseManifest(data)
		if err != nil {
			re, ok := errors.AsType[*registry.Error](err)
			require.True(t, ok, "%T %v", err, err)
			require.Equal(t, registry.CodeManifestInvalid, re.Code)
			require.NotEmpty(t, re.Problems)
			return
		}
		encoded, err := json.Marshal(m)
		require.NoError(t, err)
		again, err := registry.ParseManifest(encoded)
		require.NoError(t, err, "%s", encoded)
		require.Equal(t, m, again)
		reencoded, err := json.Marshal(again)
		require.NoError(t, err)
		require.Equal(t, string(encoded), string(reencoded))
	})
}
