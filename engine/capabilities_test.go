package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/store"
)

// probeWorkflow runs test/secret-probe with params and secret bindings.
func probeWorkflow(params, secrets string) string {
	return fmt.Sprintf(`{"name": "secrets", "nodes": [
		{"name": "start", "type": "trigger.manual"},
		{"name": "probe", "module": "test/secret-probe@1.0.0", "params": %s, "secrets": %s}],
		"connections": [{"from": "start", "to": "probe"}]}`, params, secrets)
}

// hostCalls decodes a node run's record of host function calls.
func hostCalls(t *testing.T, run *store.NodeRun) []registry.HostCall {
	t.Helper()
	var calls []registry.HostCall
	if len(run.HostCalls) > 0 {
		require.NoError(t, json.Unmarshal(run.HostCalls, &calls), "%s", run.HostCalls)
	}
	return calls
}

// audit lists the tenant's audit entries of one action, oldest first.
func (h *harness) audit(tenant, action string) []*store.AuditEntry {
	h.t.Helper()
	entries, _, err := h.store.AuditList(context.Background(), tenant, store.AuditFilter{Action: action}, store.Page{Limit: store.MaxPageSize})
	require.NoError(h.t, err)
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	return entries
}

// TestSecretReads: a node reads the secret its node binds; the value reaches
// the guest, while its output, logs and error as stored hold only a
// redaction, the run records the read, and the audit log names the run.
// The plaintext is nowhere in the database.
func TestSecretReads(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, m, harnessOpts{})
			const plaintext = "xoxb-PLAINTEXT-4242"
			h.putSecret(h.tenant, "slack-prod", plaintext)

			wf := h.save(probeWorkflow(`{"read": ["token"]}`, `{"token": "slack-prod"}`))
			r := h.run(wf)
			require.Equal(t, store.ExecutionSucceeded, r.ex.Status, "%s", r.ex.Error)
			probe := r.node(t, "probe")
			require.Equal(t, []map[string]any{{"name": "token", "value": "[redacted:slack-prod]"}}, r.items(t, "probe"))
			require.Contains(t, string(probe.Logs), "read token: [redacted:slack-prod]")
			calls := hostCalls(t, probe)
			require.Len(t, calls, 1)
			require.Equal(t, registry.HostCall{Kind: "secret_read", At: calls[0].At, Name: "token", Secret: "slack-prod", Via: "secret_get"}, calls[0])
			// Once per time the run ran (a lease that expired on a loaded
			// machine can make it twice).
			reads := h.audit(h.tenant, "secret.read")
			require.NotEmpty(t, reads)
			require.Equal(t, "node_run:"+probe.ID, reads[0].Actor)
			require.Equal(t, "slack-prod", reads[0].Resource)
			require.Contains(t, string(reads[0].Detail), `"execution_id":"`+r.ex.ID+`"`)

			// A failure whose message holds the value is redacted too.
			wf = h.save(probeWorkflow(`{"read": ["token", "token"], "fail": true}`, `{"token": "slack-prod"}`))
			r = h.run(wf)
			require.Equal(t, store.ExecutionFailed, r.ex.Status)
			e := runError(t, r.node(t, "probe"))
			require.Equal(t, "failing with [redacted:slack-prod] [redacted:slack-prod]", e.Message)
			require.NotContains(t, string(r.ex.Error), plaintext)
			require.GreaterOrEqual(t, len(h.audit(h.tenant, "secret.read")), len(reads)+2, "every read is audited")

			require.Empty(t, h.stored(plaintext), "the plaintext is stored")
			require.NotEmpty(t, h.stored("[redacted:slack-prod]"), "the scan finds what is stored")
		})
	}
}

// TestSecretRefusals: an undeclared name, a declared but unbound one, a
// binding to a secret the tenant does not have, and one to another
// tenant's secret each fail the run with secret_not_granted, are recorded
// and audited, and hand over nothing.
func TestSecretRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, modes[0], harnessOpts{})
	h.putSecret(h.tenant, "slack-prod", "value-of-a")
	other, err := h.store.TenantInsert(context.Background(), "other")
	require.NoError(t, err)
	h.putSecret(other.ID, "only-in-other", "value-of-b")

	for name, tc := range map[string]struct {
		params, secrets, reason string
	}{
		"undeclared":        {`{"read": ["admin"]}`, `{"token": "slack-prod"}`, `module test/secret-probe@1.0.0 does not declare it`},
		"unbound":           {`{"read": ["other"]}`, `{"token": "slack-prod"}`, `node "probe" does not bind it`},
		"missing":           {`{"read": ["token"]}`, `{"token": "nope"}`, `binds it to secret "nope", which the tenant does not have`},
		"another tenant's":  {`{"read": ["token"]}`, `{"token": "only-in-other"}`, `binds it to secret "only-in-other", which the tenant does not have`},
		"after a good read": {`{"read": ["token", "other"]}`, `{"token": "slack-prod"}`, `node "probe" does not bind it`},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.run(h.save(probeWorkflow(tc.params, tc.secrets)))
			require.Equal(t, store.ExecutionFailed, r.ex.Status)
			probe := r.node(t, "probe")
			e := runError(t, probe)
			require.Equal(t, "secret_not_granted", e.Kind, e.Message)
			require.Contains(t, e.Message, tc.reason)
			calls := hostCalls(t, probe)
			require.NotEmpty(t, calls)
			last := calls[len(calls)-1]
			require.Equal(t, "secret_read", last.Kind)
			require.Contains(t, last.Error, tc.reason)
			require.Empty(t, probe.Output)
		})
	}
	refused := h.audit(h.tenant, "secret.read_refused")
	require.Len(t, refused, 5)
	for _, e := range refused {
		require.True(t, strings.HasPrefix(e.Actor, "node_run:"), e.Actor)
	}
	require.Empty(t, h.audit(other.ID, "secret.read_refused"), "tenant B's log is B's")
	require.Empty(t, h.stored("value-of-b"))
}
