package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/migrations"
	"github.com/wasmflow/wasmflow/store/internal/backendtest"
	"github.com/wasmflow/wasmflow/store/postgres"
)

func latest(t testing.TB) int {
	ms, err := migrations.List(migrations.Postgres())
	require.NoError(t, err)
	return len(ms)
}

// openBare opens a store on url without migrating it.
func openBare(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Config{URL: url, MaxConns: 2, Logger: testdb.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// schemaDump describes every table, column and index of the test's schema.
func schemaDump(t testing.TB, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(t.Context(), `
		SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(collation_name, '')
		FROM information_schema.columns WHERE table_schema = current_schema()
		UNION ALL
		SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
		UNION ALL
		SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace
		ORDER BY 1`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestMigrations(t *testing.T) {
	backendtest.RunMigrations(t, latest(t), func(t *testing.T) backendtest.DB {
		url := testdb.Postgres(t)
		return backendtest.DB{
			OpenFunc: func(t *testing.T) backendtest.Store { return openBare(t, url) },
			OpenAndMigrateFunc: func(t *testing.T) error {
				_, err := postgres.OpenAndMigrate(t.Context(), postgres.Config{URL: url})
				return err
			},
			DumpFunc: func(t *testing.T) []string { return schemaDump(t, url) },
			ExecFunc: func(t *testing.T, stmt string) {
				conn, err := pgx.Connect(t.Context(), url)
				require.NoError(t, err)
				_, err = conn.Exec(t.Context(), stmt)
				require.NoError(t, err)
				require.NoError(t, conn.Close(t.Context()))
			},
		}
	})
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	const n = 5
	stores := make([]*postgres.Store, n)
	for i := range stores {
		stores[i] = openBare(t, url)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err, "processes starting at once do not race")
	}
	v, err := stores[0].SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, latest(t), v)
}
