package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Store is the storage the engine drives.
type Store interface {
	WorkflowGet(ctx context.Context, tenantID, id string) (*store.Workflow, error)
	WorkflowVersionGet(ctx context.Context, tenantID, id string, version int) (*store.WorkflowVersion, error)
	ExecutionInsert(ctx context.Context, tenantID string, p *store.ExecutionInsertParams) (*store.Execution, []*store.NodeRun, error)
	ExecutionGet(ctx context.Context, tenantID, id string) (*store.Execution, error)
	NodeRunList(ctx context.Context, tenantID, executionID string) ([]*store.NodeRun, error)
	ScheduleList(ctx context.Context, page store.Page) ([]*store.Schedule, string, error)
	ScheduleTickClaim(ctx context.Context, tenantID, workflowID, node string, tick time.Time) error
	WebhookSignaturePrune(ctx context.Context, now time.Time, limit int) (int, error)
	store.Runs
}

// Modules loads the module versions that workflows lock, decides before
// each run whether the tenant may run one and with which grant, and gives
// each run the host functions its grant allows.
type Modules interface {
	Load(ctx context.Context, tenantID, name, version string) (*registry.Module, error)
	Authorize(ctx context.Context, tenantID string, v *store.ModuleVersion) (workflow.Capabilities, error)
	HostSession(ctx context.Context, g registry.RunGrant) *registry.HostSession
}

// Runtime runs modules: the part of *runtime.Runtime the engine uses. Run
// runs a document-IO module once; Session calls a raw-IO module once per
// item.
type Runtime interface {
	Run(ctx context.Context, p *runtime.RunParams) (*runtime.Result, error)
	Session(ctx context.Context, p *runtime.RunParams) (*runtime.Session, error)
}

// Config configures an Engine. Store, Queue, Modules and Runtime are
// required; every other field has a default.
type Config struct {
	Store   Store
	Queue   queue.Queue
	Modules Modules
	Runtime Runtime
	// Logger receives a line per failure the engine handles. Defaults to discarding.
	Logger *slog.Logger
	// Metrics, when set, counts what the engine does.
	Metrics *Metrics
	// LeaseDuration is how long a claim holds a run without being extended;
	// a worker extends it every third of it. A run whose worker died is
	// queued again once it expires. Defaults to 30s.
	LeaseDuration time.Duration
	// ExecutionTimeout bounds an execution whose workflow sets no
	// settings.timeout_ms, and caps those that do. Defaults to 1h.
	ExecutionTimeout time.Duration
	// ReconcileInterval is the pause between reconciler passes. Defaults to 1s.
	ReconcileInterval time.Duration
	// RedeliverAfter is how old an outbox entry must be before the
	// reconciler enqueues it again: long enough that the process that wrote
	// it has enqueued it. Later offers come at twice, four times… that age,
	// at most 10s apart. Defaults to 5s.
	RedeliverAfter time.Duration
	// Retention prunes finished executions older than it; 0 keeps them.
	Retention time.Duration
	// MaxActiveExecutions is each tenant's execution slots: at most this
	// many of a tenant's executions run at once, and the next ones wait
	// (queued) until one finishes, oldest first. It keeps one tenant's
	// flood from filling the queue ahead of every other tenant's work.
	// 0: no limit.
	MaxActiveExecutions int
	// MaxWaitingExecutions caps the executions of a tenant waiting for a
	// slot; Start refuses the next one (CodeTooManyWaiting). 0: no cap.
	MaxWaitingExecutions int
	// ScheduleInterval is the longest pause between scheduler passes (the
	// scheduler also wakes for the next tick due). Defaults to 1s.
	ScheduleInterval time.Duration
	// ScheduleGrace is how late a schedule tick may still fire: a tick
	// older than it when a scheduler first sees it was missed (no scheduler
	// ran), and follows its schedule's missed policy. Defaults to 1m.
	ScheduleGrace time.Duration
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultLeaseDuration     = 30 * time.Second
	DefaultExecutionTimeout  = time.Hour
	DefaultReconcileInterval = time.Second
	DefaultRedeliverAfter    = 5 * time.Second
	// TaskKind is the kind of every queue task the engine enqueues.
	TaskKind = "node_run"
	// reconcileBatch bounds the rows one reconciler step handles.
	reconcileBatch = 500
)

// Engine starts, runs and controls executions. It is safe for concurrent
// use; one Engine serves every role of a process.
type Engine struct {
	store   Store
	queue   queue.Queue
	modules *moduleCache
	rt      Runtime
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	lease            time.Duration
	executionTimeout time.Duration
	reconcileEvery   time.Duration
	redeliverAfter   time.Duration
	retention        time.Duration
	maxActive        int
	maxWaiting       int
	scheduleEvery    time.Duration
	scheduleGrace    time.Duration

	crons        cronCache
	versions     *versionCache
	running      *runningSet
	waiters      *waiters
	redeliveries redeliveries
}

// New applies Config's defaults, validates it and builds an Engine.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("engine: Config.Store is required")
	case cfg.Queue == nil:
		return nil, errors.New("engine: Config.Queue is required")
	case cfg.Modules == nil:
		return nil, errors.New("engine: Config.Modules is required")
	case cfg.Runtime == nil:
		return nil, errors.New("engine: Config.Runtime is required")
	case cfg.LeaseDuration < 0, cfg.ExecutionTimeout < 0, cfg.ReconcileInterval < 0, cfg.RedeliverAfter < 0, cfg.Retention < 0,
		cfg.ScheduleInterval < 0, cfg.ScheduleGrace < 0:
		return nil, errors.New("engine: durations must not be negative")
	case cfg.MaxActiveExecutions < 0, cfg.MaxWaitingExecutions < 0:
		return nil, errors.New("engine: execution limits must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{
		store:            cfg.Store,
		queue:            cfg.Queue,
		modules:          newModuleCache(cfg.Modules, 64),
		rt:               cfg.Runtime,
		log:              cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		metrics:          cfg.Metrics,
		now:              cfg.Now,
		lease:            cmp.Or(cfg.LeaseDuration, DefaultLeaseDuration),
		executionTimeout: cmp.Or(cfg.ExecutionTimeout, DefaultExecutionTimeout),
		reconcileEvery:   cmp.Or(cfg.ReconcileInterval, DefaultReconcileInterval),
		redeliverAfter:   cmp.Or(cfg.RedeliverAfter, DefaultRedeliverAfter),
		retention:        cfg.Retention,
		maxActive:        cfg.MaxActiveExecutions,
		maxWaiting:       cfg.MaxWaitingExecutions,
		scheduleEvery:    cmp.Or(cfg.ScheduleInterval, DefaultScheduleInterval),
		scheduleGrace:    cmp.Or(cfg.ScheduleGrace, DefaultScheduleGrace),
		versions:         newVersionCache(256),
		running:          newRunningSet(),
		waiters:          newWaiters(),
	}, nil
}

// Trigger kinds: what started an execution.
const (
	TriggerManual   = "manual"
	TriggerWebhook  = "webhook"
	TriggerSchedule = "schedule"
	TriggerError    = "error"
)

// StartParams describes a new execution.
type StartParams struct {
	// Trigger is what started it (TriggerManual, …); the trigger node of
	// that type receives Input, other trigger nodes are skipped.
	Trigger string
	// Input are the items the trigger node outputs; nil or empty gives one
	// empty item, so that a manual run of a workflow starts something.
	Input []workflow.Item
	// Node, when set, names the trigger node that receives Input (the
	// webhook or schedule that fired); other trigger nodes of the kind are
	// skipped. Empty gives Input to every trigger node of the kind.
	Node string
	// Workflow, when set, is the workflow as the caller has just read it
	// (the tenant's, by workflowID): Start runs that version instead of
	// reading it again, so what the caller checked is what runs.
	Workflow *store.Workflow
}

// Start starts an execution of the workflow's current version.
// store.ErrNotFound when the workflow is not the tenant's.
func (e *Engine) Start(ctx context.Context, tenantID, workflowID string, p StartParams) (*store.Execution, error) {
	wf := p.Workflow
	if wf == nil || wf.ID != workflowID || wf.TenantID != tenantID {
		var err error
		if wf, err = e.store.WorkflowGet(ctx, tenantID, workflowID); err != nil {
			return nil, fmt.Errorf("engine: start: %w", err)
		}
	}
	def := &wf.Definition
	trigger := cmp.Or(p.Trigger, TriggerManual)
	if !hasTrigger(def, trigger, p.Node) {
		msg := fmt.Sprintf("the workflow has no trigger.%s node", trigger)
		if p.Node != "" {
			msg = fmt.Sprintf("the workflow has no trigger.%s node named %q", trigger, p.Node)
		}
		return nil, &Error{Code: CodeNoTrigger, Message: msg}
	}
	input := p.Input
	if len(input) == 0 {
		input = []workflow.Item{{}}
	}
	inputJSON, err := json.Marshal(input)
	if err != nil {
		return nil, &Error{Code: CodeInvalidInput, Message: "the input items are not JSON: " + err.Error()}
	}
	g := newGraph(def)
	runs := make([]*store.NodeRun, 0, len(def.Nodes))
	for _, n := range def.Nodes {
		r := &store.NodeRun{Node: n.Name, Attempt: 1, Status: store.RunPending, Pending: len(g.parents[n.Name])}
		if r.Pending == 0 {
			r.Status = store.RunQueued
		}
		runs = append(runs, r)
	}
	deadline := e.now().Add(e.timeoutOf(def))
	ex, inserted, err := e.store.ExecutionInsert(ctx, tenantID, &store.ExecutionInsertParams{
		WorkflowID: wf.ID, WorkflowVersion: wf.Version, Trigger: trigger, TriggerNode: p.Node, Input: inputJSON,
		DeadlineAt: &deadline, Runs: runs, MaxActive: e.maxActive, MaxWaiting: e.maxWaiting,
	})
	if errors.Is(err, store.ErrLimitReached) {
		return nil, &Error{Code: CodeTooManyWaiting, Message: fmt.Sprintf(
			"the tenant's %d execution slots are taken and %d executions wait for one already", e.maxActive, e.maxWaiting)}
	}
	if err != nil {
		return nil, fmt.Errorf("engine: start: %w", err)
	}
	e.metrics.executionStarted()
	if ex.AdmittedAt == nil {
		// It waits behind older executions; a slot may be free already
		// (its finish is being admitted right now, or that process died).
		e.admit(ctx, tenantID)
		return ex, nil
	}
	var queued []*store.OutboxEntry
	for _, r := range inserted {
		if r.Status == store.RunQueued {
			queued = append(queued, &store.OutboxEntry{TenantID: tenantID, ExecutionID: ex.ID, RunID: r.ID,
				Node: r.Node, Attempt: r.Attempt, AvailableAt: r.CreatedAt, CreatedAt: r.CreatedAt})
		}
	}
	e.enqueue(ctx, queued)
	return ex, nil
}

// admit gives the tenant's free execution slots to its oldest waiting
// executions and enqueues their first runs. A failure is logged and left to
// the reconciler, which admits for every tenant with waiting executions.
func (e *Engine) admit(ctx context.Context, tenantID string) {
	if _, err := e.admitWaiting(ctx, tenantID); err != nil {
		e.log.WarnContext(ctx, "admitting waiting executions failed; the reconciler will retry",
			slog.String("tenant_id", tenantID), slog.Any("err", err))
	}
}

// admitWaiting admits what the tenant's free slots allow, enqueues the
// admitted executions' first runs and returns how many runs it queued.
func (e *Engine) admitWaiting(ctx context.Context, tenantID string) (int, error) {
	entries, err := e.store.ExecutionAdmit(context.WithoutCancel(ctx), tenantID, e.maxActive)
	if err != nil {
		return 0, err
	}
	e.enqueue(ctx, entries)
	return len(entries), nil
}

// freed is called when one of the tenant's executions finished: its slot
// goes to the next waiting execution.
func (e *Engine) freed(ctx context.Context, tenantID string) {
	if e.maxActive > 0 {
		e.admit(ctx, tenantID)
	}
}

// hasTrigger reports whether def has a trigger node of kind, named node
// unless node is empty.
func hasTrigger(def *workflow.Workflow, kind, node string) bool {
	for i := range def.Nodes {
		if def.Nodes[i].Type == "trigger."+kind && (node == "" || def.Nodes[i].Name == node) {
			return true
		}
	}
	return false
}

// timeoutOf is the execution timeout of a workflow.
func (e *Engine) timeoutOf(def *workflow.Workflow) time.Duration {
	if def.Settings != nil && def.Settings.TimeoutMS > 0 {
		return min(time.Duration(def.Settings.TimeoutMS)*time.Millisecond, e.executionTimeout)
	}
	return e.executionTimeout
}

// enqueue hands queued runs to the queue. A failure is logged and left to
// the reconciler: the outbox entry stays until the run is claimed.
func (e *Engine) enqueue(ctx context.Context, entries []*store.OutboxEntry) {
	e.enqueueAs(ctx, entries, "")
}

// enqueueAs enqueues with suffix added to each task id. The reconciler
// uses it for the runs it queues again after their lease expired: the dead
// worker's task still holds the plain id in Asynq until Asynq's own 30 s
// lease ends, so an enqueue under the same id would be taken for a
// duplicate of it. A claimed run ignores the extra delivery.
func (e *Engine) enqueueAs(ctx context.Context, entries []*store.OutboxEntry, suffix string) {
	for _, en := range entries {
		err := e.queue.Enqueue(context.WithoutCancel(ctx), &queue.Task{
			ID:        fmt.Sprintf("%s:%s:%d%s", en.ExecutionID, en.Node, en.Attempt, suffix),
			Kind:      TaskKind,
			TenantID:  en.TenantID,
			Payload:   []byte(en.RunID),
			ProcessAt: en.AvailableAt,
		})
		if err != nil {
			e.log.WarnContext(ctx, "enqueue failed; the reconciler will retry",
				slog.String("run_id", en.RunID), slog.Any("err", err))
		}
	}
}

// Get reads an execution with its node runs.
func (e *Engine) Get(ctx context.Context, tenantID, id string) (*store.Execution, []*store.NodeRun, error) {
	ex, err := e.store.ExecutionGet(ctx, tenantID, id)
	if err != nil {
		return nil, nil, err
	}
	runs, err := e.store.NodeRunList(ctx, tenantID, id)
	if err != nil {
		return nil, nil, err
	}
	return ex, runs, nil
}

// Finished reports whether an execution status is final.
func Finished(status string) bool {
	switch status {
	case store.ExecutionSucceeded, store.ExecutionFailed, store.ExecutionCancelled:
		return true
	}
	return false
}

// Wait waits until an execution has finished or ctx is done, and returns
// it as last read (finished or not); only a store failure is an error. An
// execution finished by this process wakes it at once; one finished by
// another process is seen by polling the store (every 5 ms, backing off to
// 100 ms).
func (e *Engine) Wait(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	woken, stop := e.waiters.add(id)
	defer stop()
	delay := 5 * time.Millisecond
	for {
		ex, err := e.store.ExecutionGet(context.WithoutCancel(ctx), tenantID, id)
		if err != nil || Finished(ex.Status) {
			return ex, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ex, nil
		case <-woken:
			t.Stop()
		case <-t.C:
			delay = min(delay*2, 100*time.Millisecond)
		}
	}
}

// waiters wakes the Waits of an execution when this process finishes it.
type waiters struct {
	mu sync.Mutex
	m  map[string]map[chan struct{}]struct{}
}

func newWaiters() *waiters { return &waiters{m: map[string]map[chan struct{}]struct{}{}} }

// add registers a waiter of the execution; stop unregisters it.
func (w *waiters) add(id string) (woken <-chan struct{}, stop func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.m[id] == nil {
		w.m[id] = map[chan struct{}]struct{}{}
	}
	w.m[id][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.m[id], ch)
		if len(w.m[id]) == 0 {
			delete(w.m, id)
		}
	}
}

// notify wakes the waiters of an execution.
func (w *waiters) notify(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.m[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Cancel cancels an execution that has not finished, with its open runs; a
// run in progress in this process is stopped at once, elsewhere at its next
// lease extension. An *Error with CodeFinished when it has finished.
func (e *Engine) Cancel(ctx context.Context, tenantID, id string) (*store.Execution, error) {
	ex, err := e.store.ExecutionCancel(ctx, tenantID, id)
	if errors.Is(err, store.ErrConflict) {
		return nil, &Error{Code: CodeFinished, Message: "the execution has finished already"}
	}
	if err != nil {
		return nil, fmt.Errorf("engine: cancel: %w", err)
	}
	e.running.cancelExecution(id)
	e.metrics.executionFinished(ex.Status)
	e.waiters.notify(id)
	e.freed(ctx, tenantID)
	return ex, nil
}
