//! [`SessionStore`] for both backends.
//!
//! Liveness (`now < expires` and `now < last_seen + idle_timeout`) is checked
//! in SQL as `expires > $now AND last_seen > $cutoff`, with both bounds
//! computed exactly by [`Bounds`], so that the database and
//! [`SessionRecord::is_live`] agree to the nanosecond.

use crate::revocations::{log_revocation, LOG_SESSION, LOG_USER};
use crate::rows::{
    encode_data, fold_groups, groups_join, session_columns, Grouped, SessionRow, SessionUserRow,
};
use crate::tokens::finish;
use crate::BeginWrite;
use crate::{store_error, with_pool, SqlStore};
use async_trait::async_trait;
use tessera_core::clock::{from_micros, to_micros};
use tessera_core::session::{NewSession, SessionRecord};
use tessera_core::store::{SessionStore, StoreError};
use tessera_core::token::KeyDigest;
use tessera_core::User;
use time::{Duration, OffsetDateTime};

pub(crate) const INSERT_SESSION: &str = "INSERT INTO tessera_sessions \
     (user_id, digest, data, created, last_seen, expires, ip, user_agent, authenticated_at) \
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8) \
     RETURNING id";

// One read of the digest's unique index, joined to the owner by primary key.
const FIND_SESSION: &str = concat!(
    "SELECT s.id AS session_id, s.user_id, s.data, s.created, \
     s.last_seen, s.expires, s.ip, s.user_agent, s.authenticated_at, \
     u.username, u.email, u.is_active, u.is_staff, u.is_superuser, u.date_joined, u.last_login, \
     g.name AS group_name \
     FROM tessera_sessions s JOIN tessera_users u ON u.id = s.user_id",
    groups_join!(),
    " WHERE s.digest = $1 AND s.expires > $2 AND s.last_seen > $3"
);

const LIST_SESSIONS: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM tessera_sessions WHERE user_id = $1 AND expires > $2 AND last_seen > $3 \
     ORDER BY created, id"
);

/// The live sessions of every user, as [`LIST_SESSIONS`] tells them.
const COUNT_LIVE_SESSIONS: &str =
    "SELECT count(*) FROM tessera_sessions WHERE expires > $1 AND last_seen > $2";

/// Runs [`INSERT_SESSION`] for `$new` (its data already encoded as `$data`)
/// on `$executor`: a pool, or a transaction (a session login). The new id.
macro_rules! insert_session {
    ($executor:expr, $new:expr, $data:expr) => {
        sqlx::query_scalar::<_, i64>($crate::sessions::INSERT_SESSION)
            .bind($new.user_id)
            .bind(&$new.digest.0[..])
            .bind($data)
            .bind(::tessera_core::clock::to_micros($new.created))
            .bind(::tessera_core::clock::to_micros($new.expires))
            .bind($new.ip.as_deref())
            .bind($new.user_agent.as_deref())
            .bind($new.authenticated_at.map(::tessera_core::clock::to_micros))
            .fetch_one($executor)
            .await
    };
}
pub(crate) use insert_session;

/// The record of the session stored as `id`: what a later read returns.
pub(crate) fn stored_session(id: i64, new: NewSession) -> SessionRecord {
    let micros = |t: OffsetDateTime| from_micros(to_micros(t));
    SessionRecord {
        id,
        user_id: new.user_id,
        data: new.data,
        created: micros(new.created),
        last_seen: micros(new.created),
        expires: micros(new.expires),
        ip: new.ip,
        user_agent: new.user_agent,
        authenticated_at: new.authenticated_at.map(micros),
    }
}

const ROTATE_SESSION: &str = "UPDATE tessera_sessions \
     SET digest = $2, authenticated_at = COALESCE($3, authenticated_at) WHERE id = $1";

const SET_SESSION_DATA: &str = "UPDATE tessera_sessions SET data = $2 WHERE id = $1";

const TOUCH_SESSION: &str = "UPDATE tessera_sessions SET last_seen = $2 WHERE id = $1";

const SESSION_OWNER: &str = "SELECT user_id FROM tessera_sessions WHERE id = $1";

pub(crate) const DELETE_SESSION: &str =
    "DELETE FROM tessera_sessions WHERE id = $1 AND ($2 IS NULL OR user_id = $2)";

pub(crate) const DELETE_USER_SESSIONS: &str =
    "DELETE FROM tessera_sessions WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)";

const PURGE_EXPIRED_SESSIONS: &str =
    "DELETE FROM tessera_sessions WHERE expires <= $1 OR last_seen <= $2";

/// The bounds of liveness at `now`, in stored microseconds: a session is live
/// exactly when `expires > now` and `last_seen > cutoff`.
///
/// Stored times are whole microseconds, so for a stored `t` (in µs) and an
/// instant `x` (in ns), `x < t` is `t > floor(x / 1000)`. Flooring (not
/// truncating) keeps this exact for `now` or an idle timeout with a
/// sub-microsecond part, and before the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    now: i64,
    cutoff: i64,
}

impl Bounds {
    fn at(now: OffsetDateTime, idle_timeout: Duration) -> Bounds {
        let now = now.unix_timestamp_nanos();
        Bounds {
            now: floor_micros(now),
            cutoff: floor_micros(now - idle_timeout.whole_nanoseconds()),
        }
    }
}

/// `floor(nanos / 1000)`, clamped to `i64`.
fn floor_micros(nanos: i128) -> i64 {
    let micros = nanos.div_euclid(1_000);
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

#[async_trait]
impl SessionStore for SqlStore {
    /// A digest already stored is [`StoreError::Conflict`]; an unknown owner is
    /// [`StoreError::Other`].
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let data = encode_data(&new.data)?;
        let id: i64 = with_pool!(self, pool => {
            insert_session!(pool, new, &data)
        })
        .map_err(store_error)?;
        Ok(stored_session(id, new))
    }

    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let bounds = Bounds::at(now, idle_timeout);
        let rows: Vec<Grouped<SessionUserRow>> = with_pool!(self, pool => {
            sqlx::query_as(FIND_SESSION)
                .bind(&digest.0[..])
                .bind(bounds.now)
                .bind(bounds.cutoff)
                .fetch_all(pool)
                .await
        })
        .map_err(store_error)?;
        fold_groups(rows)
            .map(|(row, groups)| {
                row.into_pair()
                    .map(|(session, user)| (session, User { groups, ..user }))
            })
            .transpose()
    }

    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let bounds = Bounds::at(now, idle_timeout);
        let rows: Vec<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_SESSIONS)
                .bind(user_id)
                .bind(bounds.now)
                .bind(bounds.cutoff)
                .fetch_all(pool)
                .await
        })
        .map_err(store_error)?;
        rows.into_iter().map(SessionRow::into_record).collect()
    }

    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<u64, StoreError> {
        let bounds = Bounds::at(now, idle_timeout);
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(COUNT_LIVE_SESSIONS)
                .bind(bounds.now)
                .bind(bounds.cutoff)
                .fetch_one(pool)
                .await
        })
        .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// A `new_digest` already stored is [`StoreError::Conflict`], and the
    /// session keeps its old digest.
    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        authenticated_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let notify = self.notifies();
        let done = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let done = sqlx::query(ROTATE_SESSION)
                    .bind(id)
                    .bind(&new_digest.0[..])
                    .bind(authenticated_at.map(to_micros))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    log_revocation!(tx, notify, LOG_SESSION, id, "session_rotated")?;
                }
                finish(tx, done > 0).await?;
                Ok::<_, sqlx::Error>(done)
            }
            .await
        })
        .map_err(store_error)?;
        Ok(done > 0)
    }

    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        let data = encode_data(&data)?;
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let done = sqlx::query(SET_SESSION_DATA)
                    .bind(id)
                    .bind(&data)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    log_revocation!(tx, notify, LOG_SESSION, id, "session_data_set")?;
                }
                finish(tx, done > 0).await
            }
            .await
        })
        .map_err(store_error)
    }

    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(TOUCH_SESSION)
                .bind(id)
                .bind(to_micros(at))
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(store_error)
    }

    async fn touch_sessions(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        crate::touches::touch_many(self, crate::touches::Touched::Sessions, uses).await
    }

    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar(SESSION_OWNER).bind(id).fetch_optional(pool).await
        })
        .map_err(store_error)
    }

    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        let notify = self.notifies();
        let done = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                log_revocation!(tx, notify, LOG_SESSION, id, "session_deleted")?;
                let done = sqlx::query(DELETE_SESSION)
                    .bind(id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                finish(tx, done > 0).await?;
                Ok::<_, sqlx::Error>(done)
            }
            .await
        })
        .map_err(store_error)?;
        Ok(done > 0)
    }

    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let done = sqlx::query(DELETE_USER_SESSIONS)
                    .bind(user_id)
                    .bind(except)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    log_revocation!(tx, notify, LOG_USER, user_id, "user_sessions_deleted")?;
                }
                finish(tx, done > 0).await?;
                Ok::<_, sqlx::Error>(done)
            }
            .await
        })
        .map_err(store_error)
    }

    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<u64, StoreError> {
        let bounds = Bounds::at(now, idle_timeout);
        with_pool!(self, pool => {
            sqlx::query(PURGE_EXPIRED_SESSIONS)
                .bind(bounds.now)
                .bind(bounds.cutoff)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record stored at whole microseconds, checked through [`Bounds`] as the
    /// SQL does.
    fn live_in_sql(record: &SessionRecord, now: OffsetDateTime, idle: Duration) -> bool {
        let bounds = Bounds::at(now, idle);
        to_micros(record.expires) > bounds.now && to_micros(record.last_seen) > bounds.cutoff
    }

    #[test]
    fn bounds_agree_with_is_live_to_the_nanosecond() {
        let t0 = from_micros(1_714_979_289_123_456);
        let record = SessionRecord {
            id: 1,
            user_id: 1,
            data: serde_json::Value::Null,
            created: t0,
            last_seen: t0,
            expires: t0 + Duration::hours(2),
            ip: None,
            user_agent: None,
            authenticated_at: None,
        };
        let idles = [
            Duration::hours(1),
            Duration::hours(1) + Duration::nanoseconds(1),
            Duration::hours(1) - Duration::nanoseconds(1),
            Duration::microseconds(1) + Duration::nanoseconds(500),
            Duration::ZERO,
            Duration::hours(3),
        ];
        let offsets = [
            Duration::ZERO,
            Duration::nanoseconds(1),
            Duration::nanoseconds(999),
            Duration::microseconds(1),
            Duration::nanoseconds(1_500),
            Duration::hours(1) - Duration::nanoseconds(1),
            Duration::hours(1),
            Duration::hours(1) + Duration::nanoseconds(1),
            Duration::hours(2) - Duration::nanoseconds(1),
            Duration::hours(2),
            -Duration::nanoseconds(1),
        ];
        for idle in idles {
            for offset in offsets {
                let now = t0 + offset;
                assert_eq!(
                    live_in_sql(&record, now, idle),
                    record.is_live(now, idle),
                    "idle {idle}, now t0 + {offset}"
                );
            }
        }
    }

    #[test]
    fn floor_micros_floors_and_clamps() {
        assert_eq!(floor_micros(1_999), 1);
        assert_eq!(floor_micros(-1), -1);
        assert_eq!(floor_micros(-1_000), -1);
        assert_eq!(floor_micros(-1_001), -2);
        assert_eq!(floor_micros(i128::MAX), i64::MAX);
        assert_eq!(floor_micros(i128::MIN), i64::MIN);
    }
}
