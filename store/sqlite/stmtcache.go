package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statements a pool keeps prepared. The store
// runs a few dozen distinct statements (lists build a handful of shapes
// each); past the bound a statement is simply parsed on every call.
const maxCachedStmts = 256

// stmtCache keeps the statements a pool runs prepared. The driver parses
// SQL on every call otherwise: under a busy embedded server a quarter of
// the CPU went to parsing the engine's same few statements.
//
// A statement is prepared on the pool (database/sql then keeps it per
// connection). Inside a write transaction that is impossible, since the
// transaction holds the write pool's only connection: a miss there is
// remembered and prepared once the transaction has ended (see pool.tx).
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// lookup returns the prepared statement of query, or nil; with defer set a
// miss is remembered for preparePending instead of being prepared now.
func (c *stmtCache) lookup(ctx context.Context, query string, deferred bool) *sql.Stmt {
	c.mu.Lock()
	st, full := c.stmts[query], len(c.stmts)+len(c.pending) >= maxCachedStmts
	if st != nil || full {
		c.mu.Unlock()
		return st
	}
	if deferred {
		c.pending[query] = true
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.prepare(ctx, query)
}

// prepare prepares query on the pool and keeps it (a statement that does
// not prepare, or another caller's copy, is dropped).
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the caller runs it unprepared and reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if prev := c.stmts[query]; prev != nil {
		_ = st.Close() //nolint:sqlclosecheck // a copy another caller prepared first: this one is not kept
		return prev
	}
	c.stmts[query] = st
	return st
}

// preparePending prepares the misses remembered inside transactions.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	c.mu.Unlock()
	for _, q := range queries {
		if c.prepare(ctx, q) == nil {
			c.mu.Lock()
			delete(c.pending, q) // it does not prepare: do not try again
			c.mu.Unlock()
		}
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}

// pool is a connection pool that runs its statements prepared.
type pool struct {
	*sql.DB
	stmts *stmtCache
}

func newPool(db *sql.DB) *pool { return &pool{DB: db, stmts: newStmtCache(db)} }

func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := p.stmts.lookup(ctx, query, false); st != nil { //nolint:sqlclosecheck // the cache owns and closes it
		return st.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmts.lookup(ctx, query, false); st != nil { //nolint:sqlclosecheck // the cache owns and closes it
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := p.stmts.lookup(ctx, query, false); st != nil { //nolint:sqlclosecheck // the cache owns and closes it
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the prepared statements, then the pool.
func (p *pool) Close() error {
	p.stmts.close()
	return p.DB.Close()
}

// tx runs fn in a transaction of the pool whose statements run prepared,
// committed when fn returns nil; then it prepares what the transaction
// missed, now that the connection is free.
func (p *pool) tx(ctx context.Context, fn func(*txn) error) error {
	sqlTx, err := p.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &txn{Tx: sqlTx, stmts: p.stmts}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	err = sqlTx.Commit()
	if t.missed {
		p.stmts.preparePending(context.WithoutCancel(ctx))
	}
	return err
}

// txn is a transaction whose statements run prepared when the pool has
// them; ExecContext, QueryContext and QueryRowContext shadow *sql.Tx's.
type txn struct {
	*sql.Tx
	stmts  *stmtCache
	missed bool
}

func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	st := t.stmts.lookup(ctx, query, true)
	if st == nil {
		t.missed = true
		return nil
	}
	return t.StmtContext(ctx, st) // the connection's own copy: no parsing
}

func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil { //nolint:sqlclosecheck // closed with the transaction
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil { //nolint:sqlclosecheck // closed with the transaction
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil { //nolint:sqlclosecheck // closed with the transaction
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}
