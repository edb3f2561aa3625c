//! The audit writer under pressure: a store that is slow (or stopped) makes
//! callers wait for room in the queue, which never holds more than its
//! capacity; nothing is dropped and nothing is spawned per event; anonymous
//! noise is counted in a bounded map, written at least every second.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_axum::audit::{AuditSettings, Auditor};
use tessera_core::audit::{
    AggregatedEvents, AuditPage, AuditQuery, AuditRecord, AuditStore, EventKind, NewAuditEvent,
};
use tessera_core::StoreError;
use tessera_testkit::MemoryStore;
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

/// A [`MemoryStore`] whose writes wait for a permit of `gate` (none at first:
/// the store is stopped until the test adds some) and then for `delay`.
#[derive(Debug)]
struct SlowStore {
    inner: MemoryStore,
    gate: Semaphore,
    open: AtomicBool,
    delay: Duration,
    writes: AtomicUsize,
}

impl SlowStore {
    fn new(delay: Duration, open: bool) -> Arc<Self> {
        Arc::new(SlowStore {
            inner: MemoryStore::new(),
            gate: Semaphore::new(0),
            open: AtomicBool::new(open),
            delay,
            writes: AtomicUsize::new(0),
        })
    }

    async fn wait(&self) {
        if !self.open.load(Ordering::SeqCst) {
            self.gate.acquire().await.unwrap().forget();
        }
        tokio::time::sleep(self.delay).await;
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

#[async_trait]
impl AuditStore for SlowStore {
    async fn append(&self, event: NewAuditEvent) -> Result<AuditRecord, StoreError> {
        self.wait().await;
        self.inner.append(event).await
    }

    async fn append_many(&self, events: Vec<NewAuditEvent>) -> Result<(), StoreError> {
        self.wait().await;
        self.inner.append_many(events).await
    }

    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.inner.query(q).await
    }

    async fn add_aggregated(&self, entries: Vec<AggregatedEvents>) -> Result<(), StoreError> {
        self.wait().await;
        self.inner.add_aggregated(entries).await
    }

    async fn event_counts(
        &self,
        kinds: &[EventKind],
        since: OffsetDateTime,
        bucket: std::time::Duration,
    ) -> Result<Vec<tessera_core::audit::EventCount>, StoreError> {
        self.inner.event_counts(kinds, since, bucket).await
    }

    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.delete_events_before(before).await
    }
}

fn failed_login(i: usize) -> NewAuditEvent {
    NewAuditEvent {
        username: format!("user{i}"),
        ip: Some("203.0.113.7".to_owned()),
        route: Some("/api-token-auth/".to_owned()),
        ..NewAuditEvent::new(T0, EventKind::LoginFailed)
    }
}

fn throttled(ip: &str) -> NewAuditEvent {
    NewAuditEvent {
        ip: Some(ip.to_owned()),
        route: Some("/api/public/".to_owned()),
        ..NewAuditEvent::new(T0, EventKind::Throttled)
    }
}

async fn all(store: &SlowStore) -> Vec<AuditRecord> {
    store.query(&AuditQuery::default()).await.unwrap().events
}

/// With the store stopped, callers past the queue's capacity (and the batch
/// the writer holds) wait; the queue holds exactly its capacity, no task is
/// spawned for the waiting events, and once the store moves every event is
/// written, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_makes_callers_wait_and_loses_nothing() {
    const CAPACITY: usize = 16;
    const CALLERS: usize = 1000;
    let store = SlowStore::new(Duration::ZERO, false);
    let auditor = Auditor::with_settings(
        store.clone(),
        AuditSettings {
            queue_capacity: CAPACITY,
            ..AuditSettings::default()
        },
    );
    let done = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for i in 0..CALLERS {
        let (auditor, done) = (auditor.clone(), done.clone());
        callers.push(tokio::spawn(async move {
            auditor.record(failed_login(i)).await;
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // Let every caller get as far as it can.
    let tasks = tokio::runtime::Handle::current().metrics();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if auditor.queue_depth() == CAPACITY {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(auditor.queue_depth(), CAPACITY);
    let finished = done.load(Ordering::SeqCst);
    // The writer took one batch (at most 256) and is stuck writing it; the
    // queue is full; everyone else waits.
    assert!(
        (CAPACITY..=CAPACITY + 256).contains(&finished),
        "{finished} callers finished"
    );
    // The waiting callers and the writer (and a few callers that have
    // counted themselves done but not yet exited).
    assert!(
        tasks.num_alive_tasks() <= CALLERS - finished + 1 + 4,
        "{} tasks alive for {} waiting callers: events were spawned",
        tasks.num_alive_tasks(),
        CALLERS - finished
    );
    assert!(all(&store).await.is_empty());

    store.open();
    for caller in callers {
        caller.await.unwrap();
    }
    auditor.flush().await;
    assert_eq!(auditor.queue_depth(), 0);
    let mut names: Vec<String> = all(&store).await.into_iter().map(|e| e.username).collect();
    names.sort();
    let mut want: Vec<String> = (0..CALLERS).map(|i| format!("user{i}")).collect();
    want.sort();
    assert_eq!(names, want);
    assert_eq!((auditor.failures(), auditor.lost()), (0, 0));
}

/// A slow store: the queue depth, sampled all along, never exceeds the
/// capacity, and every event arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_never_lets_the_queue_grow_past_its_capacity() {
    const CAPACITY: usize = 8;
    let store = SlowStore::new(Duration::from_millis(5), true);
    let auditor = Auditor::with_settings(
        store.clone(),
        AuditSettings {
            queue_capacity: CAPACITY,
            ..AuditSettings::default()
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (auditor, stop) = (auditor.clone(), stop.clone());
        tokio::spawn(async move {
            let mut deepest = 0;
            while !stop.load(Ordering::SeqCst) {
                deepest = deepest.max(auditor.queue_depth());
                tokio::task::yield_now().await;
            }
            deepest
        })
    };
    let callers: Vec<_> = (0..400)
        .map(|i| {
            let auditor = auditor.clone();
            tokio::spawn(async move { auditor.record(failed_login(i)).await })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let deepest = sampler.await.unwrap();
    assert!(deepest <= CAPACITY, "queue held {deepest}");
    assert!(deepest > 0, "the queue was never used");
    auditor.flush().await;
    assert_eq!(all(&store).await.len(), 400);
}

/// A flood of anonymous noise from more addresses than the map may hold:
/// the writer holds at most `max_pending_rows` rows, writes early, and the
/// counts add up exactly, one row per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_addresses_keeps_the_map_bounded() {
    const ROWS: usize = 4;
    let store = SlowStore::new(Duration::from_millis(1), true);
    let auditor = Auditor::with_settings(
        store.clone(),
        AuditSettings {
            queue_capacity: 64,
            max_pending_rows: ROWS,
            ..AuditSettings::default()
        },
    );
    let mut deepest = 0;
    for i in 0..5_000 {
        auditor
            .record(throttled(&format!("10.0.0.{}", i % 50)))
            .await;
        deepest = deepest.max(auditor.pending_rows());
    }
    auditor.flush().await;
    assert!(deepest <= ROWS, "{deepest} rows pending");
    assert_eq!(auditor.pending_rows(), 0);
    let rows = all(&store).await;
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r.detail["count"] == 100), "{rows:?}");
    assert!(store.writes.load(Ordering::SeqCst) > 5_000 / 50 / ROWS);
}

/// Without any flush, an aggregated event shows in its row within the
/// flush interval (one second; API.md allows five), and so do later ones.
#[tokio::test]
async fn counts_are_written_within_a_second_without_a_flush() {
    let store = SlowStore::new(Duration::ZERO, true);
    let auditor = Auditor::new(store.clone());
    let count = |rows: Vec<AuditRecord>| rows.first().map(|r| r.detail["count"].clone());
    for expected in [3, 5] {
        let started = std::time::Instant::now();
        let more = if expected == 3 { 3 } else { 2 };
        for _ in 0..more {
            auditor.record(throttled("198.51.100.4")).await;
        }
        loop {
            if count(all(&store).await) == Some(expected.into()) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "count {expected} not written within 2 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(all(&store).await.len(), 1);
}

/// Dropping the auditor (shutdown) closes the queue: the writer writes what
/// it was given, aggregated counts included, before it ends.
#[tokio::test]
async fn dropping_the_auditor_writes_what_is_queued() {
    let store = SlowStore::new(Duration::ZERO, true);
    let auditor = Auditor::new(store.clone());
    auditor.record(throttled("198.51.100.5")).await;
    auditor.record(throttled("198.51.100.5")).await;
    auditor.record(failed_login(1)).await;
    drop(auditor);
    let started = std::time::Instant::now();
    while all(&store).await.len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rows = all(&store).await;
    let counts: Vec<_> = rows
        .iter()
        .map(|r| r.detail.get("count").cloned())
        .collect();
    assert!(counts.contains(&Some(2.into())), "{rows:?}");
    assert!(rows.iter().any(|r| r.username == "user1"));
}
