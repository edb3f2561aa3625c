-- The revocation log: every write that revokes or changes a credential or
-- its user (a token deleted, rotated or re-dated, a session deleted or
-- rotated, a password changed, a user updated) appends a row naming the user,
-- in the same transaction, and notifies `tessera_revocations` (delivered at
-- commit) to wake the other processes' pollers early. Each process reads the
-- rows after the last one it saw and drops that user's cached credentials, so
-- that a revocation reaches every process within a second whatever the
-- cache's TTL. Rows older than the retention (ten minutes) are purged with
-- the expired credentials. A sequence never hands out an id twice.
--
-- Ids are taken at insert, not at commit, so a row with a smaller id may
-- become visible after a larger one: readers do not follow the id but `tx`,
-- the writing transaction's id. Every transaction that has not committed
-- yet has an id at or above the oldest one still running
-- (`pg_snapshot_xmin(pg_current_snapshot())`), so a reader that re-reads from
-- that horizon each time misses no row, however late its commit.
CREATE TABLE tessera_revocations (
    id      BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    tx      XID8   NOT NULL DEFAULT pg_current_xact_id()
);

CREATE INDEX tessera_revocations_tx ON tessera_revocations (tx);

CREATE INDEX tessera_revocations_at ON tessera_revocations (at);
