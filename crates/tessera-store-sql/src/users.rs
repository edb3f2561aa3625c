//! [`UserStore`] for both backends.

use crate::revocations::{log_revocation, LOG_USER};
use crate::rows::{
    fold_groups, fold_user_groups, grouped_user_columns, groups_join, user_columns, CredentialsRow,
    Grouped, UserRow,
};
use crate::BeginWrite;
use crate::{store_error, with_pool, SqlStore};
use async_trait::async_trait;
use tessera_core::clock::to_micros;
use tessera_core::store::{StoreError, UserCredentials, UserPage, UserQuery, UserStore};
use tessera_core::user::{NewUser, UserUpdate};
use tessera_core::User;
use time::OffsetDateTime;

/// Django's message for `AbstractUser.username`'s unique constraint.
const USERNAME_TAKEN: &str = "A user with that username already exists.";

pub(crate) const INSERT_USER: &str = "INSERT INTO tessera_users \
     (username, email, password_hash, is_active, is_staff, is_superuser, date_joined) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

const USER_BY_ID: &str = concat!(
    "SELECT ",
    grouped_user_columns!(),
    " FROM tessera_users u",
    groups_join!(),
    " WHERE u.id = $1"
);

const CREDENTIALS_BY_USERNAME: &str = concat!(
    "SELECT ",
    grouped_user_columns!(),
    ", u.password_hash FROM tessera_users u",
    groups_join!(),
    " WHERE u.username = $1"
);

/// A user's groups, sorted.
pub(crate) const GROUPS_OF: &str = "SELECT g.name FROM tessera_user_groups ug \
     JOIN tessera_groups g ON g.id = ug.group_id WHERE ug.user_id = $1 ORDER BY g.name";

// `COALESCE($n, column)` keeps a column whose update is `None`.
pub(crate) const UPDATE_USER: &str = concat!(
    "UPDATE tessera_users SET \
     email = COALESCE($2, email), \
     is_active = COALESCE($3, is_active), \
     is_staff = COALESCE($4, is_staff), \
     is_superuser = COALESCE($5, is_superuser), \
     password_hash = COALESCE($6, password_hash) \
     WHERE id = $1 RETURNING ",
    user_columns!()
);

pub(crate) const SET_LAST_LOGIN: &str = "UPDATE tessera_users SET last_login = $2 WHERE id = $1";

/// A login's upgrade of the password hash: only while the hash is still the
/// one the password was checked against (`$2`).
pub(crate) const REHASH: &str =
    "UPDATE tessera_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2";

// `$1` is a LIKE pattern or NULL for every user. `lower()` on both sides makes
// the match case-insensitive: fully Unicode on PostgreSQL, ASCII-only on SQLite
// (whose `lower()` knows only ASCII), as Django's `icontains` is on each.
macro_rules! user_search {
    () => {
        " FROM tessera_users WHERE $1 IS NULL \
         OR lower(username) LIKE lower($1) ESCAPE '\\' \
         OR lower(email) LIKE lower($1) ESCAPE '\\'"
    };
}

const COUNT_USERS: &str = concat!("SELECT count(*)", user_search!());

// The page of users, then their groups (a row per group).
const LIST_USERS: &str = concat!(
    "SELECT ",
    grouped_user_columns!(),
    " FROM (SELECT ",
    user_columns!(),
    user_search!(),
    " ORDER BY id LIMIT $2 OFFSET $3) u",
    groups_join!(),
    " ORDER BY u.id"
);

/// Users by the scheme their hash claims, as
/// [`scheme_name_of`](tessera_core::password::django::scheme_name_of) tells
/// it (the same prefixes, in the same order).
const COUNT_PASSWORD_SCHEMES: &str = "SELECT CASE \
     WHEN password_hash LIKE '!%' THEN 'unusable' \
     WHEN password_hash LIKE '$argon2%' THEN 'tessera' \
     WHEN password_hash LIKE 'pbkdf2\\_sha256$%' ESCAPE '\\' THEN 'pbkdf2_sha256' \
     WHEN password_hash LIKE 'pbkdf2\\_sha1$%' ESCAPE '\\' THEN 'pbkdf2_sha1' \
     WHEN password_hash LIKE 'argon2$%' THEN 'argon2' \
     WHEN password_hash LIKE 'bcrypt\\_sha256$%' ESCAPE '\\' THEN 'bcrypt_sha256' \
     WHEN password_hash LIKE 'bcrypt$%' THEN 'bcrypt' \
     WHEN password_hash LIKE 'scrypt$%' THEN 'scrypt' \
     ELSE 'other' END AS scheme, count(*) FROM tessera_users GROUP BY 1";

/// Runs [`INSERT_USER`] for the [`NewUser`] `$new` on `$executor`: the new
/// id. Map its error with [`insert_user_error`].
macro_rules! insert_user {
    ($executor:expr, $new:expr) => {
        sqlx::query_scalar::<_, i64>($crate::users::INSERT_USER)
            .bind(&$new.username)
            .bind(&$new.email)
            .bind(&$new.password_hash)
            .bind($new.is_active)
            .bind($new.is_staff)
            .bind($new.is_superuser)
            .bind(::tessera_core::clock::to_micros($new.date_joined))
            .fetch_one($executor)
            .await
    };
}
pub(crate) use insert_user;

/// Runs [`UPDATE_USER`] for `$id` and the [`UserUpdate`] `$update` on
/// `$executor`: the updated row, or `None` when there is no such user.
macro_rules! update_user {
    ($executor:expr, $id:expr, $update:expr) => {
        sqlx::query_as::<_, $crate::rows::UserRow>($crate::users::UPDATE_USER)
            .bind($id)
            .bind(&$update.email)
            .bind($update.is_active)
            .bind($update.is_staff)
            .bind($update.is_superuser)
            .bind(&$update.password_hash)
            .fetch_optional($executor)
            .await
    };
}
pub(crate) use update_user;

/// Runs [`GROUPS_OF`] for the user `$id` on `$executor`: the group names.
macro_rules! groups_of {
    ($executor:expr, $id:expr) => {
        sqlx::query_scalar::<_, String>($crate::users::GROUPS_OF)
            .bind($id)
            .fetch_all($executor)
            .await
    };
}
pub(crate) use groups_of;

/// The error of [`INSERT_USER`]: a unique violation is the taken username,
/// with Django's message.
pub(crate) fn insert_user_error(error: sqlx::Error) -> StoreError {
    match store_error(error) {
        StoreError::Conflict(_) => StoreError::Conflict(USERNAME_TAKEN.to_owned()),
        other => other,
    }
}

/// The user [`INSERT_USER`] stored for `new` with id `id`, equal to what a
/// later read returns.
pub(crate) fn created_user(id: i64, new: NewUser) -> User {
    User {
        id,
        username: new.username,
        email: new.email,
        is_active: new.is_active,
        is_staff: new.is_staff,
        is_superuser: new.is_superuser,
        date_joined: tessera_core::clock::from_micros(to_micros(new.date_joined)),
        last_login: None,
        groups: Vec::new(),
    }
}

/// A LIKE pattern matching values that contain `search` literally.
fn contains_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// SQL integers are signed; a larger offset or limit means "all of them".
fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let id = with_pool!(self, pool => insert_user!(pool, new)).map_err(insert_user_error)?;
        Ok(created_user(id, new))
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let rows: Vec<Grouped<UserRow>> = with_pool!(self, pool => {
            sqlx::query_as(USER_BY_ID).bind(id).fetch_all(pool).await
        })
        .map_err(store_error)?;
        Ok(fold_groups(rows).map(|(row, groups)| User {
            groups,
            ..User::from(row)
        }))
    }

    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let rows: Vec<Grouped<CredentialsRow>> = with_pool!(self, pool => {
            sqlx::query_as(CREDENTIALS_BY_USERNAME)
                .bind(username)
                .fetch_all(pool)
                .await
        })
        .map_err(store_error)?;
        Ok(fold_groups(rows).map(|(row, groups)| {
            let mut credentials = UserCredentials::from(row);
            credentials.user.groups = groups;
            credentials
        }))
    }

    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError> {
        let notify = self.notifies();
        let user = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let Some(row) = update_user!(&mut *tx, id, update)? else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                log_revocation!(tx, notify, LOG_USER, id, "user_updated")?;
                let groups = groups_of!(&mut *tx, id)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some(User { groups, ..User::from(row) }))
            }
            .await
        })
        .map_err(store_error)?;
        Ok(user)
    }

    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(SET_LAST_LOGIN)
                .bind(id)
                .bind(to_micros(at))
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(store_error)
    }

    async fn count_password_schemes(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(COUNT_PASSWORD_SCHEMES).fetch_all(pool).await
        })
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(scheme, n)| (scheme, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    async fn query_users(&self, q: &UserQuery) -> Result<UserPage, StoreError> {
        if q.ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(UserPage {
                count: 0,
                users: Vec::new(),
            });
        }
        let (filter, params) = user_where_clause(q);
        let count_sql = format!("SELECT count(*) FROM tessera_users{filter}");
        let page_sql = format!(
            "SELECT {} FROM tessera_users{filter} ORDER BY id LIMIT ${} OFFSET ${}",
            user_columns!(),
            params + 1,
            params + 2
        );
        let pattern = q.search.as_deref().map(contains_pattern);
        macro_rules! bind_user_filters {
            ($query:expr) => {{
                let mut query = $query;
                if let Some(pattern) = &pattern {
                    query = query.bind(pattern.as_str());
                }
                if let Some(staff) = q.is_staff {
                    query = query.bind(staff);
                }
                if let Some(active) = q.is_active {
                    query = query.bind(active);
                }
                for id in q.ids.iter().flatten() {
                    query = query.bind(*id);
                }
                query
            }};
        }
        let (count, rows): (i64, Vec<UserRow>) = with_pool!(self, pool => {
            let count = bind_user_filters!(sqlx::query_scalar(&count_sql))
                .fetch_one(pool)
                .await;
            match count {
                Ok(count) => bind_user_filters!(sqlx::query_as(&page_sql))
                    .bind(clamp(q.limit))
                    .bind(clamp(q.offset))
                    .fetch_all(pool)
                    .await
                    .map(|rows| (count, rows)),
                Err(e) => Err(e),
            }
        })
        .map_err(store_error)?;
        Ok(UserPage {
            count: u64::try_from(count).unwrap_or(0),
            users: rows.into_iter().map(User::from).collect(),
        })
    }

    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError> {
        let pattern = search.map(contains_pattern);
        let (count, rows): (i64, Vec<Grouped<UserRow>>) = with_pool!(self, pool => {
            let count = sqlx::query_scalar(COUNT_USERS)
                .bind(&pattern)
                .fetch_one(pool)
                .await;
            match count {
                Ok(count) => sqlx::query_as(LIST_USERS)
                    .bind(&pattern)
                    .bind(clamp(limit))
                    .bind(clamp(offset))
                    .fetch_all(pool)
                    .await
                    .map(|rows| (count, rows)),
                Err(e) => Err(e),
            }
        })
        .map_err(store_error)?;
        Ok(UserPage {
            count: u64::try_from(count).unwrap_or(0),
            users: fold_user_groups(rows),
        })
    }
}

/// `" WHERE ..."` for the filters of `q` that are set, parameters numbered
/// from `$1` in the order search, is_staff, is_active, ids; and how many.
fn user_where_clause(q: &UserQuery) -> (String, usize) {
    let mut clauses = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if q.search.is_some() {
        let p = next();
        clauses.push(format!(
            "(lower(username) LIKE lower({p}) ESCAPE '\\' OR lower(email) LIKE lower({p}) ESCAPE '\\')"
        ));
    }
    if q.is_staff.is_some() {
        clauses.push(format!("is_staff = {}", next()));
    }
    if q.is_active.is_some() {
        clauses.push(format!("is_active = {}", next()));
    }
    if let Some(ids) = &q.ids {
        let marks: Vec<String> = ids.iter().map(|_| next()).collect();
        clauses.push(format!("id IN ({})", marks.join(", ")));
    }
    if clauses.is_empty() {
        (String::new(), 0)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("a%b_c\\d"), r"%a\%b\_c\\d%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
