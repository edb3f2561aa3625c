-- Users, as Django's `auth_user` has them, and API tokens kept only as the
-- SHA-256 digests of their keys. Times are microseconds since the Unix epoch,
-- as in the SQLite schema, so both backends store exactly the same values.

CREATE TABLE tessera_users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff      BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser  BOOLEAN NOT NULL DEFAULT FALSE,
    date_joined   BIGINT  NOT NULL,
    last_login    BIGINT
);

CREATE TABLE tessera_tokens (
    id               BIGSERIAL PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES tessera_users (id) ON DELETE CASCADE,
    -- Looking a key up is one read of this unique index.
    digest           BYTEA  NOT NULL UNIQUE CHECK (length(digest) = 32),
    name             TEXT   NOT NULL,
    -- A JSON array of strings.
    scopes           TEXT   NOT NULL DEFAULT '[]',
    created          BIGINT NOT NULL,
    expires          BIGINT,
    last_used        BIGINT,
    authenticated_at BIGINT
);

CREATE INDEX tessera_tokens_user_id ON tessera_tokens (user_id);
CREATE INDEX tessera_tokens_expires ON tessera_tokens (expires) WHERE expires IS NOT NULL;
