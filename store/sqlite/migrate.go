package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/wasmflow/wasmflow/migrations"
)

// createMigrations makes sure the table that records applied versions exists.
const createMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
) STRICT;`

// Migrate applies every pending migration, in one IMMEDIATE transaction,
// so that two processes migrating at once run one after the other and each
// migration applies once; applying is idempotent. It fails, changing
// nothing, when the database is at a version newer than this binary knows.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := migrations.List(migrations.SQLite())
	if err != nil {
		return err
	}
	return s.migrateTo(ctx, all, len(all))
}

// MigrateTo moves the schema to version, up or down (0 reverts every
// migration), in one transaction.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	all, err := migrations.List(migrations.SQLite())
	if err != nil {
		return err
	}
	return s.migrateTo(ctx, all, version)
}

// SchemaVersion returns the newest applied migration, 0 for none.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.rawTx(ctx, func(tx *sql.Tx) error { return currentVersion(ctx, tx, &v) }); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

func currentVersion(ctx context.Context, tx *sql.Tx, v *int) error {
	if _, err := tx.ExecContext(ctx, createMigrations); err != nil {
		return err
	}
	return tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(v)
}

// rawTx is inTx without translating errors.
func (s *Store) rawTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) migrateTo(ctx context.Context, all []migrations.Migration, target int) error {
	if target < 0 || target > len(all) {
		return fmt.Errorf("sqlite: migrate: no version %d (this binary knows 0 to %d)", target, len(all))
	}
	err := s.rawTx(ctx, func(tx *sql.Tx) error {
		var current int
		if err := currentVersion(ctx, tx, &current); err != nil {
			return err
		}
		if current > len(all) {
			return fmt.Errorf("the database is at version %d, newer than this binary's %d", current, len(all))
		}
		for _, m := range all[min(current, target):target] {
			// Names are [a-z0-9_]+ (migrations.List checks), safe as a literal.
			record := fmt.Sprintf("\n;INSERT INTO schema_migrations (version, name) VALUES (%d, '%s');", m.Version, m.Name)
			if _, err := tx.ExecContext(ctx, m.Up+record); err != nil {
				return fmt.Errorf("%04d_%s up: %w", m.Version, m.Name, err)
			}
			s.log.InfoContext(ctx, "migration applied", slog.Int("version", m.Version), slog.String("name", m.Name))
		}
		for i := current; i > target; i-- {
			m := all[i-1]
			record := fmt.Sprintf("\n;DELETE FROM schema_migrations WHERE version = %d;", m.Version)
			if _, err := tx.ExecContext(ctx, m.Down+record); err != nil {
				return fmt.Errorf("%04d_%s down: %w", m.Version, m.Name, err)
			}
			s.log.InfoContext(ctx, "migration reverted", slog.Int("version", m.Version), slog.String("name", m.Name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}
