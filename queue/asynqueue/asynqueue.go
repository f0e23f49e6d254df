// Package asynqueue is the distributed mode's [queue.Queue]: Asynq
// (github.com/hibiken/asynq) on Redis. It is the only package that imports
// asynq.
//
// # Configuration that matters
//
//   - TaskCheckInterval defaults to 10 ms: Asynq polls an empty queue at this
//     interval, so with its own default (1 s) every hop of a workflow would
//     cost about a second. An idle server then makes about 90 Redis script
//     calls per second.
//   - Tasks are enqueued with MaxRetry(0): retries are the engine's (see
//     package queue), and a handler's error is logged and reported to Asynq
//     as success, so the task is deleted.
//   - Retention is 0: a finished task is deleted from Redis at once, so its
//     id no longer blocks anything.
//
// # Deduplication and re-enqueue
//
// Task.ID is Asynq's TaskID, so Redis rejects an id that still exists there;
// Enqueue then looks at the existing task:
//
//   - waiting (pending, scheduled) or running on a live worker: a duplicate,
//     Enqueue returns nil and adds nothing; a task whose key says it waits
//     but that is in no list (Redis lost the list and kept the key) is
//     deleted and added again;
//   - gone (processed; Retention is 0): Enqueue adds it again, and it is
//     delivered again;
//   - kept by Asynq after a failure it decided on its own (archived: a
//     handler cut off by Asynq's 30-minute task timeout, or a lost lease):
//     Enqueue deletes that copy and adds the task again;
//   - orphaned (active, but its 30 s lease, which a live worker extends
//     every few seconds, has expired: the worker crashed or lost Redis):
//     Asynq's recoverer would archive it only 30–90 s later, and until then
//     it holds the id, so Enqueue adds a copy under a derived id
//     ("<id>#copy1", then #copy2…, at most 7) that is delivered with the
//     original Task.ID. This lets the engine's reconciler re-enqueue a
//     crashed worker's run as soon as the lease shows the crash, not a
//     minute or two later. Within those first 30 s the task still looks
//     running, and Enqueue treats the id as a duplicate.
//
// # Delays
//
// Asynq schedules in whole seconds (it truncates ProcessAt to the second),
// and forwards due tasks every DelayedTaskCheckInterval (set to 1 s here).
// A delayed task is written to Redis at once, at ProcessAt rounded up to the
// next whole second, so it is durable, deduplicated and never early; for
// delays up to a minute this process also sets a timer that moves it to
// pending at ProcessAt itself, so a 200 ms backoff takes about 200 ms plus
// TaskCheckInterval. If the process stops before the timer fires, the task
// still runs at the rounded-up second (plus up to a second). Timers are
// capped at 10,000 per Queue; beyond that, delays take the rounded path.
//
// # Shutdown and loss
//
// Run's shutdown is Asynq's: it stops fetching, waits ShutdownTimeout for
// running handlers, then cancels their contexts and pushes their tasks back
// to Redis, where another worker picks them up. Tasks waiting in Redis
// survive Close and restarts; a Redis that loses data loses tasks, which the
// engine's reconciler enqueues again from the store.
package asynqueue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wasmflow/wasmflow/queue"
)

// Config configures a Queue. RedisAddr is required; every other field has a
// default.
type Config struct {
	// RedisAddr is Redis's host:port. Required.
	RedisAddr string
	// RedisPassword authenticates to Redis. Defaults to none.
	RedisPassword string
	// DB is the Redis database number. Defaults to 0.
	DB int
	// Queue names the Asynq queue, so that several deployments (or tests)
	// can share one Redis. Defaults to "wasmflow".
	Queue string
	// Concurrency is how many handlers run at once in this process.
	// Defaults to 4 × GOMAXPROCS, as in queue/inproc.
	Concurrency int
	// TaskCheckInterval is how often an idle worker polls Redis for work,
	// which bounds the latency of each hop. Defaults to 10 ms.
	TaskCheckInterval time.Duration
	// ShutdownTimeout is how long Run waits for running handlers once its
	// context is done, before it cancels them and hands their tasks back to
	// Redis. Defaults to 10 s.
	ShutdownTimeout time.Duration
	// Logger receives handler errors and Asynq's own messages (info level
	// and up). Defaults to discarding them.
	Logger *slog.Logger
}

// Defaults applied by New.
const (
	DefaultQueue             = "wasmflow"
	DefaultTaskCheckInterval = 10 * time.Millisecond
	DefaultShutdownTimeout   = 10 * time.Second
)

const (
	// forwardInterval is Asynq's DelayedTaskCheckInterval (its default is
	// 5 s): how late a delayed task without a timer may run, at most.
	forwardInterval = time.Second
	// timerWindow is the longest delay that gets a promotion timer, and
	// maxTimers the most timers one Queue keeps.
	timerWindow = time.Minute
	maxTimers   = 10_000
	// maxCopies bounds the ids tried for one task: the id itself, then
	// copies past orphaned ones.
	maxCopies = 8
	// maxConflicts bounds the rounds of one Enqueue against concurrent
	// changes in Redis.
	maxConflicts = 16
	// Headers carry what Asynq's task has no field for.
	headerID     = "wasmflow-task-id"
	headerTenant = "wasmflow-tenant-id"
)

// Queue is the Asynq [queue.Queue]. It is safe for concurrent use.
type Queue struct {
	name   string
	log    *slog.Logger
	rc     *redis.Client
	client *asynq.Client
	insp   *asynq.Inspector
	srv    *asynq.Server

	// inflight counts calls that use Redis, so that Close waits for them
	// before it closes the connections; Add only while !closed, under mu.
	inflight sync.WaitGroup
	// handlers counts running handlers, so that Run returns only once they
	// have: Asynq stops waiting for a handler when the shutdown timeout
	// passes, but the handler goroutine goes on until it returns.
	handlers gate

	mu      sync.Mutex
	closed  bool
	ran     bool
	stopRun context.CancelFunc // cancels a Run in progress
	runDone chan struct{}      // closed when that Run returns
	baseCtx context.Context    // parent of handler contexts, set by Run
	timers  map[string]*promotion
}

var _ queue.Queue = (*Queue)(nil)

// New returns a Queue for cfg. It does not connect: Redis is reached on
// first use, and Ping reports whether it answers.
func New(cfg Config) (*Queue, error) {
	switch {
	case cfg.RedisAddr == "":
		return nil, errors.New("asynqueue: RedisAddr is required")
	case cfg.Concurrency < 0 || cfg.TaskCheckInterval < 0 || cfg.ShutdownTimeout < 0:
		return nil, fmt.Errorf("asynqueue: negative Concurrency (%d), TaskCheckInterval (%s) or ShutdownTimeout (%s)",
			cfg.Concurrency, cfg.TaskCheckInterval, cfg.ShutdownTimeout)
	case cfg.Queue != "" && strings.TrimSpace(cfg.Queue) == "":
		return nil, fmt.Errorf("asynqueue: blank queue name %q", cfg.Queue)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &Queue{
		name:   cmp.Or(cfg.Queue, DefaultQueue),
		log:    log,
		rc:     redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.DB}),
		timers: make(map[string]*promotion),
	}
	q.client = asynq.NewClientFromRedisClient(q.rc)
	q.insp = asynq.NewInspectorFromRedisClient(q.rc)
	q.srv = asynq.NewServerFromRedisClient(q.rc, asynq.Config{
		Concurrency:              cmp.Or(cfg.Concurrency, 4*goruntime.GOMAXPROCS(0)),
		BaseContext:              q.handlerBase,
		TaskCheckInterval:        cmp.Or(cfg.TaskCheckInterval, DefaultTaskCheckInterval),
		DelayedTaskCheckInterval: forwardInterval,
		Queues:                   map[string]int{q.name: 1},
		ErrorHandler:             asynq.ErrorHandlerFunc(q.asynqFailed),
		HealthCheckFunc:          q.healthCheck,
		Logger:                   slogAdapter{log},
		LogLevel:                 asynq.InfoLevel,
		ShutdownTimeout:          cmp.Or(cfg.ShutdownTimeout, DefaultShutdownTimeout),
	})
	return q, nil
}

// use reports whether the queue is open and, if it is, counts a call that
// will use Redis; the caller must call q.inflight.Done.
func (q *Queue) use() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.inflight.Add(1)
	return true
}

// Enqueue implements [queue.Queue]; see the package documentation for what
// happens to an id that Redis already holds, and to delays.
func (q *Queue) Enqueue(ctx context.Context, t *queue.Task) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !q.use() {
		return queue.ErrClosed
	}
	defer q.inflight.Done()

	task := asynq.NewTaskWithHeaders(t.Kind, t.Payload, map[string]string{headerID: t.ID, headerTenant: t.TenantID})
	opts := []asynq.Option{asynq.Queue(q.name), asynq.MaxRetry(0), asynq.Retention(0)}
	delayed := time.Until(t.ProcessAt) > 0
	if delayed {
		opts = append(opts, asynq.ProcessAt(ceilSecond(t.ProcessAt)))
	}
	id, err := q.add(ctx, t.ID, task, opts)
	if err != nil || id == "" || !delayed {
		return err
	}
	q.promoteAt(id, t.ProcessAt)
	return nil
}

// add enqueues task under id or, past an orphaned holder, a copy's id, and
// returns the id it used, or "" when an existing task makes this one a
// duplicate.
func (q *Queue) add(ctx context.Context, id string, task *asynq.Task, opts []asynq.Option) (string, error) {
	n := 0
	for range maxConflicts {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		aid := copyID(id, n)
		_, err := q.client.EnqueueContext(ctx, task, append(opts, asynq.TaskID(aid))...)
		if err == nil {
			return aid, nil
		}
		if !errors.Is(err, asynq.ErrTaskIDConflict) {
			return "", fmt.Errorf("asynqueue: enqueue %s: %w", id, err)
		}
		info, err := q.insp.GetTaskInfo(q.name, aid)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound):
			continue // finished since: add it again
		case err != nil:
			return "", fmt.Errorf("asynqueue: enqueue %s: inspect %s: %w", id, aid, err)
		}
		switch info.State {
		case asynq.TaskStateArchived, asynq.TaskStateCompleted:
			// Kept after a failure Asynq decided on: it blocks the id.
			if err := q.insp.DeleteTask(q.name, aid); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
				return "", fmt.Errorf("asynqueue: enqueue %s: delete finished %s: %w", id, aid, err)
			}
		case asynq.TaskStateActive:
			orphaned, err := q.orphaned(aid)
			if err != nil {
				return "", fmt.Errorf("asynqueue: enqueue %s: %w", id, err)
			}
			if !orphaned {
				return "", nil // running: a duplicate
			}
			q.log.LogAttrs(ctx, slog.LevelWarn, "asynqueue: task held by a lost worker; enqueueing a copy",
				slog.String("task_id", id), slog.String("orphan", aid))
			if n++; n == maxCopies {
				return "", fmt.Errorf("asynqueue: enqueue %s: %d copies held by lost workers", id, maxCopies)
			}
		default: // pending, scheduled, retry, aggregating: waiting already…
			waiting, err := q.waiting(ctx, aid)
			if err != nil {
				return "", fmt.Errorf("asynqueue: enqueue %s: %w", id, err)
			}
			if waiting {
				return "", nil
			}
			// …unless Redis lost the list that held it and kept its key:
			// that key is gone now, add the task again.
			q.log.LogAttrs(ctx, slog.LevelWarn, "asynqueue: task key without its queue entry; enqueueing it again",
				slog.String("task_id", id))
		}
	}
	return "", fmt.Errorf("asynqueue: enqueue %s: still conflicting after %d rounds", id, maxConflicts)
}

// unlistedCmd deletes the key of a task whose state says it waits (pending,
// scheduled or retry) but that is in no list of its state, and returns 0;
// it returns 1 when the task waits as its state says or is in another
// state, and 0 when it is gone. KEYS: the task's hash, the pending list, the
// scheduled and retry sets (asynq v0.26's layout); ARGV[1]: the task id.
// The pending list is searched from its tail, where Asynq takes tasks
// from: a task enqueued again is usually an old one.
var unlistedCmd = redis.NewScript(`
local state = redis.call("HGET", KEYS[1], "state")
if not state then
	return 0
end
if state == "pending" then
	if redis.call("LPOS", KEYS[2], ARGV[1], "RANK", -1) then
		return 1
	end
elseif state == "scheduled" then
	if redis.call("ZSCORE", KEYS[3], ARGV[1]) then
		return 1
	end
elseif state == "retry" then
	if redis.call("ZSCORE", KEYS[4], ARGV[1]) then
		return 1
	end
else
	return 1
end
redis.call("DEL", KEYS[1])
return 0
`)

// waiting reports whether the task id, whose state says it waits, is in
// the list of its state, and deletes its key when it is not: a Redis that
// lost a list (a partial flush, an eviction) would otherwise keep the id
// blocked by a task that is never delivered.
func (q *Queue) waiting(ctx context.Context, id string) (bool, error) {
	prefix := "asynq:{" + q.name + "}:"
	n, err := unlistedCmd.Run(ctx, q.rc, []string{prefix + "t:" + id, prefix + "pending", prefix + "scheduled", prefix + "retry"},
		id).Int()
	if err != nil {
		return false, fmt.Errorf("check waiting task %s: %w", id, err)
	}
	return n == 1, nil
}

// copyID is the Asynq id of the nth copy of a task (0: the task itself).
func copyID(id string, n int) string {
	if n == 0 {
		return id
	}
	return id + "#copy" + strconv.Itoa(n)
}

// orphaned reports whether the active task id has lost its worker: its
// lease expired, or no worker lists it at all (Redis lost the active list
// but kept the task's key, or it finished meanwhile; a copy then costs at
// most one duplicate delivery, which handlers tolerate, where treating it
// as running would block the id until Asynq's recoverer, or forever).
// Active tasks are few (at most the workers' concurrency), and this runs
// only on a conflict with one.
func (q *Queue) orphaned(id string) (bool, error) {
	const pageSize = 500
	for page := 1; ; page++ {
		infos, err := q.insp.ListActiveTasks(q.name, asynq.PageSize(pageSize), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("list active tasks: %w", err)
		}
		for _, info := range infos {
			if info.ID == id {
				return info.IsOrphaned, nil
			}
		}
		if len(infos) < pageSize {
			return true, nil // not held by anyone
		}
	}
}

// ceilSecond rounds t up to a whole second, because Asynq drops the
// fraction: a task must never run before its ProcessAt.
func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}

// promotion is the timer that makes a scheduled task pending at its exact
// ProcessAt.
type promotion struct{ timer *time.Timer }

// promoteAt sets a timer that moves the scheduled task id to pending at at,
// unless at is beyond timerWindow or maxTimers are set already.
func (q *Queue) promoteAt(id string, at time.Time) {
	d := time.Until(at)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || d > timerWindow || len(q.timers) >= maxTimers {
		return
	}
	if old, ok := q.timers[id]; ok {
		old.timer.Stop()
	}
	p := &promotion{}
	p.timer = time.AfterFunc(d, func() { q.promote(id, p) })
	q.timers[id] = p
}

// promote moves a scheduled task to pending. Should the forwarder have done
// it first, RunTask fails harmlessly (the task is pending, running or gone).
func (q *Queue) promote(id string, p *promotion) {
	q.mu.Lock()
	if q.closed || q.timers[id] != p {
		q.mu.Unlock()
		return
	}
	delete(q.timers, id)
	q.inflight.Add(1)
	q.mu.Unlock()
	defer q.inflight.Done()
	if err := q.insp.RunTask(q.name, id); err != nil {
		q.log.Debug("asynqueue: promote delayed task", slog.String("task_id", id), slog.Any("err", err))
	}
}

// Run implements [queue.Queue] with Asynq's server.
func (q *Queue) Run(ctx context.Context, h queue.Handler) error {
	if h == nil {
		return errors.New("asynqueue: Run with a nil handler")
	}
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return queue.ErrClosed
	case q.ran:
		q.mu.Unlock()
		return errors.New("asynqueue: Run called twice")
	}
	q.ran = true
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	q.stopRun, q.runDone = stop, make(chan struct{})
	defer close(q.runDone)
	q.baseCtx = context.WithoutCancel(ctx)
	q.mu.Unlock()

	if err := q.srv.Start(q.process(h)); err != nil {
		return fmt.Errorf("asynqueue: start: %w", err)
	}
	<-runCtx.Done()
	q.srv.Shutdown()
	q.handlers.closeAndWait()
	return nil
}

// handlerBase is Asynq's BaseContext: Run's context without its
// cancellation.
func (q *Queue) handlerBase() context.Context {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.baseCtx
}

// process adapts h to Asynq.
func (q *Queue) process(h queue.Handler) asynq.HandlerFunc {
	return func(ctx context.Context, at *asynq.Task) error {
		if !q.handlers.enter() {
			// Run is past shutdown and nobody waits for this result: Asynq
			// already pushed the task back.
			return nil
		}
		defer q.handlers.leave()
		hdr := at.Headers()
		t := &queue.Task{ID: hdr[headerID], Kind: at.Type(), TenantID: hdr[headerTenant], Payload: at.Payload()}
		if t.ID == "" { // enqueued by something other than this package
			t.ID, _ = asynq.GetTaskID(ctx)
		}
		q.call(ctx, h, t)
		// Success to Asynq whatever h did: the queue never retries, and with
		// Retention 0 the task is deleted, which frees its id.
		return nil
	}
}

// call runs h, and logs its error or panic.
func (q *Queue) call(ctx context.Context, h queue.Handler, t *queue.Task) {
	defer func() {
		if r := recover(); r != nil {
			q.log.LogAttrs(ctx, slog.LevelError, "asynqueue: handler panicked",
				slog.String("task_id", t.ID), slog.String("kind", t.Kind), slog.String("tenant_id", t.TenantID),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	if err := h(ctx, t); err != nil {
		q.log.LogAttrs(ctx, slog.LevelError, "asynqueue: handler failed; not retried",
			slog.String("task_id", t.ID), slog.String("kind", t.Kind), slog.String("tenant_id", t.TenantID),
			slog.Any("err", err))
	}
}

// asynqFailed logs failures Asynq decides on by itself: the task's deadline
// or its lease passed before the handler returned. Asynq archives such a
// task; Enqueue replaces it when the engine enqueues the id again.
func (q *Queue) asynqFailed(ctx context.Context, at *asynq.Task, err error) {
	q.log.LogAttrs(ctx, slog.LevelWarn, "asynqueue: task failed in asynq; archived until enqueued again",
		slog.String("task_id", at.Headers()[headerID]), slog.String("kind", at.Type()), slog.Any("err", err))
}

func (q *Queue) healthCheck(err error) {
	if err != nil {
		q.log.Warn("asynqueue: redis health check failed", slog.Any("err", err))
	}
}

// Depth implements [queue.Queue]: pending, scheduled and retry tasks in the
// Redis queue, from every process.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !q.use() {
		return 0, queue.ErrClosed
	}
	defer q.inflight.Done()
	// GetQueueInfo fails on a queue never used, with an error no public
	// sentinel matches; ask first whether Asynq knows the queue.
	names, err := q.insp.Queues()
	if err != nil {
		return 0, fmt.Errorf("asynqueue: depth: %w", err)
	}
	if !slices.Contains(names, q.name) {
		return 0, nil // nothing was ever enqueued
	}
	info, err := q.insp.GetQueueInfo(q.name)
	if err != nil {
		return 0, fmt.Errorf("asynqueue: depth: %w", err)
	}
	return info.Pending + info.Scheduled + info.Retry + info.Aggregating, nil
}

// Ping implements [queue.Queue]: Redis answers PING before ctx is done.
func (q *Queue) Ping(ctx context.Context) error {
	if !q.use() {
		return queue.ErrClosed
	}
	defer q.inflight.Done()
	if err := q.rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("asynqueue: ping redis: %w", err)
	}
	return nil
}

// Close implements [queue.Queue]: it shuts down a Run in progress, stops
// the promotion timers (their tasks run at the rounded-up second instead),
// waits for calls in progress and closes the Redis connections. Tasks in
// Redis stay there.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	for id, p := range q.timers {
		p.timer.Stop()
		delete(q.timers, id)
	}
	stop, done := q.stopRun, q.runDone
	q.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	q.inflight.Wait()
	if err := q.rc.Close(); err != nil {
		return fmt.Errorf("asynqueue: close redis: %w", err)
	}
	return nil
}

// gate counts handlers in progress and, once closed, admits no more.
type gate struct {
	mu     sync.Mutex
	closed bool
	n      int
	idle   chan struct{} // closed when n drops to 0 after close
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n--; g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// closeAndWait admits no more handlers and waits for those in progress.
func (g *gate) closeAndWait() {
	g.mu.Lock()
	g.closed = true
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	<-idle
}
