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
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
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
            let hasher = PasswordHasher::new(Argon2Params::default(), 1, 4)
                .unwrap_or_else(|e| panic!("{e}"));
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
}
