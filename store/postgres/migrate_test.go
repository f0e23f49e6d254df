package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/migrations"
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

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	s := openBare(t, url)
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Zero(t, v)

	require.NoError(t, s.Migrate(t.Context()))
	first := schemaDump(t, url)
	require.NoError(t, s.Migrate(t.Context()), "migrating again does nothing")
	require.Equal(t, first, schemaDump(t, url))
	v, err = s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, latest(t), v)
	_, err = s.TenantInsert(t.Context(), "works")
	require.NoError(t, err)
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

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	s := openBare(t, url)
	require.NoError(t, s.Migrate(t.Context()))
	up := schemaDump(t, url)

	require.NoError(t, s.MigrateTo(t.Context(), 0))
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Zero(t, v)
	left := schemaDump(t, url)
	for _, obj := range left {
		require.Contains(t, obj, "schema_migrations", "down leaves only the migrations table")
	}

	require.NoError(t, s.MigrateTo(t.Context(), latest(t)))
	require.Equal(t, up, schemaDump(t, url), "up, down, up gives the same schema")
}

func TestMigrateRefuses(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	s := openBare(t, url)
	require.Error(t, s.MigrateTo(t.Context(), -1))
	require.Error(t, s.MigrateTo(t.Context(), latest(t)+1))
	require.NoError(t, s.Migrate(t.Context()))

	// A database migrated by a newer binary is left alone.
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	require.ErrorContains(t, s.Migrate(t.Context()), "newer than this binary")
	require.Error(t, s.MigrateTo(t.Context(), 0))
	_, err = postgres.OpenAndMigrate(t.Context(), postgres.Config{URL: url})
	require.ErrorContains(t, err, "newer than this binary")
}

func TestMigrateClosed(t *testing.T) {
	t.Parallel()
	s := openBare(t, testdb.Postgres(t))
	require.NoError(t, s.Close())
	require.Error(t, s.Migrate(t.Context()))
	require.Error(t, s.MigrateTo(t.Context(), 0))
	_, err := s.SchemaVersion(t.Context())
	require.Error(t, err)
	_, err = postgres.OpenAndMigrate(t.Context(), postgres.Config{URL: "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"})
	require.Error(t, err)
}
