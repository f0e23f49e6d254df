package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// threeNodes is the benchmark workflow: a trigger, a real module (hash, C)
// and a core node.
const threeNodes = `{"name": "bench", "nodes": [
	{"name": "start", "type": "trigger.manual"},
	{"name": "hash", "module": "wasmflow/hash", "params": {"field": "email"}},
	{"name": "done", "type": "core.noop"}],
	"connections": [{"from": "start", "to": "hash"}, {"from": "hash", "to": "done"}]}`

// BenchmarkExecution measures a 3-node workflow in both modes: latency of
// one execution at a time (p50, p99), the hop latency (a node finished →
// its child started) and throughput with 32 executions in flight.
func BenchmarkExecution(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			h := newHarness(b, m, harnessOpts{})
			wf := h.save(threeNodes)
			item := workflow.Item{"email": "bench@example.com"}
			h.wait(h.start(wf, item)) // warm the compile cache

			b.Run("Latency", func(b *testing.B) {
				var lat, hops []time.Duration
				for b.Loop() {
					began := time.Now()
					r := h.wait(h.start(wf, item))
					lat = append(lat, time.Since(began))
					require.Equal(b, store.ExecutionSucceeded, r.ex.Status)
					hops = append(hops, hopLatencies(r.runs)...)
				}
				b.ReportMetric(percentile(lat, 50).Seconds()*1e3, "p50-ms")
				b.ReportMetric(percentile(lat, 99).Seconds()*1e3, "p99-ms")
				b.ReportMetric(percentile(hops, 50).Seconds()*1e3, "hop-p50-ms")
			})
			b.Run("Throughput", func(b *testing.B) {
				const inFlight = 32
				began := time.Now()
				n := 0
				for b.Loop() {
					var wg sync.WaitGroup
					for range inFlight {
						wg.Go(func() {
							ex, err := h.eng.Start(context.Background(), h.tenant, wf, startParams(item))
							require.NoError(b, err)
							h.wait(ex.ID)
						})
					}
					wg.Wait()
					n += inFlight
				}
				b.ReportMetric(float64(n)/time.Since(began).Seconds(), "executions/s")
			})
		})
	}
}

// hopLatencies are, for each run with a parent, the time from the parent's
// finish to its start.
func hopLatencies(runs []*store.NodeRun) []time.Duration {
	byNode := map[string]*store.NodeRun{}
	for _, r := range runs {
		byNode[r.Node] = r
	}
	var hops []time.Duration
	for child, parent := range map[string]string{"hash": "start", "done": "hash"} {
		c, p := byNode[child], byNode[parent]
		if c != nil && p != nil && c.StartedAt != nil && p.FinishedAt != nil {
			hops = append(hops, c.StartedAt.Sub(*p.FinishedAt))
		}
	}
	return hops
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
