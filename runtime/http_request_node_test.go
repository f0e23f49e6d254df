package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/hostfuncs"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/workflow"
)

// The example node wasmflow/http-request (plugins-examples/http-request),
// run with the real wasmflow_http_fetch against a local server: the requests
// it builds, the secrets the host fills in, the responses it decodes and the
// host's refusals it reports.
//
// Not parallel with the package's other tests: compiling the 3.8 MB module
// takes seconds of CPU, which would eat into their tight time limits.
func TestHTTPRequestExample(t *testing.T) {
	const dir = "../plugins-examples/http-request/"
	wasm, err := os.ReadFile(dir + "http-request.wasm")
	require.NoError(t, err)
	var manifest workflow.Manifest
	raw, err := os.ReadFile(dir + "wasmflow.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &manifest))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Trace", "t1")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"method": r.Method, "query": r.URL.RawQuery, "auth": r.Header.Get("Authorization"),
				"content_type": r.Header.Get("Content-Type"), "body": string(body),
			})
		case "/bin":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte{0xff, 0x00, 0xfe})
		default:
			http.Error(w, "no such thing", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)

	r := newRuntime(t, runtime.Config{})
	run := func(t *testing.T, cfg hostfuncs.HTTPConfig, items []workflow.Item, params map[string]any) (*runtime.Result, error) {
		t.Helper()
		input, err := json.Marshal(workflow.InputDocument{
			Items: items, Inputs: map[string][]workflow.Item{workflow.PortMain: items}, Params: params,
			Node: workflow.NodeInfo{Name: "fetch"}, Execution: workflow.ExecutionInfo{ID: "ex", Attempt: 1},
		})
		require.NoError(t, err)
		return r.Run(t.Context(), &runtime.RunParams{Wasm: wasm, Digest: digest(wasm), Manifest: &manifest, Input: input,
			HostFuncs: []hostfuncs.Func{hostfuncs.HTTPFetch(cfg)}})
	}
	lab := hostfuncs.HTTPConfig{
		Grant:        workflow.HTTPCapability{Hosts: []string{"127.0.0.1"}},
		AllowPrivate: true,
		Secrets: func(_ context.Context, name string) (string, error) {
			if name == "token" {
				return "s3cr3t", nil
			}
			return "", errors.New("no")
		},
	}

	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		res, err := run(t, lab, []workflow.Item{{"id": 1}, {"id": 2}}, map[string]any{
			"url": srv.URL + "/echo?a=1", "method": "POST", "query": map[string]any{"q": "x y"},
			"headers": map[string]any{"Authorization": "Bearer {{secret:token}}"}, "body": map[string]any{"n": 1},
		})
		require.NoError(t, err)
		var out struct{ Items []map[string]any }
		require.NoError(t, json.Unmarshal(res.Output, &out))
		require.Len(t, out.Items, 2)
		for _, it := range out.Items {
			h, ok := it["headers"].(map[string]any)
			require.True(t, ok)
			require.NotEmpty(t, h["date"])
			delete(h, "date")
			delete(h, "content-length")
			require.JSONEq(t, `{"status": 200, "headers": {"content-type": "application/json", "x-trace": "t1"},
				"body": {"method": "POST", "query": "a=1&q=x+y", "auth": "Bearer s3cr3t", "content_type": "application/json", "body": "{\"n\":1}"}}`,
				mustJSON(t, it))
		}
		require.Len(t, res.Logs, 3)
		require.Equal(t, "POST "+srv.URL+"/echo (items[1]): status 200, 119 bytes", res.Logs[1].Message)
	})
	t.Run("binary", func(t *testing.T) {
		t.Parallel()
		res, err := run(t, lab, nil, map[string]any{"url": srv.URL + "/bin"})
		require.NoError(t, err)
		require.Contains(t, string(res.Output), `"body":"/wD+","body_encoding":"base64"`)
	})
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		_, err := run(t, lab, nil, map[string]any{"url": srv.URL + "/nope?k=v"})
		ne, ok := errors.AsType[*runtime.NodeError](err)
		require.True(t, ok, "%v", err)
		require.Equal(t, runtime.KindGuestError, ne.Kind)
		require.Equal(t, "http_status: status 404 from GET "+srv.URL+"/nope: no such thing", ne.Message)
	})
	t.Run("ssrf", func(t *testing.T) {
		t.Parallel()
		cfg := lab
		cfg.AllowPrivate = false
		_, err := run(t, cfg, nil, map[string]any{"url": srv.URL + "/echo"})
		ne, ok := errors.AsType[*runtime.NodeError](err)
		require.True(t, ok, "%v", err)
		require.True(t, strings.HasPrefix(ne.Message, "ssrf_blocked: "), ne.Message)
		require.True(t, strings.HasSuffix(ne.Message, ": GET "+srv.URL+"/echo"), ne.Message)
	})
	t.Run("secret not granted", func(t *testing.T) {
		t.Parallel()
		_, err := run(t, lab, nil, map[string]any{"url": srv.URL + "/echo", "headers": map[string]any{"X-Key": "{{secret:api_key}}"}})
		ne, ok := errors.AsType[*runtime.NodeError](err)
		require.True(t, ok, "%v", err)
		require.True(t, strings.HasPrefix(ne.Message, "secret_not_granted: "), ne.Message)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
