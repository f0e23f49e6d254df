package nodekit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// TestOpts are the settings of a test run; nil is all defaults.
type TestOpts struct {
	// Wasm is the module to test. Defaults to the project's built module
	// (Project.WasmPath).
	Wasm string
	// Secrets are the values of the secrets the module declares, by name
	// (a node test binds each declared name to the secret of that name).
	Secrets map[string]string
	// Update writes each case's output as its expected output instead of
	// comparing (cases that expect an error are still checked).
	Update bool
	// Cases, when set, runs only the cases of these names.
	Cases []string
	// Runtime runs the module. Defaults to a runtime.New with the
	// platform's default limits (the server's, but for its cache dir),
	// closed at the end.
	Runtime *runtime.Runtime
}

// Case outcomes.
const (
	StatusPass    = "pass"
	StatusFail    = "fail"
	StatusUpdated = "updated"
)

// CaseResult is what one test case did.
type CaseResult struct {
	// Name is the case's file name without .input.json.
	Name   string `json:"name"`
	Status string `json:"status"`
	// Message says why a case failed.
	Message string `json:"message,omitempty"`
	// Diff is expected → actual output, canonical JSON, for a wrong output.
	Diff string `json:"diff,omitempty"`
	// Kind is the runtime's error kind of a failed run ("timeout", "trap", …).
	Kind string `json:"kind,omitempty"`
	// Duration, MemoryPeakBytes and OutputBytes measure the run.
	Duration        time.Duration `json:"duration_ns"`
	MemoryPeakBytes uint64        `json:"memory_peak_bytes"`
	OutputBytes     int           `json:"output_bytes"`
	// Logs are the lines the module logged.
	Logs []runtime.LogLine `json:"logs,omitempty"`
	// HostCalls are the module's secret reads and HTTP requests.
	HostCalls []registry.HostCall `json:"host_calls,omitempty"`
	// Unmatched are the HTTP requests no fixture answered.
	Unmatched []string `json:"unmatched_requests,omitempty"`
}

// TestReport is the result of Test.
type TestReport struct {
	Module string       `json:"module"`
	Digest string       `json:"digest"`
	Cases  []CaseResult `json:"cases"`
	Passed int          `json:"passed"`
	Failed int          `json:"failed"`
}

// localTenant is the tenant of a local test run, in the registry's messages.
const localTenant = "local"

// Test runs the project's module, with no server, on every
// testdata/NAME.input.json (an input document: its items and params are
// used) and checks the result: equal JSON to NAME.output.json, or, when
// NAME.error.txt exists instead, a failure whose message or logs contain
// that text. The module is first checked as an upload would be (a refusal
// is the registry's *registry.Error) and runs as a registry test run does:
// the same runtime, limits, host functions and grant. Its HTTP requests are
// answered from testdata/http/*.json (see Fixture); a request no fixture
// matches fails the case, naming the request. A case that fails is in the
// report; an error is returned only when nothing could be tested.
func Test(ctx context.Context, dir string, opts *TestOpts) (*TestReport, error) {
	if opts == nil {
		opts = &TestOpts{}
	}
	p, err := OpenProject(dir)
	if err != nil {
		return nil, err
	}
	wasmPath := opts.Wasm
	if wasmPath == "" {
		wasmPath = p.WasmPath()
	}
	wasm, err := os.ReadFile(wasmPath) //nolint:gosec // the module under test
	if errors.Is(err, os.ErrNotExist) && opts.Wasm == "" {
		return nil, fmt.Errorf("nodekit: %s does not exist: build it first (wasmflow node build)", wasmPath)
	}
	if err != nil {
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	fixtures, err := LoadFixtures(p.Dir)
	if err != nil {
		return nil, err
	}
	cases, err := testCases(p.Dir, opts.Cases)
	if err != nil {
		return nil, err
	}

	rt := opts.Runtime
	if rt == nil {
		if rt, err = runtime.New(ctx, runtime.Config{}); err != nil {
			return nil, fmt.Errorf("nodekit: %w", err)
		}
		defer func() { _ = rt.Close(context.WithoutCancel(ctx)) }()
	}
	check, err := localRegistry(rt, nil, nil)
	if err != nil {
		return nil, err
	}
	mod, err := check.Check(ctx, &registry.UploadParams{Module: wasm, Manifest: p.ManifestBytes})
	if err != nil {
		return nil, fmt.Errorf("nodekit: the server would refuse this module: %w", err)
	}
	bindings := make(map[string]string, len(mod.Manifest.Capabilities.Secrets))
	for _, name := range mod.Manifest.Capabilities.Secrets {
		bindings[name] = name
	}

	report := &TestReport{Module: mod.Version.Name + "@" + mod.Version.Version, Digest: mod.Version.Digest, Cases: []CaseResult{}}
	for _, name := range cases {
		replayer := NewReplayer(fixtures)
		reg, err := localRegistry(rt, fileSecrets(opts.Secrets), replayer)
		if err != nil {
			return nil, err
		}
		res, err := runCase(ctx, reg, mod, bindings, p.Dir, name, replayer, opts.Update)
		if err != nil {
			return nil, err
		}
		if res.Status == StatusFail {
			report.Failed++
		} else {
			report.Passed++
		}
		report.Cases = append(report.Cases, *res)
	}
	return report, nil
}

// testCases lists the names of testdata/*.input.json, or only those asked for.
func testCases(dir string, only []string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "testdata", "*.input.json"))
	if err != nil {
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".input.json"))
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("nodekit: %s has no testdata/*.input.json to test", dir)
	}
	for _, n := range only {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("nodekit: no test case %q (cases: %s)", n, strings.Join(names, ", "))
		}
	}
	if len(only) > 0 {
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(only, n) })
	}
	return names, nil
}

// localRegistry is a registry for runs of a module that is handed to it,
// not stored: its store holds nothing.
func localRegistry(rt *runtime.Runtime, secrets registry.SecretReader, replayer *Replayer) (*registry.Registry, error) {
	cfg := registry.Config{Store: noModules{}, Runtime: rt, Secrets: secrets}
	if replayer != nil {
		cfg.HTTP.Transport = replayer
	}
	reg, err := registry.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	return reg, nil
}

// caseInput is the part of an input document a test run takes.
type caseInput struct {
	Items  []workflow.Item `json:"items"`
	Params map[string]any  `json:"params"`
}

func readCaseInput(path string) (*caseInput, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the project's own test data
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var in caseInput
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("not an input document (an object with items, an array of objects, and params, an object): %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the input document")
	}
	return &in, nil
}

// runCase runs one case and judges it.
func runCase(ctx context.Context, reg *registry.Registry, mod *registry.Module, bindings map[string]string,
	dir, name string, replayer *Replayer, update bool,
) (*CaseResult, error) {
	base := filepath.Join(dir, "testdata", name)
	res := &CaseResult{Name: name, Status: StatusPass}
	in, err := readCaseInput(base + ".input.json")
	if err != nil {
		res.Status, res.Message = StatusFail, fmt.Sprintf("testdata/%s.input.json: %v", name, err)
		return res, nil
	}
	run, runErr := reg.TestRunModule(ctx, localTenant, mod, &registry.TestRunInput{
		Items: in.Items, Params: in.Params, Secrets: bindings, Actor: "node_test",
	})
	var re *registry.RunError
	if runErr != nil {
		var ok bool
		if re, ok = errors.AsType[*registry.RunError](runErr); !ok {
			return nil, fmt.Errorf("nodekit: case %s: %w", name, runErr)
		}
		res.Kind = re.Kind
	}
	if run != nil {
		res.Duration, res.MemoryPeakBytes, res.OutputBytes = run.Duration, run.MemoryPeakBytes, len(run.Output)
		res.Logs, res.HostCalls = run.Logs, run.HostCalls
	}
	fail := func(format string, args ...any) (*CaseResult, error) {
		res.Status, res.Message = StatusFail, fmt.Sprintf(format, args...)
		return res, nil
	}

	// A request without a fixture fails the case whatever the module made of
	// the error reply it got.
	if res.Unmatched = replayer.Unmatched(); len(res.Unmatched) > 0 {
		return fail("HTTP request with no recorded fixture: %s (add a fixture to testdata/http/)", strings.Join(res.Unmatched, "; "))
	}

	wantErr, err := os.ReadFile(base + ".error.txt") //nolint:gosec // the project's own test data
	expectsError := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	if expectsError {
		want := strings.TrimSpace(string(wantErr))
		if re == nil {
			return fail("the run succeeded; testdata/%s.error.txt expects a failure saying %q", name, want)
		}
		said := re.Message
		for _, l := range res.Logs {
			said += "\n" + l.Message
		}
		if !strings.Contains(said, want) {
			return fail("%s: %s\n(testdata/%s.error.txt expects %q in the message or logs)", re.Kind, re.Message, name, want)
		}
		return res, nil
	}
	if re != nil {
		return fail("%s: %s", re.Kind, re.Message)
	}

	got, err := canonical(run.Output)
	if err != nil { // the runtime checked it: cannot happen
		return fail("output is not JSON: %v", err)
	}
	outPath := base + ".output.json"
	wantRaw, err := os.ReadFile(outPath) //nolint:gosec // the project's own test data
	switch {
	case update && (err != nil || !jsonEqual(wantRaw, got)):
		if err := os.WriteFile(outPath, got, 0o644); err != nil { //nolint:gosec // G306: test data, not secrets
			return nil, fmt.Errorf("nodekit: %w", err)
		}
		res.Status, res.Message = StatusUpdated, "wrote testdata/"+name+".output.json"
		return res, nil
	case errors.Is(err, os.ErrNotExist):
		return fail("no testdata/%s.output.json to compare with (--update writes it)", name)
	case err != nil:
		return nil, fmt.Errorf("nodekit: %w", err)
	}
	want, err := canonical(wantRaw)
	if err != nil {
		return fail("testdata/%s.output.json is not JSON: %v", name, err)
	}
	if !bytes.Equal(want, got) {
		res.Diff = lineDiff(string(want), string(got))
		return fail("output differs from testdata/%s.output.json", name)
	}
	return res, nil
}

// fileSecrets serves the secrets of a local file: name → value.
type fileSecrets map[string]string

// ReadSecret implements registry.SecretReader.
func (f fileSecrets) ReadSecret(_ context.Context, _, name string) (string, error) {
	v, ok := f[name]
	if !ok {
		return "", fmt.Errorf("secret %q is not in the secrets file: %w", name, store.ErrNotFound)
	}
	return v, nil
}

// ReadSecretsFile reads a secrets file: one JSON object, name → string value.
func ReadSecretsFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the developer names the file
	if err != nil {
		return nil, fmt.Errorf("nodekit: secrets: %w", err)
	}
	var m map[string]string
	if err := decodeStrict(data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("nodekit: secrets: %s: want one JSON object of names to string values", path)
	}
	return m, nil
}

// noModules is the store of a local registry: a node test hands the
// registry its module (Check, TestRunModule), which never looks anything
// up or stores anything. Every method comes from the embedded nil Store,
// so a call to one fails loudly instead of answering something made up.
type noModules struct{ registry.Store }
