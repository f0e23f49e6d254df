-- wasmflow schema, version 7 (Postgres): triggers of active workflows.
--
--   * executions.trigger_node names the trigger node that started an
--     execution ('' for one started before this version, or by a kind with
--     one node only): of two webhook nodes, only the one called outputs.
--   * webhook_routes and schedules hold the triggers of the current
--     version of each active workflow. The store writes them from the
--     definition in the transaction that activates, deactivates, saves or
--     deletes the workflow, so what answers a webhook or fires a schedule
--     is always the active version: nothing is registered in a process's
--     memory. A webhook request finds its workflow by the primary key
--     (tenant, path, method); two active workflows of a tenant cannot hold
--     the same one.
--   * schedule_ticks records the ticks fired: a scheduler claims a tick by
--     inserting its row, so of several scheduler processes one fires it.
--     Only the latest tick of each schedule is kept (a claim refuses a tick
--     older than it, so the pruned ones cannot fire again).
--   * webhook_signatures remembers the HMAC signatures used within their
--     replay window, so that a replay is refused by every API process.

ALTER TABLE executions ADD COLUMN trigger_node text NOT NULL DEFAULT '';

CREATE TABLE webhook_routes (
    tenant_id   text COLLATE "C" NOT NULL,
    path        text COLLATE "C" NOT NULL,
    method      text COLLATE "C" NOT NULL,
    workflow_id text COLLATE "C" NOT NULL,
    node        text NOT NULL,
    PRIMARY KEY (tenant_id, path, method),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
);
-- Replacing a workflow's routes.
CREATE INDEX webhook_routes_workflow_idx ON webhook_routes (tenant_id, workflow_id);

CREATE TABLE schedules (
    tenant_id   text COLLATE "C" NOT NULL,
    workflow_id text COLLATE "C" NOT NULL,
    node        text COLLATE "C" NOT NULL,
    cron        text NOT NULL,
    timezone    text NOT NULL,
    missed      text NOT NULL CHECK (missed IN ('skip', 'run_once')),
    since       timestamptz NOT NULL, -- ticks before it never fire
    PRIMARY KEY (tenant_id, workflow_id, node),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
);

CREATE TABLE schedule_ticks (
    tenant_id    text COLLATE "C" NOT NULL,
    workflow_id  text COLLATE "C" NOT NULL,
    node         text COLLATE "C" NOT NULL,
    tick_at      timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, node, tick_at)
);

CREATE TABLE webhook_signatures (
    tenant_id  text COLLATE "C" NOT NULL,
    signature  text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, signature)
);
-- WebhookSignaturePrune.
CREATE INDEX webhook_signatures_expires_idx ON webhook_signatures (expires_at);
