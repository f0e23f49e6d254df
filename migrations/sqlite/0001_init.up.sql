-- wasmflow schema, version 1 (SQLite).
--
-- The same tables, keys and indexes as postgres/0001_init.up.sql, in STRICT
-- tables. Types: times are INTEGER microseconds since the Unix epoch (UTC),
-- booleans INTEGER 0/1, JSON documents TEXT (the exact bytes the store was
-- given), bytes BLOB. Text compares as bytes (BINARY), as Postgres's "C".

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT tenants_name_key UNIQUE (name)
) STRICT;

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    hash           BLOB NOT NULL,
    platform_admin INTEGER NOT NULL CHECK (platform_admin IN (0, 1)),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER,
    CONSTRAINT api_keys_hash_key UNIQUE (hash)
) STRICT;
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, id);

CREATE TABLE workflows (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    CONSTRAINT workflows_tenant_id_key UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX workflows_list_idx ON workflows (tenant_id, id) WHERE deleted_at IS NULL;

CREATE TABLE workflow_versions (
    tenant_id   TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, version),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
) STRICT;

CREATE TABLE modules (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    latest_version TEXT NOT NULL,
    versions       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

CREATE TABLE module_blobs (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, digest)
) STRICT;

CREATE TABLE module_versions (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    abi        TEXT NOT NULL,
    size       INTEGER NOT NULL,
    manifest   TEXT,
    signature  TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name, version),
    CONSTRAINT module_versions_seq_key UNIQUE (tenant_id, name, seq),
    FOREIGN KEY (tenant_id, name) REFERENCES modules (tenant_id, name),
    FOREIGN KEY (tenant_id, digest) REFERENCES module_blobs (tenant_id, digest)
) STRICT;
CREATE INDEX module_versions_digest_idx ON module_versions (tenant_id, digest);

CREATE TABLE executions (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    trigger_kind     TEXT NOT NULL,
    input            TEXT,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    CONSTRAINT executions_tenant_id_key UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, workflow_id, workflow_version)
        REFERENCES workflow_versions (tenant_id, workflow_id, version)
) STRICT;
CREATE INDEX executions_workflow_idx ON executions (tenant_id, workflow_id, id);
CREATE INDEX executions_status_idx ON executions (tenant_id, status, id);

CREATE TABLE node_runs (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    node         TEXT NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt > 0),
    status       TEXT NOT NULL
        CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    pending      INTEGER NOT NULL CHECK (pending >= 0),
    lease_until  INTEGER,
    input_size   INTEGER NOT NULL,
    output       TEXT,
    logs         TEXT,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    FOREIGN KEY (tenant_id, execution_id) REFERENCES executions (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT node_runs_execution_seq_key UNIQUE (execution_id, seq),
    CONSTRAINT node_runs_execution_node_attempt_key UNIQUE (execution_id, node, attempt)
) STRICT;
CREATE INDEX node_runs_status_lease_idx ON node_runs (status, lease_until);

CREATE TABLE secrets (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    ciphertext  BLOB NOT NULL,
    wrapped_key BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;
CREATE INDEX secrets_key_id_idx ON secrets (key_id);

CREATE TABLE audit_entries (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    detail     TEXT,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_entries_list_idx ON audit_entries (tenant_id, created_at, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (tenant_id, actor, created_at, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (tenant_id, action, created_at, id);
