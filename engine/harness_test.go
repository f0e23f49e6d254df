package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/queue/asynqueue"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/postgres"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

// backendStore is a store the harness can migrate and close.
type backendStore interface {
	store.Store
	Migrate(ctx context.Context) error
}

// harness is a running engine setup: a store, a registry with the example
// nodes, and workers.
type harness struct {
	t     testing.TB
	store store.Store
	reg   *registry.Registry
	rt    *runtime.Runtime
	eng   *engine.Engine // starts executions; also a worker
	// queue is eng's queue (its workers run what it is given).
	queue  queue.Queue
	tenant string
	// queueName is the Asynq queue of a distributed harness.
	queueName string
	// keys encrypt the secrets.
	keys *vault.Keyring
	// dbURL is the PostgreSQL database (distributed), dbDir the folder of
	// the SQLite files (embedded).
	dbURL, dbDir string
}

// stored reports where the bytes of needle are kept in the database: the
// rows that hold them (PostgreSQL), or the database files (SQLite, its WAL
// and freed pages included). Empty when nowhere.
func (h *harness) stored(needle string) []string {
	h.t.Helper()
	var found []string
	if h.dbURL != "" {
		for _, line := range strings.Split(testdb.DumpPostgres(h.t, h.dbURL), "\n") {
			if strings.Contains(line, needle) {
				found = append(found, line)
			}
		}
		return found
	}
	files, err := os.ReadDir(h.dbDir)
	require.NoError(h.t, err)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(h.dbDir, f.Name()))
		require.NoError(h.t, err)
		if bytes.Contains(data, []byte(needle)) {
			found = append(found, f.Name())
		}
	}
	return found
}

type mode struct {
	name string
	// distributed runs PostgreSQL + Asynq with two worker processes.
	distributed bool
}

var modes = []mode{{name: "embedded"}, {name: "distributed", distributed: true}}

// examples are the plugins-examples the tests install (the Go one is left
// out: compiling 3.4 MB under the race detector takes half a minute).
var examples = []string{"filter", "hash", "text-template"}

type harnessOpts struct {
	lease     time.Duration
	retention time.Duration
	// http configures the HTTP host function (of every worker process, too).
	http registry.HTTPOptions
	// httpNode installs the http-request example (a Go module: slow to compile).
	httpNode bool
}

// compileCache is the runtime's compilation cache of every harness and
// worker process of this test binary (see TestMain): the Go examples take
// long to compile under the race detector, so they compile once.
var compileCache string

// testMasterKey encrypts the harness's secrets; worker processes get it in
// WASMFLOW_MASTER_KEY.
var testMasterKey = vault.EncodeKey(vault.GenerateKey())

// testKeyring returns the keyring of testMasterKey.
func testKeyring(t testing.TB) *vault.Keyring {
	t.Helper()
	kr, ok, err := vault.FromEnv(func(name string) (string, bool) {
		if name == vault.EnvMasterKey {
			return testMasterKey, true
		}
		return "", false
	})
	require.NoError(t, err)
	require.True(t, ok)
	return kr
}

func newHarness(t testing.TB, m mode, o harnessOpts) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var st backendStore
	var err error
	var dbURL, dbDir string
	if m.distributed {
		dbURL = testdb.Postgres(t)
		st, err = postgres.Open(ctx, postgres.Config{URL: dbURL})
	} else {
		dbDir = t.TempDir()
		st, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dbDir, "wasmflow.db")})
	}
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	tenant, err := st.TenantInsert(ctx, "default")
	require.NoError(t, err)

	rt, err := runtime.New(ctx, runtime.Config{CacheDir: compileCache})
	require.NoError(t, err)
	kr := testKeyring(t)
	reg, err := registry.New(registry.Config{
		Store: st, Runtime: rt, Secrets: &vault.Reader{Store: st, Keys: kr}, Audit: st, HTTP: o.http,
	})
	require.NoError(t, err)
	dir := t.TempDir()
	for _, name := range examples {
		copyDir(t, filepath.Join("..", "plugins-examples", name), filepath.Join(dir, name))
	}
	if o.httpNode {
		copyDir(t, filepath.Join("..", "plugins-examples", "http-request"), filepath.Join(dir, "http-request"))
	}
	for _, name := range []string{"loop", "slow-echo", "secret-probe"} {
		copyDir(t, filepath.Join("testdata", name), filepath.Join(dir, name))
	}
	_, err = reg.InstallDir(ctx, tenant.ID, dir)
	require.NoError(t, err)

	lease := o.lease
	if lease == 0 {
		lease = 3 * time.Second
	}
	var wg sync.WaitGroup
	var queues []queue.Queue
	newEngine := func(q queue.Queue, work bool) *engine.Engine {
		eng, err := engine.New(engine.Config{
			Store: st, Queue: q, Modules: reg, Runtime: rt, Logger: testdb.Logger(t),
			LeaseDuration: lease, ReconcileInterval: 50 * time.Millisecond, RedeliverAfter: 500 * time.Millisecond,
			Retention: o.retention,
		})
		require.NoError(t, err)
		queues = append(queues, q)
		if work {
			wg.Go(func() { _ = eng.Work(ctx) })
		}
		return eng
	}
	var first *engine.Engine
	var name string
	if m.distributed {
		addr := testdb.RedisAddr(t)
		name = "engine-test-" + strings.ToLower(store.NewID("q"))
		// This process starts executions and reconciles; two worker
		// processes (this test binary, see TestMain) run the node runs.
		q, err := asynqueue.New(asynqueue.Config{RedisAddr: addr, Queue: name, ShutdownTimeout: time.Second})
		require.NoError(t, err)
		first = newEngine(q, false)
		for range 2 {
			startWorkerProcess(t, dbURL, addr, name, lease, o.http)
		}
	} else {
		q, err := inproc.New(inproc.Config{Workers: 8, ShutdownTimeout: time.Second})
		require.NoError(t, err)
		first = newEngine(q, true)
	}
	wg.Go(func() { _ = first.Reconcile(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, q := range queues {
			_ = q.Close()
		}
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	return &harness{t: t, store: st, reg: reg, rt: rt, eng: first, queue: queues[0], tenant: tenant.ID, queueName: name, keys: kr,
		dbURL: dbURL, dbDir: dbDir}
}

// putSecret stores a secret of tenant, encrypted as the API does.
func (h *harness) putSecret(tenant, name, value string) {
	h.t.Helper()
	ct, wk, keyID, err := h.keys.Seal(tenant, name, []byte(value))
	require.NoError(h.t, err)
	_, err = h.store.SecretInsert(context.Background(), tenant, &store.Secret{Name: name, Ciphertext: ct, WrappedKey: wk, KeyID: keyID})
	require.NoError(h.t, err)
}

// newModules migrates st, makes tenant "default" and gives it a runtime and
// registry with the testdata modules named installed: what the tests that
// build their own engine share.
func newModules(t testing.TB, st backendStore, testdata ...string) (tenantID string, rt *runtime.Runtime, reg *registry.Registry) {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Migrate(ctx))
	tenant, err := st.TenantInsert(ctx, "default")
	require.NoError(t, err)
	rt, err = runtime.New(ctx, runtime.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	reg, err = registry.New(registry.Config{Store: st, Runtime: rt})
	require.NoError(t, err)
	if len(testdata) > 0 {
		dir := t.TempDir()
		for _, name := range testdata {
			copyDir(t, filepath.Join("testdata", name), filepath.Join(dir, name))
		}
		_, err = reg.InstallDir(ctx, tenant.ID, dir)
		require.NoError(t, err)
	}
	return tenant.ID, rt, reg
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(to, 0o750))
	for _, pattern := range []string{"*.wasm", "wasmflow.json"} {
		files, err := filepath.Glob(filepath.Join(from, pattern))
		require.NoError(t, err)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(to, filepath.Base(f)), data, 0o600))
		}
	}
}

// save stores a workflow with its module references locked, as the API does.
func (h *harness) save(def string) string {
	h.t.Helper()
	w, err := workflow.Parse([]byte(def))
	require.NoError(h.t, err)
	h.lock(w)
	stored, err := h.store.WorkflowInsert(context.Background(), h.tenant, w)
	require.NoError(h.t, err)
	return stored.ID
}

func (h *harness) lock(w *workflow.Workflow) {
	for i := range w.Nodes {
		if w.Nodes[i].IsModule() {
			r, err := h.reg.Resolve(context.Background(), h.tenant, w.Nodes[i].Module)
			require.NoError(h.t, err)
			w.Nodes[i].Lock = &workflow.Lock{Version: r.Version, Digest: r.Digest}
		}
	}
}

// update saves a new version of a workflow.
func (h *harness) update(id, def string) {
	h.t.Helper()
	w, err := workflow.Parse([]byte(def))
	require.NoError(h.t, err)
	h.lock(w)
	_, err = h.store.WorkflowUpdate(context.Background(), h.tenant, id, &store.WorkflowUpdateParams{Definition: *w})
	require.NoError(h.t, err)
}

func startParams(items ...workflow.Item) engine.StartParams {
	return engine.StartParams{Trigger: engine.TriggerManual, Input: items}
}

// start starts an execution with the given items.
func (h *harness) start(wfID string, items ...workflow.Item) string {
	h.t.Helper()
	ex, err := h.eng.Start(context.Background(), h.tenant, wfID, engine.StartParams{Trigger: engine.TriggerManual, Input: items})
	require.NoError(h.t, err)
	return ex.ID
}

// result is a finished execution as the tests look at it.
type result struct {
	ex   *store.Execution
	runs []*store.NodeRun
}

// stallLimit is how long wait waits without progress.
const stallLimit = 60 * time.Second

// wait waits for an execution to finish (at most 60 s) and reads it.
func (h *harness) wait(id string) *result {
	h.t.Helper()
	return h.waitProgress(id, nil)
}

// waitProgress waits for an execution to finish for as long as progress
// (when not nil) keeps changing: it fails once the execution is unfinished
// and progress has not changed for stallLimit. A test whose machine runs
// its backlog slowly waits as long as the backlog shrinks; a run that
// nothing will ever deliver stops all progress once the rest is done.
func (h *harness) waitProgress(id string, progress func() float64) *result {
	h.t.Helper()
	var last float64
	if progress != nil {
		last = progress()
	}
	changed := time.Now()
	var ex *store.Execution
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var err error
		ex, err = h.eng.Wait(ctx, h.tenant, id)
		cancel()
		require.NoError(h.t, err)
		if engine.Finished(ex.Status) {
			break
		}
		if progress != nil {
			if now := progress(); now != last {
				last, changed = now, time.Now()
			}
		}
		if time.Since(changed) >= stallLimit {
			break
		}
	}
	if !engine.Finished(ex.Status) {
		_, runs, _ := h.eng.Get(context.Background(), h.tenant, id)
		for _, r := range runs {
			h.t.Logf("run %s %s attempt %d: %s pending %d lease %v started %v", r.ID, r.Node, r.Attempt, r.Status, r.Pending, r.LeaseUntil, r.StartedAt)
		}
		due, err := h.store.OutboxDue(context.Background(), time.Now().Add(time.Hour), time.Now().Add(time.Hour), 1000)
		for _, en := range due {
			if en.ExecutionID == id {
				h.t.Logf("outbox entry: %+v", *en)
			}
		}
		h.t.Logf("outbox entries in all: %d (err %v)", len(due), err)
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		h.t.Logf("goroutines of this process:\n%s", stacks.String())
		h.t.Fatalf("execution %s still %s after %s without progress", id, ex.Status, stallLimit)
	}
	ex, runs, err := h.eng.Get(context.Background(), h.tenant, id)
	require.NoError(h.t, err)
	return &result{ex: ex, runs: runs}
}

// run starts an execution and waits for it.
func (h *harness) run(wfID string, items ...workflow.Item) *result {
	h.t.Helper()
	return h.wait(h.start(wfID, items...))
}

// node returns the latest run of a node.
func (r *result) node(t *testing.T, name string) *store.NodeRun {
	t.Helper()
	var latest *store.NodeRun
	for _, run := range r.runs {
		if run.Node == name && (latest == nil || run.Attempt > latest.Attempt) {
			latest = run
		}
	}
	require.NotNil(t, latest, "no run of node %q", name)
	return latest
}

// attempts returns every run of a node, in attempt order.
func (r *result) attempts(name string) []*store.NodeRun {
	var out []*store.NodeRun
	for _, run := range r.runs {
		if run.Node == name {
			out = append(out, run)
		}
	}
	return out
}

// items decodes a node's main output items.
func (r *result) items(t *testing.T, name string) []map[string]any {
	t.Helper()
	return portItems(t, r.node(t, name).Output, "")
}

func portItems(t *testing.T, raw json.RawMessage, port string) []map[string]any {
	t.Helper()
	var doc struct {
		Items   []map[string]any            `json:"items"`
		Outputs map[string][]map[string]any `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc), "output %s", raw)
	if port == "" {
		return doc.Items
	}
	return doc.Outputs[port]
}
