package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/queue/asynqueue"
	"github.com/wasmflow/wasmflow/queue/inproc"
	"github.com/wasmflow/wasmflow/runtime"
)

// openQueue opens Asynq on Redis when --redis-addr is set, else the
// in-process queue.
func openQueue(cfg serveConfig, logger *slog.Logger) (queue.Queue, error) {
	shutdown := min(cfg.ShutdownTimeout, 10*time.Second)
	if cfg.RedisAddr != "" {
		return asynqueue.New(asynqueue.Config{
			RedisAddr: cfg.RedisAddr, Queue: cfg.RedisQueue, Concurrency: cfg.Workers,
			ShutdownTimeout: shutdown, Logger: logger,
		})
	}
	return inproc.New(inproc.Config{Workers: cfg.Workers, ShutdownTimeout: shutdown, Logger: logger})
}

func queueAttr(cfg serveConfig) slog.Attr {
	if cfg.RedisAddr != "" {
		return slog.Group("queue", slog.String("backend", "asynq"), slog.String("redis", cfg.RedisAddr), slog.String("name", cfg.RedisQueue))
	}
	return slog.String("queue", "in-process")
}

// registerMetrics registers the engine's metrics and gauges of the queue's
// depth and the compile cache with reg.
func registerMetrics(reg *prometheus.Registry, q queue.Queue, rt *runtime.Runtime) (*engine.Metrics, error) {
	m, err := engine.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "wasmflow", Name: "queue_depth",
			Help: "Node runs waiting in the queue (delayed retries included).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, err := q.Depth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "wasmflow", Name: "compile_cache_hits_total",
			Help: "Node runs whose compiled module was in memory.",
		}, func() float64 { return float64(rt.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "wasmflow", Name: "compile_cache_misses_total",
			Help: "Node runs that compiled their module (from wazero's disk cache when it holds it).",
		}, func() float64 { return float64(rt.Stats().Misses) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
