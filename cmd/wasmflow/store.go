package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/store/postgres"
	"github.com/wasmflow/wasmflow/store/sqlite"
)

// storeConfig picks the backend: PostgreSQL when DatabaseURL is set, else a
// SQLite file in DataDir.
type storeConfig struct {
	DataDir     string
	DatabaseURL string
}

// migratingStore is a store that can bring its schema up to date.
type migratingStore interface {
	store.Store
	Migrate(ctx context.Context) error
}

// openStore opens the configured backend and applies pending migrations.
func openStore(ctx context.Context, cfg storeConfig, logger *slog.Logger) (store.Store, error) {
	var (
		st  migratingStore
		err error
	)
	if cfg.DatabaseURL != "" {
		st, err = postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, Logger: logger})
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		st, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "wasmflow.db"), Logger: logger})
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

func (c storeConfig) describe() slog.Attr {
	if c.DatabaseURL != "" {
		return slog.String("store", "postgres")
	}
	return slog.Group("store", slog.String("backend", "sqlite"), slog.String("data_dir", c.DataDir))
}
