//! The counter-store suite: the contract of
//! [`ThrottleStore`],
//! [`LoginAttemptStore`] and
//! [`AlertWindowStore`], written
//! once and run on every backend by [`counter_tests!`](crate::counter_tests)
//! (memory here, PostgreSQL in `tessera-store-sql`, Redis in
//! `tessera-store-redis`).
//!
//! Each function gets fresh stores; keys are plain strings, which
//! the store keeps however it does (hashed, prefixed).

use std::sync::Arc;
use std::time::Duration;
use tessera_core::throttle::{
    AlertWindowStore, Decision, FailureLimit, LoginAttemptStore, LoginPolicy, LoginRecord, Rate,
    ThrottleStore,
};
use time::macros::datetime;
use time::OffsetDateTime;

/// The two counter stores of one backend.
#[derive(Clone)]
pub struct CounterStores {
    /// The throttles' windows.
    pub throttle: Arc<dyn ThrottleStore>,
    /// Login failure records.
    pub logins: Arc<dyn LoginAttemptStore>,
    /// Security-alert windows.
    pub alerts: Arc<dyn AlertWindowStore>,
}

impl std::fmt::Debug for CounterStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CounterStores")
    }
}

/// The suite's time zero.
pub const T0: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` allowed, then refused with DRF's rounded-up wait, not counted.
pub async fn hit_allows_the_rate_then_refuses_with_the_rounded_up_wait(s: &CounterStores) {
    let rate = Rate::per_minute(10);
    for i in 0..10 {
        let d = s.throttle.hit("k", rate, T0).await.unwrap();
        assert_eq!(d, Decision::Allowed, "hit {i}");
    }
    let d = s
        .throttle
        .hit("k", rate, T0 + Duration::from_millis(20_500))
        .await
        .unwrap();
    assert_eq!(d, Decision::Refused { wait: secs(40) });
    let d = s
        .throttle
        .hit("k", rate, T0 + Duration::from_micros(59_999_999))
        .await
        .unwrap();
    assert_eq!(d.retry_after_secs(), Some(1));
}

/// Refused hits are not counted; the whole allowance is back when the
/// window ends, and the next window opens at that hit.
pub async fn hit_opens_a_new_window_exactly_when_the_last_ends(s: &CounterStores) {
    let rate = Rate::per_minute(2);
    assert!(s.throttle.hit("k", rate, T0).await.unwrap().is_allowed());
    assert!(s
        .throttle
        .hit("k", rate, T0 + secs(30))
        .await
        .unwrap()
        .is_allowed());
    for at in [31, 45, 59] {
        let d = s.throttle.hit("k", rate, T0 + secs(at)).await.unwrap();
        assert_eq!(d.retry_after_secs(), Some(60 - at), "at {at}");
    }
    let t1 = T0 + secs(60);
    assert!(s.throttle.hit("k", rate, t1).await.unwrap().is_allowed());
    assert!(s.throttle.hit("k", rate, t1).await.unwrap().is_allowed());
    let d = s.throttle.hit("k", rate, t1).await.unwrap();
    assert_eq!(
        d.retry_after_secs(),
        Some(60),
        "the new window opened at T0 + 60 s"
    );
}

/// Keys are counted apart; a reset forgets one key only; a zero rate
/// refuses with the whole period.
pub async fn hit_keys_are_apart_resettable_and_zero_rates_refuse(s: &CounterStores) {
    let rate = Rate::per_hour(1);
    assert!(s.throttle.hit("a", rate, T0).await.unwrap().is_allowed());
    assert!(s.throttle.hit("b", rate, T0).await.unwrap().is_allowed());
    assert!(!s.throttle.hit("a", rate, T0).await.unwrap().is_allowed());
    s.throttle.reset("a").await.unwrap();
    assert!(s.throttle.hit("a", rate, T0).await.unwrap().is_allowed());
    assert!(!s.throttle.hit("b", rate, T0).await.unwrap().is_allowed());
    let d = s.throttle.hit("z", Rate::per_day(0), T0).await.unwrap();
    assert_eq!(d.retry_after_secs(), Some(86_400));
    // A long key (usernames and addresses end up in keys) is just a key.
    let long = "x".repeat(10_000);
    assert!(s.throttle.hit(&long, rate, T0).await.unwrap().is_allowed());
    assert!(!s.throttle.hit(&long, rate, T0).await.unwrap().is_allowed());
}

/// 200 hits at once, from tasks spread over the runtime's worker threads,
/// against `10/min`: exactly 10 allowed.
pub async fn hit_is_exact_under_concurrency(s: &CounterStores) {
    let rate: Rate = "10/min".parse().unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (store, start) = (s.throttle.clone(), start.clone());
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
            Decision::Refused { wait } => assert_eq!(wait, secs(60)),
        }
    }
    assert_eq!(allowed, 10);
}

/// The limit's failure locks for the first back-off; the record reads back;
/// each failure after a lock doubles it, up to the cap.
pub async fn login_failures_lock_at_the_limit_and_double(s: &CounterStores) {
    let limit = LoginPolicy::default().username_limit();
    for i in 1..5 {
        assert_eq!(
            s.logins.record_failure("u", limit, T0).await.unwrap(),
            None,
            "{i}"
        );
    }
    let record = s.logins.live_record("u", T0).await.unwrap().unwrap();
    assert_eq!((record.failures, record.locks), (4, 0));
    assert_eq!(s.logins.locked_until("u", T0).await.unwrap(), None);
    let lock = s
        .logins
        .record_failure("u", limit, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lock.failures, 5);
    assert_eq!(lock.duration, secs(30));
    assert_eq!(lock.until, T0 + secs(30));
    assert_eq!(
        s.logins.locked_until("u", T0 + secs(10)).await.unwrap(),
        Some(T0 + secs(30))
    );
    assert_eq!(
        s.logins.locked_until("u", T0 + secs(30)).await.unwrap(),
        None
    );
    let mut now = T0 + secs(30);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let lock = s
            .logins
            .record_failure("u", limit, now)
            .await
            .unwrap()
            .unwrap();
        seen.push(lock.duration.as_secs());
        now = lock.until;
    }
    assert_eq!(seen, [60, 120, 240, 480, 960, 1920]);
    let record = s.logins.live_record("u", now).await.unwrap().unwrap();
    assert_eq!((record.failures, record.locks), (11, 7));
    assert_eq!(record.since, tessera_core::clock::to_micros(T0));
    // The cap.
    let capped = FailureLimit {
        max_backoff: secs(100),
        ..limit
    };
    let lock = s
        .logins
        .record_failure("u", capped, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lock.duration, secs(100));
}

/// A failure while locked (admitted before the lock began) lengthens the
/// lock without beginning one; a reset forgets the key; a quiet window after
/// the lock, the count starts again.
pub async fn login_records_lengthen_reset_and_expire(s: &CounterStores) {
    let limit = LoginPolicy::default().username_limit();
    for _ in 0..4 {
        s.logins.record_failure("u", limit, T0).await.unwrap();
    }
    assert!(s
        .logins
        .record_failure("u", limit, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.logins.record_failure("u", limit, T0).await.unwrap(), None);
    assert_eq!(
        s.logins.locked_until("u", T0).await.unwrap(),
        Some(T0 + secs(60)),
        "lengthened to the doubled back-off"
    );
    s.logins.reset("u").await.unwrap();
    assert_eq!(s.logins.live_record("u", T0).await.unwrap(), None);
    // Other keys are untouched by a reset.
    s.logins.record_failure("v", limit, T0).await.unwrap();
    s.logins.reset("u").await.unwrap();
    assert_eq!(
        s.logins
            .live_record("v", T0)
            .await
            .unwrap()
            .map(|r| r.failures),
        Some(1)
    );
    // The window: 15 minutes after the first failure, it is forgotten.
    let later = T0 + secs(15 * 60);
    assert_eq!(s.logins.live_record("v", later).await.unwrap(), None);
    s.logins.record_failure("v", limit, later).await.unwrap();
    let record = s.logins.live_record("v", later).await.unwrap().unwrap();
    assert_eq!(record.failures, 1);
    assert_eq!(record.since, tessera_core::clock::to_micros(later));
    // A limit of zero is taken as one.
    let one = FailureLimit {
        max_failures: 0,
        ..limit
    };
    assert!(s
        .logins
        .record_failure("w", one, T0)
        .await
        .unwrap()
        .is_some());
}

/// `live_records` answers each key as `live_record` does, in the order
/// asked: a live key, an absent one, a dead one, a key asked twice.
pub async fn login_records_read_together_as_one_by_one(s: &CounterStores) {
    let limit = LoginPolicy::default().username_limit();
    s.logins.record_failure("live", limit, T0).await.unwrap();
    s.logins.record_failure("live", limit, T0).await.unwrap();
    s.logins
        .record_failure("dead", limit, T0 - secs(15 * 60))
        .await
        .unwrap();
    s.logins.record_failure("other", limit, T0).await.unwrap();
    let keys = ["absent", "live", "dead", "live", "other"];
    let together = s.logins.live_records(&keys, T0).await.unwrap();
    let mut one_by_one = Vec::new();
    for key in keys {
        one_by_one.push(s.logins.live_record(key, T0).await.unwrap());
    }
    assert_eq!(together, one_by_one);
    let failures: Vec<Option<u32>> = together.iter().map(|r| r.map(|r| r.failures)).collect();
    assert_eq!(failures, [None, Some(2), None, Some(2), Some(1)]);
    // Two keys (a login's username and address: a statement of their own
    // on PostgreSQL), in either order, the same key twice, and one key.
    let failures_of = |records: Vec<Option<LoginRecord>>| -> Vec<Option<u32>> {
        records.iter().map(|r| r.map(|r| r.failures)).collect()
    };
    for (pair, expected) in [
        (["live", "other"], [Some(2), Some(1)]),
        (["other", "live"], [Some(1), Some(2)]),
        (["absent", "live"], [None, Some(2)]),
        (["live", "dead"], [Some(2), None]),
        (["live", "live"], [Some(2), Some(2)]),
        (["dead", "absent"], [None, None]),
    ] {
        let records = s.logins.live_records(&pair, T0).await.unwrap();
        assert_eq!(failures_of(records), expected, "{pair:?}");
    }
    let one = s.logins.live_records(&["live"], T0).await.unwrap();
    assert_eq!(failures_of(one), [Some(2)]);
    assert_eq!(
        s.logins.live_records(&[], T0).await.unwrap(),
        Vec::<Option<_>>::new()
    );
}

/// 200 failures at once from tasks on several threads are each counted, and
/// exactly one of them begins the lock.
pub async fn login_failures_are_exact_under_concurrency(s: &CounterStores) {
    let limit = FailureLimit {
        max_failures: 50,
        ..LoginPolicy::default().username_limit()
    };
    let start = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (store, start) = (s.logins.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.record_failure("k", limit, T0).await
            })
        })
        .collect();
    let mut began = Vec::new();
    for task in tasks {
        if let Some(lock) = task.await.unwrap().unwrap() {
            began.push(lock);
        }
    }
    assert_eq!(began.len(), 1, "{began:?}");
    assert_eq!(began[0].failures, 50);
    let record = s.logins.live_record("k", T0).await.unwrap().unwrap();
    assert_eq!(record.failures, 200);
    assert_eq!(record.locks, 151);
}

/// An alert window counts distinct values, raises once when they reach the
/// threshold, and opens anew when it ends; keys are apart.
pub async fn alert_window_raises_once_at_the_threshold(s: &CounterStores) {
    let window = secs(15 * 60);
    let a = &s.alerts;
    assert_eq!(a.note("k", "u1", 3, window, T0).await.unwrap(), None);
    assert_eq!(
        a.note("k", "u1", 3, window, T0).await.unwrap(),
        None,
        "a repeat is not new"
    );
    assert_eq!(a.note("k", "u2", 3, window, T0).await.unwrap(), None);
    assert_eq!(a.note("other", "u9", 3, window, T0).await.unwrap(), None);
    assert_eq!(
        a.note("k", "u3", 3, window, T0 + secs(60)).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        a.note("k", "u4", 3, window, T0 + secs(61)).await.unwrap(),
        None,
        "once"
    );
    // The window opened at T0 ends at T0 + 15 min: a new one, a new alert.
    let later = T0 + window;
    assert_eq!(a.note("k", "u1", 3, window, later).await.unwrap(), None);
    assert_eq!(a.note("k", "u2", 3, window, later).await.unwrap(), None);
    assert_eq!(a.note("k", "u3", 3, window, later).await.unwrap(), Some(3));
    // A threshold of zero is taken as one.
    assert_eq!(a.note("z", "v", 0, window, T0).await.unwrap(), Some(1));
}

/// 100 distinct values noted at once from tasks on several threads against
/// a threshold of 10: exactly one note raises the alert.
pub async fn alert_window_raises_exactly_once_under_concurrency(s: &CounterStores) {
    let start = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (store, start) = (s.alerts.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store
                    .note("alert:a:192.0.2.1", &format!("user{i}"), 10, secs(900), T0)
                    .await
            })
        })
        .collect();
    let mut raised = Vec::new();
    for task in tasks {
        if let Some(count) = task.await.unwrap().unwrap() {
            raised.push(count);
        }
    }
    assert_eq!(raised, [10]);
}
