package postgres

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/wasmflow/wasmflow/migrations"
)

// migrateLock takes a transaction-scoped advisory lock keyed by the current
// schema, so that processes migrating the same schema at once run one after
// the other (and tests in their own schemas do not wait for each other),
// then makes sure the table that records applied versions exists.
const migrateLock = `
SELECT pg_advisory_xact_lock(hashtextextended('wasmflow.migrations.' || current_schema(), 0));
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);`

// Migrate applies every pending migration. Applying is idempotent, and safe
// when several processes start at once: they take an advisory lock and
// each migration applies once. It fails, changing nothing, when the database
// is at a version newer than this binary knows.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := migrations.List(migrations.Postgres())
	if err != nil {
		return err
	}
	return s.migrateTo(ctx, all, len(all))
}

// MigrateTo moves the schema to version, up or down (0 reverts every
// migration), in one transaction.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	all, err := migrations.List(migrations.Postgres())
	if err != nil {
		return err
	}
	return s.migrateTo(ctx, all, version)
}

// SchemaVersion returns the newest applied migration, 0 for none.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return currentVersion(ctx, tx, &v) })
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

func currentVersion(ctx context.Context, tx pgx.Tx, v *int) error {
	if _, err := tx.Exec(ctx, migrateLock); err != nil {
		return err
	}
	return tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(v)
}

func (s *Store) migrateTo(ctx context.Context, all []migrations.Migration, target int) error {
	if target < 0 || target > len(all) {
		return fmt.Errorf("postgres: migrate: no version %d (this binary knows 0 to %d)", target, len(all))
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
			if _, err := tx.Exec(ctx, m.Up+record); err != nil {
				return fmt.Errorf("%04d_%s up: %w", m.Version, m.Name, err)
			}
			s.log.InfoContext(ctx, "migration applied", slog.Int("version", m.Version), slog.String("name", m.Name))
		}
		for i := current; i > target; i-- {
			m := all[i-1]
			record := fmt.Sprintf("\n;DELETE FROM schema_migrations WHERE version = %d;", m.Version)
			if _, err := tx.Exec(ctx, m.Down+record); err != nil {
				return fmt.Errorf("%04d_%s down: %w", m.Version, m.Name, err)
			}
			s.log.InfoContext(ctx, "migration reverted", slog.Int("version", m.Version), slog.String("name", m.Name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
