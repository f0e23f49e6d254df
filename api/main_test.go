package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/registry/registrytest"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's worker-pool cleaner sleeps 10s between looks at its
		// stop channel, so it outlives Shutdown by up to 10s. A server
		// never shut down still fails: its Serve goroutine stays.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// fasthttp refreshes its Date header in one process-wide goroutine,
		// started with the first server and never stopped.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

// openStore opens a migrated SQLite store in a fresh directory.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "wasmflow.db")})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// syncBuffer is a log sink many request goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a started server on 127.0.0.1 with its own store and an owner key
// of the bootstrapped tenant.
type env struct {
	t        testing.TB
	store    *sqlite.Store
	srv      *Server
	base     string
	client   *http.Client
	key      string // owner, platform admin, tenant "default"
	tenantID string
	logs     *syncBuffer
}

type envOpts struct {
	cfg   Config
	extra func(*Server)
	// registry, when set, gives the server a registry on the env's store
	// (and a runtime of its own) configured by it.
	registry *registry.Config
	// engine gives the server an engine (and so the execution routes) and
	// a /metrics handler: an in-process queue, the env's store, a registry
	// (configured by registry when set) and its runtime, with a worker and
	// a reconciler running until the test ends.
	engine bool
	// slots configures the engine's per-tenant execution slots
	// (MaxActiveExecutions, MaxWaitingExecutions; the rest is ignored).
	slots engine.Config
	// idle runs no worker: started executions stay queued.
	idle bool
}

func newEnv(t testing.TB) *env { return newEnvWith(t, envOpts{}) }

func newEnvWith(t testing.TB, o envOpts) *env {
	t.Helper()
	st := openStore(t)
	key, created, err := auth.Bootstrap(context.Background(), st)
	require.NoError(t, err)
	require.True(t, created)
	tenant, err := st.TenantGetByName(context.Background(), auth.DefaultTenant)
	require.NoError(t, err)

	logs := &syncBuffer{}
	cfg := o.cfg
	cfg.Store = st
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	switch {
	case o.engine:
		var rcfg registry.Config
		if o.registry != nil {
			rcfg = *o.registry
		}
		cfg.Registry, cfg.Engine, cfg.Metrics = startEngine(t, st, rcfg, cfg.Logger, o)
	case o.registry != nil:
		cfg.Registry = registrytest.New(t, st, *o.registry)
	}
	srv, err := newServer(cfg, o.extra)
	require.NoError(t, err)
	e := &env{t: t, store: st, srv: srv, key: key, tenantID: tenant.ID, logs: logs}
	e.start()
	return e
}

// startEngine builds a runtime, a registry on st configured by rcfg, an
// in-process queue and an engine with its metrics, and runs the engine's
// worker and reconciler until the test ends (before the store closes, after
// the server has: cleanups run last registered first).
func startEngine(t testing.TB, st *sqlite.Store, rcfg registry.Config, logger *slog.Logger, o envOpts) (*registry.Registry, *engine.Engine, http.Handler) {
	t.Helper()
	// Not registrytest.New: the engine runs modules on the registry's runtime.
	rt, err := runtime.New(context.Background(), runtime.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close(context.Background())) })
	rcfg.Store, rcfg.Runtime = st, rt
	reg, err := registry.New(rcfg)
	require.NoError(t, err)

	q, err := inproc.New(inproc.Config{Workers: 8, ShutdownTimeout: time.Second, Logger: logger})
	require.NoError(t, err)
	metrics := prometheus.NewRegistry()
	m, err := engine.NewMetrics(metrics)
	require.NoError(t, err)
	eng, err := engine.New(engine.Config{
		Store: st, Queue: q, Modules: reg, Runtime: rt, Logger: logger, Metrics: m,
		ReconcileInterval: 50 * time.Millisecond, RedeliverAfter: 500 * time.Millisecond,
		MaxActiveExecutions: o.slots.MaxActiveExecutions, MaxWaitingExecutions: o.slots.MaxWaitingExecutions,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if !o.idle {
		wg.Go(func() { _ = eng.Work(ctx) })
	}
	wg.Go(func() { _ = eng.Reconcile(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		require.NoError(t, q.Close())
	})
	return reg, eng, promhttp.HandlerFor(metrics, promhttp.HandlerOpts{})
}

// start serves e.srv on a fresh loopback port until the test ends.
func (e *env) start() {
	t := e.t
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- e.srv.Listen(ln) }()
	e.base = "http://" + ln.Addr().String()
	// Generous: an upload compiles the module, and a 3-4 MB Go example takes
	// tens of seconds under the race detector on a busy 2-vCPU machine.
	e.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{}}
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.srv.Shutdown(ctx))
		require.NoError(t, <-done)
	})
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// problem checks r is an RFC 9457 problem with status and code, and returns it.
func (r *response) problem(t testing.TB, status int, code string) Problem {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, problemContentType, r.header.Get("Content-Type"), "body: %s", r.body)
	var p Problem
	r.decode(t, &p)
	require.Equal(t, code, p.Code, "body: %s", r.body)
	require.Equal(t, status, p.Status)
	require.Equal(t, problemTypeBase+code, p.Type)
	require.NotEmpty(t, p.Title)
	return p
}

// locations lists where a problem's errors are.
func (p Problem) locations() []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Location
	}
	return out
}

// req is one request to send.
type req struct {
	method string
	path   string
	key    string // "" sends no Authorization header
	body   any    // string and []byte go as they are, anything else as JSON
	header map[string]string
}

func (e *env) do(r req) *response {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		body = bytes.NewReader(data)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, e.base+r.path, body)
	require.NoError(e.t, err)
	if r.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.client.Do(hr)
	require.NoError(e.t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, resp.Header.Get(HeaderRequestID), "%s %s: every response carries a request id", r.method, r.path)
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

// newKey stores an API key with role in tenantID and returns it.
func (e *env) newKey(tenantID, role string, mod func(*store.APIKeyInsertParams)) (key string, rec *store.APIKey) {
	e.t.Helper()
	key, prefix, hash := auth.NewAPIKey()
	p := &store.APIKeyInsertParams{Name: role + "-key", Role: role, Prefix: prefix, Hash: hash}
	if mod != nil {
		mod(p)
	}
	rec, err := e.store.APIKeyInsert(context.Background(), tenantID, p)
	require.NoError(e.t, err)
	return key, rec
}

// newTenant creates another tenant and an owner key for it.
func (e *env) newTenant(name string) (tenantID, key string) {
	e.t.Helper()
	tn, err := e.store.TenantInsert(context.Background(), name)
	require.NoError(e.t, err)
	key, _ = e.newKey(tn.ID, auth.RoleOwner, nil)
	return tn.ID, key
}

// sampleWorkflow is a valid workflow named name.
func sampleWorkflow(name string) map[string]any {
	return map[string]any{
		"name":        name,
		"description": "test workflow",
		"nodes": []any{
			map[string]any{"name": "start", "type": "trigger.manual"},
			map[string]any{"name": "fields", "module": "wasmflow/set-fields@^1", "params": map[string]any{"set": map[string]any{"source": "api"}}},
			map[string]any{"name": "big?", "type": "core.if", "params": map[string]any{"condition": "{{ $json.total > 100 }}"}},
			map[string]any{
				"name": "hash", "module": "wasmflow/hash@1.0.0", "params": map[string]any{"field": "email"},
				"retry": map[string]any{"max_attempts": 3, "backoff_ms": 200}, "timeout_ms": 2000, "on_error": "stop",
			},
		},
		"connections": []any{
			map[string]any{"from": "start", "to": "fields"},
			map[string]any{"from": "fields", "to": "big?"},
			map[string]any{"from": "big?", "from_port": "true", "to": "hash"},
		},
	}
}

// createWorkflow stores sampleWorkflow(name) through the API and returns its id.
func (e *env) createWorkflow(key, name string) string {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/v1/workflows", key: key, body: sampleWorkflow(name)})
	require.Equal(e.t, http.StatusCreated, r.status, "body: %s", r.body)
	var w workflowResponse
	r.decode(e.t, &w)
	return w.ID
}

var (
	idPattern   = regexp.MustCompile(`\b(wf|req)_[0-9a-z]{26}\b`)
	timePattern = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`)
)

// golden compares body, indented and with ids and times normalised, with
// testdata/name.golden; -update rewrites the file.
func golden(t testing.TB, name string, body []byte) {
	t.Helper()
	// Indent, not re-encode: the file shows the bytes the server sent, in
	// its field order.
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, body, "", "  "))
	pretty := idPattern.ReplaceAll(buf.Bytes(), []byte("${1}_ID"))
	pretty = timePattern.ReplaceAll(pretty, []byte(`"TIME"`))
	pretty = append(pretty, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, pretty, 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), string(pretty))
}
