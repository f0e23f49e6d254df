package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/queue"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestTruthy(t *testing.T) {
	t.Parallel()
	for v, want := range map[any]bool{
		nil: false, true: true, false: false, "": false, " ": false, "false": false, "FALSE": false, "0": false,
		"yes": true, 0.0: false, 2.5: true, 0: false, 3: true, json.Number("0"): false, json.Number("1e3"): true,
		json.Number("x"): true, struct{}{}: true,
	} {
		require.Equal(t, want, truthy(v), "%#v", v)
	}
	require.False(t, truthy([]any{}))
	require.True(t, truthy([]any{1}))
	require.False(t, truthy(map[string]any{}))
	require.True(t, truthy(map[string]any{"a": 1}))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	require.Zero(t, backoff(nil, 1))
	require.Zero(t, backoff(&workflow.Retry{MaxAttempts: 3}, 1))
	r := &workflow.Retry{MaxAttempts: 5, BackoffMS: 100}
	require.Equal(t, 100*time.Millisecond, backoff(r, 1))
	require.Equal(t, 200*time.Millisecond, backoff(r, 2))
	require.Equal(t, 400*time.Millisecond, backoff(r, 3))
	require.Equal(t, time.Hour, backoff(&workflow.Retry{BackoffMS: 1 << 30}, 40), "capped at an hour")
}

func TestAttemptsInRound(t *testing.T) {
	t.Parallel()
	retried := json.RawMessage(`{"kind":"trap","message":"x","retry_at":"2026-01-01T00:00:00Z"}`)
	final := json.RawMessage(`{"kind":"trap","message":"x"}`)
	runs := []*store.NodeRun{
		{Node: "a", Attempt: 1, Status: store.RunFailed, Error: retried},
		{Node: "a", Attempt: 2, Status: store.RunFailed, Error: final},   // failed the execution
		{Node: "a", Attempt: 3, Status: store.RunFailed, Error: retried}, // after a retry-from-failed
		{Node: "a", Attempt: 4, Status: store.RunRunning},
		{Node: "b", Attempt: 1, Status: store.RunFailed, Error: retried},
	}
	require.Equal(t, 2, attemptsInRound(runs, runs[3]), "attempts 3 and 4: the round began after the final failure")
	require.Equal(t, 2, attemptsInRound(runs, runs[1]))
	require.Equal(t, 1, attemptsInRound(runs, runs[0]))
}

func TestOutputPorts(t *testing.T) {
	t.Parallel()
	o, err := decodeOutput(json.RawMessage(`{"outputs": {"true": [{"a": 1}], "false": [{"b": 2}]}}`))
	require.NoError(t, err)
	require.Equal(t, []workflow.Item{{"b": 2.0}, {"a": 1.0}}, o.all(), "ports in name order")
	require.Nil(t, o.port(workflow.PortMain))
	o, err = decodeOutput(json.RawMessage(`{"items": [{"a": 1}]}`))
	require.NoError(t, err)
	require.Equal(t, o.Items, o.all())
	require.Nil(t, o.port("other"))
	_, err = decodeOutput(json.RawMessage(`[`))
	require.Error(t, err)
	o, err = decodeOutput(nil)
	require.NoError(t, err)
	require.Empty(t, o.all())
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.ErrorContains(t, err, "Store is required")
	// New only checks the dependencies are there: empty implementations do.
	var (
		st   Store       = &struct{ Store }{}
		q    queue.Queue = &struct{ queue.Queue }{}
		mods Modules     = &struct{ Modules }{}
		rt   Runtime     = &struct{ Runtime }{}
	)
	for want, cfg := range map[string]Config{
		"Queue is required":    {Store: st},
		"Modules is required":  {Store: st, Queue: q},
		"Runtime is required":  {Store: st, Queue: q, Modules: mods},
		"must not be negative": {Store: st, Queue: q, Modules: mods, Runtime: rt, LeaseDuration: -time.Second},
	} {
		_, err := New(cfg)
		require.ErrorContains(t, err, want)
	}
	e, err := New(Config{Store: st, Queue: q, Modules: mods, Runtime: rt})
	require.NoError(t, err)
	require.Equal(t, DefaultLeaseDuration, e.lease)
	require.Equal(t, DefaultReconcileInterval, e.reconcileEvery)
	require.Equal(t, "engine: the execution has finished already", (&Error{Code: CodeFinished, Message: "the execution has finished already"}).Error())
}

func TestRedeliveryDue(t *testing.T) {
	t.Parallel()
	const after = time.Second
	// offers lists the ages at which passes every step offer an entry, up
	// to age end.
	offers := func(step, end time.Duration) []time.Duration {
		var out []time.Duration
		for age := step; age <= end; age += step {
			since := step
			if age == step {
				since = 0
			}
			if redeliveryDue(age, since, after) {
				out = append(out, age)
			}
		}
		return out
	}
	s := time.Second
	require.Equal(t, []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 26 * s, 36 * s, 46 * s, 56 * s}, offers(s, time.Minute))
	require.Equal(t, []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 26 * s, 36 * s, 46 * s, 56 * s},
		offers(100*time.Millisecond, time.Minute), "the same points, whatever the pass interval")
	require.Equal(t, []time.Duration{7 * s, 14 * s, 21 * s, 28 * s, 42 * s, 49 * s, 56 * s}, offers(7*s, time.Minute),
		"passes about as far apart as the points: each pass that crossed one (none between 28 s and 35 s)")
	require.Equal(t, []time.Duration{20 * s, 40 * s, 60 * s}, offers(20*s, time.Minute),
		"passes further apart than the points: every pass")
	require.False(t, redeliveryDue(999*time.Millisecond, 0, after), "younger than RedeliverAfter")
	require.True(t, redeliveryDue(time.Hour, 0, after), "the first pass offers every entry due")
	require.True(t, redeliveryDue(1500*time.Millisecond, time.Second, after), "a pass that crossed RedeliverAfter")
	require.False(t, redeliveryDue(3*time.Second, 500*time.Millisecond, after), "between 2 s and 4 s")
	require.True(t, redeliveryDue(time.Minute, time.Minute, after), "a pass long after the last")
}

// The LRU forgets the least recently used entry, and a put of a known key
// refreshes it.
func TestLRU(t *testing.T) {
	t.Parallel()
	c := newLRU[string, int](2)
	c.put("a", 1)
	c.put("b", 2)
	_, _ = c.get("a") // a is now the most recent
	c.put("c", 3)     // evicts b
	_, ok := c.get("b")
	require.False(t, ok)
	c.put("a", 10) // refresh
	c.put("d", 4)  // evicts c
	v, ok := c.get("a")
	require.True(t, ok)
	require.Equal(t, 10, v)
	_, ok = c.get("c")
	require.False(t, ok)
}
