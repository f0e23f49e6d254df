// Package inproc is the embedded mode's [queue.Queue]: a bounded pool of
// worker goroutines fed from memory, with no service to run.
//
// # Delivery
//
// A task is handed to a handler once, in FIFO order of readiness, by one of
// Config.Workers goroutines. Deduplication by ID lasts while a task waits
// (queued or delayed) or runs. A handler's error or panic is logged and the
// task dropped.
//
// Delayed tasks ([queue.Task.ProcessAt]) wait on a runtime timer each, so
// their precision is the Go timer's (well under a millisecond, sub-second
// delays included); they count as waiting.
//
// # Memory
//
// Enqueue never blocks: it appends to a FIFO that grows as needed up to
// Config.MaxWaiting tasks, and past that returns [queue.ErrFull] at once. A
// bounded buffer that made Enqueue wait for room would deadlock the pool as
// soon as every worker's handler was enqueueing the next node into a full
// buffer; refusing instead is safe because the engine's outbox still holds
// the task and its reconciler offers it again later. Under a flood, memory
// is therefore bounded by MaxWaiting tasks (with their payloads) plus the
// Workers running ones.
//
// # Loss
//
// Everything lives in this process: tasks still waiting when the process
// stops, or when Close is called, are dropped. The store keeps each of them
// as an outbox row or a queued run, and the engine's reconciler enqueues
// them again after a restart.
package inproc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wasmflow/wasmflow/queue"
)

// Config configures a Queue. The zero value is usable.
type Config struct {
	// Workers is how many handlers run at once. Defaults to
	// 4 × GOMAXPROCS: node runs mix CPU (Wasm) with waiting on HTTP and the
	// store, so a few per core keep the cores busy without piling up
	// instances in memory.
	Workers int
	// MaxWaiting caps the tasks held waiting, delayed ones included; Enqueue
	// returns queue.ErrFull beyond it. Defaults to 100,000.
	MaxWaiting int
	// ShutdownTimeout is how long Run waits for running handlers once its
	// context is done, before it cancels their contexts. Defaults to 10s.
	ShutdownTimeout time.Duration
	// Logger receives handler errors and panics. Defaults to discarding them.
	Logger *slog.Logger
}

// Defaults applied by New.
const (
	DefaultMaxWaiting      = 100_000
	DefaultShutdownTimeout = 10 * time.Second
)

// Queue is the in-memory [queue.Queue]. It is safe for concurrent use.
type Queue struct {
	workers         int
	maxWaiting      int
	shutdownTimeout time.Duration
	log             *slog.Logger

	// wake holds up to workers tokens; each push offers one. A worker takes
	// tasks until the FIFO is empty before it waits for a token, so no
	// wake-up is lost.
	wake chan struct{}

	mu      sync.Mutex
	closed  bool
	ran     bool
	stopRun context.CancelFunc // cancels a Run in progress
	runDone chan struct{}      // closed when that Run returns
	ids     map[string]struct{}
	ready   fifo
	delayed map[string]*time.Timer
}

var _ queue.Queue = (*Queue)(nil)

// New returns an empty Queue. It returns an error for a negative Workers,
// MaxWaiting or ShutdownTimeout.
func New(cfg Config) (*Queue, error) {
	if cfg.Workers < 0 || cfg.MaxWaiting < 0 || cfg.ShutdownTimeout < 0 {
		return nil, fmt.Errorf("inproc: negative Workers (%d), MaxWaiting (%d) or ShutdownTimeout (%s)",
			cfg.Workers, cfg.MaxWaiting, cfg.ShutdownTimeout)
	}
	workers := cmp.Or(cfg.Workers, 4*goruntime.GOMAXPROCS(0))
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		workers:         workers,
		maxWaiting:      cmp.Or(cfg.MaxWaiting, DefaultMaxWaiting),
		shutdownTimeout: cmp.Or(cfg.ShutdownTimeout, DefaultShutdownTimeout),
		log:             log,
		wake:            make(chan struct{}, workers),
		ids:             make(map[string]struct{}),
		delayed:         make(map[string]*time.Timer),
	}, nil
}

// Enqueue implements [queue.Queue]. It copies t, never blocks, and returns
// queue.ErrFull when Config.MaxWaiting tasks are waiting.
func (q *Queue) Enqueue(ctx context.Context, t *queue.Task) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return queue.ErrClosed
	case q.has(t.ID):
		return nil
	case q.waiting() >= q.maxWaiting:
		return fmt.Errorf("inproc: %w: %d tasks waiting", queue.ErrFull, q.waiting())
	}
	c := &queue.Task{ID: t.ID, Kind: t.Kind, TenantID: t.TenantID, Payload: append([]byte(nil), t.Payload...)}
	q.ids[c.ID] = struct{}{}
	if d := time.Until(t.ProcessAt); d > 0 {
		q.delayed[c.ID] = time.AfterFunc(d, func() { q.mature(c) })
		return nil
	}
	q.push(c)
	return nil
}

func (q *Queue) has(id string) bool {
	_, ok := q.ids[id]
	return ok
}

// waiting counts queued and delayed tasks. q.mu must be held.
func (q *Queue) waiting() int { return q.ready.len() + len(q.delayed) }

// mature moves a delayed task to the FIFO when its timer fires, unless Close
// dropped it meanwhile.
func (q *Queue) mature(t *queue.Task) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.delayed[t.ID]; !ok {
		return
	}
	delete(q.delayed, t.ID)
	q.push(t)
}

// push appends t and offers a worker a wake-up. q.mu must be held.
func (q *Queue) push(t *queue.Task) {
	q.ready.push(t)
	select {
	case q.wake <- struct{}{}:
	default: // enough wake-ups pending
	}
}

func (q *Queue) pop() (*queue.Task, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ready.pop()
}

// finish forgets a handled task's id.
func (q *Queue) finish(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.ids, id)
}

// Run implements [queue.Queue] with Config.Workers goroutines.
func (q *Queue) Run(ctx context.Context, h queue.Handler) error {
	if h == nil {
		return errors.New("inproc: Run with a nil handler")
	}
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return queue.ErrClosed
	case q.ran:
		q.mu.Unlock()
		return errors.New("inproc: Run called twice")
	}
	q.ran = true
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	q.stopRun, q.runDone = stop, make(chan struct{})
	defer close(q.runDone)
	q.mu.Unlock()

	// Handlers keep ctx's values but not its cancellation: they are
	// cancelled only when the shutdown timeout passes.
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var wg sync.WaitGroup
	for range q.workers {
		wg.Go(func() { q.work(runCtx, handlerCtx, h) })
	}

	<-runCtx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(q.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		q.log.Warn("inproc: shutdown timeout passed, cancelling running handlers",
			slog.Duration("shutdown_timeout", q.shutdownTimeout))
		cancelHandlers()
		<-done
	}
	return nil
}

// work is one worker: it takes tasks until the FIFO is empty, then waits for
// a wake-up, until runCtx is done.
func (q *Queue) work(runCtx, handlerCtx context.Context, h queue.Handler) {
	for runCtx.Err() == nil {
		t, ok := q.pop()
		if !ok {
			select {
			case <-runCtx.Done():
			case <-q.wake:
			}
			continue
		}
		q.handle(handlerCtx, h, t)
		q.finish(t.ID)
	}
}

// handle calls h, and logs its error or panic.
func (q *Queue) handle(ctx context.Context, h queue.Handler, t *queue.Task) {
	defer func() {
		if r := recover(); r != nil {
			q.log.LogAttrs(ctx, slog.LevelError, "inproc: handler panicked",
				slog.String("task_id", t.ID), slog.String("kind", t.Kind), slog.String("tenant_id", t.TenantID),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	if err := h(ctx, t); err != nil {
		q.log.LogAttrs(ctx, slog.LevelError, "inproc: handler failed; not retried",
			slog.String("task_id", t.ID), slog.String("kind", t.Kind), slog.String("tenant_id", t.TenantID),
			slog.Any("err", err))
	}
}

// Depth implements [queue.Queue]: queued plus delayed tasks.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, queue.ErrClosed
	}
	return q.waiting(), nil
}

// Ping implements [queue.Queue]: nil until Close.
func (q *Queue) Ping(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return queue.ErrClosed
	}
	return ctx.Err()
}

// Close implements [queue.Queue]. Tasks still waiting are dropped (the store
// keeps them; see the package documentation); a Run in progress is shut
// down and waited for.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	for id, timer := range q.delayed {
		timer.Stop()
		delete(q.delayed, id)
	}
	q.ready = fifo{}
	stop, done := q.stopRun, q.runDone
	q.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

// fifo is a queue of tasks on a slice that reuses its space.
type fifo struct {
	items []*queue.Task
	head  int
}

func (f *fifo) len() int { return len(f.items) - f.head }

func (f *fifo) push(t *queue.Task) {
	if f.head > 0 && f.head >= len(f.items)/2 {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	f.items = append(f.items, t)
}

func (f *fifo) pop() (*queue.Task, bool) {
	if f.len() == 0 {
		return nil, false
	}
	t := f.items[f.head]
	f.items[f.head] = nil
	f.head++
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0
	}
	return t, true
}
