package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/sqlite"
)

func TestOpenRefusesBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, cfg := range map[string]sqlite.Config{
		"no path":         {},
		"memory":          {Path: ":memory:"},
		"memory uri":      {Path: "file::memory:?cache=shared"},
		"query":           {Path: filepath.Join(dir, "db?mode=ro")},
		"missing dir":     {Path: filepath.Join(dir, "missing", "db")},
		"dir, not a file": {Path: dir},
		"not a database":  {Path: writeFile(t, filepath.Join(dir, "junk"), "this is not a database file, at all, no.........................................................................................")},
	} {
		_, err := sqlite.Open(t.Context(), cfg)
		require.Error(t, err, name)
	}
	_, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{})
	require.Error(t, err)
}

func writeFile(t *testing.T, path, content string) string {
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestOpenHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	require.ErrorIs(t, err, context.Canceled)
	_, err = sqlite.OpenAndMigrate(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	require.Error(t, err)
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.Error(t, s.Ping(t.Context()))
}

// The file is left in WAL mode, and the schema enforces foreign keys.
func TestFileSettings(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db")
	s, err := sqlite.OpenAndMigrate(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	var mode string
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)

	s, err = sqlite.OpenAndMigrate(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err, "reopening a migrated file")
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.SecretInsert(t.Context(), "tn_missing", &store.Secret{Name: "x", Ciphertext: []byte("c"), WrappedKey: []byte("k")})
	require.ErrorIs(t, err, store.ErrNotFound, "foreign keys are enforced")
}
