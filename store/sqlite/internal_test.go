package sqlite

import (
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/migrations"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	require.NoError(t, translate(nil))
	require.Equal(t, store.ErrNotFound, translate(sql.ErrNoRows))
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalidCursor} {
		wrapped := errors.Join(sentinel, errors.New("detail"))
		require.Equal(t, wrapped, translate(wrapped), "translated errors pass through")
	}
	err := translate(errors.New("boom"))
	require.EqualError(t, err, "sqlite: boom")
	require.Equal(t, err, translate(err), "wrapped once")
}

func TestTimeScanners(t *testing.T) {
	t.Parallel()
	var at time.Time
	require.NoError(t, micros{&at}.Scan(int64(1_700_000_000_123_456)))
	require.Equal(t, time.UnixMicro(1_700_000_000_123_456).UTC(), at)
	require.Error(t, micros{&at}.Scan("2024-01-01"))

	p := &at
	require.NoError(t, optMicros{&p}.Scan(nil))
	require.Nil(t, p)
	require.NoError(t, optMicros{&p}.Scan(int64(5)))
	require.Equal(t, time.UnixMicro(5).UTC(), *p)
	require.Error(t, optMicros{&p}.Scan(1.5))
}

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := OpenAndMigrate(t.Context(), Config{Path: filepath.Join(t.TempDir(), "db"), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMigrationFailureRollsBack(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	before, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	all, err := migrations.List(migrations.SQLite())
	require.NoError(t, err)

	bad := append(all, migrations.Migration{Version: len(all) + 1, Name: "bad",
		Up: "CREATE TABLE half_done (x INTEGER); NOT SQL", Down: "NOT SQL"})
	require.ErrorContains(t, s.migrateTo(t.Context(), bad, len(bad)), "_bad up")
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, before, v)
	var n int
	require.NoError(t, s.read.QueryRowContext(t.Context(),
		`SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'`).Scan(&n))
	require.Zero(t, n, "a failed migration leaves nothing behind")

	bad[len(bad)-1].Up = "CREATE TABLE half_done (x INTEGER)"
	require.NoError(t, s.migrateTo(t.Context(), bad, len(bad)))
	require.ErrorContains(t, s.migrateTo(t.Context(), bad, 0), "_bad down")
	v, err = s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, len(bad), v)
}

// A definition or a time that no longer decodes is an error, not a zero value.
func TestCorruptRows(t *testing.T) {
	t.Parallel()
	s := openInternal(t)
	tn, err := s.TenantInsert(t.Context(), "t")
	require.NoError(t, err)
	w, err := s.WorkflowInsert(t.Context(), tn.ID, &workflow.Workflow{Name: "w"})
	require.NoError(t, err)
	_, err = s.write.ExecContext(t.Context(), `UPDATE workflow_versions SET definition = '[1]'`)
	require.NoError(t, err)
	_, err = s.WorkflowGet(t.Context(), tn.ID, w.ID)
	require.ErrorContains(t, err, "decode workflow")
	_, _, err = s.WorkflowList(t.Context(), tn.ID, store.Page{})
	require.ErrorContains(t, err, "decode workflow")
	_, err = s.WorkflowVersionGet(t.Context(), tn.ID, w.ID, 1)
	require.ErrorContains(t, err, "decode workflow")
}

// Pruning an execution deletes its runs and their outbox entries (ON DELETE
// CASCADE), even entries that a finished execution should no longer have.
func TestPruneCascades(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openInternal(t)
	tn, err := s.TenantInsert(ctx, "t")
	require.NoError(t, err)
	w, err := s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "w"})
	require.NoError(t, err)
	ex, _, err := s.ExecutionInsert(ctx, tn.ID, &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1,
		Runs: []*store.NodeRun{{Node: "a", Status: store.RunQueued}, {Node: "b", Pending: 1}}})
	require.NoError(t, err)
	_, err = s.write.ExecContext(ctx, `UPDATE executions SET status = 'succeeded', finished_at = 1 WHERE id = $1`, ex.ID)
	require.NoError(t, err)

	n, err := s.ExecutionPrune(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for _, table := range []string{"executions", "node_runs", "outbox"} {
		var rows int
		require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&rows))
		require.Zero(t, rows, table)
	}
}

// A deleted workflow leaves no binding rows behind (lists would hide them:
// they read the bindings of live workflows only).
func TestDeleteRemovesSecretBindings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openInternal(t)
	tn, err := s.TenantInsert(ctx, "t")
	require.NoError(t, err)
	w, err := s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "w", Nodes: []workflow.Node{
		{Name: "a", Module: "x/y@1", Secrets: map[string]string{"token": "s1", "key": "s2"}}}})
	require.NoError(t, err)
	count := func() int {
		var rows int
		require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM secret_bindings`).Scan(&rows))
		return rows
	}
	require.Equal(t, 2, count())
	require.NoError(t, s.WorkflowDelete(ctx, tn.ID, w.ID))
	require.Zero(t, count())
}

// OutboxDelete removes an entry left for a run that is not queued (which
// no transition writes, but an older version could leave behind).
func TestOutboxDeleteStaleEntry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openInternal(t)
	tn, err := s.TenantInsert(ctx, "t")
	require.NoError(t, err)
	w, err := s.WorkflowInsert(ctx, tn.ID, &workflow.Workflow{Name: "w"})
	require.NoError(t, err)
	_, runs, err := s.ExecutionInsert(ctx, tn.ID, &store.ExecutionInsertParams{WorkflowID: w.ID, WorkflowVersion: 1,
		Runs: []*store.NodeRun{{Node: "a", Status: store.RunQueued}}})
	require.NoError(t, err)
	r, err := s.RunClaim(ctx, tn.ID, runs[0].ID, time.Now().Add(time.Minute))
	require.NoError(t, err)
	_, err = s.write.ExecContext(ctx, `INSERT INTO outbox (`+outboxColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
		r.ID, tn.ID, r.ExecutionID, r.Node, r.Attempt, us(time.Now()))
	require.NoError(t, err)
	count := func() (n int) {
		require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n))
		return n
	}
	require.Equal(t, 1, count())
	require.NoError(t, s.OutboxDelete(ctx, tn.ID, r.ID))
	require.Zero(t, count())
}
