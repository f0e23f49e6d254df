package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// calls returns one call of every method, with arguments that would
// succeed on a store holding the given tenant and workflow.
func calls(s store.Store, tenant string, w *store.Workflow) map[string]func(ctx context.Context) error {
	wasm := []byte("wasm")
	return map[string]func(ctx context.Context) error{
		"Ping":            func(ctx context.Context) error { return s.Ping(ctx) },
		"TenantInsert":    func(ctx context.Context) error { _, err := s.TenantInsert(ctx, unique("t")); return err },
		"TenantGet":       func(ctx context.Context) error { _, err := s.TenantGet(ctx, tenant); return err },
		"TenantGetByName": func(ctx context.Context) error { _, err := s.TenantGetByName(ctx, "x"); return err },
		"TenantCount":     func(ctx context.Context) error { _, err := s.TenantCount(ctx); return err },
		"APIKeyInsert": func(ctx context.Context) error {
			_, err := s.APIKeyInsert(ctx, tenant, newKeyParams("k"))
			return err
		},
		"APIKeyGetByHash": func(ctx context.Context) error { _, err := s.APIKeyGetByHash(ctx, []byte("h")); return err },
		"APIKeyGet":       func(ctx context.Context) error { _, err := s.APIKeyGet(ctx, tenant, "ak_x"); return err },
		"APIKeyList": func(ctx context.Context) error {
			_, _, err := s.APIKeyList(ctx, tenant, store.Page{})
			return err
		},
		"APIKeyRevoke": func(ctx context.Context) error { return s.APIKeyRevoke(ctx, tenant, "ak_x") },
		"UserInsert":   func(ctx context.Context) error { _, err := s.UserInsert(ctx, unique("u")+"@x", "h"); return err },
		"UserGet":      func(ctx context.Context) error { _, err := s.UserGet(ctx, "us_x"); return err },
		"UserGetByEmail": func(ctx context.Context) error {
			_, err := s.UserGetByEmail(ctx, "x@x")
			return err
		},
		"MembershipInsert": func(ctx context.Context) error {
			_, err := s.MembershipInsert(ctx, tenant, "us_x", "viewer")
			return err
		},
		"MembershipGet": func(ctx context.Context) error { _, err := s.MembershipGet(ctx, tenant, "us_x"); return err },
		"MembershipList": func(ctx context.Context) error {
			_, _, err := s.MembershipList(ctx, tenant, store.Page{})
			return err
		},
		"MembershipListByUser": func(ctx context.Context) error {
			_, err := s.MembershipListByUser(ctx, "us_x")
			return err
		},
		"MembershipUpdate": func(ctx context.Context) error {
			_, err := s.MembershipUpdate(ctx, tenant, "us_x", "viewer")
			return err
		},
		"MembershipDelete": func(ctx context.Context) error { return s.MembershipDelete(ctx, tenant, "us_x") },
		"RefreshTokenInsert": func(ctx context.Context) error {
			_, err := s.RefreshTokenInsert(ctx, tenant, "us_x", "", []byte("h"), time.Now())
			return err
		},
		"RefreshTokenRevokeFamily": func(ctx context.Context) error {
			_, err := s.RefreshTokenRevokeFamily(ctx, tenant, "rt_x")
			return err
		},
		"RefreshTokenUse": func(ctx context.Context) error { _, err := s.RefreshTokenUse(ctx, []byte("h")); return err },
		"WorkflowInsert": func(ctx context.Context) error {
			_, err := s.WorkflowInsert(ctx, tenant, sampleWorkflow("x"))
			return err
		},
		"WorkflowGet": func(ctx context.Context) error { _, err := s.WorkflowGet(ctx, tenant, w.ID); return err },
		"WorkflowList": func(ctx context.Context) error {
			_, _, err := s.WorkflowList(ctx, tenant, store.Page{})
			return err
		},
		"WorkflowUpdate": func(ctx context.Context) error {
			_, err := s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{Definition: w.Definition})
			return err
		},
		"WorkflowDelete": func(ctx context.Context) error { return s.WorkflowDelete(ctx, tenant, w.ID) },
		"WorkflowVersionGet": func(ctx context.Context) error {
			_, err := s.WorkflowVersionGet(ctx, tenant, w.ID, 1)
			return err
		},
		"WorkflowVersionList": func(ctx context.Context) error {
			_, _, err := s.WorkflowVersionList(ctx, tenant, w.ID, store.Page{})
			return err
		},
		"ModuleVersionInsert": func(ctx context.Context) error {
			_, err := s.ModuleVersionInsert(ctx, tenant, moduleVersion("a/b", "1.0.0", wasm), wasm)
			return err
		},
		"ModuleVersionGet": func(ctx context.Context) error {
			_, err := s.ModuleVersionGet(ctx, tenant, "a/b", "1.0.0")
			return err
		},
		"ModuleVersionList": func(ctx context.Context) error {
			_, err := s.ModuleVersionList(ctx, tenant, "a/b")
			return err
		},
		"ModuleList": func(ctx context.Context) error {
			_, _, err := s.ModuleList(ctx, tenant, store.Page{})
			return err
		},
		"ModuleBlobGet": func(ctx context.Context) error {
			_, err := s.ModuleBlobGet(ctx, tenant, digestOf(wasm))
			return err
		},
		"ExecutionInsert": func(ctx context.Context) error {
			_, _, err := s.ExecutionInsert(ctx, tenant, &store.ExecutionInsertParams{
				WorkflowID: w.ID, WorkflowVersion: 1, Runs: runs(2)})
			return err
		},
		"ExecutionGet": func(ctx context.Context) error { _, err := s.ExecutionGet(ctx, tenant, "ex_x"); return err },
		"ExecutionList": func(ctx context.Context) error {
			_, _, err := s.ExecutionList(ctx, tenant, store.ExecutionFilter{}, store.Page{})
			return err
		},
		"NodeRunList": func(ctx context.Context) error { _, err := s.NodeRunList(ctx, tenant, "ex_x"); return err },
		"RunClaim": func(ctx context.Context) error {
			_, err := s.RunClaim(ctx, tenant, "nr_x", time.Now().Add(time.Minute))
			return err
		},
		"RunExtendLease": func(ctx context.Context) error {
			return s.RunExtendLease(ctx, tenant, "nr_x", "token", time.Now().Add(time.Minute))
		},
		"RunFinish": func(ctx context.Context) error {
			_, err := s.RunFinish(ctx, tenant, &store.RunFinishParams{RunID: "nr_x", ClaimToken: "token", Status: store.RunSucceeded})
			return err
		},
		"RunRequeueExpired": func(ctx context.Context) error { _, err := s.RunRequeueExpired(ctx, time.Now(), 10); return err },
		"OutboxDue": func(ctx context.Context) error {
			_, err := s.OutboxDue(ctx, time.Now(), time.Now(), 10)
			return err
		},
		"OutboxDelete":    func(ctx context.Context) error { return s.OutboxDelete(ctx, tenant, "nr_x") },
		"ExecutionCancel": func(ctx context.Context) error { _, err := s.ExecutionCancel(ctx, tenant, "ex_x"); return err },
		"ExecutionResume": func(ctx context.Context) error {
			_, _, err := s.ExecutionResume(ctx, tenant, "ex_x", &store.ExecutionResumeParams{
				Runs: []*store.NodeRun{{Node: "a", Attempt: 2, Status: store.RunQueued}}})
			return err
		},
		"ExecutionFailExpired": func(ctx context.Context) error {
			_, err := s.ExecutionFailExpired(ctx, time.Now(), json.RawMessage(`{}`), 10)
			return err
		},
		"ExecutionPrune": func(ctx context.Context) error { _, err := s.ExecutionPrune(ctx, time.Now(), 10); return err },
		"SecretInsert": func(ctx context.Context) error {
			_, err := s.SecretInsert(ctx, tenant, newSecret(unique("s")))
			return err
		},
		"SecretUpdate": func(ctx context.Context) error { _, err := s.SecretUpdate(ctx, tenant, newSecret("s")); return err },
		"SecretGet":    func(ctx context.Context) error { _, err := s.SecretGet(ctx, tenant, "s"); return err },
		"SecretList": func(ctx context.Context) error {
			_, _, err := s.SecretList(ctx, tenant, store.Page{})
			return err
		},
		"SecretDelete": func(ctx context.Context) error { return s.SecretDelete(ctx, tenant, "s") },
		"SecretCount": func(ctx context.Context) error {
			_, err := s.SecretCount(ctx, tenant)
			return err
		},
		"SecretBindingList": func(ctx context.Context) error {
			_, err := s.SecretBindingList(ctx, tenant, []string{"hash_key", "s"})
			return err
		},
		"AuditInsert": func(ctx context.Context) error {
			return s.AuditInsert(ctx, tenant, &store.AuditEntry{Actor: "system", Action: "x"})
		},
		"AuditList": func(ctx context.Context) error {
			_, _, err := s.AuditList(ctx, tenant, store.AuditFilter{}, store.Page{})
			return err
		},
	}
}

func lifecycleCases() []testCase {
	return []testCase{
		{"Ping", func(t *testing.T, s store.Store) {
			require.NoError(t, s.Ping(t.Context()))
		}},
		{"ClosedStoreFails", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			require.NoError(t, s.Close())
			for name, call := range calls(s, tenant, w) {
				require.Error(t, call(t.Context()), "%s on a closed store", name)
			}
		}},
		{"CancelledContextFails", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			w := insertWorkflow(t, s, tenant)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			for name, call := range calls(s, tenant, w) {
				require.ErrorIs(t, call(ctx), context.Canceled, "%s with a cancelled context", name)
			}
			// Nothing was written.
			list, _, err := s.WorkflowList(t.Context(), tenant, store.Page{})
			require.NoError(t, err)
			require.Equal(t, []*store.Workflow{w}, list)
			n, err := s.TenantCount(t.Context())
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"NilParamsFail", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			ctx := t.Context()
			_, err := s.APIKeyInsert(ctx, tenant, nil)
			require.Error(t, err)
			_, err = s.WorkflowInsert(ctx, tenant, (*workflow.Workflow)(nil))
			require.Error(t, err)
			_, err = s.WorkflowUpdate(ctx, tenant, "wf_x", nil)
			require.Error(t, err)
			_, err = s.ModuleVersionInsert(ctx, tenant, nil, []byte("x"))
			require.Error(t, err)
			_, _, err = s.ExecutionInsert(ctx, tenant, nil)
			require.Error(t, err)
			_, err = s.RunFinish(ctx, tenant, nil)
			require.Error(t, err)
			_, _, err = s.ExecutionResume(ctx, tenant, "ex_x", nil)
			require.Error(t, err)
			_, err = s.SecretInsert(ctx, tenant, nil)
			require.Error(t, err)
			_, err = s.SecretUpdate(ctx, tenant, nil)
			require.Error(t, err)
			require.Error(t, s.AuditInsert(ctx, tenant, nil))
			require.Error(t, s.AuditInsert(ctx, tenant, &store.AuditEntry{Detail: json.RawMessage("nope")}))
		}},
	}
}
