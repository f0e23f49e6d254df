-- wasmflow schema, version 7 (SQLite): triggers of active workflows; the
-- same tables as postgres/0008_triggers.up.sql, which says what they hold.

ALTER TABLE executions ADD COLUMN trigger_node TEXT NOT NULL DEFAULT '';

CREATE TABLE webhook_routes (
    tenant_id   TEXT NOT NULL,
    path        TEXT NOT NULL,
    method      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    node        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, path, method),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
) STRICT;
CREATE INDEX webhook_routes_workflow_idx ON webhook_routes (tenant_id, workflow_id);

CREATE TABLE schedules (
    tenant_id   TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    node        TEXT NOT NULL,
    cron        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    missed      TEXT NOT NULL CHECK (missed IN ('skip', 'run_once')),
    since       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, node),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
) STRICT;

CREATE TABLE schedule_ticks (
    tenant_id    TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    node         TEXT NOT NULL,
    tick_at      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, node, tick_at)
) STRICT;

CREATE TABLE webhook_signatures (
    tenant_id  TEXT NOT NULL,
    signature  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, signature)
) STRICT;
CREATE INDEX webhook_signatures_expires_idx ON webhook_signatures (expires_at);
