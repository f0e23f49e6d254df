package storetest

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// boundNode is a module node that binds the names its module declares to
// secrets of the tenant.
func boundNode(name string, secrets map[string]string) workflow.Node {
	return workflow.Node{Name: name, Module: "wasmflow/slack@^1", Secrets: secrets}
}

// boundWorkflow is a definition named name with the given nodes.
func boundWorkflow(name string, nodes ...workflow.Node) *workflow.Workflow {
	return &workflow.Workflow{Name: name, Nodes: nodes}
}

// bindingsOf returns the secret bindings of a workflow's current
// definition, computed here from the definition, in list order.
func bindingsOf(ws ...*store.Workflow) []*store.SecretBinding {
	var out []*store.SecretBinding
	for _, w := range ws {
		for _, n := range w.Definition.Nodes {
			for name, secret := range n.Secrets {
				out = append(out, &store.SecretBinding{WorkflowID: w.ID, WorkflowName: w.Definition.Name,
					Node: n.Name, Name: name, Secret: secret})
			}
		}
	}
	sortBindings(out)
	return out
}

// sortBindings sorts bindings as SecretBindingList does: by secret,
// workflow id, node and name, in byte order.
func sortBindings(bs []*store.SecretBinding) {
	slices.SortFunc(bs, func(a, b *store.SecretBinding) int {
		return cmp.Or(cmp.Compare(a.Secret, b.Secret), cmp.Compare(a.WorkflowID, b.WorkflowID),
			cmp.Compare(a.Node, b.Node), cmp.Compare(a.Name, b.Name))
	})
}

// filterBindings keeps the bindings to the secrets named.
func filterBindings(bs []*store.SecretBinding, secrets ...string) []*store.SecretBinding {
	var out []*store.SecretBinding
	for _, b := range bs {
		if slices.Contains(secrets, b.Secret) {
			out = append(out, b)
		}
	}
	return out
}

// bindings lists the tenant's bindings to the secrets named (all when none).
func bindings(t testing.TB, s store.Store, tenant string, secrets ...string) []*store.SecretBinding {
	t.Helper()
	bs, err := s.SecretBindingList(t.Context(), tenant, secrets)
	require.NoError(t, err)
	return bs
}

func secretBindingCases() []testCase {
	return []testCase{
		{"SecretBindingListFollowsSaves", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			require.Empty(t, bindings(t, s, tenant), "a new tenant has none")

			def := sampleWorkflow("billing") // its node "hash" binds "key" to "hash_key"
			def.Nodes = append(def.Nodes, boundNode("notify", map[string]string{"token": "slack-prod", "signing": "slack-signing"}))
			w, err := s.WorkflowInsert(ctx, tenant, def)
			require.NoError(t, err)
			other, err := s.WorkflowInsert(ctx, tenant, boundWorkflow("other", boundNode("post", map[string]string{"token": "slack-prod"})))
			require.NoError(t, err)
			want := []*store.SecretBinding{
				{WorkflowID: w.ID, WorkflowName: "billing", Node: "hash", Name: "key", Secret: "hash_key"},
				{WorkflowID: w.ID, WorkflowName: "billing", Node: "notify", Name: "token", Secret: "slack-prod"},
				{WorkflowID: w.ID, WorkflowName: "billing", Node: "notify", Name: "signing", Secret: "slack-signing"},
				{WorkflowID: other.ID, WorkflowName: "other", Node: "post", Name: "token", Secret: "slack-prod"},
			}
			sortBindings(want)
			require.Equal(t, want, bindings(t, s, tenant), "what the inserts stored")

			// A new version replaces the bindings: one changed, one moved to
			// a new node, the others gone; the workflow is renamed.
			def = boundWorkflow("billing-v2",
				boundNode("notify", map[string]string{"token": "slack-staging"}),
				boundNode("audit", map[string]string{"token": "slack-prod"}),
				workflow.Node{Name: "start", Type: workflow.TypeManualTrigger})
			up, err := s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{Definition: *def})
			require.NoError(t, err)
			want = []*store.SecretBinding{
				{WorkflowID: w.ID, WorkflowName: "billing-v2", Node: "audit", Name: "token", Secret: "slack-prod"},
				{WorkflowID: w.ID, WorkflowName: "billing-v2", Node: "notify", Name: "token", Secret: "slack-staging"},
				{WorkflowID: other.ID, WorkflowName: "other", Node: "post", Name: "token", Secret: "slack-prod"},
			}
			sortBindings(want)
			require.Equal(t, want, bindings(t, s, tenant))
			require.Equal(t, bindingsOf(up, other), bindings(t, s, tenant))

			// A failed update changes nothing.
			_, err = s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{
				Definition: *boundWorkflow("stale", boundNode("x", map[string]string{"y": "z"})), ExpectedVersion: 1})
			require.ErrorIs(t, err, store.ErrConflict)
			require.Equal(t, bindingsOf(up, other), bindings(t, s, tenant))

			// A rename alone renames the workflow in every binding.
			def.Name = "billing-renamed"
			up, err = s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{Definition: *def, Active: ptr(true)})
			require.NoError(t, err)
			got := bindings(t, s, tenant)
			require.Equal(t, bindingsOf(up, other), got)
			for _, b := range filterBindings(got, "slack-staging") {
				require.Equal(t, "billing-renamed", b.WorkflowName)
			}

			// A version whose nodes bind nothing has no bindings.
			up, err = s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{Definition: *sampleWorkflow("plain")})
			require.NoError(t, err)
			require.Equal(t, bindingsOf(up, other), bindings(t, s, tenant))
			up, err = s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{Definition: *boundWorkflow("none")})
			require.NoError(t, err)
			require.Equal(t, bindingsOf(other), bindings(t, s, tenant))
			require.Empty(t, bindingsOf(up))

			// A deleted workflow's bindings are gone; the others stay.
			_, err = s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{Definition: *def})
			require.NoError(t, err)
			require.NoError(t, s.WorkflowDelete(ctx, tenant, w.ID))
			require.Equal(t, bindingsOf(other), bindings(t, s, tenant))
			require.Empty(t, bindings(t, s, tenant, "slack-staging"))
			require.NoError(t, s.WorkflowDelete(ctx, tenant, other.ID))
			require.Empty(t, bindings(t, s, tenant))
		}},
		{"SecretBindingListFilterAndOrder", func(t *testing.T, s store.Store) {
			tenant := newTenant(t, s)
			// Names that sort differently in byte order and in a locale's.
			secrets := []string{"z", "a", "B", "a_1", "a-1", "a1", "ü", "A"}
			var ws []*store.Workflow
			for i := range 4 {
				var nodes []workflow.Node
				for j, node := range []string{"b", "a", "B", "a b"} {
					nodes = append(nodes, boundNode(node, map[string]string{
						"token":  secrets[(i+j)%len(secrets)],
						"Token":  secrets[(i+2*j+1)%len(secrets)],
						"key_id": secrets[(i*j+3)%len(secrets)],
					}))
				}
				w, err := s.WorkflowInsert(t.Context(), tenant, boundWorkflow(unique("wf"), nodes...))
				require.NoError(t, err)
				ws = append(ws, w)
			}
			all := bindingsOf(ws...)
			require.Len(t, all, 4*4*3)

			got := bindings(t, s, tenant)
			require.Equal(t, all, got, "sorted by secret, workflow id, node and name, in byte order")
			none, err := s.SecretBindingList(t.Context(), tenant, []string{})
			require.NoError(t, err)
			require.Equal(t, all, none, "an empty filter is no filter")

			for _, names := range [][]string{
				{"a"}, {"ü"}, {"A", "a"}, {"ü", "B", "a-1"}, {"z", "a", "B", "a_1", "a-1", "a1", "ü", "A"},
			} {
				want := filterBindings(all, names...)
				require.NotEmpty(t, want, "%q", names)
				require.Equal(t, want, bindings(t, s, tenant, names...), "%q", names)
				reversed := slices.Clone(names)
				slices.Reverse(reversed)
				require.Equal(t, want, bindings(t, s, tenant, reversed...), "the order of the names does not matter")
			}
			require.Equal(t, filterBindings(all, "a", "z"), bindings(t, s, tenant, "a", "z", "a", "z", "a"),
				"a name given twice lists its bindings once")
			require.Empty(t, bindings(t, s, tenant, "missing"))
			require.Empty(t, bindings(t, s, tenant, "u\u0308")) // "ü" written with a combining mark: another name
			require.Equal(t, filterBindings(all, "a"), bindings(t, s, tenant, "missing", "a"))
		}},
		{"SecretBindingListConcurrentSaves", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			tenant := newTenant(t, s)
			w, err := s.WorkflowInsert(ctx, tenant, boundWorkflow("w", boundNode("n", map[string]string{"token": "first"})))
			require.NoError(t, err)
			const n = 10
			save := func() error {
				_, err := s.WorkflowUpdate(ctx, tenant, w.ID, &store.WorkflowUpdateParams{
					Definition: *boundWorkflow(unique("w"), boundNode("n", map[string]string{"token": unique("s")}),
						boundNode(unique("node"), map[string]string{"token": "shared"}))})
				return err
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = save() })
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			current, err := s.WorkflowGet(ctx, tenant, w.ID)
			require.NoError(t, err)
			require.Equal(t, 1+n, current.Version)
			require.Equal(t, bindingsOf(current), bindings(t, s, tenant), "the bindings are the current version's")

			// Saves racing a delete: whichever comes last, a deleted
			// workflow leaves no binding behind.
			for i := range n {
				wg.Go(func() { errs[i] = save() })
			}
			require.NoError(t, s.WorkflowDelete(ctx, tenant, w.ID))
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					require.ErrorIs(t, err, store.ErrNotFound, "a save after the delete")
				}
			}
			require.Empty(t, bindings(t, s, tenant))
			require.Empty(t, bindings(t, s, tenant, "shared"))
		}},
		{"SecretBindingTenantIsolation", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a, b := newTenant(t, s), newTenant(t, s)
			def := boundWorkflow("same", boundNode("n", map[string]string{"token": "slack-prod"}))
			wa, err := s.WorkflowInsert(ctx, a, def)
			require.NoError(t, err)
			wb, err := s.WorkflowInsert(ctx, b, def)
			require.NoError(t, err)
			require.Equal(t, bindingsOf(wa), bindings(t, s, a), "A never sees B's workflow of the same names")
			require.Equal(t, bindingsOf(wa), bindings(t, s, a, "slack-prod"))
			require.Equal(t, bindingsOf(wb), bindings(t, s, b), "B never sees A's")
			require.Equal(t, bindingsOf(wb), bindings(t, s, b, "slack-prod"))
			require.Empty(t, bindings(t, s, "tn_missing"))
			require.Empty(t, bindings(t, s, "tn_missing", "slack-prod"))

			// B cannot change or delete A's workflow, nor its bindings.
			_, err = s.WorkflowUpdate(ctx, b, wa.ID, &store.WorkflowUpdateParams{
				Definition: *boundWorkflow("evil", boundNode("n", map[string]string{"token": "evil"}))})
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, s.WorkflowDelete(ctx, b, wa.ID), store.ErrNotFound)
			require.Equal(t, bindingsOf(wa), bindings(t, s, a), "tenant B changed nothing")
			require.Empty(t, bindings(t, s, b, "evil"))

			// Saving and deleting B's workflow leaves A's bindings alone.
			_, err = s.WorkflowUpdate(ctx, b, wb.ID, &store.WorkflowUpdateParams{Definition: *boundWorkflow("renamed")})
			require.NoError(t, err)
			require.Empty(t, bindings(t, s, b))
			require.NoError(t, s.WorkflowDelete(ctx, b, wb.ID))
			require.Equal(t, bindingsOf(wa), bindings(t, s, a))
		}},
	}
}
