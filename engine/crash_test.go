package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/queue/asynqueue"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/postgres"
	"github.com/wasmflow/wasmflow/workflow"
)

// Environment of a worker process started by TestKilledWorker.
const (
	envWorkerDB    = "WASMFLOW_TEST_WORKER_DB"
	envWorkerRedis = "WASMFLOW_TEST_WORKER_REDIS"
	envWorkerQueue = "WASMFLOW_TEST_WORKER_QUEUE"
	envWorkerLease = "WASMFLOW_TEST_WORKER_LEASE"
	envWorkerHTTP  = "WASMFLOW_TEST_WORKER_HTTP" // registry.HTTPOptions as JSON
	envWorkerCache = "WASMFLOW_TEST_WORKER_CACHE"
)

// TestMain lets the test binary double as a worker process.
func TestMain(m *testing.M) {
	if os.Getenv(envWorkerDB) != "" {
		if err := runWorkerProcess(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "wasmflow-engine-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	compileCache = dir
	if err := prewarm(dir); err != nil {
		fmt.Fprintln(os.Stderr, "prewarm the compilation cache:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// prewarm compiles the slowest modules (Go, Haskell: half a minute each
// under the race detector) into the compilation cache once, before the
// tests start in parallel and would each compile them at the same time.
func prewarm(cache string) error {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: cache})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	sdk, err := goSDKWasmDir()
	if err != nil {
		return err
	}
	for _, path := range []string{
		filepath.Join("..", "plugins-examples", "http-request", "http-request.wasm"),
		filepath.Join(sdk, "hello_haskell.wasm"),
	} {
		wasm, err := os.ReadFile(path) //nolint:gosec // G304: the test's own fixtures
		if err != nil {
			return err
		}
		if _, err := rt.Inspect(ctx, wasm); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// runWorkerProcess is a worker: PostgreSQL, Asynq, the engine's Work loop,
// until SIGTERM (or SIGKILL, which is the point).
func runWorkerProcess() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	st, err := postgres.Open(ctx, postgres.Config{URL: os.Getenv(envWorkerDB), MaxConns: workerPoolSize})
	if err != nil {
		return err
	}
	defer st.Close()
	rt, err := runtime.New(ctx, runtime.Config{CacheDir: os.Getenv(envWorkerCache)})
	if err != nil {
		return err
	}
	keys, _, err := vault.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	var httpOpts registry.HTTPOptions
	if err := json.Unmarshal([]byte(os.Getenv(envWorkerHTTP)), &httpOpts); err != nil {
		return fmt.Errorf("%s: %w", envWorkerHTTP, err)
	}
	reg, err := registry.New(registry.Config{
		Store: st, Runtime: rt, Secrets: &vault.Reader{Store: st, Keys: keys}, Audit: st, HTTP: httpOpts,
	})
	if err != nil {
		return err
	}
	q, err := asynqueue.New(asynqueue.Config{RedisAddr: os.Getenv(envWorkerRedis), Queue: os.Getenv(envWorkerQueue),
		Concurrency: workerConcurrency})
	if err != nil {
		return err
	}
	defer q.Close()
	lease, err := time.ParseDuration(os.Getenv(envWorkerLease))
	if err != nil {
		lease = 2 * time.Second
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	eng, err := engine.New(engine.Config{Store: st, Queue: q, Modules: reg, Runtime: rt, LeaseDuration: lease, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Println("worker ready")
	return eng.Work(ctx)
}

// A worker process runs workerConcurrency handlers on a pool of
// workerPoolSize connections: each handler holds one at a time, and the
// lease heartbeats need not wait behind them for one (the pool's default
// is 4 on two cores, with 2 s leases here).
const (
	workerConcurrency = 8
	workerPoolSize    = workerConcurrency + 2
)

const diamondOfSlowNodes = `{"name": "crash", "nodes": [
	{"name": "start", "type": "trigger.manual"},
	{"name": "left", "module": "test/slow-echo"},
	{"name": "right", "module": "test/slow-echo"},
	{"name": "merge", "type": "core.merge"},
	{"name": "done", "type": "core.noop"}],
	"connections": [{"from": "start", "to": "left"}, {"from": "start", "to": "right"},
		{"from": "left", "to": "merge"}, {"from": "right", "to": "merge"}, {"from": "merge", "to": "done"}]}`

// checkExactlyOnce checks that every execution succeeded, that each node
// has one run (no output stored twice, no second merge) and that the
// merge saw both branches.
func checkExactlyOnce(t *testing.T, st store.Store, tenant string, ids []string) {
	t.Helper()
	for _, id := range ids {
		ex, err := st.ExecutionGet(context.Background(), tenant, id)
		require.NoError(t, err)
		require.Equal(t, store.ExecutionSucceeded, ex.Status, "execution %s: %s", id, ex.Error)
		runs, err := st.NodeRunList(context.Background(), tenant, id)
		require.NoError(t, err)
		require.Len(t, runs, 5, "execution %s has one run per node", id)
		for _, r := range runs {
			require.Equal(t, store.RunSucceeded, r.Status, "%s %s", id, r.Node)
			require.Equal(t, 1, r.Attempt)
			if r.Node == "merge" {
				require.Len(t, portItems(t, r.Output, ""), 2)
			}
		}
	}
}

// TestKilledWorker kills -9 a worker process in the middle of 200
// executions: every execution still finishes, exactly once per node.
//
// It does not run in parallel with the package's other tests: it measures
// recovery, and the 2-core machines are loaded enough by the other packages.
func TestKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	url := testdb.Postgres(t)
	addr := testdb.RedisAddr(t)
	ctx := t.Context()
	// This process's handlers, heartbeats, reconciler and the polling
	// below share the pool: room for all of them.
	st, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: workerPoolSize})
	require.NoError(t, err)
	tenantID, rt, reg := newModules(t, st, "slow-echo")
	queueName := "crash-" + strings.ToLower(store.NewID("q"))

	// The worker process does most of the work.
	worker := startWorkerProcess(t, url, addr, queueName, 2*time.Second, registry.HTTPOptions{})

	// This process: a smaller worker, the reconciler, and the starts.
	q, err := asynqueue.New(asynqueue.Config{RedisAddr: addr, Queue: queueName, Concurrency: 4, ShutdownTimeout: time.Second,
		Logger: testdb.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	metrics := prometheus.NewRegistry()
	m, err := engine.NewMetrics(metrics)
	require.NoError(t, err)
	eng, err := engine.New(engine.Config{Store: st, Queue: q, Modules: reg, Runtime: rt, Metrics: m, Logger: testdb.Logger(t),
		LeaseDuration: 2 * time.Second, ReconcileInterval: 100 * time.Millisecond, RedeliverAfter: time.Second})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = eng.Work(runCtx); done <- struct{}{} }()
	go func() { _ = eng.Reconcile(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { stop(); <-done; <-done })

	w := &harness{t: t, store: st, reg: reg, eng: eng, tenant: tenantID}
	wf := w.save(diamondOfSlowNodes)
	var ids []string
	for i := range 200 {
		ids = append(ids, w.start(wf, workflow.Item{"i": float64(i)}))
	}
	// Kill the worker while runs are in flight (most of them on the worker,
	// which has twice this process's concurrency).
	require.Eventually(t, func() bool {
		n := 0
		for _, id := range ids {
			runs, err := st.NodeRunList(ctx, tenantID, id)
			require.NoError(t, err)
			for _, r := range runs {
				if r.Status == store.RunRunning {
					n++
				}
			}
			if n >= 6 {
				return true
			}
		}
		return false
	}, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, worker.Process.Signal(syscall.SIGKILL))

	// This process now runs every remaining node run, a few per second on
	// a loaded two-core machine: wait as long as they keep finishing.
	finished := func() float64 { return histogramCount(t, metrics, "wasmflow_node_run_duration_seconds") }
	for _, id := range ids {
		w.waitProgress(id, finished)
	}
	checkExactlyOnce(t, st, tenantID, ids)
	require.Positive(t, counterValue(t, metrics, "wasmflow_reconciler_actions_total", "lease_expired"),
		"the killed worker's runs came back through their expired leases")
}

// TestQueueLosesItsData deletes the queue's data in Redis in the middle of
// executions: the reconciler enqueues the queued runs again from the
// outbox, and everything finishes once.
func TestQueueLosesItsData(t *testing.T) {
	t.Parallel()
	h := newHarness(t, mode{name: "distributed", distributed: true}, harnessOpts{})
	wf := h.save(diamondOfSlowNodes)
	var ids []string
	for i := range 40 {
		ids = append(ids, h.start(wf, workflow.Item{"i": float64(i)}))
	}
	rc := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr(t)})
	defer rc.Close()
	time.Sleep(50 * time.Millisecond)
	keys, err := rc.Keys(t.Context(), "asynq:{"+h.queueName+"}*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	require.NoError(t, rc.Del(t.Context(), keys...).Err())
	for _, id := range ids {
		h.wait(id)
	}
	checkExactlyOnce(t, h.store, h.tenant, ids)
}

// A task delivered again for a finished run changes nothing.
func TestDuplicateDeliveryIsNoop(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			wf := h.save(`{"name": "dup", "nodes": [{"name": "start", "type": "trigger.manual"},
				{"name": "hash", "module": "wasmflow/hash", "params": {"field": "a"}}],
				"connections": [{"from": "start", "to": "hash"}]}`)
			r := h.run(wf, workflow.Item{"a": "x"})
			before := r.node(t, "hash")
			for range 3 {
				require.NoError(t, h.eng.Handle(t.Context(), &queue.Task{
					ID: "again", Kind: engine.TaskKind, TenantID: h.tenant, Payload: []byte(before.ID),
				}))
			}
			after := h.wait(r.ex.ID)
			require.Len(t, after.runs, 2)
			require.Equal(t, before.Output, after.node(t, "hash").Output)
			require.Equal(t, before.FinishedAt, after.node(t, "hash").FinishedAt)
			// Another tenant's id, an unknown one and another kind: nothing.
			require.NoError(t, h.eng.Handle(t.Context(), &queue.Task{ID: "x", Kind: engine.TaskKind, TenantID: "tn_other", Payload: []byte(before.ID)}))
			require.NoError(t, h.eng.Handle(t.Context(), &queue.Task{ID: "y", Kind: engine.TaskKind, TenantID: h.tenant, Payload: []byte("nr_unknown")}))
			require.Error(t, h.eng.Handle(t.Context(), &queue.Task{ID: "z", Kind: "other", TenantID: h.tenant}))
		})
	}
}

// counterValue reads one labelled value of a counter from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetValue() == label {
					return metric.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// histogramCount adds up the observations of every series of a histogram.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var n float64
	for _, f := range families {
		if f.GetName() == name {
			for _, metric := range f.GetMetric() {
				n += float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	return n
}

// startWorkerProcess starts this test binary as a worker process (see
// TestMain) and waits until it is ready; it is stopped when the test ends.
func startWorkerProcess(t testing.TB, dbURL, redisAddr, queueName string, lease time.Duration, httpOpts registry.HTTPOptions) *exec.Cmd {
	t.Helper()
	httpJSON, err := json.Marshal(httpOpts)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$") //nolint:gosec,noctx // the test binary itself, stopped in Cleanup
	cmd.Env = append(os.Environ(), envWorkerDB+"="+dbURL, envWorkerRedis+"="+redisAddr,
		envWorkerQueue+"="+queueName, envWorkerLease+"="+lease.String(), envWorkerHTTP+"="+string(httpJSON),
		vault.EnvMasterKey+"="+testMasterKey, envWorkerCache+"="+compileCache)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker process logs:\n%s", logs.String())
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "worker ready\n" {
			err = fmt.Errorf("worker said %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case err := <-ready:
		require.NoError(t, err, "worker logs:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the worker process did not start within 30s")
	}
	return cmd
}

// lockedBuffer is a buffer a process writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
