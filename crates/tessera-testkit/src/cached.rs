//! The whole suite through the credential cache the server runs on
//! ([`tessera_core::cache`]): a store whose users, tokens, sessions and
//! audited writes go through [`Cached`], the rest to the store itself, exactly
//! as [`with_cache`] wires [`Stores`].
//!
//! ```
//! use tessera_testkit::{store_tests, CacheLayer, Fixture, MemoryStore};
//!
//! store_tests!(memory_cached, async {
//!     Some(Fixture::new(CacheLayer::memory(MemoryStore::new())))
//! });
//! ```

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_core::audit::{
    AggregatedEvents, AuditPage, AuditQuery, AuditRecord, AuditStore, EventCount, EventKind,
    NewAuditEvent,
};
use tessera_core::audited::{AuditedWrites, LoginWrite, LoginWritten, Rotated, TokenRotation};
use tessera_core::cache::{with_cache, CacheConfig, CacheState, Cached, RevocationLog};
use tessera_core::import::{
    ImportBatch, ImportStore, Imported, ImportedSession, ImportedToken, ImportedUser,
};
use tessera_core::session::{NewSession, SessionRecord};
use tessera_core::store::{
    Health, SessionStore, StoreError, Stores, TokenStore, UserCredentials, UserPage, UserQuery,
    UserStore,
};
use tessera_core::throttle::LoginUnlockStore;
use tessera_core::token::{KeyDigest, NewToken, TokenRecord};
use tessera_core::user::{NewUser, User, UserUpdate};
use time::OffsetDateTime;

/// A store seen through the credential cache: every trait of [`crate::Store`]
/// answered by the [`Stores`] the server would run on, and imports by the
/// store itself (the importer is a process of its own: it writes to the
/// database, not through the cache), each followed by a read of the
/// revocation log, as the poller does within
/// [`REVOCATION_BOUND`](tessera_core::cache::REVOCATION_BOUND) (without a log,
/// that drops the whole cache).
/// Clones share the store and the cache.
#[derive(Clone)]
pub struct CacheLayer<S> {
    stores: Arc<Stores>,
    raw: S,
    state: Arc<CacheState>,
}

impl<S> std::fmt::Debug for CacheLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheLayer")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<S> CacheLayer<S> {
    /// The cache's shared state (its counts, its poller).
    pub fn state(&self) -> &Arc<CacheState> {
        &self.state
    }
}

impl<S> CacheLayer<S>
where
    S: UserStore
        + TokenStore
        + SessionStore
        + AuditStore
        + AuditedWrites
        + LoginUnlockStore
        + ImportStore
        + Health
        + RevocationLog
        + Clone,
{
    /// `store` behind [`with_cache`] with the default settings, as the server
    /// runs it, its revocation poller started on the current runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn with_log(store: S) -> Self {
        let (stores, state) = with_cache(store.clone(), CacheConfig::default());
        state.start(&tokio::runtime::Handle::current());
        CacheLayer {
            stores: Arc::new(stores),
            raw: store,
            state,
        }
    }
}

impl<S> CacheLayer<S>
where
    S: UserStore
        + TokenStore
        + SessionStore
        + AuditStore
        + AuditedWrites
        + LoginUnlockStore
        + ImportStore
        + Health
        + Clone,
{
    /// `store` behind a cache without a revocation log (a local write drops
    /// the whole cache; entries are trusted for at most a second), as for a
    /// store that keeps no log, such as the in-memory one.
    pub fn memory(store: S) -> Self {
        let state = CacheState::new(tessera_core::cache::DEFAULT_TTL);
        let mut stores = Stores::from_one(store.clone());
        let cached = Arc::new(Cached::new(Arc::new(store.clone()), state.clone()));
        stores.users = cached.clone();
        stores.tokens = cached.clone();
        stores.sessions = cached.clone();
        stores.audited = cached;
        stores.cache = Some(state.clone());
        CacheLayer {
            stores: Arc::new(stores),
            raw: store,
            state,
        }
    }
}

impl<S> Drop for CacheLayer<S> {
    fn drop(&mut self) {
        // The last clone stops the poller, so that the store can be closed.
        if Arc::strong_count(&self.stores) == 1 {
            self.state.stop();
        }
    }
}

#[async_trait]
impl<S: ImportStore> UserStore for CacheLayer<S> {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.stores.users.create_user(new).await
    }
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.stores.users.user_by_id(id).await
    }
    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.stores.users.credentials_by_username(username).await
    }
    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError> {
        self.stores.users.update_user(id, update).await
    }
    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.stores.users.set_last_login(id, at).await
    }
    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError> {
        self.stores.users.list_users(search, offset, limit).await
    }
    async fn query_users(&self, q: &UserQuery) -> Result<UserPage, StoreError> {
        self.stores.users.query_users(q).await
    }
    async fn count_password_schemes(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.stores.users.count_password_schemes().await
    }
}

#[async_trait]
impl<S: ImportStore> TokenStore for CacheLayer<S> {
    async fn create_token(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.stores.tokens.create_token(new, max_per_user).await
    }
    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        self.stores.tokens.find_token(digest, now).await
    }
    async fn list_tokens(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.stores.tokens.list_tokens(user_id, now).await
    }
    async fn count_live_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.stores.tokens.count_live_tokens(now).await
    }
    async fn delete_token(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        self.stores.tokens.delete_token(id, owner).await
    }
    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.stores.tokens.delete_user_tokens(user_id, except).await
    }
    async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        self.stores.tokens.token_by_id(id).await
    }
    async fn set_token_expiry(
        &self,
        id: i64,
        expires: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        self.stores.tokens.set_token_expiry(id, expires).await
    }
    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.stores.tokens.set_token_authenticated_at(id, at).await
    }
    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.stores.tokens.touch_token(id, at).await
    }
    async fn touch_tokens(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        self.stores.tokens.touch_tokens(uses).await
    }
    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.stores.tokens.purge_expired_tokens(now).await
    }
}

#[async_trait]
impl<S: ImportStore> SessionStore for CacheLayer<S> {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        self.stores.sessions.create_session(new).await
    }
    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        self.stores
            .sessions
            .find_session(digest, now, idle_timeout)
            .await
    }
    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.stores
            .sessions
            .list_sessions(user_id, now, idle_timeout)
            .await
    }
    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError> {
        self.stores
            .sessions
            .count_live_sessions(now, idle_timeout)
            .await
    }
    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        authenticated_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        self.stores
            .sessions
            .rotate_session(id, new_digest, authenticated_at)
            .await
    }
    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        self.stores.sessions.set_session_data(id, data).await
    }
    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.stores.sessions.touch_session(id, at).await
    }
    async fn touch_sessions(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        self.stores.sessions.touch_sessions(uses).await
    }
    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        self.stores.sessions.session_owner(id).await
    }
    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        self.stores.sessions.delete_session(id, owner).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.stores
            .sessions
            .delete_user_sessions(user_id, except)
            .await
    }
    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError> {
        self.stores
            .sessions
            .purge_expired_sessions(now, idle_timeout)
            .await
    }
}

#[async_trait]
impl<S: ImportStore> Health for CacheLayer<S> {
    async fn ping(&self) -> Result<(), StoreError> {
        self.stores.health.ping().await
    }
}

#[async_trait]
impl<S: ImportStore> AuditStore for CacheLayer<S> {
    async fn append(&self, event: NewAuditEvent) -> Result<AuditRecord, StoreError> {
        self.stores.audit.append(event).await
    }
    async fn append_many(&self, events: Vec<NewAuditEvent>) -> Result<(), StoreError> {
        self.stores.audit.append_many(events).await
    }
    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.stores.audit.query(q).await
    }
    async fn event_counts(
        &self,
        kinds: &[EventKind],
        since: OffsetDateTime,
        bucket: std::time::Duration,
    ) -> Result<Vec<EventCount>, StoreError> {
        self.stores.audit.event_counts(kinds, since, bucket).await
    }
    async fn add_aggregated(&self, entries: Vec<AggregatedEvents>) -> Result<(), StoreError> {
        self.stores.audit.add_aggregated(entries).await
    }
    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.stores.audit.delete_events_before(before).await
    }
}

#[async_trait]
impl<S: ImportStore> AuditedWrites for CacheLayer<S> {
    async fn create_user_audited(
        &self,
        new: NewUser,
        event: NewAuditEvent,
    ) -> Result<User, StoreError> {
        self.stores.audited.create_user_audited(new, event).await
    }
    async fn update_user_audited(
        &self,
        id: i64,
        update: UserUpdate,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        self.stores
            .audited
            .update_user_audited(id, update, event)
            .await
    }
    async fn update_user_and_revoke_audited(
        &self,
        id: i64,
        update: UserUpdate,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        self.stores
            .audited
            .update_user_and_revoke_audited(id, update, except_session, except_token, event)
            .await
    }
    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.stores
            .audited
            .create_token_audited(new, max_per_user, event)
            .await
    }
    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        self.stores
            .audited
            .delete_token_audited(id, owner, event)
            .await
    }
    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        self.stores
            .audited
            .delete_session_audited(id, owner, event)
            .await
    }
    async fn delete_user_credentials_audited(
        &self,
        user_id: i64,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        self.stores
            .audited
            .delete_user_credentials_audited(user_id, except_session, except_token, event)
            .await
    }
    async fn record_login(&self, login: LoginWrite) -> Result<LoginWritten, StoreError> {
        self.stores.audited.record_login(login).await
    }
    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError> {
        self.stores
            .audited
            .rotate_token_audited(rotation, event)
            .await
    }
    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError> {
        self.stores
            .audited
            .revoke_token_family_audited(family, event)
            .await
    }
}

#[async_trait]
impl<S: ImportStore> LoginUnlockStore for CacheLayer<S> {
    async fn last_unlock(&self, key: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        self.stores.unlocks.last_unlock(key).await
    }
    async fn record_unlock(
        &self,
        key: &str,
        at: OffsetDateTime,
        event: NewAuditEvent,
    ) -> Result<(), StoreError> {
        self.stores.unlocks.record_unlock(key, at, event).await
    }
}

#[async_trait]
impl<S: ImportStore> ImportStore for CacheLayer<S> {
    async fn import_groups(
        &self,
        names: &[String],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        let result = self.raw.import_groups(names, batch).await;
        self.state.sync().await?;
        result
    }
    async fn import_users(
        &self,
        users: &[ImportedUser],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        let result = self.raw.import_users(users, batch).await;
        self.state.sync().await?;
        result
    }
    async fn import_tokens(
        &self,
        tokens: &[ImportedToken],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        let result = self.raw.import_tokens(tokens, batch).await;
        self.state.sync().await?;
        result
    }
    async fn import_sessions(
        &self,
        sessions: &[ImportedSession],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        let result = self.raw.import_sessions(sessions, batch).await;
        self.state.sync().await?;
        result
    }
    async fn imported_user_id(&self, django_id: i64) -> Result<Option<i64>, StoreError> {
        self.raw.imported_user_id(django_id).await
    }
}
