//! Passwords: argon2id hashing on a bounded pool, Django's hash formats, and a
//! dummy verification for unknown users.
//!
//! Hashing is deliberately slow (argon2id, m = 19456 KiB, t = 2, p = 1 by
//! default, OWASP's parameters), so it never runs on the async runtime's worker
//! threads: [`PasswordHasher`] runs it on threads of its own ([`pool`]): an
//! idle lane at the lowest scheduling priority that gives way while the async
//! runtime is busy with other requests, and a share lane that guarantees
//! hashing a share of the machine however busy it is
//! ([`PoolSettings::min_share`]). A login waits at most
//! [`PoolSettings::max_queue_wait`] for its hash to start, then gets
//! [`HashError::TimedOut`]; a queue longer than that wait is refused with
//! [`HashError::Busy`] (the server answers both 503), and a job whose request
//! has gone is dropped unhashed.
//!
//! # Timing parity
//!
//! Every verification costs at least one argon2id computation at the current
//! parameters, whatever was stored: a login for an unknown user, for a user
//! whose hash is unusable (Django's `!` marker) or of an unknown format, or
//! whose stored hash did not cost that much (Django's PBKDF2, argon2 at
//! weaker parameters) and did not match, verifies the dummy hash as well
//! (Django's `ModelBackend` runs its hasher for unknown users, #20760;
//! Keycloak's dummy hash silently became a no-op once, PR #29304). The work
//! is counted where argon2 is computed, not where `verify` is called:
//! [`PasswordHasher::argon2_runs`] (Django's `test_authentication_timing`
//! installs a counting hasher for the same reason).
//!
//! One normalisation is documented and applied: a password is hashed as its
//! Unicode NFKC form (NIST SP 800-63B 5.1.1.2), so the composed and decomposed
//! spellings of "pässwörd" are the same password. Hashes imported from Django,
//! which hashes the password as received, are tried with the password as
//! received first.

use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

pub mod pool;

use pool::Pool;
#[cfg(test)]
use pool::{lowest_priority, normal_priority};
pub use pool::{PoolSettings, DEFAULT_MAX_QUEUE_WAIT, DEFAULT_MIN_SHARE};
pub mod django;

/// Passwords longer than this many bytes are refused before any hashing
/// (Django's 2013 security release: a megabyte password costs a minute of CPU).
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// The marker of an unusable password, as Django's `set_unusable_password`.
pub const UNUSABLE_PASSWORD_PREFIX: &str = "!";

/// argon2 cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for Argon2Params {
    /// OWASP's argon2id recommendation: m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Argon2Params {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl std::str::FromStr for Argon2Params {
    type Err = String;

    /// Parses `m=19456,t=2,p=1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut params = Argon2Params::default();
        for part in s.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("expected m=..,t=..,p=.., got {s:?}"))?;
            let v: u32 = v
                .parse()
                .map_err(|_| format!("{k} must be a positive integer"))?;
            match k {
                "m" => params.m_cost = v,
                "t" => params.t_cost = v,
                "p" => params.p_cost = v,
                _ => return Err(format!("unknown argon2 parameter {k:?}")),
            }
        }
        params.argon2().map(|_| params)
    }
}

impl Argon2Params {
    fn argon2(&self) -> Result<Argon2<'static>, String> {
        let params = Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Why a [`PasswordHasher`] could not be made: parameters argon2 refuses,
/// or a pool thread that could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot make the password hasher: {0}")]
pub struct InvalidParams(pub String);

/// Why hashing could not be done.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The hashing queue is full: the jobs ahead would not all start within
    /// the queue's wait; try again later (HTTP 503).
    #[error("the password hashing queue is full")]
    Busy,
    /// The job could not start within the queue's longest wait
    /// ([`PoolSettings::max_queue_wait`]) and was dropped unhashed; try again
    /// later (HTTP 503).
    #[error("the password hash could not start in time")]
    TimedOut,
    /// The blocking task failed.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password, unknown user, unusable or unknown hash format.
    Invalid,
    /// The password is right. `rehash` holds a new hash when the stored one is
    /// weaker than the current default (Django upgrades at login too).
    Valid {
        /// The upgraded hash to store, if any.
        rehash: Option<String>,
    },
}

impl Verification {
    /// Whether the password was right.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verification::Valid { .. })
    }
}

/// Hashes and verifies passwords on a bounded pool of threads of its own
/// (see [`pool`] for when a job runs and how long it may wait).
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Argon2Params,
    pool: Arc<Pool>,
    verifications: AtomicU64,
    /// [`PasswordHasher::argon2_runs`].
    argon2_runs: AtomicU64,
    dummy_hash: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.close();
    }
}

impl PasswordHasher {
    /// A hasher with `workers` idle-lane threads and at most `queue_limit`
    /// jobs waiting, the other settings at their defaults.
    pub fn new(
        params: Argon2Params,
        workers: usize,
        queue_limit: usize,
    ) -> Result<Self, InvalidParams> {
        Self::with_pool(
            params,
            PoolSettings {
                workers,
                queue_limit,
                ..PoolSettings::default()
            },
        )
    }

    /// A hasher whose pool is sized and paced by `settings`.
    pub fn with_pool(params: Argon2Params, settings: PoolSettings) -> Result<Self, InvalidParams> {
        let argon2 = params.argon2().map_err(InvalidParams)?;
        // The dummy hash has the current parameters, so verifying against it
        // takes exactly as long as verifying a real user's password; making
        // it gives the pool its first estimate of a job's cost.
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let started = Instant::now();
        let dummy_hash = argon2
            .hash_password(b"tessera-dummy-password", &salt)
            .map_err(|e| InvalidParams(e.to_string()))?
            .to_string();
        let pool = Pool::start(&settings, started.elapsed()).map_err(InvalidParams)?;
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                params,
                pool,
                verifications: AtomicU64::new(0),
                argon2_runs: AtomicU64::new(0),
                dummy_hash,
            }),
        })
    }

    /// One idle-lane thread per core, a quarter of the machine guaranteed,
    /// a queue whose length follows from the rate ([`PoolSettings::default`]).
    ///
    /// ```
    /// use tessera_core::password::{Argon2Params, PasswordHasher};
    ///
    /// fn hasher() -> anyhow::Result<PasswordHasher> {
    ///     // The error is a standard error: `?` turns it into anyhow's.
    ///     Ok(PasswordHasher::with_defaults(Argon2Params::default())?)
    /// }
    /// # hasher().unwrap();
    /// ```
    pub fn with_defaults(params: Argon2Params) -> Result<Self, InvalidParams> {
        Self::with_pool(params, PoolSettings::default())
    }

    /// How long the idle lane gives way to a busy runtime before it runs a
    /// job anyway (default 2 s): the floor of login capacity besides the
    /// share lane, one verification per idle thread per this much time. The
    /// floor has a price: each job it forces takes a core from the other
    /// requests for a few tens of milliseconds; in `bench/run`'s login storm
    /// a 500 ms floor raised the token p99 2.5 times, 2 s 1.6 times, none
    /// 1.1 times.
    ///
    /// An idle-lane thread gives way while the async runtime that submits
    /// the jobs (the server's) kept its workers busy for at least half of
    /// their time since the thread last looked: it looks again every 20 ms
    /// and starts the job once the workers are less busy, or, after this
    /// long, runs it anyway, at normal priority where the process may raise
    /// it (`CAP_SYS_NICE`, or an `RLIMIT_NICE` of at least 20), so that it is
    /// done in one stretch and not dragged out over seconds of idle moments.
    /// Where the process may not, and the share lane runs, the job is left
    /// to the share lane.
    ///
    /// Why: on a busy machine a runnable lowest-priority thread, hashing or a
    /// plain busy loop, takes every idle moment of the cores and raised the
    /// tail latency of the other requests two to four times (`bench/run`'s
    /// login storm); giving way keeps hashing off the cores while they serve
    /// other traffic. Logins themselves hardly keep the runtime busy (their
    /// cost is the hashing), so an idle server, one serving only logins or
    /// one with spare capacity hashes at full speed.
    pub fn with_max_give_way(self, max: Duration) -> Self {
        self.inner.pool.set_max_give_way(max);
        self
    }

    /// See [`PasswordHasher::with_max_give_way`].
    pub fn max_give_way(&self) -> Duration {
        self.inner.pool.max_give_way()
    }

    /// How long a job may wait to start (default 5 s): one that has not
    /// started by then is dropped unhashed and answered
    /// [`HashError::TimedOut`], so that no login waits longer than this and
    /// one hash.
    pub fn with_max_queue_wait(self, max: Duration) -> Self {
        self.inner.pool.set_max_queue_wait(max);
        self
    }

    /// See [`PasswordHasher::with_max_queue_wait`].
    pub fn max_queue_wait(&self) -> Duration {
        self.inner.pool.max_queue_wait()
    }

    /// The share lane's guaranteed hashing rate, in cores' worth of CPU
    /// time (`min_share` × cores; 0 without a share lane).
    pub fn guaranteed_cores(&self) -> f64 {
        self.inner.pool.share_rate()
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// Jobs waiting to start (for `/metrics`).
    pub fn queue_depth(&self) -> usize {
        self.inner.pool.waiting()
    }

    /// How many jobs may wait now: as many as would all start within
    /// [`max_queue_wait`](PasswordHasher::with_max_queue_wait) at the pace
    /// jobs have been starting lately (for `/metrics`).
    pub fn queue_limit(&self) -> usize {
        self.inner.pool.queue_limit()
    }

    /// Jobs being hashed now.
    pub fn running(&self) -> usize {
        self.inner.pool.running()
    }

    /// Verifications performed so far, dummy ones included: a login for an
    /// unknown user must count one, like a wrong password.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// argon2id computations at the current parameters that hashing jobs
    /// have run so far: counted inside the computation itself (dummy
    /// verifications, re-hashes at login and new hashes included), so that
    /// a test can tell that a failed login did the work of a real one, not
    /// merely that `verify` was called.
    pub fn argon2_runs(&self) -> u64 {
        self.inner.argon2_runs.load(Ordering::Relaxed)
    }

    /// Jobs that gave way to a busy runtime before they started (for
    /// `/metrics` and tests).
    pub fn gave_way(&self) -> u64 {
        self.inner.pool.gave_way()
    }

    /// Jobs that gave way for the whole
    /// [`max_give_way`](PasswordHasher::with_max_give_way) and then ran anyway
    /// (for `/metrics` and tests).
    pub fn forced(&self) -> u64 {
        self.inner.pool.forced()
    }

    /// Jobs run by the share lane (for `/metrics` and tests).
    pub fn shared(&self) -> u64 {
        self.inner.pool.shared()
    }

    /// Jobs dropped unhashed because their caller had gone (the request was
    /// dropped: its client closed the connection or timed out).
    pub fn dropped(&self) -> u64 {
        self.inner.pool.dropped()
    }

    /// Jobs that could not start within
    /// [`max_queue_wait`](PasswordHasher::with_max_queue_wait), dropped
    /// unhashed and answered [`HashError::TimedOut`].
    pub fn timed_out(&self) -> u64 {
        self.inner.pool.timed_out()
    }

    /// Jobs refused at once because the queue was full ([`HashError::Busy`]).
    pub fn refused(&self) -> u64 {
        self.inner.pool.refused()
    }

    /// Hashes a password with argon2id at the current parameters.
    pub async fn hash(&self, password: &Secret) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move |inner| inner.counted(|| hash_now(&inner.params, &password)).0)
            .await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when
    /// `stored` is `None` (unknown user), so that both take the same time.
    ///
    /// Whatever `stored` holds, the verification runs at least one argon2id
    /// computation at the current parameters (see [Timing parity](self#timing-parity)):
    /// when checking `stored` ran none (an unusable or unknown hash, or a
    /// cheaper one that did not match), the dummy hash is verified too.
    pub async fn verify(
        &self,
        password: &Secret,
        stored: Option<&str>,
    ) -> Result<Verification, HashError> {
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        self.run(move |inner| {
            inner.verifications.fetch_add(1, Ordering::Relaxed);
            let (result, runs) = inner.counted(|| match stored.as_deref() {
                Some(hash) => verify_now(&inner.params, &password, hash),
                None => Verification::Invalid,
            });
            if runs == 0 {
                inner.counted(|| verify_now(&inner.params, &password, &inner.dummy_hash));
            }
            Ok(result)
        })
        .await?
    }

    /// Spends one verification's time without a result, for paths that must
    /// not be faster than a real check (an over-long password, an inactive user).
    pub async fn dummy_verify(&self) -> Result<(), HashError> {
        self.verify(&Secret::new("x"), None).await.map(|_| ())
    }

    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        F: FnOnce(&Inner) -> T + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        self.inner.pool.run(move || job(&inner)).await
    }
}

/// The default of [`PasswordHasher::with_max_give_way`].
pub const DEFAULT_MAX_GIVE_WAY: Duration = pool::DEFAULT_MAX_GIVE_WAY;

thread_local! {
    /// While a hashing job counts its work ([`Inner::counted`]): the current
    /// parameters, and how many argon2id computations at exactly those
    /// parameters it has run. `None` outside a counted job, where nothing is
    /// counted.
    static ARGON2_WORK: Cell<Option<(Argon2Params, u32)>> = const { Cell::new(None) };
}

/// Called by every argon2 computation, once it has run: counts it for the
/// job on this thread when it is argon2id at the job's parameters.
fn argon2_ran(algorithm: Algorithm, m_cost: u32, t_cost: u32, p_cost: u32) {
    if let Some((params, runs)) = ARGON2_WORK.get() {
        let ran = Argon2Params {
            m_cost,
            t_cost,
            p_cost,
        };
        if algorithm == Algorithm::Argon2id && ran == params {
            ARGON2_WORK.set(Some((params, runs.saturating_add(1))));
        }
    }
}

impl Inner {
    /// Runs `work` on this hashing thread and counts the argon2id
    /// computations at the current parameters it ran (into
    /// [`PasswordHasher::argon2_runs`], and returned).
    fn counted<T>(&self, work: impl FnOnce() -> T) -> (T, u32) {
        ARGON2_WORK.set(Some((self.params, 0)));
        let value = work();
        let runs = ARGON2_WORK.take().map_or(0, |(_, runs)| runs);
        self.argon2_runs
            .fetch_add(u64::from(runs), Ordering::Relaxed);
        (value, runs)
    }
}

fn normalized(password: &Secret) -> Secret {
    Secret::new(password.expose().nfkc().collect::<String>())
}

/// Hashes synchronously; for the CLI and tests. Prefer [`PasswordHasher::hash`].
pub fn hash_now(params: &Argon2Params, password: &Secret) -> Result<String, HashError> {
    let argon2 = params.argon2().map_err(HashError::Internal)?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let hash = argon2
        .hash_password(normalized(password).expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Internal(e.to_string()))?;
    argon2_ran(
        Algorithm::Argon2id,
        params.m_cost,
        params.t_cost,
        params.p_cost,
    );
    Ok(hash)
}

/// Verifies synchronously; for the CLI and tests. Prefer [`PasswordHasher::verify`].
///
/// `stored` is Tessera's argon2id PHC string or one of Django's formats
/// ([`django`]); an unusable, unknown, malformed or too costly hash
/// ([`django::check`]) verifies nothing (a warning is logged, naming the
/// reason and never the hash).
pub fn verify_now(params: &Argon2Params, password: &Secret, stored: &str) -> Verification {
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Verification::Invalid;
    }
    let parsed = match django::parse(stored) {
        Ok(django::Parsed::Unusable) => return Verification::Invalid,
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::warn!(%error, "a stored password hash cannot be verified");
            return Verification::Invalid;
        }
    };
    let nfkc = normalized(password);
    let ok = match parsed {
        django::Parsed::Argon2 {
            scheme: django::Scheme::Tessera,
            phc,
        } => verify_phc(nfkc.expose(), phc, params),
        // Django's Argon2PasswordHasher: "argon2" + a PHC string.
        django::Parsed::Argon2 { phc, .. } => {
            django_either(password, &nfkc, |p| verify_phc(p, phc, params))
        }
        other => django_either(password, &nfkc, |p| django::verify(p, &other)),
    };
    if !ok {
        return Verification::Invalid;
    }
    let rehash = needs_rehash(params, stored)
        .then(|| hash_now(params, password).ok())
        .flatten();
    Verification::Valid { rehash }
}

fn django_either(raw: &Secret, nfkc: &Secret, check: impl Fn(&str) -> bool) -> bool {
    check(raw.expose()) || (raw.expose() != nfkc.expose() && check(nfkc.expose()))
}

/// Verifies an argon2 PHC string. The thread's reusable working area keeps
/// at most the size `current` needs afterwards: a larger imported hash
/// (Django's default is 100 MiB) borrows more for its own verification only.
fn verify_phc(password: &str, phc: &str, current: &Argon2Params) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let retain = usize::try_from(current.m_cost).unwrap_or(usize::MAX);
    verify_argon2_reusing_memory(password, &parsed, retain).unwrap_or_else(|| {
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        // The crate's own path computed the hash only if the string parsed
        // into an algorithm and parameters it takes.
        if let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
        ) {
            argon2_ran(algorithm, params.m_cost(), params.t_cost(), params.p_cost());
        }
        ok
    })
}

thread_local! {
    /// Each hashing thread keeps one argon2 working area for its whole life:
    /// allocating 19 MiB per verification cost ~1,800 page faults (the kernel
    /// zeroing fresh memory), a third more CPU than the hash itself.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies an argon2 PHC hash by recomputing it with the stored salt and
/// parameters in this thread's reusable memory, then comparing in constant
/// time. `None` when the hash is of a form this path does not handle (the
/// caller then uses the crate's own verification). Afterwards the memory
/// keeps at most `retain` blocks (1 KiB each), given back to the allocator
/// beyond that, so that one large imported hash does not leave every
/// hashing thread holding its working area.
fn verify_argon2_reusing_memory(
    password: &str,
    parsed: &PasswordHash<'_>,
    retain: usize,
) -> Option<bool> {
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed
        .version
        .map_or(Some(Version::V0x13), |v| Version::try_from(v).ok())?;
    let expected = parsed.hash?;
    let stored = Params::try_from(parsed).ok()?;
    let params = Params::new(
        stored.m_cost(),
        stored.t_cost(),
        stored.p_cost(),
        Some(expected.len()),
    )
    .ok()?;
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.try_borrow_mut().ok()?;
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let hashed = argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            &mut memory[..blocks],
        );
        if memory.len() > retain {
            memory.truncate(retain);
            memory.shrink_to_fit();
        }
        hashed.ok()?;
        argon2_ran(algorithm, stored.m_cost(), stored.t_cost(), stored.p_cost());
        Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    })
}

/// Whether `stored` is anything but argon2id at the current parameters.
pub fn needs_rehash(params: &Argon2Params, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    let Ok(current) = Params::try_from(&parsed) else {
        return true;
    };
    current.m_cost() < params.m_cost
        || current.t_cost() < params.t_cost
        || current.p_cost() != params.p_cost
}

#[cfg(test)]
mod tests;
