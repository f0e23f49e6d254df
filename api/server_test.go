package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{method: http.MethodGet, path: "/api/v1/openapi.json"}) // no key needed
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type   string `json:"type"`
				Scheme string `json:"scheme"`
			} `json:"securitySchemes"`
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	r.decode(t, &doc)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Equal(t, "http", doc.Components.SecuritySchemes["bearer"].Type)
	require.Equal(t, "bearer", doc.Components.SecuritySchemes["bearer"].Scheme)
	require.Contains(t, doc.Components.Schemas, "Problem")

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, want := range []string{
		"GET /healthz", "GET /readyz",
		"POST /api/v1/workflows", "GET /api/v1/workflows",
		"GET /api/v1/workflows/{id}", "PUT /api/v1/workflows/{id}", "DELETE /api/v1/workflows/{id}",
		"GET /api/v1/workflows/{id}/versions", "GET /api/v1/workflows/{id}/versions/{version}",
	} {
		require.True(t, documented[want], "%s is not documented", want)
	}

	// Every route the Fiber app serves is documented, and nothing more:
	// a route added without huma fails here.
	served := map[string]bool{}
	for _, rt := range e.srv.app.GetRoutes(true) {
		if rt.Method == http.MethodGet && rt.Path == openAPIPath {
			continue // the document itself
		}
		if strings.HasPrefix(rt.Path, hooksPrefix+"/") {
			continue // webhooks: public URLs of the tenants' workflows, not API operations
		}
		path := rt.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		served[rt.Method+" "+path] = true
	}
	require.Equal(t, documented, served)

	// Each authenticated operation names its role and the bearer scheme;
	// the health checks need neither; errors are problem+json.
	var full map[string]any
	r.decode(t, &full)
	for path, ops := range full["paths"].(map[string]any) {
		for method, raw := range ops.(map[string]any) {
			op := raw.(map[string]any)
			name := method + " " + path
			if strings.HasPrefix(path, "/api/v1/") {
				require.NotEmpty(t, op["x-required-role"], name)
				require.Equal(t, []any{map[string]any{"bearer": []any{}}}, op["security"], name)
				require.Contains(t, op["responses"], "401", name)
				require.Contains(t, op["responses"], "403", name)
			} else {
				require.Empty(t, op["security"], name)
			}
			for status, resp := range op["responses"].(map[string]any) {
				if status[0] == '4' || status[0] == '5' {
					require.Contains(t, resp.(map[string]any)["content"], problemContentType, "%s %s", name, status)
				}
			}
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{cfg: Config{Version: "1.2.3"}})
	r := e.do(req{method: http.MethodGet, path: "/healthz"})
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"status": "ok", "version": "1.2.3"}`, string(r.body))
	r = e.do(req{method: http.MethodGet, path: "/readyz"})
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"status": "ready", "checks": [{"name": "store", "status": "ok"}]}`, string(r.body))

	// A closed store makes the server unready, and every store-backed
	// operation a 500 that tells nothing of the cause.
	require.NoError(t, e.store.Close())
	r = e.do(req{method: http.MethodGet, path: "/readyz"})
	p := r.problem(t, http.StatusServiceUnavailable, CodeNotReady)
	require.Equal(t, []string{"checks.store"}, p.locations())
	require.Equal(t, http.StatusOK, e.do(req{method: http.MethodGet, path: "/healthz"}).status)

	r = e.do(req{method: http.MethodGet, path: "/api/v1/workflows", key: e.key})
	p = r.problem(t, http.StatusInternalServerError, CodeInternal)
	require.Empty(t, p.Errors)
	require.Equal(t, "request id "+r.header.Get(HeaderRequestID), p.Detail)
	require.NotContains(t, strings.ToLower(string(r.body)), "closed")
	require.NotContains(t, strings.ToLower(string(r.body)), "sql")
	// The cause is in the log, under the request id.
	require.Contains(t, e.logs.String(), r.header.Get(HeaderRequestID))
	require.Contains(t, e.logs.String(), `"level":"ERROR"`)
}

func TestReadinessChecks(t *testing.T) {
	t.Parallel()
	queueErr := errors.New("dial tcp 10.0.0.7:6379: connection refused")
	e := newEnvWith(t, envOpts{cfg: Config{Readiness: []ReadinessCheck{
		{Name: "queue", CheckFunc: func(context.Context) error { return queueErr }},
		{Name: "cache", CheckFunc: func(ctx context.Context) error { return ctx.Err() }},
	}}})
	r := e.do(req{method: http.MethodGet, path: "/readyz"})
	p := r.problem(t, http.StatusServiceUnavailable, CodeNotReady)
	require.Equal(t, []string{"checks.queue"}, p.locations())
	require.NotContains(t, string(r.body), "10.0.0.7")
	require.Contains(t, e.logs.String(), "10.0.0.7") // the operator sees why
}

// TestErrorsNeverLeak registers operations that fail in every way a handler
// can and checks each answer through the one mapping.
func TestErrorsNeverLeak(t *testing.T) {
	t.Parallel()
	const secret = "password=hunter2 at db.internal:5432"
	fail := func(err error) func(context.Context, *struct{}) (*struct{}, error) {
		return func(context.Context, *struct{}) (*struct{}, error) { return nil, err }
	}
	e := newEnvWith(t, envOpts{extra: func(s *Server) {
		for name, err := range map[string]error{
			"plain":     errors.New(secret),
			"wrapped":   fmt.Errorf("load: %w", errors.New(secret)),
			"not-found": fmt.Errorf("load %s: %w", secret, store.ErrNotFound),
			"conflict":  fmt.Errorf("%w: %s", store.ErrConflict, secret),
			"huma-503":  huma.Error503ServiceUnavailable(secret),
			"huma-404":  huma.Error404NotFound("gone"),
		} {
			register(s, huma.Operation{OperationID: "fail-" + name, Method: http.MethodGet, Path: "/api/v1/test/" + name}, "viewer", fail(err))
		}
		register(s, huma.Operation{OperationID: "panic", Method: http.MethodGet, Path: "/api/v1/test/panic"}, "viewer",
			func(context.Context, *struct{}) (*struct{}, error) { panic(secret) })
	}})
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"plain", 500, CodeInternal},
		{"wrapped", 500, CodeInternal},
		{"panic", 500, CodeInternal},
		{"huma-503", 503, CodeInternal},
		{"not-found", 404, CodeNotFound},
		{"conflict", 409, CodeConflict},
		{"huma-404", 404, CodeNotFound},
	}
	// The group waits for its parallel cases before the checks below.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.path, func(t *testing.T) {
				t.Parallel()
				r := e.do(req{method: http.MethodGet, path: "/api/v1/test/" + tc.path, key: e.key})
				p := r.problem(t, tc.status, tc.code)
				require.NotContains(t, string(r.body), "hunter2")
				if tc.status >= 500 {
					require.Equal(t, "request id "+r.header.Get(HeaderRequestID), p.Detail)
					require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), r.header.Get(HeaderRequestID)) }, time.Second, 10*time.Millisecond)
				}
			})
		}
	})
	// The operator finds the causes in the log.
	require.Contains(t, e.logs.String(), "hunter2")
	require.Contains(t, e.logs.String(), "panic")
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.do(req{method: http.MethodGet, path: "/nope"}).problem(t, http.StatusNotFound, CodeNotFound)
	require.Contains(t, p.Detail, "/nope")
	e.do(req{method: http.MethodGet, path: "/api/v1/nope", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)
	e.do(req{method: http.MethodGet, path: "/api/v1/workflows/a/b/c/d", key: e.key}).problem(t, http.StatusNotFound, CodeNotFound)

	r := e.do(req{method: http.MethodDelete, path: "/api/v1/workflows", key: e.key})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "GET, POST", r.header.Get("Allow"))
	r = e.do(req{method: http.MethodPatch, path: "/api/v1/workflows/wf_x/", key: e.key})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "DELETE, GET, PUT", r.header.Get("Allow"))
	r = e.do(req{method: http.MethodPost, path: "/healthz"})
	r.problem(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	require.Equal(t, "GET", r.header.Get("Allow"))
	r = e.do(req{method: http.MethodPost, path: "/api/v1/openapi.json"})
	require.Equal(t, "GET", r.header.Get("Allow"))
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{cfg: Config{BodyLimit: 4096}})
	// Over the operation's cap, no Content-Length: read whole, refused.
	body := io.MultiReader(strings.NewReader(`{"name": "`), strings.NewReader(strings.Repeat("x", 6000)), strings.NewReader(`"}`))
	e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: body}).problem(t, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
	// Exactly the cap is accepted (and then validated).
	exact := `{"name": "` + strings.Repeat("x", 4096-len(`{"name": ""}`)) + `"}`
	require.Len(t, exact, 4096)
	e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: exact}).problem(t, http.StatusUnprocessableEntity, CodeWorkflowInvalid)

	// A compressed body is refused on every route before it is read: a
	// small gzip bomb under the cap would decompress far past it.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"name": "` + strings.Repeat("x", 1<<20) + `"}`))
	require.NoError(t, zw.Close())
	require.Less(t, gz.Len(), 4096)
	p := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: e.key, body: gz.Bytes(),
		header: map[string]string{"Content-Encoding": "gzip"}}).problem(t, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType)
	require.Equal(t, []string{"header.Content-Encoding"}, p.locations())

	// Over fasthttp's ceiling: refused from the headers alone, before any
	// handler, still as a problem with a request id. (A raw connection:
	// the refusal closes it, and a client still sending the body could
	// see a reset instead.)
	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", strings.TrimPrefix(e.base, "http://"))
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_, err = fmt.Fprintf(conn, "POST /api/v1/workflows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n", e.key)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	r.problem(t, http.StatusRequestEntityTooLarge, CodeBodyTooLarge)
	id := resp.Header.Get(HeaderRequestID)
	require.NotEmpty(t, id)
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), id) }, time.Second, 10*time.Millisecond)
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for name, cfg := range map[string]Config{
		"no store":       {},
		"negative limit": {Store: st, BodyLimit: -1},
		"unnamed check":  {Store: st, Readiness: []ReadinessCheck{{CheckFunc: st.Ping}}},
		"no check func":  {Store: st, Readiness: []ReadinessCheck{{Name: "queue"}}},
	} {
		_, err := New(cfg)
		require.Error(t, err, name)
	}
	s, err := New(Config{Store: st})
	require.NoError(t, err)
	require.Equal(t, DefaultBodyLimit, s.bodyLimit)
	require.Equal(t, "dev", s.version)
	require.Panics(t, func() {
		register(s, huma.Operation{OperationID: "x", Method: http.MethodGet, Path: "/x"}, "superuser",
			func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
	})
}

func TestRouteTable(t *testing.T) {
	t.Parallel()
	tbl := routeTable{
		{method: "GET", segments: splitPath("/a/:id")},
		{method: "PUT", segments: splitPath("/a/:id")},
		{method: "GET", segments: splitPath("/a/:id")},
		{method: "GET", segments: splitPath("/files/*")},
		{method: "GET", segments: splitPath("/")},
	}
	require.Equal(t, []string{"GET", "PUT"}, tbl.methods("/a/1"))
	require.Equal(t, []string{"GET", "PUT"}, tbl.methods("/A/1/"))
	require.Empty(t, tbl.methods("/a"))
	require.Empty(t, tbl.methods("/a/1/2"))
	require.Empty(t, tbl.methods("/a//"))
	require.Equal(t, []string{"GET"}, tbl.methods("/files/x/y"))
	require.Equal(t, []string{"GET"}, tbl.methods("/"))
	require.False(t, slices.Contains(tbl.methods("/b"), "GET"))
}

// Shutdown stops a server whose Listen had not started serving yet, and a
// Listen after Shutdown returns at once: no listener is left serving.
func TestShutdownBeforeServing(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for range 20 {
		srv, err := New(Config{Store: st})
		require.NoError(t, err)
		ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- srv.Listen(ln) }()
		require.NoError(t, srv.Shutdown(t.Context()))
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Listen still serving after Shutdown")
		}
	}
	srv, err := New(Config{Store: st})
	require.NoError(t, err)
	require.NoError(t, srv.Shutdown(t.Context()))
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, srv.Listen(ln))
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}
