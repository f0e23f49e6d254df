package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
)

// node is one node of a graph that insertGraph stores: it waits for
// parents runs to finish (pending), or is queued when it has none.
type node struct {
	name    string
	parents int
}

// insertGraph inserts an execution of w with one first run per node, and
// returns it with its runs by node name.
func insertGraph(t testing.TB, s store.Store, tenant string, w *store.Workflow, deadline *time.Time, nodes ...node) (*store.Execution, map[string]*store.NodeRun) {
	t.Helper()
	in := make([]*store.NodeRun, len(nodes))
	for i, n := range nodes {
		in[i] = &store.NodeRun{Node: n.name, Pending: n.parents, Status: store.RunPending}
		if n.parents == 0 {
			in[i].Status = store.RunQueued
		}
	}
	ex, rs, err := s.ExecutionInsert(t.Context(), tenant, &store.ExecutionInsertParams{
		WorkflowID: w.ID, WorkflowVersion: w.Version, Trigger: "manual", DeadlineAt: deadline, Runs: in})
	require.NoError(t, err)
	return ex, byNode(rs)
}

// byNode maps runs by node name; a later attempt replaces an earlier one.
func byNode(rs []*store.NodeRun) map[string]*store.NodeRun {
	out := map[string]*store.NodeRun{}
	for _, r := range rs {
		if prev := out[r.Node]; prev == nil || r.Attempt > prev.Attempt {
			out[r.Node] = r
		}
	}
	return out
}

// latestRuns reads an execution's runs, the latest attempt by node name.
func latestRuns(t testing.TB, s store.Store, tenant, executionID string) map[string]*store.NodeRun {
	t.Helper()
	rs, err := s.NodeRunList(t.Context(), tenant, executionID)
	require.NoError(t, err)
	return byNode(rs)
}

// claim claims a run with a lease a minute long.
func claim(t testing.TB, s store.Store, tenant string, r *store.NodeRun) *store.NodeRun {
	t.Helper()
	return claimUntil(t, s, tenant, r, time.Now().Add(time.Minute))
}

func claimUntil(t testing.TB, s store.Store, tenant string, r *store.NodeRun, lease time.Time) *store.NodeRun {
	t.Helper()
	got, err := s.RunClaim(t.Context(), tenant, r.ID, lease)
	require.NoError(t, err)
	return got
}

// finish finishes a claimed run with p (Status defaults to succeeded).
func finish(t testing.TB, s store.Store, tenant string, r *store.NodeRun, p store.RunFinishParams) *store.RunFinishResult {
	t.Helper()
	p.RunID, p.ClaimToken = r.ID, r.ClaimToken
	if p.Status == "" {
		p.Status = store.RunSucceeded
	}
	res, err := s.RunFinish(t.Context(), tenant, &p)
	require.NoError(t, err)
	require.NotNil(t, res.Execution)
	return res
}

func release(nodes ...string) []store.ChildRelease {
	out := make([]store.ChildRelease, len(nodes))
	for i, n := range nodes {
		out[i] = store.ChildRelease{Node: n}
	}
	return out
}

// allOutbox lists every outbox entry of the store, oldest first.
func allOutbox(t testing.TB, s store.Store) []*store.OutboxEntry {
	t.Helper()
	far := time.Now().Add(24 * time.Hour)
	entries, err := s.OutboxDue(t.Context(), far, far, 10_000)
	require.NoError(t, err)
	return entries
}

// outboxRuns lists the run ids of an execution's outbox entries, sorted.
func outboxRuns(t testing.TB, s store.Store, executionID string) []string {
	t.Helper()
	var out []string
	for _, e := range allOutbox(t, s) {
		if e.ExecutionID == executionID {
			out = append(out, e.RunID)
		}
	}
	slices.Sort(out)
	return out
}

func entryRuns(entries []*store.OutboxEntry) []string {
	out := keys(entries, func(e *store.OutboxEntry) string { return e.RunID })
	slices.Sort(out)
	return out
}

func runIDs(rs ...*store.NodeRun) []string {
	out := keys(rs, func(r *store.NodeRun) string { return r.ID })
	slices.Sort(out)
	return out
}

// requireEntry checks an outbox entry written for run r.
func requireEntry(t testing.TB, r *store.NodeRun, e *store.OutboxEntry) {
	t.Helper()
	require.Equal(t, r.ID, e.RunID)
	require.Equal(t, r.TenantID, e.TenantID)
	require.Equal(t, r.ExecutionID, e.ExecutionID)
	require.Equal(t, r.Node, e.Node)
	require.Equal(t, r.Attempt, e.Attempt)
	recent(t, e.CreatedAt)
	sameTime(t, e.AvailableAt, e.AvailableAt)
}

// requireExecution checks that an execution returned by a transition is
// the stored one.
func requireExecution(t testing.TB, s store.Store, want *store.Execution) {
	t.Helper()
	got, err := s.ExecutionGet(t.Context(), want.TenantID, want.ID)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

var (
	errTimeout = json.RawMessage(`{"kind": "timeout", "message": "the execution took too long"}`)
	errNode    = json.RawMessage(`{"kind": "node", "node": "a", "message": "boom"}`)
)

func runCases() []testCase {
	return []testCase{
		{"ExecutionInsertOutboxAndDeadline", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			deadline := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 5*3600))
			ex, rs := insertGraph(t, s, tenant, w, &deadline, node{"a", 0}, node{"b", 0}, node{"c", 2})
			sameTime(t, deadline, *ex.DeadlineAt)
			requireExecution(t, s, ex)

			entries := allOutbox(t, s)
			require.Equal(t, runIDs(rs["a"], rs["b"]), entryRuns(entries), "queued runs get an outbox entry, pending ones not")
			for _, e := range entries {
				requireEntry(t, byNode([]*store.NodeRun{rs["a"], rs["b"]})[e.Node], e)
				require.Equal(t, ex.CreatedAt, e.CreatedAt)
				require.Equal(t, ex.CreatedAt, e.AvailableAt, "available at once")
			}

			none, _ := insertGraph(t, s, tenant, w, nil, node{"a", 1})
			require.Nil(t, none.DeadlineAt)
			requireExecution(t, s, none)
			require.Empty(t, outboxRuns(t, s, none.ID))
		}},
		{"RunClaim", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0}, node{"c", 1})

			lease := time.Date(2030, 1, 2, 3, 4, 5, 999, time.FixedZone("X", -7*3600))
			got, err := s.RunClaim(ctx, tenant, rs["a"].ID, lease)
			require.NoError(t, err)
			require.Equal(t, store.RunRunning, got.Status)
			require.NotEmpty(t, got.ClaimToken)
			sameTime(t, lease, *got.LeaseUntil)
			recent(t, *got.StartedAt)
			want := *rs["a"]
			want.Status, want.ClaimToken, want.LeaseUntil, want.StartedAt = got.Status, got.ClaimToken, got.LeaseUntil, got.StartedAt
			require.Equal(t, &want, got, "a claim changes nothing else")
			require.Equal(t, got, latestRuns(t, s, tenant, ex.ID)["a"])

			running, err := s.ExecutionGet(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, store.ExecutionRunning, running.Status, "the first claim starts the execution")
			require.Equal(t, got.StartedAt, running.StartedAt)

			gotB := claim(t, s, tenant, rs["b"])
			require.NotEqual(t, got.ClaimToken, gotB.ClaimToken, "every claim has a token of its own")
			requireExecution(t, s, running) // started once

			for name, id := range map[string]string{"claimed": rs["a"].ID, "pending": rs["c"].ID} {
				_, err = s.RunClaim(ctx, tenant, id, lease)
				require.ErrorIs(t, err, store.ErrConflict, name)
			}
			_, err = s.RunClaim(ctx, other, rs["c"].ID, lease)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's run")
			_, err = s.RunClaim(ctx, tenant, "nr_missing", lease)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.Equal(t, got, latestRuns(t, s, tenant, ex.ID)["a"], "a failed claim changes nothing")
		}},
		{"RunClaimAfterCancel", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0})
			claim(t, s, tenant, rs["b"])
			_, err := s.ExecutionCancel(t.Context(), tenant, ex.ID)
			require.NoError(t, err)
			_, err = s.RunClaim(t.Context(), tenant, rs["a"].ID, time.Now().Add(time.Minute))
			require.ErrorIs(t, err, store.ErrConflict)
			require.Equal(t, store.RunCancelled, latestRuns(t, s, tenant, ex.ID)["a"].Status)

			// A queued run of a finished execution is not claimable either.
			ex2, rs2 := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			_, err = s.ExecutionCancel(t.Context(), tenant, ex2.ID)
			require.NoError(t, err)
			_, err = s.RunClaim(t.Context(), tenant, rs2["a"].ID, time.Now().Add(time.Minute))
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"RunExtendLease", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0})
			r := claim(t, s, tenant, rs["a"])

			later := time.Now().Add(time.Hour)
			require.NoError(t, s.RunExtendLease(ctx, tenant, r.ID, r.ClaimToken, later))
			got := latestRuns(t, s, tenant, ex.ID)["a"]
			sameTime(t, later, *got.LeaseUntil)
			require.Equal(t, store.RunRunning, got.Status)

			muchLater := later.Add(time.Hour)
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, r.ID, "not-the-token", muchLater), store.ErrConflict)
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, r.ID, "", muchLater), store.ErrConflict)
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, rs["b"].ID, "", muchLater), store.ErrConflict, "a queued run")
			require.ErrorIs(t, s.RunExtendLease(ctx, other, r.ID, r.ClaimToken, muchLater), store.ErrNotFound)
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, "nr_missing", r.ClaimToken, muchLater), store.ErrNotFound)
			sameTime(t, later, *latestRuns(t, s, tenant, ex.ID)["a"].LeaseUntil)

			finish(t, s, tenant, r, store.RunFinishParams{})
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, r.ID, r.ClaimToken, muchLater), store.ErrConflict,
				"a finished run's claim is over")
		}},
		{"RunFinishWrongToken", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 1})
			r := claim(t, s, tenant, rs["a"])
			runsBefore, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			exBefore, err := s.ExecutionGet(ctx, tenant, ex.ID)
			require.NoError(t, err)
			outboxBefore := allOutbox(t, s)

			p := func(token string) *store.RunFinishParams {
				return &store.RunFinishParams{RunID: r.ID, ClaimToken: token, Status: store.RunSucceeded,
					Output: json.RawMessage(`{"x": 1}`), Release: release("b"), FailExecution: errNode}
			}
			_, err = s.RunFinish(ctx, tenant, p("not-the-token"))
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = s.RunFinish(ctx, tenant, p(""))
			require.ErrorIs(t, err, store.ErrConflict)
			_, err = s.RunFinish(ctx, other, p(r.ClaimToken))
			require.ErrorIs(t, err, store.ErrNotFound)
			missing := p(r.ClaimToken)
			missing.RunID = "nr_missing"
			_, err = s.RunFinish(ctx, tenant, missing)
			require.ErrorIs(t, err, store.ErrNotFound)

			runsAfter, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, runsBefore, runsAfter, "nothing is stored")
			requireExecution(t, s, exBefore)
			require.Equal(t, outboxBefore, allOutbox(t, s))

			res := finish(t, s, tenant, r, store.RunFinishParams{Release: release("b")})
			require.Len(t, res.Queued, 1)
			runsBefore, err = s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			_, err = s.RunFinish(ctx, tenant, p(r.ClaimToken))
			require.ErrorIs(t, err, store.ErrConflict, "a claim finishes its run once")
			runsAfter, err = s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, runsBefore, runsAfter)
		}},
		{"RunFinishInvalid", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			r := claim(t, s, tenant, rs["a"])
			for _, p := range []store.RunFinishParams{
				{Status: ""}, {Status: store.RunRunning}, {Status: store.RunCancelled},
				{Status: store.RunSucceeded, Output: json.RawMessage(`{`)},
				{Status: store.RunFailed, Logs: json.RawMessage(`nope`)},
				{Status: store.RunFailed, Error: json.RawMessage(`[`)},
				{Status: store.RunSucceeded, HostCalls: json.RawMessage(`[{"kind": "secret_read"`)},
				{Status: store.RunFailed, FailExecution: json.RawMessage(`{"a"`)},
			} {
				p.RunID, p.ClaimToken = r.ID, r.ClaimToken
				_, err := s.RunFinish(t.Context(), tenant, &p)
				require.Error(t, err, "%+v", p)
			}
			require.Equal(t, r, latestRuns(t, s, tenant, ex.ID)["a"])
		}},
		{"RunFinishDiamond", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			// a → b, a → c, b → d, c → d
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 1}, node{"c", 1}, node{"d", 2})
			ra := claim(t, s, tenant, rs["a"])
			require.NoError(t, s.OutboxDelete(ctx, tenant, ra.ID))

			res := finish(t, s, tenant, ra, store.RunFinishParams{Output: json.RawMessage(`{"n": 1}`),
				Logs: json.RawMessage(`["hello"]`), InputSize: 42, Release: release("b", "c")})
			require.Equal(t, store.ExecutionRunning, res.Execution.Status)
			requireExecution(t, s, res.Execution)
			require.Equal(t, runIDs(rs["b"], rs["c"]), entryRuns(res.Queued))
			for _, e := range res.Queued {
				requireEntry(t, rs[e.Node], e)
				require.Equal(t, e.CreatedAt, e.AvailableAt)
			}
			require.Equal(t, entryRuns(res.Queued), outboxRuns(t, s, ex.ID))

			now := latestRuns(t, s, tenant, ex.ID)
			a := now["a"]
			require.Equal(t, store.RunSucceeded, a.Status)
			require.JSONEq(t, `{"n": 1}`, string(a.Output))
			require.JSONEq(t, `["hello"]`, string(a.Logs))
			require.Nil(t, a.Error)
			require.Equal(t, int64(42), a.InputSize)
			recent(t, *a.FinishedAt)
			require.Nil(t, a.LeaseUntil)
			require.Empty(t, a.ClaimToken)
			require.Equal(t, ra.StartedAt, a.StartedAt)
			for _, n := range []string{"b", "c"} {
				require.Equal(t, store.RunQueued, now[n].Status, n)
				require.Zero(t, now[n].Pending, n)
			}
			require.Equal(t, store.RunPending, now["d"].Status)
			require.Equal(t, 2, now["d"].Pending)

			rb := claim(t, s, tenant, now["b"])
			res = finish(t, s, tenant, rb, store.RunFinishParams{Release: release("d")})
			require.Empty(t, res.Queued, "d still waits for c")
			require.Equal(t, store.ExecutionRunning, res.Execution.Status)
			d := latestRuns(t, s, tenant, ex.ID)["d"]
			require.Equal(t, store.RunPending, d.Status)
			require.Equal(t, 1, d.Pending)

			rc := claim(t, s, tenant, now["c"])
			res = finish(t, s, tenant, rc, store.RunFinishParams{Status: store.RunSkipped, Release: release("d")})
			require.Len(t, res.Queued, 1)
			requireEntry(t, rs["d"], res.Queued[0])
			require.Equal(t, store.ExecutionRunning, res.Execution.Status)
			d = latestRuns(t, s, tenant, ex.ID)["d"]
			require.Equal(t, store.RunQueued, d.Status)
			require.Zero(t, d.Pending)
			require.Equal(t, store.RunSkipped, latestRuns(t, s, tenant, ex.ID)["c"].Status)

			rd := claim(t, s, tenant, d)
			res = finish(t, s, tenant, rd, store.RunFinishParams{})
			require.Empty(t, res.Queued)
			require.Equal(t, store.ExecutionSucceeded, res.Execution.Status, "the last run ends the execution")
			recent(t, *res.Execution.FinishedAt)
			require.Nil(t, res.Execution.Error)
			requireExecution(t, s, res.Execution)
		}},
		{"RunFinishHostCalls", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0}, node{"c", 0}, node{"x", 0})
			ra := claim(t, s, tenant, rs["a"])
			require.Nil(t, ra.HostCalls, "none before the run finishes")

			failed := json.RawMessage(`[{"kind": "secret_read", "name": "token", "secret": "slack-prod", "via": "secret_get"},
				{"kind": "http", "method": "POST", "host": "hooks.slack.com", "status": 503, "error": "\u0000 ünïcødé"}]`)
			res := finish(t, s, tenant, ra, store.RunFinishParams{Status: store.RunFailed, Error: errNode,
				HostCalls: failed, Retry: &store.RunRetry{AvailableAt: time.Now()}})
			next := &store.NodeRun{ID: res.Queued[0].RunID}
			finish(t, s, tenant, claim(t, s, tenant, rs["b"]), store.RunFinishParams{Output: json.RawMessage(`{}`)})
			finish(t, s, tenant, claim(t, s, tenant, rs["c"]), store.RunFinishParams{HostCalls: json.RawMessage{}})

			list, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Len(t, list, 5)
			now := byNode(list)
			require.JSONEq(t, string(failed), string(list[0].HostCalls), "stored with the outcome")
			require.Equal(t, 2, now["a"].Attempt)
			require.Nil(t, now["a"].HostCalls, "the next attempt starts with none")
			require.Nil(t, now["b"].HostCalls, "a run that made no call has none")
			require.Nil(t, now["c"].HostCalls, "an empty document is none")
			require.Nil(t, now["x"].HostCalls)

			// Each attempt keeps its own calls.
			ok := json.RawMessage(`[{"kind": "secret_read", "name": "token", "secret": "slack-prod", "via": "secret_get"}]`)
			finish(t, s, tenant, claim(t, s, tenant, next), store.RunFinishParams{HostCalls: ok})
			list, err = s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.JSONEq(t, string(failed), string(list[0].HostCalls))
			require.JSONEq(t, string(ok), string(byNode(list)["a"].HostCalls))

			// A run cancelled while it ran still records what it did.
			rx := claim(t, s, tenant, rs["x"])
			_, err = s.ExecutionCancel(ctx, tenant, ex.ID)
			require.NoError(t, err)
			cancelled := json.RawMessage(`[{"kind": "http", "method": "GET", "host": "example.com", "status": 200}]`)
			finish(t, s, tenant, rx, store.RunFinishParams{HostCalls: cancelled})
			require.JSONEq(t, string(cancelled), string(latestRuns(t, s, tenant, ex.ID)["x"].HostCalls))

			// Runs inserted with calls keep them, as every other document.
			in := runs(2)
			in[0].HostCalls = json.RawMessage(`[]`)
			_, inserted, err := s.ExecutionInsert(ctx, tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: w.Version, Runs: in})
			require.NoError(t, err)
			require.JSONEq(t, `[]`, string(inserted[0].HostCalls))
			require.Nil(t, inserted[1].HostCalls)
			list, err = s.NodeRunList(ctx, tenant, inserted[0].ExecutionID)
			require.NoError(t, err)
			require.Equal(t, inserted, list)
			in[0].HostCalls = json.RawMessage(`[`)
			_, _, err = s.ExecutionInsert(ctx, tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: w.Version, Runs: in})
			require.Error(t, err)
		}},
		{"RunFinishConcurrentRelease", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			const rounds, parents = 20, 8
			for range rounds {
				nodes := []node{{"join", parents}}
				for i := range parents {
					nodes = append(nodes, node{fmt.Sprintf("p%d", i), 0})
				}
				ex, rs := insertGraph(t, s, tenant, w, nil, nodes...)
				claimed := make([]*store.NodeRun, parents)
				for i := range parents {
					claimed[i] = claim(t, s, tenant, rs[fmt.Sprintf("p%d", i)])
				}
				results := finishAll(t, s, tenant, claimed, store.RunFinishParams{Release: release("join")})
				var queued []*store.OutboxEntry
				for _, res := range results {
					queued = append(queued, res.Queued...)
					require.Equal(t, store.ExecutionRunning, res.Execution.Status)
				}
				require.Len(t, queued, 1, "the merge is queued exactly once, by the last parent")
				requireEntry(t, rs["join"], queued[0])
				join := latestRuns(t, s, tenant, ex.ID)["join"]
				require.Equal(t, store.RunQueued, join.Status)
				require.Zero(t, join.Pending)

				res := finish(t, s, tenant, claim(t, s, tenant, join), store.RunFinishParams{})
				require.Equal(t, store.ExecutionSucceeded, res.Execution.Status)
			}
		}},
		{"RunFinishConcurrentLast", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			const rounds, last = 30, 6
			for round := range rounds {
				var nodes []node
				for i := range last {
					nodes = append(nodes, node{fmt.Sprintf("n%d", i), 0})
				}
				ex, rs := insertGraph(t, s, tenant, w, nil, nodes...)
				claimed := make([]*store.NodeRun, 0, last)
				for _, r := range rs {
					claimed = append(claimed, claim(t, s, tenant, r))
				}
				results := finishAll(t, s, tenant, claimed, store.RunFinishParams{})
				succeeded := 0
				for _, res := range results {
					require.Empty(t, res.Queued)
					if res.Execution.Status == store.ExecutionSucceeded {
						succeeded++
						requireExecution(t, s, res.Execution)
					} else {
						require.Equal(t, store.ExecutionRunning, res.Execution.Status)
					}
				}
				require.Equal(t, 1, succeeded, "round %d: exactly one finish ends the execution", round)
				got, err := s.ExecutionGet(t.Context(), tenant, ex.ID)
				require.NoError(t, err)
				require.Equal(t, store.ExecutionSucceeded, got.Status)
			}
		}},
		{"RunTransitionsConcurrent", func(t *testing.T, s store.Store) {
			// Workers claim and finish runs (some hand their run back once
			// first) while the execution is cancelled or fails its deadline
			// and leases are requeued, all at once: every transition
			// succeeds or is ErrConflict (never a deadlock), and the
			// execution ends with nothing left open.
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			const rounds, parents = 12, 5
			for round := range rounds {
				deadline := time.Now().Add(time.Hour)
				if round%2 == 1 {
					deadline = time.Now().Add(-time.Second)
				}
				nodes := []node{{"join", parents}}
				for i := range parents {
					nodes = append(nodes, node{fmt.Sprintf("p%d", i), 0})
				}
				ex, rs := insertGraph(t, s, tenant, w, &deadline, nodes...)
				ctx := t.Context()
				var (
					mu   sync.Mutex
					errs []error
				)
				check := func(err error) bool {
					if err != nil && !errors.Is(err, store.ErrConflict) {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
					return err == nil
				}
				work := func(r *store.NodeRun, lease time.Time, handBack bool) {
					for r != nil {
						c, err := s.RunClaim(ctx, tenant, r.ID, lease)
						if !check(err) {
							return
						}
						if handBack {
							handBack = false
							if _, err := s.RunRelease(ctx, tenant, c.ID, c.ClaimToken); !check(err) {
								return
							}
							continue // and claim it again
						}
						res, err := s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: c.ID, ClaimToken: c.ClaimToken,
							Status: store.RunSucceeded, Release: release("join")})
						if !check(err) || len(res.Queued) == 0 {
							return
						}
						r = &store.NodeRun{ID: res.Queued[0].RunID}
					}
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range parents {
					lease := time.Now().Add(time.Minute)
					if i%2 == 0 {
						lease = time.Now().Add(-time.Minute) // expired at once: requeue races the finish
					}
					wg.Go(func() { <-start; work(rs[fmt.Sprintf("p%d", i)], lease, i%3 == 1) })
				}
				wg.Go(func() {
					<-start
					_, err := s.ExecutionCancel(ctx, tenant, ex.ID)
					check(err)
				})
				wg.Go(func() {
					<-start
					_, err := s.RunRequeueExpired(ctx, time.Now(), 100)
					check(err)
					_, err = s.ExecutionFailExpired(ctx, time.Now(), errTimeout, 100)
					check(err)
					_, err = s.RunRequeueExpired(ctx, time.Now(), 100)
					check(err)
				})
				close(start)
				wg.Wait()
				require.NoError(t, errors.Join(errs...), "round %d", round)

				got, err := s.ExecutionGet(ctx, tenant, ex.ID)
				require.NoError(t, err)
				require.Contains(t, []string{store.ExecutionSucceeded, store.ExecutionCancelled, store.ExecutionFailed}, got.Status)
				list, err := s.NodeRunList(ctx, tenant, ex.ID)
				require.NoError(t, err)
				for _, r := range list {
					require.NotContains(t, []string{store.RunPending, store.RunQueued, store.RunRunning}, r.Status,
						"round %d: run %s of a %s execution", round, r.Node, got.Status)
				}
				if got.Status != store.ExecutionSucceeded {
					require.Empty(t, outboxRuns(t, s, ex.ID), "round %d", round)
				}
			}
		}},
		{"RunFinishRetry", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 1})
			ra := claim(t, s, tenant, rs["a"])
			require.NoError(t, s.OutboxDelete(ctx, tenant, ra.ID))

			at := time.Now().Add(time.Hour)
			res := finish(t, s, tenant, ra, store.RunFinishParams{Status: store.RunFailed, Error: errNode, InputSize: 7,
				Retry: &store.RunRetry{AvailableAt: at}, Release: release("b")})
			require.Equal(t, store.ExecutionRunning, res.Execution.Status)
			require.Len(t, res.Queued, 1)
			e := res.Queued[0]
			sameTime(t, at, e.AvailableAt)
			recent(t, e.CreatedAt)

			list, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Len(t, list, 3)
			first, b, next := list[0], list[1], list[2]
			require.Equal(t, store.RunFailed, first.Status)
			require.JSONEq(t, string(errNode), string(first.Error))
			require.Equal(t, int64(7), first.InputSize)
			require.Equal(t, store.RunPending, b.Status, "a retried run releases no child")
			require.Equal(t, 1, b.Pending)
			require.Regexp(t, `^nr_[0-9a-z]{26}$`, next.ID)
			require.Equal(t, "a", next.Node)
			require.Equal(t, 2, next.Attempt)
			require.Equal(t, store.RunQueued, next.Status)
			require.Zero(t, next.Pending)
			require.Zero(t, next.InputSize)
			require.Nil(t, next.Output)
			require.Nil(t, next.StartedAt)
			require.Empty(t, next.ClaimToken)
			require.Equal(t, e.CreatedAt, next.CreatedAt)
			requireEntry(t, next, e)

			due, err := s.OutboxDue(ctx, time.Now().Add(time.Minute), time.Now(), 100)
			require.NoError(t, err)
			require.Empty(t, due, "the retry is not due before its backoff")
			due, err = s.OutboxDue(ctx, time.Now().Add(time.Minute), at, 100)
			require.NoError(t, err)
			require.Equal(t, []*store.OutboxEntry{e}, due)

			// The second attempt succeeds and releases b.
			res = finish(t, s, tenant, claim(t, s, tenant, next), store.RunFinishParams{Release: release("b")})
			require.Len(t, res.Queued, 1)
			requireEntry(t, b, res.Queued[0])
			res = finish(t, s, tenant, claim(t, s, tenant, b), store.RunFinishParams{})
			require.Equal(t, store.ExecutionSucceeded, res.Execution.Status)
		}},
		{"RunFinishFailExecution", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			other, otherRuns := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0}, node{"c", 1}, node{"q", 0})
			ra, rb := claim(t, s, tenant, rs["a"]), claim(t, s, tenant, rs["b"])

			res := finish(t, s, tenant, ra, store.RunFinishParams{Status: store.RunFailed, Error: errNode,
				FailExecution: errNode, Release: release("c"), Retry: &store.RunRetry{AvailableAt: time.Now()}})
			require.Empty(t, res.Queued, "a failed execution queues nothing")
			require.Equal(t, store.ExecutionFailed, res.Execution.Status)
			require.JSONEq(t, string(errNode), string(res.Execution.Error))
			recent(t, *res.Execution.FinishedAt)
			requireExecution(t, s, res.Execution)

			list, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Len(t, list, 4, "no retry")
			now := byNode(list)
			require.Equal(t, store.RunFailed, now["a"].Status)
			for _, n := range []string{"b", "c", "q"} {
				require.Equal(t, store.RunCancelled, now[n].Status, n)
				require.Equal(t, res.Execution.FinishedAt, now[n].FinishedAt, n)
				require.Nil(t, now[n].LeaseUntil, n)
			}
			require.Equal(t, 1, now["c"].Pending, "c was not released")
			require.Empty(t, outboxRuns(t, s, ex.ID), "the execution's outbox entries are gone")
			require.Equal(t, []string{otherRuns["a"].ID}, outboxRuns(t, s, other.ID), "another execution's stay")

			// b's worker learns that its run was cancelled, and may still
			// record what it did; that causes nothing.
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, rb.ID, rb.ClaimToken, time.Now().Add(time.Hour)), store.ErrConflict)
			res = finish(t, s, tenant, rb, store.RunFinishParams{Output: json.RawMessage(`{"done": true}`),
				Release: release("c"), FailExecution: errTimeout})
			require.Empty(t, res.Queued)
			require.Equal(t, store.ExecutionFailed, res.Execution.Status)
			require.JSONEq(t, string(errNode), string(res.Execution.Error), "the first failure stays")
			requireExecution(t, s, res.Execution)
			b := latestRuns(t, s, tenant, ex.ID)["b"]
			require.Equal(t, store.RunSucceeded, b.Status)
			require.JSONEq(t, `{"done": true}`, string(b.Output))
			require.Empty(t, b.ClaimToken)
			require.Equal(t, store.RunCancelled, latestRuns(t, s, tenant, ex.ID)["c"].Status)
			_, err = s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: rb.ID, ClaimToken: rb.ClaimToken, Status: store.RunSucceeded})
			require.ErrorIs(t, err, store.ErrConflict)

			// A queued run that was cancelled has no claim to finish with.
			_, err = s.RunClaim(ctx, tenant, rs["q"].ID, time.Now().Add(time.Minute))
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"RunFinishAfterCancel", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"x", 0}, node{"b", 1})
			ra, rx := claim(t, s, tenant, rs["a"]), claim(t, s, tenant, rs["x"])
			cancelled, err := s.ExecutionCancel(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, ra.ID, ra.ClaimToken, time.Now().Add(time.Hour)), store.ErrConflict,
				"the worker learns of the cancellation")

			res := finish(t, s, tenant, ra, store.RunFinishParams{Output: json.RawMessage(`{"sent": 1}`), Release: release("b")})
			require.Empty(t, res.Queued, "nothing is released")
			require.Equal(t, cancelled, res.Execution)
			res = finish(t, s, tenant, rx, store.RunFinishParams{Status: store.RunFailed, Error: errNode,
				FailExecution: errNode, Retry: &store.RunRetry{AvailableAt: time.Now()}})
			require.Empty(t, res.Queued, "nothing is retried")
			require.Equal(t, cancelled, res.Execution, "the execution stays cancelled")
			requireExecution(t, s, cancelled)

			list, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Len(t, list, 3)
			now := byNode(list)
			require.Equal(t, store.RunSucceeded, now["a"].Status, "the outcome is stored")
			require.JSONEq(t, `{"sent": 1}`, string(now["a"].Output))
			require.Equal(t, store.RunFailed, now["x"].Status)
			require.Equal(t, store.RunCancelled, now["b"].Status)
			require.Equal(t, 1, now["b"].Pending)
			require.Empty(t, outboxRuns(t, s, ex.ID))
			_, err = s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: ra.ID, ClaimToken: ra.ClaimToken, Status: store.RunSucceeded})
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"RunRelease", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 1})
			ra := claim(t, s, tenant, rs["a"])
			require.NoError(t, s.OutboxDelete(ctx, tenant, ra.ID)) // the queue took it
			running, err := s.ExecutionGet(ctx, tenant, ex.ID)
			require.NoError(t, err)
			runsBefore, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			outboxBefore := allOutbox(t, s)

			for name, c := range map[string]struct {
				tenant, run, token string
				want               error
			}{
				"wrong token":    {tenant, ra.ID, "not-the-token", store.ErrConflict},
				"empty token":    {tenant, ra.ID, "", store.ErrConflict},
				"a pending run":  {tenant, rs["b"].ID, "", store.ErrConflict},
				"another tenant": {other, ra.ID, ra.ClaimToken, store.ErrNotFound},
				"an unknown run": {tenant, "nr_missing", ra.ClaimToken, store.ErrNotFound},
			} {
				_, err := s.RunRelease(ctx, c.tenant, c.run, c.token)
				require.ErrorIs(t, err, c.want, name)
			}
			runsAfter, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, runsBefore, runsAfter, "a failed release changes nothing")
			requireExecution(t, s, running)
			require.Equal(t, outboxBefore, allOutbox(t, s))

			e, err := s.RunRelease(ctx, tenant, ra.ID, ra.ClaimToken)
			require.NoError(t, err)
			requireEntry(t, ra, e)
			require.Equal(t, e.CreatedAt, e.AvailableAt, "available at once")
			require.Equal(t, []string{ra.ID}, outboxRuns(t, s, ex.ID))
			due, err := s.OutboxDue(ctx, time.Now().Add(time.Minute), time.Now(), 100)
			require.NoError(t, err)
			require.Contains(t, due, e, "the entry is stored as returned")
			require.Equal(t, rs["a"], latestRuns(t, s, tenant, ex.ID)["a"],
				"the run is queued as before its claim: no claim token, lease or start")
			requireExecution(t, s, running) // still running: it had started

			// The claim is over.
			_, err = s.RunRelease(ctx, tenant, ra.ID, ra.ClaimToken)
			require.ErrorIs(t, err, store.ErrConflict, "a claim hands its run back once")
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, ra.ID, ra.ClaimToken, time.Now().Add(time.Hour)), store.ErrConflict)
			_, err = s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: ra.ID, ClaimToken: ra.ClaimToken, Status: store.RunSucceeded})
			require.ErrorIs(t, err, store.ErrConflict)

			// Claimed again, with a new token; the stale one changes nothing.
			again := claim(t, s, tenant, rs["a"])
			require.NotEqual(t, ra.ClaimToken, again.ClaimToken)
			require.Equal(t, 1, again.Attempt, "the same run, not a new attempt")
			recent(t, *again.StartedAt)
			require.NoError(t, s.OutboxDelete(ctx, tenant, again.ID))
			runsBefore, err = s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			_, err = s.RunRelease(ctx, tenant, ra.ID, ra.ClaimToken)
			require.ErrorIs(t, err, store.ErrConflict, "a stale token")
			runsAfter, err = s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, runsBefore, runsAfter, "the new claim is left alone")
			require.Empty(t, outboxRuns(t, s, ex.ID))

			res := finish(t, s, tenant, again, store.RunFinishParams{Release: release("b")})
			require.Equal(t, []string{rs["b"].ID}, entryRuns(res.Queued))
			_, err = s.RunRelease(ctx, tenant, again.ID, again.ClaimToken)
			require.ErrorIs(t, err, store.ErrConflict, "a finished run")
			require.Equal(t, store.RunSucceeded, latestRuns(t, s, tenant, ex.ID)["a"].Status)

			// A claim whose lease expired and was queued again is over too.
			rb := claimUntil(t, s, tenant, rs["b"], time.Now().Add(-time.Second))
			entries, err := s.RunRequeueExpired(ctx, time.Now(), 100)
			require.NoError(t, err)
			require.Equal(t, []string{rb.ID}, entryRuns(entries))
			_, err = s.RunRelease(ctx, tenant, rb.ID, rb.ClaimToken)
			require.ErrorIs(t, err, store.ErrConflict)
		}},
		{"RunReleaseAfterCancel", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			for _, end := range []string{"cancelled", "failed"} {
				ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0})
				ra := claim(t, s, tenant, rs["a"])
				switch end {
				case "cancelled":
					_, err := s.ExecutionCancel(ctx, tenant, ex.ID)
					require.NoError(t, err)
				case "failed":
					rb := claim(t, s, tenant, rs["b"])
					finish(t, s, tenant, rb, store.RunFinishParams{Status: store.RunFailed, Error: errNode, FailExecution: errNode})
				}
				finished, err := s.ExecutionGet(ctx, tenant, ex.ID)
				require.NoError(t, err)
				runsBefore, err := s.NodeRunList(ctx, tenant, ex.ID)
				require.NoError(t, err)

				_, err = s.RunRelease(ctx, tenant, ra.ID, ra.ClaimToken)
				require.ErrorIs(t, err, store.ErrConflict, end)
				runsAfter, err := s.NodeRunList(ctx, tenant, ex.ID)
				require.NoError(t, err)
				require.Equal(t, runsBefore, runsAfter, "%s: nothing changes", end)
				require.Equal(t, store.RunCancelled, byNode(runsAfter)["a"].Status, end)
				requireExecution(t, s, finished)
				require.Empty(t, outboxRuns(t, s, ex.ID), end)

				// The claim may still record the outcome, which causes nothing.
				res := finish(t, s, tenant, ra, store.RunFinishParams{})
				require.Empty(t, res.Queued)
				require.Equal(t, finished, res.Execution)
			}
		}},
		{"RunRequeueExpired", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w, ow := insertWorkflow(t, s, tenant), insertWorkflow(t, s, other)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0})
			oex, ors := insertGraph(t, s, other, ow, nil, node{"c", 0})
			ra := claimUntil(t, s, tenant, rs["a"], time.Now().Add(-time.Minute))
			rb := claimUntil(t, s, tenant, rs["b"], time.Now().Add(time.Minute))
			rc := claimUntil(t, s, other, ors["c"], time.Now().Add(-2*time.Minute))
			// The queue took a's and b's entries; c's stayed (its producer died).
			require.NoError(t, s.OutboxDelete(ctx, tenant, ra.ID))
			require.NoError(t, s.OutboxDelete(ctx, tenant, rb.ID))

			entries, err := s.RunRequeueExpired(ctx, time.Now(), 10)
			require.NoError(t, err)
			require.Equal(t, runIDs(ra, rc), entryRuns(entries), "expired leases of every tenant")
			for _, e := range entries {
				requireEntry(t, byNode([]*store.NodeRun{ra, rc})[e.Node], e)
				require.Equal(t, e.CreatedAt, e.AvailableAt)
			}
			require.Equal(t, []string{ra.ID}, outboxRuns(t, s, ex.ID))
			require.Equal(t, []string{rc.ID}, outboxRuns(t, s, oex.ID), "one entry per run")

			now := latestRuns(t, s, tenant, ex.ID)
			a := now["a"]
			require.Equal(t, store.RunQueued, a.Status)
			require.Empty(t, a.ClaimToken)
			require.Nil(t, a.LeaseUntil)
			require.Equal(t, rb, now["b"], "a live lease is left alone")
			require.Equal(t, store.RunQueued, latestRuns(t, s, other, oex.ID)["c"].Status)

			// The old claim is over.
			require.ErrorIs(t, s.RunExtendLease(ctx, tenant, ra.ID, ra.ClaimToken, time.Now().Add(time.Hour)), store.ErrConflict)
			_, err = s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: ra.ID, ClaimToken: ra.ClaimToken, Status: store.RunSucceeded})
			require.ErrorIs(t, err, store.ErrConflict)
			require.Equal(t, a, latestRuns(t, s, tenant, ex.ID)["a"])

			entries, err = s.RunRequeueExpired(ctx, time.Now(), 10)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing is queued twice")

			again := claim(t, s, tenant, a)
			require.NotEqual(t, ra.ClaimToken, again.ClaimToken)
			finish(t, s, tenant, again, store.RunFinishParams{})

			// Oldest lease first, up to limit.
			_, more := insertGraph(t, s, tenant, w, nil, node{"x", 0}, node{"y", 0})
			rx := claimUntil(t, s, tenant, more["x"], time.Now().Add(-time.Second))
			ry := claimUntil(t, s, tenant, more["y"], time.Now().Add(-time.Hour))
			entries, err = s.RunRequeueExpired(ctx, time.Now(), 1)
			require.NoError(t, err)
			require.Equal(t, runIDs(ry), entryRuns(entries))
			entries, err = s.RunRequeueExpired(ctx, time.Now(), 1)
			require.NoError(t, err)
			require.Equal(t, runIDs(rx), entryRuns(entries))
			entries, err = s.RunRequeueExpired(ctx, time.Now(), 0)
			require.NoError(t, err)
			require.Empty(t, entries)
		}},
		{"OutboxDueAndDelete", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w, ow := insertWorkflow(t, s, tenant), insertWorkflow(t, s, other)
			_, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0}, node{"c", 1})
			time.Sleep(2 * time.Millisecond)
			_, ors := insertGraph(t, s, other, ow, nil, node{"d", 0})

			all := allOutbox(t, s)
			require.Len(t, all, 3, "every tenant's")
			// Oldest first; a and b were queued together, in run id order.
			require.Equal(t, runIDs(rs["a"], rs["b"]), []string{all[0].RunID, all[1].RunID})
			require.Equal(t, ors["d"].ID, all[2].RunID)
			for _, e := range all {
				requireEntry(t, map[string]*store.NodeRun{"a": rs["a"], "b": rs["b"], "d": ors["d"]}[e.Node], e)
			}

			later := time.Now().Add(time.Minute)
			due, err := s.OutboxDue(ctx, all[2].CreatedAt, later, 10)
			require.NoError(t, err)
			require.Equal(t, all[:2], due, "created before, strictly")
			due, err = s.OutboxDue(ctx, later, all[0].CreatedAt.Add(-time.Microsecond), 10)
			require.NoError(t, err)
			require.Empty(t, due, "none available yet")
			due, err = s.OutboxDue(ctx, later, all[0].CreatedAt, 10)
			require.NoError(t, err)
			require.Equal(t, all[:2], due, "available at, inclusive")
			due, err = s.OutboxDue(ctx, later, later, 1)
			require.NoError(t, err)
			require.Equal(t, all[:1], due)
			due, err = s.OutboxDue(ctx, later, later, 0)
			require.NoError(t, err)
			require.Empty(t, due)

			first := all[0].RunID // a or b: they were queued together
			require.NoError(t, s.OutboxDelete(ctx, other, first), "another tenant's entry is not found, which is fine")
			require.NoError(t, s.OutboxDelete(ctx, tenant, first))
			require.Equal(t, all, allOutbox(t, s), "a queued run keeps its entry: the reconciler finds the run by it")
			claim(t, s, tenant, map[string]*store.NodeRun{rs["a"].ID: rs["a"], rs["b"].ID: rs["b"]}[first])
			require.Equal(t, all[1:], allOutbox(t, s), "the claim deletes the run's entry")
			require.NoError(t, s.OutboxDelete(ctx, tenant, first), "deleting a missing entry is fine")
			require.NoError(t, s.OutboxDelete(ctx, tenant, "nr_missing"))
			require.Equal(t, all[1:], allOutbox(t, s))
		}},
		{"QueuedRunsHaveOutboxEntries", func(t *testing.T, s store.Store) {
			// Every transition keeps "queued" and "has an outbox entry" in
			// step, in its own transaction: a queued run is never left
			// without one (the reconciler could not find it), a claimed
			// run never keeps one.
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 1}, node{"c", 0})
			check := func(step string) {
				t.Helper()
				var queued []string
				for _, r := range latestRuns(t, s, tenant, ex.ID) {
					if r.Status == store.RunQueued {
						queued = append(queued, r.ID)
					}
				}
				slices.Sort(queued)
				require.Equal(t, queued, outboxRuns(t, s, ex.ID), step)
			}
			check("inserted")
			ra := claim(t, s, tenant, rs["a"])
			check("claimed")
			_, err := s.RunClaim(ctx, tenant, ra.ID, time.Now().Add(time.Minute))
			require.ErrorIs(t, err, store.ErrConflict)
			check("claimed twice")
			finish(t, s, tenant, ra, store.RunFinishParams{Release: release("b")})
			check("finished, child released")
			rb := claimUntil(t, s, tenant, latestRuns(t, s, tenant, ex.ID)["b"], time.Now().Add(-time.Second))
			check("claimed with an expired lease")
			_, err = s.RunRequeueExpired(ctx, time.Now(), 10)
			require.NoError(t, err)
			check("lease expired")
			require.NoError(t, s.OutboxDelete(ctx, tenant, rb.ID), "a stale duplicate delivery")
			check("duplicate delivery after the requeue")
			rb = claim(t, s, tenant, latestRuns(t, s, tenant, ex.ID)["b"])
			check("claimed again")
			_, err = s.RunRelease(ctx, tenant, rb.ID, rb.ClaimToken)
			require.NoError(t, err)
			check("handed back")
			rc := claim(t, s, tenant, rs["c"])
			finish(t, s, tenant, rc, store.RunFinishParams{Status: store.RunFailed, Error: errNode,
				Retry: &store.RunRetry{AvailableAt: time.Now().Add(time.Hour)}})
			check("retry queued")
			_, err = s.ExecutionCancel(ctx, tenant, ex.ID)
			require.NoError(t, err)
			check("cancelled")
		}},
		{"ExecutionCancel", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 0}, node{"c", 2}, node{"d", 0})
			ra := claim(t, s, tenant, rs["a"])
			finish(t, s, tenant, ra, store.RunFinishParams{Release: release("c")})
			claim(t, s, tenant, rs["b"])
			before := latestRuns(t, s, tenant, ex.ID)

			_, err := s.ExecutionCancel(ctx, other, ex.ID)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's execution")
			_, err = s.ExecutionCancel(ctx, tenant, "ex_missing")
			require.ErrorIs(t, err, store.ErrNotFound)

			got, err := s.ExecutionCancel(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, store.ExecutionCancelled, got.Status)
			recent(t, *got.FinishedAt)
			require.Nil(t, got.Error)
			require.NotNil(t, got.StartedAt)
			requireExecution(t, s, got)

			now := latestRuns(t, s, tenant, ex.ID)
			require.Equal(t, before["a"], now["a"], "a finished run stays as it was")
			for _, n := range []string{"b", "c", "d"} {
				require.Equal(t, store.RunCancelled, now[n].Status, n)
				require.Equal(t, got.FinishedAt, now[n].FinishedAt, n)
				require.Nil(t, now[n].LeaseUntil, n)
			}
			require.Empty(t, outboxRuns(t, s, ex.ID))

			_, err = s.ExecutionCancel(ctx, tenant, ex.ID)
			require.ErrorIs(t, err, store.ErrConflict, "cancelled already")
			requireExecution(t, s, got)

			done, drs := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			finish(t, s, tenant, claim(t, s, tenant, drs["a"]), store.RunFinishParams{})
			_, err = s.ExecutionCancel(ctx, tenant, done.ID)
			require.ErrorIs(t, err, store.ErrConflict, "succeeded already")

			queued, _ := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			got, err = s.ExecutionCancel(ctx, tenant, queued.ID)
			require.NoError(t, err)
			require.Nil(t, got.StartedAt, "a queued execution never started")
		}},
		{"ExecutionResume", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			oldDeadline := time.Now().Add(time.Minute)
			ex, rs := insertGraph(t, s, tenant, w, &oldDeadline, node{"a", 0}, node{"b", 1})
			ra := claim(t, s, tenant, rs["a"])
			failed := finish(t, s, tenant, ra, store.RunFinishParams{Status: store.RunFailed, Error: errNode, FailExecution: errNode}).Execution
			runsBefore, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)

			deadline := time.Now().Add(time.Hour)
			p := &store.ExecutionResumeParams{DeadlineAt: &deadline, Runs: []*store.NodeRun{
				{Node: "a", Attempt: 2, Status: store.RunQueued}, {Node: "b", Attempt: 2, Pending: 1}}}
			_, _, err = s.ExecutionResume(ctx, other, ex.ID, p)
			require.ErrorIs(t, err, store.ErrNotFound, "another tenant's execution")
			_, _, err = s.ExecutionResume(ctx, tenant, "ex_missing", p)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, _, err = s.ExecutionResume(ctx, tenant, ex.ID, &store.ExecutionResumeParams{Runs: []*store.NodeRun{{Node: "a"}}})
			require.Error(t, err, "the attempt must be set")
			_, _, err = s.ExecutionResume(ctx, tenant, ex.ID, &store.ExecutionResumeParams{Runs: []*store.NodeRun{nil}})
			require.Error(t, err)
			_, _, err = s.ExecutionResume(ctx, tenant, ex.ID, &store.ExecutionResumeParams{Runs: []*store.NodeRun{
				{Node: "b", Attempt: 2, Status: store.RunQueued}, {Node: "a", Attempt: 1, Status: store.RunQueued}}})
			require.ErrorIs(t, err, store.ErrConflict, "attempt 1 of a exists")
			requireExecution(t, s, failed)
			runsAfter, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, runsBefore, runsAfter, "a failed resume changes nothing")
			require.Empty(t, outboxRuns(t, s, ex.ID))

			got, entries, err := s.ExecutionResume(ctx, tenant, ex.ID, p)
			require.NoError(t, err)
			require.Equal(t, store.ExecutionRunning, got.Status)
			require.Nil(t, got.Error)
			require.Nil(t, got.FinishedAt)
			sameTime(t, deadline, *got.DeadlineAt)
			require.Equal(t, failed.StartedAt, got.StartedAt)
			require.Equal(t, failed.CreatedAt, got.CreatedAt)
			requireExecution(t, s, got)
			require.Nil(t, p.Runs[0].LeaseUntil, "the params are not changed")
			require.Empty(t, p.Runs[0].ID)

			list, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Len(t, list, 4)
			require.Equal(t, runsBefore, list[:2], "the new runs come after the old ones")
			a2, b2 := list[2], list[3]
			require.Equal(t, []string{"a", "b"}, []string{a2.Node, b2.Node})
			require.Equal(t, []int{2, 2}, []int{a2.Attempt, b2.Attempt})
			require.Equal(t, []string{store.RunQueued, store.RunPending}, []string{a2.Status, b2.Status})
			require.Equal(t, 1, b2.Pending)
			for _, r := range []*store.NodeRun{a2, b2} {
				require.Regexp(t, `^nr_[0-9a-z]{26}$`, r.ID)
				require.Equal(t, tenant, r.TenantID)
				require.Equal(t, ex.ID, r.ExecutionID)
				recent(t, r.CreatedAt)
			}
			require.Len(t, entries, 1)
			requireEntry(t, a2, entries[0])
			require.Equal(t, entries[0].CreatedAt, entries[0].AvailableAt)
			require.Equal(t, []string{a2.ID}, outboxRuns(t, s, ex.ID))

			_, _, err = s.ExecutionResume(ctx, tenant, ex.ID, &store.ExecutionResumeParams{})
			require.ErrorIs(t, err, store.ErrConflict, "running")

			res := finish(t, s, tenant, claim(t, s, tenant, a2), store.RunFinishParams{Release: release("b")})
			require.Equal(t, []string{b2.ID}, entryRuns(res.Queued), "the resumed runs release the new attempts")
			res = finish(t, s, tenant, claim(t, s, tenant, b2), store.RunFinishParams{})
			require.Equal(t, store.ExecutionSucceeded, res.Execution.Status)
			_, _, err = s.ExecutionResume(ctx, tenant, ex.ID, &store.ExecutionResumeParams{})
			require.ErrorIs(t, err, store.ErrConflict, "succeeded")
		}},
		{"ExecutionResumeCancelled", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ex, rs := insertGraph(t, s, tenant, w, nil, node{"x", 0})
			rx := claim(t, s, tenant, rs["x"])
			_, err := s.ExecutionCancel(ctx, tenant, ex.ID)
			require.NoError(t, err)
			got, entries, err := s.ExecutionResume(ctx, tenant, ex.ID, &store.ExecutionResumeParams{
				Runs: []*store.NodeRun{{Node: "x", Attempt: 2, Status: store.RunQueued}}})
			require.NoError(t, err)
			require.Equal(t, store.ExecutionRunning, got.Status)
			require.Nil(t, got.DeadlineAt)
			require.Len(t, entries, 1)

			// The claim of the run cancelled before the resume is over: its
			// node runs again.
			_, err = s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: rx.ID, ClaimToken: rx.ClaimToken, Status: store.RunSucceeded})
			require.ErrorIs(t, err, store.ErrConflict)
			old := latestRuns(t, s, tenant, ex.ID)
			require.Equal(t, 2, old["x"].Attempt)
			list, err := s.NodeRunList(ctx, tenant, ex.ID)
			require.NoError(t, err)
			require.Equal(t, store.RunCancelled, list[0].Status)
			require.Empty(t, list[0].ClaimToken)

			// An execution cancelled before it started starts when resumed.
			queued, _ := insertGraph(t, s, tenant, w, nil, node{"x", 0})
			_, err = s.ExecutionCancel(ctx, tenant, queued.ID)
			require.NoError(t, err)
			got, _, err = s.ExecutionResume(ctx, tenant, queued.ID, &store.ExecutionResumeParams{})
			require.NoError(t, err)
			recent(t, *got.StartedAt)
		}},
		{"ExecutionFailExpired", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w, ow := insertWorkflow(t, s, tenant), insertWorkflow(t, s, other)
			past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
			queued, _ := insertGraph(t, s, tenant, w, &past, node{"a", 0}, node{"b", 1})
			running, rrs := insertGraph(t, s, tenant, w, &past, node{"a", 0})
			claim(t, s, tenant, rrs["a"])
			notYet, _ := insertGraph(t, s, tenant, w, &future, node{"a", 0})
			never, _ := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			cancelled, _ := insertGraph(t, s, tenant, w, &past, node{"a", 0})
			cancelled, err := s.ExecutionCancel(ctx, tenant, cancelled.ID)
			require.NoError(t, err)
			theirs, _ := insertGraph(t, s, other, ow, &past, node{"a", 0})

			_, err = s.ExecutionFailExpired(ctx, time.Now(), json.RawMessage(`{`), 10)
			require.Error(t, err)

			failed, err := s.ExecutionFailExpired(ctx, time.Now(), errTimeout, 10)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{queued.ID, running.ID, theirs.ID}, keys(failed, executionID))
			for _, ex := range failed {
				require.Equal(t, store.ExecutionFailed, ex.Status)
				require.JSONEq(t, string(errTimeout), string(ex.Error))
				recent(t, *ex.FinishedAt)
				requireExecution(t, s, ex)
				require.Empty(t, outboxRuns(t, s, ex.ID))
				rs, err := s.NodeRunList(ctx, ex.TenantID, ex.ID)
				require.NoError(t, err)
				for _, r := range rs {
					require.Equal(t, store.RunCancelled, r.Status)
					require.Equal(t, ex.FinishedAt, r.FinishedAt)
				}
			}
			requireExecution(t, s, notYet)
			requireExecution(t, s, never)
			requireExecution(t, s, cancelled)
			require.Len(t, outboxRuns(t, s, notYet.ID), 1)

			failed, err = s.ExecutionFailExpired(ctx, time.Now(), errTimeout, 10)
			require.NoError(t, err)
			require.Empty(t, failed)
			failed, err = s.ExecutionFailExpired(ctx, future.Add(time.Minute), nil, 10)
			require.NoError(t, err)
			require.Equal(t, []string{notYet.ID}, keys(failed, executionID), "the deadline is compared with now")
			require.Nil(t, failed[0].Error)

			for range 3 {
				insertGraph(t, s, tenant, w, &past, node{"a", 0})
			}
			for _, want := range []int{2, 1, 0} {
				failed, err = s.ExecutionFailExpired(ctx, time.Now(), errTimeout, 2)
				require.NoError(t, err)
				require.Len(t, failed, want)
			}
		}},
		{"ExecutionPrune", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant, other := newTenant(t, s), newTenant(t, s)
			w, ow := insertWorkflow(t, s, tenant), insertWorkflow(t, s, other)
			cancelOne := func(tenant string, w *store.Workflow) *store.Execution {
				ex, _ := insertGraph(t, s, tenant, w, nil, node{"a", 0}, node{"b", 1})
				ex, err := s.ExecutionCancel(ctx, tenant, ex.ID)
				require.NoError(t, err)
				return ex
			}
			oldCancelled := cancelOne(tenant, w)
			_, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			oldSucceeded := finish(t, s, tenant, claim(t, s, tenant, rs["a"]), store.RunFinishParams{}).Execution
			oldFailed, rs := insertGraph(t, s, tenant, w, nil, node{"a", 0})
			finish(t, s, tenant, claim(t, s, tenant, rs["a"]), store.RunFinishParams{Status: store.RunFailed, FailExecution: errNode})
			oldTheirs := cancelOne(other, ow)
			time.Sleep(5 * time.Millisecond)
			cut := time.Now()
			time.Sleep(5 * time.Millisecond)
			recentCancelled := cancelOne(tenant, w)
			open, _ := insertGraph(t, s, tenant, w, nil, node{"a", 0})

			n, err := s.ExecutionPrune(ctx, cut, 100)
			require.NoError(t, err)
			require.Equal(t, 4, n)
			for _, ex := range []*store.Execution{oldCancelled, oldSucceeded, oldFailed, oldTheirs} {
				_, err := s.ExecutionGet(ctx, ex.TenantID, ex.ID)
				require.ErrorIs(t, err, store.ErrNotFound)
				_, err = s.NodeRunList(ctx, ex.TenantID, ex.ID)
				require.ErrorIs(t, err, store.ErrNotFound, "the runs are gone too")
			}
			requireExecution(t, s, recentCancelled)
			requireExecution(t, s, open)
			require.Len(t, outboxRuns(t, s, open.ID), 1)
			kept, err := s.NodeRunList(ctx, tenant, recentCancelled.ID)
			require.NoError(t, err)
			require.Len(t, kept, 2)

			n, err = s.ExecutionPrune(ctx, cut, 100)
			require.NoError(t, err)
			require.Zero(t, n)

			cancelOne(tenant, w)
			for _, want := range []int{1, 1, 0} {
				n, err = s.ExecutionPrune(ctx, time.Now().Add(time.Minute), 1)
				require.NoError(t, err)
				require.Equal(t, want, n, "up to limit")
			}
			n, err = s.ExecutionPrune(ctx, time.Now().Add(time.Minute), 0)
			require.NoError(t, err)
			require.Zero(t, n)
			requireExecution(t, s, open)
		}},
	}
}

// finishAll finishes every claimed run at once, each from a goroutine of
// its own, with p, and returns the results in the order of claimed.
func finishAll(t testing.TB, s store.Store, tenant string, claimed []*store.NodeRun, p store.RunFinishParams) []*store.RunFinishResult {
	t.Helper()
	results := make([]*store.RunFinishResult, len(claimed))
	errs := make([]error, len(claimed))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range claimed {
		wg.Go(func() {
			p := p
			p.RunID, p.ClaimToken, p.Status = r.ID, r.ClaimToken, store.RunSucceeded
			<-start
			results[i], errs[i] = s.RunFinish(t.Context(), tenant, &p)
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	return results
}
