package sqlite_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wasmflow/wasmflow/internal/testdb"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
	"github.com/wasmflow/wasmflow/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTemp opens a migrated store in a file of the test's temporary
// directory, closed when the test ends.
func openTemp(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{
		Path: filepath.Join(t.TempDir(), "wasmflow.db"), Logger: logger(t)})
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

// logger logs to the test log; benchmarks, which print every line they
// log, get none.
func logger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return nil
	}
	return testdb.Logger(t)
}
