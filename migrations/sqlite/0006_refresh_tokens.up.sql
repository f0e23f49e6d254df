-- Refresh tokens of login sessions (SQLite): the same table as
-- postgres/0005_refresh_tokens.up.sql.

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    family_id  TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    CONSTRAINT refresh_tokens_hash_key UNIQUE (hash)
) STRICT;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
