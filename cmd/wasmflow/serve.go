package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmflow/wasmflow/api"
	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/registry"
	"github.com/wasmflow/wasmflow/runtime"
	"github.com/wasmflow/wasmflow/store"
)

// serveConfig is everything `wasmflow serve` needs.
type serveConfig struct {
	store           storeConfig
	Listen          string
	ShutdownTimeout time.Duration
	// ExamplesDir, when set, holds node modules (one folder each, a
	// wasmflow.json beside its .wasm) installed into tenant "default" at
	// start; installing is idempotent.
	ExamplesDir string
}

func newServeCmd(logs *logConfig) *cobra.Command {
	cfg := serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (embedded SQLite by default, PostgreSQL with --database-url)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.newLogger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, logger, nil)
		},
	}
	addStoreFlags(cmd, &cfg.store)
	cmd.Flags().StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address the HTTP API listens on")
	cmd.Flags().DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown may take")
	cmd.Flags().StringVar(&cfg.ExamplesDir, "examples-dir", "", "install the node modules found here (<dir>/*/wasmflow.json + .wasm) into tenant \"default\" at start")
	return cmd
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts
// down gracefully. ready, when not nil, receives the address once listening.
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger, ready chan<- string) error {
	st, err := openStore(ctx, cfg.store, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store", slog.Any("err", err))
		}
	}()

	if err := bootstrap(ctx, st, cfg.store, logger); err != nil {
		return err
	}

	rt, err := runtime.New(ctx, runtime.Config{CacheDir: filepath.Join(cfg.store.DataDir, "compile-cache"), Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if err := rt.Close(context.WithoutCancel(ctx)); err != nil {
			logger.Error("closing the runtime", slog.Any("err", err))
		}
	}()
	reg, err := registry.New(registry.Config{Store: st, Runtime: rt, Logger: logger})
	if err != nil {
		return err
	}
	if cfg.ExamplesDir != "" {
		if err := installExamples(ctx, st, reg, cfg.ExamplesDir, logger); err != nil {
			return err
		}
	}

	srv, err := api.New(api.Config{Store: st, Registry: reg, Logger: logger, Version: version})
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("wasmflow serving", slog.String("addr", ln.Addr().String()), cfg.store.describe(), slog.String("version", version))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Listen(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", slog.String("timeout", cfg.ShutdownTimeout.String()))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil {
		return fmt.Errorf("http server: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// bootstrap creates the default tenant and its owner key on an empty store
// and writes the key to <data-dir>/admin-api-key (0600): the one time anyone
// sees it.
func bootstrap(ctx context.Context, st store.Store, cfg storeConfig, logger *slog.Logger) error {
	key, created, err := auth.Bootstrap(ctx, st)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if !created {
		return nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "admin-api-key")
	if err := writeSecretFile(path, key); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	logger.Warn("created tenant \"default\" and its owner API key; it is shown only now and kept in the key file",
		slog.String("api_key", key), slog.String("key_file", path))
	return nil
}

// writeSecretFile writes content to a file readable by its owner only. A file
// left from an earlier, deleted store is replaced rather than reused, so its
// looser mode (if any) cannot carry over.
func writeSecretFile(path, content string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator chooses the data dir
	if err != nil {
		return err
	}
	_, err = f.WriteString(content + "\n")
	return errors.Join(err, f.Close())
}

// installExamples installs the modules of dir into tenant "default". A folder
// that fails is logged and skipped, so one broken example does not keep the
// server from starting; a missing tenant or directory is an error.
func installExamples(ctx context.Context, st store.Store, reg *registry.Registry, dir string, logger *slog.Logger) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("--examples-dir: %w", err)
	}
	tenant, err := st.TenantGetByName(ctx, auth.DefaultTenant)
	if err != nil {
		return fmt.Errorf("--examples-dir: tenant %q: %w", auth.DefaultTenant, err)
	}
	installed, err := reg.InstallDir(ctx, tenant.ID, dir)
	for _, v := range installed {
		logger.Info("example node installed", slog.String("node", v.Name+"@"+v.Version))
	}
	if err != nil {
		logger.Warn("some example nodes were not installed", slog.Any("err", err))
	}
	return nil
}
