//! An in-process cache in front of the token and session stores, as a
//! decorator implementing the same traits (tower-sessions' `CachingSessionStore`
//! pattern).
//!
//! A token or session check is then a hash-map read instead of a database
//! read. Correctness rests on two rules:
//!
//! - **Local revocation is immediate.** Every write that can end or change a
//!   credential or its user (deleting or re-dating a token, deleting or rotating
//!   a session, updating a user, ...) bumps a generation counter, and an entry
//!   of an older generation is never used. Writes that only record a use
//!   (`touch_token`, `touch_session`) do not.
//! - **Remote revocation is bounded.** An entry is used for at most `ttl`
//!   (one second by default), so a credential revoked by another process
//!   stops working here within that bound.
//!
//! Expiry is re-checked against the caller's `now` on every hit, and a cached
//! token carries its grace end, which the caller checks against `now` too, so
//! a rotated-out key's entry never outlives its grace period. The map is
//! bounded: past its capacity it is cleared.

use crate::audit::NewAuditEvent;
use crate::audited::{AuditedWrites, LoginWrite, LoginWritten, Rotated, TokenRotation};
use crate::session::{NewSession, SessionRecord};
use crate::store::{SessionStore, StoreError, TokenStore, UserCredentials, UserPage, UserStore};
use crate::token::{KeyDigest, NewToken, TokenRecord};
use crate::user::{NewUser, User, UserUpdate};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How long an entry is trusted: the bound on revocation by another process.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// Most entries per map before it is cleared.
const CAPACITY: usize = 200_000;

struct Entry<T> {
    value: T,
    at: Instant,
    generation: u64,
}

/// The shared state of the decorators: one generation for all, so a user
/// update invalidates that user's cached tokens and sessions too.
#[derive(Debug)]
pub struct CacheState {
    generation: AtomicU64,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheState {
    /// A cache trusting entries for `ttl`.
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(CacheState {
            generation: AtomicU64::new(0),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn current(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Lookups answered from memory, and those that went to the store.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

struct Map<T> {
    entries: Mutex<HashMap<KeyDigest, Entry<T>>>,
}

impl<T: Clone> Map<T> {
    fn new() -> Self {
        Map {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The entry, when a fresh one of the current generation exists.
    fn get(&self, state: &CacheState, key: &KeyDigest) -> Option<T> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        (entry.generation == state.current() && entry.at.elapsed() < state.ttl)
            .then(|| entry.value.clone())
    }

    fn put(&self, key: KeyDigest, value: T, generation: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    value,
                    at: Instant::now(),
                    generation,
                },
            );
        }
    }
}

/// A caching decorator over a store that is a user, token and session store.
pub struct Cached<S> {
    inner: Arc<S>,
    state: Arc<CacheState>,
    tokens: Map<(TokenRecord, User)>,
    sessions: Map<(SessionRecord, User)>,
}

impl<S> std::fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<S> Cached<S> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<S>, state: Arc<CacheState>) -> Self {
        Cached {
            inner,
            state,
            tokens: Map::new(),
            sessions: Map::new(),
        }
    }

    /// The shared cache state.
    pub fn state(&self) -> &Arc<CacheState> {
        &self.state
    }

    fn hit(&self) {
        self.state.hits.fetch_add(1, Ordering::Relaxed);
    }

    fn miss(&self) {
        self.state.misses.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<S: UserStore> UserStore for Cached<S> {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.inner.create_user(new).await
    }
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.inner.user_by_id(id).await
    }
    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.inner.credentials_by_username(username).await
    }
    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError> {
        let result = self.inner.update_user(id, update).await;
        self.state.bump();
        result
    }
    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.set_last_login(id, at).await
    }
    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError> {
        self.inner.list_users(search, offset, limit).await
    }
    async fn query_users(&self, q: &crate::store::UserQuery) -> Result<UserPage, StoreError> {
        self.inner.query_users(q).await
    }
    async fn count_password_schemes(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        self.inner.count_password_schemes().await
    }
}

#[async_trait]
impl<S: TokenStore> TokenStore for Cached<S> {
    async fn create_token(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        // Only found credentials are cached, so a new one invalidates nothing
        // (and a login storm does not empty the cache).
        self.inner.create_token(new, max_per_user).await
    }
    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        if let Some(cached) = self.tokens.get(&self.state, digest) {
            if !cached.0.is_expired(now) {
                self.hit();
                return Ok(Some(cached));
            }
        }
        self.miss();
        let generation = self.state.current();
        let found = self.inner.find_token(digest, now).await?;
        if let Some(found) = &found {
            self.tokens.put(*digest, found.clone(), generation);
        }
        Ok(found)
    }
    async fn count_live_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.count_live_tokens(now).await
    }
    async fn list_tokens(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.list_tokens(user_id, now).await
    }
    async fn delete_token(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        let result = self.inner.delete_token(id, owner).await;
        self.state.bump();
        result
    }
    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let result = self.inner.delete_user_tokens(user_id, except).await;
        self.state.bump();
        result
    }
    async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token_by_id(id).await
    }
    async fn set_token_expiry(
        &self,
        id: i64,
        expires: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let result = self.inner.set_token_expiry(id, expires).await;
        self.state.bump();
        result
    }
    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self.inner.set_token_authenticated_at(id, at).await;
        self.state.bump();
        result
    }
    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.touch_token(id, at).await
    }
    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_expired_tokens(now).await
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for Cached<S> {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        self.inner.create_session(new).await
    }
    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        // A cached session that looks idle may only have a stale `last_seen`
        // (uses are recorded without invalidating): ask the store then.
        if let Some(cached) = self.sessions.get(&self.state, digest) {
            if cached.0.is_live(now, idle_timeout) {
                self.hit();
                return Ok(Some(cached));
            }
        }
        self.miss();
        let generation = self.state.current();
        let found = self.inner.find_session(digest, now, idle_timeout).await?;
        if let Some(found) = &found {
            self.sessions.put(*digest, found.clone(), generation);
        }
        Ok(found)
    }
    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle: time::Duration,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.inner.list_sessions(user_id, now, idle).await
    }
    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError> {
        self.inner.count_live_sessions(now, idle_timeout).await
    }
    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let result = self.inner.rotate_session(id, new_digest, at).await;
        self.state.bump();
        result
    }
    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        let result = self.inner.set_session_data(id, data).await;
        self.state.bump();
        result
    }
    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.touch_session(id, at).await
    }
    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        self.inner.session_owner(id).await
    }
    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        let result = self.inner.delete_session(id, owner).await;
        self.state.bump();
        result
    }
    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let result = self.inner.delete_user_sessions(user_id, except).await;
        self.state.bump();
        result
    }
    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle: time::Duration,
    ) -> Result<u64, StoreError> {
        self.inner.purge_expired_sessions(now, idle).await
    }
}

#[async_trait]
impl<S: AuditedWrites> AuditedWrites for Cached<S> {
    async fn create_user_audited(
        &self,
        new: NewUser,
        event: NewAuditEvent,
    ) -> Result<User, StoreError> {
        self.inner.create_user_audited(new, event).await
    }
    async fn update_user_audited(
        &self,
        id: i64,
        update: UserUpdate,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let result = self.inner.update_user_audited(id, update, event).await;
        self.state.bump();
        result
    }
    async fn update_user_and_revoke_audited(
        &self,
        id: i64,
        update: UserUpdate,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let result = self
            .inner
            .update_user_and_revoke_audited(id, update, except_session, except_token, event)
            .await;
        self.state.bump();
        result
    }
    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.inner
            .create_token_audited(new, max_per_user, event)
            .await
    }
    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let result = self.inner.delete_token_audited(id, owner, event).await;
        self.state.bump();
        result
    }
    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let result = self.inner.delete_session_audited(id, owner, event).await;
        self.state.bump();
        result
    }
    async fn delete_user_credentials_audited(
        &self,
        user_id: i64,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        let result = self
            .inner
            .delete_user_credentials_audited(user_id, except_session, except_token, event)
            .await;
        self.state.bump();
        result
    }
    async fn record_login(&self, login: LoginWrite) -> Result<LoginWritten, StoreError> {
        // A new token and a login time change no cached answer.
        self.inner.record_login(login).await
    }
    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError> {
        // The old key's cached entry has no grace end: it must not outlive
        // the grace period, so it is dropped.
        let result = self.inner.rotate_token_audited(rotation, event).await;
        self.state.bump();
        result
    }
    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError> {
        let result = self.inner.revoke_token_family_audited(family, event).await;
        self.state.bump();
        result
    }
}

/// The stores of `store`, with tokens, sessions and users behind one cache.
pub fn with_cache<S>(store: S, ttl: Duration) -> (crate::Stores, Arc<CacheState>)
where
    S: UserStore
        + TokenStore
        + SessionStore
        + crate::audit::AuditStore
        + AuditedWrites
        + crate::throttle::LoginUnlockStore
        + crate::store::Health
        + Clone,
{
    let state = CacheState::new(ttl);
    let mut stores = crate::Stores::from_one(store.clone());
    let cached = Arc::new(Cached::new(Arc::new(store), state.clone()));
    stores.users = cached.clone();
    stores.tokens = cached.clone();
    stores.sessions = cached.clone();
    stores.audited = cached;
    (stores, state)
}
