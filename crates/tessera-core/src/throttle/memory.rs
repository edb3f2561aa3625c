//! In-process stores: a sharded map with a bounded number of keys; see
//! [`crate::throttle`], "In-process stores".

use super::login::{FailureLimit, Lockout, LoginAttemptStore, LoginRecord};
use super::{Decision, Rate, ThrottleStore, ThrottleWindow};
use crate::clock::to_micros;
use crate::error::StoreError;
use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use time::OffsetDateTime;

/// Keys a memory store holds by default: 100,000 (about 6 MB at most; the
/// flood test prints the measured figure).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Shards of a memory store (fewer when the capacity is smaller).
const SHARDS: usize = 32;

/// An entry of a [`BoundedMap`].
trait Slot: Copy {
    /// When the entry expires, in microseconds since the Unix epoch.
    fn expires(&self) -> i64;
    /// How much the entry matters: the least are evicted first.
    fn rank(&self) -> u32;
}

impl Slot for ThrottleWindow {
    fn expires(&self) -> i64 {
        self.ends
    }
    fn rank(&self) -> u32 {
        self.count
    }
}

impl Slot for LoginRecord {
    fn expires(&self) -> i64 {
        self.window_ends
    }
    fn rank(&self) -> u32 {
        self.failures
    }
}

type Shard<E> = HashMap<u128, E>;

/// The sharded, capacity-bounded map behind both memory stores.
struct BoundedMap<E> {
    shards: Box<[Mutex<Shard<E>>]>,
    per_shard: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The critical sections cannot panic; if one ever did, its map is still
    // consistent, so keep using it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<E: Slot> BoundedMap<E> {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let shards = SHARDS.min(capacity);
        BoundedMap {
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity / shards,
        }
    }

    fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn locate(&self, key: &str) -> (&Mutex<Shard<E>>, u128) {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        let id = u128::from_le_bytes(id);
        // The shard count is at most SHARDS, so the cast cannot truncate it.
        let shard = (id % self.shards.len() as u128) as usize;
        (&self.shards[shard], id)
    }

    /// Runs `f` on the key's live entry (`None` when absent or expired) and
    /// keeps what it returns (`None`: remove), all under the shard's lock.
    fn update<R>(&self, key: &str, now: i64, f: impl FnOnce(Option<E>) -> (R, Option<E>)) -> R {
        let (shard, id) = self.locate(key);
        let mut map = lock(shard);
        let current = map.get(&id).copied().filter(|e| now < e.expires());
        let (result, next) = f(current);
        match next {
            Some(entry) => match map.get_mut(&id) {
                Some(slot) => *slot = entry,
                None => {
                    make_room(&mut map, self.per_shard, now);
                    map.insert(id, entry);
                }
            },
            None => {
                map.remove(&id);
            }
        }
        result
    }

    /// The key's live entry.
    fn get(&self, key: &str, now: i64) -> Option<E> {
        let (shard, id) = self.locate(key);
        let map = lock(shard);
        map.get(&id).copied().filter(|e| now < e.expires())
    }

    fn remove(&self, key: &str) {
        let (shard, id) = self.locate(key);
        lock(shard).remove(&id);
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    fn purge_expired(&self, now: i64) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let mut map = lock(s);
                let before = map.len();
                map.retain(|_, e| now < e.expires());
                before - map.len()
            })
            .sum()
    }
}

/// Makes room for one more entry in a shard holding up to `cap`; see the
/// `throttle` module's docs for the order of eviction.
fn make_room<E: Slot>(map: &mut Shard<E>, cap: usize, now: i64) {
    if map.len() < cap {
        return;
    }
    let target = cap - (cap / 8).max(1);
    map.retain(|_, e| now < e.expires());
    if map.len() <= target {
        return;
    }
    let excess = map.len() - target;
    let mut order: Vec<(u32, i64)> = map.values().map(|e| (e.rank(), e.expires())).collect();
    let (_, &mut cutoff, _) = order.select_nth_unstable(excess - 1);
    let below = order.iter().filter(|k| **k < cutoff).count();
    // Entries equal to the cutoff: drop only as many as are still needed.
    let mut at_cutoff = excess - below;
    map.retain(|_, e| {
        let k = (e.rank(), e.expires());
        if k < cutoff {
            false
        } else if k == cutoff && at_cutoff > 0 {
            at_cutoff -= 1;
            false
        } else {
            true
        }
    });
}

/// The in-process [`ThrottleStore`]: sharded, a fixed-size window per key, at
/// most [`capacity`](Self::capacity) keys (see [In-process stores](crate::throttle#in-process-stores)
/// for eviction). For one process; several processes share a Redis store.
pub struct MemoryThrottleStore {
    map: BoundedMap<ThrottleWindow>,
}

impl std::fmt::Debug for MemoryThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryThrottleStore")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryThrottleStore {
    fn default() -> Self {
        MemoryThrottleStore::new()
    }
}

impl MemoryThrottleStore {
    /// A store of [`DEFAULT_CAPACITY`] keys.
    pub fn new() -> Self {
        MemoryThrottleStore::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store of at most `capacity` keys (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryThrottleStore {
            map: BoundedMap::new(capacity),
        }
    }

    /// The most keys the store holds: `capacity` rounded down to a multiple of
    /// the shard count.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Keys held now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every key whose window has ended at `now`; how many. Optional:
    /// full shards drop them anyway.
    pub fn purge_expired(&self, now: OffsetDateTime) -> usize {
        self.map.purge_expired(to_micros(now))
    }
}

#[async_trait]
impl ThrottleStore for MemoryThrottleStore {
    async fn hit(
        &self,
        key: &str,
        rate: Rate,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError> {
        Ok(self.map.update(key, to_micros(now), |window| {
            ThrottleWindow::hit(window, rate, now)
        }))
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.map.remove(key);
        Ok(())
    }
}

/// The in-process [`LoginAttemptStore`]: sharded, a fixed-size record per
/// key, at most [`capacity`](Self::capacity) keys; when full, locked keys are
/// the last to go (see [In-process stores](crate::throttle#in-process-stores)).
pub struct MemoryLoginAttemptStore {
    map: BoundedMap<LoginRecord>,
}

impl std::fmt::Debug for MemoryLoginAttemptStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLoginAttemptStore")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryLoginAttemptStore {
    fn default() -> Self {
        MemoryLoginAttemptStore::new()
    }
}

impl MemoryLoginAttemptStore {
    /// A store of [`DEFAULT_CAPACITY`] keys.
    pub fn new() -> Self {
        MemoryLoginAttemptStore::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store of at most `capacity` keys (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryLoginAttemptStore {
            map: BoundedMap::new(capacity),
        }
    }

    /// The most keys the store holds: `capacity` rounded down to a multiple of
    /// the shard count.
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// Keys held now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key's live record, for inspection.
    pub fn record(&self, key: &str, now: OffsetDateTime) -> Option<LoginRecord> {
        self.map.get(key, to_micros(now))
    }

    /// Drops every record that is no longer live at `now`; how many.
    pub fn purge_expired(&self, now: OffsetDateTime) -> usize {
        self.map.purge_expired(to_micros(now))
    }
}

#[async_trait]
impl LoginAttemptStore for MemoryLoginAttemptStore {
    async fn live_record(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginRecord>, StoreError> {
        Ok(self.map.get(key, to_micros(now)))
    }

    async fn record_failure(
        &self,
        key: &str,
        limit: FailureLimit,
        now: OffsetDateTime,
    ) -> Result<Option<Lockout>, StoreError> {
        Ok(self.map.update(key, to_micros(now), |record| {
            let mut record = record.unwrap_or_default();
            let lockout = record.fail(&limit, now);
            (lockout, Some(record))
        }))
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.map.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::login::{address_key, username_key, LoginPolicy};
    use std::sync::Arc;
    use std::time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);

    fn vm_rss_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    #[tokio::test]
    async fn the_rate_is_allowed_then_refused_with_the_rounded_up_wait() {
        let store = MemoryThrottleStore::new();
        let rate = Rate::per_minute(10);
        for _ in 0..10 {
            assert_eq!(store.hit("k", rate, T0).await.unwrap(), Decision::Allowed);
        }
        let at = T0 + Duration::from_millis(20_500);
        assert_eq!(
            store.hit("k", rate, at).await.unwrap(),
            Decision::Refused {
                wait: Duration::from_secs(40)
            }
        );
        let at = T0 + Duration::from_micros(59_999_999);
        assert_eq!(
            store.hit("k", rate, at).await.unwrap().retry_after_secs(),
            Some(1)
        );
    }

    #[tokio::test]
    async fn a_new_window_opens_exactly_when_the_last_one_ends() {
        let store = MemoryThrottleStore::new();
        let rate = Rate::per_minute(2);
        store.hit("k", rate, T0).await.unwrap();
        store
            .hit("k", rate, T0 + Duration::from_secs(30))
            .await
            .unwrap();
        // Refused hits inside the window are not counted...
        for s in 31..60 {
            let d = store
                .hit("k", rate, T0 + Duration::from_secs(s))
                .await
                .unwrap();
            assert_eq!(d.retry_after_secs(), Some(60 - s));
        }
        // ...so the whole allowance is back at T0 + 60 s.
        let t1 = T0 + Duration::from_secs(60);
        assert!(store.hit("k", rate, t1).await.unwrap().is_allowed());
        assert!(store.hit("k", rate, t1).await.unwrap().is_allowed());
        let d = store.hit("k", rate, t1).await.unwrap();
        assert_eq!(
            d.retry_after_secs(),
            Some(60),
            "the new window opened at T0 + 60 s"
        );
    }

    #[tokio::test]
    async fn keys_are_counted_apart_and_can_be_reset() {
        let store = MemoryThrottleStore::new();
        let rate = Rate::per_hour(1);
        assert!(store.hit("a", rate, T0).await.unwrap().is_allowed());
        assert!(store.hit("b", rate, T0).await.unwrap().is_allowed());
        assert!(!store.hit("a", rate, T0).await.unwrap().is_allowed());
        store.reset("a").await.unwrap();
        assert!(store.hit("a", rate, T0).await.unwrap().is_allowed());
        assert!(!store.hit("b", rate, T0).await.unwrap().is_allowed());
    }

    #[tokio::test]
    async fn a_zero_rate_refuses_and_stores_nothing() {
        let store = MemoryThrottleStore::new();
        let d = store.hit("k", Rate::per_day(0), T0).await.unwrap();
        assert_eq!(d.retry_after_secs(), Some(86_400));
        assert!(store.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_hundred_concurrent_hits_against_ten_a_minute_allow_exactly_ten() {
        let store = Arc::new(MemoryThrottleStore::new());
        let rate: Rate = "10/min".parse().unwrap();
        let start = Arc::new(tokio::sync::Barrier::new(200));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    store.hit("throttle_user_1", rate, T0).await
                })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Decision::Allowed => allowed += 1,
                Decision::Refused { wait } => assert_eq!(wait, Duration::from_secs(60)),
            }
        }
        assert_eq!(allowed, 10);
    }

    #[tokio::test]
    async fn a_million_distinct_keys_stay_within_the_capacity() {
        const CAPACITY: usize = 10_000;
        const KEYS: u64 = 1_000_000;
        let store = MemoryThrottleStore::with_capacity(CAPACITY);
        let rate = Rate::per_day(100);
        let before = vm_rss_kib();
        let mut at_tenth = None;
        for i in 0..KEYS {
            // Every key is live for a day: nothing expires, eviction must work.
            let now = T0 + Duration::from_micros(i);
            let key = format!("throttle_anon_{i}");
            assert!(store.hit(&key, rate, now).await.unwrap().is_allowed());
            if i % 10_000 == 0 {
                assert!(store.len() <= CAPACITY, "{} keys at {i}", store.len());
            }
            if i == KEYS / 10 {
                at_tenth = vm_rss_kib();
            }
        }
        let after = vm_rss_kib();
        assert!(store.len() <= CAPACITY);
        assert!(store.len() >= CAPACITY * 3 / 4, "{} keys", store.len());
        println!(
            "{KEYS} distinct keys, capacity {CAPACITY}: {} keys held; VmRSS {before:?} KiB before, \
             {at_tenth:?} KiB after {} keys, {after:?} KiB after all",
            store.len(),
            KEYS / 10
        );
    }

    #[tokio::test]
    async fn memory_per_key_at_full_default_capacity() {
        // Informational: what a full store of the default capacity costs.
        let before = vm_rss_kib();
        let store = MemoryThrottleStore::new();
        for i in 0..DEFAULT_CAPACITY as u64 {
            let key = format!("throttle_anon_{i}");
            store.hit(&key, Rate::per_day(100), T0).await.unwrap();
        }
        let after = vm_rss_kib();
        if let (Some(b), Some(a)) = (before, after) {
            println!(
                "{} keys held: VmRSS +{} KiB, about {} bytes per key",
                store.len(),
                a.saturating_sub(b),
                a.saturating_sub(b) * 1024 / store.len().max(1) as u64
            );
        }
        assert!(store.len() <= store.capacity());
    }

    #[tokio::test]
    async fn a_flood_of_fresh_keys_does_not_evict_a_throttled_one() {
        let store = MemoryThrottleStore::with_capacity(1_000);
        let rate = Rate::per_hour(3);
        for _ in 0..3 {
            store.hit("victim", rate, T0).await.unwrap();
        }
        for i in 0..100_000u64 {
            store.hit(&format!("flood{i}"), rate, T0).await.unwrap();
        }
        assert!(store.len() <= 1_000);
        assert!(
            !store.hit("victim", rate, T0).await.unwrap().is_allowed(),
            "still throttled"
        );
    }

    #[tokio::test]
    async fn full_shards_drop_expired_keys_first_and_purge_drops_them_all() {
        let store = MemoryThrottleStore::with_capacity(64);
        for i in 0..64 {
            store
                .hit(&format!("old{i}"), Rate::per_second(5), T0)
                .await
                .unwrap();
        }
        let later = T0 + Duration::from_secs(2);
        for i in 0..64 {
            store
                .hit(&format!("new{i}"), Rate::per_second(5), later)
                .await
                .unwrap();
        }
        let held = store.len();
        assert!(held <= 64);
        assert_eq!(store.purge_expired(later + Duration::from_secs(1)), held);
        assert!(store.is_empty());
    }

    #[derive(Clone, Copy)]
    struct E(u32, i64);
    impl Slot for E {
        fn expires(&self) -> i64 {
            self.1
        }
        fn rank(&self) -> u32 {
            self.0
        }
    }

    #[test]
    fn making_room_drops_expired_entries_first() {
        let mut map: Shard<E> = (0..16)
            .map(|i| (i, E(9, if i < 5 { 10 } else { 100 })))
            .collect();
        make_room(&mut map, 16, 50);
        // The five expired entries went; that freed more than an eighth.
        assert_eq!(map.len(), 11);
        assert!(map.values().all(|e| e.1 == 100));
        // Not full: nothing happens.
        make_room(&mut map, 16, 50);
        assert_eq!(map.len(), 11);
    }

    #[test]
    fn making_room_drops_the_fewest_hits_then_the_soonest_to_expire() {
        let mut map: Shard<E> = (0..16u128)
            .map(|i| (i, E(if i < 4 { 1 } else { 5 }, 100 + i as i64)))
            .collect();
        make_room(&mut map, 16, 0);
        // An eighth of 16 is 2: the two rank-1 entries expiring soonest.
        assert_eq!(map.len(), 14);
        assert!(!map.contains_key(&0) && !map.contains_key(&1));
        assert!(map.contains_key(&2) && map.contains_key(&3));
        // Ties on (rank, expiry) are broken without dropping more than needed.
        let mut map: Shard<E> = (0..16u128).map(|i| (i, E(1, 100))).collect();
        make_room(&mut map, 16, 0);
        assert_eq!(map.len(), 14);
        let mut map: Shard<E> = (0..1u128).map(|i| (i, E(1, 100))).collect();
        make_room(&mut map, 1, 0);
        assert!(map.is_empty());
    }

    #[tokio::test]
    async fn a_locked_username_survives_a_flood_of_usernames() {
        let store = Arc::new(MemoryLoginAttemptStore::with_capacity(1_000));
        let policy = LoginPolicy {
            max_failures_per_address: u32::MAX,
            ..LoginPolicy::default()
        };
        let limit = policy.username_limit();
        for _ in 0..5 {
            store
                .record_failure(&username_key("alice"), limit, T0)
                .await
                .unwrap();
        }
        let ip: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..100_000u64 {
            let at = T0 + Duration::from_millis(i / 10);
            store
                .record_failure(&username_key(&format!("u{i}")), limit, at)
                .await
                .unwrap();
            store
                .record_failure(&address_key(ip), policy.address_limit(), at)
                .await
                .unwrap();
        }
        assert!(store.len() <= 1_000);
        let at = T0 + Duration::from_secs(10);
        assert_eq!(
            store
                .locked_until(&username_key("alice"), at)
                .await
                .unwrap(),
            Some(T0 + Duration::from_secs(30))
        );
    }
}
