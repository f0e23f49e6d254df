// Package sqlite is the SQLite backend of [store.Store], on modernc.org/sqlite
// (pure Go, no cgo). It is the store of the embedded mode: one process, one
// database file.
//
// Open opens the file; it does not change the schema. [Store.Migrate]
// applies the embedded migrations (the serve and migrate commands call it),
// or use [OpenAndMigrate]. Driver errors are translated once, at this
// package's boundary.
//
// # Connections
//
// The file is opened in WAL mode with synchronous=NORMAL, foreign keys on
// and a busy timeout, through two pools: every write goes through a pool of
// exactly one connection whose transactions begin IMMEDIATE, so writers of
// this process queue in Go instead of failing with SQLITE_BUSY, and reads go
// through a pool of read-only connections that WAL lets run beside the
// writer. The busy timeout covers other processes (such as `wasmflow
// migrate` run beside a server).
//
// # Schema
//
// Tables are STRICT. Times are INTEGER microseconds since the Unix epoch, so
// a time read back equals the one returned by the write (UTC, truncated to
// microseconds, as in the Postgres backend). JSON documents are TEXT, kept
// byte for byte. As in the Postgres backend, secret_bindings holds the
// secret bindings of each live workflow's current version, which saves and
// deletes keep current. Lists page by keyset, never OFFSET.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wasmflow/wasmflow/store"
)

// Config configures a Store.
type Config struct {
	// Path is the database file, created when missing (its directory must
	// exist). Required; ":memory:" is refused, since every connection would
	// get a database of its own.
	Path string
	// Logger receives the store's diagnostics (migrations applied). Defaults
	// to discarding them.
	Logger *slog.Logger
}

// busyTimeout is how long a statement waits for a lock that another process
// holds before it fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is the SQLite implementation of [store.Store]. It is safe for
// concurrent use.
type Store struct {
	write *pool // one connection: writes queue here
	read  *pool // read-only connections
	log   *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database file and checks that it is usable.
// It does not migrate: call [Store.Migrate].
func Open(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.Path == "":
		return nil, errors.New("sqlite: Config.Path is required")
	case cfg.Path == ":memory:" || strings.HasPrefix(cfg.Path, "file::memory:"):
		return nil, errors.New("sqlite: Config.Path must be a file, not an in-memory database")
	case strings.Contains(cfg.Path, "?"):
		return nil, fmt.Errorf("sqlite: Config.Path %q must not hold a query (\"?\")", cfg.Path)
	}
	write, err := sql.Open("sqlite", dsn(cfg.Path, true))
	if err != nil { // only for an unknown driver name
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	read, _ := sql.Open("sqlite", dsn(cfg.Path, false)) // same driver: cannot fail
	n := max(4, goruntime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)

	s := &Store{write: newPool(write), read: newPool(read), log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))}
	// The write connection first: it creates the file and turns WAL on.
	if err := errors.Join(write.PingContext(ctx), read.PingContext(ctx)); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	return s, nil
}

// dsn is the data source name of the write connection or of a read one.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "1")
	q.Add("_pragma", "temp_store(MEMORY)")
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	return path + "?" + q.Encode()
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
	return translate(errors.Join(s.write.PingContext(ctx), s.read.PingContext(ctx)))
}

// Close closes both pools, after letting SQLite refresh the statistics its
// query planner uses (PRAGMA optimize, which is quick and does nothing when
// they are fresh).
func (s *Store) Close() error {
	_, _ = s.write.ExecContext(context.Background(), "PRAGMA optimize") // best effort; fails once closed
	return translate(errors.Join(s.read.Close(), s.write.Close()))
}

// querier is what a pool and a transaction have in common.
type querier interface {
	ExecContext(ctx context.Context, stmt string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, stmt string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, stmt string, args ...any) *sql.Row
}

// row is what a *sql.Row and *sql.Rows have in common.
type row interface{ Scan(dest ...any) error }

// translate maps driver errors to the store's: no rows is ErrNotFound, a
// unique or primary-key violation ErrConflict, a foreign-key violation
// ErrNotFound (the row referred to is not there, or is another tenant's).
// Other errors are wrapped once ("sqlite: …"); nil and errors already
// translated pass through.
func translate(err error) error {
	var (
		sqErr *sqlite.Error
		done  *dbError
	)
	switch {
	case err == nil, errors.As(err, &done),
		errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalidCursor),
		errors.Is(err, store.ErrLastOwner), errors.Is(err, store.ErrLimitReached):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.As(err, &sqErr) &&
		(sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		return fmt.Errorf("%w: %s", store.ErrConflict, sqErr.Error())
	case errors.As(err, &sqErr) && sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %s", store.ErrNotFound, sqErr.Error())
	}
	return &dbError{err}
}

// dbError is a driver error that translate has wrapped.
type dbError struct{ err error }

func (e *dbError) Error() string { return "sqlite: " + e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

// getOne runs a query expected to return one row and scans it.
func getOne[T any](ctx context.Context, q querier, scan func(row) (T, error), stmt string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, stmt, args...))
	return v, translate(err)
}

// getAll runs a query and scans every row.
func getAll[T any](ctx context.Context, q querier, scan func(row) (T, error), stmt string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer func() { _ = rows.Close() }()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, v)
	}
	return out, translate(rows.Err())
}

// execOne runs a statement that must touch one row: ErrNotFound when it
// touched none.
func execOne(ctx context.Context, q querier, stmt string, args ...any) error {
	res, err := q.ExecContext(ctx, stmt, args...)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 { // never fails with this driver
		return store.ErrNotFound
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE), committed when fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*txn) error) error {
	return translate(s.rawTx(ctx, fn))
}

// scanString scans a one-column row of text.
func scanString(r row) (string, error) {
	var s string
	return s, r.Scan(&s)
}
