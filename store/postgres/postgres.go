// Package postgres is the PostgreSQL backend of [store.Store], on a pgx/v5
// connection pool. It is the store of the distributed mode: many api,
// worker and scheduler processes share one database.
//
// Open connects; it does not change the schema. [Store.Migrate] applies the
// embedded migrations (the serve and migrate commands call it), or use
// [OpenAndMigrate]. Driver errors are translated once, at this package's
// boundary: no pgx type or error leaves it.
//
// # Schema
//
// Times are timestamptz, written in UTC truncated to microseconds, so a
// time read back equals the one returned by the write. JSON documents are
// json columns (not jsonb): the exact bytes round-trip and "\u0000", which
// jsonb rejects, is accepted. A workflow's definitions live in
// workflow_versions only; workflows holds the current version number and
// deleted_at (soft delete). secret_bindings holds the secret bindings of
// each live workflow's current version: a save replaces them and a delete
// removes them, in its transaction. Lists page by keyset, never OFFSET.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wasmflow/wasmflow/store"
)

// Config configures a Store.
type Config struct {
	// URL is the connection string, such as
	// "postgres://user:pass@host:5432/db?sslmode=disable". Required. Any
	// other libpq parameter in it (search_path, application_name, …) is sent
	// to the server.
	URL string
	// MaxConns caps the pool's connections. Defaults to pgxpool's default,
	// the greater of 4 and the number of CPUs.
	MaxConns int32
	// Logger receives the store's diagnostics (migrations applied). Defaults
	// to discarding them.
	Logger *slog.Logger
}

// Store is the Postgres implementation of [store.Store]. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Open connects to the database of cfg.URL and checks that it answers. It
// does not migrate: call [Store.Migrate].
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres: Config.URL is required")
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("postgres: Config.MaxConns is %d, must not be negative", cfg.MaxConns)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return &Store{pool: pool, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}, nil
}

// OpenAndMigrate opens the store and applies every pending migration.
func OpenAndMigrate(ctx context.Context, cfg Config) (*Store, error) {
	s, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate(s.pool.Ping(ctx))
}

// Close closes the pool, waiting for connections in use to be returned. It
// always returns nil; calling it again does nothing.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, stmt string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, stmt string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, stmt string, args ...any) pgx.Row
}

// translate maps driver errors to the store's: no rows is ErrNotFound, a
// unique violation ErrConflict, a foreign-key violation ErrNotFound (the row
// referred to is not there, or is another tenant's). Other errors are
// wrapped once ("postgres: …"); nil and errors already translated pass
// through, so a transaction may translate what its statements returned.
func translate(err error) error {
	var (
		pgErr *pgconn.PgError
		done  *dbError
	)
	switch {
	case err == nil, errors.As(err, &done),
		errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalidCursor),
		errors.Is(err, store.ErrLastOwner), errors.Is(err, store.ErrLimitReached):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation:
		return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation:
		return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.ConstraintName)
	}
	return &dbError{err}
}

// dbError is a driver error that translate has wrapped.
type dbError struct{ err error }

func (e *dbError) Error() string { return "postgres: " + e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

// getOne runs a query expected to return one row and scans it.
func getOne[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), stmt string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, stmt, args...))
	return v, translate(err)
}

// getAll runs a query and scans every row.
func getAll[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), stmt string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, stmt, args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	return out, translate(err)
}

// execOne runs a statement that must touch one row: ErrNotFound when it
// touched none.
func execOne(ctx context.Context, q querier, stmt string, args ...any) error {
	tag, err := q.Exec(ctx, stmt, args...)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return translate(pgx.BeginFunc(ctx, s.pool, fn))
}

// sendBatch sends b in one round trip; its statements run in one implicit
// transaction, so they all apply or none does.
func sendBatch(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, b *pgx.Batch) error {
	return translate(q.SendBatch(ctx, b).Close())
}

// utc returns t in UTC (pgx scans timestamptz in the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

// utcp is utc for an optional time.
func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// scanString scans a one-column row of text.
func scanString(r pgx.Row) (string, error) {
	var s string
	return s, r.Scan(&s)
}
