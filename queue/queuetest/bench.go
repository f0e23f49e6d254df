package queuetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/queue"
)

// Bench measures a queue's hot paths; each backend's benchmarks run it.
// open returns an empty queue, as for [Run], and closes it in b.Cleanup.
//
//   - RoundTrip: Enqueue one task and wait for its handler.
//   - Hop: a handler enqueues the next task, as the engine does for a
//     node's child; one iteration is one hop.
//   - Throughput1000: 1,000 tasks from 4 producers, until all are handled;
//     also reported as tasks/s.
func Bench(b *testing.B, open func(b *testing.B) queue.Queue) {
	b.Run("RoundTrip", func(b *testing.B) {
		q := open(b)
		got := make(chan struct{}, 1)
		start(b, b.Context(), q, func(context.Context, *queue.Task) error {
			got <- struct{}{}
			return nil
		})
		for b.Loop() {
			require.NoError(b, q.Enqueue(b.Context(), task("bench")))
			<-got
		}
	})
	b.Run("Hop", func(b *testing.B) {
		q := open(b)
		hops, done := make(chan struct{}), make(chan struct{})
		start(b, b.Context(), q, func(ctx context.Context, _ *queue.Task) error {
			select {
			case hops <- struct{}{}:
			case <-done:
				return nil
			}
			return q.Enqueue(ctx, task("hop"))
		})
		require.NoError(b, q.Enqueue(b.Context(), task("hop")))
		for b.Loop() {
			<-hops
		}
		close(done)
	})
	b.Run("Throughput1000", func(b *testing.B) {
		const n, producers = 1000, 4
		q := open(b)
		var handled atomic.Int64
		all := make(chan struct{}, 1)
		start(b, b.Context(), q, func(context.Context, *queue.Task) error {
			if handled.Add(1)%n == 0 {
				all <- struct{}{}
			}
			return nil
		})
		for b.Loop() {
			var wg sync.WaitGroup
			for range producers {
				wg.Go(func() {
					for range n / producers {
						if err := q.Enqueue(b.Context(), task("bulk")); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			<-all
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tasks/s")
	})
}
