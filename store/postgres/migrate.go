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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var current int
		if err := currentVersion(ctx, tx, &current); err != nil {
			return err
		}
		steps, err := migrations.Plan(all, current, target)
		if err != nil {
			return err
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.SQL); err != nil {
				return fmt.Errorf("%s: %w", st, err)
			}
			s.log.InfoContext(ctx, st.Event(), slog.Int("version", st.Version), slog.String("name", st.Name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
