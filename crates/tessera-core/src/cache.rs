//! An in-process cache in front of the token and session stores, as a
//! decorator implementing the same traits (tower-sessions' `CachingSessionStore`
//! pattern), kept honest across processes by a revocation log.
//!
//! A token or session check is then a memory read instead of a database
//! read, for the whole working set: entries are kept up to
//! [`CacheConfig::ttl`] (five minutes by default) in a size-bounded
//! concurrent cache (`quick_cache`, S3-FIFO eviction: past
//! [`CacheConfig::capacity`] the least useful entries go, the map is never
//! emptied wholesale). Correctness rests on these rules:
//!
//! - **Local revocation is immediate.** Every write through the decorator
//!   that can end or change a credential or its user (deleting, re-dating or
//!   rotating a token, deleting or rotating a session, updating a user, ...)
//!   reads the revocation log at once before it returns ([`CacheState::sync`]),
//!   which drops the cached credentials of the users it names; without a log,
//!   or when the log cannot be read, the whole cache is dropped. Writes that
//!   only record a use (`touch_token`, `touch_session`) invalidate nothing.
//! - **Remote revocation is bounded by [`REVOCATION_BOUND`] (one second).**
//!   Every such write appends a row naming the user to the database's
//!   revocation log in the same transaction ([`RevocationLog`]). Each process
//!   polls the log every [`CacheConfig::poll_interval`] (250 ms by default;
//!   PostgreSQL's `LISTEN/NOTIFY` wakes it early) and drops the cached
//!   credentials of every user named there. The log is the truth; a missed
//!   wake-up costs at most one poll interval.
//! - **Fail safe.** An entry older than the bound is trusted only while the
//!   last successful poll *started* less than the bound ago. When the log
//!   cannot be read (database unreachable, poller stopped or never started),
//!   entries are served for at most one second after they were read, exactly
//!   as a cache with a one-second TTL would, and everything else goes to the
//!   store until a poll succeeds again.
//! - **Unknown keys** are remembered for [`CacheConfig::negative_ttl`] (at most
//!   the bound), so that a flood of made-up keys costs one read per key, and
//!   a key created by another process (or imported) works here within the
//!   bound. A key created through this decorator is forgotten as unknown at
//!   once; so is every unknown token key when a token's expiry is changed
//!   through it (a key refused as expired is remembered as unknown, and is
//!   valid again at once once re-dated).
//! - **Idle timeouts are the caller's.** A session is looked up in the store
//!   without an idle limit and cached as it is; the caller's idle timeout is
//!   applied to every answer, hit or miss, so that one caller's shorter
//!   timeout never refuses the session to another's longer one.
//!
//! Invalidation is per user, not per key: a revoked token drops every cached
//! credential of its owner (each one miss later). That covers the writes that
//! have no key to name (a password change, a deactivation) with one rule, and
//! costs little: revocations are rare next to checks.
//!
//! Expiry is re-checked against the caller's `now` on every hit, and a cached
//! token carries its grace end, which the caller checks against `now` too, so
//! a rotated-out key's entry never outlives its grace period.
//!
//! Races between a read that misses and a revocation are closed by a
//! sequence number: a read takes the current number before it asks the store,
//! a revocation takes the next one, and an entry older than its user's last
//! revocation is never used.

use crate::audit::NewAuditEvent;
use crate::audited::{AuditedWrites, LoginWrite, LoginWritten, Rotated, TokenRotation};
use crate::session::{NewSession, SessionRecord};
use crate::store::{SessionStore, StoreError, TokenStore, UserCredentials, UserPage, UserStore};
use crate::token::{KeyDigest, NewToken, TokenRecord};
use crate::user::{NewUser, User, UserUpdate};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// The bound on revocation by another process: a credential revoked, rotated
/// out, re-dated or whose user changed is refused by every process within
/// this time of the write's commit.
pub const REVOCATION_BOUND: Duration = Duration::from_secs(1);

/// How long an entry is kept by default ([`CacheConfig::ttl`]).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// How often the revocation log is read by default
/// ([`CacheConfig::poll_interval`]).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long an unknown key is remembered by default
/// ([`CacheConfig::negative_ttl`]).
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_millis(500);

/// How many tokens, and how many sessions, are kept by default
/// ([`CacheConfig::capacity`]).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// How long rows stay in the revocation log: the periodic purge deletes
/// older ones ([`CacheState::purge_log`]). A process whose poller was stalled
/// for half of it drops its whole cache when the poller recovers, since rows
/// it did not read may be gone.
pub const LOG_RETENTION: Duration = Duration::from_secs(600);

/// The idle timeout the session decorator asks the store with: longer than
/// any session lives, so that the store's answer does not depend on the
/// caller's timeout (applied by the decorator).
const UNBOUNDED_IDLE: time::Duration = time::Duration::days(100 * 365);

/// Settings of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a found credential is kept (five minutes). Past
    /// [`REVOCATION_BOUND`] it is trusted only while the revocation poller
    /// is fresh.
    pub ttl: Duration,
    /// How long an unknown key is remembered (500 ms); capped at
    /// [`REVOCATION_BOUND`].
    pub negative_ttl: Duration,
    /// How many tokens, and how many sessions, are kept at most (200,000 each).
    pub capacity: usize,
    /// How often the revocation log is read (250 ms); must be below
    /// [`REVOCATION_BOUND`] for the cache to be trusted past it.
    pub poll_interval: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: DEFAULT_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            capacity: DEFAULT_CAPACITY,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// One row of the revocation log: a write that revoked or changed a
/// credential of this user, or the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// The row's id, increasing.
    pub id: i64,
    /// Whose cached credentials are no longer to be trusted.
    pub user_id: i64,
}

/// The database's revocation log: every write that revokes or changes a
/// credential or its user appends a row in its own transaction.
#[async_trait]
pub trait RevocationLog: Send + Sync + 'static {
    /// The id of the newest row (0 when there is none).
    async fn latest_revocation(&self) -> Result<i64, StoreError>;

    /// The rows whose id is above `after`, in id order.
    async fn revocations_after(&self, after: i64) -> Result<Vec<Revocation>, StoreError>;

    /// The rows that may be new since `position` (a value this method
    /// returned before; `None` at the first read: no rows, just where to
    /// start), and the position to read from next time. Rows returned before
    /// may come again: the caller skips those whose id it saw last time.
    ///
    /// The default reads by id, which is right where ids are taken in commit
    /// order (SQLite: one writer at a time). Where they are not (PostgreSQL:
    /// an id is taken at insert, and a transaction that took a smaller one may
    /// commit later), the position must be something that still covers every
    /// transaction that has not committed yet.
    async fn revocations_since(
        &self,
        position: Option<i64>,
    ) -> Result<(Vec<Revocation>, i64), StoreError> {
        match position {
            None => Ok((Vec::new(), self.latest_revocation().await?)),
            Some(after) => {
                let rows = self.revocations_after(after).await?;
                let next = rows.last().map_or(after, |row| row.id);
                Ok((rows, next))
            }
        }
    }

    /// Deletes the rows written before `before`; how many.
    async fn purge_revocations(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Wakes `wake` whenever another process may have appended a row, until
    /// the connection fails (an error: the caller listens again later).
    /// `Ok(())` at once means the log has no wake-ups: it is only polled.
    async fn listen(&self, wake: Arc<Notify>) -> Result<(), StoreError> {
        let _ = wake;
        Ok(())
    }
}

/// Where the poller is in the log.
#[derive(Debug, Default)]
struct Cursor {
    /// What [`RevocationLog::revocations_since`] returned last; `None`
    /// before the first poll.
    position: Option<i64>,
    /// The ids of the rows it returned last, already applied.
    seen: HashSet<i64>,
}

/// The shared state of the decorators: the revocation sequence, the log and
/// its poller, and the counts.
pub struct CacheState {
    config: CacheConfig,
    /// Taken by a read before it asks the store; bumped by each revocation.
    seq: AtomicU64,
    /// Entries read before this sequence number are never used (the whole
    /// cache was dropped).
    floor: AtomicU64,
    /// Per user: the sequence number of their last revocation, and when.
    revoked: RwLock<HashMap<i64, (u64, Instant)>>,
    /// What `last_poll` counts from.
    epoch: Instant,
    /// Nanoseconds from `epoch` to the start of the last successful poll;
    /// 0 when none succeeded yet.
    last_poll: AtomicU64,
    log: Option<Arc<dyn RevocationLog>>,
    cursor: tokio::sync::Mutex<Cursor>,
    wake: Arc<Notify>,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether the last poll failed (to log a failure once, not every poll).
    failing: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    negative_hits: AtomicU64,
    poll_failures: AtomicU64,
    cleared: AtomicU64,
}

impl std::fmt::Debug for CacheState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheState")
            .field("config", &self.config)
            .field("log", &self.log.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl CacheState {
    /// A cache keeping entries for `ttl` (unknown keys for `ttl` too, at most
    /// [`DEFAULT_NEGATIVE_TTL`]), without a revocation log: entries are then
    /// trusted for at most [`REVOCATION_BOUND`] after they were read, and a
    /// local write drops the whole cache. For one process, or tests.
    pub fn new(ttl: Duration) -> Arc<Self> {
        let config = CacheConfig {
            ttl,
            negative_ttl: ttl.min(DEFAULT_NEGATIVE_TTL),
            ..CacheConfig::default()
        };
        Self::build(config, None)
    }

    /// A cache with these settings, kept honest by `log`: its poller
    /// ([`CacheState::start`]) makes entries trusted past the bound.
    pub fn with_log(config: CacheConfig, log: Arc<dyn RevocationLog>) -> Arc<Self> {
        Self::build(config, Some(log))
    }

    fn build(mut config: CacheConfig, log: Option<Arc<dyn RevocationLog>>) -> Arc<Self> {
        config.negative_ttl = config.negative_ttl.min(REVOCATION_BOUND);
        config.capacity = config.capacity.max(1);
        Arc::new(CacheState {
            config,
            seq: AtomicU64::new(1),
            floor: AtomicU64::new(0),
            revoked: RwLock::new(HashMap::new()),
            epoch: Instant::now(),
            last_poll: AtomicU64::new(0),
            log,
            cursor: tokio::sync::Mutex::new(Cursor::default()),
            wake: Arc::new(Notify::new()),
            poller: Mutex::new(None),
            failing: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            negative_hits: AtomicU64::new(0),
            poll_failures: AtomicU64::new(0),
            cleared: AtomicU64::new(0),
        })
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Lookups answered from memory (unknown keys among them), and those that
    /// went to the store.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Lookups answered from memory as unknown keys (counted in the hits).
    pub fn negative_hits(&self) -> u64 {
        self.negative_hits.load(Ordering::Relaxed)
    }

    /// Polls of the revocation log that failed.
    pub fn poll_failures(&self) -> u64 {
        self.poll_failures.load(Ordering::Relaxed)
    }

    /// How many times the whole cache was dropped.
    pub fn clears(&self) -> u64 {
        self.cleared.load(Ordering::Relaxed)
    }

    /// Whether entries older than [`REVOCATION_BOUND`] are trusted now: the
    /// last successful poll of the revocation log started less than the
    /// bound ago.
    pub fn is_fresh(&self) -> bool {
        self.is_fresh_at(Instant::now())
    }

    fn is_fresh_at(&self, now: Instant) -> bool {
        self.poll_age_at(now)
            .is_some_and(|age| age < REVOCATION_BOUND)
    }

    /// How long ago the last successful poll started; `None` before one.
    pub fn poll_age(&self) -> Option<Duration> {
        self.poll_age_at(Instant::now())
    }

    fn poll_age_at(&self, now: Instant) -> Option<Duration> {
        match self.last_poll.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(
                now.saturating_duration_since(self.epoch)
                    .saturating_sub(Duration::from_nanos(nanos)),
            ),
        }
    }

    /// The number a read takes before it asks the store.
    fn read_seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Whether an entry read at `read_at`, with sequence number `seq`, for
    /// `user_id` may be used now.
    fn usable(&self, read_at: Instant, seq: u64, user_id: Option<i64>, ttl: Duration) -> bool {
        // One clock read for both ages.
        let now = Instant::now();
        let age = now.saturating_duration_since(read_at);
        if age >= ttl || seq < self.floor.load(Ordering::Acquire) {
            return false;
        }
        if age >= REVOCATION_BOUND && !self.is_fresh_at(now) {
            return false;
        }
        match user_id {
            Some(user_id) => match self.revoked.read() {
                Ok(revoked) => revoked.get(&user_id).is_none_or(|(last, _)| seq >= *last),
                Err(_) => false,
            },
            None => true,
        }
    }

    /// Drops the cached credentials of `user_id`.
    fn revoke_user(&self, user_id: i64) {
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        match self.revoked.write() {
            Ok(mut revoked) => {
                revoked.insert(user_id, (seq, Instant::now()));
            }
            Err(_) => self.clear(),
        }
    }

    /// Drops every cached entry.
    pub fn clear(&self) {
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        self.floor.fetch_max(seq, Ordering::AcqRel);
        self.cleared.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads the revocation log from where the last read stopped and drops
    /// the cached credentials of the users it names; how many rows were new.
    /// Without a log, drops the whole cache. On error nothing changes, and
    /// entries older than the bound stop being trusted once the last
    /// successful poll is older than the bound.
    pub async fn sync(&self) -> Result<usize, StoreError> {
        let Some(log) = &self.log else {
            self.clear();
            return Ok(0);
        };
        let mut cursor = self.cursor.lock().await;
        let started = Instant::now();
        let previous = self.poll_age();
        let first = cursor.position.is_none();
        let (rows, next) = log.revocations_since(cursor.position).await?;
        if first {
            // Entries read before the first poll may predate rows older
            // than its position: start clean from here.
            self.clear();
        }
        let mut new = 0;
        let mut seen = HashSet::with_capacity(rows.len());
        for row in rows {
            if !cursor.seen.contains(&row.id) {
                self.revoke_user(row.user_id);
                new += 1;
            }
            seen.insert(row.id);
        }
        cursor.seen = seen;
        cursor.position = Some(next);
        if previous.is_some_and(|age| age >= LOG_RETENTION / 2) {
            // Rows this process did not read may have been purged.
            self.clear();
        }
        if let Ok(mut revoked) = self.revoked.write() {
            // An entry read before a revocation is dead a TTL after it.
            let ttl = self.config.ttl;
            revoked.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        let nanos = u64::try_from(started.duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        self.last_poll.fetch_max(nanos, Ordering::AcqRel);
        Ok(new)
    }

    /// Deletes the log's rows older than [`LOG_RETENTION`] (by the system
    /// clock, as the rows are dated: never a test's clock).
    pub async fn purge_log(&self) -> Result<u64, StoreError> {
        match &self.log {
            Some(log) => {
                log.purge_revocations(OffsetDateTime::now_utc() - LOG_RETENTION)
                    .await
            }
            None => Ok(0),
        }
    }

    /// After a local write that may revoke: read the log at once, or drop
    /// everything when it cannot be read.
    async fn after_write(&self) {
        if let Err(e) = self.sync().await {
            tracing::warn!(error = %e, "reading the revocation log failed: the credential cache is dropped");
            self.clear();
        }
    }

    /// One poll from the poller: failures are counted and logged once.
    async fn poll(&self) {
        match self.sync().await {
            Ok(_) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        "the revocation log is read again: the credential cache is trusted"
                    );
                }
            }
            Err(e) => {
                self.poll_failures.fetch_add(1, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %e,
                        "reading the revocation log failed: cached credentials older than 1s \
                         are not used until it is read again"
                    );
                }
            }
        }
    }

    /// Starts the poller on `runtime`: reads the log every poll interval, or
    /// sooner when woken, until [`CacheState::stop`] or the state is dropped.
    /// Calling it again does nothing; without a log it does nothing.
    pub fn start(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let Some(log) = self.log.clone() else {
            return;
        };
        let mut poller = match self.poller.lock() {
            Ok(poller) => poller,
            Err(poisoned) => poisoned.into_inner(),
        };
        if poller.is_some() {
            return;
        }
        let weak: Weak<CacheState> = Arc::downgrade(self);
        let wake = self.wake.clone();
        let interval = self.config.poll_interval;
        *poller = Some(runtime.spawn(async move {
            // Aborted with the poller (a dropped handle would not be).
            let _listener = AbortOnDrop(tokio::spawn(listen(log, wake.clone())));
            loop {
                let Some(state) = weak.upgrade() else {
                    break;
                };
                state.poll().await;
                drop(state);
                let _ = tokio::time::timeout(interval, wake.notified()).await;
            }
        }));
    }

    /// Stops the poller; entries older than the bound stop being trusted
    /// a bound after its last poll.
    pub fn stop(&self) {
        let poller = match self.poller.lock() {
            Ok(mut poller) => poller.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(poller) = poller {
            poller.abort();
        }
    }
}

/// A task that ends when this handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens for wake-ups from `log`, again a second after each failure.
async fn listen(log: Arc<dyn RevocationLog>, wake: Arc<Notify>) {
    let mut failing = false;
    loop {
        match log.listen(wake.clone()).await {
            Ok(()) => return,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "listening for revocations failed: polling only");
                    failing = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

struct Entry<T> {
    value: T,
    at: Instant,
    seq: u64,
}

impl<T: Clone> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            at: self.at,
            seq: self.seq,
        }
    }
}

/// Found credentials by key digest, and the digests found unknown.
struct Map<T> {
    found: quick_cache::sync::Cache<KeyDigest, Entry<T>>,
    unknown: quick_cache::sync::Cache<KeyDigest, (Instant, u64)>,
}

/// What a cached credential belongs to.
trait Owned {
    fn owner(&self) -> i64;
}

impl Owned for (TokenRecord, Arc<User>) {
    fn owner(&self) -> i64 {
        self.1.id
    }
}

impl Owned for (SessionRecord, Arc<User>) {
    fn owner(&self) -> i64 {
        self.1.id
    }
}

/// A cached answer.
enum Answer<T> {
    Found(T),
    Unknown,
}

impl<T: Clone + Owned> Map<T> {
    fn new(capacity: usize) -> Self {
        Map {
            found: quick_cache::sync::Cache::new(capacity),
            unknown: quick_cache::sync::Cache::new(capacity.div_ceil(4).max(1)),
        }
    }

    fn get(&self, state: &CacheState, key: &KeyDigest) -> Option<Answer<T>> {
        if let Some(entry) = self.found.get(key) {
            if state.usable(
                entry.at,
                entry.seq,
                Some(entry.value.owner()),
                state.config.ttl,
            ) {
                return Some(Answer::Found(entry.value));
            }
        }
        let (at, seq) = self.unknown.get(key)?;
        state
            .usable(at, seq, None, state.config.negative_ttl)
            .then_some(Answer::Unknown)
    }

    fn put(&self, key: KeyDigest, value: Option<T>, seq: u64) {
        let at = Instant::now();
        match value {
            Some(value) => {
                self.unknown.remove(&key);
                self.found.insert(key, Entry { value, at, seq });
            }
            None => {
                self.found.remove(&key);
                self.unknown.insert(key, (at, seq));
            }
        }
    }

    fn forget_unknown(&self, key: &KeyDigest) {
        self.unknown.remove(key);
    }

    /// Forgets every key remembered as unknown: after a write that can make
    /// a refused key valid again (re-dating a token), since unknown keys are
    /// not tied to a user that a revocation would name.
    fn forget_all_unknown(&self) {
        self.unknown.clear();
    }
}

/// A caching decorator over a store that is a user, token and session store.
pub struct Cached<S> {
    inner: Arc<S>,
    state: Arc<CacheState>,
    tokens: Map<(TokenRecord, Arc<User>)>,
    sessions: Map<(SessionRecord, Arc<User>)>,
    /// The users of cached credentials, one copy a user: a user's cached
    /// tokens and sessions share it (at a million tokens, the copies were a
    /// tenth of the process's memory). A copy is shared only while it
    /// equals what the store just read, so a stale one is never handed on;
    /// losing one to eviction costs only the sharing.
    users: quick_cache::sync::Cache<i64, Arc<User>>,
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
        let capacity = state.config.capacity;
        Cached {
            inner,
            state,
            tokens: Map::new(capacity),
            sessions: Map::new(capacity),
            users: quick_cache::sync::Cache::new(capacity),
        }
    }

    /// The shared copy of `user` (see [`Cached::users`]).
    fn share(&self, user: &User) -> Arc<User> {
        if let Some(shared) = self.users.get(&user.id) {
            if *shared == *user {
                return shared;
            }
        }
        let shared = Arc::new(user.clone());
        self.users.insert(user.id, shared.clone());
        shared
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

    fn negative_hit(&self) {
        self.state.hits.fetch_add(1, Ordering::Relaxed);
        self.state.negative_hits.fetch_add(1, Ordering::Relaxed);
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
        self.state.after_write().await;
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
        // A new key invalidates nothing but its own "unknown" entry (and a
        // login storm does not empty the cache).
        let digest = new.digest;
        let result = self.inner.create_token(new, max_per_user).await;
        self.tokens.forget_unknown(&digest);
        result
    }
    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        match self.tokens.get(&self.state, digest) {
            Some(Answer::Found((token, user))) if !token.is_expired(now) => {
                self.hit();
                return Ok(Some((token, User::clone(&user))));
            }
            Some(Answer::Unknown) => {
                self.negative_hit();
                return Ok(None);
            }
            _ => {}
        }
        self.miss();
        let seq = self.state.read_seq();
        let found = self.inner.find_token(digest, now).await?;
        let shared = found
            .as_ref()
            .map(|(token, user)| (token.clone(), self.share(user)));
        self.tokens.put(*digest, shared, seq);
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
        self.state.after_write().await;
        result
    }
    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let result = self.inner.delete_user_tokens(user_id, except).await;
        self.state.after_write().await;
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
        // A key refused as expired is remembered as unknown: extending its
        // expiry must take effect here at once, as every local write does.
        self.tokens.forget_all_unknown();
        self.state.after_write().await;
        result
    }
    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self.inner.set_token_authenticated_at(id, at).await;
        self.state.after_write().await;
        result
    }
    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.touch_token(id, at).await
    }
    async fn touch_tokens(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.touch_tokens(uses).await
    }
    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.purge_expired_tokens(now).await
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for Cached<S> {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        let digest = new.digest;
        let result = self.inner.create_session(new).await;
        self.sessions.forget_unknown(&digest);
        result
    }
    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        // A cached session that looks idle may only have a stale `last_seen`
        // (uses are recorded without invalidating): ask the store then.
        match self.sessions.get(&self.state, digest) {
            Some(Answer::Found((session, user))) if session.is_live(now, idle_timeout) => {
                self.hit();
                return Ok(Some((session, User::clone(&user))));
            }
            Some(Answer::Unknown) => {
                self.negative_hit();
                return Ok(None);
            }
            _ => {}
        }
        self.miss();
        let seq = self.state.read_seq();
        // The idle timeout is the caller's, per call: what is cached must not
        // depend on it. The store is asked without an idle limit (its answer
        // is then "no such live session" only for an unknown digest or a
        // session past its absolute expiry), and the caller's timeout is
        // applied here, as on a hit. Caching the store's `None` for an idle
        // session would refuse it to a caller with a longer timeout.
        let found = self.inner.find_session(digest, now, UNBOUNDED_IDLE).await?;
        let shared = found
            .as_ref()
            .map(|(session, user)| (session.clone(), self.share(user)));
        self.sessions.put(*digest, shared, seq);
        Ok(found.filter(|(session, _)| session.is_live(now, idle_timeout)))
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
        self.sessions.forget_unknown(new_digest);
        self.state.after_write().await;
        result
    }
    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        let result = self.inner.set_session_data(id, data).await;
        self.state.after_write().await;
        result
    }
    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.touch_session(id, at).await
    }
    async fn touch_sessions(&self, uses: &[(i64, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.touch_sessions(uses).await
    }
    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        self.inner.session_owner(id).await
    }
    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        let result = self.inner.delete_session(id, owner).await;
        self.state.after_write().await;
        result
    }
    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let result = self.inner.delete_user_sessions(user_id, except).await;
        self.state.after_write().await;
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
        self.state.after_write().await;
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
        self.state.after_write().await;
        result
    }
    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let digest = new.digest;
        let result = self
            .inner
            .create_token_audited(new, max_per_user, event)
            .await;
        self.tokens.forget_unknown(&digest);
        result
    }
    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let result = self.inner.delete_token_audited(id, owner, event).await;
        self.state.after_write().await;
        result
    }
    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let result = self.inner.delete_session_audited(id, owner, event).await;
        self.state.after_write().await;
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
        self.state.after_write().await;
        result
    }
    async fn record_login(&self, login: LoginWrite) -> Result<LoginWritten, StoreError> {
        // A new token and a login time change no cached answer but the new
        // key's "unknown" entry.
        let digest = login.token.as_ref().map(|token| token.new.digest);
        let result = self.inner.record_login(login).await;
        if let Some(digest) = digest {
            self.tokens.forget_unknown(&digest);
        }
        result
    }
    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError> {
        // The old key's cached entry has no grace end: it must not outlive
        // the grace period, so it is dropped.
        let digest = rotation.digest;
        let result = self.inner.rotate_token_audited(rotation, event).await;
        self.tokens.forget_unknown(&digest);
        self.state.after_write().await;
        result
    }
    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError> {
        let result = self.inner.revoke_token_family_audited(family, event).await;
        self.state.after_write().await;
        result
    }
}

/// The stores of `store`, with tokens, sessions and users behind one cache
/// kept honest by the store's revocation log. Start its poller with
/// [`CacheState::start`] (`Tessera::start_background` does, through
/// [`crate::Stores::cache`]).
pub fn with_cache<S>(store: S, config: CacheConfig) -> (crate::Stores, Arc<CacheState>)
where
    S: UserStore
        + TokenStore
        + SessionStore
        + crate::audit::AuditStore
        + AuditedWrites
        + crate::throttle::LoginUnlockStore
        + crate::store::Health
        + RevocationLog
        + Clone,
{
    let state = CacheState::with_log(config, Arc::new(store.clone()));
    let mut stores = crate::Stores::from_one(store.clone());
    let cached = Arc::new(Cached::new(Arc::new(store), state.clone()));
    stores.users = cached.clone();
    stores.tokens = cached.clone();
    stores.sessions = cached.clone();
    stores.audited = cached;
    stores.cache = Some(state.clone());
    (stores, state)
}
