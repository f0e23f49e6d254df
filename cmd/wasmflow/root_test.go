package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/auth/vault"
)

func TestEnvConfiguresFlagsAndFlagsWin(t *testing.T) {
	t.Setenv("WASMFLOW_DATA_DIR", "/from/env")
	t.Setenv("WASMFLOW_LISTEN", "127.0.0.1:9999")
	cmd, _, err := newRootCmd().Find([]string{"serve"})
	require.NoError(t, err)
	require.NoError(t, cmd.Flags().Parse([]string{"--listen", "127.0.0.1:1234"}))
	require.NoError(t, applyEnv(cmd.Flags()))
	require.Equal(t, "/from/env", cmd.Flags().Lookup("data-dir").Value.String())
	require.Equal(t, "127.0.0.1:1234", cmd.Flags().Lookup("listen").Value.String())

	t.Setenv("WASMFLOW_SHUTDOWN_TIMEOUT", "soon")
	err = applyEnv(cmd.Flags())
	require.ErrorContains(t, err, "WASMFLOW_SHUTDOWN_TIMEOUT")
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger, err := logConfig{level: "debug", format: "auto"}.newLogger(&buf)
	require.NoError(t, err)
	logger.Debug("hello", slog.String("k", "v"))
	require.Contains(t, buf.String(), `"msg":"hello"`) // not a terminal → JSON

	buf.Reset()
	logger, err = logConfig{level: "info", format: "text"}.newLogger(&buf)
	require.NoError(t, err)
	logger.Debug("hidden")
	logger.Info("shown")
	require.NotContains(t, buf.String(), "hidden")
	require.Contains(t, buf.String(), "msg=shown")

	_, err = logConfig{level: "loud", format: "text"}.newLogger(&buf)
	require.ErrorContains(t, err, "--log-level")
	_, err = logConfig{level: "info", format: "xml"}.newLogger(&buf)
	require.ErrorContains(t, err, "--log-format")

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	require.False(t, isTerminal(f))
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := newRootCmd()
	var stderr bytes.Buffer
	root.SetErr(&stderr)
	root.SetArgs([]string{"migrate", "--data-dir", dir, "--log-format", "json"})
	require.NoError(t, root.Execute())
	require.Contains(t, stderr.String(), "migrations applied")
	require.FileExists(t, filepath.Join(dir, "wasmflow.db"))
}

func TestHTTPAllowAddrFlag(t *testing.T) {
	t.Setenv("WASMFLOW_HTTP_ALLOW_ADDR", "10.0.0.5:8080,[fd00::1]:443")
	cmd, _, err := newRootCmd().Find([]string{"serve"})
	require.NoError(t, err)
	require.NoError(t, cmd.Flags().Parse(nil))
	require.NoError(t, applyEnv(cmd.Flags()))
	require.Equal(t, "10.0.0.5:8080,[fd00::1]:443", cmd.Flags().Lookup("http-allow-addr").Value.String())

	cmd, _, err = newRootCmd().Find([]string{"serve"})
	require.NoError(t, err)
	err = cmd.Flags().Parse([]string{"--http-allow-addr", "10.0.0.5"})
	require.ErrorContains(t, err, "want an IP address and port")
}

// A worker never creates a master key: it takes the environment's, or an
// existing key file, or runs without one; an api process creates the file.
func TestLoadVault(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	cfg := storeConfig{DataDir: dir}

	kr, err := loadVault(cfg, false, logger)
	require.NoError(t, err)
	require.Nil(t, kr)
	require.Contains(t, logs.String(), "WASMFLOW_MASTER_KEY")
	_, err = os.Stat(filepath.Join(dir, vault.KeyFileName))
	require.ErrorIs(t, err, os.ErrNotExist, "a worker created a key file")

	created, err := loadVault(cfg, true, logger)
	require.NoError(t, err)
	loaded, err := loadVault(cfg, false, logger)
	require.NoError(t, err)
	require.Equal(t, created.CurrentKeyID(), loaded.CurrentKeyID())

	require.NoError(t, os.Chmod(filepath.Join(dir, vault.KeyFileName), 0o644))
	_, err = loadVault(cfg, false, logger)
	require.ErrorContains(t, err, "chmod 600")

	key := vault.GenerateKey()
	t.Setenv(vault.EnvMasterKey, vault.EncodeKey(key))
	fromEnv, err := loadVault(cfg, false, logger)
	require.NoError(t, err)
	require.Equal(t, vault.KeyID(key), fromEnv.CurrentKeyID())
	t.Setenv(vault.EnvMasterKey, "not a key")
	_, err = loadVault(cfg, false, logger)
	require.Error(t, err)
}
