// Package queuetest is the conformance suite of [queue.Queue]: every
// backend's tests run it, so that the backends behave alike. Only _test.go
// files import it.
//
//	func TestConformance(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) queue.Queue { return open(t) })
//	}
//
// Each case runs in parallel on a queue of its own, which open must return
// empty, with at least 4 workers and a shutdown timeout of
// [ShutdownTimeout], and close in t.Cleanup.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/queue"
)

// ShutdownTimeout is the shutdown timeout open must configure: the suite
// checks that Run waits that long for a running handler, and no longer.
const ShutdownTimeout = 500 * time.Millisecond

// MinWorkers is the concurrency open must configure at least.
const MinWorkers = 4

// wait bounds every wait for a delivery or a return; a healthy backend
// takes milliseconds.
const wait = 10 * time.Second

// settle is how long a case waits for deliveries that must not happen.
const settle = 200 * time.Millisecond

// testCase is one behaviour of the contract, checked on a fresh queue.
type testCase struct {
	name string
	run  func(t *testing.T, q queue.Queue)
}

// Run runs every case of the suite, each in parallel on a queue of its own
// returned by open.
func Run(t *testing.T, open func(t *testing.T) queue.Queue) {
	groups := [][]testCase{deliveryCases(), dedupCases(), delayCases(), failureCases(), lifecycleCases()}
	for _, cases := range groups {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, open(t))
			})
		}
	}
}

var seq atomic.Int64

// unique returns an id no other call in this process returns.
func unique(prefix string) string { return fmt.Sprintf("%s:%d", prefix, seq.Add(1)) }

// task returns a valid task with a unique id.
func task(prefix string) *queue.Task {
	return &queue.Task{ID: unique(prefix), Kind: "node_run", TenantID: "tenant-1", Payload: []byte(prefix)}
}

// delivery is one call of a handler.
type delivery struct {
	task *queue.Task
	at   time.Time
}

// recorder is a handler that records every delivery.
type recorder struct {
	mu   sync.Mutex
	got  []delivery
	then func(ctx context.Context, t *queue.Task) error // runs after recording; nil: return nil
}

func (r *recorder) handle(ctx context.Context, t *queue.Task) error {
	r.mu.Lock()
	r.got = append(r.got, delivery{task: t, at: time.Now()})
	then := r.then
	r.mu.Unlock()
	if then != nil {
		return then(ctx, t)
	}
	return nil
}

func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func (r *recorder) count(id string) int {
	n := 0
	for _, d := range r.all() {
		if d.task.ID == id {
			n++
		}
	}
	return n
}

// first returns the first delivery of id.
func (r *recorder) first(t testing.TB, id string) delivery {
	t.Helper()
	for _, d := range r.all() {
		if d.task.ID == id {
			return d
		}
	}
	t.Fatalf("task %s was not delivered", id)
	return delivery{}
}

// waitFor waits until every id was delivered at least once.
func (r *recorder) waitFor(t testing.TB, ids ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if r.count(id) == 0 {
				return false
			}
		}
		return true
	}, wait, time.Millisecond, "tasks %v not all delivered", ids)
}

// start runs q.Run(ctx, h) in a goroutine and returns a function that
// cancels it and returns Run's error once it returns; the test's cleanup
// calls it too, and requires nil.
func start(t testing.TB, ctx context.Context, q queue.Queue, h queue.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(wait):
				err = errors.New("queuetest: Run did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { require.NoError(t, stop()) })
	return stop
}

func enqueue(t testing.TB, q queue.Queue, tasks ...*queue.Task) {
	t.Helper()
	for _, task := range tasks {
		require.NoError(t, q.Enqueue(t.Context(), task), "enqueue %s", task.ID)
	}
}

func depth(t testing.TB, q queue.Queue) int {
	t.Helper()
	n, err := q.Depth(t.Context())
	require.NoError(t, err)
	return n
}

// signal is closed once; safe to close many times.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.ch) }) }

// await waits for s, failing the test after wait.
func (s *signal) await(t testing.TB, what string) {
	t.Helper()
	select {
	case <-s.ch:
	case <-time.After(wait):
		t.Fatalf("queuetest: timed out waiting for %s", what)
	}
}
