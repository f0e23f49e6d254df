package backendtest_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/migrations"
	"github.com/wasmflow/wasmflow/store/internal/backendtest"
	"github.com/wasmflow/wasmflow/store/sqlite"
)

// The helpers run here on the SQLite backend, which needs no server; each
// backend's own tests run them too.

func TestLogger(t *testing.T) {
	t.Parallel()
	require.NotNil(t, backendtest.Logger(t))
	require.Nil(t, backendtest.Logger(&testing.B{}), "benchmarks log nothing")
}

func TestReads(t *testing.T) {
	t.Parallel()
	s, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	backendtest.Seed(t, s).ReadAll(t)
}

func TestRunMigrations(t *testing.T) {
	all, err := migrations.List(migrations.SQLite())
	require.NoError(t, err)
	backendtest.RunMigrations(t, len(all), func(t *testing.T) backendtest.DB {
		path := filepath.Join(t.TempDir(), "db")
		side := func(t *testing.T) *sql.DB {
			db, err := sql.Open("sqlite", path)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db
		}
		return backendtest.DB{
			OpenFunc: func(t *testing.T) backendtest.Store {
				s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return s
			},
			OpenAndMigrateFunc: func(t *testing.T) error {
				s, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{Path: path})
				if err == nil {
					_ = s.Close()
				}
				return err
			},
			DumpFunc: func(t *testing.T) []string {
				var names []string
				rows, err := side(t).QueryContext(t.Context(), `SELECT name FROM sqlite_schema ORDER BY name`)
				require.NoError(t, err)
				defer func() { _ = rows.Close() }()
				for rows.Next() {
					var name string
					require.NoError(t, rows.Scan(&name))
					names = append(names, name)
				}
				require.NoError(t, rows.Err())
				return names
			},
			ExecFunc: func(t *testing.T, stmt string) {
				_, err := side(t).ExecContext(t.Context(), stmt)
				require.NoError(t, err)
			},
		}
	})
}
