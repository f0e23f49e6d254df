package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
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
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	c.rec.mu.Lock()
	c.rec.stmts = append(c.rec.stmts, traced{query, vals})
	c.rec.mu.Unlock()
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

// ignore drops ErrNotFound, which lookups of made-up keys return.
func ignore(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

var (
	// equality filters of a statement, as in "w.tenant_id = $1".
	equalities = regexp.MustCompile(`(?:\w+\.)?(\w+) = \$\d+`)
	// the one full scan a store may do: counting tenants.
	allowedScan = regexp.MustCompile(`^SCAN tenants( USING COVERING INDEX \w+)?$`)
)

// TestListsUseIndexes runs every read of the store, then checks with
// EXPLAIN QUERY PLAN that each one searches an index by at least one of its
// filters (besides the tenant), never scans a table, and never sorts: a
// page costs the same whatever the table size.
func TestListsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "explain.db")
	open, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, open.read.Close())
	rec := &recorder{}
	s := &Store{write: open.write, read: sql.OpenDB(&traceConnector{dsn: dsn(path, false), rec: rec}),
		log: slog.New(slog.DiscardHandler)}
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
		func(store.Page) (string, error) { _, err := s.TenantCount(ctx); return one(err) },
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
		plan := explain(t, s.write, st)
		for _, line := range plan {
			require.NotContains(t, line, "TEMP B-TREE", "the index does not give the order:\n%s\n%s", st.sql, plan)
			if strings.HasPrefix(line, "SCAN") {
				require.Regexp(t, allowedScan, line, "a table is scanned:\n%s\n%s", st.sql, plan)
			}
		}
		var filters []string
		for _, m := range equalities.FindAllStringSubmatch(st.sql, -1) {
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
