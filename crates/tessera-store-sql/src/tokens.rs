//! [`TokenStore`] for both backends.

use crate::revocations::{log_revocation, LOG_TOKEN, LOG_USER};
use crate::rows::{
    encode_scopes, fold_groups, groups_join, token_columns, Grouped, TokenRow, TokenUserRow,
};
use crate::BeginWrite;
use crate::{store_error, with_pool, Pool, SqlStore};
use async_trait::async_trait;
use tessera_core::clock::{from_micros, to_micros};
use tessera_core::store::{StoreError, TokenStore};
use tessera_core::token::{KeyDigest, NewToken, TokenRecord};
use tessera_core::User;
use time::OffsetDateTime;

// The cap is checked by the insert itself: the row is written only while the
// owner holds fewer than `$8` tokens live at the new token's creation time
// (unexpired, and not rotated out past their grace period).
// On SQLite one statement is atomic (it takes the write lock before reading);
// on PostgreSQL the owner's row is locked first (`LOCK_OWNER`), so that
// concurrent inserts for one user are counted one after another. The count
// reads only the (user_id, expires, grace_until) index, and stops at the cap:
// a user with thousands of tokens costs no more than one at the cap.
pub(crate) const INSERT_TOKEN: &str = "INSERT INTO tessera_tokens \
     (user_id, digest, name, scopes, created, expires, authenticated_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7 \
     WHERE (SELECT count(*) FROM (SELECT 1 FROM tessera_tokens \
            WHERE user_id = $1 AND (expires IS NULL OR expires > $5) \
            AND (grace_until IS NULL OR grace_until > $5) LIMIT $8) AS live) < $8 \
     RETURNING id";

// Rotation, first step: the old token (`$1`, owned by `$2`, unexpired at `$4`)
// is marked rotated out until `$3`, unless it was already. Its family is
// returned; no row means it was rotated already, or is gone. On PostgreSQL a
// concurrent rotation of the same token waits for this row's lock and then
// finds it rotated: exactly one of them wins.
pub(crate) const ROTATE_OUT: &str = "UPDATE tessera_tokens SET grace_until = $3 \
     WHERE id = $1 AND user_id = $2 AND grace_until IS NULL \
     AND (expires IS NULL OR expires > $4) \
     RETURNING COALESCE(family, id)";

// Why `ROTATE_OUT` changed nothing: the token's family and grace end, if the
// owner's token exists.
pub(crate) const ROTATED_ALREADY: &str = "SELECT COALESCE(family, id), grace_until \
     FROM tessera_tokens WHERE id = $1 AND user_id = $2";

// Rotation, second step: the new key (`$2`, issued at `$3`) inherits the old
// token's (`$1`) owner, name, scopes, expiry and password proof, and joins its
// family, if the owner (`$4`) holds fewer than `$5` live tokens (the old one,
// in its grace period, among them).
pub(crate) const INSERT_ROTATED: &str = concat!(
    "INSERT INTO tessera_tokens \
     (user_id, digest, name, scopes, created, expires, authenticated_at, family) \
     SELECT user_id, $2, name, scopes, $3, expires, authenticated_at, COALESCE(family, id) \
     FROM tessera_tokens WHERE id = $1 \
     AND (SELECT count(*) FROM (SELECT 1 FROM tessera_tokens \
          WHERE user_id = $4 AND (expires IS NULL OR expires > $3) \
          AND (grace_until IS NULL OR grace_until > $3) LIMIT $5) AS live) < $5 \
     RETURNING ",
    token_columns!()
);

// Every token of the family `$1`: its first token and those rotated from it.
pub(crate) const DELETE_FAMILY: &str = "DELETE FROM tessera_tokens WHERE id = $1 OR family = $1";

pub(crate) const LOCK_OWNER: &str = "SELECT id FROM tessera_users WHERE id = $1 FOR UPDATE";

// One read of the digest's unique index, joined to the owner by primary key.
// A rotated-out token is found too, with its grace end, so that its reuse is
// recognised by this same read.
const FIND_TOKEN: &str = concat!(
    "SELECT t.id AS token_id, t.user_id, t.name, t.scopes, t.created, \
     t.expires, t.last_used, t.authenticated_at, \
     COALESCE(t.family, t.id) AS family, t.grace_until, \
     u.username, u.email, u.is_active, u.is_staff, u.is_superuser, u.date_joined, u.last_login, \
     g.name AS group_name \
     FROM tessera_tokens t JOIN tessera_users u ON u.id = t.user_id",
    groups_join!(),
    " WHERE t.digest = $1 AND (t.expires IS NULL OR t.expires > $2)"
);

const LIST_TOKENS: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM tessera_tokens WHERE user_id = $1 AND (expires IS NULL OR expires > $2) \
     AND (grace_until IS NULL OR grace_until > $2) ORDER BY created, id"
);

/// The live tokens of every user, as [`LIST_TOKENS`] tells them.
const COUNT_LIVE_TOKENS: &str = "SELECT count(*) FROM tessera_tokens \
     WHERE (expires IS NULL OR expires > $1) AND (grace_until IS NULL OR grace_until > $1)";

pub(crate) const DELETE_TOKEN: &str =
    "DELETE FROM tessera_tokens WHERE id = $1 AND ($2 IS NULL OR user_id = $2)";

pub(crate) const DELETE_USER_TOKENS: &str =
    "DELETE FROM tessera_tokens WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)";

const TOKEN_BY_ID: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM tessera_tokens WHERE id = $1"
);

const SET_TOKEN_EXPIRY: &str = "UPDATE tessera_tokens SET expires = $2 WHERE id = $1";

const SET_TOKEN_AUTHENTICATED_AT: &str =
    "UPDATE tessera_tokens SET authenticated_at = $2 WHERE id = $1";

const TOUCH_TOKEN: &str = "UPDATE tessera_tokens SET last_used = $2 WHERE id = $1";

// Expired tokens, and rotated-out tokens past their grace period whose family
// has no live token left (while it has one, reuse must still be recognised).
const PURGE_EXPIRED_TOKENS: &str = "DELETE FROM tessera_tokens \
     WHERE (expires IS NOT NULL AND expires <= $1) \
     OR (grace_until IS NOT NULL AND grace_until <= $1 AND NOT EXISTS ( \
         SELECT 1 FROM tessera_tokens kin \
         WHERE (kin.id = COALESCE(tessera_tokens.family, tessera_tokens.id) \
                OR kin.family = COALESCE(tessera_tokens.family, tessera_tokens.id)) \
         AND (kin.expires IS NULL OR kin.expires > $1) \
         AND (kin.grace_until IS NULL OR kin.grace_until > $1)))";

/// Runs [`INSERT_TOKEN`] for `$new` on `$executor`: the new id, or `None`
/// when the cap refused it.
macro_rules! insert_token {
    ($executor:expr, $new:expr, $scopes:expr, $cap:expr) => {
        sqlx::query_scalar::<_, i64>($crate::tokens::INSERT_TOKEN)
            .bind($new.user_id)
            .bind(&$new.digest.0[..])
            .bind(&$new.name)
            .bind($scopes)
            .bind(::tessera_core::clock::to_micros($new.created))
            .bind($new.expires.map(::tessera_core::clock::to_micros))
            .bind($new.authenticated_at.map(::tessera_core::clock::to_micros))
            .bind($cap)
            .fetch_optional($executor)
            .await
    };
}
pub(crate) use insert_token;

/// The `$8` of [`INSERT_TOKEN`] for `max_per_user`: no cap is the largest.
pub(crate) fn cap(max_per_user: Option<u64>) -> i64 {
    max_per_user.map_or(i64::MAX, |max| i64::try_from(max).unwrap_or(i64::MAX))
}

/// The token [`INSERT_TOKEN`] stored for `new` with id `id`, equal to what a
/// later read returns.
pub(crate) fn stored_token(id: i64, new: NewToken) -> TokenRecord {
    let micros = |t: OffsetDateTime| from_micros(to_micros(t));
    TokenRecord {
        id,
        user_id: new.user_id,
        name: new.name,
        scopes: new.scopes,
        created: micros(new.created),
        expires: new.expires.map(micros),
        last_used: None,
        authenticated_at: new.authenticated_at.map(micros),
        family: id,
        grace_until: None,
    }
}

/// Commits `tx` when it changed something, else rolls it back (its
/// revocation row with it).
pub(crate) async fn finish<DB: sqlx::Database>(
    tx: sqlx::Transaction<'static, DB>,
    changed: bool,
) -> Result<(), sqlx::Error> {
    if changed {
        tx.commit().await
    } else {
        tx.rollback().await
    }
}

#[async_trait]
impl TokenStore for SqlStore {
    /// Tokens are counted against `max_per_user` if they are unexpired at
    /// `new.created`.
    async fn create_token(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let scopes = encode_scopes(&new.scopes)?;
        let cap = cap(max_per_user);
        let id = match &self.pool {
            Pool::Sqlite(pool) => insert_token!(pool, new, &scopes, cap).map_err(store_error)?,
            Pool::Postgres(pool) if max_per_user.is_none() => {
                insert_token!(pool, new, &scopes, cap).map_err(store_error)?
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin_write().await.map_err(store_error)?;
                sqlx::query(LOCK_OWNER)
                    .bind(new.user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let id = insert_token!(&mut *tx, new, &scopes, cap).map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                id
            }
        };
        Ok(id.map(|id| stored_token(id, new)))
    }

    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        let rows: Vec<Grouped<TokenUserRow>> = with_pool!(self, pool => {
            sqlx::query_as(FIND_TOKEN)
                .bind(&digest.0[..])
                .bind(to_micros(now))
                .fetch_all(pool)
                .await
        })
        .map_err(store_error)?;
        fold_groups(rows)
            .map(|(row, groups)| {
                row.into_pair()
                    .map(|(token, user)| (token, User { groups, ..user }))
            })
            .transpose()
    }

    async fn list_tokens(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_TOKENS)
                .bind(user_id)
                .bind(to_micros(now))
                .fetch_all(pool)
                .await
        })
        .map_err(store_error)?;
        rows.into_iter().map(TokenRow::into_record).collect()
    }

    async fn count_live_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(COUNT_LIVE_TOKENS)
                .bind(to_micros(now))
                .fetch_one(pool)
                .await
        })
        .map_err(store_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn delete_token(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        let notify = self.notifies();
        let done = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                log_revocation!(tx, notify, LOG_TOKEN, id, "token_deleted")?;
                let done = sqlx::query(DELETE_TOKEN)
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

    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let done = sqlx::query(DELETE_USER_TOKENS)
                    .bind(user_id)
                    .bind(except)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    log_revocation!(tx, notify, LOG_USER, user_id, "user_tokens_deleted")?;
                }
                finish(tx, done > 0).await?;
                Ok::<_, sqlx::Error>(done)
            }
            .await
        })
        .map_err(store_error)
    }

    async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(TOKEN_BY_ID).bind(id).fetch_optional(pool).await
        })
        .map_err(store_error)?;
        row.map(TokenRow::into_record).transpose()
    }

    async fn set_token_expiry(
        &self,
        id: i64,
        expires: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let notify = self.notifies();
        let done = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let done = sqlx::query(SET_TOKEN_EXPIRY)
                    .bind(id)
                    .bind(expires.map(to_micros))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    log_revocation!(tx, notify, LOG_TOKEN, id, "token_expiry_set")?;
                }
                finish(tx, done > 0).await?;
                Ok::<_, sqlx::Error>(done)
            }
            .await
        })
        .map_err(store_error)?;
        Ok(done > 0)
    }

    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let notify = self.notifies();
        let done = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let done = sqlx::query(SET_TOKEN_AUTHENTICATED_AT)
                    .bind(id)
                    .bind(to_micros(at))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    log_revocation!(tx, notify, LOG_TOKEN, id, "token_reauthenticated")?;
                }
                finish(tx, done > 0).await?;
                Ok::<_, sqlx::Error>(done)
            }
            .await
        })
        .map_err(store_error)?;
        Ok(done > 0)
    }

    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(TOUCH_TOKEN)
                .bind(id)
                .bind(to_micros(at))
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(store_error)
    }

    async fn touch_tokens(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        crate::touches::touch_many(self, crate::touches::Touched::Tokens, uses).await
    }

    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query(PURGE_EXPIRED_TOKENS)
                .bind(to_micros(now))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The plan SQLite makes for the cap's count reads the (user_id, expires)
    /// index alone, never the table: with thousands of tokens per user
    /// (obtain-token mints one per login) the insert stays cheap.
    #[tokio::test]
    async fn the_cap_is_counted_from_the_covering_index() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/t.sqlite3", dir.path().display());
        let store = SqlStore::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a SQLite store");
        };
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {INSERT_TOKEN}"))
                .bind(1_i64)
                .bind(&[0_u8; 32][..])
                .bind("name")
                .bind("[]")
                .bind(0_i64)
                .bind(None::<i64>)
                .bind(None::<i64>)
                .bind(100_i64)
                .fetch_all(pool)
                .await
                .expect("explain");
        let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("USING COVERING INDEX tessera_tokens_user_expires (user_id=?")),
            "{details:?}"
        );
        assert!(
            !details.iter().any(|d| d.starts_with("SCAN tessera_tokens")),
            "{details:?}"
        );
        store.close().await;
    }
}
