package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/store/internal/backendtest"
)

// recorder is a pgx tracer that keeps every statement a store runs, those
// of batches included.
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

func (r *recorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (r *recorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, traced{d.SQL, d.Args})
}

func (r *recorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestListsUseIndexes runs every read of the store and the reconciler's
// cross-tenant sweeps (see backendtest.Reads), then checks with EXPLAIN
// that each statement reads through an index and that no list sorts: it is
// served in index order, so a page or a sweep costs the same whatever the
// table size. Sequential scans, bitmap scans and sorts are disabled for the
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

	reads := backendtest.Seed(t, s)

	rec.mu.Lock()
	rec.stmts = nil
	rec.mu.Unlock()
	reads.ReadAll(t)

	rec.mu.Lock()
	stmts := rec.stmts
	rec.mu.Unlock()
	require.NotEmpty(t, stmts)
	for _, st := range stmts {
		if txControl.MatchString(st.sql) {
			continue
		}
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
	// the statements of transaction control, which have no plan.
	txControl  = regexp.MustCompile(`(?i)^\s*(begin|commit|rollback)\b`)
	filterLine = regexp.MustCompile(`(?m)^ *Filter: .*$`)
	// allowedFilter lists the conditions a plan may check row by row: the
	// tenant after a lookup by a unique id, conditions that hold for every
	// row, the second of two filters (one index serves one of them), and an
	// audit action prefix, which spans several actions: the time index gives
	// the order and the prefix is checked on each entry it walks.
	// admitted_at IS NOT NULL (and the statuses) are the predicate of the
	// partial index the scan uses; PostgreSQL repeats it as a filter on rows it locks (for
	// the recheck after a concurrent update), where it never drops a row.
	allowedFilter = regexp.MustCompile(`^Filter: \(\(?(tenant_id = |versions > 0\)|version = |workflow_id = |action = |action >= |admitted_at IS NOT NULL\)( AND \(status = ANY \('\{queued,running\}'::text\[\]\)\)\))?$)`)
)

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
