-- Administrators' unlocks of usernames (`POST /admin/users/{id}/unlock`,
-- `tessera unlock`). Login counters live in each server process's memory; a
-- process reads this table only when it finds a username locked (or is about
-- to lock it), so an unlock made by the CLI or by another process reaches it
-- there. One row per username, the latest unlock; the key is the login
-- guard's SHA-256 key of the username, so usernames stay out of the table, as
-- they stay out of the counters. Times are microseconds since the Unix epoch.
CREATE TABLE tessera_login_unlocks (
    username_key TEXT   PRIMARY KEY,
    unlocked_at  BIGINT NOT NULL
);
