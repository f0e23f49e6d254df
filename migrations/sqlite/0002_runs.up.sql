-- wasmflow schema, version 2 (SQLite): the same columns, table and indexes
-- as postgres/0002_runs.up.sql. Times are INTEGER microseconds since the
-- Unix epoch (UTC), as in 0001.

ALTER TABLE executions ADD COLUMN deadline_at INTEGER;
CREATE INDEX executions_deadline_idx ON executions (status, deadline_at);
CREATE INDEX executions_finished_idx ON executions (status, finished_at);

ALTER TABLE node_runs ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';

CREATE TABLE outbox (
    run_id       TEXT PRIMARY KEY REFERENCES node_runs (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    node         TEXT NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt > 0),
    available_at INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due_idx ON outbox (created_at, available_at, run_id);
CREATE INDEX outbox_execution_idx ON outbox (execution_id);
