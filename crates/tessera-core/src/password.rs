//! Passwords: argon2id hashing on a bounded pool, Django's hash formats, and a
//! dummy verification for unknown users.
//!
//! Hashing is deliberately slow (argon2id, m = 19456 KiB, t = 2, p = 1 by
//! default, OWASP's parameters), so it never runs on the async runtime's worker
//! threads: [`PasswordHasher`] runs it on its own threads (one per core by
//! default, at the lowest scheduling priority, resting between jobs while other
//! requests are served: [`PasswordHasher::note_request`]). A login storm
//! queues there; a queue past its limit is refused with [`HashError::Busy`]
//! (the server answers 503) instead of growing without bound.
//!
//! One normalisation is documented and applied: a password is hashed as its
//! Unicode NFKC form (NIST SP 800-63B 5.1.1.2), so the composed and decomposed
//! spellings of "pässwörd" are the same password. Hashes imported from Django,
//! which hashes the password as received, are tried with the password as
//! received first.

use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

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

/// Why hashing could not be done.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The hashing queue is full; try again later (HTTP 503).
    #[error("the password hashing queue is full")]
    Busy,
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

/// Hashes and verifies passwords on a bounded pool of low-priority threads.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Argon2Params,
    load: Load,
    queue: std::sync::mpsc::Sender<Job>,
    queue_limit: usize,
    waiting: AtomicUsize,
    running: AtomicUsize,
    verifications: AtomicU64,
    dummy_hash: String,
}

impl PasswordHasher {
    /// A hasher with `workers` concurrent jobs and at most `queue_limit` waiting.
    pub fn new(params: Argon2Params, workers: usize, queue_limit: usize) -> Result<Self, String> {
        let argon2 = params.argon2()?;
        // The dummy hash has the current parameters, so verifying against it
        // takes exactly as long as verifying a real user's password.
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy_hash = argon2
            .hash_password(b"tessera-dummy-password", &salt)
            .map_err(|e| e.to_string())?
            .to_string();
        let load = Load::default();
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                params,
                queue: start_workers(workers)?,
                load,
                queue_limit,
                waiting: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                verifications: AtomicU64::new(0),
                dummy_hash,
            }),
        })
    }

    /// One worker per core and a queue of 64 per worker.
    pub fn with_defaults(params: Argon2Params) -> Result<Self, String> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(params, workers, workers * 64)
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// Jobs waiting for a worker (for `/metrics`).
    pub fn queue_depth(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// Jobs being hashed now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Relaxed)
    }

    /// Verifications performed so far, dummy ones included: a login for an
    /// unknown user must count one, like a wrong password.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Tells the hasher that the server received a request (every request,
    /// those that hash a password included; tessera-axum's policy layer calls
    /// it for every route that declares a policy). While
    /// requests other than those that hash keep arriving, each hashing thread
    /// rests after a job for as long as the job took: hashing then takes at
    /// most half of each core, and the rest of the traffic keeps its latency
    /// through a login storm. An idle server, or one serving nothing but
    /// logins, hashes at full speed.
    pub fn note_request(&self) {
        self.inner.load.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests noted by [`PasswordHasher::note_request`] so far.
    pub fn requests_noted(&self) -> u64 {
        self.inner.load.requests.load(Ordering::Relaxed)
    }

    /// How many times a hashing thread has rested after a job because other
    /// requests were being served (for `/metrics` and tests).
    pub fn rests(&self) -> u64 {
        self.inner.load.rests.load(Ordering::Relaxed)
    }

    /// Hashes a password with argon2id at the current parameters.
    pub async fn hash(&self, password: &Secret) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move |inner| hash_now(&inner.params, &password))
            .await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when
    /// `stored` is `None` (unknown user), so that both take the same time.
    pub async fn verify(
        &self,
        password: &Secret,
        stored: Option<&str>,
    ) -> Result<Verification, HashError> {
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        self.run(move |inner| {
            inner.verifications.fetch_add(1, Ordering::Relaxed);
            let result = match stored.as_deref() {
                Some(hash) => verify_now(&inner.params, &password, hash),
                None => {
                    let _ = verify_now(&inner.params, &password, &inner.dummy_hash);
                    Verification::Invalid
                }
            };
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
        if inner.waiting.fetch_add(1, Ordering::AcqRel) >= inner.queue_limit {
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        inner.load.jobs.fetch_add(1, Ordering::Relaxed);
        let (done, result) = tokio::sync::oneshot::channel();
        let worker = inner.clone();
        let task: Job = Box::new(move || {
            worker.waiting.fetch_sub(1, Ordering::AcqRel);
            worker.running.fetch_add(1, Ordering::AcqRel);
            let before = worker.load.other_requests();
            let started = std::time::Instant::now();
            let value = job(&worker);
            let took = started.elapsed();
            let rest = worker.load.rest_after(before, took);
            worker.running.fetch_sub(1, Ordering::AcqRel);
            let _ = done.send(value);
            if let Some(rest) = rest {
                std::thread::sleep(rest);
            }
        });
        if inner.queue.send(task).is_err() {
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Internal("the hashing pool has stopped".into()));
        }
        result
            .await
            .map_err(|_| HashError::Internal("a hashing job was lost".into()))
    }
}

/// A hashing job.
type Job = Box<dyn FnOnce() + Send>;

/// What the hashing threads know of the server's traffic.
#[derive(Debug, Default)]
struct Load {
    /// Requests noted by [`PasswordHasher::note_request`].
    requests: AtomicU64,
    /// Jobs submitted (each login's request notes one request and submits one job).
    jobs: AtomicU64,
    /// Rests taken after a job.
    rests: AtomicU64,
}

/// Requests that do not hash, during one job, past which the job is followed
/// by a rest: a few hundred a second, more than health checks and metric
/// scrapes, fewer than any real traffic.
const OTHER_REQUESTS_FOR_REST: u64 = 4;

impl Load {
    /// Requests noted so far that did not submit a job (wrapping: jobs from
    /// outside a request, such as the CLI's, make it go backwards).
    fn other_requests(&self) -> u64 {
        self.requests
            .load(Ordering::Relaxed)
            .wrapping_sub(self.jobs.load(Ordering::Relaxed))
    }

    /// The rest a hashing thread takes after a job that took `took`, begun
    /// when [`Load::other_requests`] was `before`: as long as the job, when
    /// other requests arrived meanwhile.
    fn rest_after(&self, before: u64, took: std::time::Duration) -> Option<std::time::Duration> {
        let during = self.other_requests().wrapping_sub(before);
        // `during` is huge when the count went backwards: no rest then.
        (OTHER_REQUESTS_FOR_REST..u64::MAX / 2)
            .contains(&during)
            .then(|| {
                self.rests.fetch_add(1, Ordering::Relaxed);
                took
            })
    }
}

/// Starts `workers` hashing threads fed by one queue. They run at the lowest
/// scheduling priority (`SCHED_IDLE` on Linux, see [`lowest_priority`]), and
/// rest after a job while other requests are being served ([`Load::rest_after`]): a
/// login storm then takes the CPU only where request handling leaves it, so
/// token-authenticated traffic keeps its latency, while an idle server still
/// hashes at full speed. The other side of that: a server whose cores are kept
/// busy by other work verifies passwords slowly or not at all, and logins wait
/// in the queue until it refuses them (503). They end when the queue's sender
/// (the hasher) is dropped.
fn start_workers(workers: usize) -> Result<std::sync::mpsc::Sender<Job>, String> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(std::sync::Mutex::new(receiver));
    for i in 0..workers.max(1) {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("tessera-hash-{i}"))
            .spawn(move || {
                lowest_priority();
                loop {
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
    }
    Ok(sender)
}

/// Puts the calling thread at the lowest scheduling priority there is:
/// `SCHED_IDLE` on Linux (it runs only when no ordinary thread wants the core,
/// and gives the core up as soon as one does), nice 19 elsewhere.
fn lowest_priority() {
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

fn normalized(password: &Secret) -> Secret {
    Secret::new(password.expose().nfkc().collect::<String>())
}

/// Hashes synchronously; for the CLI and tests. Prefer [`PasswordHasher::hash`].
pub fn hash_now(params: &Argon2Params, password: &Secret) -> Result<String, HashError> {
    let argon2 = params.argon2().map_err(HashError::Internal)?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2
        .hash_password(normalized(password).expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Internal(e.to_string()))
}

/// Verifies synchronously; for the CLI and tests. Prefer [`PasswordHasher::verify`].
pub fn verify_now(params: &Argon2Params, password: &Secret, stored: &str) -> Verification {
    if password.expose().len() > MAX_PASSWORD_BYTES || stored.starts_with(UNUSABLE_PASSWORD_PREFIX)
    {
        return Verification::Invalid;
    }
    let nfkc = normalized(password);
    let ok = if stored.starts_with("$argon2") {
        verify_phc(nfkc.expose(), stored)
    } else if let Some(phc) = stored.strip_prefix("argon2") {
        // Django's Argon2PasswordHasher: "argon2" + a PHC string.
        django_either(password, &nfkc, |p| verify_phc(p, phc))
    } else if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        django_either(password, &nfkc, |p| verify_django_pbkdf2_sha256(p, rest))
    } else {
        tracing::warn!("a stored password hash has an unknown format");
        false
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
    check(raw.expose()) || (raw != nfkc && check(nfkc.expose()))
}

fn verify_phc(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    verify_argon2_reusing_memory(password, &parsed).unwrap_or_else(|| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
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
/// caller then uses the crate's own verification).
fn verify_argon2_reusing_memory(password: &str, parsed: &PasswordHash<'_>) -> Option<bool> {
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
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .ok()?;
        Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    })
}

/// Django's `PBKDF2PasswordHasher`: `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`.
fn verify_django_pbkdf2_sha256(password: &str, rest: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    // Refuse absurd work factors in a hostile import (Django's default is 1,000,000 in 5.x).
    if iterations == 0 || iterations > 10_000_000 {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
        return false;
    };
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    expected.len() == out.len() && bool::from(out.ct_eq(&expected[..]))
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
    use std::time::{Duration, Instant};

    fn cheap() -> Argon2Params {
        Argon2Params {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        }
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
            assert_eq!(verify_argon2_reusing_memory("pw", &parsed), Some(true));
            assert_eq!(verify_argon2_reusing_memory("pW", &parsed), Some(false));
            // Twice, with the thread's memory already used by a larger hash.
            assert_eq!(verify_argon2_reusing_memory("pw", &parsed), Some(true));
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
        assert!(verify_phc("pw", &hash));
        assert!(!verify_phc("px", &hash));
    }

    #[test]
    fn djangos_argon2_hashes_verify() {
        let p = cheap();
        let phc = hash_now(&p, &Secret::new("pw")).unwrap_or_default();
        let django = format!("argon2{phc}");
        assert!(verify_now(&p, &Secret::new("pw"), &django).is_valid());
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
        let hasher = PasswordHasher::new(cheap(), 1, 4).unwrap_or_else(|e| panic!("{e}"));
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

    #[tokio::test]
    async fn a_job_during_other_traffic_is_followed_by_a_rest_as_long_as_it() {
        let hasher = PasswordHasher::new(cheap(), 1, 4).unwrap_or_else(|e| panic!("{e}"));
        let job = Duration::from_millis(30);
        // Requests that hash nothing arrive while the job runs.
        let ended = hasher
            .run(move |inner| {
                std::thread::sleep(job);
                inner
                    .load
                    .requests
                    .fetch_add(OTHER_REQUESTS_FOR_REST, Ordering::Relaxed);
                Instant::now()
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let next = hasher
            .run(|_| Instant::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hasher.rests(), 1);
        // The thread slept at least as long as the job took.
        assert!(next.duration_since(ended) >= job);
    }

    #[tokio::test]
    async fn logins_alone_and_sparse_requests_never_rest() {
        let hasher = PasswordHasher::new(cheap(), 2, 64).unwrap_or_else(|e| panic!("{e}"));
        let hash = hasher.hash(&Secret::new("pw")).await.unwrap_or_default();
        for _ in 0..20 {
            // A login: one request, one verification.
            hasher.note_request();
            let ok = hasher.verify(&Secret::new("pw"), Some(&hash)).await;
            assert_eq!(ok.map(|v| v.is_valid()).ok(), Some(true));
        }
        // A health check or a scrape now and then.
        for _ in 0..OTHER_REQUESTS_FOR_REST - 1 {
            hasher.note_request();
        }
        let _ = hasher.verify(&Secret::new("pw"), Some(&hash)).await;
        assert_eq!(hasher.rests(), 0);
        assert_eq!(hasher.verifications(), 21);
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
}
