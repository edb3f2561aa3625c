-- Server-side sessions, kept only as the SHA-256 digests of their ids. Times
-- are microseconds since the Unix epoch. A session is live while
-- `now < expires` and `now < last_seen + idle timeout`; the idle timeout is a
-- setting, not a column, so that changing it applies to every session at once.

CREATE TABLE tessera_sessions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES tessera_users (id) ON DELETE CASCADE,
    -- Looking a session up is one read of this unique index.
    digest           BLOB    NOT NULL UNIQUE CHECK (length(digest) = 32),
    -- The session's data, as JSON.
    data             TEXT    NOT NULL DEFAULT '{}',
    created          INTEGER NOT NULL,
    last_seen        INTEGER NOT NULL,
    expires          INTEGER NOT NULL,
    ip               TEXT,
    user_agent       TEXT,
    authenticated_at INTEGER
) STRICT;

CREATE INDEX tessera_sessions_user_id ON tessera_sessions (user_id);
-- For purging. `last_seen` is deliberately not indexed: it changes on every
-- touch, and the purge is a background job.
CREATE INDEX tessera_sessions_expires ON tessera_sessions (expires);
