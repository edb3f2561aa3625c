//! Batched last-use writes (`touch_tokens`, `touch_sessions`): the
//! credentials' use recorder hands over what it queued in a second, and it
//! is written in one transaction, not one transaction a credential (on
//! SQLite, whose one writer would otherwise take every use of a large working
//! set one commit at a time).

use crate::{store_error, BeginWrite, Pool, SqlStore};
use tessera_core::clock::to_micros;
use tessera_core::store::StoreError;
use time::OffsetDateTime;

/// Which credential's last-use column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Touched {
    /// `tessera_tokens.last_used`.
    Tokens,
    /// `tessera_sessions.last_seen`.
    Sessions,
}

impl Touched {
    fn table(self) -> &'static str {
        match self {
            Touched::Tokens => "tessera_tokens",
            Touched::Sessions => "tessera_sessions",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Touched::Tokens => "last_used",
            Touched::Sessions => "last_seen",
        }
    }

    /// PostgreSQL: the whole batch in one statement, the ids and times as
    /// two arrays.
    fn postgres(self) -> String {
        format!(
            "UPDATE {table} AS t SET {column} = v.at \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(id, at) WHERE t.id = v.id",
            table = self.table(),
            column = self.column(),
        )
    }

    /// SQLite: `rows` rows a statement, from a `VALUES` list (`UPDATE ...
    /// FROM`, SQLite 3.33 and later).
    fn sqlite(self, rows: usize) -> String {
        let mut values = String::with_capacity(rows * 7);
        for i in 0..rows {
            values.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
        }
        format!(
            "UPDATE {table} SET {column} = v.column2 FROM (VALUES {values}) AS v \
             WHERE {table}.id = v.column1",
            table = self.table(),
            column = self.column(),
        )
    }
}

/// Rows a statement on SQLite: two parameters a row, far below its limit of
/// 32,766.
const SQLITE_ROWS: usize = 500;

/// Sets each `(id, at)`'s last-use time, in one transaction. Ids that are
/// gone are skipped; an id given twice gets one of its times.
pub(crate) async fn touch_many(
    store: &SqlStore,
    what: Touched,
    uses: &[(i64, OffsetDateTime)],
) -> Result<(), StoreError> {
    if uses.is_empty() {
        return Ok(());
    }
    // In id order, so that two processes' batches lock shared rows in the
    // same order (PostgreSQL).
    let mut uses = uses.to_vec();
    uses.sort_unstable_by_key(|&(id, _)| id);
    match &store.pool {
        Pool::Sqlite(pool) => {
            let mut tx = pool.begin_write().await.map_err(store_error)?;
            for chunk in uses.chunks(SQLITE_ROWS) {
                let sql = what.sqlite(chunk.len());
                // Full chunks share one prepared statement; a last, shorter
                // one is not kept in the connection's statement cache.
                let mut query = sqlx::query(&sql).persistent(chunk.len() == SQLITE_ROWS);
                for &(id, at) in chunk {
                    query = query.bind(id).bind(to_micros(at));
                }
                query.execute(&mut *tx).await.map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)
        }
        Pool::Postgres(pool) => {
            let (ids, ats): (Vec<i64>, Vec<i64>) =
                uses.iter().map(|&(id, at)| (id, to_micros(at))).unzip();
            sqlx::query(&what.postgres())
                .bind(ids)
                .bind(ats)
                .execute(pool)
                .await
                .map(drop)
                .map_err(store_error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statement_has_two_parameters_a_row() {
        let sql = Touched::Sessions.sqlite(3);
        assert_eq!(
            sql,
            "UPDATE tessera_sessions SET last_seen = v.column2 FROM \
             (VALUES (?, ?), (?, ?), (?, ?)) AS v WHERE tessera_sessions.id = v.column1"
        );
    }
}
