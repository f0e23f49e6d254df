package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/internal/backendtest"
	"github.com/wasmflow/wasmflow/store/postgres"
	"github.com/wasmflow/wasmflow/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTemp opens a migrated store in a schema of its own, closed and
// dropped when the test ends.
func openTemp(t testing.TB) *postgres.Store {
	t.Helper()
	url := testdb.Postgres(t)
	s, err := postgres.OpenAndMigrate(t.Context(), postgres.Config{URL: url, MaxConns: 4, Logger: backendtest.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return openTemp(b) })
}
