//! Rows as the database returns them, and their conversion to core types.
//!
//! The column lists are macros so that queries can be assembled with
//! `concat!` into `&'static str`s, which sqlx prepares once per connection.

use sqlx::FromRow;
use tessera_core::clock::from_micros;
use tessera_core::session::SessionRecord;
use tessera_core::store::{StoreError, UserCredentials};
use tessera_core::token::TokenRecord;
use tessera_core::User;

/// The columns of [`UserRow`], from `tessera_users`.
macro_rules! user_columns {
    () => {
        "id, username, email, is_active, is_staff, is_superuser, date_joined, last_login"
    };
}
pub(crate) use user_columns;

/// [`user_columns!`] of the table aliased `u`, with each of the user's
/// groups as `group_name` through [`groups_join!`]: a user in no group is one
/// row (`group_name` NULL), a user in n groups is n rows ([`fold_groups`]).
macro_rules! grouped_user_columns {
    () => {
        "u.id, u.username, u.email, u.is_active, u.is_staff, u.is_superuser, u.date_joined, \
         u.last_login, g.name AS group_name"
    };
}
pub(crate) use grouped_user_columns;

/// The user `u`'s groups, joined by the primary key of
/// `tessera_user_groups` (user first) and the groups' primary key.
macro_rules! groups_join {
    () => {
        " LEFT JOIN tessera_user_groups ug ON ug.user_id = u.id \
         LEFT JOIN tessera_groups g ON g.id = ug.group_id"
    };
}
pub(crate) use groups_join;

/// The columns of [`TokenRow`], from `tessera_tokens`.
macro_rules! token_columns {
    () => {
        "id AS token_id, user_id, name, scopes, created, expires, last_used, authenticated_at, \
         COALESCE(family, id) AS family, grace_until"
    };
}
pub(crate) use token_columns;

/// The columns of [`SessionRow`], from `tessera_sessions`.
macro_rules! session_columns {
    () => {
        "id AS session_id, user_id, data, created, last_seen, expires, ip, user_agent, \
         authenticated_at"
    };
}
pub(crate) use session_columns;

/// A user's columns other than its id (which a token row carries as `user_id`).
#[derive(FromRow)]
pub(crate) struct UserFields {
    username: String,
    email: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    date_joined: i64,
    last_login: Option<i64>,
}

impl UserFields {
    pub(crate) fn into_user(self, id: i64) -> User {
        User {
            groups: Vec::new(),
            id,
            username: self.username,
            email: self.email,
            is_active: self.is_active,
            is_staff: self.is_staff,
            is_superuser: self.is_superuser,
            date_joined: from_micros(self.date_joined),
            last_login: self.last_login.map(from_micros),
        }
    }
}

/// `user_columns!()`.
#[derive(FromRow)]
pub(crate) struct UserRow {
    id: i64,
    #[sqlx(flatten)]
    fields: UserFields,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> User {
        row.fields.into_user(row.id)
    }
}

/// A row and one of its user's groups (`group_name`, NULL for none), as
/// [`groups_join!`] gives them.
pub(crate) struct Grouped<T> {
    pub(crate) row: T,
    group_name: Option<String>,
}

impl<'r, R, T> FromRow<'r, R> for Grouped<T>
where
    R: sqlx::Row,
    T: FromRow<'r, R>,
    &'static str: sqlx::ColumnIndex<R>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Grouped {
            row: T::from_row(row)?,
            group_name: row.try_get("group_name")?,
        })
    }
}

/// The rows of one user (or one token or session and its user), a row per
/// group: the first row, and the group names, sorted. `None` for no rows.
pub(crate) fn fold_groups<T>(rows: Vec<Grouped<T>>) -> Option<(T, Vec<String>)> {
    let mut groups: Vec<String> = Vec::new();
    let mut first = None;
    for grouped in rows {
        groups.extend(grouped.group_name);
        if first.is_none() {
            first = Some(grouped.row);
        }
    }
    groups.sort_unstable();
    groups.dedup();
    first.map(|row| (row, groups))
}

/// Rows of several users, each user's rows next to each other (ordered by
/// user): each user once, in order, with its groups.
pub(crate) fn fold_user_groups(rows: Vec<Grouped<UserRow>>) -> Vec<User> {
    let mut users: Vec<User> = Vec::new();
    for grouped in rows {
        let id = grouped.row.id;
        if users.last().is_none_or(|u| u.id != id) {
            users.push(User::from(grouped.row));
        }
        if let (Some(user), Some(name)) = (users.last_mut(), grouped.group_name) {
            user.groups.push(name);
        }
    }
    for user in &mut users {
        user.groups.sort_unstable();
        user.groups.dedup();
    }
    users
}

/// `user_columns!()` and `password_hash`.
#[derive(FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl From<CredentialsRow> for UserCredentials {
    fn from(row: CredentialsRow) -> UserCredentials {
        UserCredentials {
            user: row.user.into(),
            password_hash: row.password_hash,
        }
    }
}

/// `token_columns!()`.
#[derive(FromRow)]
pub(crate) struct TokenRow {
    token_id: i64,
    user_id: i64,
    name: String,
    scopes: String,
    created: i64,
    expires: Option<i64>,
    last_used: Option<i64>,
    authenticated_at: Option<i64>,
    family: i64,
    grace_until: Option<i64>,
}

impl TokenRow {
    pub(crate) fn into_record(self) -> Result<TokenRecord, StoreError> {
        Ok(TokenRecord {
            id: self.token_id,
            user_id: self.user_id,
            name: self.name,
            scopes: decode_scopes(&self.scopes)?,
            created: from_micros(self.created),
            expires: self.expires.map(from_micros),
            last_used: self.last_used.map(from_micros),
            authenticated_at: self.authenticated_at.map(from_micros),
            family: self.family,
            grace_until: self.grace_until.map(from_micros),
        })
    }
}

/// A token and its owner, from one join.
#[derive(FromRow)]
pub(crate) struct TokenUserRow {
    #[sqlx(flatten)]
    token: TokenRow,
    #[sqlx(flatten)]
    user: UserFields,
}

impl TokenUserRow {
    pub(crate) fn into_pair(self) -> Result<(TokenRecord, User), StoreError> {
        let user = self.user.into_user(self.token.user_id);
        Ok((self.token.into_record()?, user))
    }
}

/// `session_columns!()`.
#[derive(FromRow)]
pub(crate) struct SessionRow {
    session_id: i64,
    user_id: i64,
    data: String,
    created: i64,
    last_seen: i64,
    expires: i64,
    ip: Option<String>,
    user_agent: Option<String>,
    authenticated_at: Option<i64>,
}

impl SessionRow {
    pub(crate) fn into_record(self) -> Result<SessionRecord, StoreError> {
        Ok(SessionRecord {
            id: self.session_id,
            user_id: self.user_id,
            data: decode_data(&self.data)?,
            created: from_micros(self.created),
            last_seen: from_micros(self.last_seen),
            expires: from_micros(self.expires),
            ip: self.ip,
            user_agent: self.user_agent,
            authenticated_at: self.authenticated_at.map(from_micros),
        })
    }
}

/// A session and its owner, from one join.
#[derive(FromRow)]
pub(crate) struct SessionUserRow {
    #[sqlx(flatten)]
    session: SessionRow,
    #[sqlx(flatten)]
    user: UserFields,
}

impl SessionUserRow {
    pub(crate) fn into_pair(self) -> Result<(SessionRecord, User), StoreError> {
        let user = self.user.into_user(self.session.user_id);
        Ok((self.session.into_record()?, user))
    }
}

/// A session's data is kept as JSON text.
pub(crate) fn encode_data(data: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(data).map_err(|e| StoreError::Other(Box::new(e)))
}

fn decode_data(json: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Other(Box::new(e)))
}

/// Scopes are kept as a JSON array of strings.
pub(crate) fn encode_scopes(scopes: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(scopes).map_err(|e| StoreError::Other(Box::new(e)))
}

fn decode_scopes(json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Other(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_json() {
        for scopes in [
            vec![],
            vec!["notes:read".to_owned(), "a \"b\" ü".to_owned()],
        ] {
            let json = encode_scopes(&scopes).unwrap_or_default();
            assert_eq!(decode_scopes(&json).ok(), Some(scopes));
        }
    }

    #[test]
    fn session_data_round_trips_through_json() {
        let data = serde_json::json!({"b": [1, 2.5, null], "a": {"ü": "\"x\""}, "c": true});
        let json = encode_data(&data).unwrap_or_default();
        assert_eq!(decode_data(&json).ok(), Some(data));
        assert!(decode_data("not json").is_err());
    }
}
