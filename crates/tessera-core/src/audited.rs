//! State changes written together with their audit event.
//!
//! An event that accompanies a state change (a token created, a password
//! changed, a session revoked, ...) must not be lost when the change is kept,
//! nor kept when the change is not. [`AuditedWrites`] performs each such change
//! and appends its event atomically: in one transaction on a SQL store, under
//! one lock in memory. Either both are stored or neither is.
//!
//! Each method returns what the plain store method returns, and writes the
//! event only when the plain method would have changed something: a refused
//! change (a taken username, a token past its owner's cap, nothing to delete)
//! writes no event. The event is sanitised as [`AuditStore::append`] does
//! ([`NewAuditEvent::sanitized`]).
//!
//! ```
//! use serde_json::json;
//! use tessera_core::audit::{EventKind, NewAuditEvent};
//! use tessera_core::audited::{event_for_new_token, event_for_new_user};
//! use time::macros::datetime;
//!
//! let at = datetime!(2024-05-06 07:08:09 UTC);
//! let created = NewAuditEvent {
//!     detail: json!({"name": "ci"}),
//!     ..NewAuditEvent::new(at, EventKind::TokenCreated)
//! };
//! // What a store writes for the token it stored with id 42.
//! let written = event_for_new_token(created, 42);
//! assert_eq!(written.detail, json!({"name": "ci", "token_id": 42}));
//! // And for the user it created with id 7.
//! let joined = event_for_new_user(NewAuditEvent::new(at, EventKind::UserCreated), 7);
//! assert_eq!(joined.user, Some(7));
//! ```
//!
//! [`AuditStore::append`]: crate::audit::AuditStore::append

use crate::audit::NewAuditEvent;
use crate::error::StoreError;
use crate::session::{NewSession, SessionRecord};
use crate::token::{KeyDigest, NewToken, TokenRecord};
use crate::user::{NewUser, User, UserUpdate};
use async_trait::async_trait;
use time::OffsetDateTime;

/// State changes that are written with their audit event, atomically: both or
/// neither.
///
/// Every method stores `event` (sanitised, as
/// [`AuditStore::append`](crate::audit::AuditStore::append) does) in the same
/// transaction as the change, and only when the change happened; when storing
/// the event fails, the change is undone and the error returned.
#[async_trait]
pub trait AuditedWrites: Send + Sync + 'static {
    /// [`UserStore::create_user`](crate::store::UserStore::create_user) with
    /// `event`, whose `user` is set to the new user's id
    /// ([`event_for_new_user`]). A taken username is
    /// [`StoreError::Conflict`], and no event is written.
    async fn create_user_audited(
        &self,
        new: NewUser,
        event: NewAuditEvent,
    ) -> Result<User, StoreError>;

    /// [`UserStore::update_user`](crate::store::UserStore::update_user) with
    /// `event`. No such user is `Ok(None)`, and no event is written.
    async fn update_user_audited(
        &self,
        id: i64,
        update: UserUpdate,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// [`update_user_audited`](AuditedWrites::update_user_audited) that also
    /// deletes every session of the user but `except_session` and every
    /// token but `except_token`, in the same transaction: a password changed
    /// or reset ends the credentials obtained with the old one, so that no
    /// window exists in which the new password is set and a thief's key
    /// still works. No such user is `Ok(None)`: nothing is deleted and no
    /// event is written.
    async fn update_user_and_revoke_audited(
        &self,
        id: i64,
        update: UserUpdate,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// [`TokenStore::create_token`](crate::store::TokenStore::create_token)
    /// with `event`, whose `detail` gets the new token's id as `"token_id"`
    /// when it is a JSON object ([`event_for_new_token`]). The cap check, the
    /// insert and the event are one atomic step; a token refused by the cap is
    /// `Ok(None)`, and no event is written.
    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError>;

    /// [`TokenStore::delete_token`](crate::store::TokenStore::delete_token)
    /// with `event`. When nothing was deleted (no such token, or not
    /// `owner`'s), `Ok(false)`, and no event is written.
    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError>;

    /// [`SessionStore::delete_session`](crate::store::SessionStore::delete_session)
    /// with `event`. When nothing was deleted (no such session, or not
    /// `owner`'s), `Ok(false)`, and no event is written.
    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError>;

    /// Deletes every session of `user_id` but `except_session` and every
    /// token of `user_id` but `except_token` (as
    /// [`SessionStore::delete_user_sessions`](crate::store::SessionStore::delete_user_sessions)
    /// and
    /// [`TokenStore::delete_user_tokens`](crate::store::TokenStore::delete_user_tokens)
    /// do), with `event`: logging out everywhere, or changing the password.
    /// Returns how many sessions and how many tokens were deleted, in that
    /// order. The event is written even when nothing was deleted.
    async fn delete_user_credentials_audited(
        &self,
        user_id: i64,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<(u64, u64), StoreError>;

    /// A successful password login, in one transaction: `user_id`'s
    /// `last_login` set to `at` (as
    /// [`UserStore::set_last_login`](crate::store::UserStore::set_last_login)),
    /// the password hash replaced when [`LoginWrite::rehash`] asks for it and
    /// the stored hash is still the one checked ([`Rehash`]), `event` (its
    /// `login_succeeded` event), and, when asked for, a token
    /// stored with its own event as
    /// [`create_token_audited`](AuditedWrites::create_token_audited) does. A
    /// login that obtains a token costs the store one transaction, not three.
    /// Or, when asked for, a session ([`LoginWrite::session`], stored as
    /// [`SessionStore::create_session`](crate::store::SessionStore::create_session)
    /// does): [`LoginWritten::RecordedSession`].
    ///
    /// When no user has that id (deleted since the password was checked),
    /// nothing is written: [`LoginWritten::NoSuchUser`]. A token refused by
    /// the cap leaves the login recorded, without the token and its event.
    async fn record_login(&self, login: LoginWrite) -> Result<LoginWritten, StoreError>;

    /// Rotates a token, in one atomic step: marks the old token
    /// (`rotation.token_id`, which must be `rotation.user_id`'s, unexpired at
    /// `rotation.created` and not already rotated out) as rotated out until
    /// `rotation.grace_until`, stores the new key's token, and writes `event`
    /// with the new token's id as `"token_id"` ([`event_for_new_token`]).
    ///
    /// The new token inherits from the old one, as the store holds it, its
    /// name, scopes, expiry and password proof (`authenticated_at`): rotation
    /// never lengthens a life nor widens a scope. It joins the old token's
    /// rotation family ([`TokenRecord::family`]).
    ///
    /// It counts against `rotation.max_per_user` as any new token does, with
    /// the old one (still in its grace period) counted: at the cap nothing is
    /// written ([`Rotated::AtCap`]). An old token already rotated out is
    /// [`Rotated::AlreadyRotated`] (two rotations of one key: one of them is
    /// not its owner's, so exactly one of two concurrent rotations wins), and
    /// no token or event is written; an unknown, expired or another user's
    /// token is [`Rotated::NoSuchToken`].
    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError>;

    /// Revokes a whole rotation family (reuse of a rotated-out key was seen):
    /// deletes every token whose [`TokenRecord::family`] is `family`, the
    /// newest included, and writes `event` (the `security_alert`) with the
    /// deletion. Returns how many tokens were deleted; when none were (the
    /// family was revoked already, for instance by a concurrent request
    /// presenting the same key), no event is written, so one reuse raises
    /// one alert.
    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError>;
}

/// What [`AuditedWrites::rotate_token_audited`] does.
#[derive(Debug, Clone)]
pub struct TokenRotation {
    /// The token being rotated.
    pub token_id: i64,
    /// Its owner (a token of another user is not rotated).
    pub user_id: i64,
    /// The digest of the new key.
    pub digest: KeyDigest,
    /// The new token's issue time, and the instant the old one must be
    /// unexpired at.
    pub created: OffsetDateTime,
    /// The end of the old key's grace period.
    pub grace_until: OffsetDateTime,
    /// The owner's cap on live tokens.
    pub max_per_user: Option<u64>,
}

/// What [`AuditedWrites::rotate_token_audited`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// The old token is rotated out and this is the new one.
    Rotated(TokenRecord),
    /// The owner is at the cap: nothing was written.
    AtCap,
    /// The old token had been rotated out already (reuse): nothing was
    /// written. Its family, for [`AuditedWrites::revoke_token_family_audited`].
    AlreadyRotated {
        /// The old token's rotation family.
        family: i64,
    },
    /// No unexpired token of that user has that id: nothing was written.
    NoSuchToken,
}

/// What [`AuditedWrites::record_login`] writes.
#[derive(Debug, Clone)]
pub struct LoginWrite {
    /// Who logged in.
    pub user_id: i64,
    /// The new `last_login`.
    pub at: OffsetDateTime,
    /// The `login_succeeded` event.
    pub event: NewAuditEvent,
    /// The token obtained with the password, if any.
    pub token: Option<TokenWrite>,
    /// A stored hash weaker than the current default (an imported Django
    /// hash, argon2id at older parameters) to replace, as Django's
    /// `check_password` upgrades it at login.
    pub rehash: Option<Rehash>,
    /// The session the password opens, if any (a session login): stored in
    /// the same transaction as the login and its event, so that a session
    /// never exists without its `login_succeeded` event nor the event without
    /// the session. A login carries a token or a session, not both (both is
    /// [`StoreError::Other`], and nothing is written).
    pub session: Option<NewSession>,
}

/// The replacement of a user's password hash at login
/// ([`LoginWrite::rehash`]). It is written only while the stored hash is
/// still `from`: a password changed between the check and the write is not
/// overwritten with a hash of the old one.
#[derive(Clone)]
pub struct Rehash {
    /// The hash the password was checked against.
    pub from: String,
    /// Its replacement (argon2id at the current parameters).
    pub to: String,
}

impl std::fmt::Debug for Rehash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rehash([redacted])")
    }
}

/// A token to store with a login, as
/// [`AuditedWrites::create_token_audited`] takes it.
#[derive(Debug, Clone)]
pub struct TokenWrite {
    /// The token.
    pub new: NewToken,
    /// Its owner's cap.
    pub max_per_user: Option<u64>,
    /// Its `token_created` event ([`event_for_new_token`] is applied).
    pub event: NewAuditEvent,
}

/// What [`AuditedWrites::record_login`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginWritten {
    /// No user has that id: nothing was written.
    NoSuchUser,
    /// The login was recorded, with the token when one was asked for and the
    /// cap allowed it.
    Recorded(Option<TokenRecord>),
    /// The login was recorded with the session [`LoginWrite::session`] asked
    /// for, as stored.
    RecordedSession(SessionRecord),
}

/// The event [`AuditedWrites::create_user_audited`] writes for the user it
/// created with id `user_id`: `event` with `user` set to that id.
pub fn event_for_new_user(event: NewAuditEvent, user_id: i64) -> NewAuditEvent {
    NewAuditEvent {
        user: Some(user_id),
        ..event
    }
}

/// The event [`AuditedWrites::create_token_audited`] writes for the token it
/// stored with id `token_id`: `event` with `detail["token_id"]` set to that id
/// when `detail` is a JSON object; any other `detail` is kept as it is.
pub fn event_for_new_token(mut event: NewAuditEvent, token_id: i64) -> NewAuditEvent {
    if let Some(detail) = event.detail.as_object_mut() {
        detail.insert("token_id".to_owned(), serde_json::Value::from(token_id));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::EventKind;
    use serde_json::json;
    use time::macros::datetime;

    fn event(detail: serde_json::Value) -> NewAuditEvent {
        NewAuditEvent {
            user: Some(3),
            detail,
            ..NewAuditEvent::new(datetime!(2024-05-06 07:08:09 UTC), EventKind::TokenCreated)
        }
    }

    #[test]
    fn the_new_users_id_replaces_any_user() {
        let written = event_for_new_user(event(json!({"a": 1})), 9);
        assert_eq!(written.user, Some(9));
        assert_eq!(written.detail, json!({"a": 1}));
        let anonymous = NewAuditEvent {
            user: None,
            ..event(json!(null))
        };
        assert_eq!(event_for_new_user(anonymous, 4).user, Some(4));
    }

    #[test]
    fn the_new_tokens_id_goes_into_an_object_detail_only() {
        assert_eq!(
            event_for_new_token(event(json!({"name": "ci"})), 42).detail,
            json!({"name": "ci", "token_id": 42})
        );
        assert_eq!(
            event_for_new_token(event(json!({"token_id": "forged"})), 42).detail,
            json!({"token_id": 42})
        );
        assert_eq!(
            event_for_new_token(event(json!({})), 1).detail,
            json!({"token_id": 1})
        );
        for detail in [json!(null), json!("text"), json!([1, 2]), json!(5)] {
            let written = event_for_new_token(event(detail.clone()), 42);
            assert_eq!(written.detail, detail);
            assert_eq!(written.user, Some(3));
        }
    }
}
