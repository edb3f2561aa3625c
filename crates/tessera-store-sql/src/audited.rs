//! [`AuditedWrites`] for both backends: each change and its audit event in one
//! transaction, with the statements of the plain methods.
//!
//! A change that did nothing (no such user, a token past the cap, nothing to
//! delete) is rolled back before any event is written. When the event cannot
//! be stored, the transaction is dropped uncommitted, so the change is undone
//! with it.
//!
//! On SQLite every transaction here starts with a write, so it holds the write
//! lock from its first statement on (as the plain statements do alone); on
//! PostgreSQL the token cap locks the owner's row first ([`LOCK_OWNER`]),
//! inside the same transaction.

use crate::audit::{insert_event, insert_events, Insert};
use crate::revocations::{log_revocation, LOG_FAMILY, LOG_SESSION, LOG_TOKEN, LOG_USER};
use crate::rows::encode_data;
use crate::rows::encode_scopes;
use crate::rows::TokenRow;
use crate::sessions::{insert_session, stored_session, DELETE_SESSION, DELETE_USER_SESSIONS};
use crate::tokens::{
    cap, insert_token, stored_token, DELETE_FAMILY, DELETE_TOKEN, DELETE_USER_TOKENS,
    INSERT_ROTATED, LOCK_OWNER, ROTATED_ALREADY, ROTATE_OUT,
};
use crate::users::{
    created_user, groups_of, insert_user, insert_user_error, update_user, REHASH, SET_LAST_LOGIN,
};
use crate::BeginWrite;
use crate::{store_error, with_pool, Pool, SqlStore};
use async_trait::async_trait;
use tessera_core::audit::NewAuditEvent;
use tessera_core::audited::{
    event_for_new_token, event_for_new_user, AuditedWrites, LoginWrite, LoginWritten, Rotated,
    TokenRotation,
};
use tessera_core::clock::to_micros;
use tessera_core::store::StoreError;
use tessera_core::token::{NewToken, TokenRecord};
use tessera_core::user::{NewUser, UserUpdate};
use tessera_core::User;

impl SqlStore {
    /// A user update with its event and, with `revoke`, the deletion of the
    /// user's sessions and tokens but the given session and token, in one
    /// transaction. No such user: nothing written, `Ok(None)`.
    async fn update_user_revoking(
        &self,
        id: i64,
        update: UserUpdate,
        revoke: Option<(Option<i64>, Option<i64>)>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let insert = Insert::new(event)?;
        let notify = self.notifies();
        let row = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let Some(row) = update_user!(&mut *tx, id, update)? else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                log_revocation!(tx, notify, LOG_USER, id, "user_updated")?;
                if let Some((except_session, except_token)) = revoke {
                    sqlx::query(DELETE_USER_SESSIONS)
                        .bind(id)
                        .bind(except_session)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(DELETE_USER_TOKENS)
                        .bind(id)
                        .bind(except_token)
                        .execute(&mut *tx)
                        .await?;
                }
                insert_event!(&mut *tx, insert)?;
                let groups = groups_of!(&mut *tx, id)?;
                tx.commit().await?;
                Ok(Some(User { groups, ..User::from(row) }))
            }
            .await
        })
        .map_err(store_error)?;
        Ok(row)
    }
}

#[async_trait]
impl AuditedWrites for SqlStore {
    async fn create_user_audited(
        &self,
        new: NewUser,
        event: NewAuditEvent,
    ) -> Result<User, StoreError> {
        let id = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await.map_err(store_error)?;
                let id = insert_user!(&mut *tx, new).map_err(insert_user_error)?;
                let insert = Insert::new(event_for_new_user(event, id))?;
                insert_event!(&mut *tx, insert).map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok::<_, StoreError>(id)
            }
            .await
        })?;
        Ok(created_user(id, new))
    }

    async fn update_user_audited(
        &self,
        id: i64,
        update: UserUpdate,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        self.update_user_revoking(id, update, None, event).await
    }

    async fn update_user_and_revoke_audited(
        &self,
        id: i64,
        update: UserUpdate,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let revoke = Some((except_session, except_token));
        self.update_user_revoking(id, update, revoke, event).await
    }

    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let scopes = encode_scopes(&new.scopes)?;
        let cap = cap(max_per_user);
        // PostgreSQL counts concurrent inserts for one owner one after another
        // only with the owner's row locked (see `INSERT_TOKEN`).
        let lock_owner = max_per_user.is_some() && matches!(self.pool, Pool::Postgres(_));
        let id = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await.map_err(store_error)?;
                if lock_owner {
                    sqlx::query(LOCK_OWNER)
                        .bind(new.user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let Some(id) = insert_token!(&mut *tx, new, &scopes, cap).map_err(store_error)?
                else {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(None);
                };
                let insert = Insert::new(event_for_new_token(event, id))?;
                insert_event!(&mut *tx, insert).map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok::<_, StoreError>(Some(id))
            }
            .await
        })?;
        Ok(id.map(|id| stored_token(id, new)))
    }

    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        self.delete_one_audited((DELETE_TOKEN, LOG_TOKEN, "token_deleted"), id, owner, event)
            .await
    }

    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        self.delete_one_audited(
            (DELETE_SESSION, LOG_SESSION, "session_deleted"),
            id,
            owner,
            event,
        )
        .await
    }

    async fn delete_user_credentials_audited(
        &self,
        user_id: i64,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        let insert = Insert::new(event)?;
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                log_revocation!(tx, notify, LOG_USER, user_id, "user_credentials_deleted")?;
                let sessions = sqlx::query(DELETE_USER_SESSIONS)
                    .bind(user_id)
                    .bind(except_session)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let tokens = sqlx::query(DELETE_USER_TOKENS)
                    .bind(user_id)
                    .bind(except_token)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                insert_event!(&mut *tx, insert)?;
                tx.commit().await?;
                Ok((sessions, tokens))
            }
            .await
        })
        .map_err(store_error)
    }

    async fn record_login(&self, login: LoginWrite) -> Result<LoginWritten, StoreError> {
        let login_event = Insert::new(login.event)?;
        let token = match login.token {
            Some(token) => Some((encode_scopes(&token.new.scopes)?, token)),
            None => None,
        };
        let session = match login.session {
            Some(_) if token.is_some() => {
                return Err(StoreError::Other(
                    "a login stores a token or a session, not both".into(),
                ))
            }
            Some(session) => Some((encode_data(&session.data)?, session)),
            None => None,
        };
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await.map_err(store_error)?;
                // On PostgreSQL this also locks the user's row, as
                // `LOCK_OWNER` does before a token is counted and inserted.
                let updated = sqlx::query(SET_LAST_LOGIN)
                    .bind(login.user_id)
                    .bind(to_micros(login.at))
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if updated == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(LoginWritten::NoSuchUser);
                }
                if let Some(rehash) = &login.rehash {
                    sqlx::query(REHASH)
                        .bind(login.user_id)
                        .bind(&rehash.from)
                        .bind(&rehash.to)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let mut events = vec![login_event];
                let mut record = None;
                if let Some((scopes, token)) = token {
                    let cap = cap(token.max_per_user);
                    if let Some(id) =
                        insert_token!(&mut *tx, token.new, &scopes, cap).map_err(store_error)?
                    {
                        events.push(Insert::new(event_for_new_token(token.event, id))?);
                        record = Some(stored_token(id, token.new));
                    }
                }
                let mut opened = None;
                if let Some((data, session)) = session {
                    let id = insert_session!(&mut *tx, session, &data).map_err(store_error)?;
                    opened = Some(stored_session(id, session));
                }
                // Both events in one statement, the login's first.
                insert_events!(&mut *tx, &events).map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok(match opened {
                    Some(session) => LoginWritten::RecordedSession(session),
                    None => LoginWritten::Recorded(record),
                })
            }
            .await
        })
    }

    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError> {
        let cap = cap(rotation.max_per_user);
        // As for a new token, PostgreSQL counts concurrent inserts for one
        // owner one after another only with the owner's row locked.
        let lock_owner = rotation.max_per_user.is_some() && matches!(self.pool, Pool::Postgres(_));
        let created = to_micros(rotation.created);
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await.map_err(store_error)?;
                if lock_owner {
                    sqlx::query(LOCK_OWNER)
                        .bind(rotation.user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let rotated_out: Option<i64> = sqlx::query_scalar(ROTATE_OUT)
                    .bind(rotation.token_id)
                    .bind(rotation.user_id)
                    .bind(to_micros(rotation.grace_until))
                    .bind(created)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if rotated_out.is_none() {
                    let found: Option<(i64, Option<i64>)> = sqlx::query_as(ROTATED_ALREADY)
                        .bind(rotation.token_id)
                        .bind(rotation.user_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(match found {
                        Some((family, Some(_))) => Rotated::AlreadyRotated { family },
                        _ => Rotated::NoSuchToken,
                    });
                }
                let inserted: Option<TokenRow> = sqlx::query_as(INSERT_ROTATED)
                    .bind(rotation.token_id)
                    .bind(&rotation.digest.0[..])
                    .bind(created)
                    .bind(rotation.user_id)
                    .bind(cap)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some(row) = inserted else {
                    // The old token's grace end is undone with the rollback.
                    tx.rollback().await.map_err(store_error)?;
                    return Ok(Rotated::AtCap);
                };
                let record = row.into_record()?;
                let insert = Insert::new(event_for_new_token(event, record.id))?;
                insert_event!(&mut *tx, insert).map_err(store_error)?;
                // The old key's cached entries have no grace end.
                log_revocation!(tx, notify, LOG_TOKEN, rotation.token_id, "token_rotated")
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                Ok::<_, StoreError>(Rotated::Rotated(record))
            }
            .await
        })
    }

    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError> {
        let insert = Insert::new(event)?;
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                log_revocation!(tx, notify, LOG_FAMILY, family, "token_family_revoked")?;
                let deleted = sqlx::query(DELETE_FAMILY)
                    .bind(family)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    tx.rollback().await?;
                    return Ok(0);
                }
                insert_event!(&mut *tx, insert)?;
                tx.commit().await?;
                Ok(deleted)
            }
            .await
        })
        .map_err(store_error)
    }
}

impl SqlStore {
    /// Runs `delete` (`DELETE_TOKEN` or `DELETE_SESSION`: `$1` the id, `$2`
    /// the owner or NULL) after its revocation row (`LOG_TOKEN` or
    /// `LOG_SESSION`, of that kind) and, when it deleted a row, appends
    /// `event`, in one transaction. Whether a row was deleted.
    async fn delete_one_audited(
        &self,
        (delete, log, kind): (&'static str, &'static str, &'static str),
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let insert = Insert::new(event)?;
        let notify = self.notifies();
        with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                log_revocation!(tx, notify, log, id, kind)?;
                let deleted = sqlx::query(delete)
                    .bind(id)
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_event!(&mut *tx, insert)?;
                tx.commit().await?;
                Ok(true)
            }
            .await
        })
        .map_err(store_error)
    }
}
