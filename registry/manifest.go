package registry

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/wasmflow/wasmflow/workflow"
)

// ManifestSchema is the JSON Schema (draft 2020-12) every manifest must
// satisfy: manifest.schema.json, embedded.
//
//go:embed manifest.schema.json
var ManifestSchema []byte

const manifestSchemaURL = "https://wasmflow.dev/schemas/manifest.schema.json"

// manifestSchema compiles ManifestSchema once. It cannot fail at run time:
// a test compiles it.
var manifestSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ManifestSchema))
	if err != nil {
		return nil, fmt.Errorf("registry: manifest schema: %w", err)
	}
	c := newSchemaCompiler()
	if err := c.AddResource(manifestSchemaURL, doc); err != nil {
		return nil, fmt.Errorf("registry: manifest schema: %w", err)
	}
	sch, err := c.Compile(manifestSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("registry: manifest schema: %w", err)
	}
	return sch, nil
})

// namePattern is "owner/name", lower case; the same rule as workflow's module references.
var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?/[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)

// ValidName reports whether name is a module name: "owner/name", lower case.
func ValidName(name string) bool {
	return len(name) <= 128 && namePattern.MatchString(name)
}

// ParseManifest decodes and checks a manifest (wasmflow.json): it must be one
// JSON object satisfying [ManifestSchema] (so no unknown fields), with a
// lower-case owner/name, a strict semver version without build metadata and,
// when present, a params_schema that compiles as a JSON Schema. Every
// problem found is reported in one *[Error] with code manifest_invalid, each
// naming its field ("manifest.capabilities.http.hosts[0]"). The manifest
// returned is normalized: params_schema compact, so that encoding it and
// parsing the result gives an equal manifest. It never reads files or the
// network (a params_schema's remote $ref is refused). Safe for concurrent use.
func ParseManifest(data []byte) (*workflow.Manifest, error) {
	schema, err := manifestSchema()
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, refuse(CodeManifestInvalid, "manifest", "is not valid JSON: %s", jsonError(err))
	}
	var problems []Problem
	if err := schema.Validate(doc); err != nil {
		ve, ok := errors.AsType[*jsonschema.ValidationError](err)
		if !ok {
			return nil, fmt.Errorf("registry: validate manifest: %w", err)
		}
		problems = schemaProblems("manifest", doc, ve)
	}
	// What the schema cannot say, checked even when it found problems, so
	// that every problem is reported at once.
	if obj, ok := doc.(map[string]any); ok {
		problems = append(problems, semanticProblems(obj)...)
	}
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
		return nil, &Error{Code: CodeManifestInvalid, Problems: problems}
	}
	var m workflow.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		// The schema admits only what decodes; this is a safety net.
		return nil, refuse(CodeManifestInvalid, "manifest", "cannot be decoded: %s", jsonError(err))
	}
	if m.ParamsSchema != nil {
		// Compact and HTML-escaped, as json.Marshal writes it: stable.
		norm, err := json.Marshal(m.ParamsSchema)
		if err != nil {
			return nil, refuse(CodeManifestInvalid, "manifest.params_schema", "cannot be encoded: %s", jsonError(err))
		}
		m.ParamsSchema = norm
	}
	return &m, nil
}

// maxVersionLength bounds a version string.
const maxVersionLength = 64

// semanticProblems checks a manifest's name, version and params_schema,
// where they have the type the schema wants.
func semanticProblems(obj map[string]any) []Problem {
	var problems []Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if name, ok := obj["name"].(string); ok && !ValidName(name) {
		add("manifest.name", "%q is not a module name: want owner/name, lower case, at most 128 characters (letters, digits, '-'; the name may also hold '.' and '_')", name)
	}
	if version, ok := obj["version"].(string); ok {
		v, err := semver.StrictNewVersion(version)
		switch {
		case len(version) > maxVersionLength:
			add("manifest.version", "is longer than %d characters", maxVersionLength)
		case err != nil:
			add("manifest.version", "%q is not a strict semantic version such as 1.2.0 or 1.0.0-beta.1", version)
		case v.Metadata() != "":
			add("manifest.version", "%q has build metadata (+%s): versions that differ only in it would be equal, so it is not allowed", version, v.Metadata())
		}
	}
	if instance, ok := obj["instance"].(string); ok {
		switch io, _ := obj["io"].(string); {
		case io != workflow.IORaw:
			add("manifest.instance", `applies only to raw IO: set "io": "raw", or remove it`)
		case instance == workflow.InstancePerRun && obj["abi"] == workflow.ABIWASICommand:
			add("manifest.instance", "%q is not possible for %s modules: a WASI command runs once per instance, so each item gets its own (%q)",
				instance, workflow.ABIWASICommand, workflow.InstancePerItem)
		}
	}
	if ps, ok := obj["params_schema"].(map[string]any); ok {
		raw, err := json.Marshal(ps)
		if err != nil {
			add("manifest.params_schema", "cannot be encoded: %s", jsonError(err))
		} else {
			problems = append(problems, paramsSchemaProblems(raw)...)
		}
	}
	return problems
}

// CompileParamsSchema compiles a manifest's params_schema (draft 2020-12
// unless its $schema says otherwise). References to other documents are
// refused: nothing is read from files or the network.
func CompileParamsSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	const url = "https://wasmflow.invalid/params_schema.json"
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := newSchemaCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// paramsSchemaProblems reports why a params_schema does not compile.
func paramsSchemaProblems(raw json.RawMessage) []Problem {
	_, err := CompileParamsSchema(raw)
	if err == nil {
		return nil
	}
	const field = "manifest.params_schema"
	if se, ok := errors.AsType[*jsonschema.SchemaValidationError](err); ok {
		if ve, ok := errors.AsType[*jsonschema.ValidationError](se.Err); ok {
			doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw)) // it compiled this far: it decodes
			problems := schemaProblems(field, doc, ve)
			for i := range problems {
				problems[i].Message = "is not a valid JSON Schema: " + problems[i].Message
			}
			return problems
		}
	}
	return []Problem{{Field: field, Message: "is not a usable JSON Schema: " + firstLine(err.Error())}}
}

// newSchemaCompiler is a compiler for draft 2020-12 that loads nothing: the
// library's default loader would read file:// URLs.
func newSchemaCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	return c
}

// refuseLoader refuses every document a schema refers to.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: references to other documents are not allowed", url)
}

// schemaProblems flattens a validation error into one problem per leaf,
// sorted by field; root names the document ("manifest").
func schemaProblems(root string, doc any, ve *jsonschema.ValidationError) []Problem {
	var out []Problem
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			// Alternatives that all fail at one place read as one problem.
			if msgs, ok := sameLocationLeaves(e); ok {
				out = append(out, Problem{Field: fieldPath(root, doc, e.InstanceLocation), Message: strings.Join(msgs, "; or ")})
				return
			}
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		at := fieldPath(root, doc, e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				out = append(out, Problem{Field: appendKey(at, name), Message: "unknown field"})
			}
		case *kind.Required:
			for _, name := range k.Missing {
				out = append(out, Problem{Field: appendKey(at, name), Message: "is required"})
			}
		default:
			out = append(out, Problem{Field: at, Message: kindMessage(e.ErrorKind)})
		}
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
	return slices.Compact(out)
}

// sameLocationLeaves returns the messages of e's leaves when they are all at
// e's own location and none is about named properties.
func sameLocationLeaves(e *jsonschema.ValidationError) ([]string, bool) {
	var msgs []string
	ok := true
	var walk func(*jsonschema.ValidationError)
	walk = func(c *jsonschema.ValidationError) {
		if len(c.Causes) > 0 {
			for _, cc := range c.Causes {
				walk(cc)
			}
			return
		}
		switch c.ErrorKind.(type) {
		case *kind.AdditionalProperties, *kind.Required:
			ok = false
		}
		if !slices.Equal(c.InstanceLocation, e.InstanceLocation) {
			ok = false
		}
		if msg := kindMessage(c.ErrorKind); !slices.Contains(msgs, msg) {
			msgs = append(msgs, msg)
		}
	}
	for _, c := range e.Causes {
		walk(c)
	}
	return msgs, ok && len(msgs) > 0
}

// kindMessage is the library's message for one error kind, without the
// location it would prefix.
func kindMessage(k jsonschema.ErrorKind) string {
	msg := (&jsonschema.ValidationError{ErrorKind: k}).Error()
	msg = strings.TrimPrefix(msg, "at '': ")
	return firstLine(msg)
}

// fieldPath renders a JSON pointer's tokens as root.a.b[0]: a token indexes
// an array when the value it applies to is one.
func fieldPath(root string, doc any, tokens []string) string {
	path, cur := root, doc
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			path += "[" + tok + "]"
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			path = appendKey(path, tok)
			cur = v[tok]
		default:
			path = appendKey(path, tok)
			cur = nil
		}
	}
	return path
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// appendKey appends an object key: .key, or ["key"] when it is not a plain name.
func appendKey(path, key string) string {
	if plainKey.MatchString(key) {
		return path + "." + key
	}
	q, _ := json.Marshal(key)
	return path + "[" + string(q) + "]"
}

// jsonError shortens a decoder's error to one line without the Go type names.
func jsonError(err error) string {
	return firstLine(strings.TrimPrefix(err.Error(), "json: "))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
