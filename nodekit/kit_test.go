package nodekit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/nodekit"
)

// Init makes a project in every language whose manifest the registry
// accepts and whose language DetectLanguage finds; it never overwrites.
func TestInitEveryLanguage(t *testing.T) {
	t.Parallel()
	for _, lang := range nodekit.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "greet")
			files, err := nodekit.Init(nodekit.InitParams{Dir: dir, Language: lang, Name: "acme/greet"})
			require.NoError(t, err)
			for _, want := range []string{".gitignore", "Makefile", "README.md", "wasmflow.json",
				"testdata/greet.input.json", "testdata/greet.output.json", "testdata/unknown-param.error.txt"} {
				require.Contains(t, files, want)
			}
			p, err := nodekit.OpenProject(dir)
			require.NoError(t, err)
			require.Equal(t, "acme/greet", p.Manifest.Name)
			l, err := nodekit.DetectLanguage(dir)
			require.NoError(t, err)
			require.Equal(t, lang, l.Name)
			require.Equal(t, l.ABI, p.Manifest.ABI)
			require.Equal(t, filepath.Join(p.Dir, "greet.wasm"), p.WasmPath())
			for _, f := range files {
				data, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				require.NotContains(t, string(data), "@@", f)
			}
			mk, err := os.ReadFile(filepath.Join(dir, "Makefile"))
			require.NoError(t, err)
			require.Contains(t, string(mk), "greet.wasm")

			_, err = nodekit.Init(nodekit.InitParams{Dir: dir, Language: lang, Name: "acme/greet"})
			require.ErrorContains(t, err, "is not empty")
		})
	}
}

func TestInitRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := nodekit.Init(nodekit.InitParams{Dir: dir, Language: "cobol", Name: "acme/x"})
	require.ErrorContains(t, err, `unknown language "cobol" (one of go, c, rust, assemblyscript)`)
	_, err = nodekit.Init(nodekit.InitParams{Dir: dir, Language: "go", Name: "Acme/X"})
	require.ErrorContains(t, err, "is not a module name")
	_, err = nodekit.Init(nodekit.InitParams{Language: "go", Name: "acme/x"})
	require.ErrorContains(t, err, "a directory is required")
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = nodekit.Init(nodekit.InitParams{Dir: file, Language: "go", Name: "acme/x"})
	require.Error(t, err)
	_, err = nodekit.DetectLanguage(dir)
	require.ErrorContains(t, err, "not a node project")
}

// A missing tool is named with the package that provides it, before any
// command runs.
func TestBuildMissingToolchain(t *testing.T) {
	t.Parallel()
	noCommands := func(string) (string, error) { return "", errors.New("not found") }
	anyCommand := func(c string) (string, error) { return c, nil }
	noFiles := func(string) ([]string, error) { return nil, nil }
	for lang, want := range map[string]string{
		"go":             "needs the Go toolchain (1.26 or newer) (go), which is missing: install it with Go 1.26 from https://go.dev/dl/",
		"c":              "needs clang (clang), which is missing: install it with apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32",
		"rust":           "needs Debian's rustc (/usr/bin/rustc), which is missing: install it with apt-get install rustc libstd-rust-dev-wasm32",
		"assemblyscript": "needs Node.js (node), which is missing: install it with apt-get install nodejs npm",
	} {
		dir := filepath.Join(t.TempDir(), "p")
		_, err := nodekit.Init(nodekit.InitParams{Dir: dir, Language: lang, Name: "acme/p"})
		require.NoError(t, err)
		var out bytes.Buffer
		_, err = nodekit.Build(t.Context(), dir, &nodekit.BuildOpts{LookPath: noCommands, Output: &out})
		te, ok := errors.AsType[*nodekit.ToolchainError](err)
		require.True(t, ok, "%s: %v", lang, err)
		require.Equal(t, lang, te.Language)
		require.ErrorContains(t, err, want)
		require.Empty(t, out.String(), "nothing ran")
	}
	// The files a package installs: the wasm32-wasi C library, Rust's std for wasm32-wasi.
	for lang, want := range map[string]string{
		"c":    "needs the wasm32-wasi C library (/usr/include/wasm32-wasi/stdlib.h), which is missing: install it with apt-get install clang lld wasi-libc",
		"rust": "needs the wasm32-wasi Rust standard library (/usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib), which is missing: install it with apt-get install rustc libstd-rust-dev-wasm32",
	} {
		dir := filepath.Join(t.TempDir(), "p")
		_, err := nodekit.Init(nodekit.InitParams{Dir: dir, Language: lang, Name: "acme/p"})
		require.NoError(t, err)
		_, err = nodekit.Build(t.Context(), dir, &nodekit.BuildOpts{LookPath: anyCommand, Glob: noFiles})
		require.ErrorContains(t, err, want)
	}
}

// A Go project builds (the go command runs these tests, so it is there), a
// broken one fails quoting the command, and --lang overrides detection.
func TestBuildGo(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "greet")
	_, err := nodekit.Init(nodekit.InitParams{Dir: dir, Language: "go", Name: "acme/greet"})
	require.NoError(t, err)
	var out bytes.Buffer
	path, err := nodekit.Build(t.Context(), dir, &nodekit.BuildOpts{Output: &out})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "greet.wasm"), path)
	require.Contains(t, out.String(), "$ GOOS=wasip1 GOARCH=wasm")
	wasm, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(wasm, []byte("\x00asm")))

	report, err := nodekit.Test(t.Context(), dir, nil)
	require.NoError(t, err)
	require.Equal(t, 3, report.Passed, "%+v", report.Cases)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "greet.go"), []byte("package main\nfunc broken( {"), 0o600))
	_, err = nodekit.Build(t.Context(), dir, &nodekit.BuildOpts{Language: "go"})
	require.ErrorContains(t, err, "nodekit: build: go build -trimpath")

	_, err = nodekit.Build(t.Context(), dir, &nodekit.BuildOpts{Language: "cobol"})
	require.ErrorContains(t, err, "unknown language")
	_, err = nodekit.Build(t.Context(), t.TempDir(), nil)
	require.ErrorContains(t, err, "is not a node project")
	bare := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bare, "wasmflow.json"), []byte(`{"name": "acme/bare", "version": "1.0.0", "abi": "extism-v1"}`), 0o600))
	_, err = nodekit.Build(t.Context(), bare, nil)
	require.ErrorContains(t, err, "has no go.mod, package.json, main.rs or *.c file")
}

// The template of each language carries its SDK: a copy of
// plugins-examples/sdk that must not drift from it (make nodekit-sdk).
func TestTemplateSDKsMatchExamples(t *testing.T) {
	t.Parallel()
	for sdk, tmpl := range map[string]string{"go": "go/sdk", "c": "c/sdk", "rust": "rust", "assemblyscript": "assemblyscript/assembly/wasmflow"} {
		dir := filepath.Join("..", "plugins-examples", "sdk", sdk)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.NotEmpty(t, entries)
		for _, e := range entries {
			want, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join("template", tmpl, e.Name()+".tmpl"))
			require.NoError(t, err, "run make nodekit-sdk")
			require.Equal(t, string(want), string(got), "nodekit/template/%s/%s differs from %s: run make nodekit-sdk", tmpl, e.Name(), dir)
		}
	}
}

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	fs, err := nodekit.ParseFixtures([]byte(`{"request": {"url": "https://a.example/x?q=1"}, "response": {}}`), "one.json")
	require.NoError(t, err)
	require.Len(t, fs, 1)
	require.Equal(t, "GET https://a.example/x?q=1", fs[0].Request.String())
	require.Equal(t, http.StatusOK, fs[0].Response.Status)
	require.Equal(t, "one.json", fs[0].File)

	fs, err = nodekit.ParseFixtures([]byte(` [{"request": {"method": "post", "url": "http://a.example/"}, "response": {"status": 201}},
		{"request": {"url": "http://b.example/", "body": null}, "response": {"body": null}}]`), "two.json")
	require.NoError(t, err)
	require.Equal(t, "POST", fs[0].Request.Method)
	require.Equal(t, 201, fs[0].Response.Status)
	require.Nil(t, fs[1].Request.Body)

	for _, tc := range []struct{ in, want string }{
		{`{"request": {"url": "ftp://a/"}}`, `f.json: request.url "ftp://a/" is not an absolute http or https URL`},
		{`{"request": {"url": "/relative"}}`, "is not an absolute http or https URL"},
		{`{"request": {"url": "http://a/", "method": "GE T"}}`, `request.method "GE T" is not an HTTP method`},
		{`{"request": {"url": "http://a/"}, "response": {"status": 600}}`, "response.status 600 is not an HTTP status"},
		{`{"request": {"url": "http://a/"}, "response": {"body": "x", "body_base64": "eA=="}}`, "both body and body_base64"},
		{`{"request": {"url": "http://a/"}, "response": {"body_base64": "!"}}`, "response.body_base64"},
		{`[{"request": {"url": "http://a/"}}, {"request": {"url": "x"}}]`, `f.json[1]: request.url "x"`},
		{`{"request": {"url": "http://a/"}, "extra": 1}`, `unknown field "extra"`},
		{`{"request": {"url": "http://a/"}} {}`, "data after the JSON value"},
		{`nope`, "not a fixture"},
	} {
		_, err := nodekit.ParseFixtures([]byte(tc.in), "f.json")
		require.ErrorContains(t, err, tc.want, tc.in)
	}
}

// The replayer matches method, URL, headers and body, answers with the
// first match and names what it could not match.
func TestReplayer(t *testing.T) {
	t.Parallel()
	fs, err := nodekit.ParseFixtures([]byte(`[
		{"request": {"method": "POST", "url": "https://a.example/json", "body": {"b": 2, "a": 1}}, "response": {"status": 201, "body": {"ok": true}}},
		{"request": {"method": "POST", "url": "https://a.example/text", "body": "exact"}, "response": {"body": "text"}},
		{"request": {"url": "https://a.example/h", "headers": {"X-Key": "k"}}, "response": {"body_base64": "AAEC", "headers": {"X-Reply": "r"}}},
		{"request": {"url": "https://a.example/h"}, "response": {"status": 404}}]`), "f.json")
	require.NoError(t, err)
	p := nodekit.NewReplayer(fs)
	type reply struct {
		status int
		header http.Header
	}
	do := func(method, url, body string, header http.Header) (reply, []byte, error) {
		req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
		require.NoError(t, err)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := p.RoundTrip(req)
		if err != nil {
			return reply{}, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return reply{resp.StatusCode, resp.Header}, b, nil
	}
	resp, body, err := do("POST", "https://a.example/json", `{"a":1,"b":2}`, nil)
	require.NoError(t, err)
	require.Equal(t, 201, resp.status)
	require.JSONEq(t, `{"ok": true}`, string(body))
	_, body, err = do("POST", "https://a.example/text", "exact", nil)
	require.NoError(t, err)
	require.Equal(t, "text", string(body))
	resp, body, err = do("GET", "https://a.example/h", "", http.Header{"X-Key": {"k"}})
	require.NoError(t, err)
	require.Equal(t, []byte{0, 1, 2}, body)
	require.Equal(t, "r", resp.header.Get("X-Reply"))
	require.Equal(t, "3", resp.header.Get("Content-Length"))
	resp, _, err = do("GET", "https://a.example/h", "", http.Header{"X-Key": {"other"}})
	require.NoError(t, err)
	require.Equal(t, 404, resp.status)

	_, _, err = do("POST", "https://a.example/text", "inexact", nil)
	require.ErrorContains(t, err, "no recorded fixture for POST https://a.example/text")
	_, _, err = do("POST", "https://a.example/json", `{"a":1}`, nil)
	require.Error(t, err)
	_, _, err = do("DELETE", "https://a.example/h", "", nil)
	require.Error(t, err)
	require.Equal(t, []string{"POST https://a.example/text", "POST https://a.example/json", "DELETE https://a.example/h"}, p.Unmatched())
}

// FuzzParseFixtures: no input makes the parser panic; what it accepts
// encodes and parses back to the same fixtures.
func FuzzParseFixtures(f *testing.F) {
	f.Add([]byte(`{"request": {"url": "https://a.example/"}, "response": {"body": {"x": 1}}}`))
	f.Add([]byte(`[{"request": {"method": "post", "url": "http://a/", "headers": {"A": "b"}, "body": "t"}, "response": {"status": 204, "body_base64": "AA=="}}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := nodekit.ParseFixtures(data, "f.json")
		if err != nil {
			return
		}
		again, err := json.Marshal(fs)
		require.NoError(t, err)
		back, err := nodekit.ParseFixtures(again, "f.json")
		require.NoError(t, err, "%s", again)
		require.Len(t, back, len(fs))
		for i := range fs {
			require.Equal(t, fs[i].Request.String(), back[i].Request.String())
			require.Equal(t, fs[i].Response.Status, back[i].Response.Status)
		}
	})
}
