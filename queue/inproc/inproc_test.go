package inproc_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open returns a queue configured as queuetest asks, closed when the test
// ends; cfg's zero fields get the suite's values.
func open(t testing.TB, cfg inproc.Config) *inproc.Queue {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2 * queuetest.MinWorkers
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = queuetest.ShutdownTimeout
	}
	cfg.Logger = logger(t)
	q, err := inproc.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
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
	queuetest.Run(t, func(t *testing.T) queue.Queue { return open(t, inproc.Config{}) })
}

func BenchmarkQueue(b *testing.B) {
	queuetest.Bench(b, func(b *testing.B) queue.Queue { return open(b, inproc.Config{}) })
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

func task(id string) *queue.Task { return &queue.Task{ID: id, Kind: "node_run"} }

func TestWorkerBoundRespected(t *testing.T) {
	t.Parallel()
	const workers, tasks = 3, 60
	q := open(t, inproc.Config{Workers: workers})
	var running, peak, handled atomic.Int32
	all := make(chan struct{})
	run(t, q, func(ctx context.Context, _ *queue.Task) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		running.Add(-1)
		if handled.Add(1) == tasks {
			close(all)
		}
		return nil
	})
	for i := range tasks {
		require.NoError(t, q.Enqueue(t.Context(), task(fmt.Sprintf("bound-%d", i))))
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatal("tasks not handled")
	}
	require.Equal(t, int32(workers), peak.Load(), "exactly Workers handlers at once, at peak")
}

func TestFullRefusesAtOnce(t *testing.T) {
	t.Parallel()
	q := open(t, inproc.Config{MaxWaiting: 3})
	delayed := task("delayed")
	delayed.ProcessAt = time.Now().Add(time.Hour)
	require.NoError(t, q.Enqueue(t.Context(), delayed))
	require.NoError(t, q.Enqueue(t.Context(), task("a")))
	require.NoError(t, q.Enqueue(t.Context(), task("b")))
	require.ErrorIs(t, q.Enqueue(t.Context(), task("c")), queue.ErrFull, "delayed tasks count")
	require.NoError(t, q.Enqueue(t.Context(), task("a")), "a duplicate is still success")

	// Once handlers take tasks, room frees up.
	var mu sync.Mutex
	var got []string
	run(t, q, func(_ context.Context, t *queue.Task) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, t.ID)
		return nil
	})
	require.Eventually(t, func() bool { return q.Enqueue(t.Context(), task("c")) == nil }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 3
	}, 10*time.Second, time.Millisecond)
}

func TestFIFOReusesSpace(t *testing.T) {
	t.Parallel()
	// One worker, tasks enqueued in bursts while it drains: order is FIFO.
	q := open(t, inproc.Config{Workers: 1})
	var mu sync.Mutex
	var got []int
	run(t, q, func(_ context.Context, t *queue.Task) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, int(t.Payload[0])<<8|int(t.Payload[1]))
		return nil
	})
	const n = 2000
	for i := range n {
		x := task(fmt.Sprintf("fifo-%d", i))
		x.Payload = []byte{byte(i >> 8), byte(i)}
		require.NoError(t, q.Enqueue(t.Context(), x))
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	}, 10*time.Second, time.Millisecond)
	for i, v := range got {
		require.Equal(t, i, v)
	}
}

func TestCloseDropsDelayedTasks(t *testing.T) {
	t.Parallel()
	q := open(t, inproc.Config{})
	x := task("soon")
	x.ProcessAt = time.Now().Add(20 * time.Millisecond)
	require.NoError(t, q.Enqueue(t.Context(), x))
	require.NoError(t, q.Close())
	time.Sleep(50 * time.Millisecond) // the timer, stopped, does nothing
}

func TestTimerFiringAfterCloseDoesNothing(t *testing.T) {
	t.Parallel()
	// Many short timers racing Close: none may panic or leak.
	for range 20 {
		q := open(t, inproc.Config{})
		for i := range 50 {
			x := task(fmt.Sprintf("timer-%d", i))
			x.ProcessAt = time.Now().Add(time.Duration(i) * 10 * time.Microsecond)
			require.NoError(t, q.Enqueue(t.Context(), x))
		}
		require.NoError(t, q.Close())
	}
}

func TestNewValidatesAndDefaults(t *testing.T) {
	t.Parallel()
	for _, cfg := range []inproc.Config{{Workers: -1}, {MaxWaiting: -1}, {ShutdownTimeout: -time.Second}} {
		_, err := inproc.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
	q, err := inproc.New(inproc.Config{})
	require.NoError(t, err)
	require.NoError(t, q.Ping(t.Context()))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, q.Ping(ctx), context.Canceled)
	require.NoError(t, q.Close())
}
