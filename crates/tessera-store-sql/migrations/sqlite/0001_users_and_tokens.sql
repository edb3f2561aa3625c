-- Users, as Django's `auth_user` has them, and API tokens kept only as the
-- SHA-256 digests of their keys. Times are microseconds since the Unix epoch.

CREATE TABLE tessera_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_staff      INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    is_superuser  INTEGER NOT NULL DEFAULT 0 CHECK (is_superuser IN (0, 1)),
    date_joined   INTEGER NOT NULL,
    last_login    INTEGER
) STRICT;

CREATE TABLE tessera_tokens (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES tessera_users (id) ON DELETE CASCADE,
    -- Looking a key up is one read of this unique index.
    digest           BLOB    NOT NULL UNIQUE CHECK (length(digest) = 32),
    name             TEXT    NOT NULL,
    -- A JSON array of strings.
    scopes           TEXT    NOT NULL DEFAULT '[]',
    created          INTEGER NOT NULL,
    expires          INTEGER,
    last_used        INTEGER,
    authenticated_at INTEGER
) STRICT;

CREATE INDEX tessera_tokens_user_id ON tessera_tokens (user_id);
CREATE INDEX tessera_tokens_expires ON tessera_tokens (expires) WHERE expires IS NOT NULL;
