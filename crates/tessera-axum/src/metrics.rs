//! The application's Prometheus metrics: one [`Metrics`] registry per
//! [`Tessera`](crate::Tessera), never a process-global recorder, so that many
//! applications (tests) can live in one process.
//!
//! Nothing secret is ever a label: labels are route templates, method names,
//! status codes, fixed outcome names, configured throttle scopes and the
//! client addresses of failed token checks.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tessera_http_requests_total` | counter | `route`, `method`, `status` |
//! | `tessera_auth_outcomes_total` | counter | `method` (`token`, `session`, `password`), `outcome` (`success`, `failure`) |
//! | `tessera_throttled_total` | counter | `scope` |
//! | `tessera_login_duration_seconds` | histogram | |
//! | `tessera_password_hash_queue_depth` | gauge | |
//! | `tessera_password_hash_running` | gauge | |
//! | `tessera_password_hash_gave_way_total` | counter | |
//! | `tessera_password_hash_forced_total` | counter | |
//! | `tessera_password_hash_queue_limit` | gauge | |
//! | `tessera_password_hash_share_total` | counter | |
//! | `tessera_password_hash_dropped_total` | counter | |
//! | `tessera_password_hash_timed_out_total` | counter | |
//! | `tessera_password_hash_refused_total` | counter | |
//! | `tessera_csrf_failures_total` | counter | |
//! | `tessera_lockouts_total` | counter | |
//! | `tessera_token_db_lookups_total` | counter | |
//! | `tessera_token_auth_failures_by_address` | gauge | `address` (the top [`TOP_ADDRESSES`], and `other`) |
//! | `tessera_audit_queue_depth` | gauge | |
//! | `tessera_audit_queue_capacity` | gauge | |
//! | `tessera_audit_pending_rows` | gauge | |
//! | `tessera_audit_write_failures_total` | counter | |
//! | `tessera_audit_events_lost_total` | counter | |
//! | `tessera_last_used_queued_total` | counter | |
//! | `tessera_last_used_dropped_total` | counter | |
//! | `tessera_last_used_write_failures_total` | counter | |
//!
//! ## Failed token checks per address
//!
//! The address of a refused token (malformed header, unknown, expired or
//! revoked key, inactive user) is an attacker's choice, and one label value
//! each would let a flood from many addresses grow the registry and every
//! scrape without limit. So the failures are counted per address in bounded
//! memory (at most [`TRACKED_ADDRESSES`] addresses, the Space-Saving sketch of
//! [`crate::address_counts`], which always keeps the heavy hitters), and only
//! the [`TOP_ADDRESSES`] addresses with the most failures since the start are
//! labels, each with its count; `address="other"` holds the rest. The series
//! is a gauge, not a counter: when an address rises into the top its failures
//! move out of `other`, which may then fall. Read it as a ranking of who is
//! guessing keys; the exact total is
//! `tessera_auth_outcomes_total{method="token",outcome="failure"}`.

use crate::address_counts::{AddressCounts, OTHER};
use crate::audit::Auditor;
use crate::touch::Toucher;
use http::Method;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_core::password::PasswordHasher;

/// The `Content-Type` of [`Metrics::encode`]'s output: Prometheus text 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Longest throttle scope kept as a label; longer ones are cut.
const MAX_SCOPE_CHARS: usize = 64;

/// Client addresses with a label of their own in
/// `tessera_token_auth_failures_by_address` (the rest are `other`).
pub const TOP_ADDRESSES: usize = 10;
/// Client addresses whose failed token checks are counted at most (see the
/// [module](self) docs).
pub const TRACKED_ADDRESSES: usize = 1000;
/// The address label of a request whose client address is not known.
pub const UNKNOWN_ADDRESS: &str = "unknown";

/// The authentication scheme of an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `Authorization: Token <key>`.
    Token,
    /// The session cookie.
    Session,
    /// A username and password checked at login.
    Password,
}

impl AuthMethod {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Token => "token",
            AuthMethod::Session => "session",
            AuthMethod::Password => "password",
        }
    }
}

/// Whether an authentication succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The credentials were accepted.
    Success,
    /// Credentials were presented and refused.
    Failure,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    /// `Success` when `ok`.
    pub fn of(ok: bool) -> Self {
        if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AuthLabels {
    method: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ScopeLabels {
    scope: String,
}

/// The metrics of one application, and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// This instance among all (see [`RECENT_SERIES`]).
    id: u64,
    http_requests: Family<HttpLabels, Counter>,
    auth_outcomes: Family<AuthLabels, Counter>,
    /// Each series of `auth_outcomes` once it exists, by
    /// [`AuthMethod`] and [`Outcome`]: a token or session check counts
    /// with one atomic add, not a lock and a hash of the labels. A series
    /// appears in the exposition at its first count, as before.
    auth_counters: [[std::sync::OnceLock<Counter>; 2]; 3],
    throttled: Family<ScopeLabels, Counter>,
    login_duration: Histogram,
    csrf_failures: Counter,
    lockouts: Counter,
    token_db_lookups: Counter,
    token_failures: Arc<Mutex<AddressCounts>>,
}

impl Metrics {
    /// A fresh registry; the hash queue gauges are read from `hasher` at
    /// every scrape.
    pub fn new(hasher: PasswordHasher) -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "tessera_http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let auth_outcomes = Family::<AuthLabels, Counter>::default();
        registry.register(
            "tessera_auth_outcomes",
            "Authentication outcomes by scheme (token, session, password)",
            auth_outcomes.clone(),
        );
        let throttled = Family::<ScopeLabels, Counter>::default();
        registry.register(
            "tessera_throttled",
            "Requests refused by a throttle, by scope",
            throttled.clone(),
        );
        // From 5 ms to about 10 s: a cheap hash, up to a long queue wait.
        let login_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]);
        registry.register_with_unit(
            "tessera_login_duration",
            "Time to check a username and password",
            Unit::Seconds,
            login_duration.clone(),
        );
        let csrf_failures = Counter::default();
        registry.register(
            "tessera_csrf_failures",
            "Requests refused by the CSRF check",
            csrf_failures.clone(),
        );
        let lockouts = Counter::default();
        registry.register(
            "tessera_lockouts",
            "Login lockouts started by repeated failures",
            lockouts.clone(),
        );
        let token_db_lookups = Counter::default();
        registry.register(
            "tessera_token_db_lookups",
            "Token keys looked up in the store (well-formed keys only)",
            token_db_lookups.clone(),
        );
        registry.register_collector(Box::new(HasherMetrics(hasher)));
        let token_failures = Arc::new(Mutex::new(AddressCounts::new(TRACKED_ADDRESSES)));
        registry.register_collector(Box::new(TokenFailureMetrics(token_failures.clone())));
        Metrics {
            registry,
            id: NEXT_METRICS_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            http_requests,
            auth_outcomes,
            auth_counters: Default::default(),
            throttled,
            login_duration,
            csrf_failures,
            lockouts,
            token_db_lookups,
            token_failures,
        }
    }

    /// Reports the audit writer's queue depth and capacity, pending
    /// aggregated rows, failed writes and lost events at every scrape.
    pub fn register_auditor(&mut self, auditor: Arc<Auditor>) {
        self.registry
            .register_collector(Box::new(AuditorMetrics(auditor)));
    }

    /// Reports the use recorder's counts (credential uses queued for their
    /// `last_used` / `last_seen` write, dropped with the queue full, batches
    /// the store refused) at every scrape.
    pub fn register_toucher(&mut self, toucher: Arc<Toucher>) {
        self.registry
            .register_collector(Box::new(ToucherMetrics(toucher)));
    }

    /// Reports the credential cache's hits, misses and unknown-key hits, and
    /// its revocation poller's health, at every scrape.
    pub fn register_cache(&mut self, cache: Arc<tessera_core::cache::CacheState>) {
        self.registry
            .register_collector(Box::new(CacheMetrics(cache)));
    }

    /// Counts an answered request. `route` is the matched path template
    /// (never the path itself: its parameters would make unbounded labels),
    /// or [`UNMATCHED_ROUTE`].
    pub fn record_request(&self, route: &str, method: &Method, status: u16) {
        let method = method_label(method);
        let counted = RECENT_SERIES.with(|recent| {
            let recent = recent.borrow();
            let found = recent.iter().find(|s| {
                s.metrics == self.id && s.status == status && s.method == method && s.route == route
            });
            found.map(|series| series.counter.inc()).is_some()
        });
        if counted {
            return;
        }
        let labels = HttpLabels {
            route: route.to_owned(),
            method,
            status,
        };
        let counter = self.http_requests.get_or_create_owned(&labels);
        counter.inc();
        RECENT_SERIES.with(|recent| {
            let mut recent = recent.borrow_mut();
            if recent.len() >= RECENT_SERIES_PER_THREAD {
                recent.remove(0);
            }
            recent.push(RecentSeries {
                metrics: self.id,
                route: labels.route,
                method,
                status,
                counter,
            });
        });
    }

    /// Counts an authentication outcome.
    pub fn record_auth(&self, method: AuthMethod, outcome: Outcome) {
        let labels = || AuthLabels {
            method: method.as_str(),
            outcome: outcome.as_str(),
        };
        let slot = self
            .auth_counters
            .get(method as usize)
            .and_then(|row| row.get(outcome as usize));
        match slot {
            // The family's counter itself (a counter is a shared cell).
            Some(slot) => {
                slot.get_or_init(|| self.auth_outcomes.get_or_create_owned(&labels()))
                    .inc();
            }
            None => {
                self.auth_outcomes.get_or_create(&labels()).inc();
            }
        }
    }

    /// Counts a username-and-password check ([`AuthMethod::Password`]).
    pub fn record_password(&self, outcome: Outcome) {
        self.record_auth(AuthMethod::Password, outcome);
    }

    /// Counts a request refused by the throttle of `scope` (a configured
    /// name such as `anon`, `user` or a route's scope; never client input).
    pub fn record_throttled(&self, scope: &str) {
        let scope = scope.chars().take(MAX_SCOPE_CHARS).collect();
        self.throttled.get_or_create(&ScopeLabels { scope }).inc();
    }

    /// Records how long a login check took.
    pub fn observe_login(&self, duration: Duration) {
        self.login_duration.observe(duration.as_secs_f64());
    }

    /// A guard that records the time from now until it is dropped as a
    /// login's duration (so early returns are measured too).
    pub fn login_timer(&self) -> LoginTimer<'_> {
        LoginTimer {
            metrics: self,
            started: Instant::now(),
        }
    }

    /// Counts a CSRF failure.
    pub fn record_csrf_failure(&self) {
        self.csrf_failures.inc();
    }

    /// Counts a lockout (login protection starting a back-off).
    pub fn record_lockout(&self) {
        self.lockouts.inc();
    }

    /// Counts a token key looked up in the store.
    pub fn record_token_db_lookup(&self) {
        self.token_db_lookups.inc();
    }

    /// Counts a failed token check from the client `address` (`None`:
    /// [`UNKNOWN_ADDRESS`]), in bounded memory (see the [module](self) docs).
    pub fn record_token_failure(&self, address: Option<&str>) {
        if let Ok(mut counts) = self.token_failures.lock() {
            counts.record(address.unwrap_or(UNKNOWN_ADDRESS));
        }
    }

    /// The metrics in Prometheus text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// See [`Metrics::login_timer`].
#[derive(Debug)]
pub struct LoginTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
}

impl Drop for LoginTimer<'_> {
    fn drop(&mut self) {
        self.metrics.observe_login(self.started.elapsed());
    }
}

/// The method label: the standard methods by name, any other as `OTHER`
/// (extension methods are client input and would make unbounded labels).
/// Numbers [`Metrics`] instances, for [`RECENT_SERIES`].
static NEXT_METRICS_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many request series a thread remembers.
const RECENT_SERIES_PER_THREAD: usize = 32;

/// A series of `tessera_http_requests_total` a thread counted lately.
#[derive(Debug)]
struct RecentSeries {
    metrics: u64,
    route: String,
    method: &'static str,
    status: u16,
    /// The family's counter itself (a counter is a shared cell).
    counter: Counter,
}

thread_local! {
    /// The request series this thread counted lately, so that counting a
    /// request is a short scan and an atomic add rather than a copy of its
    /// route, a hash of its labels and the family's lock (callgrind: about
    /// 600 instructions a request, and a lock shared by every thread).
    /// Oldest first, at most [`RECENT_SERIES_PER_THREAD`]; a series dropped
    /// from here is found in the family again.
    static RECENT_SERIES: std::cell::RefCell<Vec<RecentSeries>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Encodes `(name, help, value)` gauges read at scrape time.
fn encode_gauges(
    encoder: &mut DescriptorEncoder,
    gauges: &[(&str, &str, usize)],
) -> Result<(), std::fmt::Error> {
    for &(name, help, value) in gauges {
        let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
        gauge.encode(metric)?;
    }
    Ok(())
}

/// Encodes `(name, help, value)` counters read at scrape time.
fn encode_counters(
    encoder: &mut DescriptorEncoder,
    counters: &[(&str, &str, u64)],
) -> Result<(), std::fmt::Error> {
    for &(name, help, value) in counters {
        let counter = ConstCounter::new(value);
        let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
        counter.encode(metric)?;
    }
    Ok(())
}

/// The password hasher's queue and how often it gave way, read at scrape time.
#[derive(Debug)]
struct HasherMetrics(PasswordHasher);

impl Collector for HasherMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges = [
            (
                "tessera_password_hash_queue_depth",
                "Password hash jobs waiting for a worker.",
                self.0.queue_depth(),
            ),
            (
                "tessera_password_hash_running",
                "Password hash jobs running now.",
                self.0.running(),
            ),
            (
                "tessera_password_hash_queue_limit",
                "Password hash jobs that may wait now: as many as start within password.max_queue_wait at the recent pace.",
                self.0.queue_limit(),
            ),
        ];
        encode_gauges(&mut encoder, &gauges)?;
        let counters = [
            (
                "tessera_password_hash_gave_way",
                "Password hash jobs that waited for a busy async runtime before they started.",
                self.0.gave_way(),
            ),
            (
                "tessera_password_hash_forced",
                "Password hash jobs that waited as long as allowed, then ran anyway.",
                self.0.forced(),
            ),
            (
                "tessera_password_hash_share",
                "Password hash jobs run by the share lane (password.min_share).",
                self.0.shared(),
            ),
            (
                "tessera_password_hash_dropped",
                "Password hash jobs dropped unhashed because their request had gone.",
                self.0.dropped(),
            ),
            (
                "tessera_password_hash_timed_out",
                "Password hash jobs that could not start within password.max_queue_wait (answered 503).",
                self.0.timed_out(),
            ),
            (
                "tessera_password_hash_refused",
                "Password hash jobs refused at once, the queue full (answered 503).",
                self.0.refused(),
            ),
        ];
        encode_counters(&mut encoder, &counters)?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AddressLabels {
    address: String,
}

/// The top addresses of failed token checks, read at scrape time.
#[derive(Debug)]
struct TokenFailureMetrics(Arc<Mutex<AddressCounts>>);

impl Collector for TokenFailureMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (top, other) = match self.0.lock() {
            Ok(counts) => counts.top(TOP_ADDRESSES),
            Err(_) => return Ok(()),
        };
        let mut family = encoder.encode_descriptor(
            "tessera_token_auth_failures_by_address",
            "Failed token checks since start by client address: the ten addresses with the most, and other for the rest",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        let rows = top
            .into_iter()
            .chain(std::iter::once((OTHER.to_owned(), other)));
        for (address, count) in rows {
            let gauge = ConstGauge::new(i64::try_from(count).unwrap_or(i64::MAX));
            let labels = AddressLabels { address };
            gauge.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The credential cache's counts, read at scrape time.
#[derive(Debug)]
struct CacheMetrics(Arc<tessera_core::cache::CacheState>);

impl Collector for CacheMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (hits, misses) = self.0.stats();
        let counters = [
            (
                "tessera_credential_cache_hits",
                "Token and session lookups answered from the in-process cache (unknown keys included).",
                hits,
            ),
            (
                "tessera_credential_cache_misses",
                "Token and session lookups that went to the store.",
                misses,
            ),
            (
                "tessera_credential_cache_unknown_hits",
                "Lookups answered from the cache as an unknown key.",
                self.0.negative_hits(),
            ),
            (
                "tessera_revocation_poll_failures",
                "Reads of the revocation log that failed.",
                self.0.poll_failures(),
            ),
        ];
        encode_counters(&mut encoder, &counters)?;
        let fresh = ConstGauge::new(i64::from(self.0.is_fresh()));
        let metric = encoder.encode_descriptor(
            "tessera_revocation_log_fresh",
            "1 while the revocation log was read less than 1s ago (cached credentials older than 1s are used only then).",
            None,
            fresh.metric_type(),
        )?;
        fresh.encode(metric)?;
        Ok(())
    }
}

/// The audit writer's queue and counts, read at scrape time.
#[derive(Debug)]
struct AuditorMetrics(Arc<Auditor>);

impl Collector for AuditorMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges = [
            (
                "tessera_audit_queue_depth",
                "Audit events queued for the writer.",
                self.0.queue_depth(),
            ),
            (
                "tessera_audit_queue_capacity",
                "Audit events the queue holds at most; a request that finds it full waits.",
                self.0.settings().queue_capacity,
            ),
            (
                "tessera_audit_pending_rows",
                "Aggregated audit rows whose counts are held in memory, not yet written.",
                self.0.pending_rows(),
            ),
        ];
        encode_gauges(&mut encoder, &gauges)?;
        let counters = [
            (
                "tessera_audit_write_failures",
                "Audit writes the store refused.",
                self.0.failures(),
            ),
            (
                "tessera_audit_events_lost",
                "Audit events lost because their request was cancelled while the queue was full.",
                self.0.lost(),
            ),
        ];
        encode_counters(&mut encoder, &counters)?;
        Ok(())
    }
}

/// The use recorder's counts, read at scrape time.
#[derive(Debug)]
struct ToucherMetrics(Arc<Toucher>);

impl Collector for ToucherMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counters = [
            (
                "tessera_last_used_queued",
                "Credential uses queued to be written as last_used or last_seen (at most one a credential a minute).",
                self.0.writes(),
            ),
            (
                "tessera_last_used_dropped",
                "Credential uses not written because the queue was full.",
                self.0.dropped(),
            ),
            (
                "tessera_last_used_write_failures",
                "Batches of last-used writes the store refused.",
                self.0.failures(),
            ),
        ];
        encode_counters(&mut encoder, &counters)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::password::Argon2Params;

    fn metrics() -> Metrics {
        let params: Argon2Params = "m=256,t=1,p=1".parse().unwrap();
        Metrics::new(PasswordHasher::with_defaults(params).unwrap())
    }

    #[test]
    fn names_and_labels() {
        let m = metrics();
        m.record_request("/api/me/", &Method::GET, 200);
        m.record_request("/api/me/", &Method::from_bytes(b"BREW").unwrap(), 405);
        m.record_auth(AuthMethod::Token, Outcome::Success);
        m.record_auth(AuthMethod::Password, Outcome::of(false));
        m.record_throttled("anon");
        m.record_csrf_failure();
        m.record_lockout();
        m.record_token_db_lookup();
        m.record_token_failure(Some("203.0.113.7"));
        m.record_token_failure(Some("203.0.113.7"));
        m.record_token_failure(None);
        drop(m.login_timer());
        let text = m.encode().unwrap();
        for line in [
            "tessera_http_requests_total{route=\"/api/me/\",method=\"GET\",status=\"200\"} 1",
            "tessera_http_requests_total{route=\"/api/me/\",method=\"OTHER\",status=\"405\"} 1",
            "tessera_auth_outcomes_total{method=\"token\",outcome=\"success\"} 1",
            "tessera_auth_outcomes_total{method=\"password\",outcome=\"failure\"} 1",
            "tessera_throttled_total{scope=\"anon\"} 1",
            "tessera_csrf_failures_total 1",
            "tessera_lockouts_total 1",
            "tessera_token_db_lookups_total 1",
            "tessera_login_duration_seconds_count 1",
            "tessera_password_hash_queue_depth 0",
            "tessera_password_hash_running 0",
            "tessera_password_hash_gave_way_total 0",
            "tessera_password_hash_forced_total 0",
            "tessera_password_hash_share_total 0",
            "tessera_password_hash_dropped_total 0",
            "tessera_password_hash_timed_out_total 0",
            "tessera_password_hash_refused_total 0",
            "# TYPE tessera_token_auth_failures_by_address gauge",
            "tessera_token_auth_failures_by_address{address=\"203.0.113.7\"} 2",
            "tessera_token_auth_failures_by_address{address=\"unknown\"} 1",
            "tessera_token_auth_failures_by_address{address=\"other\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn failed_token_checks_show_the_top_addresses_and_other() {
        let m = metrics();
        for i in 0..(TRACKED_ADDRESSES as u32 * 3) {
            m.record_token_failure(Some(&format!(
                "10.{}.{}.{}",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )));
        }
        for _ in 0..50 {
            m.record_token_failure(Some("2001:db8::7"));
        }
        let text = m.encode().unwrap();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("tessera_token_auth_failures_by_address{"))
            .collect();
        assert_eq!(series.len(), TOP_ADDRESSES + 1, "{text}");
        assert!(
            series[0]
                .starts_with("tessera_token_auth_failures_by_address{address=\"2001:db8::7\"} "),
            "{series:?}"
        );
        let values: Vec<u64> = series
            .iter()
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            values.iter().sum::<u64>(),
            TRACKED_ADDRESSES as u64 * 3 + 50
        );
        assert!(series[TOP_ADDRESSES]
            .starts_with("tessera_token_auth_failures_by_address{address=\"other\"} "));
    }
}
