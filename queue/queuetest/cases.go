package queuetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/queue"
)

func deliveryCases() []testCase {
	return []testCase{
		{"DeliversEachTaskIntact", func(t *testing.T, q queue.Queue) {
			big := make([]byte, 256<<10)
			_, _ = rand.Read(big) // never fails (Go 1.24+)
			payloads := [][]byte{
				nil, {}, {0}, []byte("a\x00b\x00\x00c"), []byte(`{"items":[{"id":1}]}`),
				[]byte("ünïcødé ✓"), {0xff, 0xfe, 0x00, 0x80}, big,
			}
			var want []*queue.Task
			for i, p := range payloads {
				want = append(want, &queue.Task{ID: unique("deliver"), Kind: []string{"node_run", "trigger"}[i%2],
					TenantID: []string{"tenant-a", "", "t\x00b"}[i%3], Payload: p})
			}
			enqueue(t, q, want[:4]...) // before Run: they wait
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			enqueue(t, q, want[4:]...)
			ids := make([]string, len(want))
			for i, w := range want {
				ids[i] = w.ID
			}
			r.waitFor(t, ids...)
			time.Sleep(settle)
			for _, w := range want {
				require.Equal(t, 1, r.count(w.ID), "task %s", w.ID)
				got := r.first(t, w.ID).task
				require.Equal(t, w.Kind, got.Kind)
				require.Equal(t, w.TenantID, got.TenantID)
				require.True(t, bytes.Equal(w.Payload, got.Payload), "payload of %s: %d bytes, want %d", w.ID, len(got.Payload), len(w.Payload))
				require.True(t, got.ProcessAt.IsZero())
			}
		}},
		{"EnqueueCopiesTheTask", func(t *testing.T, q queue.Queue) {
			task := task("copy")
			task.Payload = []byte("original")
			enqueue(t, q, task)
			id := task.ID
			copy(task.Payload, "changed!")
			task.ID, task.TenantID = "other", "other"
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			r.waitFor(t, id)
			got := r.first(t, id).task
			require.Equal(t, "original", string(got.Payload))
			require.Equal(t, "tenant-1", got.TenantID)
		}},
		{"ManyConcurrentTasksNoneLost", func(t *testing.T, q queue.Queue) {
			const producers, each = 8, 125
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			ids := make([]string, producers*each)
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					for i := range each {
						task := task("many")
						ids[p*each+i] = task.ID
						if err := q.Enqueue(t.Context(), task); err != nil {
							t.Errorf("enqueue: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			r.waitFor(t, ids...)
			time.Sleep(settle)
			require.Len(t, r.all(), producers*each, "each task delivered once")
			require.Eventually(t, func() bool { return depth(t, q) == 0 }, wait, time.Millisecond)
		}},
		{"HandlersRunConcurrently", func(t *testing.T, q queue.Queue) {
			var running atomic.Int32
			all := newSignal()
			r := &recorder{then: func(ctx context.Context, _ *queue.Task) error {
				if running.Add(1) == MinWorkers {
					all.fire()
				}
				select {
				case <-all.ch:
				case <-ctx.Done():
				}
				return nil
			}}
			start(t, t.Context(), q, r.handle)
			for range MinWorkers {
				enqueue(t, q, task("concurrent"))
			}
			all.await(t, "MinWorkers handlers running at once")
		}},
		{"HandlerContextKeepsRunValues", func(t *testing.T, q queue.Queue) {
			type key struct{}
			got := make(chan any, 1)
			ctx := context.WithValue(t.Context(), key{}, "request-1")
			start(t, ctx, q, func(ctx context.Context, _ *queue.Task) error {
				got <- ctx.Value(key{})
				return nil
			})
			enqueue(t, q, task("values"))
			select {
			case v := <-got:
				require.Equal(t, "request-1", v)
			case <-time.After(wait):
				t.Fatal("not delivered")
			}
		}},
	}
}

func dedupCases() []testCase {
	return []testCase{
		{"DuplicateWhileWaitingDeliveredOnce", func(t *testing.T, q queue.Queue) {
			first := task("dup")
			enqueue(t, q, first)
			for _, p := range []string{"second", "third"} {
				dup := *first
				dup.Payload = []byte(p)
				require.NoError(t, q.Enqueue(t.Context(), &dup), "a duplicate is success")
			}
			require.Equal(t, 1, depth(t, q))
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			marker := task("marker")
			enqueue(t, q, marker)
			r.waitFor(t, first.ID, marker.ID)
			time.Sleep(settle)
			require.Equal(t, 1, r.count(first.ID))
			require.Equal(t, string(first.Payload), string(r.first(t, first.ID).task.Payload), "the first one wins")
		}},
		{"DuplicateWhileRunningDropped", func(t *testing.T, q queue.Queue) {
			x := task("running")
			started, release := newSignal(), newSignal()
			r := &recorder{then: func(ctx context.Context, t *queue.Task) error {
				if t.ID == x.ID {
					started.fire()
					<-release.ch
				}
				return nil
			}}
			start(t, t.Context(), q, r.handle)
			enqueue(t, q, x)
			started.await(t, "the handler to start")
			enqueue(t, q, x)
			release.fire()
			marker := task("marker")
			enqueue(t, q, marker)
			r.waitFor(t, marker.ID)
			time.Sleep(settle)
			require.Equal(t, 1, r.count(x.ID))
		}},
		{"ReenqueueAfterFinishDeliversAgain", func(t *testing.T, q queue.Queue) {
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			x := task("again")
			enqueue(t, q, x)
			r.waitFor(t, x.ID)
			// Once the first delivery has finished, the id is free again;
			// until then an Enqueue is a duplicate, so keep offering it.
			require.Eventually(t, func() bool {
				require.NoError(t, q.Enqueue(t.Context(), x))
				return r.count(x.ID) >= 2
			}, wait, 5*time.Millisecond, "a finished id is delivered again")
		}},
	}
}

func delayCases() []testCase {
	return []testCase{
		{"ProcessAtDelaysDelivery", func(t *testing.T, q queue.Queue) {
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			const delay = 300 * time.Millisecond
			later := task("later")
			later.ProcessAt = time.Now().Add(delay)
			now := task("now")
			enqueue(t, q, later, now)
			r.waitFor(t, now.ID, later.ID)
			require.False(t, r.first(t, later.ID).at.Before(later.ProcessAt), "delivered before ProcessAt")
			require.True(t, r.first(t, now.ID).at.Before(r.first(t, later.ID).at), "the delayed task came first")
			time.Sleep(settle)
			require.Len(t, r.all(), 2)
		}},
		{"ProcessAtInThePastIsNow", func(t *testing.T, q queue.Queue) {
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			x := task("past")
			x.ProcessAt = time.Now().Add(-time.Hour)
			enqueue(t, q, x)
			r.waitFor(t, x.ID)
		}},
		{"DelayedDuplicateKeepsTheFirst", func(t *testing.T, q queue.Queue) {
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			x := task("delayed-dup")
			x.ProcessAt = time.Now().Add(300 * time.Millisecond)
			enqueue(t, q, x)
			now := *x
			now.ProcessAt = time.Time{}
			enqueue(t, q, &now)
			r.waitFor(t, x.ID)
			require.False(t, r.first(t, x.ID).at.Before(x.ProcessAt), "the first enqueue's delay holds")
			time.Sleep(settle)
			require.Equal(t, 1, r.count(x.ID))
		}},
		{"DepthCountsWaitingTasks", func(t *testing.T, q queue.Queue) {
			require.Equal(t, 0, depth(t, q))
			delayed := task("depth-delayed")
			delayed.ProcessAt = time.Now().Add(time.Hour)
			var now []string
			for range 3 {
				x := task("depth")
				enqueue(t, q, x)
				now = append(now, x.ID)
			}
			enqueue(t, q, delayed)
			require.Equal(t, 4, depth(t, q))
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			r.waitFor(t, now...)
			require.Eventually(t, func() bool { return depth(t, q) == 1 }, wait, time.Millisecond,
				"the delayed task still waits")
			require.Equal(t, 0, r.count(delayed.ID))
		}},
	}
}

func failureCases() []testCase {
	failing := func(kind string, fail func(id string) error) testCase {
		return testCase{"Handler" + kind + "NotRetried", func(t *testing.T, q queue.Queue) {
			x := task("fails")
			r := &recorder{then: func(_ context.Context, t *queue.Task) error {
				if t.ID == x.ID {
					return fail(t.ID)
				}
				return nil
			}}
			start(t, t.Context(), q, r.handle)
			enqueue(t, q, x)
			r.waitFor(t, x.ID)
			marker := task("marker")
			enqueue(t, q, marker)
			r.waitFor(t, marker.ID)
			time.Sleep(settle)
			require.Equal(t, 1, r.count(x.ID), "not redelivered")
			// The failed id is not left blocked: the engine may enqueue it again.
			require.Eventually(t, func() bool {
				require.NoError(t, q.Enqueue(t.Context(), x))
				return r.count(x.ID) >= 2
			}, wait, 5*time.Millisecond, "a failed id is delivered again when enqueued again")
		}}
	}
	return []testCase{
		failing("Error", func(id string) error { return errors.New("node " + id + " failed") }),
		failing("Panic", func(id string) error { panic("node " + id + " panicked") }),
		{"InvalidTaskRefused", func(t *testing.T, q queue.Queue) {
			for _, bad := range []*queue.Task{nil, {Kind: "node_run"}, {ID: "x"},
				{ID: "x\xff", Kind: "node_run"}, {ID: "x", Kind: "node_run", TenantID: "\xc3"}} {
				err := q.Enqueue(t.Context(), bad)
				require.Error(t, err, "%+v", bad)
				require.NotErrorIs(t, err, queue.ErrClosed)
			}
			require.Equal(t, 0, depth(t, q))
			require.Error(t, q.Run(t.Context(), nil), "nil handler")
		}},
		{"EnqueueHonoursContext", func(t *testing.T, q queue.Queue) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			require.ErrorIs(t, q.Enqueue(ctx, task("cancelled")), context.Canceled)
			require.Equal(t, 0, depth(t, q))
		}},
	}
}

func lifecycleCases() []testCase {
	return []testCase{
		{"ShutdownWaitsForRunningHandlers", func(t *testing.T, q queue.Queue) {
			started, release := newSignal(), newSignal()
			var cancelled atomic.Bool
			r := &recorder{then: func(ctx context.Context, _ *queue.Task) error {
				started.fire()
				select {
				case <-release.ch:
				case <-ctx.Done():
					cancelled.Store(true)
				}
				return nil
			}}
			stop := start(t, t.Context(), q, r.handle)
			enqueue(t, q, task("slow"))
			started.await(t, "the handler to start")
			returned := make(chan error, 1)
			go func() { returned <- stop() }()
			select {
			case err := <-returned:
				t.Fatalf("Run returned (%v) while a handler was running", err)
			case <-time.After(ShutdownTimeout / 4):
			}
			release.fire()
			select {
			case err := <-returned:
				require.NoError(t, err)
			case <-time.After(wait):
				t.Fatal("Run did not return once the handler had")
			}
			require.False(t, cancelled.Load(), "the handler finished within the shutdown timeout")
		}},
		{"ShutdownCancelsHandlersAfterTimeout", func(t *testing.T, q queue.Queue) {
			started := newSignal()
			var cancelledAfter atomic.Int64
			var stopAt atomic.Int64
			r := &recorder{then: func(ctx context.Context, _ *queue.Task) error {
				started.fire()
				<-ctx.Done()
				cancelledAfter.Store(time.Now().UnixNano() - stopAt.Load())
				return ctx.Err()
			}}
			stop := start(t, t.Context(), q, r.handle)
			enqueue(t, q, task("stuck"))
			started.await(t, "the handler to start")
			stopAt.Store(time.Now().UnixNano())
			require.NoError(t, stop())
			after := time.Duration(cancelledAfter.Load())
			require.Positive(t, after, "the handler's context was cancelled before Run returned")
			require.GreaterOrEqual(t, after, ShutdownTimeout*9/10, "cancelled only once the shutdown timeout passed")
		}},
		{"RunWaitsForHandlersPastCancellation", func(t *testing.T, q queue.Queue) {
			// A handler that takes a while to wind down after its context is
			// cancelled is still waited for: Run returns after every handler.
			started := newSignal()
			var finished atomic.Bool
			r := &recorder{then: func(ctx context.Context, _ *queue.Task) error {
				started.fire()
				<-ctx.Done()
				time.Sleep(ShutdownTimeout / 2)
				finished.Store(true)
				return nil
			}}
			stop := start(t, t.Context(), q, r.handle)
			enqueue(t, q, task("slow-to-stop"))
			started.await(t, "the handler to start")
			require.NoError(t, stop())
			require.True(t, finished.Load(), "Run returned before its handler")
		}},
		{"RunReturnsWhenIdle", func(t *testing.T, q queue.Queue) {
			stop := start(t, t.Context(), q, (&recorder{}).handle)
			time.Sleep(20 * time.Millisecond)
			began := time.Now()
			require.NoError(t, stop())
			require.Less(t, time.Since(began), ShutdownTimeout+wait/2)
		}},
		{"RunOnlyOnce", func(t *testing.T, q queue.Queue) {
			r := &recorder{}
			start(t, t.Context(), q, r.handle)
			time.Sleep(20 * time.Millisecond) // let the first Run begin
			err := q.Run(t.Context(), r.handle)
			require.Error(t, err)
			require.NotErrorIs(t, err, queue.ErrClosed)
			x := task("still-running")
			enqueue(t, q, x)
			r.waitFor(t, x.ID)
		}},
		{"CloseStopsRun", func(t *testing.T, q queue.Queue) {
			r := &recorder{}
			done := make(chan error, 1)
			go func() { done <- q.Run(context.WithoutCancel(t.Context()), r.handle) }()
			x := task("before-close")
			enqueue(t, q, x)
			r.waitFor(t, x.ID)
			require.NoError(t, q.Close())
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(wait):
				t.Fatal("Run did not return after Close")
			}
			require.ErrorIs(t, q.Enqueue(t.Context(), task("after")), queue.ErrClosed)
		}},
		{"ClosedQueueRefusesEverything", func(t *testing.T, q queue.Queue) {
			require.NoError(t, q.Ping(t.Context()))
			enqueue(t, q, task("left-behind"))
			require.NoError(t, q.Close())
			require.NoError(t, q.Close(), "Close is idempotent")
			require.ErrorIs(t, q.Enqueue(t.Context(), task("after")), queue.ErrClosed)
			require.ErrorIs(t, q.Run(t.Context(), (&recorder{}).handle), queue.ErrClosed)
			_, err := q.Depth(t.Context())
			require.ErrorIs(t, err, queue.ErrClosed)
			require.ErrorIs(t, q.Ping(t.Context()), queue.ErrClosed)
		}},
	}
}
