-- Counters shared by every server process on this database: the throttles'
-- windows and login protection's failure records (the `ThrottleStore` and
-- `LoginAttemptStore` of `PgCounterStore`). Each check is one
-- `INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING`: the row lock taken
-- by the upsert is what makes concurrent checks count exactly.
--
-- Keys are the SHA-256 of the counter's key (which can carry a username or
-- an address), so rows are a fixed size and no submitted string is kept.
-- Times are microseconds since the Unix epoch.
--
-- Throttle windows are UNLOGGED: no write-ahead log for the busiest table,
-- at the price of being emptied if PostgreSQL crashes (not on a clean
-- restart); a lost window only lets a client start a new one. Login records
-- are logged, so a lockout survives any restart.
CREATE UNLOGGED TABLE tessera_throttle_windows (
    key     BYTEA   PRIMARY KEY,
    -- Requests allowed in the window.
    count   INTEGER NOT NULL,
    -- When the window ends; the row is dead from then on.
    ends    BIGINT  NOT NULL,
    -- Whether the last hit was allowed (what the upsert returns).
    allowed BOOLEAN NOT NULL
);
CREATE INDEX tessera_throttle_windows_ends ON tessera_throttle_windows (ends);

CREATE TABLE tessera_login_attempts (
    key          BYTEA   PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locks        INTEGER NOT NULL,
    window_ends  BIGINT  NOT NULL,
    locked_until BIGINT  NOT NULL,
    since        BIGINT  NOT NULL,
    -- Whether the last failure counted began a lock (what the upsert returns).
    began        BOOLEAN NOT NULL
);
CREATE INDEX tessera_login_attempts_window_ends ON tessera_login_attempts (window_ends);
