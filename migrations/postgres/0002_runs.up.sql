-- wasmflow schema, version 2 (Postgres): what the engine's node-run state
-- machine needs.
--
--   * executions.deadline_at is an execution's timeout: the reconciler fails
--     a queued or running execution once it has passed.
--   * node_runs.claim_token names the claim that holds a running run: only
--     that claim may extend the lease or finish the run.
--   * outbox holds the queued runs not yet handed to the queue: a row is
--     written in the transaction that queues a run and deleted once the queue
--     has taken it, so a crash between the commit and the enqueue loses
--     nothing (the reconciler enqueues the rows that stay).

ALTER TABLE executions ADD COLUMN deadline_at timestamptz;
-- ExecutionFailExpired: queued and running executions past their deadline.
CREATE INDEX executions_deadline_idx ON executions (status, deadline_at);
-- ExecutionPrune: finished executions by the time they finished.
CREATE INDEX executions_finished_idx ON executions (status, finished_at);

ALTER TABLE node_runs ADD COLUMN claim_token text COLLATE "C" NOT NULL DEFAULT '';

-- tenant_id, execution_id, node and attempt are copied from the run.
CREATE TABLE outbox (
    run_id       text COLLATE "C" PRIMARY KEY REFERENCES node_runs (id) ON DELETE CASCADE,
    tenant_id    text COLLATE "C" NOT NULL,
    execution_id text COLLATE "C" NOT NULL,
    node         text NOT NULL,
    attempt      integer NOT NULL CHECK (attempt > 0),
    available_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL
);
-- OutboxDue: entries oldest first, availability checked in the index.
CREATE INDEX outbox_due_idx ON outbox (created_at, available_at, run_id);
-- Cancelling or failing an execution deletes its entries.
CREATE INDEX outbox_execution_idx ON outbox (execution_id);
