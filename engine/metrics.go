package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmflow/wasmflow/workflow"
)

// Metrics counts what the engine does, for Prometheus. A nil *Metrics counts
// nothing.
type Metrics struct {
	executions *prometheus.CounterVec
	nodeRuns   *prometheus.HistogramVec
	reconciler *prometheus.CounterVec
	duplicates prometheus.Counter
	triggers   *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wasmflow", Name: "executions_total",
			Help: "Executions started (status=\"started\") and finished, by final status.",
		}, []string{"status"}),
		nodeRuns: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "wasmflow", Name: "node_run_duration_seconds",
			Help:    "Wall time of node runs, by module (or core type) and outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"module", "status"}),
		reconciler: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wasmflow", Name: "reconciler_actions_total",
			Help: "What the reconciler did: lease_expired, outbox_redelivered, execution_timeout, pruned.",
		}, []string{"action"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "wasmflow", Name: "duplicate_deliveries_total",
			Help: "Tasks delivered for runs that were not queued (duplicates, no-ops).",
		}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wasmflow", Name: "trigger_events_total",
			Help: "What the engine's triggers did: kind schedule (fired, skipped, failed) and error_workflow (started, failed).",
		}, []string{"kind", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.executions, m.nodeRuns, m.reconciler, m.duplicates, m.triggers} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) executionStarted() {
	if m != nil {
		m.executions.WithLabelValues("started").Inc()
	}
}

func (m *Metrics) executionFinished(status string) {
	if m != nil {
		m.executions.WithLabelValues(status).Inc()
	}
}

func (m *Metrics) nodeRun(n *workflow.Node, status string, d time.Duration) {
	if m == nil || n == nil {
		return
	}
	label := n.Type
	if n.IsModule() {
		label, _ = n.ModuleRef()
	}
	if status == "" {
		status = "failed"
	}
	m.nodeRuns.WithLabelValues(label, status).Observe(d.Seconds())
}

func (m *Metrics) reconciled(action string, n int) {
	if m != nil {
		m.reconciler.WithLabelValues(action).Add(float64(n))
	}
}

func (m *Metrics) duplicateDelivery() {
	if m != nil {
		m.duplicates.Inc()
	}
}

func (m *Metrics) trigger(kind, outcome string) {
	if m != nil {
		m.triggers.WithLabelValues(kind, outcome).Inc()
	}
}
