-- Counters shared by every server process on this database: the throttles'
-- windows, login protection's failure records and the security-alert windows
-- (the `ThrottleStore`, `LoginAttemptStore` and `AlertWindowStore` of
-- `PgCounterStore`). Each check is one
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

-- Security-alert windows: per key (an address, a username), the distinct
-- values (usernames, addresses; their SHA-256) failing within a window, and
-- whether the window has raised its alert. A note locks the window's row
-- (an upsert) for its transaction, so the alert is raised exactly once.
CREATE TABLE tessera_alert_windows (
    key     BYTEA   PRIMARY KEY,
    ends    BIGINT  NOT NULL,
    alerted BOOLEAN NOT NULL
);
CREATE INDEX tessera_alert_windows_ends ON tessera_alert_windows (ends);

CREATE TABLE tessera_alert_members (
    key    BYTEA  NOT NULL,
    member BYTEA  NOT NULL,
    -- The `ends` of the window the member was noted in.
    ends   BIGINT NOT NULL,
    PRIMARY KEY (key, member)
);
CREATE INDEX tessera_alert_members_ends ON tessera_alert_members (ends);
