//! Coalesced `last_used` / `last_seen` writes: at most one a minute per
//! credential, made off the request path, in batches.
//!
//! A credential's stored time already tells whether it was written within the
//! minute; an in-process record of recent uses keeps concurrent requests from
//! all writing at once before the first write lands, and keeps a cached
//! credential (whose stored time is the one read into the cache) from being
//! written more than once a minute. That record is two maps, the uses of
//! this interval and of the one before, swapped once an interval: a lookup
//! and an insert cost the same whatever their size, and they hold the
//! credentials used in the last two intervals, no more. Each thread keeps a
//! small copy of what the record told it (a slot per credential hash), so
//! that a credential used again within the minute is answered without the
//! record's lock: a hot key is checked on every core at once.
//!
//! A use to record goes into a queue; a background task
//! ([`Toucher::start`], or on first use) waits [`BATCH_WINDOW`] after the
//! first one, then writes the whole queue with one store call per kind
//! ([`TokenStore::touch_tokens`], [`SessionStore::touch_sessions`]: one
//! transaction on SQL stores). With a working set of 100,000 keys that is a
//! few transactions a second instead of 100,000 a minute, each a commit on
//! SQLite's single writer. The queue holds at most [`MAX_QUEUED`] uses; past
//! that (a store far slower than the traffic) a use is not queued and not
//! remembered, so that a later use records it. A batch that fails is logged
//! once (and again only after one has succeeded), not once per credential;
//! its uses are not retried (the next use a minute later records them).
//! [`Toucher::flush`] writes what is queued (`Tessera::shutdown` does).
//!
//! [`TokenStore::touch_tokens`]: tessera_core::store::TokenStore::touch_tokens
//! [`SessionStore::touch_sessions`]: tessera_core::store::SessionStore::touch_sessions

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tessera_core::clock::to_micros;
use tessera_core::{StoreError, Stores};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// Writes are at most this often per credential.
pub const INTERVAL: time::Duration = time::Duration::seconds(60);

/// How long the writer gathers uses after the first one it is woken for.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);

/// The most uses queued at once.
pub const MAX_QUEUED: usize = 100_000;

/// Which credential was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Used {
    /// A token, by id.
    Token(i64),
    /// A session, by id.
    Session(i64),
}

impl Used {
    /// The credential as one number (kind in the low bit), so that a recent
    /// use costs 16 bytes with its time: a working set of 100,000 keys, each
    /// in the map, is 1.6 MB, not twice that. Ids are positive; two ids that
    /// would meet (past 2^62) would only share a minute's write.
    fn packed(self) -> u64 {
        match self {
            Used::Token(id) => (id as u64) << 1,
            Used::Session(id) => ((id as u64) << 1) | 1,
        }
    }
}

/// [`INTERVAL`] in microseconds.
const INTERVAL_MICROS: i64 = INTERVAL.whole_microseconds() as i64;

/// Whether a use recorded at `at` is within the interval before `now` (both
/// in microseconds since the epoch; a clock set back counts as within).
fn within_interval(at: i64, now: i64) -> bool {
    now.saturating_sub(at) < INTERVAL_MICROS
}

/// Slots of a thread's [`SEEN`] table (a power of two).
const SEEN_SLOTS: usize = 256;

/// A slot of [`SEEN`]: the [`Toucher::instance`], the [`Used::packed`]
/// credential and when its use was recorded (microseconds since the epoch);
/// an instance of 0 is an empty slot.
type Seen = (u64, u64, i64);

thread_local! {
    /// Each thread's copy of the uses it saw recorded, one slot per
    /// credential hash (a later one takes the slot): a credential used again
    /// within the minute is answered here, without the shared lock that
    /// every request on every core would otherwise take (a hot key whose
    /// cached `last_used` stays old until its cache entry is read again).
    /// It holds only what the shared record said, so it never skips a use
    /// the shared record would have queued.
    static SEEN: std::cell::RefCell<[Seen; SEEN_SLOTS]> =
        const { std::cell::RefCell::new([(0, 0, 0); SEEN_SLOTS]) };
}

/// The [`SEEN`] slot of a packed credential (Fibonacci hashing).
fn seen_slot(packed: u64) -> usize {
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SEEN_SLOTS.trailing_zeros())) as usize
}

/// Numbers [`Toucher`] instances for [`SEEN`] (0 is an empty slot).
static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// The recent uses and the queue.
#[derive(Debug, Default)]
struct Recent {
    /// When `current` began; `None` before the first use.
    since: Option<OffsetDateTime>,
    /// Uses recorded since `since`: [`Used::packed`] to microseconds since
    /// the epoch.
    current: HashMap<u64, i64>,
    /// Uses recorded in the interval before.
    previous: HashMap<u64, i64>,
    /// Uses to write.
    queue: Vec<(Used, OffsetDateTime)>,
}

impl Recent {
    /// When `what` was recorded, if that was within the interval before
    /// `now` (microseconds since the epoch).
    fn within(&self, what: Used, now: OffsetDateTime) -> Option<i64> {
        let (key, now) = (what.packed(), to_micros(now));
        let recent =
            |map: &HashMap<u64, i64>| map.get(&key).copied().filter(|t| within_interval(*t, now));
        recent(&self.current).or_else(|| recent(&self.previous))
    }

    /// Queues a use of `what` at `now` unless one was recorded within the
    /// interval, or the queue is full.
    fn record(&mut self, what: Used, now: OffsetDateTime) -> Recorded {
        if let Some(at) = self.within(what, now) {
            return Recorded::Recently { at };
        }
        if self.queue.len() >= MAX_QUEUED {
            return Recorded::Full;
        }
        self.turn(now);
        self.current.insert(what.packed(), to_micros(now));
        self.queue.push((what, now));
        Recorded::Queued {
            first: self.queue.len() == 1,
        }
    }

    /// Starts a new interval when the current one is over (or `now` is before
    /// it: a clock set back), forgetting the uses of the one before it.
    fn turn(&mut self, now: OffsetDateTime) {
        match self.since {
            Some(since) if now >= since && now - since < INTERVAL => {}
            _ => {
                self.previous = std::mem::take(&mut self.current);
                self.since = Some(now);
            }
        }
    }
}

/// What [`Recent::record`] did.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    /// Queued; `first` when the queue was empty.
    Queued { first: bool },
    /// Nothing: recorded within the interval, at `at` (microseconds since
    /// the epoch).
    Recently { at: i64 },
    /// Nothing: the queue is full.
    Full,
}

/// Coalesces credential-use writes.
pub struct Toucher {
    /// This recorder's number in the threads' [`SEEN`] tables.
    instance: u64,
    stores: Stores,
    recent: Mutex<Recent>,
    wake: Arc<Notify>,
    /// Held while a batch is written, so that [`Toucher::flush`] returns
    /// only once what was taken before it is written too.
    writing: tokio::sync::Mutex<()>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Whether the last batch failed (to log a failure once, not every batch).
    failing: AtomicBool,
    writes: AtomicU64,
    dropped: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for Toucher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toucher")
            .field("writes", &self.writes())
            .field("dropped", &self.dropped())
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

impl Toucher {
    /// A recorder writing to `stores`. Its writer starts with
    /// [`Toucher::start`], or on the runtime of the first use queued.
    pub fn new(stores: Stores) -> Arc<Self> {
        Arc::new(Toucher {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            stores,
            recent: Mutex::new(Recent::default()),
            wake: Arc::new(Notify::new()),
            writing: tokio::sync::Mutex::new(()),
            writer: Mutex::new(None),
            failing: AtomicBool::new(false),
            writes: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// Records a use at `now` of a credential last written at `stored`,
    /// queueing a write when the stored time is a minute old and no use of it
    /// was queued within the minute.
    pub fn used(self: &Arc<Self>, what: Used, stored: Option<OffsetDateTime>, now: OffsetDateTime) {
        if stored.is_some_and(|t| now - t < INTERVAL) {
            return;
        }
        let (packed, micros) = (what.packed(), to_micros(now));
        let slot = seen_slot(packed);
        let seen = SEEN.with(|seen| seen.borrow()[slot]);
        if seen.0 == self.instance && seen.1 == packed && within_interval(seen.2, micros) {
            return;
        }
        let recorded = match self.recent.lock() {
            Ok(mut recent) => recent.record(what, now),
            Err(_) => return,
        };
        let at = match recorded {
            Recorded::Queued { .. } => Some(micros),
            Recorded::Recently { at } => Some(at),
            Recorded::Full => None,
        };
        if let Some(at) = at {
            SEEN.with(|seen| seen.borrow_mut()[slot] = (self.instance, packed, at));
        }
        match recorded {
            Recorded::Queued { first } => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                if first {
                    self.start_here();
                    self.wake.notify_one();
                }
            }
            Recorded::Recently { .. } => {}
            Recorded::Full => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Spawns the writer on `runtime`, unless it runs already.
    pub fn start(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let mut writer = match self.writer.lock() {
            Ok(writer) => writer,
            Err(poisoned) => poisoned.into_inner(),
        };
        if writer.is_some() {
            return;
        }
        // A weak handle: the writer ends once the application is dropped.
        let weak: Weak<Toucher> = Arc::downgrade(self);
        let wake = self.wake.clone();
        *writer = Some(runtime.spawn(async move {
            loop {
                wake.notified().await;
                tokio::time::sleep(BATCH_WINDOW).await;
                let Some(toucher) = weak.upgrade() else {
                    return;
                };
                toucher.write_queued().await;
            }
        }));
    }

    /// Starts the writer on the current runtime if nothing started it.
    fn start_here(self: &Arc<Self>) {
        let started = match self.writer.lock() {
            Ok(writer) => writer.is_some(),
            Err(poisoned) => poisoned.into_inner().is_some(),
        };
        if !started {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                self.start(&runtime);
            }
        }
    }

    /// Writes every use queued so far, and waits for a batch being written.
    pub async fn flush(&self) {
        self.write_queued().await;
    }

    /// Stops the writer (what is queued stays queued: [`Toucher::flush`]
    /// first; a batch being written when the writer stops is lost).
    pub fn stop(&self) {
        let writer = match self.writer.lock() {
            Ok(mut writer) => writer.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(writer) = writer {
            writer.abort();
        }
    }

    async fn write_queued(&self) {
        let _writing = self.writing.lock().await;
        let queue = match self.recent.lock() {
            Ok(mut recent) => std::mem::take(&mut recent.queue),
            Err(_) => return,
        };
        let (mut tokens, mut sessions) = (Vec::new(), Vec::new());
        for (what, at) in queue {
            match what {
                Used::Token(id) => tokens.push((id, at)),
                Used::Session(id) => sessions.push((id, at)),
            }
        }
        if !tokens.is_empty() {
            let result = self.stores.tokens.touch_tokens(&tokens).await;
            self.written(result, tokens.len());
        }
        if !sessions.is_empty() {
            let result = self.stores.sessions.touch_sessions(&sessions).await;
            self.written(result, sessions.len());
        }
    }

    fn written(&self, result: Result<(), StoreError>, count: usize) {
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("credentials' uses are recorded again");
                }
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %e,
                        count,
                        "recording credentials' use failed (logged once until a write succeeds)"
                    );
                }
            }
        }
    }

    /// Uses queued for writing so far (for tests and metrics).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Uses not queued because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Batches whose write failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    fn queue(recent: &Recent) -> Vec<(Used, OffsetDateTime)> {
        recent.queue.clone()
    }

    /// Whether the use was queued.
    fn record(recent: &mut Recent, what: Used, now: OffsetDateTime) -> bool {
        matches!(recent.record(what, now), Recorded::Queued { .. })
    }

    #[test]
    fn a_use_is_recorded_once_a_minute() {
        let mut recent = Recent::default();
        let a = Used::Token(1);
        assert!(record(&mut recent, a, T0));
        assert!(!record(&mut recent, a, T0 + time::Duration::seconds(59)));
        assert!(record(&mut recent, a, T0 + time::Duration::seconds(60)));
        assert!(!record(&mut recent, a, T0 + time::Duration::seconds(119)));
        assert!(record(&mut recent, a, T0 + time::Duration::seconds(181)));
        assert_eq!(
            queue(&recent),
            [
                (a, T0),
                (a, T0 + time::Duration::seconds(60)),
                (a, T0 + time::Duration::seconds(181)),
            ]
        );
    }

    #[test]
    fn a_use_late_in_one_interval_is_remembered_in_the_next() {
        let mut recent = Recent::default();
        assert!(record(&mut recent, Used::Token(9), T0));
        let late = T0 + time::Duration::seconds(50);
        assert!(record(&mut recent, Used::Session(1), late));
        // The interval turns at T0 + 60 s; the session's use at 50 s is still
        // within the minute at 100 s.
        assert!(!record(
            &mut recent,
            Used::Session(1),
            T0 + time::Duration::seconds(100)
        ));
        assert!(record(
            &mut recent,
            Used::Session(1),
            T0 + time::Duration::seconds(110)
        ));
    }

    #[test]
    fn only_two_intervals_of_uses_are_kept() {
        let mut recent = Recent::default();
        for id in 0..1000 {
            record(&mut recent, Used::Token(id), T0);
        }
        record(
            &mut recent,
            Used::Token(-1),
            T0 + time::Duration::seconds(61),
        );
        assert_eq!((recent.current.len(), recent.previous.len()), (1, 1000));
        record(
            &mut recent,
            Used::Token(-2),
            T0 + time::Duration::seconds(122),
        );
        assert_eq!((recent.current.len(), recent.previous.len()), (1, 1));
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut recent = Recent::default();
        for id in 0..MAX_QUEUED {
            assert_eq!(
                recent.record(Used::Token(id as i64), T0),
                Recorded::Queued { first: id == 0 }
            );
        }
        assert_eq!(recent.record(Used::Session(1), T0), Recorded::Full);
        // Not remembered: once there is room, it is queued.
        recent.queue.clear();
        assert_eq!(
            recent.record(Used::Session(1), T0),
            Recorded::Queued { first: true }
        );
    }

    #[test]
    fn a_use_a_microsecond_short_of_the_minute_is_within_it() {
        let mut recent = Recent::default();
        let at = T0 + time::Duration::microseconds(5);
        assert!(record(&mut recent, Used::Session(3), at));
        assert!(!record(
            &mut recent,
            Used::Session(3),
            at + INTERVAL - time::Duration::microseconds(1)
        ));
        assert!(record(&mut recent, Used::Session(3), at + INTERVAL));
    }

    #[test]
    fn tokens_and_sessions_with_one_id_are_apart() {
        let mut recent = Recent::default();
        assert!(record(&mut recent, Used::Token(1), T0));
        assert!(record(&mut recent, Used::Session(1), T0));
    }
}
