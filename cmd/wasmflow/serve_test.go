package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
)

// startServe runs serve in-process and returns its base URL and a stop
// function that cancels it and returns serve's error.
func startServe(t *testing.T, cfg serveConfig) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	select {
	case addr := <-ready:
		var (
			once    sync.Once
			stopErr error
		)
		stop := func() error {
			once.Do(func() { cancel(); stopErr = <-done })
			return stopErr
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + addr, stop
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start within 30s")
	}
	return "", nil
}

func request(t *testing.T, method, url, key, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

const manualWorkflow = `{"name": "hello", "nodes": [{"name": "start", "type": "trigger.manual"}], "connections": []}`

func readKey(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "admin-api-key")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	key := strings.TrimSpace(string(data))
	require.True(t, strings.HasPrefix(key, "wf_"), "key %q", key)
	return key
}

func TestServeEmbeddedBootstrapsOnceAndKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := serveConfig{store: storeConfig{DataDir: dir}, Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}

	base, stop := startServe(t, cfg)
	status, _ := request(t, http.MethodGet, base+"/healthz", "", "")
	require.Equal(t, http.StatusOK, status)
	status, _ = request(t, http.MethodGet, base+"/readyz", "", "")
	require.Equal(t, http.StatusOK, status)

	key := readKey(t, dir)
	status, body := request(t, http.MethodPost, base+"/api/v1/workflows", key, manualWorkflow)
	require.Equal(t, http.StatusCreated, status, string(body))
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &created))
	status, _ = request(t, http.MethodGet, base+"/api/v1/workflows", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.NoError(t, stop())

	// A restart on the same data dir makes no new key and keeps the workflow.
	base, stop = startServe(t, cfg)
	require.Equal(t, key, readKey(t, dir))
	status, body = request(t, http.MethodGet, base+"/api/v1/workflows/"+created.ID, key, "")
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, stop())
}

func TestServePostgres(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	dir := t.TempDir()
	cfg := serveConfig{store: storeConfig{DataDir: dir, DatabaseURL: url}, Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}
	base, stop := startServe(t, cfg)
	key := readKey(t, dir)
	status, body := request(t, http.MethodPost, base+"/api/v1/workflows", key, manualWorkflow)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, _ = request(t, http.MethodGet, base+"/readyz", "", "")
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, stop())
}

func TestServeFailsClearly(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The listen address is taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = serve(t.Context(), serveConfig{store: storeConfig{DataDir: t.TempDir()}, Listen: ln.Addr().String()}, logger, nil)
	require.ErrorContains(t, err, "listen")

	// The data dir cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	err = serve(t.Context(), serveConfig{store: storeConfig{DataDir: filepath.Join(file, "sub")}, Listen: "127.0.0.1:0"}, logger, nil)
	require.ErrorContains(t, err, "data dir")

	// The database is unreachable.
	err = serve(t.Context(), serveConfig{store: storeConfig{DataDir: t.TempDir(),
		DatabaseURL: "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}, Listen: "127.0.0.1:0"}, logger, nil)
	require.ErrorContains(t, err, "store")
}

// TestBinaryServesAndStopsOnSIGTERM builds the real binary and runs it the way
// `make run` does, configured through the environment.
func TestBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	addr := freeAddr(t)

	dir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, "serve")
	cmd.Env = append(os.Environ(), "WASMFLOW_LISTEN="+addr, "WASMFLOW_DATA_DIR="+dir, "WASMFLOW_LOG_FORMAT=json")
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())

	started := time.Now()
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr)) //nolint:noctx // polling loop
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "no /healthz; logs:\n%s", &logs)
	t.Logf("healthy %v after start", time.Since(started))
	readKey(t, dir)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "logs:\n%s", logs.String())

	// Logs are JSON lines and carry the key file's path, never unstructured text.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		require.True(t, json.Valid([]byte(line)), "not JSON: %s", line)
	}
	require.Contains(t, logs.String(), "admin-api-key")
	require.Contains(t, logs.String(), `"msg":"stopped"`)
}

// TestServeInstallsExamples starts the server with an examples directory
// the way `make run` does and runs an installed node through the test-run
// route. It copies the small examples only: compiling the 3.4 MB Go one
// takes half a minute under the race detector (registry's tests cover it).
func TestServeInstallsExamples(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	examples := filepath.Join(t.TempDir(), "examples")
	for _, name := range []string{"filter", "hash", "text-template"} {
		copyExample(t, filepath.Join("../../plugins-examples", name), filepath.Join(examples, name))
	}
	cfg := serveConfig{store: storeConfig{DataDir: dir}, Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, ExamplesDir: examples}
	base, stop := startServe(t, cfg)
	key := readKey(t, dir)

	status, body := request(t, http.MethodGet, base+"/api/v1/nodes", key, "")
	require.Equal(t, http.StatusOK, status, string(body))
	for _, name := range []string{"wasmflow/filter", "wasmflow/hash", "wasmflow/text-template"} {
		require.Contains(t, string(body), `"`+name+`"`)
	}

	status, body = request(t, http.MethodPost, base+"/api/v1/nodes/wasmflow/hash/versions/1.0.0/test", key,
		`{"items": [{"email": "a@example.com"}], "params": {"field": "email"}}`)
	require.Equal(t, http.StatusOK, status, string(body))
	var res struct {
		Output struct{ Items []map[string]any }
	}
	require.NoError(t, json.Unmarshal(body, &res))
	sum := sha256.Sum256([]byte("a@example.com"))
	require.Equal(t, []map[string]any{{"email": "a@example.com", "email_sha256": hex.EncodeToString(sum[:])}}, res.Output.Items)

	// A run through the engine, then its metrics.
	status, body = request(t, http.MethodPost, base+"/api/v1/workflows", key, `{"name": "m", "nodes": [
		{"name": "start", "type": "trigger.manual"}, {"name": "hash", "module": "wasmflow/hash", "params": {"field": "email"}}],
		"connections": [{"from": "start", "to": "hash"}]}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var wf struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &wf))
	status, body = request(t, http.MethodPost, base+"/api/v1/workflows/"+wf.ID+"/executions?wait=30s", key, `{"input": [{"email": "m@x.y"}]}`)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), `"status":"succeeded"`)
	status, body = request(t, http.MethodGet, base+"/metrics", "", "")
	require.Equal(t, http.StatusOK, status)
	for _, metric := range []string{`wasmflow_executions_total{status="succeeded"} 1`, "wasmflow_queue_depth 0",
		"wasmflow_compile_cache_hits_total", "wasmflow_compile_cache_misses_total", `wasmflow_node_run_duration_seconds_count{module="wasmflow/hash",status="succeeded"} 1`} {
		require.Contains(t, string(body), metric)
	}
	// The examples are signed by the platform publisher and published: a
	// second tenant installs one from the marketplace and runs it.
	market := func() string {
		status, body := request(t, http.MethodGet, base+"/api/v1/marketplace", key, "")
		require.Equal(t, http.StatusOK, status, string(body))
		return string(body)
	}
	catalog := market()
	for _, name := range []string{"wasmflow/filter", "wasmflow/hash", "wasmflow/text-template"} {
		require.Contains(t, catalog, `"name":"`+name+`","publisher":"wasmflow"`)
	}
	require.Equal(t, 3, strings.Count(catalog, `"status":"verified"`), catalog)
	info, err := os.Stat(filepath.Join(dir, platformKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	platformKey, err := os.ReadFile(filepath.Join(dir, platformKeyFile))
	require.NoError(t, err)
	status, body = request(t, http.MethodPost, base+"/api/v1/tenants", key, `{"name": "other"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var other struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &other))
	status, body = request(t, http.MethodPost, base+"/api/v1/tenants/"+other.ID+"/api-keys", key, `{"name": "o", "role": "owner"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var otherKey struct{ Key string }
	require.NoError(t, json.Unmarshal(body, &otherKey))
	status, body = request(t, http.MethodPost, base+"/api/v1/marketplace/install", otherKey.Key, `{"name": "wasmflow/hash"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	status, body = request(t, http.MethodPost, base+"/api/v1/nodes/wasmflow/hash/versions/1.0.0/test", otherKey.Key,
		`{"items": [{"email": "a@example.com"}], "params": {"field": "email"}}`)
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, stop())

	// A second start installs and publishes the same modules again without
	// a conflict, with the same key; wazero's compilation cache on disk has
	// been filled.
	base, stop = startServe(t, cfg)
	require.Equal(t, catalog, market(), "the catalog did not change")
	again, err := os.ReadFile(filepath.Join(dir, platformKeyFile))
	require.NoError(t, err)
	require.Equal(t, platformKey, again)
	require.NoError(t, stop())
	entries, err := os.ReadDir(filepath.Join(dir, "compile-cache"))
	require.NoError(t, err)
	require.NotEmpty(t, entries)

	// A missing examples directory is a clear start error.
	cfg.ExamplesDir = filepath.Join(dir, "missing")
	err = serve(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.ErrorContains(t, err, "--examples-dir")
}

// copyExample copies an example's manifest and module.
func copyExample(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(to, 0o750))
	wasms, err := filepath.Glob(filepath.Join(from, "*.wasm"))
	require.NoError(t, err)
	for _, src := range append(wasms, filepath.Join(from, "wasmflow.json")) {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, filepath.Base(src)), data, 0o600))
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildBinary builds the wasmflow binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmflow-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "wasmflow")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput() //nolint:noctx // bounded by the test timeout
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtBin
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// process is a started wasmflow process with its logs.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

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

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{logs: &syncBuffer{}}
	p.cmd = exec.Command(bin, args...) //nolint:noctx // stopped in Cleanup
	p.cmd.Stderr = p.logs
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("logs of %v:\n%s", args, p.logs.String())
		}
	})
	return p
}

func waitHealthy(t *testing.T, addr string, p *process) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz") //nolint:noctx // polling loop
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 20*time.Millisecond, "no /readyz; logs:\n%s", p.logs)
}

// TestDistributedRoles runs the distributed mode as it is deployed: one
// process with the api and scheduler roles and two worker processes, on
// PostgreSQL and Redis, and runs executions through the API.
func TestDistributedRoles(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	redisAddr := testdb.RedisAddr(t)
	bin := buildBinary(t)
	examples := filepath.Join(t.TempDir(), "examples")
	for _, name := range []string{"hash", "text-template"} {
		copyExample(t, filepath.Join("../../plugins-examples", name), filepath.Join(examples, name))
	}
	queueName := "roles-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	common := []string{"--database-url", url, "--redis-addr", redisAddr, "--redis-queue", queueName, "--log-format", "json"}

	addr := freeAddr(t)
	dir := t.TempDir()
	apiProc := startProcess(t, bin, append([]string{"serve", "--roles", "api,scheduler", "--listen", addr,
		"--data-dir", dir, "--examples-dir", examples}, common...)...)
	waitHealthy(t, addr, apiProc)
	key := readKey(t, dir)
	var workers []*process
	for range 2 {
		workers = append(workers, startProcess(t, bin, append([]string{"serve", "--roles", "worker", "--data-dir", t.TempDir()}, common...)...))
	}
	for _, w := range workers {
		require.Eventually(t, func() bool { return strings.Contains(w.logs.String(), "wasmflow started") },
			60*time.Second, 20*time.Millisecond, "worker did not start:\n%s", w.logs)
	}

	base := "http://" + addr + "/api/v1"
	status, body := request(t, http.MethodPost, base+"/workflows", key, `{"name": "distributed", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "hash", "module": "wasmflow/hash@^1", "params": {"field": "email"}},
		{"name": "greet", "module": "wasmflow/text-template", "params": {"template": "hi [[email]]", "delimiters": ["[[", "]]"]}}],
		"connections": [{"from": "start", "to": "hash"}, {"from": "hash", "to": "greet"}]}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var wf struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &wf))

	for i := range 10 {
		email := fmt.Sprintf("user%d@example.com", i)
		status, body = request(t, http.MethodPost, base+"/workflows/"+wf.ID+"/executions?wait=30s", key,
			`{"input": [{"email": "`+email+`"}]}`)
		require.Equal(t, http.StatusOK, status, string(body))
		var ex struct {
			Status string
			Nodes  []struct {
				Name   string
				Status string
				Output struct{ Items []map[string]any }
			}
		}
		require.NoError(t, json.Unmarshal(body, &ex))
		require.Equal(t, "succeeded", ex.Status, string(body))
		require.Len(t, ex.Nodes, 3)
		sum := sha256.Sum256([]byte(email))
		last := ex.Nodes[2].Output.Items[0]
		require.Equal(t, "hi "+email, last["text"])
		require.Equal(t, hex.EncodeToString(sum[:]), last["email_sha256"])
	}

	// Metrics are served by the api process.
	resp, err := http.Get("http://" + addr + "/metrics") //nolint:noctx // test request
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), `wasmflow_executions_total{status="started"} 10`)
}

func TestServeRoles(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := serveConfig{store: storeConfig{DataDir: t.TempDir()}, Listen: "127.0.0.1:0", Roles: []string{"api", "cook"}}
	require.ErrorContains(t, serve(t.Context(), cfg, logger, nil), `"cook" is not api, worker or scheduler`)
	cfg.Roles = []string{"worker"}
	require.ErrorContains(t, serve(t.Context(), cfg, logger, nil), "needs --redis-addr")

	// A worker-only process on Redis starts without an HTTP server and
	// stops on its context.
	redisAddr := testdb.RedisAddr(t)
	url := testdb.Postgres(t)
	cfg = serveConfig{store: storeConfig{DataDir: t.TempDir(), DatabaseURL: url}, Roles: []string{"worker", "scheduler"},
		RedisAddr: redisAddr, RedisQueue: "roles-test", ShutdownTimeout: time.Second}
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logger, ready) }()
	select {
	case addr := <-ready:
		require.Empty(t, addr)
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	_, err := os.Stat(filepath.Join(cfg.store.DataDir, "admin-api-key"))
	require.ErrorIs(t, err, os.ErrNotExist, "only the api role bootstraps")
	cancel()
	require.NoError(t, <-done)
}
