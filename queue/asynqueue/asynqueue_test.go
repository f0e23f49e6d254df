package asynqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After enough failed dials go-redis retries in the background once
		// a second until the pool is closed, and notices the close only at
		// its next attempt (it sleeps meanwhile, so match any frame).
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
	)
}

// open returns a queue on a queue name of its own, configured as queuetest
// asks; when the test ends it is closed and every key of its queue deleted.
func open(t testing.TB, cfg Config) *Queue {
	t.Helper()
	cfg.RedisAddr = testdb.RedisAddr(t)
	if cfg.Queue == "" {
		cfg.Queue = queueName(t)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 2 * queuetest.MinWorkers
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = queuetest.ShutdownTimeout
	}
	cfg.Logger = logger(t)
	q, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, q.Close())
		dropQueue(t, cfg.RedisAddr, cfg.Queue)
	})
	return q
}

// queueName is unique to one test.
func queueName(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "wftest_" + hex.EncodeToString(b)
}

// dropQueue deletes every key of an Asynq queue (the layout of asynq
// v0.26: asynq:{name}:…, and the name in asynq:queues).
func dropQueue(t testing.TB, addr, name string) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = rc.Close() }()
	ctx := context.Background()
	iter := rc.Scan(ctx, 0, "asynq:{"+name+"}:*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	if len(keys) > 0 {
		require.NoError(t, rc.Del(ctx, keys...).Err())
	}
	require.NoError(t, rc.SRem(ctx, "asynq:queues", name).Err())
}

// logger logs to the test log; benchmarks, which print every line they
// log, get none.
func logger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return nil
	}
	return testdb.Logger(t)
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queue.Queue { return open(t, Config{}) })
}

func BenchmarkQueue(b *testing.B) {
	queuetest.Bench(b, func(b *testing.B) queue.Queue { return open(b, Config{}) })
}

// run starts q.Run and stops it when the test ends.
func run(t *testing.T, q queue.Queue, h queue.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// deliveries records handled task ids.
type deliveries struct {
	mu  sync.Mutex
	ids []string
}

func (d *deliveries) handle(_ context.Context, t *queue.Task) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids = append(d.ids, t.ID)
	return nil
}

func (d *deliveries) count(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, got := range d.ids {
		if got == id {
			n++
		}
	}
	return n
}

func (d *deliveries) waitCount(t *testing.T, id string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return d.count(id) >= n }, 10*time.Second, time.Millisecond,
		"%s delivered %d times, want %d", id, d.count(id), n)
}

func TestTaskCheckIntervalInEffect(t *testing.T) {
	t.Parallel()
	// With Asynq's default interval (1 s) each hop costs about a second;
	// 20 hops must take far less than 20 s.
	const hops = 20
	q := open(t, Config{})
	done := make(chan struct{})
	run(t, q, func(ctx context.Context, task *queue.Task) error {
		var n int
		_, err := fmt.Sscanf(task.ID, "hop-%d", &n)
		require.NoError(t, err)
		if n == hops {
			close(done)
			return nil
		}
		return q.Enqueue(ctx, &queue.Task{ID: fmt.Sprintf("hop-%d", n+1), Kind: "hop"})
	})
	began := time.Now()
	require.NoError(t, q.Enqueue(t.Context(), &queue.Task{ID: "hop-1", Kind: "hop"}))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("20 hops did not finish in 10 s: is TaskCheckInterval in effect?")
	}
	t.Logf("%d hops in %s", hops, time.Since(began))
}

func TestPingDeadAddressFails(t *testing.T) {
	t.Parallel()
	q, err := New(Config{RedisAddr: "127.0.0.1:1", Logger: logger(t)})
	require.NoError(t, err, "New does not connect")
	defer func() { require.NoError(t, q.Close()) }()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.Error(t, q.Ping(ctx))
	err = q.Enqueue(ctx, &queue.Task{ID: "x", Kind: "k"})
	require.Error(t, err)
	require.NotErrorIs(t, err, queue.ErrClosed)
	_, err = q.Depth(ctx)
	require.Error(t, err)
}

func TestPing(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	require.NoError(t, q.Ping(t.Context()))
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{},
		{RedisAddr: "x:1", Concurrency: -1},
		{RedisAddr: "x:1", TaskCheckInterval: -1},
		{RedisAddr: "x:1", ShutdownTimeout: -1},
		{RedisAddr: "x:1", Queue: "  "},
	} {
		_, err := New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
	q, err := New(Config{RedisAddr: "x:1"})
	require.NoError(t, err)
	require.Equal(t, DefaultQueue, q.name)
	require.NoError(t, q.Close())
}

func TestCeilSecond(t *testing.T) {
	t.Parallel()
	whole := time.Unix(1_700_000_000, 0)
	require.Equal(t, whole, ceilSecond(whole))
	require.Equal(t, whole.Add(time.Second), ceilSecond(whole.Add(time.Nanosecond)))
	require.Equal(t, whole.Add(time.Second), ceilSecond(whole.Add(999*time.Millisecond)))
}

func TestDelayWithoutTimerRoundsUp(t *testing.T) {
	t.Parallel()
	// Beyond the timer window (or past maxTimers, or after a restart) a
	// delayed task waits in Redis until the next whole second after its
	// ProcessAt: never early.
	q := open(t, Config{})
	d := &deliveries{}
	run(t, q, d.handle)
	at := time.Now().Add(200 * time.Millisecond)
	x := &queue.Task{ID: "rounded", Kind: "k", ProcessAt: at}
	// Enqueue as Enqueue does, but without the promotion timer.
	task := asynq.NewTaskWithHeaders(x.Kind, nil, map[string]string{headerID: x.ID})
	id, err := q.add(t.Context(), x.ID, task, []asynq.Option{asynq.Queue(q.name), asynq.MaxRetry(0),
		asynq.ProcessAt(ceilSecond(at))})
	require.NoError(t, err)
	require.Equal(t, x.ID, id)
	d.waitCount(t, x.ID, 1)
	require.False(t, time.Now().Before(ceilSecond(at)), "not before the rounded-up second")
}

func TestTimerPromotesSubSecondDelay(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	d := &deliveries{}
	delivered := make(chan time.Time, 1)
	run(t, q, func(ctx context.Context, task *queue.Task) error {
		delivered <- time.Now()
		return d.handle(ctx, task)
	})
	// A delay that ends right after a whole second would, rounded up, wait
	// almost a full second more; the timer delivers it near its ProcessAt.
	now := time.Now()
	at := now.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)
	if at.Sub(now) < 200*time.Millisecond {
		at = at.Add(time.Second)
	}
	require.NoError(t, q.Enqueue(t.Context(), &queue.Task{ID: "sub-second", Kind: "k", ProcessAt: at}))
	select {
	case got := <-delivered:
		require.False(t, got.Before(at))
		require.Less(t, got.Sub(at), 700*time.Millisecond, "promoted by the timer, not at the next whole second")
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
}

func TestReenqueueAfterAsynqTimeout(t *testing.T) {
	t.Parallel()
	// Asynq cancels a handler at the task's deadline (30 minutes for ours;
	// 1 s here, enqueued directly) and archives the task. Enqueueing the id
	// again replaces the archived task.
	q := open(t, Config{})
	id := "timed-out"
	_, err := q.client.Enqueue(asynq.NewTaskWithHeaders("k", nil, map[string]string{headerID: id}),
		asynq.Queue(q.name), asynq.TaskID(id), asynq.MaxRetry(0), asynq.Timeout(time.Second))
	require.NoError(t, err)
	d := &deliveries{}
	run(t, q, func(ctx context.Context, task *queue.Task) error {
		if d.count(task.ID) == 0 {
			<-ctx.Done() // the first delivery outlives its deadline
		}
		return d.handle(ctx, task)
	})
	require.Eventually(t, func() bool {
		info, err := q.insp.GetTaskInfo(q.name, id)
		return err == nil && info.State == asynq.TaskStateArchived
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, q.Enqueue(t.Context(), &queue.Task{ID: id, Kind: "k"}))
	d.waitCount(t, id, 2)
}

func TestReenqueueReplacesArchivedTask(t *testing.T) {
	t.Parallel()
	// A task Asynq failed by itself (its 30-minute deadline, a lost lease)
	// is archived, and would block its id; Enqueue replaces it.
	q := open(t, Config{})
	x := &queue.Task{ID: "archived", Kind: "k"}
	require.NoError(t, q.Enqueue(t.Context(), x))
	require.NoError(t, q.insp.ArchiveTask(q.name, x.ID))
	info, err := q.insp.GetTaskInfo(q.name, x.ID)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStateArchived, info.State)
	d := &deliveries{}
	run(t, q, d.handle)
	require.NoError(t, q.Enqueue(t.Context(), x))
	d.waitCount(t, x.ID, 1)
}

// orphan makes the waiting task id look as a crashed worker leaves it:
// active, with a lease that expired a minute ago (asynq v0.26's layout).
func orphan(t *testing.T, q *Queue, id string) {
	t.Helper()
	prefix := "asynq:{" + q.name + "}:"
	ctx := t.Context()
	_, err := q.rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LRem(ctx, prefix+"pending", 0, id)
		p.LPush(ctx, prefix+"active", id)
		p.ZAdd(ctx, prefix+"lease", redis.Z{Score: float64(time.Now().Add(-time.Minute).Unix()), Member: id})
		p.HSet(ctx, prefix+"t:"+id, "state", "active")
		return nil
	})
	require.NoError(t, err)
}

func TestReenqueuePastOrphanedTask(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	x := &queue.Task{ID: "orphaned", Kind: "k", TenantID: "t1", Payload: []byte("p")}
	require.NoError(t, q.Enqueue(t.Context(), x))
	orphan(t, q, x.ID)
	orphaned, err := q.orphaned(x.ID)
	require.NoError(t, err)
	require.True(t, orphaned)

	// The reconciler enqueues it again: a copy goes in under a derived id,
	// and the copy is deduplicated like the task itself.
	require.NoError(t, q.Enqueue(t.Context(), x))
	require.NoError(t, q.Enqueue(t.Context(), x))
	info, err := q.insp.GetTaskInfo(q.name, copyID(x.ID, 1))
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)
	n, err := q.Depth(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	var mu sync.Mutex
	var got []*queue.Task
	run(t, q, func(_ context.Context, task *queue.Task) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, task)
		return nil
	})
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	}, 10*time.Second, time.Millisecond)
	mu.Lock()
	require.Equal(t, *x, *got[0], "the copy is delivered as the task")
	mu.Unlock()
}

func TestCopiesOfOrphansAreBounded(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	x := &queue.Task{ID: "lost", Kind: "k"}
	for n := range maxCopies {
		require.NoError(t, q.Enqueue(t.Context(), x))
		orphan(t, q, copyID(x.ID, n))
	}
	err := q.Enqueue(t.Context(), x)
	require.ErrorContains(t, err, "held by lost workers")
}

// A task whose key says active but that no worker lists (Redis lost the
// active list and lease, and kept the key) would block its id for good:
// Enqueue adds a copy, which is delivered.
func TestActiveButUnlistedGetsACopy(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	orphaned, err := q.orphaned("never-there")
	require.NoError(t, err)
	require.True(t, orphaned)

	x := &queue.Task{ID: "stale", Kind: "k", TenantID: "t1", Payload: []byte("p")}
	require.NoError(t, q.Enqueue(t.Context(), x))
	prefix := "asynq:{" + q.name + "}:"
	_, err = q.rc.TxPipelined(t.Context(), func(p redis.Pipeliner) error {
		p.LRem(t.Context(), prefix+"pending", 0, x.ID)
		p.HSet(t.Context(), prefix+"t:"+x.ID, "state", "active")
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, q.Enqueue(t.Context(), x))
	d := &deliveries{}
	run(t, q, d.handle)
	d.waitCount(t, x.ID, 1)
}

func TestForeignTaskGetsAsynqID(t *testing.T) {
	t.Parallel()
	// A task enqueued by another Asynq client (no headers) is delivered
	// with Asynq's id.
	q := open(t, Config{})
	_, err := q.client.Enqueue(asynq.NewTask("foreign", []byte("x")), asynq.Queue(q.name), asynq.TaskID("asynq-id"),
		asynq.MaxRetry(0))
	require.NoError(t, err)
	d := &deliveries{}
	run(t, q, d.handle)
	d.waitCount(t, "asynq-id", 1)
}

func TestSlogAdapter(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	var mu sync.Mutex
	a := slogAdapter{slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelInfo}))}
	a.Debug("hidden")
	a.Info("starting ", "processing")
	a.Warn("warned")
	a.Error("failed: ", 3)
	a.Fatal("fatal")
	out := b.String()
	require.NotContains(t, out, "hidden")
	for _, want := range []string{
		`level=INFO msg="starting processing" component=asynq`,
		`level=WARN msg=warned`,
		`level=ERROR msg="failed: 3"`,
		`level=ERROR msg=fatal`,
	} {
		require.Contains(t, out, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestGateWaitsForHandlers(t *testing.T) {
	t.Parallel()
	var g gate
	require.True(t, g.enter())
	require.True(t, g.enter())
	waited := make(chan struct{})
	go func() { g.closeAndWait(); close(waited) }()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.closed
	}, time.Second, time.Millisecond)
	require.False(t, g.enter(), "closed: no more handlers")
	g.leave()
	select {
	case <-waited:
		t.Fatal("returned with a handler in progress")
	case <-time.After(10 * time.Millisecond):
	}
	g.leave()
	<-waited
}

func TestPromoteOfAGoneTaskIsHarmless(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	// The forwarder got there first, or the task is gone: RunTask fails,
	// and promote only logs it.
	q.promoteAt("gone", time.Now().Add(time.Millisecond))
	require.Eventually(t, func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.timers) == 0
	}, time.Second, time.Millisecond)
	// A stale timer (replaced, or stopped too late) does nothing.
	q.promote("other", &promotion{})
	// Past the window, no timer is set.
	q.promoteAt("far", time.Now().Add(2*timerWindow))
	q.mu.Lock()
	require.Empty(t, q.timers)
	q.mu.Unlock()
}

func TestHealthCheckLogs(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	q.healthCheck(nil)
	q.healthCheck(context.DeadlineExceeded)
}

// A task whose key says it waits but that is in no list (Redis lost the
// pending list and kept the key, as a partial flush leaves it) would block
// its id for good: Enqueue adds it again.
func TestWaitingButUnlistedIsAddedAgain(t *testing.T) {
	t.Parallel()
	q := open(t, Config{})
	prefix := "asynq:{" + q.name + "}:"
	for _, delay := range []time.Duration{0, time.Hour} {
		x := &queue.Task{ID: "lost-" + delay.String(), Kind: "k", ProcessAt: time.Now().Add(delay)}
		require.NoError(t, q.Enqueue(t.Context(), x))
		require.NoError(t, q.Enqueue(t.Context(), x), "a duplicate")
		n, err := q.Depth(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n, "waiting once")
		require.NoError(t, q.rc.Del(t.Context(), prefix+"pending", prefix+"scheduled").Err())
		n, err = q.Depth(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "lost")

		require.NoError(t, q.Enqueue(t.Context(), x))
		n, err = q.Depth(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n, "added again")
		require.NoError(t, q.Enqueue(t.Context(), x))
		n, err = q.Depth(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n, "and a duplicate again")
		require.NoError(t, q.insp.DeleteTask(q.name, x.ID))
	}
}
