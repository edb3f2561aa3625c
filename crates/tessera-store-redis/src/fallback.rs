//! The counters in Redis, falling back to other counter stores while Redis
//! is down ([`WithFallback`]).

use crate::RedisCounterStore;
use async_trait::async_trait;
use redis::{ErrorKind, RedisError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_core::store::{Health, StoreError};
use tessera_core::throttle::{
    AlertWindowStore, Decision, FailureLimit, Lockout, LoginAttemptStore, LoginRecord, Rate,
    ThrottleStore,
};
use time::OffsetDateTime;

/// How long after Redis failed a request tries it again (one request: the
/// others keep using the fallback meanwhile).
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Whether `error`, from a [`RedisCounterStore`], says Redis itself cannot be
/// used now (unreachable, connection dropped, timed out, still loading its
/// data), as opposed to Redis answering something unexpected (a key holding
/// another type, a script error): the first is an outage the counters fall
/// back from, the second stays a `503`.
pub fn is_outage(error: &StoreError) -> bool {
    let StoreError::Unavailable(source) = error else {
        return false;
    };
    match source.downcast_ref::<RedisError>() {
        Some(redis) => {
            redis.is_io_error()
                || redis.is_unrecoverable_error()
                || redis.kind() == ErrorKind::BusyLoadingError
        }
        // A PING answered with something else than PONG.
        None => false,
    }
}

/// The fallback counter stores: another process-shared store (PostgreSQL's)
/// or this process's memory.
#[derive(Clone)]
pub struct Fallback {
    /// `"postgres"` or `"memory"`, as `/readyz` reports it.
    pub name: &'static str,
    /// The throttles' windows.
    pub throttle: Arc<dyn ThrottleStore>,
    /// Login failure records.
    pub login_attempts: Arc<dyn LoginAttemptStore>,
    /// The security-alert windows.
    pub alert_windows: Arc<dyn AlertWindowStore>,
}

/// The counters in Redis, and, while Redis is down, in the fallback.
///
/// - Each check goes to Redis. When Redis fails with an outage
///   ([`is_outage`]), the check is made on the fallback instead, and Redis
///   counts as down: one warning is logged (not one per request), and checks
///   go straight to the fallback, except one every [`RETRY_EVERY`], which
///   tries Redis again. The first that succeeds brings every check back to
///   Redis, with one line in the log.
/// - [`WithFallback::check`] (for `/readyz`) pings Redis, marking it down or
///   up as the answer says; [`WithFallback::backend`] says where the
///   counters are now.
/// - An answer of an unexpected type is not an outage: it is returned as
///   [`StoreError::Unavailable`] (a `503`), as without a fallback.
///
/// While Redis is down the counts start afresh in the fallback (and the
/// counts made there are not carried back to Redis): a window or a failure
/// count can restart once on each switch. The lockouts Redis holds apply
/// again when it returns.
#[derive(Clone)]
pub struct WithFallback {
    redis: RedisCounterStore,
    fallback: Fallback,
    state: Arc<State>,
}

struct State {
    down: AtomicBool,
    /// Milliseconds since `start` after which Redis may be tried again.
    retry_at: AtomicU64,
    start: Instant,
}

impl std::fmt::Debug for WithFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithFallback")
            .field("redis", &self.redis)
            .field("fallback", &self.fallback.name)
            .field("down", &self.is_down())
            .finish()
    }
}

impl WithFallback {
    /// The counters in `redis`, falling back to `fallback`.
    pub fn new(redis: RedisCounterStore, fallback: Fallback) -> Self {
        WithFallback {
            redis,
            fallback,
            state: Arc::new(State {
                down: AtomicBool::new(false),
                retry_at: AtomicU64::new(0),
                start: Instant::now(),
            }),
        }
    }

    /// The Redis store itself.
    pub fn redis(&self) -> &RedisCounterStore {
        &self.redis
    }

    /// Whether Redis counts as down (the checks go to the fallback).
    pub fn is_down(&self) -> bool {
        self.state.down.load(Ordering::Acquire)
    }

    /// Where the counters are now: `"redis"`, or the fallback's name.
    pub fn backend(&self) -> &'static str {
        if self.is_down() {
            self.fallback.name
        } else {
            "redis"
        }
    }

    /// Pings Redis, waiting at most `within`, and marks it up or down as the
    /// answer says (no answer in time is down); whether it is up.
    pub async fn check(&self, within: Duration) -> bool {
        let answer = match tokio::time::timeout(within, self.redis.ping()).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Unavailable(
                format!("no answer from Redis within {} ms", within.as_millis()).into(),
            )),
        };
        match answer {
            Ok(()) => {
                self.mark_up();
                true
            }
            Err(e) => {
                self.mark_down(&e);
                false
            }
        }
    }

    /// The fallback's name.
    pub fn fallback_name(&self) -> &'static str {
        self.fallback.name
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.state.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this check should go to Redis: always while it is up; while
    /// it is down, for one check every [`RETRY_EVERY`].
    fn try_redis(&self) -> bool {
        if !self.is_down() {
            return true;
        }
        let now = self.now_ms();
        let at = self.state.retry_at.load(Ordering::Acquire);
        let next = now + u64::try_from(RETRY_EVERY.as_millis()).unwrap_or(1000);
        now >= at
            && self
                .state
                .retry_at
                .compare_exchange(at, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    fn mark_down(&self, error: &StoreError) {
        let next = self.now_ms() + u64::try_from(RETRY_EVERY.as_millis()).unwrap_or(1000);
        self.state.retry_at.store(next, Ordering::Release);
        if !self.state.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                error = %error,
                fallback = self.fallback.name,
                "Redis is unavailable: the throttle, login-protection and alert counters \
                 fall back until it answers again"
            );
        }
    }

    fn mark_up(&self) {
        if self.state.down.swap(false, Ordering::AcqRel) {
            tracing::info!("Redis answers again: the counters are back in Redis");
        }
    }

    /// Runs `check` on Redis when it should, and on the fallback when Redis
    /// is down or fails with an outage.
    async fn run<T, R, F>(&self, redis: R, fallback: F) -> Result<T, StoreError>
    where
        R: std::future::Future<Output = Result<T, StoreError>>,
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        if self.try_redis() {
            match redis.await {
                Ok(answer) => {
                    self.mark_up();
                    return Ok(answer);
                }
                Err(e) if is_outage(&e) => self.mark_down(&e),
                Err(e) => return Err(e),
            }
        }
        fallback.await
    }
}

#[async_trait]
impl Health for WithFallback {
    /// [`WithFallback::check`] with the connection's own timeouts: never an
    /// error, the counters work either way.
    async fn ping(&self) -> Result<(), StoreError> {
        self.check(Duration::from_secs(5)).await;
        Ok(())
    }
}

#[async_trait]
impl ThrottleStore for WithFallback {
    async fn hit(
        &self,
        key: &str,
        rate: Rate,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError> {
        self.run(
            self.redis.hit(key, rate, now),
            self.fallback.throttle.hit(key, rate, now),
        )
        .await
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.run(
            ThrottleStore::reset(&self.redis, key),
            self.fallback.throttle.reset(key),
        )
        .await
    }
}

#[async_trait]
impl LoginAttemptStore for WithFallback {
    async fn live_record(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginRecord>, StoreError> {
        self.run(
            self.redis.live_record(key, now),
            self.fallback.login_attempts.live_record(key, now),
        )
        .await
    }

    async fn live_records(
        &self,
        keys: &[&str],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<LoginRecord>>, StoreError> {
        self.run(
            self.redis.live_records(keys, now),
            self.fallback.login_attempts.live_records(keys, now),
        )
        .await
    }

    async fn record_failure(
        &self,
        key: &str,
        limit: FailureLimit,
        now: OffsetDateTime,
    ) -> Result<Option<Lockout>, StoreError> {
        self.run(
            self.redis.record_failure(key, limit, now),
            self.fallback.login_attempts.record_failure(key, limit, now),
        )
        .await
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.run(
            LoginAttemptStore::reset(&self.redis, key),
            self.fallback.login_attempts.reset(key),
        )
        .await
    }
}

#[async_trait]
impl AlertWindowStore for WithFallback {
    async fn note(
        &self,
        key: &str,
        value: &str,
        threshold: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError> {
        self.run(
            self.redis.note(key, value, threshold, window, now),
            self.fallback
                .alert_windows
                .note(key, value, threshold, window, now),
        )
        .await
    }
}
