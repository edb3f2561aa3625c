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
