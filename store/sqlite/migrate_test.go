package sqlite_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/migrations"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/backendtest"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/workflow"
)

func latest(t testing.TB) int {
	ms, err := migrations.List(migrations.SQLite())
	require.NoError(t, err)
	return len(ms)
}

// openBare opens a store on path without migrating it.
func openBare(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, Logger: testdb.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// schemaDump lists every table and index of the file with its SQL.
func schemaDump(t testing.TB, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(t.Context(),
		`SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestMigrations(t *testing.T) {
	backendtest.RunMigrations(t, latest(t), func(t *testing.T) backendtest.DB {
		path := filepath.Join(t.TempDir(), "db")
		return backendtest.DB{
			OpenFunc: func(t *testing.T) backendtest.Store { return openBare(t, path) },
			OpenAndMigrateFunc: func(t *testing.T) error {
				_, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{Path: path})
				return err
			},
			DumpFunc: func(t *testing.T) []string { return schemaDump(t, path) },
			ExecFunc: func(t *testing.T, stmt string) {
				db, err := sql.Open("sqlite", path)
				require.NoError(t, err)
				_, err = db.ExecContext(t.Context(), stmt)
				require.NoError(t, err)
				require.NoError(t, db.Close())
			},
		}
	})
}

// Several stores on one file stand for several processes: their migrations
// and writes wait for each other (busy timeout) instead of failing.
func TestSeveralStoresOnOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db")
	const n = 4
	stores := make([]*sqlite.Store, n)
	for i := range stores {
		stores[i] = openBare(t, path)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	tn, err := stores[0].TenantInsert(t.Context(), "t")
	require.NoError(t, err)
	w, err := stores[0].WorkflowInsert(t.Context(), tn.ID, &workflow.Workflow{Name: "w"})
	require.NoError(t, err)
	for i, s := range stores {
		wg.Go(func() {
			for range 10 {
				_, _, err := s.ExecutionInsert(t.Context(), tn.ID, &store.ExecutionInsertParams{
					WorkflowID: w.ID, WorkflowVersion: 1, Runs: []*store.NodeRun{{Node: "a"}, {Node: "b"}}})
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	list, _, err := stores[1].ExecutionList(t.Context(), tn.ID, store.ExecutionFilter{}, store.Page{Limit: 100})
	require.NoError(t, err)
	require.Len(t, list, n*10)
}
