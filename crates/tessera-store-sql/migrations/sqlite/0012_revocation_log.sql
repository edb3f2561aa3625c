-- The revocation log: every write that revokes or changes a credential or
-- its user (a token deleted, rotated or re-dated, a session deleted or
-- rotated, a password changed, a user updated) appends a row naming the user,
-- in the same transaction. Each process reads the rows after the last one it
-- saw and drops that user's cached credentials, so that a revocation reaches
-- every process within a second whatever the cache's TTL. Rows older than
-- the retention (ten minutes) are purged with the expired credentials.
-- AUTOINCREMENT: an id is never reused, even once the newest rows are purged.
CREATE TABLE tessera_revocations (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    at      INTEGER NOT NULL
);

CREATE INDEX tessera_revocations_at ON tessera_revocations (at);
