-- Signed modules and the marketplace (SQLite): the same tables, keys and
-- indexes as postgres/0009_signing.up.sql.

CREATE TABLE publishers (
    name       TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX publishers_tenant_idx ON publishers (tenant_id, name);

CREATE TABLE publisher_keys (
    publisher  TEXT NOT NULL REFERENCES publishers (name),
    key_id     TEXT NOT NULL,
    public_key BLOB NOT NULL,
    not_before INTEGER,
    not_after  INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (publisher, key_id)
) STRICT;

CREATE TABLE trust_policies (
    tenant_id          TEXT PRIMARY KEY REFERENCES tenants (id),
    require_signatures INTEGER NOT NULL CHECK (require_signatures IN (0, 1)),
    trusted_publishers TEXT NOT NULL,
    minimum_versions   TEXT NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE trust_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
) STRICT;
INSERT INTO trust_epoch (id, epoch) VALUES (1, 0);

CREATE TABLE module_version_origins (
    tenant_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    source          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name, version),
    FOREIGN KEY (tenant_id, name, version) REFERENCES module_versions (tenant_id, name, version)
) STRICT;

CREATE TABLE module_grants (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    granted    TEXT NOT NULL,
    requested  TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

CREATE TABLE catalog_modules (
    name           TEXT PRIMARY KEY,
    publisher      TEXT NOT NULL REFERENCES publishers (name),
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    description    TEXT NOT NULL,
    latest_version TEXT NOT NULL,
    versions       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE catalog_versions (
    name            TEXT NOT NULL REFERENCES catalog_modules (name),
    version         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    tenant_id       TEXT NOT NULL,
    digest          TEXT NOT NULL,
    abi             TEXT NOT NULL,
    size            INTEGER NOT NULL,
    manifest        TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    signature       TEXT NOT NULL,
    yanked_at       INTEGER,
    yank_reason     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (name, version),
    CONSTRAINT catalog_versions_seq_key UNIQUE (name, seq),
    FOREIGN KEY (tenant_id, digest) REFERENCES module_blobs (tenant_id, digest)
) STRICT;
