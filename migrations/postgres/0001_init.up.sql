-- wasmflow schema, version 1 (Postgres).
--
-- Conventions:
--   * ids and names that lists sort or page by are text COLLATE "C": the
--     order is the bytes' order on every server, whatever its locale, and the
--     same as SQLite's.
--   * every row but a tenant's carries tenant_id, and every lookup starts
--     with it; child tables reference their parent by (tenant_id, id) so a
--     row can never point into another tenant.
--   * times are timestamptz (microseconds; the store writes UTC, truncated).
--   * JSON documents are json, not jsonb: json keeps the exact bytes the
--     store was given and accepts "\u0000", which jsonb rejects (node outputs
--     and workflow params may hold it); nothing queries inside them.

CREATE TABLE tenants (
    id         text COLLATE "C" PRIMARY KEY,
    name       text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT tenants_name_key UNIQUE (name)
);

CREATE TABLE api_keys (
    id             text COLLATE "C" PRIMARY KEY,
    tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants (id),
    name           text NOT NULL,
    role           text NOT NULL,
    prefix         text NOT NULL,
    hash           bytea NOT NULL,
    platform_admin boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    revoked_at     timestamptz,
    CONSTRAINT api_keys_hash_key UNIQUE (hash)
);
-- APIKeyList: the tenant's keys, newest id first.
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, id);

-- workflows holds the current version number of each workflow; the
-- definitions live in workflow_versions (every saved version, kept after a
-- soft delete for the executions that ran them).
CREATE TABLE workflows (
    id         text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    name       text NOT NULL, -- the current definition's name, for people reading the table
    version    integer NOT NULL CHECK (version > 0),
    active     boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    CONSTRAINT workflows_tenant_id_key UNIQUE (tenant_id, id)
);
-- WorkflowList: the tenant's live workflows, newest id first.
CREATE INDEX workflows_list_idx ON workflows (tenant_id, id) WHERE deleted_at IS NULL;

CREATE TABLE workflow_versions (
    tenant_id   text COLLATE "C" NOT NULL,
    workflow_id text COLLATE "C" NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    definition  json NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, workflow_id, version),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id)
);

-- modules has one row per module name: its newest version and how many there
-- are, so that ModuleList pages through names without grouping versions.
CREATE TABLE modules (
    tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants (id),
    name           text COLLATE "C" NOT NULL,
    latest_version text NOT NULL,
    versions       integer NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- module_blobs holds each tenant's wasm bytes once per digest.
CREATE TABLE module_blobs (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    digest     text COLLATE "C" NOT NULL,
    size       bigint NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, digest)
);

CREATE TABLE module_versions (
    tenant_id  text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    version    text COLLATE "C" NOT NULL,
    seq        integer NOT NULL, -- upload order within the module, from 1
    digest     text COLLATE "C" NOT NULL,
    abi        text NOT NULL,
    size       bigint NOT NULL,
    manifest   json,
    signature  json,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name, version),
    -- ModuleVersionList: a module's versions in upload order.
    CONSTRAINT module_versions_seq_key UNIQUE (tenant_id, name, seq),
    FOREIGN KEY (tenant_id, name) REFERENCES modules (tenant_id, name),
    FOREIGN KEY (tenant_id, digest) REFERENCES module_blobs (tenant_id, digest)
);
-- The blob foreign key's index (which versions use a digest).
CREATE INDEX module_versions_digest_idx ON module_versions (tenant_id, digest);

CREATE TABLE executions (
    id               text COLLATE "C" PRIMARY KEY,
    tenant_id        text COLLATE "C" NOT NULL,
    workflow_id      text COLLATE "C" NOT NULL,
    workflow_version integer NOT NULL,
    status           text NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    trigger_kind     text NOT NULL,
    input            json,
    error            json,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    -- Also ExecutionList's index: the tenant's executions, newest id first.
    CONSTRAINT executions_tenant_id_key UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, workflow_id, workflow_version)
        REFERENCES workflow_versions (tenant_id, workflow_id, version)
);
-- ExecutionList filtered by workflow, and by status.
CREATE INDEX executions_workflow_idx ON executions (tenant_id, workflow_id, id);
CREATE INDEX executions_status_idx ON executions (tenant_id, status, id);

-- node_runs has one row per attempt of a node in an execution. seq numbers
-- the runs of an execution in creation order.
CREATE TABLE node_runs (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL,
    execution_id text COLLATE "C" NOT NULL,
    seq          integer NOT NULL,
    node         text NOT NULL,
    attempt      integer NOT NULL CHECK (attempt > 0),
    status       text NOT NULL
        CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    pending      integer NOT NULL CHECK (pending >= 0),
    lease_until  timestamptz,
    input_size   bigint NOT NULL,
    output       json,
    logs         json,
    error        json,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    FOREIGN KEY (tenant_id, execution_id) REFERENCES executions (tenant_id, id) ON DELETE CASCADE,
    -- NodeRunList: an execution's runs in creation order.
    CONSTRAINT node_runs_execution_seq_key UNIQUE (execution_id, seq),
    -- The engine finds a run by node and attempt.
    CONSTRAINT node_runs_execution_node_attempt_key UNIQUE (execution_id, node, attempt)
);
-- The engine's reconciler: queued runs to re-enqueue, running runs whose lease expired.
CREATE INDEX node_runs_status_lease_idx ON node_runs (status, lease_until);

-- secrets holds ciphertexts only (envelope encryption happens above the store).
CREATE TABLE secrets (
    tenant_id   text COLLATE "C" NOT NULL REFERENCES tenants (id),
    name        text COLLATE "C" NOT NULL,
    ciphertext  bytea NOT NULL,
    wrapped_key bytea NOT NULL,
    key_id      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
-- Key rotation: the secrets still wrapped by a given master key.
CREATE INDEX secrets_key_id_idx ON secrets (key_id);

-- audit_entries is append-only; lists go newest first by (created_at, id).
CREATE TABLE audit_entries (
    id         text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    actor      text COLLATE "C" NOT NULL,
    action     text COLLATE "C" NOT NULL,
    resource   text NOT NULL,
    detail     json,
    created_at timestamptz NOT NULL
);
CREATE INDEX audit_entries_list_idx ON audit_entries (tenant_id, created_at, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (tenant_id, actor, created_at, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (tenant_id, action, created_at, id);
