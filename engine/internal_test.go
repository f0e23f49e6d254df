package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	require.Equal(t, "engine: the execution has finished already", (&Error{Code: CodeFinished, Message: "the execution has finished already"}).Error())
}
