-- Users and their memberships in tenants (Postgres).
--
-- A user is global (one email, one password) and belongs to tenants through
-- memberships, each with its own role. Passwords are stored as argon2id
-- hashes in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash), never in clear.

CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    email         text COLLATE "C" NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE memberships (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id),
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id),
    role       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
-- MembershipListByUser: a user's tenants (login).
CREATE INDEX memberships_user_idx ON memberships (user_id, tenant_id);
