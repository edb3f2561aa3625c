//! [`ImportStore`] for both backends: a batch per transaction, read and
//! written a few statements per batch rather than per row (the links, the
//! usernames and the digests a batch touches are read with one `IN` list
//! each, new rows and their events are inserted with multi-row statements),
//! so that PostgreSQL's round trips do not dominate a large import; rows
//! that change an existing one are updated one by one. A dry run rolls the
//! transaction back.

use crate::audit::{insert_events, Insert};
use crate::revocations::{log_revocation, LOG_SESSION, LOG_TOKEN, LOG_USER};
use crate::rows::encode_data;
use crate::BeginWrite;
use crate::{store_error, with_pool, SqlStore};
use async_trait::async_trait;
use serde_json::json;
use std::collections::HashMap;
use tessera_core::audit::EventKind;
use tessera_core::clock::to_micros;
use tessera_core::import::{
    event, ImportBatch, ImportStore, Imported, ImportedSession, ImportedToken, ImportedUser,
    Rejection,
};
use tessera_core::store::StoreError;

/// `$first, $first+1, ...`: `count` numbered parameters.
fn parameters(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, ..., $width), ($width+1, ...)`: `rows` tuples of `width` parameters.
fn tuples(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", parameters(row * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The links (with the linked users' fields) of the Django ids `$1...`.
fn linked_users(count: usize) -> String {
    format!(
        "SELECT l.django_id, l.user_id, l.password_digest, u.username, u.email, \
         u.first_name, u.last_name, u.is_active, u.is_staff, u.is_superuser, u.date_joined, \
         u.last_login FROM tessera_django_users l JOIN tessera_users u ON u.id = l.user_id \
         WHERE l.django_id IN ({})",
        parameters(1, count)
    )
}

/// The users whose usernames equal one of `$1...` ignoring case (ASCII only
/// on SQLite, whose `lower()` knows no more); uses the `lower(username)` index.
fn same_names(count: usize) -> String {
    let lowered: Vec<String> = (1..=count).map(|n| format!("lower(${n})")).collect();
    format!(
        "SELECT id, username FROM tessera_users WHERE lower(username) IN ({})",
        lowered.join(", ")
    )
}

/// Rows per multi-row insert of users (10 parameters each).
const USERS_PER_INSERT: usize = 100;

fn insert_users(rows: usize) -> String {
    format!(
        "INSERT INTO tessera_users \
         (username, email, password_hash, is_active, is_staff, is_superuser, date_joined, \
          last_login, first_name, last_name) VALUES {} RETURNING id, username",
        tuples(rows, 10)
    )
}

/// Rows per multi-row insert of links or tokens.
const LINKS_PER_INSERT: usize = 300;

fn insert_links(rows: usize) -> String {
    format!(
        "INSERT INTO tessera_django_users (django_id, user_id, password_digest) VALUES {}",
        tuples(rows, 3)
    )
}

/// The links and usernames of the Django ids `$1...`.
fn linked_ids(count: usize) -> String {
    format!(
        "SELECT l.django_id, l.user_id, u.username FROM tessera_django_users l \
         JOIN tessera_users u ON u.id = l.user_id WHERE l.django_id IN ({})",
        parameters(1, count)
    )
}

/// The tokens with one of the digests `$1...`.
fn tokens_by_digest(count: usize) -> String {
    format!(
        "SELECT digest, id, user_id, expires FROM tessera_tokens WHERE digest IN ({})",
        parameters(1, count)
    )
}

/// Rows per multi-row insert of tokens (5 parameters each).
const TOKENS_PER_INSERT: usize = 200;

fn insert_tokens(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let p = row * 5;
            format!(
                "(${}, ${}, ${}, '[]', ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5
            )
        })
        .collect();
    format!(
        "INSERT INTO tessera_tokens (user_id, digest, name, scopes, created, expires) \
         VALUES {} RETURNING id, digest",
        values.join(", ")
    )
}

/// Rows per multi-row statement on groups and memberships.
const GROUPS_PER_QUERY: usize = 300;

fn groups_by_name(count: usize) -> String {
    format!(
        "SELECT id, name FROM tessera_groups WHERE name IN ({})",
        parameters(1, count)
    )
}

fn insert_groups(rows: usize) -> String {
    format!(
        "INSERT INTO tessera_groups (name) VALUES {} ON CONFLICT (name) DO NOTHING",
        tuples(rows, 1)
    )
}

/// The memberships of the users `$1...`, by group name.
fn memberships_of(count: usize) -> String {
    format!(
        "SELECT ug.user_id, g.name FROM tessera_user_groups ug \
         JOIN tessera_groups g ON g.id = ug.group_id WHERE ug.user_id IN ({})",
        parameters(1, count)
    )
}

fn insert_memberships(rows: usize) -> String {
    format!(
        "INSERT INTO tessera_user_groups (user_id, group_id) VALUES {}",
        tuples(rows, 2)
    )
}

const CLEAR_MEMBERSHIPS: &str = "DELETE FROM tessera_user_groups WHERE user_id = $1";

const INSERT_GROUP: &str = "INSERT INTO tessera_groups (name) VALUES ($1) RETURNING id";

const UPDATE_IMPORTED_USER: &str = "UPDATE tessera_users SET username = $2, email = $3, \
     first_name = $4, last_name = $5, is_active = $6, is_staff = $7, is_superuser = $8, \
     date_joined = COALESCE($9, date_joined), last_login = $10, password_hash = COALESCE($11, password_hash) \
     WHERE id = $1";

const RELINK_USER: &str =
    "UPDATE tessera_django_users SET password_digest = $2 WHERE django_id = $1";

const LINKED_ID: &str = "SELECT l.user_id, u.username FROM tessera_django_users l \
     JOIN tessera_users u ON u.id = l.user_id WHERE l.django_id = $1";

const MOVE_TOKEN: &str = "UPDATE tessera_tokens SET user_id = $2, expires = $3 WHERE id = $1";

const SESSION_BY_DIGEST: &str =
    "SELECT id, user_id, expires FROM tessera_sessions WHERE digest = $1";

const MOVE_SESSION: &str = "UPDATE tessera_sessions SET user_id = $2, expires = $3 WHERE id = $1";

const INSERT_IMPORTED_SESSION: &str = "INSERT INTO tessera_sessions \
     (user_id, digest, data, created, last_seen, expires) \
     VALUES ($1, $2, $3, $4, $4, $5) RETURNING id";

#[derive(sqlx::FromRow)]
struct LinkedRow {
    django_id: i64,
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
            || user
                .date_joined
                .is_some_and(|d| self.date_joined != to_micros(d))
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
                let mut $tx = pool.begin_write().await?;
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
        if users.is_empty() {
            return Ok(Vec::new());
        }
        in_batch!(self, batch, tx => {
            let sql = linked_users(users.len());
            let mut query = sqlx::query_as::<_, LinkedRow>(&sql).persistent(false);
            for user in users {
                query = query.bind(user.django_id);
            }
            let mut links: HashMap<i64, LinkedRow> = query
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|row| (row.django_id, row))
                .collect();
            let sql = same_names(users.len());
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql).persistent(false);
            for user in users {
                query = query.bind(&user.username);
            }
            // Lower-cased username to the holder's id (None: new in this
            // batch) and username.
            let mut names: HashMap<String, (Option<i64>, String)> = query
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(id, name)| (fold(&name), (Some(id), name)))
                .collect();
            let mut outcomes = Vec::with_capacity(users.len());
            let mut events = Vec::with_capacity(users.len());
            // Indices into `users` and `outcomes` of the users to create.
            let mut new = Vec::new();
            for (i, user) in users.iter().enumerate() {
                let linked = links.remove(&user.django_id);
                let own_id = linked.as_ref().map(|l| l.user_id);
                let renamed = linked.as_ref().is_none_or(|l| l.username != user.username);
                let key = fold(&user.username);
                if renamed {
                    if let Some((holder, existing)) = names.get(&key) {
                        if holder.is_none() || *holder != own_id {
                            outcomes.push(Imported::Rejected(Rejection::UsernameTaken {
                                username: user.username.clone(),
                                existing: existing.clone(),
                            }));
                            continue;
                        }
                    }
                    names.insert(key, (own_id, user.username.clone()));
                }
                let detail = json!({"django_id": user.django_id});
                let Some(linked) = linked else {
                    new.push(i);
                    outcomes.push(Imported::Created(0));
                    continue;
                };
                let digest = user.password_digest();
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
                    .bind(user.date_joined.map(to_micros))
                    .bind(user.last_login.map(to_micros))
                    .bind(password_changed.then_some(&user.password_hash))
                    .execute(&mut *tx)
                    .await?;
                // Other processes drop the user's cached credentials at their
                // next poll (an import does not notify: it is not urgent
                // enough to wake them, and the poll is within the bound).
                log_revocation!(tx, false, LOG_USER, linked.user_id, "user_imported")?;
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
            // The new users, then their links, in multi-row inserts.
            let mut ids: HashMap<String, i64> = HashMap::with_capacity(new.len());
            for chunk in new.chunks(USERS_PER_INSERT) {
                let sql = insert_users(chunk.len());
                let mut query = sqlx::query_as::<_, (i64, String)>(&sql).persistent(false);
                for &i in chunk {
                    let user = &users[i];
                    query = query
                        .bind(&user.username)
                        .bind(&user.email)
                        .bind(&user.password_hash)
                        .bind(user.is_active)
                        .bind(user.is_staff)
                        .bind(user.is_superuser)
                        .bind(to_micros(user.date_joined.unwrap_or(batch.at)))
                        .bind(user.last_login.map(to_micros))
                        .bind(&user.first_name)
                        .bind(&user.last_name);
                }
                ids.extend(query.fetch_all(&mut *tx).await?.into_iter().map(|(id, name)| (name, id)));
            }
            let mut created = Vec::with_capacity(new.len());
            for &i in &new {
                let user = &users[i];
                let id = ids.get(&user.username).copied().ok_or_else(|| {
                    StoreError::Other("an inserted user was not returned".into())
                })?;
                outcomes[i] = Imported::Created(id);
                created.push((user, id, user.password_digest()));
                let detail = json!({"django_id": user.django_id});
                let mut e = event(batch.at, EventKind::UserCreated, &user.username, detail);
                e.user = Some(id);
                events.push(Insert::new(e)?);
            }
            for chunk in created.chunks(LINKS_PER_INSERT) {
                let sql = insert_links(chunk.len());
                let mut query = sqlx::query(&sql).persistent(false);
                for (user, id, digest) in chunk {
                    query = query.bind(user.django_id).bind(*id).bind(&digest[..]);
                }
                query.execute(&mut *tx).await?;
            }
            // Memberships: each written user's groups become Django's set.
            let written: Vec<(usize, i64)> = outcomes
                .iter()
                .enumerate()
                .filter_map(|(i, outcome)| match outcome {
                    Imported::Created(id) | Imported::Updated(id) | Imported::Unchanged(id) => {
                        Some((i, *id))
                    }
                    Imported::Rejected(_) => None,
                })
                .collect();
            let mut wanted: Vec<&str> = written
                .iter()
                .flat_map(|&(i, _)| users[i].groups.iter().map(String::as_str))
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            let mut group_ids: HashMap<String, i64> = HashMap::with_capacity(wanted.len());
            for chunk in wanted.chunks(GROUPS_PER_QUERY) {
                let sql = insert_groups(chunk.len());
                let mut query = sqlx::query(&sql).persistent(false);
                for name in chunk {
                    query = query.bind(*name);
                }
                query.execute(&mut *tx).await?;
                let sql = groups_by_name(chunk.len());
                let mut query = sqlx::query_as::<_, (i64, String)>(&sql).persistent(false);
                for name in chunk {
                    query = query.bind(*name);
                }
                group_ids.extend(query.fetch_all(&mut *tx).await?.into_iter().map(|(id, name)| (name, id)));
            }
            let mut current: HashMap<i64, Vec<String>> = HashMap::new();
            for chunk in written.chunks(GROUPS_PER_QUERY) {
                let sql = memberships_of(chunk.len());
                let mut query = sqlx::query_as::<_, (i64, String)>(&sql).persistent(false);
                for (_, id) in chunk {
                    query = query.bind(*id);
                }
                for (id, name) in query.fetch_all(&mut *tx).await? {
                    current.entry(id).or_default().push(name);
                }
            }
            let mut members: Vec<(i64, i64)> = Vec::new();
            for &(i, id) in &written {
                let user = &users[i];
                let mut want: Vec<&str> = user.groups.iter().map(String::as_str).collect();
                want.sort_unstable();
                want.dedup();
                let mut have = current.remove(&id).unwrap_or_default();
                have.sort_unstable();
                if have.iter().map(String::as_str).eq(want.iter().copied()) {
                    continue;
                }
                if !have.is_empty() {
                    sqlx::query(CLEAR_MEMBERSHIPS).bind(id).execute(&mut *tx).await?;
                }
                for name in &want {
                    let group = group_ids.get(*name).copied().ok_or_else(|| {
                        StoreError::Other("an inserted group was not found".into())
                    })?;
                    members.push((id, group));
                }
                if let Imported::Unchanged(id) = outcomes[i] {
                    outcomes[i] = Imported::Updated(id);
                    let detail = json!({"django_id": user.django_id});
                    let mut e = event(batch.at, EventKind::UserUpdated, &user.username, detail);
                    e.user = Some(id);
                    events.push(Insert::new(e)?);
                }
            }
            for chunk in members.chunks(GROUPS_PER_QUERY) {
                let sql = insert_memberships(chunk.len());
                let mut query = sqlx::query(&sql).persistent(false);
                for (user, group) in chunk {
                    query = query.bind(*user).bind(*group);
                }
                query.execute(&mut *tx).await?;
            }
            (outcomes, events)
        })
    }

    async fn import_groups(
        &self,
        names: &[String],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        in_batch!(self, batch, tx => {
            let mut existing: HashMap<String, i64> = HashMap::with_capacity(names.len());
            for chunk in names.chunks(GROUPS_PER_QUERY) {
                let sql = groups_by_name(chunk.len());
                let mut query = sqlx::query_as::<_, (i64, String)>(&sql).persistent(false);
                for name in chunk {
                    query = query.bind(name);
                }
                existing.extend(query.fetch_all(&mut *tx).await?.into_iter().map(|(id, name)| (name, id)));
            }
            let mut outcomes = Vec::with_capacity(names.len());
            for name in names {
                if let Some(id) = existing.get(name) {
                    outcomes.push(Imported::Unchanged(*id));
                    continue;
                }
                let id: i64 = sqlx::query_scalar(INSERT_GROUP)
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
                existing.insert(name.clone(), id);
                outcomes.push(Imported::Created(id));
            }
            (outcomes, Vec::new())
        })
    }

    async fn import_tokens(
        &self,
        tokens: &[ImportedToken],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        in_batch!(self, batch, tx => {
            let mut owners: Vec<i64> = tokens.iter().map(|t| t.django_user_id).collect();
            owners.sort_unstable();
            owners.dedup();
            let sql = linked_ids(owners.len());
            let mut query = sqlx::query_as::<_, (i64, i64, String)>(&sql).persistent(false);
            for owner in &owners {
                query = query.bind(owner);
            }
            let links: HashMap<i64, (i64, String)> = query
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(django_id, id, username)| (django_id, (id, username)))
                .collect();
            let sql = tokens_by_digest(tokens.len());
            let mut query =
                sqlx::query_as::<_, (Vec<u8>, i64, i64, Option<i64>)>(&sql).persistent(false);
            for token in tokens {
                query = query.bind(&token.digest.0[..]);
            }
            let mut existing: HashMap<Vec<u8>, (i64, i64, Option<i64>)> = query
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(digest, id, user_id, expires)| (digest, (id, user_id, expires)))
                .collect();
            let mut outcomes = Vec::with_capacity(tokens.len());
            let mut events = Vec::with_capacity(tokens.len());
            // Indices of the tokens to insert, with their owners.
            let mut new: Vec<(usize, i64)> = Vec::new();
            for (i, token) in tokens.iter().enumerate() {
                let Some((user_id, _)) = links.get(&token.django_user_id) else {
                    outcomes.push(Imported::Rejected(Rejection::NoSuchUser {
                        django_user_id: token.django_user_id,
                    }));
                    continue;
                };
                let user_id = *user_id;
                let expires = token.expires.map(to_micros);
                match existing.get(&token.digest.0[..]).copied() {
                    Some((id, owner, stored)) if owner == user_id && stored == expires => {
                        outcomes.push(Imported::Unchanged(id));
                    }
                    Some((id, _, _)) => {
                        log_revocation!(tx, false, LOG_TOKEN, id, "token_imported")?;
                        sqlx::query(MOVE_TOKEN)
                            .bind(id)
                            .bind(user_id)
                            .bind(expires)
                            .execute(&mut *tx)
                            .await?;
                        existing.insert(token.digest.0.to_vec(), (id, user_id, expires));
                        outcomes.push(Imported::Updated(id));
                    }
                    None => {
                        // Twice in one batch: the second finds the first.
                        existing.insert(token.digest.0.to_vec(), (0, user_id, expires));
                        new.push((i, user_id));
                        outcomes.push(Imported::Created(0));
                    }
                }
            }
            let mut ids: HashMap<Vec<u8>, i64> = HashMap::with_capacity(new.len());
            for chunk in new.chunks(TOKENS_PER_INSERT) {
                let sql = insert_tokens(chunk.len());
                let mut query = sqlx::query_as::<_, (i64, Vec<u8>)>(&sql).persistent(false);
                for &(i, user_id) in chunk {
                    let token = &tokens[i];
                    query = query
                        .bind(user_id)
                        .bind(&token.digest.0[..])
                        .bind(token.name())
                        .bind(to_micros(token.created))
                        .bind(token.expires.map(to_micros));
                }
                ids.extend(query.fetch_all(&mut *tx).await?.into_iter().map(|(id, d)| (d, id)));
            }
            for &(i, user_id) in &new {
                let token = &tokens[i];
                let id = ids.get(&token.digest.0[..]).copied().ok_or_else(|| {
                    StoreError::Other("an inserted token was not returned".into())
                })?;
                outcomes[i] = Imported::Created(id);
                let username = links
                    .get(&token.django_user_id)
                    .map(|(_, name)| name.as_str())
                    .unwrap_or_default();
                let detail = json!({"name": token.name(), "kind": token.kind.name(), "token_id": id});
                let mut e = event(batch.at, EventKind::TokenCreated, username, detail);
                e.user = Some(user_id);
                events.push(Insert::new(e)?);
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
                        log_revocation!(tx, false, LOG_SESSION, id, "session_imported")?;
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

/// A username's key for the comparison ignoring case.
fn fold(username: &str) -> String {
    username.to_lowercase()
}
