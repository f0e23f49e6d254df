package registry_test

import (
	"bytes"
	"context"
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

const examplesDir = "../plugins-examples"

// exampleInput is the part of a testdata input document a test run takes.
type exampleInput struct {
	Items  []workflow.Item `json:"items"`
	Params map[string]any  `json:"params"`
}

// readExampleInput decodes a testdata input, numbers kept as written; ok is
// false when it is not a document a test run can send (it is not JSON, or
// an item is not an object).
func readExampleInput(t *testing.T, path string) (in exampleInput, ok bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return in, false
	}
	return in, true
}

// Every example in plugins-examples installs, and each of its testdata
// inputs produces exactly the expected output through TestRun; an example
// that needs a host function is checked as far as a test run can go (see
// declaresCapabilities).
func TestExamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	installed, err := e.reg.InstallDir(ctx, e.tenant, examplesDir)
	require.NoError(t, err)

	manifests, err := filepath.Glob(filepath.Join(examplesDir, "*", "wasmflow.json"))
	require.NoError(t, err)
	require.NotEmpty(t, manifests)
	require.Len(t, installed, len(manifests))

	for _, v := range installed {
		dir := filepath.Join(examplesDir, strings.TrimPrefix(v.Name, "wasmflow/"))
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			require.True(t, strings.HasPrefix(v.Digest, "sha256:"))
			inputs, err := filepath.Glob(filepath.Join(dir, "testdata", "*.input.json"))
			require.NoError(t, err)
			require.NotEmpty(t, inputs, "%s has no testdata", dir)
			for _, inPath := range inputs {
				if answeredByFake(inPath) {
					continue
				}
				in, ok := readExampleInput(t, inPath)
				require.True(t, ok, inPath)
				res, err := e.reg.TestRun(ctx, e.tenant, v.Name, v.Version, &registry.TestRunInput{Items: in.Items, Params: in.Params})
				require.NoError(t, err, inPath)
				want, err := os.ReadFile(strings.TrimSuffix(inPath, ".input.json") + ".output.json")
				require.NoError(t, err)
				require.JSONEq(t, string(want), string(res.Output), inPath)
				require.Positive(t, res.Duration)
			}

			// The failing cases a test run can express fail as the module says.
			errInputs, err := filepath.Glob(filepath.Join(dir, "testdata", "errors", "*.input.json"))
			require.NoError(t, err)
			for _, inPath := range errInputs {
				if answeredByFake(inPath) {
					continue
				}
				in, ok := readExampleInput(t, inPath)
				if !ok {
					continue // malformed on purpose: only the engine could send it
				}
				want, err := os.ReadFile(strings.TrimSuffix(inPath, ".input.json") + ".error.txt")
				require.NoError(t, err)
				res, err := e.reg.TestRun(ctx, e.tenant, v.Name, v.Version, &registry.TestRunInput{Items: in.Items, Params: in.Params})
				runErr, ok := errors.AsType[*registry.RunError](err)
				require.True(t, ok, "%s: want a RunError, got %v", inPath, err)
				require.Equal(t, "guest_error", runErr.Kind, inPath)
				said := runErr.Message
				for _, l := range res.Logs {
					said += "\n" + l.Message
				}
				require.Contains(t, said, strings.TrimSpace(string(want)), inPath)
			}
		})
	}
}

// answeredByFake reports whether a test case's HTTP requests are answered
// from its NAME.fetch.json: only the node's own tests, with the host
// function faked, can run it (plugins-examples/<node>/*_test.go); a test
// run here would send them for real.
func answeredByFake(inPath string) bool {
	_, err := os.Stat(strings.TrimSuffix(inPath, ".input.json") + ".fetch.json")
	return err == nil
}

// Installing again changes nothing; another tenant gets its own copies.
func TestInstallDirIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	first, err := e.reg.InstallDir(ctx, e.tenant, examplesDir)
	require.NoError(t, err)
	again, err := e.reg.InstallDir(ctx, e.tenant, examplesDir)
	require.NoError(t, err)
	require.Equal(t, first, again)

	other, err := e.reg.InstallDir(ctx, e.tenantB, examplesDir)
	require.NoError(t, err)
	require.Len(t, other, len(first))
	for i := range first {
		require.Equal(t, first[i].Digest, other[i].Digest)
		require.Equal(t, e.tenantB, other[i].TenantID)
	}
}

func TestInstallDirFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	guest := fixture(t, "guest.wasm")
	write("a-good/wasmflow.json", manifest(t, "name", "acme/good"))
	write("a-good/good.wasm", guest)
	write("b-none/wasmflow.json", manifest(t, "name", "acme/none"))
	write("c-two/wasmflow.json", manifest(t, "name", "acme/two"))
	write("c-two/one.wasm", guest)
	write("c-two/two.wasm", guest)
	write("d-bad/wasmflow.json", manifest(t, "version", "1.0"))
	write("d-bad/bad.wasm", guest)
	write("e-missing-manifest/x.wasm", guest) // no manifest: not a module folder

	installed, err := e.reg.InstallDir(t.Context(), e.tenant, dir)
	require.Len(t, installed, 1)
	require.Equal(t, "acme/good", installed[0].Name)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, filepath.Join(dir, "b-none")+": want one .wasm file beside wasmflow.json, found 0")
	require.Contains(t, msg, filepath.Join(dir, "c-two")+": want one .wasm file beside wasmflow.json, found 2")
	require.Contains(t, msg, filepath.Join(dir, "d-bad")+": registry: manifest_invalid: manifest.version")
	re, ok := errors.AsType[*registry.Error](err)
	require.True(t, ok)
	require.Equal(t, registry.CodeManifestInvalid, re.Code)

	// A bad pattern, a missing directory: nothing to install.
	installed, err = e.reg.InstallDir(t.Context(), e.tenant, filepath.Join(dir, "missing"))
	require.NoError(t, err)
	require.Empty(t, installed)
	_, err = e.reg.InstallDir(t.Context(), e.tenant, "[")
	require.Error(t, err)
}

// A module folder whose .wasm cannot be read is a failure that names it.
func TestInstallDirUnreadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "m", "x.wasm"), 0o755)) // a directory named x.wasm
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m", "wasmflow.json"), manifest(t), 0o644))
	_, err := e.reg.InstallDir(context.Background(), e.tenant, dir)
	require.Error(t, err)
	require.Contains(t, err.Error(), filepath.Join(dir, "m"))
}
