//! Throttling without HTTP: DRF rates, an atomic counter store, and login
//! protection.
//!
//! - [`Rate`]: DRF's `N/s`, `N/m`, `N/h`, `N/d` (`100/day` too).
//! - [`ThrottleStore`]: one atomic [`hit`](ThrottleStore::hit) that checks and
//!   counts in one step, so 200 concurrent requests against `10/m` let exactly
//!   10 through. DRF's cache throttle reads the history, decides, then writes
//!   it back, and concurrent requests all read the same history (DRF #8127).
//! - [`MemoryThrottleStore`]: the in-process store, sharded, with a bounded
//!   number of keys.
//! - [`LoginGuard`]: per-username and per-address failure counting with an
//!   exponential back-off ([`login`]).
//!
//! ```
//! use tessera_core::throttle::{Decision, MemoryThrottleStore, Rate, ThrottleStore};
//! use std::time::Duration;
//! use time::macros::datetime;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryThrottleStore::new();
//! let rate: Rate = "2/min".parse().unwrap();
//! let t0 = datetime!(2024-01-01 00:00:00 UTC);
//! assert_eq!(store.hit("anon:192.0.2.1", rate, t0).await.unwrap(), Decision::Allowed);
//! assert_eq!(store.hit("anon:192.0.2.1", rate, t0).await.unwrap(), Decision::Allowed);
//! let refused = store.hit("anon:192.0.2.1", rate, t0 + Duration::from_millis(500)).await.unwrap();
//! // 59.5 s are left in the window: DRF rounds up.
//! assert_eq!(refused, Decision::Refused { wait: Duration::from_secs(60) });
//! assert_eq!(refused.retry_after_secs(), Some(60));
//! # });
//! ```
//!
//! # The algorithm: a fixed window opened by the first request
//!
//! A key's first request opens a window of one period; the window admits
//! `num_requests` requests, and refuses the rest without counting them; the
//! first request after the window has ended opens a new one. The state is two
//! numbers per key, [`ThrottleWindow`], whatever the rate (DRF keeps a list of
//! every request's time, up to `num_requests` per key).
//!
//! For a burst, which is what a throttle is for, this is DRF's behaviour
//! exactly: DRF refuses until its oldest recorded request leaves the period,
//! and that request opened our window. Where DRF lets requests back one at a
//! time as old ones age out, the window lets the whole allowance back at once
//! when it ends; so over any span of one period a key gets at most
//! `2 × num_requests − 1` requests (DRF: `num_requests`), and over any window
//! it opened at most `num_requests`.
//!
//! # The wait
//!
//! [`Decision::Refused`] carries the time until a request would be allowed
//! (the end of the window), rounded up to whole seconds and at least one
//! second: DRF's `wait()` then `math.ceil` in `Throttled`, which is what goes
//! into `Retry-After: N` and `Expected available in N seconds.` Refused at
//! 20.5 s into a one-minute window, the wait is 40 s; at 59.999999 s, 1 s. A
//! `0/m` rate refuses with the whole period, as DRF's `wait()` does when its
//! history is empty.
//!
//! # In-process stores
//!
//! [`MemoryThrottleStore`] and [`MemoryLoginAttemptStore`] hold at most a
//! configured number of keys ([`DEFAULT_CAPACITY`] by default), so a flood
//! of distinct keys cannot grow memory without bound. Each key is kept as the first 128 bits of its SHA-256, so an entry is a
//! fixed size however long the key (about 55 bytes in all, measured), in one
//! of 32 shards (fewer for a tiny capacity), each a map behind its own mutex:
//! a hit reads and writes its key under that lock, which is what makes it
//! atomic. A key whose window has ended counts as absent.
//!
//! No shard holds more than its share of the capacity. When a new key finds
//! its shard full, the shard first drops every entry that has expired, then,
//! if that freed less than an eighth of it, the entries that matter least
//! until an eighth is free: those with the fewest hits (a throttle's count, a
//! login key's failures), and among equals the soonest to expire. So a flood
//! of fresh keys displaces other fresh keys, not a key that is being
//! throttled or a username that is locked, and the sweep, linear in the
//! shard's size, runs at most once per eighth of a shard's inserts.
//!

mod alerts;
pub mod login;
mod memory;
mod rate;

pub use alerts::{AlertWindowStore, MemoryAlertWindowStore};
pub use login::{
    Admission, Attempt, FailureLimit, Lockout, LockoutStarted, LoginAttemptStore, LoginGuard,
    LoginPolicy, LoginRecord, LoginUnlockStore,
};
pub use memory::{MemoryLoginAttemptStore, MemoryThrottleStore, DEFAULT_CAPACITY};
pub use rate::{Period, Rate, RateError};

use crate::clock::to_micros;
use crate::error::StoreError;
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;

/// What a throttle decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let the request through; it has been counted.
    Allowed,
    /// Refuse it with `429`; it has not been counted.
    Refused {
        /// Time until a request would be allowed: whole seconds, rounded up,
        /// at least one (see the [module docs](self#the-wait)).
        wait: Duration,
    },
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allowed)
    }

    /// For a refusal, the `N` of `Retry-After: N`.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Decision::Allowed => None,
            Decision::Refused { wait } => Some(wait.as_secs()),
        }
    }

    /// A refusal of a request at `now` by a window that ends at `ends`
    /// (microseconds since the Unix epoch): the wait rounded up to whole
    /// seconds, at least one (for backends that apply
    /// [`ThrottleWindow::hit`] in their own language).
    pub fn refused_until(ends: i64, now: OffsetDateTime) -> Decision {
        Decision::Refused {
            wait: wait_from_micros(ends.saturating_sub(to_micros(now))),
        }
    }

    /// The stricter of two decisions: refused if either is, with the longer
    /// wait (DRF reports the longest wait of the throttles that refused).
    pub fn stricter(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Allowed, d) | (d, Decision::Allowed) => d,
            (Decision::Refused { wait: a }, Decision::Refused { wait: b }) => {
                Decision::Refused { wait: a.max(b) }
            }
        }
    }
}

/// Counters for rate throttles, keyed by strings such as `throttle_anon_<ip>`.
///
/// Contract, kept by every implementation (and checked by the suite):
/// - [`hit`](Self::hit) is one atomic step: check the key's window and count
///   the request if it is allowed. `k` concurrent hits against a rate of `n`
///   in one window allow exactly `min(k, n)`;
/// - refused hits are not counted;
/// - the windows and waits are those of [`ThrottleWindow::hit`];
/// - the state per key is a fixed size, and a key is forgotten once its
///   window has ended;
/// - a store that cannot be reached answers [`StoreError::Unavailable`], and
///   the caller refuses the request (fail closed).
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one request against `key` at `rate`, at `now`, if the rate
    /// allows it.
    async fn hit(&self, key: &str, rate: Rate, now: OffsetDateTime)
        -> Result<Decision, StoreError>;

    /// Forgets the key's window, so its next request is allowed (an
    /// administrator's reset).
    async fn reset(&self, key: &str) -> Result<(), StoreError>;
}

/// One key's window: the state behind [`ThrottleStore`], and the rule every
/// backend applies (a SQL or Redis store keeps these two numbers and runs
/// [`ThrottleWindow::hit`], or its equivalent, atomically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleWindow {
    /// Requests allowed in this window so far.
    pub count: u32,
    /// When the window ends, in microseconds since the Unix epoch
    /// ([`to_micros`]); the key is forgotten from then on.
    pub ends: i64,
}

impl ThrottleWindow {
    /// Applies one request at `now` to the key's window (`None` when the key
    /// has none, or its window has ended). Returns the decision and the
    /// window to keep (`None`: nothing to store).
    pub fn hit(
        current: Option<ThrottleWindow>,
        rate: Rate,
        now: OffsetDateTime,
    ) -> (Decision, Option<ThrottleWindow>) {
        let now = to_micros(now);
        if rate.num_requests() == 0 {
            // DRF: with no history, `wait()` is the whole period.
            let wait = wait_from_micros(duration_micros(rate.duration()));
            return (Decision::Refused { wait }, current);
        }
        match current.filter(|w| now < w.ends) {
            None => {
                let ends = now.saturating_add(duration_micros(rate.duration()));
                (Decision::Allowed, Some(ThrottleWindow { count: 1, ends }))
            }
            Some(mut window) if window.count < rate.num_requests() => {
                window.count += 1;
                (Decision::Allowed, Some(window))
            }
            Some(window) => {
                let wait = wait_from_micros(window.ends.saturating_sub(now));
                (Decision::Refused { wait }, Some(window))
            }
        }
    }
}

/// Whole seconds, rounded up and at least one, of a span in microseconds:
/// the wait reported to clients.
pub(crate) fn wait_from_micros(micros: i64) -> Duration {
    let micros = u64::try_from(micros.max(1)).unwrap_or(1);
    Duration::from_secs(micros.div_ceil(1_000_000))
}

/// A duration in microseconds, saturating.
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);

    #[test]
    fn wait_is_rounded_up_to_whole_seconds_and_at_least_one() {
        assert_eq!(wait_from_micros(1), Duration::from_secs(1));
        assert_eq!(wait_from_micros(0), Duration::from_secs(1));
        assert_eq!(wait_from_micros(-5), Duration::from_secs(1));
        assert_eq!(wait_from_micros(1_000_000), Duration::from_secs(1));
        assert_eq!(wait_from_micros(1_000_001), Duration::from_secs(2));
        assert_eq!(wait_from_micros(39_500_000), Duration::from_secs(40));
    }

    #[test]
    fn a_window_admits_the_rate_then_refuses_until_it_ends() {
        let rate = Rate::per_minute(3);
        let mut window = None;
        for _ in 0..3 {
            let (d, w) = ThrottleWindow::hit(window, rate, T0 + Duration::from_secs(5));
            assert_eq!(d, Decision::Allowed);
            window = w;
        }
        // The window opened at T0 + 5 s and ends at T0 + 65 s.
        let (d, w) = ThrottleWindow::hit(window, rate, T0 + Duration::from_millis(25_500));
        assert_eq!(d.retry_after_secs(), Some(40));
        assert_eq!(w, window, "a refusal is not counted");
        let (d, _) = ThrottleWindow::hit(window, rate, T0 + Duration::from_micros(64_999_999));
        assert_eq!(d.retry_after_secs(), Some(1));
        let (d, w) = ThrottleWindow::hit(window, rate, T0 + Duration::from_secs(65));
        assert_eq!(d, Decision::Allowed);
        assert_eq!(w.map(|w| w.count), Some(1), "a new window opened");
    }

    #[test]
    fn a_zero_rate_refuses_everything_with_the_whole_period() {
        let (d, w) = ThrottleWindow::hit(None, Rate::per_hour(0), T0);
        assert_eq!(d.retry_after_secs(), Some(3600));
        assert_eq!(w, None);
    }

    #[test]
    fn the_stricter_decision_wins_with_the_longest_wait() {
        let short = Decision::Refused {
            wait: Duration::from_secs(3),
        };
        let long = Decision::Refused {
            wait: Duration::from_secs(9),
        };
        assert_eq!(
            Decision::Allowed.stricter(Decision::Allowed),
            Decision::Allowed
        );
        assert_eq!(Decision::Allowed.stricter(short), short);
        assert_eq!(long.stricter(Decision::Allowed), long);
        assert_eq!(short.stricter(long), long);
        assert!(!short.is_allowed());
        assert_eq!(Decision::Allowed.retry_after_secs(), None);
    }
}
