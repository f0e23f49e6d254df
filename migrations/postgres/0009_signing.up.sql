-- Signed modules and the marketplace (Postgres).
--
-- Publishers own module namespaces ("acme" owns "acme/*"); their names are
-- global, each belongs to one tenant. A publisher registers Ed25519 keys
-- (key_id is the key's fingerprint), each with an optional validity window
-- and a revocation time. The catalog is shared by every tenant: a version
-- published there points at the publishing tenant's bytes. A tenant's trust
-- policy and its grants per installed module decide what may run; the one
-- trust_epoch row counts the changes that can turn a cached verdict
-- (revoked keys, yanked versions, policies, grants), so every process can
-- tell with one read whether its verdicts still hold.

CREATE TABLE publishers (
    name       text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    created_at timestamptz NOT NULL
);
-- PublisherList: a tenant's publishers by name.
CREATE INDEX publishers_tenant_idx ON publishers (tenant_id, name);

CREATE TABLE publisher_keys (
    publisher  text COLLATE "C" NOT NULL REFERENCES publishers (name),
    key_id     text COLLATE "C" NOT NULL,
    public_key bytea NOT NULL,
    not_before timestamptz,
    not_after  timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (publisher, key_id)
);

CREATE TABLE trust_policies (
    tenant_id          text COLLATE "C" PRIMARY KEY REFERENCES tenants (id),
    require_signatures boolean NOT NULL,
    trusted_publishers json NOT NULL,
    minimum_versions   json NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE trust_epoch (
    id    integer PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL
);
INSERT INTO trust_epoch (id, epoch) VALUES (1, 0);

-- What re-verifying a stored version needs: the digest of its manifest as
-- uploaded (the stored manifest is normalized), and where it came from. A
-- table of its own rather than new columns of module_versions: the reads
-- join it by primary key.
CREATE TABLE module_version_origins (
    tenant_id       text COLLATE "C" NOT NULL,
    name            text COLLATE "C" NOT NULL,
    version         text COLLATE "C" NOT NULL,
    manifest_sha256 text NOT NULL,
    source          text NOT NULL,
    PRIMARY KEY (tenant_id, name, version),
    FOREIGN KEY (tenant_id, name, version) REFERENCES module_versions (tenant_id, name, version)
);

-- The capabilities a tenant granted an installed module, and what the
-- version it granted them for asked.
CREATE TABLE module_grants (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    name       text COLLATE "C" NOT NULL,
    version    text NOT NULL,
    granted    json NOT NULL,
    requested  json NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE catalog_modules (
    name           text COLLATE "C" PRIMARY KEY,
    publisher      text COLLATE "C" NOT NULL REFERENCES publishers (name),
    tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants (id),
    description    text NOT NULL,
    latest_version text NOT NULL,
    versions       integer NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE catalog_versions (
    name            text COLLATE "C" NOT NULL REFERENCES catalog_modules (name),
    version         text COLLATE "C" NOT NULL,
    seq             integer NOT NULL,
    tenant_id       text COLLATE "C" NOT NULL,
    digest          text COLLATE "C" NOT NULL,
    abi             text NOT NULL,
    size            bigint NOT NULL,
    manifest        json NOT NULL,
    manifest_sha256 text NOT NULL,
    signature       json NOT NULL,
    yanked_at       timestamptz,
    yank_reason     text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (name, version),
    -- CatalogVersionList: a module's versions in publish order.
    CONSTRAINT catalog_versions_seq_key UNIQUE (name, seq),
    FOREIGN KEY (tenant_id, digest) REFERENCES module_blobs (tenant_id, digest)
);
