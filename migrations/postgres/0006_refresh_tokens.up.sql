-- Refresh tokens of login sessions (Postgres). The token itself is never
-- stored: hash is its SHA-256. A token is used once: refreshing marks it
-- used_at and issues the next one; logout sets used_at too. family_id is
-- the id of the login's first token: a replay of a spent token revokes the
-- whole family.

CREATE TABLE refresh_tokens (
    id         text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id),
    family_id  text COLLATE "C" NOT NULL,
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT refresh_tokens_hash_key UNIQUE (hash)
);
-- RefreshTokenRevokeFamily: every token descended from one login.
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
