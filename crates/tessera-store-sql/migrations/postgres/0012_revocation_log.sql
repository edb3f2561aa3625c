-- The revocation log: every write that revokes or changes a credential or
-- its user (a token deleted, rotated or re-dated, a session deleted or
-- rotated, a password changed, a user updated) appends a row naming the user,
-- in the same transaction, and notifies `tessera_revocations` (delivered at
-- commit) to wake the other processes' pollers early. Each process reads the
-- rows after the last one it saw and drops that user's cached credentials, so
-- that a revocation reaches every process within a second whatever the
-- cache's TTL. Rows older than the retention (ten minutes) are purged with
-- the expired credentials. A sequence never hands out an id twice.
CREATE TABLE tessera_revocations (
    id      BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    at      BIGINT NOT NULL
);

CREATE INDEX tessera_revocations_at ON tessera_revocations (at);
