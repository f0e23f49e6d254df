package sqlite

import (
	"context"
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
	if err := s.rawTx(ctx, func(tx *txn) error { return currentVersion(ctx, tx, &v) }); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

func currentVersion(ctx context.Context, tx *txn, v *int) error {
	if _, err := tx.ExecContext(ctx, createMigrations); err != nil {
		return err
	}
	return tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(v)
}

// rawTx is inTx without translating errors.
func (s *Store) rawTx(ctx context.Context, fn func(*txn) error) error {
	return s.write.tx(ctx, fn)
}

func (s *Store) migrateTo(ctx context.Context, all []migrations.Migration, target int) error {
	err := s.rawTx(ctx, func(tx *txn) error {
		var current int
		if err := currentVersion(ctx, tx, &current); err != nil {
			return err
		}
		steps, err := migrations.Plan(all, current, target)
		if err != nil {
			return err
		}
		for _, st := range steps {
			if _, err := tx.ExecContext(ctx, st.SQL); err != nil {
				return fmt.Errorf("%s: %w", st, err)
			}
			s.log.InfoContext(ctx, st.Event(), slog.Int("version", st.Version), slog.String("name", st.Name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}
