//! [`ImportStore`] for both backends: a batch per transaction, each row a few
//! indexed statements, the batch's events in multi-row inserts at its end.
//! A dry run rolls the transaction back.

use crate::audit::{insert_events, Insert};
use crate::rows::encode_data;
use crate::{store_error, with_pool, SqlStore};
use async_trait::async_trait;
use serde_json::json;
use tessera_core::audit::EventKind;
use tessera_core::clock::to_micros;
use tessera_core::import::{
    event, ImportBatch, ImportStore, Imported, ImportedSession, ImportedToken, ImportedUser,
    Rejection,
};
use tessera_core::store::StoreError;

const LINKED_USER: &str = "SELECT l.user_id, l.password_digest, u.username, u.email, \
     u.first_name, u.last_name, u.is_active, u.is_staff, u.is_superuser, u.date_joined, \
     u.last_login FROM tessera_django_users l JOIN tessera_users u ON u.id = l.user_id \
     WHERE l.django_id = $1";

/// Another user (not `$2`) whose username equals `$1` ignoring case (ASCII
/// only on SQLite, whose `lower()` knows no more); uses the `lower(username)` index.
const SAME_NAME: &str =
    "SELECT username FROM tessera_users WHERE lower(username) = lower($1) AND id <> $2 LIMIT 1";

const INSERT_IMPORTED_USER: &str = "INSERT INTO tessera_users \
     (username, email, password_hash, is_active, is_staff, is_superuser, date_joined, \
      last_login, first_name, last_name) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";

const LINK_USER: &str =
    "INSERT INTO tessera_django_users (django_id, user_id, password_digest) VALUES ($1, $2, $3)";

const UPDATE_IMPORTED_USER: &str = "UPDATE tessera_users SET username = $2, email = $3, \
     first_name = $4, last_name = $5, is_active = $6, is_staff = $7, is_superuser = $8, \
     date_joined = $9, last_login = $10, password_hash = COALESCE($11, password_hash) \
     WHERE id = $1";

const RELINK_USER: &str =
    "UPDATE tessera_django_users SET password_digest = $2 WHERE django_id = $1";

const LINKED_ID: &str = "SELECT l.user_id, u.username FROM tessera_django_users l \
     JOIN tessera_users u ON u.id = l.user_id WHERE l.django_id = $1";

const TOKEN_BY_DIGEST: &str = "SELECT id, user_id, expires FROM tessera_tokens WHERE digest = $1";

const MOVE_TOKEN: &str = "UPDATE tessera_tokens SET user_id = $2, expires = $3 WHERE id = $1";

const INSERT_IMPORTED_TOKEN: &str = "INSERT INTO tessera_tokens \
     (user_id, digest, name, scopes, created, expires) \
     VALUES ($1, $2, $3, '[]', $4, $5) RETURNING id";

const SESSION_BY_DIGEST: &str =
    "SELECT id, user_id, expires FROM tessera_sessions WHERE digest = $1";

const MOVE_SESSION: &str = "UPDATE tessera_sessions SET user_id = $2, expires = $3 WHERE id = $1";

const INSERT_IMPORTED_SESSION: &str = "INSERT INTO tessera_sessions \
     (user_id, digest, data, created, last_seen, expires) \
     VALUES ($1, $2, $3, $4, $4, $5) RETURNING id";

#[derive(sqlx::FromRow)]
struct LinkedRow {
    user_id: i64,
    password_digest: Vec<u8>,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    date_joined: i64,
    last_login: Option<i64>,
}

impl LinkedRow {
    /// Whether the row differs from `user` in any field an import writes
    /// (the password through its digest).
    fn differs(&self, user: &ImportedUser, password_changed: bool) -> bool {
        password_changed
            || self.username != user.username
            || self.email != user.email
            || self.first_name != user.first_name
            || self.last_name != user.last_name
            || self.is_active != user.is_active
            || self.is_staff != user.is_staff
            || self.is_superuser != user.is_superuser
            || self.date_joined != to_micros(user.date_joined)
            || self.last_login != user.last_login.map(to_micros)
    }
}

/// Runs `$body` (which uses `$tx`) in a transaction on `$store`'s pool, then
/// commits it, or rolls it back in a dry run: the outcomes and the events
/// `$body` returns.
macro_rules! in_batch {
    ($store:expr, $batch:expr, $tx:ident => $body:expr) => {
        with_pool!($store, pool => {
            async {
                let mut $tx = pool.begin().await?;
                let (outcomes, events): (Vec<Imported>, Vec<Insert>) = $body;
                for chunk in events.chunks(crate::audit::EVENTS_PER_INSERT) {
                    insert_events!(&mut *$tx, chunk)?;
                }
                if $batch.dry_run {
                    $tx.rollback().await?;
                } else {
                    $tx.commit().await?;
                }
                Ok::<_, ImportError>(outcomes)
            }
            .await
        })
        .map_err(ImportError::into_store)
    };
}

/// A database error or an event that could not be encoded.
enum ImportError {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Sql(e)
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Store(e)
    }
}

impl ImportError {
    fn into_store(self) -> StoreError {
        match self {
            ImportError::Sql(e) => store_error(e),
            ImportError::Store(e) => e,
        }
    }
}

#[async_trait]
impl ImportStore for SqlStore {
    async fn import_users(
        &self,
        users: &[ImportedUser],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        in_batch!(self, batch, tx => {
            let mut outcomes = Vec::with_capacity(users.len());
            let mut events = Vec::with_capacity(users.len());
            for user in users {
                let digest = user.password_digest();
                let linked: Option<LinkedRow> = sqlx::query_as(LINKED_USER)
                    .bind(user.django_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let own_id = linked.as_ref().map_or(-1, |l| l.user_id);
                // A linked user keeping its username needs no check.
                let renamed = linked.as_ref().is_none_or(|l| l.username != user.username);
                let taken: Option<String> = if renamed {
                    sqlx::query_scalar(SAME_NAME)
                        .bind(&user.username)
                        .bind(own_id)
                        .fetch_optional(&mut *tx)
                        .await?
                } else {
                    None
                };
                if let Some(existing) = taken {
                    outcomes.push(Imported::Rejected(Rejection::UsernameTaken {
                        username: user.username.clone(),
                        existing,
                    }));
                    continue;
                }
                let detail = json!({"django_id": user.django_id});
                match linked {
                    Some(linked) => {
                        let password_changed = linked.password_digest[..] != digest[..];
                        if !linked.differs(user, password_changed) {
                            outcomes.push(Imported::Unchanged(linked.user_id));
                            continue;
                        }
                        sqlx::query(UPDATE_IMPORTED_USER)
                            .bind(linked.user_id)
                            .bind(&user.username)
                            .bind(&user.email)
                            .bind(&user.first_name)
                            .bind(&user.last_name)
                            .bind(user.is_active)
                            .bind(user.is_staff)
                            .bind(user.is_superuser)
                            .bind(to_micros(user.date_joined))
                            .bind(user.last_login.map(to_micros))
                            .bind(password_changed.then_some(&user.password_hash))
                            .execute(&mut *tx)
                            .await?;
                        if password_changed {
                            sqlx::query(RELINK_USER)
                                .bind(user.django_id)
                                .bind(&digest[..])
                                .execute(&mut *tx)
                                .await?;
                        }
                        let mut e = event(batch.at, EventKind::UserUpdated, &user.username, detail);
                        e.user = Some(linked.user_id);
                        events.push(Insert::new(e)?);
                        outcomes.push(Imported::Updated(linked.user_id));
                    }
                    None => {
                        let id: i64 = sqlx::query_scalar(INSERT_IMPORTED_USER)
                            .bind(&user.username)
                            .bind(&user.email)
                            .bind(&user.password_hash)
                            .bind(user.is_active)
                            .bind(user.is_staff)
                            .bind(user.is_superuser)
                            .bind(to_micros(user.date_joined))
                            .bind(user.last_login.map(to_micros))
                            .bind(&user.first_name)
                            .bind(&user.last_name)
                            .fetch_one(&mut *tx)
                            .await?;
                        sqlx::query(LINK_USER)
                            .bind(user.django_id)
                            .bind(id)
                            .bind(&digest[..])
                            .execute(&mut *tx)
                            .await?;
                        let mut e = event(batch.at, EventKind::UserCreated, &user.username, detail);
                        e.user = Some(id);
                        events.push(Insert::new(e)?);
                        outcomes.push(Imported::Created(id));
                    }
                }
            }
            (outcomes, events)
        })
    }

    async fn import_tokens(
        &self,
        tokens: &[ImportedToken],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        in_batch!(self, batch, tx => {
            let mut outcomes = Vec::with_capacity(tokens.len());
            let mut events = Vec::with_capacity(tokens.len());
            for token in tokens {
                let owner: Option<(i64, String)> = sqlx::query_as(LINKED_ID)
                    .bind(token.django_user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((user_id, username)) = owner else {
                    outcomes.push(Imported::Rejected(Rejection::NoSuchUser {
                        django_user_id: token.django_user_id,
                    }));
                    continue;
                };
                let expires = token.expires.map(to_micros);
                let existing: Option<(i64, i64, Option<i64>)> = sqlx::query_as(TOKEN_BY_DIGEST)
                    .bind(&token.digest.0[..])
                    .fetch_optional(&mut *tx)
                    .await?;
                match existing {
                    Some((id, owner, stored)) if owner == user_id && stored == expires => {
                        outcomes.push(Imported::Unchanged(id));
                    }
                    Some((id, _, _)) => {
                        sqlx::query(MOVE_TOKEN)
                            .bind(id)
                            .bind(user_id)
                            .bind(expires)
                            .execute(&mut *tx)
                            .await?;
                        outcomes.push(Imported::Updated(id));
                    }
                    None => {
                        let id: i64 = sqlx::query_scalar(INSERT_IMPORTED_TOKEN)
                            .bind(user_id)
                            .bind(&token.digest.0[..])
                            .bind(token.name())
                            .bind(to_micros(token.created))
                            .bind(expires)
                            .fetch_one(&mut *tx)
                            .await?;
                        let detail = json!({"name": token.name(), "kind": token.kind.name(), "token_id": id});
                        let mut e = event(batch.at, EventKind::TokenCreated, &username, detail);
                        e.user = Some(user_id);
                        events.push(Insert::new(e)?);
                        outcomes.push(Imported::Created(id));
                    }
                }
            }
            (outcomes, events)
        })
    }

    async fn import_sessions(
        &self,
        sessions: &[ImportedSession],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        in_batch!(self, batch, tx => {
            let mut outcomes = Vec::with_capacity(sessions.len());
            let mut events = Vec::with_capacity(sessions.len());
            for session in sessions {
                let owner: Option<(i64, String)> = sqlx::query_as(LINKED_ID)
                    .bind(session.django_user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((user_id, username)) = owner else {
                    outcomes.push(Imported::Rejected(Rejection::NoSuchUser {
                        django_user_id: session.django_user_id,
                    }));
                    continue;
                };
                let expires = to_micros(session.expires);
                let existing: Option<(i64, i64, i64)> = sqlx::query_as(SESSION_BY_DIGEST)
                    .bind(&session.digest.0[..])
                    .fetch_optional(&mut *tx)
                    .await?;
                match existing {
                    Some((id, owner, stored)) if owner == user_id && stored == expires => {
                        outcomes.push(Imported::Unchanged(id));
                    }
                    Some((id, _, _)) => {
                        sqlx::query(MOVE_SESSION)
                            .bind(id)
                            .bind(user_id)
                            .bind(expires)
                            .execute(&mut *tx)
                            .await?;
                        outcomes.push(Imported::Updated(id));
                    }
                    None => {
                        let data = encode_data(&session.data)?;
                        let id: i64 = sqlx::query_scalar(INSERT_IMPORTED_SESSION)
                            .bind(user_id)
                            .bind(&session.digest.0[..])
                            .bind(&data)
                            .bind(to_micros(batch.at))
                            .bind(expires)
                            .fetch_one(&mut *tx)
                            .await?;
                        let detail = json!({"session_id": id});
                        let mut e = event(batch.at, EventKind::LoginSucceeded, &username, detail);
                        e.user = Some(user_id);
                        events.push(Insert::new(e)?);
                        outcomes.push(Imported::Created(id));
                    }
                }
            }
            (outcomes, events)
        })
    }

    async fn imported_user_id(&self, django_id: i64) -> Result<Option<i64>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar("SELECT user_id FROM tessera_django_users WHERE django_id = $1")
                .bind(django_id)
                .fetch_optional(pool)
                .await
        })
        .map_err(store_error)
    }
}
