//! Hashing, verification, Django's hashers and the pool as callers see it.

use super::*;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use tracing::Instrument as _;

fn cheap() -> Argon2Params {
    Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    }
}

/// One idle-lane thread and no share lane, waits long enough never to
/// matter: the give-way gate alone.
fn idle_lane_only() -> PasswordHasher {
    PasswordHasher::with_pool(
        cheap(),
        PoolSettings {
            workers: 1,
            queue_limit: 4,
            min_share: 0.0,
            max_queue_wait: Duration::from_secs(600),
            ..PoolSettings::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn default_parameters_are_owasps() {
    let hash = hash_now(&Argon2Params::default(), &Secret::new("pw")).unwrap_or_default();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[test]
fn a_hash_verifies_its_password_only() {
    let p = cheap();
    let hash = hash_now(&p, &Secret::new("correct horse")).unwrap_or_default();
    assert_eq!(
        verify_now(&p, &Secret::new("correct horse"), &hash),
        Verification::Valid { rehash: None }
    );
    assert_eq!(
        verify_now(&p, &Secret::new("correct hors"), &hash),
        Verification::Invalid
    );
    assert_eq!(
        verify_now(&p, &Secret::new("Correct horse"), &hash),
        Verification::Invalid
    );
    assert_eq!(
        verify_now(&p, &Secret::new(" correct horse"), &hash),
        Verification::Invalid
    );
}

#[test]
fn composed_and_decomposed_spellings_are_one_password() {
    let p = cheap();
    let hash = hash_now(&p, &Secret::new("p\u{e4}ssw\u{f6}rd")).unwrap_or_default();
    assert!(verify_now(&p, &Secret::new("pa\u{308}sswo\u{308}rd"), &hash).is_valid());
}

#[test]
fn djangos_pbkdf2_sha256_hashes_verify_and_are_upgraded() {
    // make_password("tessera", salt="seasalt", hasher=PBKDF2PasswordHasher with 1000 iterations),
    // computed with Python's hashlib.pbkdf2_hmac exactly as Django does.
    let django = "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";
    let p = cheap();
    match verify_now(&p, &Secret::new("tessera"), django) {
        Verification::Valid { rehash: Some(new) } => {
            assert!(new.starts_with("$argon2id$"));
            assert!(verify_now(&p, &Secret::new("tessera"), &new).is_valid());
        }
        other => panic!("expected a valid password with a rehash, got {other:?}"),
    }
    assert_eq!(
        verify_now(&p, &Secret::new("tesserA"), django),
        Verification::Invalid
    );
}

#[test]
fn the_reusing_path_agrees_with_the_crates_own_verification() {
    for params in [
        cheap(),
        Argon2Params {
            m_cost: 128,
            t_cost: 2,
            p_cost: 2,
        },
    ] {
        let hash = hash_now(&params, &Secret::new("pw")).unwrap_or_default();
        let parsed = PasswordHash::new(&hash).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            verify_argon2_reusing_memory("pw", &parsed, usize::MAX),
            Some(true)
        );
        assert_eq!(
            verify_argon2_reusing_memory("pW", &parsed, usize::MAX),
            Some(false)
        );
        // Twice, with the thread's memory already used by a larger hash.
        assert_eq!(
            verify_argon2_reusing_memory("pw", &parsed, usize::MAX),
            Some(true)
        );
    }
    // A hash made elsewhere with argon2i (not id) verifies too.
    let argon2i = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(64, 1, 1, None).unwrap_or_default(),
    );
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hash = argon2i
        .hash_password(b"pw", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default();
    assert!(verify_phc("pw", &hash, &cheap()));
    assert!(!verify_phc("px", &hash, &cheap()));
}

#[test]
fn djangos_argon2_hashes_verify() {
    let p = cheap();
    let phc = hash_now(&p, &Secret::new("pw")).unwrap_or_default();
    let django = format!("argon2{phc}");
    assert!(verify_now(&p, &Secret::new("pw"), &django).is_valid());
}

#[test]
fn djangos_default_argon2_verifies_and_its_memory_is_given_back() {
    // Django's Argon2PasswordHasher: argon2id, m=102400 (100 MiB), t=2, p=8.
    let django = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(102_400, 2, 8, None).unwrap_or_default(),
    );
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let phc = django
        .hash_password(b"pw", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default();
    let stored = format!("argon2{phc}");
    let current = Argon2Params::default();
    let held = || ARGON2_MEMORY.with(|m| m.borrow().capacity());
    assert!(verify_now(&current, &Secret::new("pw"), &stored).is_valid());
    // The thread keeps no more than the current parameters need
    // (19,456 blocks of 1 KiB), not Django's 102,400.
    assert!(held() <= 19_456, "{} blocks held", held());
    assert_eq!(
        verify_now(&current, &Secret::new("pW"), &stored),
        Verification::Invalid
    );
    assert!(held() <= 19_456, "{} blocks held", held());
}

#[test]
fn unusable_unknown_and_overlong_are_invalid() {
    let p = cheap();
    assert_eq!(
        verify_now(&p, &Secret::new("x"), "!abc"),
        Verification::Invalid
    );
    assert_eq!(
        verify_now(&p, &Secret::new("x"), "md5$a$b"),
        Verification::Invalid
    );
    let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
    let hash = hash_now(&p, &Secret::new(long.clone())).unwrap_or_default();
    assert_eq!(
        verify_now(&p, &Secret::new(long), &hash),
        Verification::Invalid
    );
}

#[test]
fn weaker_parameters_need_a_rehash() {
    let strong = Argon2Params::default();
    let weak = hash_now(&cheap(), &Secret::new("pw")).unwrap_or_default();
    assert!(needs_rehash(&strong, &weak));
    assert!(!needs_rehash(&cheap(), &weak));
    assert!(needs_rehash(&strong, "pbkdf2_sha256$1$a$b"));
}

#[test]
fn params_parse_and_refuse_nonsense() {
    assert_eq!(
        "m=19456,t=2,p=1".parse::<Argon2Params>(),
        Ok(Argon2Params::default())
    );
    assert!("m=1,t=0,p=1".parse::<Argon2Params>().is_err());
    assert!("q=1".parse::<Argon2Params>().is_err());
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_threads_run_at_idle_priority() {
    use thread_priority::unix::{
        thread_schedule_policy, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
    };
    let hasher = idle_lane_only();
    let policy = hasher.run(|_| thread_schedule_policy().ok()).await.ok();
    assert_eq!(
        policy,
        Some(Some(ThreadSchedulePolicy::Normal(
            NormalThreadSchedulePolicy::Idle
        )))
    );
    // The caller's own thread is left alone.
    assert_eq!(
        thread_schedule_policy().ok(),
        Some(ThreadSchedulePolicy::Normal(
            NormalThreadSchedulePolicy::Other
        ))
    );
}

/// Keeps the runtime's only worker busy until dropped (a failed
/// assertion too, or the runtime's shutdown would wait for the worker for
/// ever): as a saturated server's worker is, polling short tasks one
/// after another and never parking (tokio adds up a worker's busy time
/// when it parks and every few dozen polls). Two tasks hand a message to
/// each other, each spinning for 50 µs first, so there is always one
/// ready to run.
struct BusyWorker(Arc<std::sync::atomic::AtomicBool>);

impl Drop for BusyWorker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn keep_the_worker_busy() -> BusyWorker {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (to_a, mut a) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (to_b, mut b) = tokio::sync::mpsc::unbounded_channel::<()>();
    let spin = || {
        let poll = Instant::now();
        while poll.elapsed() < Duration::from_micros(50) {
            std::hint::spin_loop();
        }
    };
    let flag = stop.clone();
    tokio::spawn(async move {
        while a.recv().await.is_some() && !flag.load(Ordering::Relaxed) {
            spin();
            let _ = to_b.send(());
        }
    });
    let flag = stop.clone();
    let back = to_a.clone();
    tokio::spawn(async move {
        while b.recv().await.is_some() && !flag.load(Ordering::Relaxed) {
            spin();
            let _ = back.send(());
        }
    });
    let _ = to_a.send(());
    BusyWorker(stop)
}

// The test body runs on the test's own thread (block_on), spawned tasks
// on the runtime's single worker.
// Timing on a quiet machine: the idle lane's thread runs at the lowest
// priority, which a loaded machine (the rest of the suite) starves.
// scripts/test runs these alone, after everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "needs a quiet machine: scripts/test runs it alone"]
async fn a_job_gives_way_while_the_runtime_is_busy() {
    let hasher = idle_lane_only().with_max_give_way(Duration::from_secs(60));
    let busy = keep_the_worker_busy();
    // The thread's first look finds nothing to compare with.
    let job = Duration::from_millis(30);
    hasher
        .run(move |_| std::thread::sleep(job))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hasher.gave_way(), 0);
    // The worker was busy all through that job: the next one waits...
    // (submitted by one poll here, and waited for with std's sleep: the
    // busy worker is in no state to drive tokio's timers promptly).
    let mut next = Box::pin(hasher.run(|_| Instant::now()));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(next.as_mut().poll(&mut context).is_pending());
    for _ in 0..500 {
        if hasher.gave_way() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(hasher.gave_way(), 1);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!((hasher.queue_depth(), hasher.running()), (1, 0));
    // ...until the runtime has time to spare.
    let freed = Instant::now();
    drop(busy);
    let started = next.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(started >= freed);
    assert_eq!((hasher.gave_way(), hasher.forced()), (1, 0));
}

// Timing on a quiet machine: the idle lane's thread runs at the lowest
// priority, which a loaded machine (the rest of the suite) starves.
// scripts/test runs these alone, after everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "needs a quiet machine: scripts/test runs it alone"]
async fn a_job_that_gave_way_as_long_as_allowed_runs_anyway() {
    let max = Duration::from_millis(100);
    let hasher = idle_lane_only().with_max_give_way(max);
    let busy = keep_the_worker_busy();
    let job = Duration::from_millis(30);
    hasher
        .run(move |_| std::thread::sleep(job))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let submitted = Instant::now();
    let policy = hasher
        .run(|_| current_policy())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(submitted.elapsed() >= max);
    assert_eq!((hasher.gave_way(), hasher.forced()), (1, 1));
    // At normal priority, where this process may raise it, so that it is
    // done in one stretch.
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let may_raise = std::thread::spawn(|| {
            lowest_priority();
            normal_priority()
        })
        .join()
        .unwrap_or(false);
        let expected = if may_raise {
            NormalThreadSchedulePolicy::Other
        } else {
            NormalThreadSchedulePolicy::Idle
        };
        assert_eq!(policy, Some(ThreadSchedulePolicy::Normal(expected)));
    }
    drop(busy);
    // Once the runtime is idle again, a job starts at once, back at the
    // lowest priority.
    std::thread::sleep(Duration::from_millis(50));
    let next = hasher
        .run(|_| current_policy())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((hasher.gave_way(), hasher.forced()), (1, 1));
    #[cfg(target_os = "linux")]
    assert_eq!(
        next,
        Some(thread_priority::unix::ThreadSchedulePolicy::Normal(
            thread_priority::unix::NormalThreadSchedulePolicy::Idle
        ))
    );
    #[cfg(not(target_os = "linux"))]
    let _ = (policy, next);
}

#[cfg(target_os = "linux")]
fn current_policy() -> Option<thread_priority::unix::ThreadSchedulePolicy> {
    thread_priority::unix::thread_schedule_policy().ok()
}

#[cfg(not(target_os = "linux"))]
fn current_policy() -> Option<()> {
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_alone_never_give_way() {
    // The default cost, so that the threads' looks are far enough apart
    // to be judged (GIVE_WAY_POLL): cheap jobs would never be.
    let hasher =
        PasswordHasher::new(Argon2Params::default(), 2, 64).unwrap_or_else(|e| panic!("{e}"));
    let hash = hasher.hash(&Secret::new("pw")).await.unwrap_or_default();
    // Twenty logins at once, from tasks on the runtime's workers, which
    // wait for them parked: the runtime has all the time to spare.
    let logins: Vec<_> = (0..20)
        .map(|_| {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            tokio::spawn(async move { hasher.verify(&Secret::new("pw"), Some(&hash)).await })
        })
        .collect();
    for login in logins {
        let ok = login.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.map(|v| v.is_valid()).ok(), Some(true));
    }
    assert_eq!((hasher.gave_way(), hasher.forced()), (0, 0));
    assert_eq!(hasher.verifications(), 20);
}

#[tokio::test]
async fn every_failed_verification_runs_exactly_one_argon2id_at_the_current_parameters() {
    let p = cheap();
    let hasher = PasswordHasher::new(p, 1, 4).unwrap_or_else(|e| panic!("{e}"));
    let current = hash_now(&p, &Secret::new("pw")).unwrap_or_default();
    let weaker =
        hash_now(&Argon2Params { m_cost: 32, ..p }, &Secret::new("pw")).unwrap_or_default();
    let django = "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";
    for stored in [
        None,
        Some(current.as_str()),
        Some("!unusable-Xy12"),
        Some("md5$salt$0123456789abcdef"),
        Some("$argon2id$v=19$m=64,t=1,p=1$garbled"),
        Some(weaker.as_str()),
        Some(django),
    ] {
        let before = hasher.argon2_runs();
        let verified = hasher
            .verify(&Secret::new("wrong"), stored)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verified, Verification::Invalid, "{stored:?}");
        assert_eq!(hasher.argon2_runs() - before, 1, "{stored:?}");
    }
    // A right password against a cheaper hash pays with its re-hash.
    let before = hasher.argon2_runs();
    let upgraded = hasher.verify(&Secret::new("tessera"), Some(django)).await;
    assert!(matches!(
        upgraded,
        Ok(Verification::Valid { rehash: Some(_) })
    ));
    assert_eq!(hasher.argon2_runs() - before, 1);
    // Work outside a counted job (the CLI's hash_now) is not counted.
    let before = hasher.argon2_runs();
    let _ = hash_now(&p, &Secret::new("pw"));
    assert_eq!(hasher.argon2_runs(), before);
    let _ = hasher.hash(&Secret::new("pw")).await;
    assert_eq!(hasher.argon2_runs(), before + 1);
}

#[tokio::test]
async fn the_pool_refuses_past_its_queue_limit() {
    let hasher = PasswordHasher::new(cheap(), 1, 0).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        hasher.hash(&Secret::new("pw")).await,
        Err(HashError::Busy)
    ));
    let hasher = PasswordHasher::new(cheap(), 1, 4).unwrap_or_else(|e| panic!("{e}"));
    let hash = hasher.hash(&Secret::new("pw")).await.unwrap_or_default();
    assert!(hasher
        .verify(&Secret::new("pw"), Some(&hash))
        .await
        .map(|v| v.is_valid())
        .unwrap_or(false));
    assert_eq!(
        hasher.verify(&Secret::new("pw"), None).await.ok(),
        Some(Verification::Invalid)
    );
    assert_eq!(hasher.queue_depth(), 0);
    assert_eq!(hasher.verifications(), 2);
}

/// Hashing runs on the hashing threads: a single-threaded runtime keeps
/// serving other tasks while a slow (default-cost) hash is in flight.
#[test]
fn hashing_never_blocks_the_async_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let hasher =
            PasswordHasher::new(Argon2Params::default(), 1, 4).unwrap_or_else(|e| panic!("{e}"));
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let hash = hasher.hash(&Secret::new("pw")).await.unwrap_or_default();
        let during = ticks.load(Ordering::Relaxed);
        ticker.abort();
        assert!(hash.starts_with("$argon2id$"));
        // On the runtime's only thread the ticker could not have run at all.
        assert!(during >= 3, "the runtime was blocked: {during} ticks");
    });
}

/// Occupies the hasher's only idle-lane thread until the returned sender
/// is dropped or sent to; returns once the blocking job runs.
async fn block_the_only_thread(
    hasher: &PasswordHasher,
) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let h = hasher.clone();
    let blocker = tokio::spawn(async move {
        let _ = h
            .run(move |_| {
                let _ = blocked.recv();
            })
            .await;
    });
    while hasher.running() == 0 {
        assert!(!blocker.is_finished(), "the blocking job did not run");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (release, blocker)
}

#[tokio::test]
async fn a_job_whose_caller_has_gone_is_never_hashed() {
    let hasher = idle_lane_only();
    let stored = hash_now(&cheap(), &Secret::new("pw")).unwrap_or_default();
    let (release, blocker) = block_the_only_thread(&hasher).await;
    let before = hasher.argon2_runs();
    {
        // Queued (one poll), then dropped: as hyper drops a handler's
        // future when its client goes away.
        let password = Secret::new("pw");
        let mut login = Box::pin(hasher.verify(&password, Some(&stored)));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(login.as_mut().poll(&mut context).is_pending());
        assert_eq!(hasher.queue_depth(), 1);
    }
    assert_eq!((hasher.dropped(), hasher.queue_depth()), (1, 0));
    let _ = release.send(());
    blocker.await.unwrap_or_else(|e| panic!("{e}"));
    // The thread went past the dropped job to the next one.
    let next = hasher.verify(&Secret::new("pw"), Some(&stored)).await;
    assert!(next.map(|v| v.is_valid()).unwrap_or(false));
    assert_eq!(hasher.argon2_runs(), before + 1);
    assert_eq!(hasher.verifications(), 1);
    assert_eq!((hasher.dropped(), hasher.timed_out()), (1, 0));
}

#[tokio::test]
async fn a_job_that_cannot_start_within_the_wait_is_timed_out_unhashed() {
    let hasher = idle_lane_only();
    let stored = hash_now(&cheap(), &Secret::new("pw")).unwrap_or_default();
    let (release, blocker) = block_the_only_thread(&hasher).await;
    let before = hasher.argon2_runs();
    let hasher = hasher.with_max_queue_wait(Duration::from_millis(50));
    let waited = hasher.verify(&Secret::new("pw"), Some(&stored)).await;
    assert!(matches!(waited, Err(HashError::TimedOut)), "{waited:?}");
    assert_eq!((hasher.timed_out(), hasher.queue_depth()), (1, 0));
    let _ = release.send(());
    blocker.await.unwrap_or_else(|e| panic!("{e}"));
    // However slow the machine, the next one starts in time.
    let hasher = hasher.with_max_queue_wait(Duration::from_secs(600));
    let next = hasher.verify(&Secret::new("pw"), Some(&stored)).await;
    assert!(next.map(|v| v.is_valid()).unwrap_or(false));
    assert_eq!(hasher.argon2_runs(), before + 1);
    assert_eq!((hasher.dropped(), hasher.timed_out()), (0, 1));
}

// The body on the test's own thread, spawned tasks on the runtime's
// single worker, kept busy all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_share_lane_hashes_while_the_runtime_is_busy() {
    let hasher = PasswordHasher::with_pool(
        cheap(),
        PoolSettings {
            workers: 1,
            min_share: 1.0,
            max_give_way: Duration::from_secs(600),
            max_queue_wait: Duration::from_secs(600),
            ..PoolSettings::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(hasher.guaranteed_cores() >= 1.0);
    let busy = keep_the_worker_busy();
    // Without the share lane these would wait for the worker (for ten
    // minutes here).
    for _ in 0..5 {
        hasher
            .run(|_| std::thread::sleep(Duration::from_millis(30)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(hasher.forced(), 0);
    assert!(hasher.shared() >= 1);
    drop(busy);
}

#[test]
fn the_queue_holds_what_starts_within_the_wait() {
    let hasher = PasswordHasher::with_pool(
        Argon2Params::default(),
        PoolSettings {
            workers: 1,
            min_share: 0.0,
            ..PoolSettings::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // At first the pace is one job per dummy hash's time.
    let short = hasher
        .clone()
        .with_max_queue_wait(Duration::from_secs(1))
        .queue_limit();
    let long = hasher
        .with_max_queue_wait(Duration::from_secs(8))
        .queue_limit();
    assert!(short >= 1 && long > short, "{short} {long}");
    assert!(long <= pool::DEFAULT_QUEUE_LIMIT);
}

#[tokio::test]
async fn a_jobs_log_lines_carry_the_callers_span() {
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let hasher = idle_lane_only();
    let span = tracing::info_span!("request", request_id = "req-42");
    let verified = hasher
        .verify(&Secret::new("pw"), Some("md5$salt$0123456789abcdef"))
        .instrument(span)
        .await;
    assert_eq!(verified.ok(), Some(Verification::Invalid));
    let text = String::from_utf8_lossy(&lines.0.lock().map(|l| l.clone()).unwrap_or_default())
        .into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("cannot be verified"))
        .unwrap_or_else(|| panic!("no line about the hash in {text:?}"));
    assert!(line.contains("req-42"), "{line}");
}

#[tokio::test]
async fn a_jobs_log_lines_are_in_the_callers_log_scope() {
    use tracing_subscriber::layer::SubscriberExt as _;
    /// A logging thread's name and its scope's request id.
    type Seen = (String, Option<String>);
    // What the hashing thread's scope was when it logged each line.
    #[derive(Clone, Default)]
    struct Scopes(Arc<std::sync::Mutex<Vec<Seen>>>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Scopes {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let scope = crate::log_scope::current().map(|s| s.request_id().to_owned());
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            if event.metadata().target().starts_with("tessera_core") {
                if let Ok(mut seen) = self.0.lock() {
                    seen.push((thread, scope));
                }
            }
        }
    }
    let scopes = Scopes::default();
    let subscriber = tracing_subscriber::registry().with(scopes.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let hasher = idle_lane_only();
    let scope = crate::log_scope::RequestScope::new("req-43");
    let verified = crate::log_scope::Scoped::new(
        scope,
        hasher.verify(&Secret::new("pw"), Some("md5$salt$0123456789abcdef")),
    )
    .await;
    assert_eq!(verified.ok(), Some(Verification::Invalid));
    // Outside the scope, a job is in none.
    let verified = hasher
        .verify(&Secret::new("pw"), Some("md5$salt$0123456789abcdef"))
        .await;
    assert_eq!(verified.ok(), Some(Verification::Invalid));
    let seen = scopes.0.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 2, "{seen:?}");
    // Logged on a hashing thread, not the caller's.
    let caller = std::thread::current().name().unwrap_or("").to_owned();
    assert!(seen.iter().all(|(thread, _)| *thread != caller), "{seen:?}");
    assert_eq!(seen[0].1.as_deref(), Some("req-43"));
    assert_eq!(seen[1].1, None);
}

/// A caller who has its job's value never sees that job still counted as
/// running (`/metrics` scraped right after a login showed
/// `tessera_password_hash_running 1` when the worker lowered the count only
/// after handing the value over). The worker runs at idle priority, so two
/// busy threads at normal priority (one a core) make it lose its core right
/// after the hand-off, when it still had that work to do (the old order
/// failed in nearly every round; with one busy thread, in none).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_job_is_no_longer_running_once_its_caller_has_its_value() {
    let hasher = idle_lane_only();
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let mut seen_running = 0;
    for _ in 0..100 {
        hasher.run(|_| ()).await.unwrap_or_else(|e| panic!("{e}"));
        seen_running += hasher.running();
    }
    stop.store(true, Ordering::Relaxed);
    for spinner in spinners {
        let _ = spinner.join();
    }
    assert_eq!(seen_running, 0);
}
