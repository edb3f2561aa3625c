//! [`PgCounterStore`]: the throttles' windows, login protection's failure
//! records and the security-alert windows in PostgreSQL, shared by every
//! server process on the database.
//!
//! Each check is one statement, `INSERT ... ON CONFLICT (key) DO UPDATE ...
//! RETURNING`, that applies [`ThrottleWindow::hit`] or [`LoginRecord::fail`]
//! to the row in SQL, with the caller's `now`: the upsert locks the row, so
//! concurrent checks from any number of processes each see the one before
//! (no read-then-write race). Rows are keyed by the SHA-256 of the counter's
//! key. Dead rows (a window that has ended) count as absent and are deleted
//! in the background, a bounded batch every [`PURGE_EVERY`] writes.
//!
//! The security-alert windows ([`AlertWindowStore`]) take a short
//! transaction per note instead: the window's upsert locks its row, then the
//! member is added and the members counted, so the alert is raised once.
//!
//! Throttle windows live in an `UNLOGGED` table (emptied by a PostgreSQL
//! crash, kept across a clean restart); login records in a logged one, so a
//! lockout survives any restart (migration `0010_shared_counters`).

use crate::{store_error, Pool, SqlStore};
use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tessera_core::clock::{from_micros, to_micros};
use tessera_core::store::StoreError;
use tessera_core::throttle::{
    AlertWindowStore, Decision, FailureLimit, Lockout, LoginAttemptStore, LoginRecord, Rate,
    ThrottleStore, ThrottleWindow,
};
use time::OffsetDateTime;

/// Writes between two background deletions of dead rows.
pub const PURGE_EVERY: u64 = 1_000;

/// Dead rows deleted at most per background deletion, per table.
const PURGE_BATCH: i64 = 5_000;

/// One throttle hit. `$1` key, `$2` now, `$3` the period, `$4` the number of
/// requests allowed (at least one). The `SET` expressions read the row as it
/// was: a window that has ended opens a new one; a window under the limit
/// counts the hit; a full one is left as it is and the hit refused.
const HIT: &str = "INSERT INTO tessera_throttle_windows AS w (key, count, ends, allowed) \
     VALUES ($1, 1, $2 + $3, TRUE) \
     ON CONFLICT (key) DO UPDATE SET \
       count = CASE WHEN w.ends <= $2 THEN 1 \
                    WHEN w.count < $4 THEN w.count + 1 \
                    ELSE w.count END, \
       ends = CASE WHEN w.ends <= $2 THEN $2 + $3 ELSE w.ends END, \
       allowed = (w.ends <= $2 OR w.count < $4) \
     RETURNING allowed, ends";

const RESET_WINDOW: &str = "DELETE FROM tessera_throttle_windows WHERE key = $1";

const PURGE_WINDOWS: &str = "DELETE FROM tessera_throttle_windows WHERE key IN \
     (SELECT key FROM tessera_throttle_windows WHERE ends <= $1 LIMIT $2)";

const LIVE_RECORD: &str = "SELECT failures, locks, window_ends, locked_until, since \
     FROM tessera_login_attempts WHERE key = $1 AND window_ends > $2";

/// [`LIVE_RECORD`] of several keys (`$1`, an array) at once.
const LIVE_RECORDS: &str = "SELECT key, failures, locks, window_ends, locked_until, since \
     FROM tessera_login_attempts WHERE key = ANY($1) AND window_ends > $2";

/// [`LIVE_RECORDS`] of two keys (`$1`, `$2`; `$3` now): a login's username
/// and address. PostgreSQL plans `= ANY($1)` afresh on every execution (its
/// generic plan, for an array of unknown length, never looks as cheap as the
/// plan for the array at hand), while `IN ($1, $2)` gets a generic plan after
/// the first five.
const LIVE_RECORDS_PAIR: &str = "SELECT key, failures, locks, window_ends, locked_until, since \
     FROM tessera_login_attempts WHERE key IN ($1, $2) AND window_ends > $3";

const RESET_RECORD: &str = "DELETE FROM tessera_login_attempts WHERE key = $1";

const PURGE_RECORDS: &str = "DELETE FROM tessera_login_attempts WHERE key IN \
     (SELECT key FROM tessera_login_attempts WHERE window_ends <= $1 LIMIT $2)";

/// One failure: [`LoginRecord::fail`] in SQL. `$1` key, `$2` now, `$3` the
/// failures that lock (at least one), `$4` the window, `$5` the first
/// back-off, `$6` the longest; `$7`..`$12` the row of a key that has no live
/// record (computed by [`LoginRecord::fail`] itself). The expressions are
/// built once, from the steps of `fail`: the record as it stands once a dead
/// window is forgotten (`F0`, `L0`, `WE0`, `LU0`, `S0`), whether this failure
/// locks, the lock's length, and the new values.
fn fail_statement() -> &'static str {
    static STATEMENT: OnceLock<String> = OnceLock::new();
    STATEMENT.get_or_init(|| {
        let dead = "(a.window_ends <= $2)";
        let f0 = format!("(CASE WHEN {dead} THEN 0 ELSE a.failures END)");
        let l0 = format!("(CASE WHEN {dead} THEN 0 ELSE a.locks END)");
        let we0 = format!("(CASE WHEN {dead} THEN $2 + $4 ELSE a.window_ends END)");
        let lu0 = format!(
            "(CASE WHEN {dead} THEN {} ELSE a.locked_until END)",
            i64::MIN
        );
        let s0 = format!("(CASE WHEN {dead} THEN $2 ELSE a.since END)");
        let locking = format!("(LEAST({f0}, 2147483646) + 1 >= $3)");
        // first × 2^locks, at most the longest: in numeric, which does not
        // overflow (FailureLimit::backoff).
        let duration = format!(
            "(LEAST($6::numeric, $5::numeric * power(2::numeric, LEAST({l0}, 200)))::bigint)"
        );
        let lu1 =
            format!("(CASE WHEN {locking} THEN GREATEST($2 + {duration}, {lu0}) ELSE {lu0} END)");
        format!(
            "INSERT INTO tessera_login_attempts AS a \
               (key, failures, locks, window_ends, locked_until, since, began) \
             VALUES ($1, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = LEAST({f0}, 2147483646) + 1, \
               locks = LEAST({l0}, 2147483646) + CASE WHEN {locking} THEN 1 ELSE 0 END, \
               locked_until = {lu1}, \
               window_ends = CASE WHEN {locking} THEN GREATEST({we0}, {lu1} + $4) ELSE {we0} END, \
               since = {s0}, \
               began = ({locking} AND $2 >= {lu0}) \
             RETURNING failures, locks, locked_until, began"
        )
    })
}

/// Opens or reads an alert window, locking its row for the transaction. `$1`
/// key, `$2` now, `$3` the window's length.
const OPEN_ALERT_WINDOW: &str = "INSERT INTO tessera_alert_windows AS w (key, ends, alerted) \
     VALUES ($1, $2 + $3, FALSE) \
     ON CONFLICT (key) DO UPDATE SET \
       ends = CASE WHEN w.ends <= $2 THEN $2 + $3 ELSE w.ends END, \
       alerted = CASE WHEN w.ends <= $2 THEN FALSE ELSE w.alerted END \
     RETURNING ends, alerted";

/// A member noted in the window that ends at `$3`.
const NOTE_ALERT_MEMBER: &str = "INSERT INTO tessera_alert_members (key, member, ends) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (key, member) DO UPDATE SET ends = excluded.ends";

const COUNT_ALERT_MEMBERS: &str =
    "SELECT count(*) FROM tessera_alert_members WHERE key = $1 AND ends = $2";

const RAISE_ALERT: &str = "UPDATE tessera_alert_windows SET alerted = TRUE WHERE key = $1";

const PURGE_ALERT_WINDOWS: &str = "DELETE FROM tessera_alert_windows WHERE key IN \
     (SELECT key FROM tessera_alert_windows WHERE ends <= $1 LIMIT $2)";

const PURGE_ALERT_MEMBERS: &str = "DELETE FROM tessera_alert_members WHERE (key, member) IN \
     (SELECT key, member FROM tessera_alert_members WHERE ends <= $1 LIMIT $2)";

/// The throttles' windows and the login failure records in PostgreSQL, for
/// every process on the database to share.
///
/// Each throttle hit and each login failure is one statement, `INSERT ...
/// ON CONFLICT (key) DO UPDATE ... RETURNING`, that applies
/// [`ThrottleWindow::hit`] or [`LoginRecord::fail`] to the row in SQL with
/// the caller's `now`: the upsert locks the row, so concurrent checks from
/// any number of processes each see the one before. A security-alert note
/// is a short transaction that starts with such an upsert of its window.
/// Rows are keyed by the SHA-256 of the counter's key; dead rows count as
/// absent and are deleted in the background, a bounded batch every
/// [`PURGE_EVERY`] writes. Throttle windows live in an `UNLOGGED` table
/// (emptied by a PostgreSQL crash, kept across a clean restart), login
/// records and alert windows in logged ones, so a lockout survives any
/// restart.
/// Cloning is cheap: clones share the pool.
#[derive(Debug, Clone)]
pub struct PgCounterStore {
    pool: PgPool,
    writes: Arc<AtomicU64>,
}

impl SqlStore {
    /// The shared counters on this store's database, when it is PostgreSQL
    /// (`None` for SQLite, whose one process counts in memory). The tables
    /// come with [`SqlStore::migrate`].
    pub fn counters(&self) -> Option<PgCounterStore> {
        match &self.pool {
            Pool::Postgres(pool) => Some(PgCounterStore {
                pool: pool.clone(),
                writes: Arc::new(AtomicU64::new(0)),
            }),
            Pool::Sqlite(_) => None,
        }
    }
}

/// The row key of a counter's key: its SHA-256.
fn row_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Microseconds of a duration, saturating.
fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A login record's row: failures, locks, window end, lock end, since.
type RecordRow = (i32, i32, i64, i64, i64);

fn login_record((failures, locks, window_ends, locked_until, since): RecordRow) -> LoginRecord {
    LoginRecord {
        failures: u32::try_from(failures).unwrap_or(0),
        locks: u32::try_from(locks).unwrap_or(0),
        window_ends,
        locked_until,
        since,
    }
}

/// A count kept as `INTEGER`.
fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl PgCounterStore {
    /// Deletes the rows that are dead at `now`, a bounded batch from each
    /// table; how many. Writes call it in the background every
    /// [`PURGE_EVERY`]; a caller may also run it on a timer.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = to_micros(now);
        let windows = sqlx::query(PURGE_WINDOWS)
            .bind(now)
            .bind(PURGE_BATCH)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        let records = sqlx::query(PURGE_RECORDS)
            .bind(now)
            .bind(PURGE_BATCH)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        let mut alerts = 0;
        for purge in [PURGE_ALERT_WINDOWS, PURGE_ALERT_MEMBERS] {
            alerts += sqlx::query(purge)
                .bind(now)
                .bind(PURGE_BATCH)
                .execute(&self.pool)
                .await
                .map_err(store_error)?
                .rows_affected();
        }
        Ok(windows.rows_affected() + records.rows_affected() + alerts)
    }

    /// Counts a write; every [`PURGE_EVERY`]th starts a purge in the
    /// background (its failure is only logged: the next one retries).
    fn wrote(&self, now: OffsetDateTime) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY != PURGE_EVERY - 1 {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.purge_expired(now).await {
                tracing::warn!(error = %e, "purging dead counters failed");
            }
        });
    }
}

#[async_trait]
impl ThrottleStore for PgCounterStore {
    async fn hit(
        &self,
        key: &str,
        rate: Rate,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError> {
        if rate.num_requests() == 0 {
            // Refused with the whole period, nothing stored.
            return Ok(ThrottleWindow::hit(None, rate, now).0);
        }
        let (allowed, ends): (bool, i64) = sqlx::query_as(HIT)
            .bind(row_key(key))
            .bind(to_micros(now))
            .bind(micros(rate.duration()))
            .bind(int(rate.num_requests()))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        self.wrote(now);
        Ok(if allowed {
            Decision::Allowed
        } else {
            Decision::refused_until(ends, now)
        })
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query(RESET_WINDOW)
            .bind(row_key(key))
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(store_error)
    }
}

#[async_trait]
impl LoginAttemptStore for PgCounterStore {
    async fn live_record(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginRecord>, StoreError> {
        let row: Option<RecordRow> = sqlx::query_as(LIVE_RECORD)
            .bind(row_key(key))
            .bind(to_micros(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(login_record))
    }

    /// One statement for all the keys.
    async fn live_records(
        &self,
        keys: &[&str],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<LoginRecord>>, StoreError> {
        let row_keys: Vec<Vec<u8>> = keys.iter().map(|key| row_key(key)).collect();
        let query = match &row_keys[..] {
            [first, second] => sqlx::query_as(LIVE_RECORDS_PAIR).bind(first).bind(second),
            _ => sqlx::query_as(LIVE_RECORDS).bind(&row_keys),
        };
        let rows: Vec<(Vec<u8>, i32, i32, i64, i64, i64)> = query
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row_keys
            .iter()
            .map(|wanted| {
                rows.iter().find(|row| &row.0 == wanted).map(
                    |&(_, failures, locks, window_ends, locked_until, since)| {
                        login_record((failures, locks, window_ends, locked_until, since))
                    },
                )
            })
            .collect())
    }

    async fn record_failure(
        &self,
        key: &str,
        limit: FailureLimit,
        now: OffsetDateTime,
    ) -> Result<Option<Lockout>, StoreError> {
        // The row of a key without a live record: the rule applied to none.
        let mut fresh = LoginRecord::default();
        let fresh_lock = fresh.fail(&limit, now);
        let (failures, locks, locked_until, began): (i32, i32, i64, bool) =
            sqlx::query_as(fail_statement())
                .bind(row_key(key))
                .bind(to_micros(now))
                .bind(int(limit.max_failures.max(1)))
                .bind(micros(limit.window))
                .bind(micros(limit.first_backoff))
                .bind(micros(limit.max_backoff))
                .bind(int(fresh.failures))
                .bind(int(fresh.locks))
                .bind(fresh.window_ends)
                .bind(fresh.locked_until)
                .bind(fresh.since)
                .bind(fresh_lock.is_some())
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        self.wrote(now);
        if !began {
            return Ok(None);
        }
        let locks = u32::try_from(locks).unwrap_or(1);
        Ok(Some(Lockout {
            failures: u32::try_from(failures).unwrap_or(0),
            duration: limit.backoff(locks.saturating_sub(1)),
            until: from_micros(locked_until),
        }))
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query(RESET_RECORD)
            .bind(row_key(key))
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(store_error)
    }
}

#[async_trait]
impl AlertWindowStore for PgCounterStore {
    async fn note(
        &self,
        key: &str,
        value: &str,
        threshold: u32,
        window: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError> {
        let key = row_key(key);
        let raised = async {
            let mut tx = self.pool.begin().await?;
            let (ends, alerted): (i64, bool) = sqlx::query_as(OPEN_ALERT_WINDOW)
                .bind(&key)
                .bind(to_micros(now))
                .bind(micros(window))
                .fetch_one(&mut *tx)
                .await?;
            if alerted {
                tx.commit().await?;
                return Ok(None);
            }
            sqlx::query(NOTE_ALERT_MEMBER)
                .bind(&key)
                .bind(row_key(value))
                .bind(ends)
                .execute(&mut *tx)
                .await?;
            let count: i64 = sqlx::query_scalar(COUNT_ALERT_MEMBERS)
                .bind(&key)
                .bind(ends)
                .fetch_one(&mut *tx)
                .await?;
            let raised = count >= i64::from(threshold.max(1));
            if raised {
                sqlx::query(RAISE_ALERT)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(raised.then(|| u32::try_from(count).unwrap_or(u32::MAX)))
        }
        .await
        .map_err(store_error)?;
        self.wrote(now);
        Ok(raised)
    }
}
