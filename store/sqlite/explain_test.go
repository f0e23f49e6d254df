package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/wasmflow/wasmflow/store/internal/backendtest"
)

// recorder keeps every query run through a traceConnector.
type recorder struct {
	mu    sync.Mutex
	stmts []traced
}

type traced struct {
	sql  string
	args []any
}

// traceConnector opens modernc connections that record their queries.
type traceConnector struct {
	dsn string
	rec *recorder
}

func (c *traceConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &traceConn{Conn: conn, rec: c.rec}, nil
}

func (c *traceConnector) Driver() driver.Driver { return &sqlite.Driver{} }

type traceConn struct {
	driver.Conn
	rec *recorder
}

func (c *traceConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.record(query, args)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c *traceConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.record(query, args)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

// PrepareContext records the queries the store runs prepared, when they run.
func (c *traceConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &traceStmt{Stmt: st, conn: c, query: query}, nil
}

type traceStmt struct {
	driver.Stmt
	conn  *traceConn
	query string
}

func (s *traceStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.conn.record(s.query, args)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *traceStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.conn.record(s.query, args)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *traceConn) record(query string, args []driver.NamedValue) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	c.rec.mu.Lock()
	c.rec.stmts = append(c.rec.stmts, traced{query, vals})
	c.rec.mu.Unlock()
}

var (
	// equality filters of a statement, as in "w.tenant_id = $1".
	equalities = regexp.MustCompile(`(?:\w+\.)?(\w+) = \$\d+`)
	// the assignments of an UPDATE, which are not filters.
	assignments = regexp.MustCompile(`(?is)\bSET\b.*?\bWHERE\b`)
	// the full scans a store may do: counting tenants, and walking the
	// partial index of waiting executions (it holds only those).
	allowedScan = regexp.MustCompile(`^SCAN (tenants( USING COVERING INDEX \w+)?|executions USING INDEX executions_waiting_idx)$`)
)

// TestListsUseIndexes runs every read of the store and the reconciler's
// cross-tenant sweeps (see backendtest.Reads), then checks with EXPLAIN
// QUERY PLAN that each statement searches an index by at least one of its
// filters (besides the tenant), never scans a table, and never sorts: a
// page or a sweep costs the same whatever the table size.
func TestListsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "explain.db")
	open, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, errors.Join(open.read.Close(), open.write.Close()))
	rec := &recorder{}
	write := sql.OpenDB(&traceConnector{dsn: dsn(path, true), rec: rec})
	write.SetMaxOpenConns(1)
	s := &Store{write: newPool(write), read: newPool(sql.OpenDB(&traceConnector{dsn: dsn(path, false), rec: rec})),
		log: slog.New(slog.DiscardHandler)}
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(ctx))

	reads := backendtest.Seed(t, s)

	rec.mu.Lock()
	rec.stmts = nil
	rec.mu.Unlock()
	reads.ReadAll(t)

	rec.mu.Lock()
	stmts := slices.Clone(rec.stmts)
	rec.mu.Unlock()
	require.NotEmpty(t, stmts)
	for _, st := range stmts {
		plan := explain(t, s.write.DB, st)
		for _, line := range plan {
			require.NotContains(t, line, "TEMP B-TREE", "the index does not give the order:\n%s\n%s", st.sql, plan)
			if strings.HasPrefix(line, "SCAN") {
				require.Regexp(t, allowedScan, line, "a table is scanned:\n%s\n%s", st.sql, plan)
			}
		}
		var filters []string
		for _, m := range equalities.FindAllStringSubmatch(assignments.ReplaceAllString(st.sql, "WHERE"), -1) {
			if m[1] != "tenant_id" {
				filters = append(filters, m[1]+"=?")
			}
		}
		if len(filters) > 0 {
			joined := strings.Join(plan, "\n")
			require.True(t, containsAny(joined, filters),
				"no index serves any of %v:\n%s\n%s", filters, st.sql, joined)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func explain(t *testing.T, db *sql.DB, st traced) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+st.sql, st.args...)
	require.NoError(t, err, st.sql)
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return plan
}
