//! The store traits. Each backend (SQLite, PostgreSQL, ...) implements them and
//! passes the one shared suite in `tessera-testkit`.
//!
//! Contracts that every implementation keeps:
//! - usernames are unique, compared exactly (they are NFKC-normalised before
//!   they reach a store);
//! - a token is found only by the SHA-256 digest of its key, with one indexed
//!   read, and an expired token is never returned ([`TokenStore::find_token`]);
//!   a rotated-out token is, with its grace end, so that reuse is recognised
//!   (see [`crate::token`]'s rotation families);
//! - a store that cannot be reached answers [`StoreError::Unavailable`], never a
//!   made-up answer, so callers fail closed.

use crate::audit::AuditStore;
use crate::audited::AuditedWrites;
pub use crate::error::StoreError;
use crate::session::{NewSession, SessionRecord};
use crate::throttle::LoginUnlockStore;
use crate::token::{KeyDigest, NewToken, TokenRecord};
use crate::user::{NewUser, User, UserUpdate};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// A user with the password hash, for verifying a login.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The stored hash.
    pub password_hash: String,
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// How many users match, over all pages.
    pub count: u64,
    /// This page's users, ordered by id.
    pub users: Vec<User>,
}

/// Which users to list, and which page of them (the admin pages' filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Only users whose username or e-mail contains this (case-insensitive).
    pub search: Option<String>,
    /// Only users with this `is_staff`.
    pub is_staff: Option<bool>,
    /// Only users with this `is_active`.
    pub is_active: Option<bool>,
    /// Only users with one of these ids (an empty list matches nobody).
    pub ids: Option<Vec<i64>>,
    /// Users to skip, by id.
    pub offset: u64,
    /// The most users to return.
    pub limit: u64,
}

impl UserQuery {
    /// Whether `user` passes the filters (not the paging).
    pub fn matches(&self, user: &User) -> bool {
        let needle = self.search.as_deref().map(str::to_lowercase);
        needle.is_none_or(|n| {
            user.username.to_lowercase().contains(&n) || user.email.to_lowercase().contains(&n)
        }) && self.is_staff.is_none_or(|s| user.is_staff == s)
            && self.is_active.is_none_or(|a| user.is_active == a)
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&user.id))
    }
}

/// Users and their password hashes.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user; a taken username is [`StoreError::Conflict`].
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError>;
    /// The user with this id.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    /// The user with exactly this username, with the password hash.
    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError>;
    /// Applies `update`; `None` when there is no such user.
    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError>;
    /// Records a successful password login.
    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Users whose username or e-mail contains `search` (case-insensitive),
    /// ordered by id, `limit` from `offset`.
    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError>;
    /// The users that match `q`'s filters ([`UserQuery::matches`]), ordered by
    /// id, `q.limit` from `q.offset`, with how many match: two queries
    /// whatever the page's size.
    async fn query_users(&self, q: &UserQuery) -> Result<UserPage, StoreError>;
    /// How many users hold a password hash of each scheme, by
    /// [`scheme_name_of`](crate::password::django::scheme_name_of): Tessera's
    /// own, each of Django's still waiting for its user's next login,
    /// unusable, other. Schemes no user holds are left out.
    async fn count_password_schemes(&self) -> Result<BTreeMap<String, u64>, StoreError>;
}

/// API tokens, kept only as digests of their keys.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a token, as the first of its own rotation family. When
    /// `max_per_user` is given and the user already holds that many live
    /// tokens ([`TokenRecord::is_live`] at `new.created`: unexpired, and not
    /// rotated out past their grace period), nothing is stored and `Ok(None)`
    /// is returned; the count and the insert are one atomic step.
    async fn create_token(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError>;
    /// The unexpired token with this digest, with its user. One indexed read.
    ///
    /// A token rotated out is returned too, also after its grace period
    /// ([`TokenRecord::grace_until`]): the caller must refuse it then, as
    /// reuse ([`TokenRecord::is_rotated_out`]).
    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError>;
    /// A user's live tokens ([`TokenRecord::is_live`]), oldest first: a
    /// rotated-out token is listed until its grace period ends.
    async fn list_tokens(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    /// How many tokens of every user are live at `now` ([`TokenRecord::is_live`]).
    async fn count_live_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Deletes a token; with `owner`, only if that user owns it. Whether one was deleted.
    async fn delete_token(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError>;
    /// Deletes every token of a user but `except`; how many.
    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError>;
    /// The token with this id, expired or not (for rotation and revocation).
    async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError>;
    /// Sets the token's expiry (rotation's grace period). Whether it existed.
    async fn set_token_expiry(
        &self,
        id: i64,
        expires: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError>;
    /// Records a fresh password proof for the token (re-authentication).
    /// Whether it existed.
    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Records a use of the token.
    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Records uses of several tokens, each `(id, at)` as
    /// [`touch_token`](TokenStore::touch_token) would (unknown ids are no
    /// error). The credentials' use recorder writes its queue this way, so a
    /// backend that can should do it in one transaction; the default writes
    /// them one by one and stops at the first failure.
    async fn touch_tokens(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        for &(id, at) in uses {
            self.touch_token(id, at).await?;
        }
        Ok(())
    }
    /// Deletes the tokens expired at `now`, and the rotated-out tokens past
    /// their grace period whose family has no live token left; how many. A
    /// rotated-out token whose family still has a live one is kept, so that
    /// its reuse is still recognised.
    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Server-side sessions, kept only by the digests of their ids.
///
/// A session is live while `now < expires` (absolute lifetime) and
/// `now < last_seen + idle_timeout`; a session that is not live is never
/// returned by [`find_session`](SessionStore::find_session) or
/// [`list_sessions`](SessionStore::list_sessions).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a session.
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError>;
    /// The live session with this digest, with its user. One indexed read.
    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError>;
    /// A user's live sessions, oldest first.
    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Vec<SessionRecord>, StoreError>;
    /// How many sessions of every user are live at `now`.
    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError>;
    /// Gives the session a new id (Django's `cycle_key`), keeping its row, and
    /// sets `authenticated_at` when given. Whether the session existed.
    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        authenticated_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError>;
    /// Replaces the session's data.
    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError>;
    /// Records a use of the session.
    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Records uses of several sessions, each `(id, at)` as
    /// [`touch_session`](SessionStore::touch_session) would (unknown ids are
    /// no error). The credentials' use recorder writes its queue this way,
    /// so a backend that can should do it in one transaction; the default
    /// writes them one by one and stops at the first failure.
    async fn touch_sessions(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        for &(id, at) in uses {
            self.touch_session(id, at).await?;
        }
        Ok(())
    }
    /// The id of the user who owns the session with this id, live or not.
    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError>;
    /// Deletes a session; with `owner`, only if that user owns it. Whether one was deleted.
    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError>;
    /// Deletes every session of a user but `except`; how many.
    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError>;
    /// Deletes the sessions that are not live at `now`; how many.
    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError>;
}

/// Whether every store answers, for `/readyz`.
#[async_trait]
pub trait Health: Send + Sync + 'static {
    /// `Ok` when the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The stores a Tessera instance works with.
#[derive(Clone)]
pub struct Stores {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditStore>,
    /// State changes written together with their audit event.
    pub audited: Arc<dyn AuditedWrites>,
    /// Administrators' unlocks of usernames, seen by every process.
    pub unlocks: Arc<dyn LoginUnlockStore>,
    /// Readiness.
    pub health: Arc<dyn Health>,
    /// The credential cache in front of users, tokens and sessions, if any
    /// ([`crate::cache::with_cache`]): `Tessera::start_background` starts its
    /// revocation poller, the periodic purge trims its log.
    pub cache: Option<Arc<crate::cache::CacheState>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

impl Stores {
    /// Every role played by one store value.
    pub fn from_one<
        S: UserStore
            + TokenStore
            + SessionStore
            + AuditStore
            + AuditedWrites
            + LoginUnlockStore
            + Health,
    >(
        store: S,
    ) -> Self {
        let store = Arc::new(store);
        Stores {
            users: store.clone(),
            tokens: store.clone(),
            sessions: store.clone(),
            audit: store.clone(),
            audited: store.clone(),
            unlocks: store.clone(),
            health: store,
            cache: None,
        }
    }
}
