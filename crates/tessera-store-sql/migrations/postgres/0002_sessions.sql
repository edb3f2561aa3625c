-- Server-side sessions, kept only as the SHA-256 digests of their ids. Times
-- are microseconds since the Unix epoch, as in the SQLite schema. A session is
-- live while `now < expires` and `now < last_seen + idle timeout`; the idle
-- timeout is a setting, not a column, so that changing it applies to every
-- session at once.

CREATE TABLE tessera_sessions (
    id               BIGSERIAL PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES tessera_users (id) ON DELETE CASCADE,
    -- Looking a session up is one read of this unique index.
    digest           BYTEA  NOT NULL UNIQUE CHECK (length(digest) = 32),
    -- The session's data, as JSON text (not JSONB: it is read and written
    -- whole, and comes back exactly as written).
    data             TEXT   NOT NULL DEFAULT '{}',
    created          BIGINT NOT NULL,
    last_seen        BIGINT NOT NULL,
    expires          BIGINT NOT NULL,
    ip               TEXT,
    user_agent       TEXT,
    authenticated_at BIGINT
);

CREATE INDEX tessera_sessions_user_id ON tessera_sessions (user_id);
-- For purging. `last_seen` is deliberately not indexed: it changes on every
-- touch, which an index would keep from being a HOT update.
CREATE INDEX tessera_sessions_expires ON tessera_sessions (expires);
