//! The revocation log ([`RevocationLog`]): the statements that append to it,
//! run by every write that revokes or changes a credential or its user in
//! that write's own transaction, and the reads of each process's poller.
//!
//! A row names the user whose cached credentials are no longer to be
//! trusted, the kind of write (for a reader of the table), and when (for the
//! purge). On PostgreSQL the transaction also notifies
//! [`CHANNEL`], which is delivered at commit and wakes the other processes'
//! pollers early; the log stays the truth, a lost notification costs one
//! poll interval.

use crate::{store_error, with_pool, Pool, SqlStore};
use async_trait::async_trait;
use std::sync::Arc;
use tessera_core::cache::{Revocation, RevocationLog};
use tessera_core::clock::to_micros;
use tessera_core::store::StoreError;
use time::OffsetDateTime;
use tokio::sync::Notify;

/// The PostgreSQL channel a revoking transaction notifies.
pub const CHANNEL: &str = "tessera_revocations";

/// A revocation of the user `$1`'s credentials (`$2` the kind, `$3` the time).
pub(crate) const LOG_USER: &str =
    "INSERT INTO tessera_revocations (user_id, kind, at) VALUES ($1, $2, $3)";

/// A revocation of the token `$1`, named by its owner. Run before the token
/// is deleted.
pub(crate) const LOG_TOKEN: &str = "INSERT INTO tessera_revocations (user_id, kind, at) \
     SELECT user_id, $2, $3 FROM tessera_tokens WHERE id = $1";

/// A revocation of the rotation family `$1`, by owner. Run before the tokens
/// are deleted.
pub(crate) const LOG_FAMILY: &str = "INSERT INTO tessera_revocations (user_id, kind, at) \
     SELECT DISTINCT user_id, $2, $3 FROM tessera_tokens WHERE id = $1 OR family = $1";

/// A revocation of the session `$1`, named by its owner. Run before the
/// session is deleted.
pub(crate) const LOG_SESSION: &str = "INSERT INTO tessera_revocations (user_id, kind, at) \
     SELECT user_id, $2, $3 FROM tessera_sessions WHERE id = $1";

/// The wake-up, delivered when the transaction commits.
pub(crate) const NOTIFY: &str = "SELECT pg_notify('tessera_revocations', '')";

const LATEST: &str = "SELECT COALESCE(MAX(id), 0) FROM tessera_revocations";
const AFTER: &str = "SELECT id, user_id FROM tessera_revocations WHERE id > $1 ORDER BY id";
const PURGE: &str = "DELETE FROM tessera_revocations WHERE at < $1";

/// PostgreSQL: the oldest transaction still running; every transaction that
/// has not committed yet has an id at or above it.
const HORIZON: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint";
/// PostgreSQL: the rows written by transactions at or above a horizon.
const SINCE_HORIZON: &str = "SELECT id, user_id FROM tessera_revocations \
     WHERE tx >= ($1::bigint)::text::xid8 ORDER BY id";

/// Appends a row to the revocation log on the transaction `$tx` (`$sql` one
/// of the `LOG_*` statements, `$id` its `$1`, `$kind` its `$2`) and, when
/// `$notify` (PostgreSQL), notifies [`CHANNEL`]. An `sqlx::Error` result.
macro_rules! log_revocation {
    ($tx:expr, $notify:expr, $sql:expr, $id:expr, $kind:expr) => {
        async {
            sqlx::query($sql)
                .bind($id)
                .bind($kind)
                .bind(::tessera_core::clock::to_micros(
                    ::time::OffsetDateTime::now_utc(),
                ))
                .execute(&mut *$tx)
                .await?;
            if $notify {
                sqlx::query($crate::revocations::NOTIFY)
                    .execute(&mut *$tx)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await
    };
}
pub(crate) use log_revocation;

impl SqlStore {
    /// Whether revoking transactions notify [`CHANNEL`] (PostgreSQL).
    pub(crate) fn notifies(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }
}

#[async_trait]
impl RevocationLog for SqlStore {
    async fn latest_revocation(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => sqlx::query_scalar::<_, i64>(LATEST).fetch_one(pool).await)
            .map_err(store_error)
    }

    async fn revocations_after(&self, after: i64) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as(AFTER).bind(after).fetch_all(pool).await
        })
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, user_id)| Revocation { id, user_id })
            .collect())
    }

    /// On SQLite by id (one writer at a time: ids are taken in commit
    /// order). On PostgreSQL by writing transaction: the position is the
    /// oldest transaction running before the read, and the rows returned are
    /// those of every transaction at or above the last position, so a row
    /// whose transaction took its id early and committed late is still read
    /// (a long-running transaction elsewhere makes the reads longer, not
    /// wrong).
    async fn revocations_since(
        &self,
        position: Option<i64>,
    ) -> Result<(Vec<Revocation>, i64), StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return match position {
                None => Ok((Vec::new(), self.latest_revocation().await?)),
                Some(after) => {
                    let rows = self.revocations_after(after).await?;
                    let next = rows.last().map_or(after, |row| row.id);
                    Ok((rows, next))
                }
            };
        };
        // The horizon first: the read's own snapshot is later, so every
        // transaction it does not see is at or above this horizon.
        let horizon: i64 = sqlx::query_scalar(HORIZON)
            .fetch_one(pool)
            .await
            .map_err(store_error)?;
        let Some(from) = position else {
            return Ok((Vec::new(), horizon));
        };
        let rows: Vec<(i64, i64)> = sqlx::query_as(SINCE_HORIZON)
            .bind(from)
            .fetch_all(pool)
            .await
            .map_err(store_error)?;
        let rows = rows
            .into_iter()
            .map(|(id, user_id)| Revocation { id, user_id })
            .collect();
        Ok((rows, horizon))
    }

    async fn purge_revocations(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query(PURGE)
                .bind(to_micros(before))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(store_error)
    }

    /// On PostgreSQL, `LISTEN tessera_revocations` on a connection of its
    /// own; on SQLite nothing (the log is only polled: the processes share
    /// one file on one machine, and a poll is a cheap local read).
    async fn listen(&self, wake: Arc<Notify>) -> Result<(), StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(());
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool)
            .await
            .map_err(store_error)?;
        listener.listen(CHANNEL).await.map_err(store_error)?;
        // Rows may have been written while no one listened.
        wake.notify_one();
        loop {
            listener.recv().await.map_err(store_error)?;
            wake.notify_one();
        }
    }
}
