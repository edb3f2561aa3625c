//! [`AuditStore`] for both backends.
//!
//! The listing's `WHERE` clause names only the filters that are set, rather
//! than `($1 IS NULL OR user_id = $1)`, so that each of the eight shapes gets a
//! plan that uses its index (a generic PostgreSQL plan for the `IS NULL OR`
//! form cannot). The shapes are few, so each connection's statement cache
//! still prepares each once.
//!
//! Aggregated rows carry a unique `aggregate_key` and their count in
//! `aggregate_count`: adding to one is an upsert on that key, one statement
//! that both backends run atomically, so concurrent writers (processes
//! sharing a PostgreSQL database) make one row with the sum. The count is put
//! into `detail` as `"count"` when the row is read.

use crate::rows::encode_data;
use crate::BeginWrite;
use crate::{store_error, with_pool, SqlStore};
use async_trait::async_trait;
use sqlx::FromRow;
use tessera_core::audit::{
    merge_by_key, with_count, AggregatedEvents, AuditPage, AuditQuery, AuditRecord, AuditStore,
    EventCount, EventKind, NewAuditEvent,
};
use tessera_core::clock::from_micros;
use tessera_core::store::StoreError;
use time::OffsetDateTime;

pub(crate) const INSERT_EVENT: &str = "INSERT INTO tessera_audit \
     (time, event, user_id, username, ip, user_agent, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     RETURNING id";

const EVENT_COLUMNS: &str =
    "id, time, event, user_id, username, ip, user_agent, request_id, detail, aggregate_count";

/// Adds to an aggregated row, or inserts it: the eight columns of
/// [`INSERT_EVENT`], then the key and the count to add.
const UPSERT_AGGREGATE: &str = "INSERT INTO tessera_audit \
     (time, event, user_id, username, ip, user_agent, request_id, detail, \
      aggregate_key, aggregate_count) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (aggregate_key) WHERE aggregate_key IS NOT NULL \
     DO UPDATE SET aggregate_count = tessera_audit.aggregate_count + excluded.aggregate_count";

/// Most events one retention statement deletes: each chunk is a short
/// transaction of its own, so a first pruning of a large trail does not hold
/// SQLite's write lock (or a long PostgreSQL transaction) for its whole
/// length.
const DELETE_CHUNK: i64 = 10_000;

/// Deletes up to [`DELETE_CHUNK`] events from before `$1`.
const DELETE_BEFORE: &str = "DELETE FROM tessera_audit WHERE id IN \
     (SELECT id FROM tessera_audit WHERE time < $1 LIMIT $2)";

/// `EVENT_COLUMNS`.
#[derive(FromRow)]
struct AuditRow {
    id: i64,
    time: i64,
    event: String,
    user_id: Option<i64>,
    username: String,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    detail: String,
    aggregate_count: Option<i64>,
}

impl AuditRow {
    fn into_record(self) -> Result<AuditRecord, StoreError> {
        let event = self.event.parse().map_err(|_| {
            StoreError::Other(format!("unknown audit event kind {:?}", self.event).into())
        })?;
        let mut detail =
            serde_json::from_str(&self.detail).map_err(|e| StoreError::Other(Box::new(e)))?;
        if let Some(count) = self.aggregate_count {
            detail = with_count(detail, u64::try_from(count).unwrap_or(0));
        }
        Ok(AuditRecord {
            id: self.id,
            time: from_micros(self.time),
            event,
            user: self.user_id,
            username: self.username,
            ip: self.ip,
            user_agent: self.user_agent,
            request_id: self.request_id,
            detail,
        })
    }
}

/// A sanitised event with its `detail` as JSON text, ready to bind.
pub(crate) struct Insert {
    pub(crate) event: NewAuditEvent,
    pub(crate) detail: String,
}

impl Insert {
    /// `event`, sanitised as every stored event is.
    pub(crate) fn new(event: NewAuditEvent) -> Result<Insert, StoreError> {
        let event = event.sanitized();
        let detail = encode_data(&event.detail)?;
        Ok(Insert { event, detail })
    }
}

/// Runs [`INSERT_EVENT`] for the [`Insert`] `$insert` on `$executor`: the new id.
macro_rules! insert_event {
    ($executor:expr, $insert:expr) => {
        $crate::audit::bind_event!(
            sqlx::query_scalar::<_, i64>($crate::audit::INSERT_EVENT),
            $insert
        )
        .fetch_one($executor)
        .await
    };
}
pub(crate) use insert_event;

/// Binds the eight columns of the [`Insert`] `$insert` to `$query`, in
/// [`INSERT_EVENT`]'s order.
macro_rules! bind_event {
    ($query:expr, $insert:expr) => {
        $query
            .bind(::tessera_core::clock::to_micros($insert.event.time))
            .bind($insert.event.event.as_str())
            .bind($insert.event.user)
            .bind(&$insert.event.username)
            .bind($insert.event.ip.as_deref())
            .bind($insert.event.user_agent.as_deref())
            .bind($insert.event.request_id.as_deref())
            .bind(&$insert.detail)
    };
}
pub(crate) use bind_event;

/// Most events in one [`insert_events!`] statement: 8 parameters each, far
/// below both backends' limit on a statement's parameters.
pub(crate) const EVENTS_PER_INSERT: usize = 512;

/// [`INSERT_EVENT`] for `rows` events in one statement (one round trip to
/// the database instead of `rows`), parameters numbered row after row; the
/// rows get increasing ids in this order.
pub(crate) fn insert_events_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO tessera_audit \
         (time, event, user_id, username, ip, user_agent, request_id, detail) VALUES ",
    );
    for row in 0..rows {
        let p = row * 8;
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7,
            p + 8
        ));
    }
    sql
}

/// Inserts the [`Insert`]s of the slice `$inserts` (at most
/// [`EVENTS_PER_INSERT`], at least one) with one statement on `$executor`.
macro_rules! insert_events {
    ($executor:expr, $inserts:expr) => {{
        let inserts: &[$crate::audit::Insert] = $inserts;
        let sql = $crate::audit::insert_events_sql(inserts.len());
        // Only the one- and two-row statements are kept prepared: a statement
        // per batch size would crowd the connection's statement cache.
        let mut query = sqlx::query(&sql).persistent(inserts.len() <= 2);
        for insert in inserts {
            query = $crate::audit::bind_event!(query, insert);
        }
        query.execute($executor).await
    }};
}
pub(crate) use insert_events;

/// `" WHERE ..."` for the filters of `q` that are set (or nothing), with
/// parameters numbered from `$1` in the order user, event, since, until,
/// username, ip; and how many parameters it takes.
fn where_clause(q: &AuditQuery) -> (String, usize) {
    let mut clauses = Vec::new();
    let filters = [
        (q.user.is_some(), "user_id ="),
        (q.event.is_some(), "event ="),
        (q.since.is_some(), "time >="),
        (q.until.is_some(), "time <"),
        (q.username.is_some(), "username ="),
        (q.ip.is_some(), "ip ="),
    ];
    for (_, test) in filters.iter().filter(|(set, _)| *set) {
        clauses.push(format!("{test} ${}", clauses.len() + 1));
    }
    if clauses.is_empty() {
        (String::new(), 0)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), clauses.len())
    }
}

/// Binds the filters of `$q` that are set to `$query`, in [`where_clause`]'s
/// order.
macro_rules! bind_filters {
    ($query:expr, $q:expr) => {{
        let mut query = $query;
        if let Some(user) = $q.user {
            query = query.bind(user);
        }
        if let Some(event) = $q.event {
            query = query.bind(event.as_str());
        }
        if let Some(since) = $q.since {
            query = query.bind(ceil_micros(since));
        }
        if let Some(until) = $q.until {
            // `time < until` for whole microseconds: `time < ceil(until)`.
            query = query.bind(ceil_micros(until));
        }
        if let Some(username) = &$q.username {
            query = query.bind(username.as_str());
        }
        if let Some(ip) = &$q.ip {
            query = query.bind(ip.as_str());
        }
        query
    }};
}

/// The least whole microsecond at or after `t`: a stored time `s` is at or
/// after `t` exactly when `s >= ceil_micros(t)`, even when `t` has a
/// sub-microsecond part.
fn ceil_micros(t: OffsetDateTime) -> i64 {
    let micros = -(-t.unix_timestamp_nanos()).div_euclid(1_000);
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append(&self, event: NewAuditEvent) -> Result<AuditRecord, StoreError> {
        let insert = Insert::new(event)?;
        let id = with_pool!(self, pool => insert_event!(pool, insert)).map_err(store_error)?;
        Ok(insert.event.into_record(id))
    }

    async fn append_many(&self, events: Vec<NewAuditEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let inserts = events
            .into_iter()
            .map(Insert::new)
            .collect::<Result<Vec<_>, _>>()?;
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                for chunk in inserts.chunks(EVENTS_PER_INSERT) {
                    insert_events!(&mut *tx, chunk)?;
                }
                tx.commit().await
            }
            .await
        })
        .map_err(store_error)
    }

    async fn add_aggregated(&self, entries: Vec<AggregatedEvents>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = merge_by_key(entries)
            .into_iter()
            .map(|(key, entry)| {
                let event = entry.row();
                let detail = encode_data(&event.detail)?;
                let count = i64::try_from(entry.count).unwrap_or(i64::MAX);
                Ok((Insert { event, detail }, key, count))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                for (insert, key, count) in &rows {
                    bind_event!(sqlx::query(UPSERT_AGGREGATE), insert)
                        .bind(key)
                        .bind(*count)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
            .await
        })
        .map_err(store_error)
    }

    async fn event_counts(
        &self,
        kinds: &[EventKind],
        since: OffsetDateTime,
        bucket: std::time::Duration,
    ) -> Result<Vec<EventCount>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let length = i64::try_from(bucket.as_micros()).unwrap_or(i64::MAX).max(1);
        let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 3)).collect();
        let kinds_in = marks.join(", ");
        // Rows counted from the (event, time, id) index alone, then each
        // aggregated row's count beyond its one row (few rows, found through
        // the partial index on aggregate_key). Integer division on both
        // backends: the operands are BIGINT.
        let sql = format!(
            "SELECT event, (time - $1) / $2 AS bucket, CAST(count(*) AS BIGINT) AS n \
             FROM tessera_audit WHERE event IN ({kinds_in}) AND time >= $1 \
             GROUP BY event, bucket \
             UNION ALL \
             SELECT event, (time - $1) / $2 AS bucket, \
             CAST(SUM(aggregate_count - 1) AS BIGINT) AS n \
             FROM tessera_audit WHERE aggregate_key IS NOT NULL \
             AND event IN ({kinds_in}) AND time >= $1 \
             GROUP BY event, bucket"
        );
        let since = ceil_micros(since);
        let rows: Vec<(String, i64, i64)> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql).bind(since).bind(length);
            for kind in kinds {
                query = query.bind(kind.as_str());
            }
            query.fetch_all(pool).await
        })
        .map_err(store_error)?;
        let mut counts: Vec<EventCount> = Vec::new();
        for (event, bucket, n) in rows {
            let event = event.parse().map_err(|_| {
                StoreError::Other(format!("unknown audit event kind {event:?}").into())
            })?;
            let bucket = u64::try_from(bucket).unwrap_or(0);
            let n = u64::try_from(n).unwrap_or(0);
            match counts
                .iter_mut()
                .find(|c| c.event == event && c.bucket == bucket)
            {
                Some(count) => count.count += n,
                None => counts.push(EventCount {
                    event,
                    bucket,
                    count: n,
                }),
            }
        }
        counts.retain(|c| c.count > 0);
        Ok(counts)
    }

    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        // `time < before` for a stored whole microsecond `time`.
        let before = ceil_micros(before);
        let mut deleted = 0u64;
        loop {
            let done = with_pool!(self, pool => {
                sqlx::query(DELETE_BEFORE)
                    .bind(before)
                    .bind(DELETE_CHUNK)
                    .execute(pool)
                    .await
                    .map(|result| result.rows_affected())
            })
            .map_err(store_error)?;
            deleted += done;
            if done < DELETE_CHUNK as u64 {
                return Ok(deleted);
            }
        }
    }

    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        let (filter, params) = where_clause(q);
        let count_sql = format!("SELECT count(*) FROM tessera_audit{filter}");
        let page_sql = format!(
            "SELECT {EVENT_COLUMNS} FROM tessera_audit{filter} \
             ORDER BY time DESC, id DESC LIMIT ${} OFFSET ${}",
            params + 1,
            params + 2
        );
        let (count, rows): (i64, Vec<AuditRow>) = with_pool!(self, pool => {
            let count = bind_filters!(sqlx::query_scalar(&count_sql), q)
                .fetch_one(pool)
                .await;
            match count {
                Ok(count) => bind_filters!(sqlx::query_as(&page_sql), q)
                    .bind(clamp(q.limit))
                    .bind(clamp(q.offset))
                    .fetch_all(pool)
                    .await
                    .map(|rows| (count, rows)),
                Err(e) => Err(e),
            }
        })
        .map_err(store_error)?;
        Ok(AuditPage {
            count: u64::try_from(count).unwrap_or(0),
            events: rows
                .into_iter()
                .map(AuditRow::into_record)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::clock::to_micros;
    use time::macros::datetime;

    #[test]
    fn where_clause_numbers_only_the_filters_set() {
        let t = datetime!(2024-05-06 07:08:09 UTC);
        let q = |user, event, since| AuditQuery {
            user,
            event,
            since,
            ..AuditQuery::default()
        };
        assert_eq!(where_clause(&q(None, None, None)), (String::new(), 0));
        assert_eq!(
            where_clause(&q(Some(1), Some(EventKind::Logout), Some(t))),
            (
                " WHERE user_id = $1 AND event = $2 AND time >= $3".to_owned(),
                3
            )
        );
        assert_eq!(
            where_clause(&q(None, Some(EventKind::Logout), Some(t))),
            (" WHERE event = $1 AND time >= $2".to_owned(), 2)
        );
        assert_eq!(
            where_clause(&q(Some(1), None, None)),
            (" WHERE user_id = $1".to_owned(), 1)
        );
    }

    #[test]
    fn ceil_micros_rounds_up_to_whole_microseconds() {
        let t = datetime!(2024-05-06 07:08:09.123456 UTC);
        assert_eq!(ceil_micros(t), to_micros(t));
        assert_eq!(
            ceil_micros(t + time::Duration::nanoseconds(1)),
            to_micros(t) + 1
        );
        assert_eq!(
            ceil_micros(t - time::Duration::nanoseconds(1)),
            to_micros(t)
        );
        let before_epoch = OffsetDateTime::UNIX_EPOCH - time::Duration::nanoseconds(1_500);
        assert_eq!(ceil_micros(before_epoch), -1);
    }

    #[test]
    fn an_unknown_kind_in_a_row_is_an_error() {
        let row = AuditRow {
            id: 1,
            time: 0,
            event: "not_a_kind".to_owned(),
            user_id: None,
            username: String::new(),
            ip: None,
            user_agent: None,
            request_id: None,
            detail: "null".to_owned(),
            aggregate_count: None,
        };
        assert!(matches!(row.into_record(), Err(StoreError::Other(_))));
    }
}
