//! Login protection: failed logins counted per username and per client
//! address, with an exponential back-off.
//!
//! The three password-checking endpoints (`/api-token-auth/`, `/auth/login`,
//! `/auth/reauth`) share one [`LoginGuard`]:
//!
//! 1. [`check`](LoginGuard::check) *before* verifying the password. A
//!    [`Admission::Refused`] is answered with the throttled `429` and
//!    `Retry-After`, even when the password would have been right, and the
//!    attempt is not counted: the caller does not call `record_failure` for it
//!    (SECURITY B4, Keycloak's `testWait`: time spent locked adds no failures).
//! 2. [`record_failure`](LoginGuard::record_failure) for every admitted attempt
//!    whose password was wrong (or whose user does not exist: the guard never
//!    looks a user up, so an unknown username is counted exactly like a known
//!    one, SECURITY B2). When it returns [`LockoutStarted`], the caller writes
//!    a `lockout` audit event.
//! 3. [`record_success`](LoginGuard::record_success) when the password was
//!    right: the username's count and lock are forgotten; the address's are
//!    not (one address guessing many accounts stays counted). A caller that
//!    used [`check_attempt`](LoginGuard::check_attempt) instead of `check`
//!    skips it when [`Attempt::counted`] says the username had no failures,
//!    which saves a login a write to the counter store.
//!
//! `check` has a third answer, [`Admission::IfRight`], for a username whose
//! lock has grown past `max_lockout` (see [Locks that cost the
//! attacker](#locks-that-cost-the-attacker)): check the password, let a
//! right one in without recording a success, and count and refuse a wrong
//! one.
//!
//! ```
//! use tessera_core::throttle::{LoginGuard, LoginPolicy};
//! use std::net::IpAddr;
//! use time::macros::datetime;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let guard = LoginGuard::in_memory(LoginPolicy::default());
//! let ip: IpAddr = "192.0.2.1".parse().unwrap();
//! let now = datetime!(2024-01-01 00:00:00 UTC);
//! for _ in 0..4 {
//!     assert!(guard.check("alice", ip, now).await.unwrap().is_allowed());
//!     // ...the password is wrong:
//!     assert_eq!(guard.record_failure("alice", ip, now).await.unwrap(), None);
//! }
//! let lockout = guard.record_failure("alice", ip, now).await.unwrap();
//! assert!(lockout.is_some(), "the fifth failure locks: write a `lockout` audit event");
//! // Any spelling, any address, even with the right password: 429, Retry-After: 30.
//! let refused = guard.check(" Alice", "198.51.100.7".parse::<IpAddr>().unwrap(), now).await.unwrap();
//! assert_eq!(refused.retry_after_secs(), Some(30));
//! # });
//! ```
//!
//! # The rule, per key
//!
//! A key (a username, or an address) has a limit `L` of failures in a
//! `window` (defaults: 5 per username, 100 per address, 15 minutes). The
//! first failure opens the window. The `L`th failure in it locks the key for
//! the first back-off (30 s); every failure counted after that, which can
//! only be the attempt admitted when a lock has ended, locks it again for
//! twice the previous back-off (60 s, 120 s, ...), up to a cap: a day for a
//! username (`max_backoff`), `max_lockout` (15 minutes) for an address. A
//! lock keeps the key's count alive until one `window` after the lock ends;
//! after that quiet window the key starts again from zero.
//!
//! With the defaults, an attacker gets 5 guesses, then 1 every 30 s, 60 s,
//! 120 s, ..., a day, per username, and 100 per address (then one every
//! 30 s, ..., 15 minutes).
//!
//! # Locks that cost the attacker
//!
//! A username's lock refuses everyone, so whoever can guess can keep an
//! account closed (SECURITY B3: lockout must not become a permanent denial of
//! service). Once the username's back-off exceeds `max_lockout` (15 minutes
//! by default; the back-off is the length of its current lock), the lock no
//! longer binds an address that has not failed for that username: from such
//! an address the password is checked ([`Admission::IfRight`]); the right one
//! is let in, a wrong one is counted (against the username, the address and
//! the pair) and refused with the `429` of the lock, as from anywhere else.
//! The owner can then still log in, while the guesser pays for every guess
//! past the lock with an address that has not been used against that
//! username, and the lock itself keeps doubling for everyone else. A login
//! let in this way does not reset the username's count: the failures came
//! from elsewhere, and forgetting them would hand their author a fresh
//! allowance each time the owner logs in. An address's own lock is never
//! passed this way.
//!
//! "Has failed for that username" is a third key per failure, the pair
//! (username, address), kept in the same bounded store as the others: fixed
//! size (a 128-bit digest and a record) and remembered for `max_backoff`
//! after the pair's last failure, so an address can make at most one guess
//! per `max_backoff` past a username's lock. When the store is full, pairs
//! with a single failure are among the first entries evicted (see
//! [In-process stores](crate::throttle#in-process-stores)); an evicted pair
//! gives its address one more guess, and evicting pairs takes a flood of
//! failed logins that each cost a password verification and count against
//! their own address.
//!
//! # Unlocks from other processes
//!
//! [`unlock_username`](LoginGuard::unlock_username) clears this process's
//! counters at once. An unlock made elsewhere (by `tessera unlock`, or by
//! another server process on the same database) is a record in a
//! [`LoginUnlockStore`]: when a guard [`with_unlocks`](LoginGuard::with_unlocks)
//! finds a username locked, or is about to lock it, it reads the username's
//! latest unlock; an unlock made since the username's count began clears the
//! count. So unlocked usernames, and usernames below their limit, cost the
//! hot path nothing, and an unlock reaches every process at the next attempt
//! that would be refused or would lock. The price: while a username is
//! locked, each attempt on it costs one indexed read of the store (no
//! password is hashed for it). Failures counted between an unlock
//! and the moment this process reads it (fewer than the limit, or none) are
//! forgotten with it.
//!
//! # Keys
//!
//! - Username: trimmed, lower-cased (`str::to_lowercase`, after the NFKC
//!   normalisation callers already apply), then SHA-256: `Alice`, `alice` and
//!   ` ALICE ` share one counter (SECURITY B5), even though Django compares
//!   usernames case-sensitively, so an attacker cannot multiply the limit by
//!   respelling a name. Hashing keeps the key a fixed size however long the
//!   submitted name, and keeps usernames out of the counter store.
//! - Address: an IPv4 address (or an IPv4-mapped IPv6 one) as such; an IPv6
//!   address by its /64 network, the smallest block an ISP hands a customer, so
//!   one client cannot take a fresh counter from each of its 2^64 addresses.
//!
//! # Concurrency
//!
//! Each failure is counted atomically by the store. Attempts admitted by
//! `check` before a lock began may still be failing when it begins (password
//! hashing takes a while); each such failure is counted and lengthens the
//! lock as a failure after a lock would, so firing many guesses at once buys
//! no more than firing them one after another.

use super::{duration_micros, wait_from_micros};
use crate::audit::NewAuditEvent;
use crate::clock::{from_micros, to_micros};
use crate::error::StoreError;
use async_trait::async_trait;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The settings of login protection (`[login_protection]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures per username in `window` before the back-off starts (5). Zero
    /// is taken as one.
    pub max_failures: u32,
    /// Failures per client address in `window` before the back-off starts
    /// (100). Zero is taken as one.
    pub max_failures_per_address: u32,
    /// The counting window (15 minutes).
    pub window: Duration,
    /// The first lock's length (30 s); each further failure doubles it.
    pub first_backoff: Duration,
    /// The longest lock of a username (a day), and how long an address that
    /// failed for a username is remembered as such.
    pub max_backoff: Duration,
    /// The longest lock that binds everyone (15 minutes): an address's lock
    /// is capped at it, and past it a username's lock no longer binds an
    /// address that has not failed for that username (see [Locks that cost
    /// the attacker](self#locks-that-cost-the-attacker)).
    pub max_lockout: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            max_failures: 5,
            max_failures_per_address: 100,
            window: Duration::from_secs(15 * 60),
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(24 * 3600),
            max_lockout: Duration::from_secs(15 * 60),
        }
    }
}

impl LoginPolicy {
    /// The rule for a username's key.
    pub fn username_limit(&self) -> FailureLimit {
        FailureLimit {
            max_failures: self.max_failures,
            window: self.window,
            first_backoff: self.first_backoff,
            max_backoff: self.max_backoff,
        }
    }

    /// The rule for an address's key: its locks bind everyone behind the
    /// address, so they stop at `max_lockout`.
    pub fn address_limit(&self) -> FailureLimit {
        FailureLimit {
            max_failures: self.max_failures_per_address,
            max_backoff: self.max_lockout.min(self.max_backoff),
            ..self.username_limit()
        }
    }

    /// The rule for a (username, address) pair's key: its first failure
    /// "locks" it for `max_backoff`, which is how the pair is remembered as
    /// having failed.
    pub fn pair_limit(&self) -> FailureLimit {
        FailureLimit {
            max_failures: 1,
            window: self.window,
            first_backoff: self.max_backoff,
            max_backoff: self.max_backoff,
        }
    }
}

/// What [`LoginGuard::check`] decided about an attempt, before its password
/// is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password as usual.
    Allowed,
    /// Refuse with `429`; the attempt is not counted.
    Refused {
        /// Until the later lock ends: whole seconds, rounded up, at least one.
        wait: Duration,
    },
    /// The username alone is locked, for longer than `max_lockout`, and this
    /// address has not failed for it: check the password; let a right one
    /// in without [`record_success`](LoginGuard::record_success); count a
    /// wrong one with [`record_failure`](LoginGuard::record_failure) and
    /// refuse it with `429` like the lock.
    IfRight {
        /// Until the username's lock ends, as for `Refused`.
        wait: Duration,
    },
}

impl Admission {
    /// Whether the attempt is checked as usual.
    pub fn is_allowed(self) -> bool {
        matches!(self, Admission::Allowed)
    }

    /// For a refusal, the `N` of `Retry-After: N`.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Admission::Refused { wait } => Some(wait.as_secs()),
            Admission::Allowed | Admission::IfRight { .. } => None,
        }
    }
}

/// What [`LoginGuard::check_attempt`] found before a password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Whether and how the attempt may be checked ([`LoginGuard::check`]'s
    /// answer).
    pub admission: Admission,
    /// Whether the username had a live record of failures. A right password
    /// resets it ([`LoginGuard::record_success`]) only then: with none, there
    /// is nothing to forget, and the login saves a write to the counter
    /// store. A failure counted by a concurrent attempt while this one's
    /// password was hashed is then kept, as if it had come just after the
    /// login (which of the two came first is a race either way).
    pub counted: bool,
}

/// The rule [`LoginRecord::fail`] applies to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures in `window` that start the back-off; zero is taken as one.
    pub max_failures: u32,
    /// The counting window.
    pub window: Duration,
    /// The first lock's length.
    pub first_backoff: Duration,
    /// The longest lock.
    pub max_backoff: Duration,
}

impl FailureLimit {
    /// The length of the lock that follows `previous_locks` locks:
    /// `first_backoff × 2^previous_locks`, at most `max_backoff`.
    pub fn backoff(&self, previous_locks: u32) -> Duration {
        2u32.checked_pow(previous_locks)
            .and_then(|factor| self.first_backoff.checked_mul(factor))
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }
}

/// A lock that has just begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Failures counted in the key's window, this one included.
    pub failures: u32,
    /// The lock's length.
    pub duration: Duration,
    /// When it ends: attempts are admitted again from this instant on.
    pub until: OffsetDateTime,
}

/// What [`LoginGuard::record_failure`] reports when a failure began a lock,
/// for the `lockout` audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutStarted {
    /// The username's lock, when this failure began one.
    pub username: Option<Lockout>,
    /// The address's lock, when this failure began one.
    pub address: Option<Lockout>,
}

impl LockoutStarted {
    /// The later end of the locks that began.
    pub fn until(&self) -> Option<OffsetDateTime> {
        self.username
            .map(|l| l.until)
            .max(self.address.map(|l| l.until))
    }
}

/// One key's failures and lock: the state behind [`LoginAttemptStore`], and
/// the rule every backend applies (a SQL or Redis store keeps these four
/// numbers and runs [`LoginRecord::fail`], or its equivalent, atomically).
///
/// Times are microseconds since the Unix epoch ([`to_micros`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRecord {
    /// Failures counted in the current window.
    pub failures: u32,
    /// Locks begun in the current window: the next lock lasts
    /// `first_backoff × 2^locks`.
    pub locks: u32,
    /// When the window ends; from then on the record is forgotten.
    pub window_ends: i64,
    /// When the current (or last) lock ends.
    pub locked_until: i64,
    /// When the count began: the failure that opened the window (an unlock
    /// made since then clears the record).
    pub since: i64,
}

impl Default for LoginRecord {
    /// A key with no failures.
    fn default() -> Self {
        LoginRecord {
            failures: 0,
            locks: 0,
            window_ends: i64::MIN,
            locked_until: i64::MIN,
            since: i64::MIN,
        }
    }
}

impl LoginRecord {
    /// Whether the record still counts at `now`; a record that does not is
    /// the same as none.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        to_micros(now) < self.window_ends
    }

    /// When the key is locked at `now`, the end of the lock.
    pub fn locked_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let now = to_micros(now);
        (now < self.window_ends && now < self.locked_until).then(|| from_micros(self.locked_until))
    }

    /// The length of the current (or last) lock under `limit`: the key's
    /// back-off; `None` before its first lock.
    pub fn backoff(&self, limit: &FailureLimit) -> Option<Duration> {
        self.locks.checked_sub(1).map(|n| limit.backoff(n))
    }

    /// Counts one failure at `now` under `limit`. Returns the lock it began,
    /// if any; a failure while the key is already locked (an attempt
    /// admitted before the lock began) lengthens the lock without beginning
    /// a new one.
    pub fn fail(&mut self, limit: &FailureLimit, now: OffsetDateTime) -> Option<Lockout> {
        let now_us = to_micros(now);
        let window = duration_micros(limit.window);
        if now_us >= self.window_ends {
            *self = LoginRecord {
                window_ends: now_us.saturating_add(window),
                since: now_us,
                ..LoginRecord::default()
            };
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures < limit.max_failures.max(1) {
            return None;
        }
        let already_locked = now_us < self.locked_until;
        let duration = limit.backoff(self.locks);
        self.locks = self.locks.saturating_add(1);
        self.locked_until = now_us
            .saturating_add(duration_micros(duration))
            .max(self.locked_until);
        self.window_ends = self
            .window_ends
            .max(self.locked_until.saturating_add(window));
        (!already_locked).then(|| Lockout {
            failures: self.failures,
            duration,
            until: from_micros(self.locked_until),
        })
    }
}

/// Where login failures are counted, by key (see [`LoginGuard`] for the keys).
///
/// Contract, kept by every implementation:
/// - [`record_failure`](Self::record_failure) applies [`LoginRecord::fail`]
///   atomically: concurrent failures are each counted once;
/// - a record is forgotten once it is no longer live
///   ([`LoginRecord::is_live`]), and the state per key is a fixed size;
/// - a store that cannot be reached answers [`StoreError::Unavailable`], and
///   the caller refuses the login (fail closed).
#[async_trait]
pub trait LoginAttemptStore: Send + Sync + 'static {
    /// The key's record, when it is live at `now`.
    async fn live_record(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginRecord>, StoreError>;

    /// The live records of several keys at `now`, one entry a key in the
    /// order of `keys`: a login reads its username's and its address's
    /// together, in one round trip where the store can (the default reads
    /// them one by one). An answer of another length is an error to
    /// [`LoginGuard::check`], which then refuses the login (fail closed).
    async fn live_records(
        &self,
        keys: &[&str],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<LoginRecord>>, StoreError> {
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            records.push(self.live_record(key, now).await?);
        }
        Ok(records)
    }

    /// When `key` is locked at `now`, the end of the lock.
    async fn locked_until(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self
            .live_record(key, now)
            .await?
            .and_then(|record| record.locked_until(now)))
    }

    /// Counts one failure against `key` under `limit`; the lock it began, if any.
    async fn record_failure(
        &self,
        key: &str,
        limit: FailureLimit,
        now: OffsetDateTime,
    ) -> Result<Option<Lockout>, StoreError>;

    /// Forgets the key's failures and lock.
    async fn reset(&self, key: &str) -> Result<(), StoreError>;
}

/// Unlocks of usernames made by an administrator, kept where every process
/// sees them (the database), so that an unlock made by `tessera unlock` or by
/// another server process reaches this one's counters (see [Unlocks from
/// other processes](self#unlocks-from-other-processes)).
///
/// Contract: one record per username key (the latest unlock replaces any
/// earlier one), and [`record_unlock`](Self::record_unlock) writes the unlock
/// and its audit event atomically, both or neither.
#[async_trait]
pub trait LoginUnlockStore: Send + Sync + 'static {
    /// The time of the latest unlock of the username whose
    /// [`username_key`] is `key`.
    async fn last_unlock(&self, key: &str) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Records an unlock of `key` at `at`, replacing any earlier one, with
    /// `event` (sanitised, as
    /// [`AuditStore::append`](crate::audit::AuditStore::append) does) in the
    /// same transaction.
    async fn record_unlock(
        &self,
        key: &str,
        at: OffsetDateTime,
        event: NewAuditEvent,
    ) -> Result<(), StoreError>;
}

/// Login protection over a [`LoginAttemptStore`]; see the [module docs](self).
#[derive(Clone)]
pub struct LoginGuard {
    store: Arc<dyn LoginAttemptStore>,
    policy: LoginPolicy,
    unlocks: Option<Arc<dyn LoginUnlockStore>>,
}

impl fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginGuard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LoginGuard {
    /// A guard counting in `store` under `policy`.
    pub fn new(store: Arc<dyn LoginAttemptStore>, policy: LoginPolicy) -> Self {
        LoginGuard {
            store,
            policy,
            unlocks: None,
        }
    }

    /// Also applies the unlocks recorded in `unlocks` (by other processes),
    /// when a username is found locked or is about to be.
    pub fn with_unlocks(mut self, unlocks: Arc<dyn LoginUnlockStore>) -> Self {
        self.unlocks = Some(unlocks);
        self
    }

    /// A guard counting in a [`MemoryLoginAttemptStore`](super::MemoryLoginAttemptStore)
    /// of the default capacity.
    pub fn in_memory(policy: LoginPolicy) -> Self {
        LoginGuard::new(Arc::new(super::MemoryLoginAttemptStore::new()), policy)
    }

    /// The policy.
    pub fn policy(&self) -> &LoginPolicy {
        &self.policy
    }

    /// Whether a login attempt for `username` from `ip` may be checked at
    /// all; call it before verifying the password. Refused when the username
    /// or the address is locked, with the wait until the later lock ends
    /// (whole seconds, rounded up, at least one); [`Admission::IfRight`]
    /// when only the username is locked, past `max_lockout`, and this
    /// address has not failed for it.
    ///
    /// `ip` is `None` when the client's address is unknown (an application
    /// served without the peer's address): then only the username's count
    /// applies, never one address shared by every such client, and a
    /// username locked past `max_lockout` stays [`Admission::Refused`] (no
    /// address is known to have spared it).
    pub async fn check(
        &self,
        username: &str,
        ip: impl Into<Option<IpAddr>>,
        now: OffsetDateTime,
    ) -> Result<Admission, StoreError> {
        Ok(self.check_attempt(username, ip, now).await?.admission)
    }

    /// [`check`](Self::check), and whether the username had failures
    /// counted: a right password then calls
    /// [`record_success`](Self::record_success) only if it had (see
    /// [`Attempt::counted`]). The username's and the address's records are
    /// read together ([`LoginAttemptStore::live_records`]).
    pub async fn check_attempt(
        &self,
        username: &str,
        ip: impl Into<Option<IpAddr>>,
        now: OffsetDateTime,
    ) -> Result<Attempt, StoreError> {
        let ip: Option<IpAddr> = ip.into();
        let key = username_key(username);
        let (mut record, address) = match ip {
            Some(ip) => {
                let address = address_key(ip);
                let records = self.store.live_records(&[&key, &address], now).await?;
                // A store that answered for fewer keys than asked must not
                // let an address's lock go unread (fail closed).
                let [username, address] = <[_; 2]>::try_from(records).map_err(|records| {
                    StoreError::Other(
                        format!("live_records answered {} records for 2 keys", records.len())
                            .into(),
                    )
                })?;
                (username, address)
            }
            None => (self.store.live_record(&key, now).await?, None),
        };
        if let Some(r) = record.filter(|r| r.locked_until(now).is_some()) {
            if self.unlocked_since(&key, &r).await? {
                record = None;
            }
        }
        let admission = self.admission(username, ip, record, address, now).await?;
        Ok(Attempt {
            admission,
            counted: record.is_some(),
        })
    }

    async fn admission(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        record: Option<LoginRecord>,
        address: Option<LoginRecord>,
        now: OffsetDateTime,
    ) -> Result<Admission, StoreError> {
        let by_username = record.and_then(|r| r.locked_until(now));
        let by_address = address.and_then(|r| r.locked_until(now));
        let wait = |until: OffsetDateTime| {
            wait_from_micros(to_micros(until).saturating_sub(to_micros(now)))
        };
        let (Some(until), None) = (by_username, by_address) else {
            return Ok(match by_username.max(by_address) {
                None => Admission::Allowed,
                Some(until) => Admission::Refused { wait: wait(until) },
            });
        };
        let long = record
            .and_then(|r| r.backoff(&self.policy.username_limit()))
            .is_some_and(|backoff| backoff > self.policy.max_lockout);
        if let (true, Some(ip)) = (long, ip) {
            if self
                .store
                .locked_until(&pair_key(username, ip), now)
                .await?
                .is_none()
            {
                return Ok(Admission::IfRight { wait: wait(until) });
            }
        }
        Ok(Admission::Refused { wait: wait(until) })
    }

    /// Counts a failed attempt that [`check`](Self::check) admitted, against
    /// the username, the address and the pair of them. Never call it for an
    /// attempt `check` refused. Returns the locks this failure began, for
    /// the `lockout` audit event. With no address (`None`), only the
    /// username's count is kept.
    pub async fn record_failure(
        &self,
        username: &str,
        ip: impl Into<Option<IpAddr>>,
        now: OffsetDateTime,
    ) -> Result<Option<LockoutStarted>, StoreError> {
        let ip: Option<IpAddr> = ip.into();
        let key = username_key(username);
        let limit = self.policy.username_limit();
        let mut by_username = self.store.record_failure(&key, limit, now).await?;
        if by_username.is_some() {
            // About to lock: an unlock made elsewhere since the count began
            // clears it first, and this failure is counted afresh.
            let record = self.store.live_record(&key, now).await?;
            if let Some(record) = record {
                if self.unlocked_since(&key, &record).await? {
                    by_username = self.store.record_failure(&key, limit, now).await?;
                }
            }
        }
        let Some(ip) = ip else {
            return Ok(by_username.map(|lock| LockoutStarted {
                username: Some(lock),
                address: None,
            }));
        };
        let address = self
            .store
            .record_failure(&address_key(ip), self.policy.address_limit(), now)
            .await?;
        self.store
            .record_failure(&pair_key(username, ip), self.policy.pair_limit(), now)
            .await?;
        Ok(
            (by_username.is_some() || address.is_some()).then_some(LockoutStarted {
                username: by_username,
                address,
            }),
        )
    }

    /// Whether an unlock recorded in the [`LoginUnlockStore`] was made since
    /// `record`'s count began; if so, forgets the key's record here too.
    async fn unlocked_since(&self, key: &str, record: &LoginRecord) -> Result<bool, StoreError> {
        let Some(unlocks) = &self.unlocks else {
            return Ok(false);
        };
        let unlocked = unlocks
            .last_unlock(key)
            .await?
            .is_some_and(|at| to_micros(at) >= record.since);
        if unlocked {
            self.store.reset(key).await?;
        }
        Ok(unlocked)
    }

    /// A successful login: forgets the username's failures and lock (not the
    /// address's).
    pub async fn record_success(&self, username: &str) -> Result<(), StoreError> {
        self.store.reset(&username_key(username)).await
    }

    /// An administrator's unlock of a username (SECURITY B3), in this
    /// process; other processes learn of it from a [`LoginUnlockStore`]
    /// record (see [Unlocks from other processes](self#unlocks-from-other-processes)).
    pub async fn unlock_username(&self, username: &str) -> Result<(), StoreError> {
        self.store.reset(&username_key(username)).await
    }

    /// An administrator's unlock of a client address.
    pub async fn unlock_address(&self, ip: IpAddr) -> Result<(), StoreError> {
        self.store.reset(&address_key(ip)).await
    }
}

/// The store key of a username: `login:u:` and the unpadded base64url
/// SHA-256 of the username trimmed and lower-cased.
pub fn username_key(username: &str) -> String {
    let canonical = username.trim().to_lowercase();
    let digest = Sha256::digest(canonical.as_bytes());
    let mut key = String::from("login:u:");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(digest, &mut key);
    key
}

/// The store key of a (username, address) pair, remembering that the address
/// failed for the username: `login:p:` and the unpadded base64url SHA-256 of
/// the [`username_key`] and the [`address_key`].
pub fn pair_key(username: &str, ip: IpAddr) -> String {
    let mut hasher = Sha256::new();
    hasher.update(username_key(username).as_bytes());
    hasher.update(b"\n");
    hasher.update(address_key(ip).as_bytes());
    let mut key = String::from("login:p:");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(hasher.finalize(), &mut key);
    key
}

/// The store key of a client address: `login:a:` and the IPv4 address, or the
/// IPv6 /64 network (`login:a:2001:db8:1:2::/64`).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("login:a:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("login:a:{v4}"),
            None => {
                let network = std::net::Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
                format!("login:a:{network}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::MemoryLoginAttemptStore;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);
    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn guard() -> LoginGuard {
        LoginGuard::in_memory(LoginPolicy::default())
    }

    async fn fail_n(
        guard: &LoginGuard,
        username: &str,
        ip: IpAddr,
        n: u32,
        at: OffsetDateTime,
    ) -> Option<LockoutStarted> {
        let mut last = None;
        for _ in 0..n {
            assert!(guard.check(username, ip, at).await.unwrap().is_allowed());
            last = guard.record_failure(username, ip, at).await.unwrap();
        }
        last
    }

    /// A memory store that counts its reads; with `short` set, its
    /// `live_records` answers no record at all (a broken store).
    #[derive(Default)]
    struct CountedReads {
        inner: MemoryLoginAttemptStore,
        one: std::sync::atomic::AtomicUsize,
        together: std::sync::atomic::AtomicUsize,
        short: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl LoginAttemptStore for CountedReads {
        async fn live_record(
            &self,
            key: &str,
            now: OffsetDateTime,
        ) -> Result<Option<LoginRecord>, StoreError> {
            self.one.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.live_record(key, now).await
        }

        async fn live_records(
            &self,
            keys: &[&str],
            now: OffsetDateTime,
        ) -> Result<Vec<Option<LoginRecord>>, StoreError> {
            self.together
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut records = Vec::new();
            if self.short.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(records);
            }
            for key in keys {
                records.push(self.inner.live_record(key, now).await?);
            }
            Ok(records)
        }

        async fn record_failure(
            &self,
            key: &str,
            limit: FailureLimit,
            now: OffsetDateTime,
        ) -> Result<Option<Lockout>, StoreError> {
            self.inner.record_failure(key, limit, now).await
        }

        async fn reset(&self, key: &str) -> Result<(), StoreError> {
            self.inner.reset(key).await
        }
    }

    #[tokio::test]
    async fn an_attempt_reads_both_records_at_once_and_says_whether_the_username_counted() {
        use std::sync::atomic::Ordering::SeqCst;
        let store = Arc::new(CountedReads::default());
        let g = LoginGuard::new(store.clone(), LoginPolicy::default());
        let reads = || (store.one.load(SeqCst), store.together.load(SeqCst));
        let fresh = g.check_attempt("alice", IP, T0).await.unwrap();
        assert_eq!(
            fresh,
            Attempt {
                admission: Admission::Allowed,
                counted: false
            }
        );
        assert_eq!(reads(), (0, 1), "one read of both records");
        // Without an address, the username's record alone.
        assert!(!g.check_attempt("alice", None, T0).await.unwrap().counted);
        assert_eq!(reads(), (1, 1));
        // The address's failures are not the username's.
        g.record_failure("bob", IP, T0).await.unwrap();
        assert!(!g.check_attempt("alice", IP, T0).await.unwrap().counted);
        g.record_failure("alice", OTHER_IP, T0).await.unwrap();
        let counted = g.check_attempt("alice", IP, T0).await.unwrap();
        assert_eq!(
            counted,
            Attempt {
                admission: Admission::Allowed,
                counted: true
            }
        );
        assert!(g.check_attempt(" ALICE", None, T0).await.unwrap().counted);
        g.record_success("alice").await.unwrap();
        assert!(!g.check_attempt("alice", IP, T0).await.unwrap().counted);
        // A locked address still refuses, read together with the username
        // (its 100th failure locks it: one above, 99 here).
        for _ in 0..99 {
            g.record_failure("carol", OTHER_IP, T0).await.unwrap();
        }
        let refused = g.check_attempt("dave", OTHER_IP, T0).await.unwrap();
        assert_eq!(refused.admission.retry_after_secs(), Some(30));
        assert!(!refused.counted);
        // A store that answers for fewer keys than asked is an error, never
        // an address without a lock.
        store.short.store(true, SeqCst);
        let broken = g.check("dave", OTHER_IP, T0).await;
        assert!(
            matches!(&broken, Err(StoreError::Other(e)) if e.to_string() == "live_records answered 0 records for 2 keys"),
            "{broken:?}"
        );
    }

    async fn wait(
        guard: &LoginGuard,
        username: &str,
        ip: IpAddr,
        at: OffsetDateTime,
    ) -> Option<u64> {
        guard
            .check(username, ip, at)
            .await
            .unwrap()
            .retry_after_secs()
    }

    #[tokio::test]
    async fn without_an_address_only_the_username_counts() {
        let g = LoginGuard::in_memory(LoginPolicy {
            max_failures_per_address: 2,
            ..LoginPolicy::default()
        });
        // Many usernames fail from no known address: no shared bucket fills.
        for i in 0..10 {
            let name = format!("user{i}");
            assert!(g.check(&name, None, T0).await.unwrap().is_allowed());
            assert_eq!(g.record_failure(&name, None, T0).await.unwrap(), None);
        }
        assert!(g.check("alice", None, T0).await.unwrap().is_allowed());
        assert!(g.check("alice", IP, T0).await.unwrap().is_allowed());
        // The username's own count still locks it, whatever the address.
        for _ in 0..4 {
            assert_eq!(g.record_failure("alice", None, T0).await.unwrap(), None);
        }
        let lock = g.record_failure("alice", None, T0).await.unwrap().unwrap();
        assert!(lock.username.is_some() && lock.address.is_none());
        let refused = g.check("alice", None, T0).await.unwrap();
        assert_eq!(refused.retry_after_secs(), Some(30));
        assert_eq!(
            g.check("alice", IP, T0).await.unwrap().retry_after_secs(),
            Some(30)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let limit = LoginPolicy::default().username_limit();
        let got: Vec<u64> = (0..8).map(|n| limit.backoff(n).as_secs()).collect();
        assert_eq!(got, [30, 60, 120, 240, 480, 960, 1920, 3840]);
        assert_eq!(limit.backoff(12), secs(86_400));
        assert_eq!(limit.backoff(u32::MAX), secs(86_400));
        // An address's locks bind everyone behind it: they stop at max_lockout.
        let limit = LoginPolicy::default().address_limit();
        let got: Vec<u64> = (0..8).map(|n| limit.backoff(n).as_secs()).collect();
        assert_eq!(got, [30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[tokio::test]
    async fn the_fifth_failure_locks_the_username_for_thirty_seconds() {
        let g = guard();
        assert_eq!(fail_n(&g, "alice", IP, 4, T0).await, None);
        let started = g.record_failure("alice", IP, T0).await.unwrap();
        let lock = started.and_then(|s| s.username).unwrap();
        assert_eq!(lock.failures, 5);
        assert_eq!(lock.duration, secs(30));
        assert_eq!(lock.until, T0 + secs(30));
        assert_eq!(started.and_then(|s| s.address), None);
        // Refused whatever the password, from any address.
        assert_eq!(wait(&g, "alice", IP, T0).await, Some(30));
        assert_eq!(
            wait(&g, "alice", OTHER_IP, T0 + Duration::from_millis(100)).await,
            Some(30)
        );
        assert_eq!(
            wait(&g, "alice", IP, T0 + Duration::from_micros(29_999_999)).await,
            Some(1)
        );
        // Exactly at the end of the lock, attempts are admitted again.
        assert_eq!(wait(&g, "alice", IP, T0 + secs(30)).await, None);
        assert_eq!(
            wait(&g, "bob", IP, T0).await,
            None,
            "other usernames are not locked"
        );
    }

    #[tokio::test]
    async fn each_failure_after_a_lock_doubles_it_up_to_the_cap() {
        let g = guard();
        let mut now = T0;
        fail_n(&g, "alice", IP, 5, now).await;
        let mut seen = vec![];
        for _ in 0..7 {
            // Wait out the lock, then fail once more.
            now += secs(wait(&g, "alice", IP, now).await.unwrap());
            assert!(g.check("alice", IP, now).await.unwrap().is_allowed());
            let lock = g.record_failure("alice", IP, now).await.unwrap();
            seen.push(lock.and_then(|s| s.username).unwrap().duration.as_secs());
        }
        assert_eq!(seen, [60, 120, 240, 480, 960, 1920, 3840]);
    }

    #[tokio::test]
    async fn refused_attempts_do_not_extend_the_lock() {
        let g = guard();
        fail_n(&g, "alice", IP, 5, T0).await;
        for i in 0..50 {
            // The caller answers 429 and records nothing.
            let at = T0 + Duration::from_millis(i * 500);
            assert!(!g.check("alice", IP, at).await.unwrap().is_allowed());
        }
        assert!(g
            .check("alice", IP, T0 + secs(30))
            .await
            .unwrap()
            .is_allowed());
    }

    #[tokio::test]
    async fn a_success_resets_the_username_but_not_the_address() {
        let policy = LoginPolicy {
            max_failures: 5,
            max_failures_per_address: 8,
            ..LoginPolicy::default()
        };
        let g = LoginGuard::in_memory(policy);
        fail_n(&g, "alice", IP, 4, T0).await;
        g.record_success("alice").await.unwrap();
        // Four more failures: the username's count starts again, so no lock...
        assert_eq!(fail_n(&g, "alice", IP, 3, T0).await, None);
        let started = g.record_failure("alice", IP, T0).await.unwrap().unwrap();
        // ...but the address has now failed 8 times.
        assert_eq!(started.username, None);
        assert_eq!(started.address.map(|l| l.failures), Some(8));
        assert_eq!(
            wait(&g, "carol", IP, T0).await,
            Some(30),
            "the address is locked"
        );
        assert_eq!(
            wait(&g, "alice", OTHER_IP, T0).await,
            None,
            "the username is not"
        );
    }

    #[tokio::test]
    async fn spellings_of_a_username_share_one_counter() {
        let g = guard();
        for name in ["Alice", "alice", " ALICE ", "aLiCe"] {
            fail_n(&g, name, IP, 1, T0).await;
        }
        let started = g.record_failure("alice\t", OTHER_IP, T0).await.unwrap();
        assert!(started.and_then(|s| s.username).is_some());
        assert_eq!(wait(&g, "ALICE", IP, T0).await, Some(30));
        assert_eq!(username_key("Alice"), username_key(" alice"));
        assert_ne!(username_key("alice"), username_key("alicee"));
        assert!(
            !username_key("alice").contains("alice"),
            "usernames are not kept in the clear"
        );
    }

    #[tokio::test]
    async fn unknown_usernames_are_counted_like_known_ones() {
        // The guard never consults the user store: any name is just a key.
        let g = guard();
        let started = fail_n(&g, "no-such-user", IP, 5, T0).await;
        assert_eq!(
            started.and_then(|s| s.username).map(|l| l.duration),
            Some(secs(30))
        );
    }

    #[tokio::test]
    async fn one_address_guessing_many_usernames_is_locked_at_its_limit() {
        let g = guard();
        for i in 0..99 {
            assert_eq!(fail_n(&g, &format!("user{i}"), IP, 1, T0).await, None);
        }
        let started = g.record_failure("user99", IP, T0).await.unwrap().unwrap();
        assert_eq!(started.address.map(|l| l.failures), Some(100));
        assert_eq!(wait(&g, "someone-else", IP, T0).await, Some(30));
        assert_eq!(wait(&g, "someone-else", OTHER_IP, T0).await, None);
        g.unlock_address(IP).await.unwrap();
        assert_eq!(wait(&g, "someone-else", IP, T0).await, None);
    }

    #[test]
    fn ipv6_addresses_are_counted_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), "login:a:2001:db8:1:2::/64");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), address_key(IP));
        assert_eq!(address_key(IP), "login:a:192.0.2.1");
    }

    #[tokio::test]
    async fn failures_outside_the_window_are_forgotten() {
        let g = guard();
        fail_n(&g, "alice", IP, 4, T0).await;
        // 15 minutes after the first failure the window has closed.
        assert_eq!(fail_n(&g, "alice", IP, 4, T0 + secs(15 * 60)).await, None);
        // A failure just inside the window still counts.
        let g = guard();
        fail_n(&g, "alice", IP, 4, T0).await;
        let late = T0 + secs(15 * 60) - Duration::from_micros(1);
        assert!(g.record_failure("alice", IP, late).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn the_back_off_is_remembered_for_a_window_after_a_lock() {
        let g = guard();
        fail_n(&g, "alice", IP, 5, T0).await; // locked until T0 + 30 s
                                              // 14 minutes after the lock ended, a failure still doubles it.
        let at = T0 + secs(30 + 14 * 60);
        let lock = g
            .record_failure("alice", IP, at)
            .await
            .unwrap()
            .and_then(|s| s.username);
        assert_eq!(lock.map(|l| l.duration), Some(secs(60)));
        // A whole quiet window after that lock ends, the key starts from zero.
        let after = at + secs(60 + 15 * 60);
        assert_eq!(fail_n(&g, "alice", IP, 4, after).await, None);
    }

    #[tokio::test]
    async fn failures_admitted_before_a_lock_lengthen_it_without_a_new_lockout() {
        // Twenty attempts pass `check` at once, then all fail.
        let g = guard();
        for _ in 0..20 {
            assert!(g.check("alice", IP, T0).await.unwrap().is_allowed());
        }
        let mut started = 0;
        for _ in 0..20 {
            if let Some(s) = g.record_failure("alice", IP, T0).await.unwrap() {
                started += usize::from(s.username.is_some());
            }
        }
        assert_eq!(started, 1, "one lock began");
        // 16 failures past the limit: the lock is at its cap, as if the
        // guesses had been made one after another.
        assert_eq!(wait(&g, "alice", IP, T0).await, Some(86_400));
    }

    fn addr(i: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, i))
    }

    /// Locks alice by failures from addresses 1..=5, each failing twice,
    /// waiting out each lock: back-offs 30, 60, 120, 240, 480, 960 s. The
    /// time the last lock began.
    async fn lock_past_max_lockout(g: &LoginGuard) -> OffsetDateTime {
        let mut now = T0;
        for i in 1..=5 {
            fail_n(g, "alice", addr(i), 1, now).await;
        }
        for i in 1..=5 {
            now += secs(wait(g, "alice", addr(i), now).await.unwrap());
            fail_n(g, "alice", addr(i), 1, now).await;
        }
        now
    }

    #[tokio::test]
    async fn past_max_lockout_an_address_that_never_failed_is_admitted_if_right() {
        let g = guard();
        let now = lock_past_max_lockout(&g).await;
        let fresh = addr(6);
        assert_eq!(
            g.check("alice", fresh, now).await.unwrap(),
            Admission::IfRight { wait: secs(960) }
        );
        // The addresses that failed are refused, whatever they send.
        for i in 1..=5 {
            assert_eq!(wait(&g, "alice", addr(i), now).await, Some(960), "{i}");
        }
        // The check itself counts nothing: asked again, the same answer.
        assert!(matches!(
            g.check("alice", fresh, now).await.unwrap(),
            Admission::IfRight { .. }
        ));
        // A wrong password from there is counted: the lock doubles, and the
        // address is now one that failed.
        let started = g.record_failure("alice", fresh, now).await.unwrap();
        assert_eq!(started, None, "lengthened, not begun");
        assert_eq!(wait(&g, "alice", fresh, now).await, Some(1920));
        assert_eq!(wait(&g, "alice", addr(1), now).await, Some(1920));
        assert_eq!(
            g.check("alice", addr(8), now).await.unwrap(),
            Admission::IfRight { wait: secs(1920) }
        );
    }

    #[tokio::test]
    async fn up_to_max_lockout_the_username_lock_binds_every_address() {
        let g = guard();
        let mut now = T0;
        for i in 1..=5 {
            fail_n(&g, "alice", addr(i), 1, now).await;
        }
        // Back-offs 30 .. 480: at each, a fresh address is refused.
        for i in 1..=4 {
            now += secs(wait(&g, "alice", addr(i), now).await.unwrap());
            fail_n(&g, "alice", addr(i), 1, now).await;
            assert!(wait(&g, "alice", addr(100 + i), now).await.is_some(), "{i}");
        }
        // Exactly max_lockout does not exceed it.
        let g = LoginGuard::in_memory(LoginPolicy {
            max_lockout: secs(480),
            ..LoginPolicy::default()
        });
        let mut now = T0;
        for i in 1..=5 {
            fail_n(&g, "alice", addr(i), 1, now).await;
        }
        for i in 1..=4 {
            now += secs(wait(&g, "alice", addr(i), now).await.unwrap());
            fail_n(&g, "alice", addr(i), 1, now).await;
        }
        assert_eq!(wait(&g, "alice", addr(9), now).await, Some(480));
        now += secs(480);
        fail_n(&g, "alice", addr(5), 1, now).await;
        assert!(matches!(
            g.check("alice", addr(9), now).await.unwrap(),
            Admission::IfRight { .. }
        ));
    }

    #[tokio::test]
    async fn an_address_lock_is_never_passed() {
        let g = LoginGuard::in_memory(LoginPolicy {
            max_failures_per_address: 3,
            ..LoginPolicy::default()
        });
        let now = lock_past_max_lockout(&g).await;
        let spray = addr(50);
        for i in 0..3 {
            fail_n(&g, &format!("other{i}"), spray, 1, now).await;
        }
        assert_eq!(
            g.check("alice", spray, now).await.unwrap(),
            Admission::Refused { wait: secs(960) }
        );
    }

    /// Unlock records as the database keeps them.
    #[derive(Default)]
    struct Unlocks(std::sync::Mutex<std::collections::HashMap<String, OffsetDateTime>>);

    #[async_trait]
    impl LoginUnlockStore for Unlocks {
        async fn last_unlock(&self, key: &str) -> Result<Option<OffsetDateTime>, StoreError> {
            Ok(self.0.lock().unwrap().get(key).copied())
        }
        async fn record_unlock(
            &self,
            key: &str,
            at: OffsetDateTime,
            _event: NewAuditEvent,
        ) -> Result<(), StoreError> {
            self.0.lock().unwrap().insert(key.to_owned(), at);
            Ok(())
        }
    }

    async fn unlock_elsewhere(unlocks: &Unlocks, username: &str, at: OffsetDateTime) {
        let event = NewAuditEvent::new(at, crate::audit::EventKind::UserUpdated);
        unlocks
            .record_unlock(&username_key(username), at, event)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_unlock_recorded_elsewhere_clears_a_lock_found_here() {
        let unlocks = Arc::new(Unlocks::default());
        let store = Arc::new(MemoryLoginAttemptStore::new());
        let g =
            LoginGuard::new(store.clone(), LoginPolicy::default()).with_unlocks(unlocks.clone());
        // An unlock older than the count does not apply.
        unlock_elsewhere(&unlocks, "alice", T0 - secs(1)).await;
        fail_n(&g, "alice", IP, 5, T0).await;
        assert_eq!(wait(&g, "alice", OTHER_IP, T0 + secs(2)).await, Some(28));
        unlock_elsewhere(&unlocks, "ALICE", T0 + secs(5)).await;
        assert_eq!(wait(&g, "alice", OTHER_IP, T0 + secs(6)).await, None);
        assert_eq!(store.record(&username_key("alice"), T0 + secs(6)), None);
        // Counting starts again from zero: four more failures lock nothing.
        assert_eq!(fail_n(&g, "alice", OTHER_IP, 4, T0 + secs(7)).await, None);
        assert!(g
            .record_failure("alice", OTHER_IP, T0 + secs(7))
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn an_unlock_recorded_elsewhere_applies_before_a_new_lock() {
        let unlocks = Arc::new(Unlocks::default());
        let g = LoginGuard::in_memory(LoginPolicy::default()).with_unlocks(unlocks.clone());
        fail_n(&g, "alice", IP, 5, T0).await;
        // The lock ends unseen by any attempt; then the unlock is recorded.
        unlock_elsewhere(&unlocks, "alice", T0 + secs(40)).await;
        // The next failure would double the lock, but the unlock came first:
        // it counts as the first failure of a new count.
        let at = T0 + secs(50);
        assert_eq!(g.record_failure("alice", IP, at).await.unwrap(), None);
        assert_eq!(wait(&g, "alice", IP, at).await, None);
        // Without the unlock record, it would have locked for 60 s.
        let plain = guard();
        fail_n(&plain, "alice", IP, 5, T0).await;
        assert!(plain
            .record_failure("alice", IP, at)
            .await
            .unwrap()
            .is_some());
    }

    #[test]
    fn pair_keys_are_per_username_and_address() {
        assert_eq!(pair_key("Alice", IP), pair_key(" alice", IP));
        assert_ne!(pair_key("alice", IP), pair_key("alice", OTHER_IP));
        assert_ne!(pair_key("alice", IP), pair_key("bob", IP));
        assert!(pair_key("alice", IP).starts_with("login:p:"));
        assert!(!pair_key("alice", IP).contains("192.0.2.1"));
    }

    #[tokio::test]
    async fn an_administrator_can_unlock_a_username() {
        let g = guard();
        fail_n(&g, "alice", IP, 5, T0).await;
        g.unlock_username("ALICE").await.unwrap();
        assert_eq!(wait(&g, "alice", IP, T0).await, None);
    }

    #[tokio::test]
    async fn a_zero_limit_is_taken_as_one() {
        let g = LoginGuard::in_memory(LoginPolicy {
            max_failures: 0,
            ..LoginPolicy::default()
        });
        assert!(fail_n(&g, "alice", IP, 1, T0).await.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_failures_are_each_counted_once() {
        let store = Arc::new(MemoryLoginAttemptStore::new());
        let limit = FailureLimit {
            max_failures: 1000,
            ..LoginPolicy::default().username_limit()
        };
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.record_failure("k", limit, T0).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), None);
        }
        assert_eq!(store.record("k", T0).map(|r| r.failures), Some(200));
    }

    #[test]
    fn guard_debug_shows_the_policy_only() {
        let text = format!("{:?}", guard());
        assert!(text.contains("max_failures: 5"), "{text}");
    }
}
