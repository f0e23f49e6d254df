// Package backendtest holds what the two store backends' own tests share
// beyond the conformance suite (store/storetest): the migration cases, the
// reads that the query plan tests explain, and the test logger. Only
// _test.go files import it.
package backendtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Logger logs to the test log; benchmarks, which print every line they
// log, get none (nil: the store's default discards).
func Logger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return nil
	}
	return testdb.Logger(t)
}

// Store is a backend's store with its schema methods.
type Store interface {
	store.Store
	Migrate(ctx context.Context) error
	MigrateTo(ctx context.Context, version int) error
	SchemaVersion(ctx context.Context) (int, error)
}

// DB is one fresh, empty database for the migration cases.
type DB struct {
	// OpenFunc opens a store on the database without migrating it, closed
	// when the test ends.
	OpenFunc func(t *testing.T) Store
	// OpenAndMigrateFunc opens a store on the database and migrates it; the
	// cases call it only where it must fail.
	OpenAndMigrateFunc func(t *testing.T) error
	// DumpFunc describes every table, column and index of the database,
	// sorted, so that two schemas compare.
	DumpFunc func(t *testing.T) []string
	// ExecFunc runs a statement on the database beside the store.
	ExecFunc func(t *testing.T, stmt string)
}

// secretBindingsVersion is the migration that adds the secret_bindings
// table.
const secretBindingsVersion = 3

// RunMigrations runs the migration cases, each in parallel on a database of
// its own returned by newDB. latest is the newest version the binary knows.
func RunMigrations(t *testing.T, latest int, newDB func(t *testing.T) DB) {
	t.Run("MigrateIsIdempotent", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		s := db.OpenFunc(t)
		v, err := s.SchemaVersion(t.Context())
		require.NoError(t, err)
		require.Zero(t, v)

		require.NoError(t, s.Migrate(t.Context()))
		first := db.DumpFunc(t)
		require.NoError(t, s.Migrate(t.Context()), "migrating again does nothing")
		require.Equal(t, first, db.DumpFunc(t))
		v, err = s.SchemaVersion(t.Context())
		require.NoError(t, err)
		require.Equal(t, latest, v)
		_, err = s.TenantInsert(t.Context(), "works")
		require.NoError(t, err)
	})

	t.Run("MigrateDownAndUp", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		s := db.OpenFunc(t)
		require.NoError(t, s.Migrate(t.Context()))
		up := db.DumpFunc(t)

		require.NoError(t, s.MigrateTo(t.Context(), 0))
		v, err := s.SchemaVersion(t.Context())
		require.NoError(t, err)
		require.Zero(t, v)
		for _, obj := range db.DumpFunc(t) {
			require.Contains(t, obj, "schema_migrations", "down leaves only the migrations table")
		}

		require.NoError(t, s.MigrateTo(t.Context(), latest))
		require.Equal(t, up, db.DumpFunc(t), "up, down, up gives the same schema")
	})

	t.Run("MigrateReadsSecretBindings", func(t *testing.T) {
		// The version that adds the bindings reads those of the workflows
		// saved before it from their current definitions, as saves write
		// them.
		t.Parallel()
		ctx := t.Context()
		s := newDB(t).OpenFunc(t)
		require.NoError(t, s.Migrate(ctx))
		var tenants []string
		for _, name := range []string{"a", "b"} {
			tn, err := s.TenantInsert(ctx, name)
			require.NoError(t, err)
			tenants = append(tenants, tn.ID)
			bound := func(name string, secrets map[string]string) workflow.Node {
				return workflow.Node{Name: name, Module: "x/y@1", Secrets: secrets}
			}
			for _, def := range []*workflow.Workflow{
				{Name: "one", Description: "a NUL \u0000 and \\u0000, escaped", Nodes: []workflow.Node{
					bound("n", map[string]string{"token": "slack", "key": "hmac"}),
					{Name: "start", Type: workflow.TypeManualTrigger},
					// A node name that comes twice keeps its first node's bindings.
					bound("n", map[string]string{"token": "other", "extra": "more"}),
					bound("ünï \"quoted\"", map[string]string{"tøken": "slack"}),
				}},
				{Name: "none"}, // "nodes": null
				{Name: "empty", Nodes: []workflow.Node{{Name: "start", Type: workflow.TypeManualTrigger}}},
			} {
				_, err := s.WorkflowInsert(ctx, tn.ID, def)
				require.NoError(t, err)
			}
			renamed, err := s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "before",
				Nodes: []workflow.Node{bound("n", map[string]string{"token": "old"})}})
			require.NoError(t, err)
			_, err = s.WorkflowUpdate(ctx, tn.ID, renamed.ID, &store.WorkflowUpdateParams{Definition: workflow.Workflow{
				Name: "after", Nodes: []workflow.Node{bound("n", map[string]string{"token": "new"})}}})
			require.NoError(t, err)
			deleted, err := s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "deleted",
				Nodes: []workflow.Node{bound("n", map[string]string{"token": "slack"})}})
			require.NoError(t, err)
			require.NoError(t, s.WorkflowDelete(ctx, tn.ID, deleted.ID))
		}
		want := map[string][]*store.SecretBinding{}
		for _, tn := range tenants {
			bs, err := s.SecretBindingList(ctx, tn, nil)
			require.NoError(t, err)
			require.Len(t, bs, 5)
			want[tn] = bs
		}

		require.NoError(t, s.MigrateTo(ctx, secretBindingsVersion-1))
		require.NoError(t, s.Migrate(ctx))
		for _, tn := range tenants {
			bs, err := s.SecretBindingList(ctx, tn, nil)
			require.NoError(t, err)
			require.Equal(t, want[tn], bs)
		}
	})

	t.Run("MigrateRefuses", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		s := db.OpenFunc(t)
		require.Error(t, s.MigrateTo(t.Context(), -1))
		require.Error(t, s.MigrateTo(t.Context(), latest+1))
		require.NoError(t, s.Migrate(t.Context()))

		// A database migrated by a newer binary is left alone.
		db.ExecFunc(t, `INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')`)
		require.ErrorContains(t, s.Migrate(t.Context()), "newer than this binary")
		require.Error(t, s.MigrateTo(t.Context(), 0))
		require.ErrorContains(t, db.OpenAndMigrateFunc(t), "newer than this binary")
	})

	t.Run("MigrateClosed", func(t *testing.T) {
		t.Parallel()
		s := newDB(t).OpenFunc(t)
		require.NoError(t, s.Close())
		require.Error(t, s.Migrate(t.Context()))
		require.Error(t, s.MigrateTo(t.Context(), 0))
		_, err := s.SchemaVersion(t.Context())
		require.Error(t, err)
	})
}

// Reads runs every read of a store, and the reconciler's cross-tenant
// sweeps: Seed first, then ReadAll, while the backend records the
// statements that ReadAll runs.
type Reads struct {
	s        store.Store
	tenant   string
	workflow string
	exec     string
	user     string
}

// Seed stores a few records of every kind, in a new tenant named "t", for
// ReadAll to find.
func Seed(t *testing.T, s store.Store) *Reads {
	t.Helper()
	ctx := t.Context()
	tn, err := s.TenantInsert(ctx, "t")
	require.NoError(t, err)
	w, err := s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "w", Nodes: []workflow.Node{
		{Name: "a", Module: "x/y@1", Secrets: map[string]string{"token": "s1", "key": "s2"}},
		{Name: "b", Module: "x/y@1", Secrets: map[string]string{"token": "s1"}},
	}})
	require.NoError(t, err)
	_, err = s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "v", Nodes: []workflow.Node{
		{Name: "a", Module: "x/y@1", Secrets: map[string]string{"token": "s2"}},
	}})
	require.NoError(t, err)
	var user string
	for i := range 3 {
		u, err := s.UserInsert(ctx, store.NewID("u")+"@x", "h")
		require.NoError(t, err)
		_, err = s.MembershipInsert(ctx, tn.ID, u.ID, []string{"owner", "viewer", "owner"}[i])
		require.NoError(t, err)
		user = u.ID
	}
	var ex *store.Execution
	deadline := time.Now().Add(time.Hour)
	for range 3 {
		ex, _, err = s.ExecutionInsert(ctx, tn.ID, &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1,
			DeadlineAt: &deadline, Runs: []*store.NodeRun{{Node: "a", Status: store.RunQueued}, {Node: "b", Pending: 1}}})
		require.NoError(t, err)
		require.NoError(t, s.AuditInsert(ctx, tn.ID, &store.AuditEntry{Actor: "system", Action: "x"}))
		_, err = s.APIKeyInsert(ctx, tn.ID, &store.APIKeyInsertParams{Hash: []byte(store.NewID("h"))})
		require.NoError(t, err)
		_, err = s.SecretInsert(ctx, tn.ID, &store.Secret{Name: store.NewID("s"), Ciphertext: []byte("c"), WrappedKey: []byte("k")})
		require.NoError(t, err)
		wasm := []byte(store.NewID("wasm"))
		sum := sha256.Sum256(wasm)
		_, err = s.ModuleVersionInsert(ctx, tn.ID, &store.ModuleVersion{Name: store.NewID("m"), Version: "1.0.0",
			Digest: "sha256:" + hex.EncodeToString(sum[:])}, wasm)
		require.NoError(t, err)
	}
	return &Reads{s: s, tenant: tn.ID, workflow: w.ID, exec: ex.ID, user: user}
}

// ReadAll runs every read method of the store, lookups of made-up keys
// included, and every list with each of its filters twice: the first page
// of one row, and the page after its cursor. It also runs the reconciler's
// cross-tenant sweeps (OutboxDue, RunRequeueExpired, ExecutionFailExpired,
// ExecutionPrune, ExecutionWaitingTenants) and admissions (ExecutionAdmit),
// which find nothing to change in what Seed stored.
func (r *Reads) ReadAll(t *testing.T) {
	t.Helper()
	ctx, s, tenant, w := t.Context(), r.s, r.tenant, r.workflow
	since := time.Now().Add(-time.Hour)
	// Each read returns the next cursor of a list ("" for a lookup).
	one := func(err error) (string, error) { return "", err }
	reads := []func(store.Page) (string, error){
		func(store.Page) (string, error) { _, err := s.TenantGet(ctx, tenant); return one(err) },
		func(store.Page) (string, error) { _, err := s.TenantGetByName(ctx, "t"); return one(err) },
		func(store.Page) (string, error) { _, err := s.TenantCount(ctx); return one(err) },
		func(store.Page) (string, error) {
			_, err := s.APIKeyGetByHash(ctx, []byte("h"))
			return one(ignore(err))
		},
		func(store.Page) (string, error) {
			_, err := s.APIKeyGet(ctx, tenant, "ak_x")
			return one(ignore(err))
		},
		func(p store.Page) (string, error) { _, next, err := s.APIKeyList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) { _, err := s.UserGet(ctx, "us_x"); return one(ignore(err)) },
		func(store.Page) (string, error) { _, err := s.UserGetByEmail(ctx, "x@x"); return one(ignore(err)) },
		func(store.Page) (string, error) { _, err := s.MembershipGet(ctx, tenant, r.user); return one(err) },
		func(p store.Page) (string, error) { _, next, err := s.MembershipList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) { _, err := s.MembershipListByUser(ctx, r.user); return one(err) },
		func(store.Page) (string, error) { _, err := s.WorkflowGet(ctx, tenant, w); return one(err) },
		func(p store.Page) (string, error) { _, next, err := s.WorkflowList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) { _, err := s.WorkflowVersionGet(ctx, tenant, w, 1); return one(err) },
		func(p store.Page) (string, error) {
			_, next, err := s.WorkflowVersionList(ctx, tenant, w, p)
			return next, err
		},
		func(store.Page) (string, error) {
			_, err := s.ModuleVersionGet(ctx, tenant, "m", "1")
			return one(ignore(err))
		},
		func(store.Page) (string, error) {
			_, err := s.ModuleVersionList(ctx, tenant, "m")
			return one(ignore(err))
		},
		func(p store.Page) (string, error) { _, next, err := s.ModuleList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) {
			_, err := s.ModuleBlobGet(ctx, tenant, "sha256:x")
			return one(ignore(err))
		},
		func(store.Page) (string, error) { _, err := s.ExecutionGet(ctx, tenant, r.exec); return one(err) },
		func(store.Page) (string, error) { _, err := s.NodeRunList(ctx, tenant, r.exec); return one(err) },
		func(store.Page) (string, error) { _, err := s.SecretGet(ctx, tenant, "s"); return one(ignore(err)) },
		func(p store.Page) (string, error) { _, next, err := s.SecretList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) { _, err := s.SecretBindingList(ctx, tenant, nil); return one(err) },
		func(store.Page) (string, error) {
			_, err := s.SecretBindingList(ctx, tenant, []string{"s1"})
			return one(err)
		},
		func(store.Page) (string, error) {
			_, err := s.SecretBindingList(ctx, tenant, []string{"s2", "s1", "missing"})
			return one(err)
		},
		func(p store.Page) (string, error) {
			_, err := s.OutboxDue(ctx, time.Now(), time.Now(), p.Size())
			return one(err)
		},
		func(p store.Page) (string, error) {
			_, err := s.RunRequeueExpired(ctx, time.Now(), p.Size())
			return one(err)
		},
		func(p store.Page) (string, error) {
			_, err := s.ExecutionFailExpired(ctx, time.Now(), []byte(`{"message": "timed out"}`), p.Size())
			return one(err)
		},
		func(p store.Page) (string, error) { _, err := s.ExecutionPrune(ctx, since, p.Size()); return one(err) },
		func(p store.Page) (string, error) {
			_, err := s.ExecutionWaitingTenants(ctx, p.Size())
			return one(err)
		},
		func(store.Page) (string, error) { _, err := s.ExecutionAdmit(ctx, tenant, 2); return one(err) },
		func(store.Page) (string, error) { _, err := s.ExecutionAdmit(ctx, tenant, 0); return one(err) },
	}
	for _, f := range []store.ExecutionFilter{{}, {WorkflowID: w}, {Status: "queued"}, {WorkflowID: w, Status: "queued"}} {
		reads = append(reads, func(p store.Page) (string, error) {
			_, next, err := s.ExecutionList(ctx, tenant, f, p)
			return next, err
		})
	}
	for _, f := range []store.AuditFilter{
		{}, {Actor: "system"}, {Action: "x"}, {Actor: "system", Since: &since}, {Since: &since},
		{ActionPrefix: "x"}, {Resource: "r"}, {Resource: "r", Until: &since}, {Since: &since, Until: &since},
		{Actor: "system", ActionPrefix: "x"}, {Resource: "r", ActionPrefix: "x"},
	} {
		reads = append(reads, func(p store.Page) (string, error) {
			_, next, err := s.AuditList(ctx, tenant, f, p)
			return next, err
		})
	}
	for _, read := range reads {
		next, err := read(store.Page{Limit: 1})
		require.NoError(t, err)
		if next != "" {
			_, err = read(store.Page{Limit: 1, Cursor: next})
			require.NoError(t, err)
		}
	}
}

// ignore drops ErrNotFound, which lookups of made-up keys return.
func ignore(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
