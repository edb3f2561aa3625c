//! The hashing pool: where password hashes are computed, when, and for how
//! long a login may wait for one.
//!
//! Hashing is slow on purpose (tens of milliseconds of one core each), so it
//! runs on threads of its own, never on the async runtime's workers. Three
//! rules decide when a queued job runs:
//!
//! 1. **Give way** (the storm protection). The *idle lane*, one thread per
//!    core at the lowest scheduling priority (`SCHED_IDLE` on Linux), takes a
//!    job only while the async runtime that submits the jobs (the server's)
//!    has time to spare: it looks at the runtime's busy time every 20 ms and
//!    leaves the queue alone while the workers were busy for half their time
//!    or more. On a busy machine any runnable low-priority thread took every
//!    idle moment of the cores and raised the other requests' p99 two to four
//!    times (`bench/RESULTS.md`), so it is not enough to be at a low priority;
//!    the idle lane must not be runnable while the server is busy. After
//!    [`PoolSettings::max_give_way`] of giving way a thread runs the job
//!    anyway, at normal priority where the process may raise it
//!    (`CAP_SYS_NICE`, or an `RLIMIT_NICE` of at least 20); where it may not
//!    and the share lane below runs, it leaves the job to that lane, since a
//!    job run at `SCHED_IDLE` on saturated cores would take seconds.
//! 2. **A guaranteed share.** The *share lane*, `ceil(min_share × cores)`
//!    threads at normal priority, takes jobs whatever the runtime does, paced
//!    by a token bucket of hashing time: the bucket fills at
//!    [`PoolSettings::min_share`] × cores seconds of CPU per second (at most
//!    one per share thread) up to a quarter of a second's worth, every job's
//!    CPU time (measured on the thread's own CPU clock, on either lane) is
//!    taken out of it, and a share thread starts a job only while it holds
//!    credit. So hashing gets at least that share of the machine however busy
//!    the other traffic keeps it, and not much more while the other traffic
//!    needs the cores: logins flow at a known floor (`min_share × cores /
//!    hash time`, 25 a second for a 20 ms hash on 2 cores at the default
//!    0.25) while cheap requests keep most of the machine. Threads of normal
//!    priority need no privilege, unlike raising an idle one.
//! 3. **A bounded wait.** A job that has not started within
//!    [`PoolSettings::max_queue_wait`] of being queued is dropped unhashed and
//!    its caller gets [`HashError::TimedOut`] (the server's 503 with
//!    `Retry-After`) at that moment; a job whose caller has gone (the request
//!    future was dropped: the client closed the connection or timed out) is
//!    dropped before it is hashed. A job that has started is finished. So no
//!    login is answered later than `max_queue_wait` plus one hash. The queue
//!    has no fixed length: a job is refused at once ([`HashError::Busy`])
//!    when the jobs ahead of it would not all start within `max_queue_wait`
//!    at the pace jobs have been starting lately (or, when the pool is
//!    stalled, since the last start), but never below the share lane's
//!    guaranteed pace, so that its caller learns it now rather than after the
//!    wait; [`PoolSettings::queue_limit`] only bounds memory.
//!
//! Measured on the 2-core bench machine (`bench/run overload`, see
//! `bench/RESULTS.md`, "Overload"), under token GETs at 16 connections and
//! anonymous ones at 8 with a login offered every 100 ms: before, about one
//! login a second succeeded (the give-way floor), most were refused and some
//! not answered within 30 s; with the idle lane alone and the bounded wait
//! (`min_share = 0`), 2.5 a second, the rest refused or timed out at 5 s;
//! with the share lane, all ten a second, the slowest answered in 0.5 s, the
//! token p99 1.5 times its quiet value (at 40 offered a second: 33 a second,
//! 1.6 times). Running the share lane under `SCHED_BATCH` instead made no
//! difference the (noisy) machine let through, so it stays at plain normal
//! priority.

use super::HashError;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The default of [`PoolSettings::max_give_way`].
pub const DEFAULT_MAX_GIVE_WAY: Duration = Duration::from_secs(2);

/// The default of [`PoolSettings::max_queue_wait`].
pub const DEFAULT_MAX_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// The default of [`PoolSettings::min_share`]: a quarter of the machine.
pub const DEFAULT_MIN_SHARE: f64 = 0.25;

/// The default of [`PoolSettings::queue_limit`]: a bound on memory only.
pub const DEFAULT_QUEUE_LIMIT: usize = 10_000;

/// How often a thread that gives way looks at the runtime again: short
/// enough that a lull in the traffic is soon used, long enough to span
/// several of the runtime's busy-time updates and for the waiting thread's
/// own wake-ups to cost nothing measurable.
const GIVE_WAY_POLL: Duration = Duration::from_millis(20);

/// The share of the runtime workers' time, busy, at or past which the idle
/// lane gives way. Below it there are idle moments enough for hashing at the
/// lowest priority; at saturation the workers are busy nearly all the time.
const BUSY_SHARE_TO_GIVE_WAY: f64 = 0.5;

/// How much unused share the bucket keeps, in seconds of its own rate: after
/// a quiet spell the share lane may run this far ahead of its rate (a burst
/// of a few jobs), and hashing done freely while the server was idle is
/// forgotten after this long.
const SHARE_WINDOW: Duration = Duration::from_millis(250);

/// How a hashing pool is sized and paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSettings {
    /// Threads of the idle lane (at the lowest priority, hashing while the
    /// server has time to spare); default one per core.
    pub workers: usize,
    /// The most jobs that may wait at once, whatever the rate: a bound on
    /// memory (default 10,000). Below it the queue's length follows from the
    /// rate (see the [module](self)).
    pub queue_limit: usize,
    /// The share of the machine's CPU time (all cores together) that hashing
    /// gets however busy the other traffic keeps it (default 0.25); `0`
    /// turns the share lane off, leaving only the give-way floor.
    pub min_share: f64,
    /// How long the idle lane gives way to a busy runtime before it runs a
    /// job anyway (default 2 s): the older floor of login capacity, one
    /// verification per idle thread per this much time.
    pub max_give_way: Duration,
    /// How long a job may wait to start before it is dropped and its caller
    /// answered [`HashError::TimedOut`] (default 5 s).
    pub max_queue_wait: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            workers: cores(),
            queue_limit: DEFAULT_QUEUE_LIMIT,
            min_share: DEFAULT_MIN_SHARE,
            max_give_way: DEFAULT_MAX_GIVE_WAY,
            max_queue_wait: DEFAULT_MAX_QUEUE_WAIT,
        }
    }
}

/// The machine's cores (as the process may use them).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A queued job: run once, on a hashing thread, after it has started.
/// A queued job: given the pool's count of running jobs, which it lowers
/// once its value is made and before it is handed over, so that a caller
/// who has its value never sees its job still counted as running.
type Job = Box<dyn FnOnce(&AtomicUsize) + Send>;

/// Where a job is in its life; each move away from `QUEUED` happens once.
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// Why a queued job was abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abandon {
    /// Its caller has gone.
    Gone,
    /// It could not start within `max_queue_wait`.
    Expired,
}

/// A job in the queue.
struct Queued {
    job: Job,
    state: Arc<AtomicU8>,
    deadline: Option<Instant>,
    /// An idle thread has given way before it.
    gave_way: bool,
}

/// The queue and whether the pool is closing.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Queued>,
    closed: bool,
}

/// The share lane's token bucket of hashing time.
#[derive(Debug)]
struct Share {
    /// Seconds of hashing CPU per second of wall time.
    rate: f64,
    /// The most (and, as debt, the least) credit kept, in seconds.
    cap: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Seconds of hashing the share lane may still start.
    credit: f64,
    at: Instant,
}

impl Share {
    fn new(rate: f64) -> Share {
        let cap = rate * SHARE_WINDOW.as_secs_f64();
        Share {
            rate,
            cap,
            bucket: Mutex::new(Bucket {
                credit: cap,
                at: Instant::now(),
            }),
        }
    }

    fn bucket(&self) -> Option<MutexGuard<'_, Bucket>> {
        let mut bucket = self.bucket.lock().ok()?;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.credit = (bucket.credit + elapsed * self.rate).min(self.cap);
        bucket.at = now;
        Some(bucket)
    }

    /// Takes `estimate` seconds of credit when there is any; else how long
    /// until there is.
    fn take(&self, estimate: f64) -> Result<(), Duration> {
        let Some(mut bucket) = self.bucket() else {
            return Ok(());
        };
        if bucket.credit > 0.0 {
            bucket.credit -= estimate;
            return Ok(());
        }
        let wait = (-bucket.credit + 1e-4) / self.rate.max(1e-6);
        Err(Duration::from_secs_f64(wait.min(1.0)))
    }

    /// Counts `seconds` of hashing done, less `reserved` taken beforehand.
    fn charge(&self, seconds: f64, reserved: f64) {
        if let Some(mut bucket) = self.bucket() {
            bucket.credit = (bucket.credit + reserved - seconds).max(-self.cap);
        }
    }
}

/// The pace at which queued jobs start, for sizing the queue.
#[derive(Debug)]
struct Pace {
    last_start: Option<Instant>,
    /// Whether jobs were waiting when the last one started: the time to the
    /// next start is then how fast the pool serves a backlog.
    backlogged: bool,
    /// Seconds between starts while there is a backlog (a moving average).
    interval: f64,
}

/// The hashing pool: its queue, its threads' shared state and its counters.
#[derive(Debug)]
pub(crate) struct Pool {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// The async runtime whose workers' busy time the idle lane gives way
    /// to: the one that submitted the first job.
    runtime: OnceLock<Option<tokio::runtime::RuntimeMetrics>>,
    share: Option<Share>,
    pace: Mutex<Pace>,
    queue_limit: usize,
    max_give_way_ns: AtomicU64,
    max_queue_wait_ns: AtomicU64,
    /// A job's CPU time, in nanoseconds (a moving average).
    job_cost_ns: AtomicU64,
    waiting: AtomicUsize,
    running: AtomicUsize,
    gave_way: AtomicU64,
    forced: AtomicU64,
    shared: AtomicU64,
    dropped: AtomicU64,
    timed_out: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("jobs", &self.jobs.len())
            .field("closed", &self.closed)
            .finish()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Which lane a hashing thread serves.
#[derive(Debug, Clone, Copy)]
enum Lane {
    /// Lowest priority, giving way to a busy runtime; `may_raise`: whether
    /// this thread may go back to normal priority for a forced job.
    Idle { may_raise: bool },
    /// Normal priority, paced by the share's bucket.
    Share,
}

/// How a job got started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// On the idle lane, the runtime having time to spare.
    Open,
    /// On the idle lane, after giving way as long as allowed.
    Forced,
    /// On the share lane, with `reserved` seconds of credit taken.
    Share { reserved_ns: u64 },
}

impl Pool {
    /// Starts the pool's threads; `job_cost` is a first estimate of one job's
    /// CPU time (refined by every job run).
    pub(crate) fn start(settings: &PoolSettings, job_cost: Duration) -> Result<Arc<Pool>, String> {
        let workers = settings.workers.max(1);
        let cores = cores();
        let min_share = if settings.min_share.is_finite() {
            settings.min_share.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // ceil(min_share × cores) threads; the rate is at most one core each.
        let share_threads = (min_share * cores as f64).ceil() as usize;
        let share = (share_threads > 0)
            .then(|| Share::new((min_share * cores as f64).min(share_threads as f64)));
        let job_cost = job_cost.max(Duration::from_micros(1));
        let pool = Arc::new(Pool {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            runtime: OnceLock::new(),
            share,
            pace: Mutex::new(Pace {
                last_start: None,
                backlogged: false,
                interval: job_cost.as_secs_f64() / workers as f64,
            }),
            queue_limit: settings.queue_limit,
            max_give_way_ns: AtomicU64::new(nanos(settings.max_give_way)),
            max_queue_wait_ns: AtomicU64::new(nanos(settings.max_queue_wait)),
            job_cost_ns: AtomicU64::new(nanos(job_cost)),
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            gave_way: AtomicU64::new(0),
            forced: AtomicU64::new(0),
            shared: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let lanes = (0..workers)
            .map(|i| (format!("tessera-hash-{i}"), true))
            .chain((0..share_threads).map(|i| (format!("tessera-hash-share-{i}"), false)));
        for (name, idle) in lanes {
            let worker = pool.clone();
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                let lane = if idle {
                    lowest_priority();
                    // Whether a forced job could go back to normal priority.
                    let may_raise = normal_priority();
                    if may_raise {
                        lowest_priority();
                    }
                    Lane::Idle { may_raise }
                } else {
                    Lane::Share
                };
                worker.work(lane);
            });
            if let Err(e) = spawned {
                // The threads already started end.
                pool.close();
                return Err(format!("cannot start a hashing thread: {e}"));
            }
        }
        Ok(pool)
    }

    /// Stops the threads once they are idle (the hasher was dropped).
    pub(crate) fn close(&self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.closed = true;
        }
        self.ready.notify_all();
    }

    pub(crate) fn set_max_give_way(&self, max: Duration) {
        self.max_give_way_ns.store(nanos(max), Ordering::Relaxed);
    }

    pub(crate) fn max_give_way(&self) -> Duration {
        Duration::from_nanos(self.max_give_way_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn set_max_queue_wait(&self, max: Duration) {
        self.max_queue_wait_ns.store(nanos(max), Ordering::Relaxed);
    }

    pub(crate) fn max_queue_wait(&self) -> Duration {
        Duration::from_nanos(self.max_queue_wait_ns.load(Ordering::Relaxed))
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    pub(crate) fn gave_way(&self) -> u64 {
        self.gave_way.load(Ordering::Relaxed)
    }

    pub(crate) fn forced(&self) -> u64 {
        self.forced.load(Ordering::Relaxed)
    }

    pub(crate) fn shared(&self) -> u64 {
        self.shared.load(Ordering::Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn timed_out(&self) -> u64 {
        self.timed_out.load(Ordering::Relaxed)
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The share lane's rate in cores (0 without one).
    pub(crate) fn share_rate(&self) -> f64 {
        self.share.as_ref().map_or(0.0, |s| s.rate)
    }

    /// How many jobs may wait now: as many as would all start within
    /// `max_queue_wait` at the recent pace, within `queue_limit`.
    pub(crate) fn queue_limit(&self) -> usize {
        let Ok(pace) = self.pace.lock() else {
            return self.queue_limit;
        };
        let mut interval = pace.interval;
        if let (true, Some(last)) = (pace.backlogged, pace.last_start) {
            // A stalled pool: nothing started for this long.
            interval = interval.max(last.elapsed().as_secs_f64());
        }
        if let Some(share) = &self.share {
            // The share lane starts jobs at least this often, whatever the
            // other traffic: a gap between starts (a hash dragged out on a
            // crowded core) is not a stall. Without this, a storm's queue
            // was refused in bursts (bench/RESULTS.md, "Overload").
            let cost = self.job_cost_ns.load(Ordering::Relaxed) as f64 / 1e9;
            interval = interval.min(cost / share.rate.max(1e-6));
        }
        let fits = self.max_queue_wait().as_secs_f64() / interval.max(1e-9);
        let fits = if fits >= self.queue_limit as f64 {
            self.queue_limit
        } else {
            fits as usize
        };
        fits.max(1).min(self.queue_limit)
    }

    /// Queues `job` and waits for its value: [`HashError::Busy`] when the
    /// queue is full, [`HashError::TimedOut`] when it could not start within
    /// `max_queue_wait`. Dropping the returned future before the job has
    /// started removes the job unhashed.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, job: F) -> Result<T, HashError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.runtime.get_or_init(|| {
            tokio::runtime::Handle::try_current()
                .ok()
                .map(|h| h.metrics())
        });
        let waiting = self.waiting.load(Ordering::Acquire);
        if waiting >= self.queue_limit || (waiting > 0 && waiting >= self.queue_limit()) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(HashError::Busy);
        }
        let deadline = Instant::now().checked_add(self.max_queue_wait());
        let (done, mut result) = tokio::sync::oneshot::channel::<T>();
        let state = Arc::new(AtomicU8::new(QUEUED));
        // The job logs (a stored hash of an unknown format, say) in the
        // request's span or log scope, with its request id, and to the
        // caller's subscriber.
        let span = tracing::Span::current();
        let scope = crate::log_scope::current();
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let task: Job = Box::new(move |running| {
            let value = tracing::dispatcher::with_default(&dispatch, || {
                crate::log_scope::in_scope(scope, || span.in_scope(job))
            });
            running.fetch_sub(1, Ordering::AcqRel);
            let _ = done.send(value);
        });
        {
            let Ok(mut queue) = self.queue.lock() else {
                return Err(HashError::Internal("the hashing pool has stopped".into()));
            };
            if queue.closed {
                return Err(HashError::Internal("the hashing pool has stopped".into()));
            }
            self.waiting.fetch_add(1, Ordering::AcqRel);
            queue.jobs.push_back(Queued {
                job: task,
                state: state.clone(),
                deadline,
                gave_way: false,
            });
        }
        self.ready.notify_all();
        // From here until the job starts, dropping this future abandons it.
        let _pending = Pending {
            pool: self,
            state: &state,
        };
        let received = match deadline {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline.into(), &mut result).await {
                    Ok(received) => received,
                    Err(_) => {
                        if self.abandon(&state, Abandon::Expired) {
                            return Err(HashError::TimedOut);
                        }
                        // It started in time (its value comes within one
                        // hash), or a hashing thread found it expired.
                        (&mut result).await
                    }
                }
            }
            None => (&mut result).await,
        };
        received.map_err(|_| match state.load(Ordering::Acquire) {
            ABANDONED => HashError::TimedOut,
            _ => HashError::Internal("a hashing job was lost".into()),
        })
    }

    /// Moves a queued job to abandoned, counting why; false when it had
    /// started or was abandoned already.
    fn abandon(&self, state: &AtomicU8, why: Abandon) -> bool {
        if state
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let left = self
            .waiting
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        if left == 0 {
            if let Ok(mut pace) = self.pace.lock() {
                pace.backlogged = false;
            }
        }
        match why {
            Abandon::Gone => &self.dropped,
            Abandon::Expired => &self.timed_out,
        }
        .fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A hashing thread's life: take jobs as its lane allows until the pool
    /// closes.
    fn work(&self, lane: Lane) {
        // When this (idle) thread began giving way to a busy runtime.
        let mut giving_way_since: Option<Instant> = None;
        let mut look = Look::default();
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
        loop {
            if queue.closed {
                return;
            }
            // Jobs at the head that were abandoned or have expired go.
            while let Some(head) = queue.jobs.front() {
                let expired = head.deadline.is_some_and(|d| Instant::now() >= d);
                if expired {
                    self.abandon(&head.state, Abandon::Expired);
                }
                if expired || head.state.load(Ordering::Acquire) != QUEUED {
                    queue.jobs.pop_front();
                } else {
                    break;
                }
            }
            if queue.jobs.is_empty() {
                giving_way_since = None;
                queue = match self.ready.wait(queue) {
                    Ok(queue) => queue,
                    Err(_) => return,
                };
                continue;
            }
            let start = match lane {
                Lane::Share => {
                    let estimate = self.job_cost_ns.load(Ordering::Relaxed);
                    match self.share.as_ref().map(|s| s.take(estimate as f64 / 1e9)) {
                        Some(Err(wait)) => {
                            queue = match self.ready.wait_timeout(queue, wait.min(GIVE_WAY_POLL)) {
                                Ok((queue, _)) => queue,
                                Err(_) => return,
                            };
                            continue;
                        }
                        _ => Start::Share {
                            reserved_ns: estimate,
                        },
                    }
                }
                Lane::Idle { may_raise } => {
                    let now = Instant::now();
                    let may_force = may_raise || self.share.is_none();
                    // Given way as long as allowed: run it, without a look
                    // (the next job's look then spans this one, as before).
                    let forced = may_force
                        && giving_way_since.is_some_and(|since| {
                            now.saturating_duration_since(since) >= self.max_give_way()
                        });
                    let open = !forced && {
                        let busy = look.busy(self.runtime.get().and_then(Option::as_ref));
                        match giving_way_since {
                            // Once giving way, only a look that tells the
                            // runtime has time to spare ends it.
                            Some(_) => busy == Some(false),
                            None => busy != Some(true),
                        }
                    };
                    let since = *giving_way_since.get_or_insert(now);
                    if forced {
                        Start::Forced
                    } else if open {
                        Start::Open
                    } else {
                        if let Some(head) = queue.jobs.front_mut() {
                            if !head.gave_way {
                                head.gave_way = true;
                                self.gave_way.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        let max = self.max_give_way();
                        let left = max.saturating_sub(now.saturating_duration_since(since));
                        let nap = if may_force {
                            GIVE_WAY_POLL.min(left.max(Duration::from_millis(1)))
                        } else {
                            GIVE_WAY_POLL
                        };
                        queue = match self.ready.wait_timeout(queue, nap) {
                            Ok((queue, _)) => queue,
                            Err(_) => return,
                        };
                        continue;
                    }
                }
            };
            giving_way_since = None;
            let Some(head) = queue.jobs.pop_front() else {
                continue;
            };
            if head
                .state
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Abandoned meanwhile: give back what was reserved.
                if let (Start::Share { reserved_ns }, Some(share)) = (start, &self.share) {
                    share.charge(0.0, reserved_ns as f64 / 1e9);
                }
                continue;
            }
            let left = self
                .waiting
                .fetch_sub(1, Ordering::AcqRel)
                .saturating_sub(1);
            self.started(left > 0);
            match start {
                Start::Forced => {
                    self.forced.fetch_add(1, Ordering::Relaxed);
                    if !head.gave_way {
                        self.gave_way.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Start::Share { .. } => {
                    self.shared.fetch_add(1, Ordering::Relaxed);
                }
                Start::Open => {}
            }
            self.running.fetch_add(1, Ordering::AcqRel);
            drop(queue);
            // The job lowers `running` itself, before its value is sent.
            self.run_job(head.job, start);
            queue = match self.queue.lock() {
                Ok(queue) => queue,
                Err(_) => return,
            };
        }
    }

    /// Runs a started job on this thread, at the priority its start asks
    /// for; counts its CPU time against the share.
    fn run_job(&self, job: Job, start: Start) {
        let before = thread_cpu_time();
        match start {
            // Done in one stretch, not dragged out over seconds of idle
            // moments; back at the lowest priority afterwards.
            Start::Forced => {
                let raised = normal_priority();
                job(&self.running);
                if raised {
                    lowest_priority();
                }
            }
            Start::Open | Start::Share { .. } => job(&self.running),
        }
        let cost = thread_cpu_time().saturating_sub(before);
        let reserved = match start {
            Start::Share { reserved_ns } => reserved_ns as f64 / 1e9,
            _ => 0.0,
        };
        if let Some(share) = &self.share {
            share.charge(cost.as_secs_f64(), reserved);
        }
        // A moving average of a job's cost, for the share's reservations.
        let old = self.job_cost_ns.load(Ordering::Relaxed) as f64;
        let new = 0.8 * old + 0.2 * cost.as_nanos() as f64;
        self.job_cost_ns
            .store(new.max(1.0) as u64, Ordering::Relaxed);
    }

    /// Records a start for the queue's pace; `backlog`: whether jobs are
    /// still waiting behind it.
    fn started(&self, backlog: bool) {
        let Ok(mut pace) = self.pace.lock() else {
            return;
        };
        let now = Instant::now();
        if let (true, Some(last)) = (pace.backlogged, pace.last_start) {
            let sample = now.saturating_duration_since(last).as_secs_f64();
            pace.interval = 0.8 * pace.interval + 0.2 * sample;
        }
        pace.last_start = Some(now);
        pace.backlogged = backlog;
    }
}

/// Abandons its job when dropped before the job started: the caller has
/// gone (the request future was dropped).
struct Pending<'a> {
    pool: &'a Pool,
    state: &'a AtomicU8,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.pool.abandon(self.state, Abandon::Gone);
    }
}

/// An idle thread's last look at the runtime: when, and its workers' total
/// busy time then.
#[derive(Debug, Default)]
struct Look {
    last: Option<(Instant, Duration)>,
}

impl Look {
    /// Whether the runtime's workers were busy at least half their time
    /// since this thread last looked; `None` when that cannot be told: no
    /// runtime, a first look with nothing to compare with, or a look sooner
    /// than [`GIVE_WAY_POLL`] after the last one (a fast job, an early
    /// wake-up), which keeps the last look as the one to compare with.
    fn busy(&mut self, runtime: Option<&tokio::runtime::RuntimeMetrics>) -> Option<bool> {
        let runtime = runtime?;
        let workers = runtime.num_workers().max(1);
        let now = Instant::now();
        let elapsed = self
            .last
            .map(|(then, _)| now.saturating_duration_since(then));
        if elapsed.is_some_and(|e| e < GIVE_WAY_POLL) {
            return None;
        }
        let total: Duration = (0..workers)
            .map(|w| runtime.worker_total_busy_duration(w))
            .sum();
        let before = self.last.map(|(_, busy)| busy);
        self.last = Some((now, total));
        let (before, elapsed) = (before?, elapsed?);
        let busy = total.saturating_sub(before).as_secs_f64();
        Some(busy >= BUSY_SHARE_TO_GIVE_WAY * elapsed.as_secs_f64() * workers as f64)
    }
}

/// CPU time of the calling thread (its own clock, so a job that shares a
/// core counts only what it used); wall time where there is no such clock.
fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_nsec).unwrap_or(0),
        )
    }
    #[cfg(not(unix))]
    {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

/// Puts the calling thread at the lowest scheduling priority there is:
/// `SCHED_IDLE` on Linux (it runs only when no ordinary thread wants the core,
/// and gives the core up as soon as one does), nice 19 elsewhere.
pub(crate) fn lowest_priority() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        )
        .is_ok()
        {
            return;
        }
    }
    let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
}

/// Puts the calling hashing thread back at normal priority (`SCHED_OTHER`,
/// nice 0) for a job that gave way as long as it may. Leaving `SCHED_IDLE`
/// or lowering a nice value needs `CAP_SYS_NICE` or an `RLIMIT_NICE` of at
/// least 20 (systemd's `LimitNICE=`); without them the job runs at the lowest
/// priority, only more slowly. Whether it was raised.
pub(crate) fn normal_priority() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let other = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
        // Nice 0: the middle of the normal range.
        set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Os(thread_priority::ThreadPriorityOsValue::default()),
            other,
        )
        .is_ok()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        false
    }
}
