package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// recorder is a pgx tracer that keeps every statement a store runs.
type recorder struct {
	mu    sync.Mutex
	stmts []traced
}

type traced struct {
	sql  string
	args []any
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, traced{d.SQL, d.Args})
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestListsUseIndexes runs every read of the store, then checks with
// EXPLAIN that each one reads through an index and that no list sorts: it
// is served in index order, so a page costs the same whatever the table
// size. Sequential scans, bitmap scans and sorts are disabled for the
// EXPLAIN, so that the plan shows what the indexes allow rather than what
// is cheapest on the test's few rows (the planner falls back to a disabled
// node only when nothing else can answer).
func TestListsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pc, err := pgxpool.ParseConfig(testdb.Postgres(t))
	require.NoError(t, err)
	rec := &recorder{}
	pc.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	require.NoError(t, err)
	s := &Store{pool: pool, log: slog.New(slog.DiscardHandler)}
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(ctx))

	tn, err := s.TenantInsert(ctx, "t")
	require.NoError(t, err)
	tenant := tn.ID
	w, err := s.WorkflowInsert(ctx, tenant, &workflow.Workflow{Name: "w"})
	require.NoError(t, err)
	for range 3 {
		_, _, err = s.ExecutionInsert(ctx, tenant, &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1,
			Runs: []*store.NodeRun{{Node: "a"}, {Node: "b"}}})
		require.NoError(t, err)
		require.NoError(t, s.AuditInsert(ctx, tenant, &store.AuditEntry{Actor: "system", Action: "x"}))
		_, err = s.APIKeyInsert(ctx, tenant, &store.APIKeyInsertParams{Hash: []byte(store.NewID("h"))})
		require.NoError(t, err)
		_, err = s.SecretInsert(ctx, tenant, &store.Secret{Name: store.NewID("s"), Ciphertext: []byte("c"), WrappedKey: []byte("k")})
		require.NoError(t, err)
		wasm := []byte(store.NewID("wasm"))
		sum := sha256.Sum256(wasm)
		_, err = s.ModuleVersionInsert(ctx, tenant, &store.ModuleVersion{Name: store.NewID("m"), Version: "1.0.0",
			Digest: "sha256:" + hex.EncodeToString(sum[:])}, wasm)
		require.NoError(t, err)
	}
	exs, _, err := s.ExecutionList(ctx, tenant, store.ExecutionFilter{}, store.Page{})
	require.NoError(t, err)

	rec.mu.Lock()
	rec.stmts = nil
	rec.mu.Unlock()
	since := time.Now().Add(-time.Hour)
	// Each read returns the next cursor of a list ("" for a lookup), so that
	// lists run twice: the first page, and a page after a cursor.
	one := func(err error) (string, error) { return "", err }
	reads := []func(store.Page) (string, error){
		func(store.Page) (string, error) { _, err := s.TenantGet(ctx, tenant); return one(err) },
		func(store.Page) (string, error) { _, err := s.TenantGetByName(ctx, "t"); return one(err) },
		func(store.Page) (string, error) {
			_, err := s.APIKeyGetByHash(ctx, []byte("h"))
			return "", ignore(err)
		},
		func(p store.Page) (string, error) { _, next, err := s.APIKeyList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) { _, err := s.WorkflowGet(ctx, tenant, w.ID); return one(err) },
		func(p store.Page) (string, error) { _, next, err := s.WorkflowList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) {
			_, err := s.WorkflowVersionGet(ctx, tenant, w.ID, 1)
			return one(err)
		},
		func(p store.Page) (string, error) {
			_, next, err := s.WorkflowVersionList(ctx, tenant, w.ID, p)
			return next, err
		},
		func(store.Page) (string, error) {
			_, err := s.ModuleVersionGet(ctx, tenant, "m", "1")
			return "", ignore(err)
		},
		func(store.Page) (string, error) {
			_, err := s.ModuleVersionList(ctx, tenant, "m")
			return "", ignore(err)
		},
		func(p store.Page) (string, error) { _, next, err := s.ModuleList(ctx, tenant, p); return next, err },
		func(store.Page) (string, error) {
			_, err := s.ModuleBlobGet(ctx, tenant, "sha256:x")
			return "", ignore(err)
		},
		func(store.Page) (string, error) { _, err := s.ExecutionGet(ctx, tenant, exs[0].ID); return one(err) },
		func(p store.Page) (string, error) {
			_, next, err := s.ExecutionList(ctx, tenant, store.ExecutionFilter{}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.ExecutionList(ctx, tenant, store.ExecutionFilter{WorkflowID: w.ID}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.ExecutionList(ctx, tenant, store.ExecutionFilter{Status: "queued"}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.ExecutionList(ctx, tenant, store.ExecutionFilter{WorkflowID: w.ID, Status: "queued"}, p)
			return next, err
		},
		func(store.Page) (string, error) { _, err := s.NodeRunList(ctx, tenant, exs[0].ID); return one(err) },
		func(store.Page) (string, error) { _, err := s.SecretGet(ctx, tenant, "s"); return "", ignore(err) },
		func(p store.Page) (string, error) { _, next, err := s.SecretList(ctx, tenant, p); return next, err },
		func(p store.Page) (string, error) {
			_, next, err := s.AuditList(ctx, tenant, store.AuditFilter{}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.AuditList(ctx, tenant, store.AuditFilter{Actor: "system"}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.AuditList(ctx, tenant, store.AuditFilter{Action: "x"}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.AuditList(ctx, tenant, store.AuditFilter{Actor: "system", Since: &since}, p)
			return next, err
		},
		func(p store.Page) (string, error) {
			_, next, err := s.AuditList(ctx, tenant, store.AuditFilter{Since: &since}, p)
			return next, err
		},
	}
	for _, read := range reads {
		next, err := read(store.Page{Limit: 1})
		require.NoError(t, err)
		if next != "" {
			_, err = read(store.Page{Limit: 1, Cursor: next})
			require.NoError(t, err)
		}
	}

	rec.mu.Lock()
	stmts := rec.stmts
	rec.mu.Unlock()
	require.NotEmpty(t, stmts)
	for _, st := range stmts {
		plan := explain(t, pool, st)
		require.NotContains(t, plan, "Seq Scan", "no index serves:\n%s\n%s", st.sql, plan)
		for _, f := range filterLine.FindAllString(plan, -1) {
			require.Regexp(t, allowedFilter, strings.TrimSpace(f), "a condition is checked row by row, not by an index:\n%s\n%s", st.sql, plan)
		}
		if strings.Contains(st.sql, "ORDER BY") {
			require.NotContains(t, plan, "Sort", "the index does not give the order:\n%s\n%s", st.sql, plan)
		}
	}
}

var (
	filterLine = regexp.MustCompile(`(?m)^ *Filter: .*$`)
	// allowedFilter lists the conditions a plan may check row by row: the
	// tenant after a lookup by a unique id, conditions that hold for every
	// row, and the second of two filters (one index serves one of them).
	allowedFilter = regexp.MustCompile(`^Filter: \((tenant_id = |versions > 0\)|version = |workflow_id = |action = )`)
)

// ignore drops ErrNotFound, which lookups of made-up keys return.
func ignore(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func explain(t *testing.T, pool *pgxpool.Pool, st traced) string {
	t.Helper()
	var lines []string
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"); err != nil {
			return err
		}
		rows, err := tx.Query(t.Context(), "EXPLAIN "+st.sql, st.args...)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, st.sql)
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}
