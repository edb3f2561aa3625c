-- The audit trail: one row per authentication outcome. Times are microseconds
-- since the Unix epoch. Rows are only ever inserted.
--
-- `user_id` deliberately has no foreign key: events outlive the users they are
-- about (an administrator must still see who a deleted account was, by id and
-- username), and an event queued before a user was deleted must still be
-- written, not make its whole batch fail.

CREATE TABLE tessera_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    -- The kind's snake_case name, such as 'login_failed'. Not checked here, so
    -- that a new kind needs no migration.
    event      TEXT    NOT NULL,
    user_id    INTEGER,
    -- The actual or attempted username; may be empty.
    username   TEXT    NOT NULL DEFAULT '',
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    -- Small structured facts, as JSON text.
    detail     TEXT    NOT NULL DEFAULT 'null'
) STRICT;

-- Listing is newest first (time, then id, descending), optionally filtered by
-- user or by kind: each index serves one filter and the order.
CREATE INDEX tessera_audit_time ON tessera_audit (time, id);
CREATE INDEX tessera_audit_user_time ON tessera_audit (user_id, time, id);
CREATE INDEX tessera_audit_event_time ON tessera_audit (event, time, id);
