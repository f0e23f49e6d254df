package record_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/record"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestNewUser(t *testing.T) {
	t.Parallel()
	u, err := record.NewUser("a@example.com", "hash")
	require.NoError(t, err)
	require.Equal(t, "a@example.com", u.Email)
	require.Equal(t, "hash", u.PasswordHash)
	require.NotEmpty(t, u.ID)
	requireNorm(t, u.CreatedAt)
	other, err := record.NewUser("b@example.com", "hash")
	require.NoError(t, err)
	require.NotEqual(t, u.ID, other.ID)

	for _, c := range []struct{ email, hash string }{{"", "hash"}, {"a@example.com", ""}, {"", ""}} {
		_, err := record.NewUser(c.email, c.hash)
		require.EqualError(t, err, "store: UserInsert needs an email and a password hash", c)
	}
}

func TestNewModuleVersionSource(t *testing.T) {
	t.Parallel()
	wasm := []byte("\x00asm")
	const digest = "sha256:cd5d4935a48c0672cb06407bb443bc0087aff947c6b864bac886982c73b3027f"
	for _, c := range []struct {
		source, want string
		err          bool
	}{
		{"", store.SourceUpload, false},
		{store.SourceUpload, store.SourceUpload, false},
		{store.SourceMarketplace, store.SourceMarketplace, false},
		{"elsewhere", "", true},
	} {
		m, err := record.NewModuleVersion("tn_1", &store.ModuleVersion{Digest: digest, Source: c.source}, wasm)
		if c.err {
			require.ErrorContains(t, err, `module source "elsewhere"`)
			continue
		}
		require.NoError(t, err, c.source)
		require.Equal(t, c.want, m.Source)
	}
}

// newAdmission returns an execution with runs as NewExecution builds them:
// admitted, one run queued and one pending.
func newAdmission(t *testing.T) (*store.Execution, []*store.NodeRun) {
	t.Helper()
	ex, runs, err := record.NewExecution("tn_1", &store.ExecutionInsertParams{WorkflowID: "wf_1", WorkflowVersion: 1,
		Runs: []*store.NodeRun{{Node: "a", Status: store.RunQueued}, {Node: "b"}}})
	require.NoError(t, err)
	require.NotNil(t, ex.AdmittedAt)
	return ex, runs
}

func TestAdmission(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                   string
		maxActive, maxWaiting  int
		active, waiting        int
		admitted, limitReached bool
	}{
		{name: "no limit", maxActive: 0, active: 100, waiting: 100, admitted: true},
		{name: "negative limit is no limit", maxActive: -1, active: 5, waiting: 5, admitted: true},
		{name: "slot free, nobody waits", maxActive: 2, active: 1, admitted: true},
		{name: "no active execution", maxActive: 1, admitted: true},
		{name: "slot free but others wait first", maxActive: 2, active: 1, waiting: 1},
		{name: "slots taken", maxActive: 2, active: 2},
		{name: "slots over-taken", maxActive: 2, active: 3},
		{name: "waiting under the cap", maxActive: 1, maxWaiting: 3, active: 1, waiting: 2},
		{name: "waiting unbounded", maxActive: 1, maxWaiting: 0, active: 1, waiting: 1000},
		{name: "waiting at the cap", maxActive: 1, maxWaiting: 3, active: 1, waiting: 3, limitReached: true},
		{name: "waiting over the cap", maxActive: 1, maxWaiting: 3, active: 1, waiting: 4, limitReached: true},
		{name: "admitted ignores the waiting cap", maxActive: 2, maxWaiting: 1, active: 1, admitted: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ex, runs := newAdmission(t)
			before := time.Now().UTC().Add(-time.Second)
			ex.AdmittedAt = &before
			err := record.Admission(ex, runs, &store.ExecutionInsertParams{MaxActive: c.maxActive, MaxWaiting: c.maxWaiting},
				c.active, c.waiting)
			switch {
			case c.limitReached:
				require.ErrorIs(t, err, store.ErrLimitReached)
				require.ErrorContains(t, err, "executions wait for a slot already")
				require.Equal(t, &before, ex.AdmittedAt, "a refused execution is left as it was")
				require.Equal(t, store.RunQueued, runs[0].Status)
			case c.admitted:
				require.NoError(t, err)
				require.NotNil(t, ex.AdmittedAt)
				require.True(t, ex.AdmittedAt.After(before), "admitted now, under the lock")
				requireNorm(t, *ex.AdmittedAt)
				require.Equal(t, store.RunQueued, runs[0].Status)
				require.Equal(t, store.RunPending, runs[1].Status)
				require.Len(t, record.Outbox(runs, time.Now(), time.Now()), 1)
			default:
				require.NoError(t, err)
				require.Nil(t, ex.AdmittedAt, "it waits")
				require.Equal(t, store.RunPending, runs[0].Status, "its queued runs wait for ExecutionAdmit")
				require.Equal(t, store.RunPending, runs[1].Status)
				require.Empty(t, record.Outbox(runs, time.Now(), time.Now()), "nothing to dispatch while it waits")
			}
		})
	}
}

func TestAdmissionKeepsFinishedRuns(t *testing.T) {
	t.Parallel()
	ex := &store.Execution{}
	runs := []*store.NodeRun{{Status: store.RunSucceeded}, {Status: store.RunQueued}, {Status: store.RunSkipped}}
	require.NoError(t, record.Admission(ex, runs, &store.ExecutionInsertParams{MaxActive: 1}, 1, 0))
	require.Nil(t, ex.AdmittedAt)
	require.Equal(t, store.RunSucceeded, runs[0].Status)
	require.Equal(t, store.RunPending, runs[1].Status)
	require.Equal(t, store.RunSkipped, runs[2].Status)
}

func TestTriggers(t *testing.T) {
	t.Parallel()
	def := &workflow.Workflow{Name: "w", Nodes: []workflow.Node{
		{Name: "hook", Type: workflow.TypeWebhookTrigger, Params: map[string]any{"path": "orders/new", "method": "put"}},
		{Name: "bad-hook", Type: workflow.TypeWebhookTrigger, Params: map[string]any{"path": "../x"}},
		{Name: "kept", Type: workflow.TypeScheduleTrigger, Params: map[string]any{"cron": "@hourly", "timezone": "Europe/Berlin",
			"missed": workflow.MissedRunOnce}},
		{Name: "fresh", Type: workflow.TypeScheduleTrigger, Params: map[string]any{"cron": "*/5 * * * *"}},
		{Name: "bad-schedule", Type: workflow.TypeScheduleTrigger, Params: map[string]any{"cron": ""}},
		{Name: "work", Type: "acme/x"},
	}}
	kept := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	now := time.Date(2026, 5, 6, 7, 8, 9, 999, time.UTC)
	routes, schedules := record.Triggers("tn_1", "wf_1", def, map[string]time.Time{"kept": kept, "gone": now}, now)
	require.Equal(t, []*store.WebhookRoute{
		{TenantID: "tn_1", Path: "orders/new", Method: "PUT", WorkflowID: "wf_1", Node: "hook"},
	}, routes)
	require.Equal(t, []*store.Schedule{
		{TenantID: "tn_1", WorkflowID: "wf_1", Node: "kept", Cron: "@hourly", Timezone: "Europe/Berlin",
			Missed: workflow.MissedRunOnce, Since: record.Norm(kept)},
		{TenantID: "tn_1", WorkflowID: "wf_1", Node: "fresh", Cron: "*/5 * * * *", Timezone: "UTC",
			Missed: workflow.MissedSkip, Since: record.Norm(now)},
	}, schedules)

	routes, schedules = record.Triggers("tn_1", "wf_1", &workflow.Workflow{Nodes: []workflow.Node{{Name: "work", Type: "acme/x"}}}, nil, now)
	require.Nil(t, routes)
	require.Nil(t, schedules)
}

func TestNewPublisher(t *testing.T) {
	t.Parallel()
	p, err := record.NewPublisher("tn_1", "acme")
	require.NoError(t, err)
	require.Equal(t, "acme", p.Name)
	require.Equal(t, "tn_1", p.TenantID)
	requireNorm(t, p.CreatedAt)
	_, err = record.NewPublisher("tn_1", "")
	require.EqualError(t, err, "store: PublisherInsert needs a name")
}

func TestNewPublisherKey(t *testing.T) {
	t.Parallel()
	nb := time.Date(2026, 1, 1, 0, 0, 0, 1500, time.FixedZone("x", -3600))
	na := nb.Add(time.Hour)
	revoked := time.Now()
	in := &store.PublisherKey{Publisher: "acme", KeyID: "ed25519:0123", PublicKey: []byte{1, 2, 3},
		NotBefore: &nb, NotAfter: &na, RevokedAt: &revoked, CreatedAt: nb}
	k, err := record.NewPublisherKey(in)
	require.NoError(t, err)
	require.Equal(t, "acme", k.Publisher)
	require.Equal(t, "ed25519:0123", k.KeyID)
	require.Equal(t, []byte{1, 2, 3}, k.PublicKey)
	require.Equal(t, record.Norm(nb), *k.NotBefore)
	require.Equal(t, record.Norm(na), *k.NotAfter)
	require.Nil(t, k.RevokedAt, "a new key is not revoked")
	require.NotEqual(t, nb, k.CreatedAt)
	requireNorm(t, k.CreatedAt)
	in.PublicKey[0] = 9
	require.Equal(t, byte(1), k.PublicKey[0], "the public key is copied")
	require.Equal(t, &revoked, in.RevokedAt, "the input is left alone")

	k, err = record.NewPublisherKey(&store.PublisherKey{Publisher: "acme", KeyID: "k", PublicKey: []byte{1}})
	require.NoError(t, err)
	require.Nil(t, k.NotBefore)
	require.Nil(t, k.NotAfter)

	for name, bad := range map[string]*store.PublisherKey{
		"nil":          nil,
		"no publisher": {KeyID: "k", PublicKey: []byte{1}},
		"no key id":    {Publisher: "acme", PublicKey: []byte{1}},
		"no key":       {Publisher: "acme", KeyID: "k"},
		"empty key":    {Publisher: "acme", KeyID: "k", PublicKey: []byte{}},
	} {
		_, err := record.NewPublisherKey(bad)
		require.EqualError(t, err, "store: PublisherKeyInsert needs a publisher, a key id and a public key", name)
	}
}

func TestTrustPolicy(t *testing.T) {
	t.Parallel()
	d := record.DefaultTrustPolicy("tn_1")
	require.Equal(t, &store.TrustPolicy{TenantID: "tn_1", TrustedPublishers: []string{}, MinimumVersions: map[string]string{}}, d)

	in := &store.TrustPolicy{TenantID: "other", RequireSignatures: true, TrustedPublishers: []string{"acme", "beta"},
		MinimumVersions: map[string]string{"acme/x": "1.2.0"}}
	p, trusted, minimum, err := record.NewTrustPolicy("tn_1", in)
	require.NoError(t, err)
	require.Equal(t, "tn_1", p.TenantID)
	require.True(t, p.RequireSignatures)
	require.Equal(t, []string{"acme", "beta"}, p.TrustedPublishers)
	require.Equal(t, map[string]string{"acme/x": "1.2.0"}, p.MinimumVersions)
	requireNorm(t, p.UpdatedAt)
	require.False(t, p.UpdatedAt.IsZero())
	require.JSONEq(t, `["acme", "beta"]`, string(trusted))
	require.JSONEq(t, `{"acme/x": "1.2.0"}`, string(minimum))
	in.TrustedPublishers[0], in.MinimumVersions["acme/x"] = "evil", "0.0.1"
	require.Equal(t, []string{"acme", "beta"}, p.TrustedPublishers, "the policy is copied")
	require.Equal(t, "1.2.0", p.MinimumVersions["acme/x"])

	// It reads back as it was written.
	back := &store.TrustPolicy{TenantID: "tn_1", RequireSignatures: true, UpdatedAt: p.UpdatedAt}
	require.NoError(t, record.DecodeTrustPolicy(back, trusted, minimum))
	require.Equal(t, p, back)

	// An empty policy stores empty (not null) JSON and reads back empty.
	p, trusted, minimum, err = record.NewTrustPolicy("tn_1", &store.TrustPolicy{})
	require.NoError(t, err)
	require.Equal(t, "[]", string(trusted))
	require.Equal(t, "{}", string(minimum))
	require.NotNil(t, p.TrustedPublishers)
	require.NotNil(t, p.MinimumVersions)

	_, _, _, err = record.NewTrustPolicy("tn_1", nil)
	require.EqualError(t, err, "store: TrustPolicyPut needs a policy")
}

func TestDecodeTrustPolicy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name               string
		trusted, minimum   string
		err                string
		wantTrusted        []string
		wantMinimumVersion map[string]string
	}{
		{name: "null columns", trusted: "null", minimum: "null", wantTrusted: []string{}, wantMinimumVersion: map[string]string{}},
		{name: "values", trusted: `["a"]`, minimum: `{"a/b": "2.0.0"}`, wantTrusted: []string{"a"},
			wantMinimumVersion: map[string]string{"a/b": "2.0.0"}},
		{name: "bad trusted", trusted: `{`, minimum: `{}`, err: "store: trusted_publishers"},
		{name: "trusted not a list", trusted: `{"a": 1}`, minimum: `{}`, err: "store: trusted_publishers"},
		{name: "bad minimum", trusted: `[]`, minimum: `[1]`, err: "store: minimum_versions"},
	} {
		var p store.TrustPolicy
		err := record.DecodeTrustPolicy(&p, []byte(c.trusted), []byte(c.minimum))
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		require.Equal(t, c.wantTrusted, p.TrustedPublishers, c.name)
		require.Equal(t, c.wantMinimumVersion, p.MinimumVersions, c.name)
	}
}

func TestModuleGrant(t *testing.T) {
	t.Parallel()
	v := &store.ModuleVersion{TenantID: "tn_1", Name: "acme/x", Version: "1.0.0"}
	g := &store.ModuleGrant{TenantID: "other", Name: "other/y", Version: "9.9.9",
		Granted:   workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"a.example"}}},
		Requested: workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"a.example", "b.example"}}, Secrets: []string{"k"}}}
	out, granted, requested, err := record.NewModuleGrant("tn_1", v, g)
	require.NoError(t, err)
	require.Equal(t, "tn_1", out.TenantID)
	require.Equal(t, "acme/x", out.Name)
	require.Equal(t, "1.0.0", out.Version)
	requireNorm(t, out.UpdatedAt)
	require.JSONEq(t, `{"http": {"hosts": ["a.example"]}}`, string(granted))
	require.JSONEq(t, `{"http": {"hosts": ["a.example", "b.example"]}, "secrets": ["k"]}`, string(requested))
	require.Equal(t, g.Granted, out.Granted)
	require.Equal(t, g.Requested, out.Requested)
	require.NotSame(t, g.Granted.HTTP, out.Granted.HTTP, "the grant is as it reads back, not the caller's")

	back := store.ModuleGrant{Granted: workflow.Capabilities{Secrets: []string{"stale"}}}
	require.NoError(t, record.DecodeModuleGrant(&back, granted, requested))
	require.Equal(t, out.Granted, back.Granted, "a decode replaces what was there")
	require.Equal(t, out.Requested, back.Requested)

	require.NoError(t, record.DecodeModuleGrant(&back, []byte(`{}`), []byte(`{}`)))
	require.Equal(t, workflow.Capabilities{}, back.Granted)
	require.Equal(t, workflow.Capabilities{}, back.Requested)

	err = record.DecodeModuleGrant(&back, []byte(`{`), []byte(`{}`))
	require.ErrorContains(t, err, "store: grant")
	err = record.DecodeModuleGrant(&back, []byte(`{}`), []byte(`{"secrets": "k"}`))
	require.ErrorContains(t, err, "store: grant")
}

func TestNewCatalogVersion(t *testing.T) {
	t.Parallel()
	yanked := time.Now()
	in := &store.CatalogVersion{Name: "acme/x", Version: "1.0.0", TenantID: "other", Digest: "sha256:ab",
		Manifest: json.RawMessage(`{"name": "acme/x"}`), Signature: json.RawMessage(`{"statement": {}}`),
		YankedAt: &yanked, YankReason: "old", CreatedAt: yanked}
	m, v, err := record.NewCatalogVersion("tn_1", &store.CatalogPublishParams{Publisher: "acme", Description: "does x", Version: in})
	require.NoError(t, err)
	require.Equal(t, "tn_1", v.TenantID)
	require.Nil(t, v.YankedAt, "a new version is not yanked")
	require.Empty(t, v.YankReason)
	require.Equal(t, "sha256:ab", v.Digest)
	requireNorm(t, v.CreatedAt)
	require.Equal(t, &store.CatalogModule{Name: "acme/x", Publisher: "acme", TenantID: "tn_1", Description: "does x",
		LatestVersion: "1.0.0", Versions: 1, CreatedAt: v.CreatedAt, UpdatedAt: v.CreatedAt}, m)
	require.Equal(t, "other", in.TenantID, "the input is left alone")

	good := func() *store.CatalogVersion {
		return &store.CatalogVersion{Name: "acme/x", Version: "1.0.0",
			Manifest: json.RawMessage(`{}`), Signature: json.RawMessage(`{}`)}
	}
	with := func(f func(*store.CatalogVersion)) *store.CatalogVersion { v := good(); f(v); return v }
	for _, c := range []struct {
		name string
		p    *store.CatalogPublishParams
		err  string
	}{
		{"nil", nil, "store: CatalogPublish needs a publisher and a version"},
		{"no version", &store.CatalogPublishParams{Publisher: "acme"}, "store: CatalogPublish needs a publisher and a version"},
		{"no publisher", &store.CatalogPublishParams{Version: good()}, "store: CatalogPublish needs a publisher and a version"},
		{"no name", &store.CatalogPublishParams{Publisher: "acme", Version: with(func(v *store.CatalogVersion) { v.Name = "" })},
			"store: CatalogPublish needs a publisher and a version"},
		{"no version number", &store.CatalogPublishParams{Publisher: "acme", Version: with(func(v *store.CatalogVersion) { v.Version = "" })},
			"store: CatalogPublish needs a publisher and a version"},
		{"bad manifest", &store.CatalogPublishParams{Publisher: "acme", Version: with(func(v *store.CatalogVersion) { v.Manifest = json.RawMessage(`{`) })},
			"store: catalog manifest is not valid JSON"},
		{"bad signature", &store.CatalogPublishParams{Publisher: "acme", Version: with(func(v *store.CatalogVersion) { v.Signature = json.RawMessage(`x`) })},
			"store: catalog signature is not valid JSON"},
		{"no manifest", &store.CatalogPublishParams{Publisher: "acme", Version: with(func(v *store.CatalogVersion) { v.Manifest = nil })},
			"store: a catalog version needs its manifest and signature"},
		{"no signature", &store.CatalogPublishParams{Publisher: "acme", Version: with(func(v *store.CatalogVersion) { v.Signature = json.RawMessage{} })},
			"store: a catalog version needs its manifest and signature"},
	} {
		_, _, err := record.NewCatalogVersion("tn_1", c.p)
		require.EqualError(t, err, c.err, c.name)
	}
}
