package record_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/record"
	"github.com/wasmflow/wasmflow/workflow"
)

// requireNorm checks that t is as the store reads it back.
func requireNorm(t *testing.T, at time.Time) {
	t.Helper()
	require.Equal(t, time.UTC, at.Location())
	require.Zero(t, at.Nanosecond()%1000)
}

func TestTimes(t *testing.T) {
	t.Parallel()
	requireNorm(t, record.Now())
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	want := time.Date(2025, 3, 4, 4, 6, 7, 123456000, time.UTC)
	require.Equal(t, want, record.Norm(at))
	require.Nil(t, record.NormPtr(nil))
	require.Equal(t, want, *record.NormPtr(&at))
}

func TestJSON(t *testing.T) {
	t.Parallel()
	raw, err := record.JSON("x", nil)
	require.NoError(t, err)
	require.Nil(t, raw)
	raw, err = record.JSON("x", json.RawMessage{})
	require.NoError(t, err)
	require.Nil(t, raw)
	raw, err = record.JSON("x", json.RawMessage(`{"a": 1}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"a": 1}`, string(raw))
	_, err = record.JSON("thing", json.RawMessage(`{`))
	require.EqualError(t, err, "store: thing is not valid JSON")
}

func TestDefinitions(t *testing.T) {
	t.Parallel()
	def := &workflow.Workflow{Name: "w", Nodes: []workflow.Node{{Name: "a", Params: map[string]any{"n": 1}}}}
	raw, stored, err := record.EncodeDefinition(def)
	require.NoError(t, err)
	require.Equal(t, 1.0, stored.Nodes[0].Params["n"], "numbers read back as float64")
	var back workflow.Workflow
	require.NoError(t, record.DecodeDefinition(raw, &back))
	require.Equal(t, stored, back)
	require.ErrorContains(t, record.DecodeDefinition([]byte(`[1]`), &back), "store: decode workflow")

	_, _, err = record.EncodeDefinition(&workflow.Workflow{Nodes: []workflow.Node{{Params: map[string]any{"f": func() {}}}}})
	require.ErrorContains(t, err, "store: encode workflow")

	w, raw, err := record.NewWorkflow("tn_1", def)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(w.ID, "wf_"))
	require.Equal(t, "tn_1", w.TenantID)
	require.Equal(t, 1, w.Version)
	require.False(t, w.Active)
	require.Equal(t, stored, w.Definition)
	require.Equal(t, w.CreatedAt, w.UpdatedAt)
	requireNorm(t, w.CreatedAt)
	require.NotEmpty(t, raw)
	_, _, err = record.NewWorkflow("tn_1", nil)
	require.EqualError(t, err, "store: WorkflowInsert needs a definition")
	_, _, err = record.NewWorkflow("tn_1", &workflow.Workflow{Nodes: []workflow.Node{{Params: map[string]any{"f": func() {}}}}})
	require.Error(t, err)

	raw, stored, err = record.WorkflowUpdate(&store.WorkflowUpdateParams{Definition: *def})
	require.NoError(t, err)
	require.Equal(t, "w", stored.Name)
	require.NotEmpty(t, raw)
	_, _, err = record.WorkflowUpdate(nil)
	require.EqualError(t, err, "store: WorkflowUpdate needs params")
}

func TestNewTenantAndAPIKey(t *testing.T) {
	t.Parallel()
	tn := record.NewTenant("acme")
	require.True(t, strings.HasPrefix(tn.ID, "tn_"))
	require.Equal(t, "acme", tn.Name)
	requireNorm(t, tn.CreatedAt)

	exp := time.Now().Add(time.Hour)
	k, err := record.NewAPIKey("tn_1", &store.APIKeyInsertParams{Name: "k", Role: "admin", Prefix: "wf_",
		Hash: []byte("h"), PlatformAdmin: true, ExpiresAt: &exp})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(k.ID, "ak_"))
	require.Equal(t, &store.APIKey{ID: k.ID, TenantID: "tn_1", Name: "k", Role: "admin", Prefix: "wf_",
		Hash: []byte("h"), PlatformAdmin: true, CreatedAt: k.CreatedAt, ExpiresAt: record.NormPtr(&exp)}, k)
	requireNorm(t, k.CreatedAt)
	_, err = record.NewAPIKey("tn_1", nil)
	require.EqualError(t, err, "store: APIKeyInsert needs params")
}

func TestNewModuleVersion(t *testing.T) {
	t.Parallel()
	wasm := []byte("\x00asm")
	const digest = "sha256:cd5d4935a48c0672cb06407bb443bc0087aff947c6b864bac886982c73b3027f"
	m, err := record.NewModuleVersion("tn_1", &store.ModuleVersion{TenantID: "other", Name: "a/b", Version: "1.0.0",
		Digest: digest, Size: 99, Manifest: json.RawMessage(`{}`)}, wasm)
	require.NoError(t, err)
	require.Equal(t, "tn_1", m.TenantID)
	require.Equal(t, int64(4), m.Size)
	require.JSONEq(t, `{}`, string(m.Manifest))
	require.Nil(t, m.Signature)
	requireNorm(t, m.CreatedAt)

	for name, v := range map[string]*store.ModuleVersion{
		"bad digest":    {Digest: "sha256:00"},
		"bad manifest":  {Digest: digest, Manifest: json.RawMessage(`{`)},
		"bad signature": {Digest: digest, Signature: json.RawMessage(`{`)},
	} {
		_, err := record.NewModuleVersion("tn_1", v, wasm)
		require.Error(t, err, name)
	}
	_, err = record.NewModuleVersion("tn_1", nil, wasm)
	require.EqualError(t, err, "store: ModuleVersionInsert needs a version")
}

func TestNewExecution(t *testing.T) {
	t.Parallel()
	started := time.Now()
	ex, runs, err := record.NewExecution("tn_1", &store.ExecutionInsertParams{WorkflowID: "wf_1", WorkflowVersion: 2,
		Trigger: "manual", Input: json.RawMessage(`[1]`),
		Runs: []*store.NodeRun{{Node: "a"}, {Node: "b", Attempt: 3, Status: store.RunQueued, StartedAt: &started,
			Output: json.RawMessage(`{}`)}}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ex.ID, "ex_"))
	require.Equal(t, store.ExecutionQueued, ex.Status)
	require.Equal(t, "wf_1", ex.WorkflowID)
	require.Equal(t, 2, ex.WorkflowVersion)
	requireNorm(t, ex.CreatedAt)
	require.Len(t, runs, 2)
	for _, r := range runs {
		require.True(t, strings.HasPrefix(r.ID, "nr_"))
		require.Equal(t, "tn_1", r.TenantID)
		require.Equal(t, ex.ID, r.ExecutionID)
		require.Equal(t, ex.CreatedAt, r.CreatedAt)
	}
	require.Equal(t, 1, runs[0].Attempt)
	require.Equal(t, store.RunPending, runs[0].Status)
	require.Nil(t, runs[0].Output)
	require.Equal(t, 3, runs[1].Attempt)
	require.Equal(t, store.RunQueued, runs[1].Status)
	require.Equal(t, record.NormPtr(&started), runs[1].StartedAt)

	for name, p := range map[string]*store.ExecutionInsertParams{
		"bad input":  {Input: json.RawMessage(`{`)},
		"nil run":    {Runs: []*store.NodeRun{nil}},
		"bad output": {Runs: []*store.NodeRun{{Output: json.RawMessage(`{`)}}},
		"bad logs":   {Runs: []*store.NodeRun{{Logs: json.RawMessage(`{`)}}},
		"bad error":  {Runs: []*store.NodeRun{{Error: json.RawMessage(`{`)}}},
		"bad calls":  {Runs: []*store.NodeRun{{HostCalls: json.RawMessage(`[`)}}},
	} {
		_, _, err := record.NewExecution("tn_1", p)
		require.Error(t, err, name)
	}
	_, _, err = record.NewExecution("tn_1", nil)
	require.EqualError(t, err, "store: ExecutionInsert needs params")
	_, _, err = record.NewExecution("tn_1", &store.ExecutionInsertParams{Runs: []*store.NodeRun{{Node: "a", Attempt: -1}}})
	require.EqualError(t, err, `store: ExecutionInsert: run 0 (node "a") has attempt -1, must be at least 1`)

	deadline := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	ex, _, err = record.NewExecution("tn_1", &store.ExecutionInsertParams{DeadlineAt: &deadline})
	require.NoError(t, err)
	require.Equal(t, record.NormPtr(&deadline), ex.DeadlineAt)
}

func TestResumeRuns(t *testing.T) {
	t.Parallel()
	at := record.Now()
	runs, err := record.ResumeRuns("tn_1", "ex_1", &store.ExecutionResumeParams{Runs: []*store.NodeRun{
		{Node: "a", Attempt: 2, Status: store.RunQueued}, {Node: "b", Attempt: 3, Pending: 1}}}, at)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	for _, r := range runs {
		require.True(t, strings.HasPrefix(r.ID, "nr_"))
		require.Equal(t, "tn_1", r.TenantID)
		require.Equal(t, "ex_1", r.ExecutionID)
		require.Equal(t, at, r.CreatedAt)
	}
	require.Equal(t, store.RunPending, runs[1].Status, "Status defaults to pending")
	require.Equal(t, 3, runs[1].Attempt)

	_, err = record.ResumeRuns("tn_1", "ex_1", &store.ExecutionResumeParams{Runs: []*store.NodeRun{{Node: "a"}}}, at)
	require.EqualError(t, err, `store: ExecutionResume: run 0 (node "a") has attempt 0, must be at least 1`)
	_, err = record.ResumeRuns("tn_1", "ex_1", &store.ExecutionResumeParams{Runs: []*store.NodeRun{nil}}, at)
	require.EqualError(t, err, "store: ExecutionResume: run 0 is nil")
	_, err = record.ResumeRuns("tn_1", "ex_1", nil, at)
	require.EqualError(t, err, "store: ExecutionResume needs params")
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	available := created.Add(time.Minute)
	runs := []*store.NodeRun{
		{ID: "nr_1", TenantID: "tn_1", ExecutionID: "ex_1", Node: "a", Attempt: 2, Status: store.RunQueued},
		{ID: "nr_2", TenantID: "tn_1", ExecutionID: "ex_1", Node: "b", Attempt: 1, Status: store.RunPending},
	}
	require.Equal(t, []*store.OutboxEntry{{TenantID: "tn_1", ExecutionID: "ex_1", RunID: "nr_1", Node: "a", Attempt: 2,
		AvailableAt: record.Norm(available), CreatedAt: record.Norm(created)}}, record.Outbox(runs, available, created))
	require.Empty(t, record.Outbox(runs[1:], available, created))

	next := record.RetryRun(runs[0], record.Norm(created))
	require.True(t, strings.HasPrefix(next.ID, "nr_"))
	require.Equal(t, &store.NodeRun{ID: next.ID, TenantID: "tn_1", ExecutionID: "ex_1", Node: "a", Attempt: 3,
		Status: store.RunQueued, CreatedAt: record.Norm(created)}, next)
}

func TestRunFinish(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	in := &store.RunFinishParams{RunID: "nr_1", ClaimToken: "c", Status: store.RunFailed, Output: json.RawMessage{},
		Error: json.RawMessage(`{"m": 1}`), HostCalls: json.RawMessage{}, Retry: &store.RunRetry{AvailableAt: at}}
	p, err := record.RunFinish(in)
	require.NoError(t, err)
	require.Nil(t, p.Output)
	require.Nil(t, p.HostCalls)
	require.JSONEq(t, `{"m": 1}`, string(p.Error))
	require.Equal(t, record.Norm(at), p.Retry.AvailableAt)
	require.Equal(t, at, in.Retry.AvailableAt, "the params are not changed")
	require.NotNil(t, in.Output)

	for _, status := range []string{store.RunSucceeded, store.RunFailed, store.RunSkipped} {
		_, err := record.RunFinish(&store.RunFinishParams{Status: status})
		require.NoError(t, err, status)
	}
	for name, p := range map[string]*store.RunFinishParams{
		"no status":      {},
		"running":        {Status: store.RunRunning},
		"bad output":     {Status: store.RunSucceeded, Output: json.RawMessage(`{`)},
		"bad logs":       {Status: store.RunSucceeded, Logs: json.RawMessage(`{`)},
		"bad error":      {Status: store.RunFailed, Error: json.RawMessage(`{`)},
		"bad exec error": {Status: store.RunFailed, FailExecution: json.RawMessage(`{`)},
		"bad host calls": {Status: store.RunSucceeded, HostCalls: json.RawMessage(`[{}`)},
	} {
		_, err := record.RunFinish(p)
		require.Error(t, err, name)
	}
	_, err = record.RunFinish(nil)
	require.EqualError(t, err, "store: RunFinish needs params")
}

func TestClaimTokensAndStatuses(t *testing.T) {
	t.Parallel()
	a, b := record.NewClaimToken(), record.NewClaimToken()
	require.Len(t, a, 26)
	require.NotEqual(t, a, b)
	for status, final := range map[string]bool{
		store.ExecutionQueued: false, store.ExecutionRunning: false,
		store.ExecutionSucceeded: true, store.ExecutionFailed: true, store.ExecutionCancelled: true,
	} {
		require.Equal(t, final, record.ExecutionFinished(status), status)
	}
}

func TestSecretBindings(t *testing.T) {
	t.Parallel()
	def := &workflow.Workflow{Name: "w", Nodes: []workflow.Node{
		{Name: "b", Secrets: map[string]string{"token": "s1", "key": "s2"}},
		{Name: "start"},
		{Name: "a", Secrets: map[string]string{"token": "s1"}},
		{Name: "b", Secrets: map[string]string{"token": "other", "extra": "s3"}}, // a name that comes twice
	}}
	require.Equal(t, []*store.SecretBinding{
		{WorkflowID: "wf_1", WorkflowName: "w", Node: "a", Name: "token", Secret: "s1"},
		{WorkflowID: "wf_1", WorkflowName: "w", Node: "b", Name: "extra", Secret: "s3"},
		{WorkflowID: "wf_1", WorkflowName: "w", Node: "b", Name: "key", Secret: "s2"},
		{WorkflowID: "wf_1", WorkflowName: "w", Node: "b", Name: "token", Secret: "s1"},
	}, record.SecretBindings("wf_1", def), "sorted by node and name, the first node's binding kept")
	require.Empty(t, record.SecretBindings("wf_1", &workflow.Workflow{Name: "w"}))
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	in := &store.Secret{TenantID: "other", Name: "s", Ciphertext: []byte("c"), WrappedKey: []byte("k"), KeyID: "k1",
		CreatedAt: time.Unix(1, 0)}
	sec, err := record.NewSecret("tn_1", in)
	require.NoError(t, err)
	require.Equal(t, &store.Secret{TenantID: "tn_1", Name: "s", Ciphertext: []byte("c"), WrappedKey: []byte("k"),
		KeyID: "k1", CreatedAt: sec.CreatedAt, UpdatedAt: sec.CreatedAt}, sec)
	requireNorm(t, sec.CreatedAt)
	_, err = record.NewSecret("tn_1", nil)
	require.EqualError(t, err, "store: SecretInsert needs a secret")

	sec, err = record.UpdatedSecret("tn_1", in)
	require.NoError(t, err)
	require.Equal(t, &store.Secret{TenantID: "tn_1", Name: "s", Ciphertext: []byte("c"), WrappedKey: []byte("k"),
		KeyID: "k1", UpdatedAt: sec.UpdatedAt}, sec)
	requireNorm(t, sec.UpdatedAt)
	_, err = record.UpdatedSecret("tn_1", nil)
	require.EqualError(t, err, "store: SecretUpdate needs a secret")
}

func TestFillAuditEntry(t *testing.T) {
	t.Parallel()
	e := &store.AuditEntry{Actor: "system", Action: "x", Detail: json.RawMessage{}}
	require.NoError(t, record.FillAuditEntry("tn_1", e))
	require.True(t, strings.HasPrefix(e.ID, "au_"))
	require.Equal(t, "tn_1", e.TenantID)
	require.Nil(t, e.Detail)
	requireNorm(t, e.CreatedAt)

	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	e = &store.AuditEntry{ID: "au_given", CreatedAt: at, Detail: json.RawMessage(`{"a":1}`)}
	require.NoError(t, record.FillAuditEntry("tn_1", e))
	require.Equal(t, "au_given", e.ID)
	require.Equal(t, record.Norm(at), e.CreatedAt)
	require.JSONEq(t, `{"a":1}`, string(e.Detail))

	e = &store.AuditEntry{Detail: json.RawMessage(`{`)}
	require.Error(t, record.FillAuditEntry("tn_1", e))
	require.Empty(t, e.TenantID, "a refused entry is left alone")
	require.EqualError(t, record.FillAuditEntry("tn_1", nil), "store: AuditInsert needs an entry")
}

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	for prefix, want := range map[string]string{"secret.": "secret/", "a": "b", "a\xff": "b", "ab\xff\xff": "ac"} {
		end, ok := record.PrefixEnd(prefix)
		require.True(t, ok, prefix)
		require.Equal(t, want, end, prefix)
	}
	for _, prefix := range []string{"", "\xff", "\xff\xff"} {
		_, ok := record.PrefixEnd(prefix)
		require.False(t, ok, prefix)
	}
}
