//! The `tessera` server: Django REST Framework's token authentication (and,
//! as the project grows, sessions, throttles and audit) as a service speaking
//! the contract of `API.md`.
//!
//! [`app`] builds the router from an [`AppState`]; [`run`] serves it on a
//! listener until `shutdown` resolves. The binary (`main.rs`) only parses the
//! command line and calls into [`cli`].

pub mod banner;
pub mod cli;
pub mod config;
pub mod django;
pub mod edge;
pub mod observability;
pub mod openapi;
pub mod routes;
pub mod webhook;

use anyhow::Context as _;
use config::{Config, SecureCookies};
use std::future::Future;
use std::sync::Arc;
use tessera_axum::accounts::{issue_token, TokenRequest};
use tessera_axum::alerts::{AlertPolicy, AlertSink};
use tessera_axum::audit::AuditSettings;
use tessera_axum::throttling::{parse_rates, Throttle};
use tessera_axum::{Authenticator, Counters, Settings, Tessera};
use tessera_core::csrf::CsrfConfig;
use tessera_core::host::AllowedHosts;
use tessera_core::password::{Argon2Params, PasswordHasher, PoolSettings};
use tessera_core::store::Health;
use tessera_core::throttle::{
    AlertWindowStore, LoginAttemptStore, LoginPolicy, MemoryAlertWindowStore,
    MemoryLoginAttemptStore, MemoryThrottleStore, ThrottleStore,
};
use tessera_core::validation::PasswordPolicy;
use tessera_core::{Clock, SystemClock, User};
use tessera_store_sql::SqlStore;
use tokio::net::TcpListener;

pub use routes::{admin_app, app};

/// What the routes share: the library's state and the server's configuration
/// ([`SharedState`], whose fields it derefs to).
///
/// One `Arc`: axum clones a handler's state for every request, and each
/// reference count it touches is a cache line the two cores of a busy
/// server pass between them (the fields are themselves `Arc`s: cloning
/// them one by one was six such counts a request, and six again to drop).
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

/// The fields of [`AppState`].
#[derive(Debug)]
pub struct SharedState {
    /// Stores, hasher, clock, authentication settings.
    pub tessera: Tessera,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Where the throttle, login-protection and security-alert counters are kept.
    pub counters: SharedCounters,
}

impl AppState {
    /// The state of these stores, configuration and counters.
    pub fn new(tessera: Tessera, config: Arc<Config>, counters: SharedCounters) -> Self {
        AppState(Arc::new(SharedState {
            tessera,
            config,
            counters,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The throttle, login-protection and security-alert counters, and where
/// they are kept:
/// Redis when `redis.url` is set, else PostgreSQL when the database is
/// PostgreSQL (shared by every process on it), else this process's memory.
#[derive(Clone)]
pub struct SharedCounters {
    /// `"redis"`, `"postgres"` or `"memory"`, as `/readyz` reports it.
    pub backend: &'static str,
    /// The throttles' windows.
    pub throttle: Arc<dyn ThrottleStore>,
    /// Login failure records.
    pub login_attempts: Arc<dyn LoginAttemptStore>,
    /// The security-alert windows.
    pub alert_windows: Arc<dyn AlertWindowStore>,
    /// A probe of a server `/readyz` must see answer (Redis, when sessions
    /// are kept there; the database is checked anyway).
    pub health: Option<Arc<dyn Health>>,
    /// The Redis counters and their fallback, when `redis.url` is set:
    /// `/readyz` checks Redis through them and reports where the counters
    /// are now.
    pub redis: Option<tessera_store_redis::WithFallback>,
}

impl std::fmt::Debug for SharedCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCounters")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl SharedCounters {
    /// Counters in this process's memory.
    pub fn in_memory() -> Self {
        SharedCounters {
            backend: "memory",
            throttle: Arc::new(MemoryThrottleStore::new()),
            login_attempts: Arc::new(MemoryLoginAttemptStore::new()),
            alert_windows: Arc::new(MemoryAlertWindowStore::new()),
            health: None,
            redis: None,
        }
    }

    /// The counters `store`'s database can share: PostgreSQL's tables, or
    /// memory for SQLite (one process).
    pub fn for_store(store: &SqlStore) -> Self {
        match store.counters() {
            Some(pg) => SharedCounters {
                backend: "postgres",
                throttle: Arc::new(pg.clone()),
                login_attempts: Arc::new(pg.clone()),
                alert_windows: Arc::new(pg),
                health: None,
                redis: None,
            },
            None => SharedCounters::in_memory(),
        }
    }
}

/// The counters for `config`: Redis when `redis.url` is set (connected and
/// checked now: a malformed or unreachable URL is an error naming the key),
/// else [`SharedCounters::for_store`]. While Redis is down, the Redis
/// counters fall back to [`SharedCounters::for_store`]'s (PostgreSQL's
/// tables, shared by every process, or this process's memory on SQLite),
/// and go back to Redis when it answers again
/// ([`tessera_store_redis::WithFallback`]).
pub async fn open_counters(config: &Config, store: &SqlStore) -> anyhow::Result<SharedCounters> {
    let Some(url) = &config.redis.url else {
        return Ok(SharedCounters::for_store(store));
    };
    let options = tessera_store_redis::RedisOptions {
        prefix: config.redis.key_prefix.clone(),
        ..tessera_store_redis::RedisOptions::default()
    };
    let redis = tessera_store_redis::RedisCounterStore::connect(url, options)
        .await
        .map_err(|e| {
            // One line, without the URL's password.
            let why = e.to_string().replace(['\n', '\r'], " ");
            anyhow::anyhow!("redis.url ({}): {why}", redact_url(url))
        })?;
    let fallback = SharedCounters::for_store(store);
    let counters = tessera_store_redis::WithFallback::new(
        redis,
        tessera_store_redis::Fallback {
            name: fallback.backend,
            throttle: fallback.throttle,
            login_attempts: fallback.login_attempts,
            alert_windows: fallback.alert_windows,
        },
    );
    Ok(SharedCounters {
        backend: "redis",
        throttle: Arc::new(counters.clone()),
        login_attempts: Arc::new(counters.clone()),
        alert_windows: Arc::new(counters.clone()),
        health: None,
        redis: Some(counters),
    })
}

impl axum::extract::FromRef<AppState> for Tessera {
    fn from_ref(state: &AppState) -> Tessera {
        state.tessera.clone()
    }
}

/// The library's settings from the configuration.
pub fn settings(config: &Config) -> anyhow::Result<Settings> {
    let default_authenticators = config
        .authentication
        .default
        .iter()
        .map(|name| name.parse::<Authenticator>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("authentication.default")?;
    // The CSRF check counts only an allowed `Host` as the request's own
    // origin, even where a library user has no host layer in front of it.
    let csrf = CsrfConfig::new(config.csrf.trusted_origins.iter().cloned())
        .map_err(anyhow::Error::msg)
        .context("csrf.trusted_origins")?
        .with_allowed_hosts(allowed_hosts(config).patterns().iter().cloned());
    Ok(Settings {
        token_keyword: config.authentication.token_keyword.clone(),
        accept_bearer: config.authentication.accept_bearer,
        default_authenticators,
        token_lifetime: config.tokens.default_lifetime.0,
        max_tokens_per_user: config.tokens.max_per_user,
        token_idle_timeout: token_idle_timeout(config)?,
        token_rotation_grace: config.tokens.rotation_grace,
        revoke_on_password_change: config.password.revoke_on_change,
        body_limit: config.limits.body_bytes,
        session_cookie: cookie_names(config)?.0,
        csrf_cookie: cookie_names(config)?.1,
        secure_cookies: secure_cookies(config)?,
        session_idle_timeout: config.sessions.idle_timeout,
        session_max_age: config.sessions.max_age,
        reauth_window: config.reauth.window,
        num_proxies: trusted_proxies(config)?,
        csrf,
        csrf_use_sessions: config.csrf.use_sessions,
        audit: AuditSettings {
            aggregate_window: config.audit.aggregate_window,
            ..AuditSettings::default()
        },
        password_policy: PasswordPolicy::new(config.password.min_length)
            .map_err(anyhow::Error::msg)
            .context("password.min_length")?,
        throttle_rates: parse_rates(&config.throttle.rates).map_err(anyhow::Error::msg)?,
        default_throttles: vec![Throttle::Anon, Throttle::User],
        login_policy: LoginPolicy {
            max_failures: config.login_protection.max_failures,
            max_failures_per_address: config.login_protection.max_failures_per_address,
            window: config.login_protection.window,
            max_lockout: config.login_protection.max_lockout,
            max_backoff: config.login_protection.max_backoff,
            ..LoginPolicy::default()
        },
        alert_policy: AlertPolicy {
            usernames_per_address: config.alerts.usernames_per_address,
            addresses_per_username: config.alerts.addresses_per_username,
            window: config.alerts.window,
        },
        alert_sink: config
            .alerts
            .webhook_url
            .clone()
            .map(|url| Arc::new(webhook::Webhook::new(url)) as Arc<dyn AlertSink>),
    })
}

/// `server.allowed_hosts` in force: the configured patterns, or when none
/// are set the loopback names (`localhost`, `127.0.0.1`, `[::1]`) and the bind
/// address, as Django's `ALLOWED_HOSTS` under `DEBUG` (where Django also
/// allows only `localhost`, `127.0.0.1` and `[::1]`).
pub fn allowed_hosts(config: &Config) -> AllowedHosts {
    if !config.server.allowed_hosts.is_empty() {
        return AllowedHosts::new(config.server.allowed_hosts.iter().cloned());
    }
    let bind = match config.server.bind.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    if !hosts.contains(&bind) {
        hosts.push(bind);
    }
    AllowedHosts::new(hosts)
}

/// Refuses to serve on a non-loopback address (`0.0.0.0` included) without
/// `server.allowed_hosts`: the loopback defaults would refuse every client
/// that names the server, and allowing any host must be a choice (`*`), as
/// Django refuses to run with `DEBUG = False` and no `ALLOWED_HOSTS`.
pub fn check_allowed_hosts(config: &Config) -> anyhow::Result<()> {
    let bind = config.server.bind;
    if config.server.allowed_hosts.is_empty() && !bind.ip().is_loopback() {
        anyhow::bail!(
            "server.allowed_hosts is not set: serving on {bind} needs the host names clients use, \
             e.g. allowed_hosts = [\"api.example.com\"] in [server] or \
             TESSERA_SERVER__ALLOWED_HOSTS='[\"api.example.com\"]' (\"*\" allows any host)"
        );
    }
    Ok(())
}

/// `tokens.idle_timeout`, refused below two minutes: uses are recorded at
/// most once a minute ([`tessera_axum::touch::INTERVAL`]), so a shorter
/// timeout would refuse keys in steady use.
pub fn token_idle_timeout(config: &Config) -> anyhow::Result<Option<std::time::Duration>> {
    let interval = std::time::Duration::try_from(tessera_axum::touch::INTERVAL)
        .unwrap_or(std::time::Duration::from_secs(60));
    match config.tokens.idle_timeout.0 {
        Some(idle) if idle < 2 * interval => anyhow::bail!(
            "tokens.idle_timeout must be at least {}s (uses are recorded once every {}s), or none",
            (2 * interval).as_secs(),
            interval.as_secs()
        ),
        idle => Ok(idle),
    }
}

/// `cookies.secure`: `auto` sets `Secure` when the server serves TLS
/// (`[tls]`) and otherwise unless it listens on a loopback address
/// (development over plain HTTP).
pub fn secure_cookies(config: &Config) -> anyhow::Result<bool> {
    Ok(match config.cookies.secure {
        SecureCookies::Auto => tls_enabled(config)? || !config.server.bind.ip().is_loopback(),
        SecureCookies::Always => true,
        SecureCookies::Never => false,
    })
}

/// OWASP's argon2id minimums as (memory in KiB, iterations) pairs, any one
/// of which is enough (SECURITY K1): m=19456,t=2, or m=47104,t=1, or
/// m=12288,t=3.
pub const ARGON2_FLOORS: [(u32, u32); 3] = [(19_456, 2), (47_104, 1), (12_288, 3)];

/// Whether `params` reach one of [`ARGON2_FLOORS`].
pub fn argon2_meets_floor(params: &Argon2Params) -> bool {
    ARGON2_FLOORS
        .iter()
        .any(|&(m, t)| params.m_cost >= m && params.t_cost >= t)
}

/// Whether `[tls]` is configured; one of its two keys alone is an error.
pub fn tls_enabled(config: &Config) -> anyhow::Result<bool> {
    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(_), Some(_)) => Ok(true),
        (None, None) => Ok(false),
        _ => anyhow::bail!("tls.cert_file and tls.key_file go together: set both or neither"),
    }
}

/// `server.trusted_proxies`, or its older name `throttle.num_proxies`; both
/// set to different counts is an error.
pub fn trusted_proxies(config: &Config) -> anyhow::Result<usize> {
    match config.server.trusted_proxies {
        None => Ok(config.throttle.num_proxies),
        Some(n) if config.throttle.num_proxies == 0 || config.throttle.num_proxies == n => Ok(n),
        Some(n) => anyhow::bail!(
            "server.trusted_proxies ({n}) and its alias throttle.num_proxies ({}) disagree: set one",
            config.throttle.num_proxies
        ),
    }
}

/// The session and CSRF cookie names: `cookies.session_name` and
/// `cookies.csrf_name`, with `__Host-` in front when `cookies.host_prefix`
/// is on. The prefix needs `Secure` cookies (browsers drop a `__Host-`
/// cookie without it; Tessera's cookies always have `Path=/` and no
/// `Domain`), so it is refused with plain-HTTP cookies.
pub fn cookie_names(config: &Config) -> anyhow::Result<(String, String)> {
    let cookies = &config.cookies;
    if !cookies.host_prefix {
        return Ok((cookies.session_name.clone(), cookies.csrf_name.clone()));
    }
    if !secure_cookies(config)? {
        anyhow::bail!(
            "cookies.host_prefix = true needs Secure cookies: configure [tls] \
             or set cookies.secure = true (behind a TLS proxy)"
        );
    }
    let prefixed = |name: &str| {
        if name.starts_with("__Host-") {
            name.to_owned()
        } else {
            format!("__Host-{name}")
        }
    };
    Ok((
        prefixed(&cookies.session_name),
        prefixed(&cookies.csrf_name),
    ))
}

/// The password hasher the configuration asks for. Parameters below OWASP's
/// minimum ([`ARGON2_FLOORS`]) are refused unless
/// `password.allow_weak_parameters` is set (test suites).
pub fn hasher(config: &Config) -> anyhow::Result<PasswordHasher> {
    let params: Argon2Params = config
        .password
        .argon2
        .parse()
        .map_err(anyhow::Error::msg)
        .context("password.argon2")?;
    if !config.password.allow_weak_parameters && !argon2_meets_floor(&params) {
        anyhow::bail!(
            "password.argon2 = {:?} is below OWASP's minimum for argon2id \
             (m=19456,t=2, or m=47104,t=1, or m=12288,t=3): raise it, or set \
             password.allow_weak_parameters = true (for tests only)",
            config.password.argon2
        );
    }
    let min_share = config.password.min_share;
    if !(0.0..=1.0).contains(&min_share) {
        anyhow::bail!("password.min_share = {min_share} must be between 0 and 1 (a share of the machine's CPU time)");
    }
    let pool = PoolSettings {
        min_share,
        max_give_way: config.password.max_give_way,
        max_queue_wait: config.password.max_queue_wait,
        ..PoolSettings::default()
    };
    Ok(PasswordHasher::with_pool(params, pool)?)
}

/// The shortest `metrics.bearer_token` accepted.
pub const MIN_METRICS_TOKEN_LEN: usize = 32;

/// `metrics.bearer_token`, refused when shorter than
/// [`MIN_METRICS_TOKEN_LEN`] characters or holding whitespace.
pub fn metrics_token(config: &Config) -> anyhow::Result<Option<Arc<str>>> {
    match &config.metrics.bearer_token {
        None => Ok(None),
        Some(token) => {
            let token = token.0.as_str();
            if token.chars().count() < MIN_METRICS_TOKEN_LEN
                || token.chars().any(char::is_whitespace)
            {
                anyhow::bail!(
                    "metrics.bearer_token must be at least {MIN_METRICS_TOKEN_LEN} characters \
                     without spaces (e.g. `openssl rand -hex 32`)"
                );
            }
            Ok(Some(Arc::from(token)))
        }
    }
}

/// Whether `/metrics` on the public listener is open to anyone: only when
/// there is no admin listener and `server.bind` is a loopback address
/// (where only this machine can reach it). Elsewhere it needs a staff
/// credential (a scoped token the `admin` scope) or `metrics.bearer_token`.
pub fn public_metrics_open(config: &Config) -> bool {
    config.server.admin_bind.is_none() && config.server.bind.ip().is_loopback()
}

/// Checks the settings that refuse a start, before anything is opened.
pub fn check(config: &Config) -> anyhow::Result<()> {
    hasher(config)?;
    metrics_token(config)?;
    cors(config)?;
    Ok(())
}

/// `[cors]` as tower-http's CORS layer (django-cors-headers' settings), or
/// `None` when `cors.allowed_origins` is empty: then no CORS layer runs and
/// responses are exactly as without CORS. Refused, with a one-line error
/// naming the key: an origin not written `scheme://host[:port]` as browsers
/// send it (a path, a trailing slash, upper case, a default port), `null`,
/// `*` beside other origins or with `cors.allow_credentials` (browsers refuse
/// that pair anyway), and header names or methods that are not HTTP tokens
/// (or `*`: list them).
pub fn cors(config: &Config) -> anyhow::Result<Option<tower_http::cors::CorsLayer>> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let cors = &config.cors;
    if cors.allowed_origins.is_empty() {
        return Ok(None);
    }
    let any = cors.allowed_origins.iter().any(|origin| origin == "*");
    let origins = if any {
        if cors.allowed_origins.len() > 1 {
            anyhow::bail!("cors.allowed_origins: \"*\" allows every origin and must be alone");
        }
        if cors.allow_credentials {
            anyhow::bail!(
                "cors.allowed_origins = [\"*\"] cannot go with cors.allow_credentials = true \
                 (browsers refuse credentials with Access-Control-Allow-Origin: *): \
                 list the origins"
            );
        }
        AllowOrigin::any()
    } else {
        let origins = cors
            .allowed_origins
            .iter()
            .map(|origin| cors_origin(origin))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("cors.allowed_origins: {e}"))?;
        AllowOrigin::list(origins)
    };
    let headers = |key: &str, names: &[String]| {
        names
            .iter()
            .map(|name| cors_header_name(name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("cors.{key}: {e}"))
    };
    let methods = cors
        .allowed_methods
        .iter()
        .map(|method| cors_method(method))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("cors.allowed_methods: {e}"))?;
    let mut layer = CorsLayer::new()
        .allow_origin(origins)
        .allow_credentials(cors.allow_credentials)
        .allow_headers(headers("allowed_headers", &cors.allowed_headers)?)
        .allow_methods(methods)
        .expose_headers(headers("expose_headers", &cors.expose_headers)?);
    if !cors.max_age.is_zero() {
        layer = layer.max_age(cors.max_age);
    }
    Ok(Some(layer))
}

/// One entry of `cors.allowed_origins`: an origin exactly as a browser
/// sends it in `Origin`, since it is compared byte for byte.
fn cors_origin(text: &str) -> Result<axum::http::HeaderValue, String> {
    let example = "write scheme://host[:port], e.g. \"https://app.example\"";
    if text == "null" {
        // Sandboxed frames and `file:` or `data:` pages all send `null`.
        return Err("\"null\" is never allowed: any page can take that origin".to_owned());
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!("{text:?} is not an origin: {example}"));
    };
    if text.contains('*') {
        return Err(format!(
            "{text:?}: no wildcards, list each origin (or [\"*\"] alone for any)"
        ));
    }
    if let Some(at) = rest.find(['/', '?', '#']) {
        let origin = format!("{scheme}://{}", &rest[..at]);
        if &rest[at..] == "/" {
            return Err(format!("{text:?}: no trailing slash, write {origin:?}"));
        }
        return Err(format!(
            "{text:?}: an origin has no path, query or fragment, write {origin:?}"
        ));
    }
    if rest.contains('@') {
        return Err(format!("{text:?}: an origin has no user name, {example}"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not an origin: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host: {example}"));
    }
    // What browsers send: lower case, punycode, no default port.
    let canonical = match url.origin() {
        origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
        url::Origin::Opaque(_) => url.as_str().to_owned(),
    };
    if canonical != text {
        return Err(format!(
            "{text:?} is not written as browsers send it: write {canonical:?}"
        ));
    }
    axum::http::HeaderValue::from_str(text).map_err(|e| format!("{text:?}: {e}"))
}

/// A header name of `cors.allowed_headers` or `cors.expose_headers`.
fn cors_header_name(text: &str) -> Result<axum::http::HeaderName, String> {
    if text == "*" {
        return Err("\"*\" is not supported: list the header names".to_owned());
    }
    axum::http::HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| format!("{text:?} is not a header name"))
}

/// A method of `cors.allowed_methods`: an HTTP token in upper case (browsers
/// compare methods other than the six standard ones case-sensitively).
fn cors_method(text: &str) -> Result<axum::http::Method, String> {
    if text == "*" {
        return Err("\"*\" is not supported: list the methods".to_owned());
    }
    if text != text.to_ascii_uppercase() {
        return Err(format!(
            "{text:?}: write methods in upper case ({:?})",
            text.to_ascii_uppercase()
        ));
    }
    axum::http::Method::from_bytes(text.as_bytes()).map_err(|_| format!("{text:?} is not a method"))
}

/// The start-up warnings of `[cors]`: one for each origin allowed with
/// credentials that `csrf.trusted_origins` does not trust. Django keeps the
/// two lists apart (`CORS_ALLOWED_ORIGINS`, `CSRF_TRUSTED_ORIGINS`), and so
/// does Tessera: reading a cross-origin answer and writing with a session
/// from that origin are separate grants. Without the second, the page's
/// session login and session-authenticated writes get the CSRF `403`.
pub fn cors_warnings(config: &Config) -> Vec<String> {
    let cors = &config.cors;
    if !cors.allow_credentials {
        return Vec::new();
    }
    let Ok(csrf) = CsrfConfig::new(config.csrf.trusted_origins.iter().cloned()) else {
        return Vec::new();
    };
    cors.allowed_origins
        .iter()
        .filter(|origin| {
            let request = tessera_core::csrf::CsrfRequest {
                method: axum::http::Method::POST,
                is_secure: origin.starts_with("https://"),
                host: None,
                origin: Some(origin.as_bytes()),
                referer: None,
                cookie: None,
                header_token: None,
                form_token: None,
            };
            !tessera_core::csrf::origin_verified(&request, &csrf)
        })
        .map(|origin| {
            format!(
                "cors.allowed_origins has {origin:?} with cors.allow_credentials, but \
                 csrf.trusted_origins does not trust it: session logins and session-authenticated \
                 writes from its pages will get 403 \"CSRF Failed: Origin checking failed\"; \
                 add it to csrf.trusted_origins (Django needs both lists too)"
            )
        })
        .collect()
}

/// Opens the configured store and applies its migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<SqlStore> {
    let options = tessera_store_sql::ConnectOptions {
        acquire_timeout: config.database.acquire_timeout,
    };
    let store = SqlStore::connect_with(&config.database.url, options)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                redact_url(&config.database.url)
            )
        })?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

/// The state for `config`, over an opened store, with the given clock; the
/// counters are those of [`SharedCounters::for_store`] (see
/// [`state_with_counters`] for Redis).
pub fn state(config: Config, store: SqlStore, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let counters = SharedCounters::for_store(&store);
    state_with_counters(config, store, clock, counters)
}

/// [`state`] with these counters ([`open_counters`]).
pub fn state_with_counters(
    config: Config,
    store: SqlStore,
    clock: Arc<dyn Clock>,
    counters: SharedCounters,
) -> anyhow::Result<AppState> {
    // Token and session checks are served from an in-process cache; a local
    // revocation drops the entries it concerns at once, another process's
    // within a second (the revocation log, polled by start_background).
    let cache = config.cache.settings().map_err(anyhow::Error::msg)?;
    let (mut stores, _cache) = tessera_core::cache::with_cache(store, cache);
    let mut counters = counters;
    if config.sessions.store == config::SessionBackend::Redis {
        let Some(redis) = &counters.redis else {
            anyhow::bail!(
                "sessions.store = \"redis\" needs redis.url (e.g. TESSERA_REDIS__URL=redis://127.0.0.1:6379)"
            );
        };
        // Sessions in Redis, uncached (a Redis read is what the cache would
        // save); their users still come from the database, through the cache.
        let sessions = tessera_store_redis::RedisSessionStore::new(
            redis.redis(),
            stores.users.clone(),
            config.sessions.idle_timeout,
        );
        stores.audited = Arc::new(tessera_store_redis::RedisSessionWrites::new(
            sessions.clone(),
            stores.audited.clone(),
            stores.audit.clone(),
        ));
        stores.sessions = Arc::new(sessions.clone());
        // Without Redis no session works: `/readyz` checks it.
        counters.health = Some(Arc::new(sessions));
    }
    build_state(config, stores, clock, counters)
}

/// The state for `config` over any stores (tests put a failing or hanging
/// one in), with the given clock.
pub fn state_with_stores(
    config: Config,
    stores: tessera_core::Stores,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    build_state(config, stores, clock, SharedCounters::in_memory())
}

fn build_state(
    config: Config,
    stores: tessera_core::Stores,
    clock: Arc<dyn Clock>,
    counters: SharedCounters,
) -> anyhow::Result<AppState> {
    metrics_token(&config)?;
    cors(&config)?;
    let mut builder = Tessera::builder()
        .stores(stores)
        .hasher(hasher(&config)?)
        .settings(settings(&config)?)
        .counters(Counters {
            throttle: counters.throttle.clone(),
            login_attempts: counters.login_attempts.clone(),
            alert_windows: counters.alert_windows.clone(),
        })
        .clock(clock);
    if config.tokens.create_on_user_creation {
        builder = builder.on_user_created(|tessera: Tessera, user: User| async move {
            token_for_new_user(&tessera, &user).await
        });
    }
    let tessera = builder.build()?;
    Ok(AppState::new(tessera, Arc::new(config), counters))
}

/// The seed's `post_save` signal: every new user gets a token, whose key is
/// returned with the creation (it is shown only then).
async fn token_for_new_user(
    tessera: &Tessera,
    user: &User,
) -> Result<serde_json::Map<String, serde_json::Value>, tessera_axum::Rejection> {
    let request = TokenRequest {
        name: "created-with-user".to_owned(),
        scopes: Vec::new(),
        lifetime: None,
        authenticated_at: None,
    };
    let event = tessera_axum::audit::RequestMeta::default().user_event(
        tessera.clock().now(),
        tessera_core::audit::EventKind::TokenCreated,
        user,
        serde_json::json!({"name": request.name, "via": "user-created hook"}),
    );
    let (key, _) = issue_token(tessera, user, request, event).await?;
    let mut extra = serde_json::Map::new();
    extra.insert("token".to_owned(), serde_json::Value::from(key.expose()));
    Ok(extra)
}

/// Serves the application on `listener` until `shutdown` resolves, then
/// finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    check(&config)?;
    check_allowed_hosts(&config)?;
    let limits = edge::Limits::from_config(&config)?;
    let tls = match (&config.tls.cert_file, &config.tls.key_file) {
        _ if !tls_enabled(&config)? => None,
        (Some(cert), Some(key)) => Some(Arc::new(edge::ReloadableCert::load(cert, key)?)),
        _ => None,
    };
    let admin_listener = match config.server.admin_bind {
        Some(admin_bind) => Some(
            TcpListener::bind(admin_bind)
                .await
                .with_context(|| format!("cannot listen on {admin_bind} (server.admin_bind)"))?,
        ),
        None => None,
    };
    let store = open_store(&config).await?;
    let counters = open_counters(&config, &store).await?;
    tracing::info!(backend = counters.backend, "throttle and login counters");
    let state = state_with_counters(config, store, Arc::new(SystemClock), counters)?;
    let tessera = state.tessera.clone();
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() && tls.is_none() && limits.trusted_proxies == 0 {
        tracing::warn!(
            "serving plain HTTP on {addr}, a non-loopback address, with neither TLS nor a \
             trusted proxy: set [tls] cert_file and key_file, or server.trusted_proxies \
             behind a TLS-terminating proxy"
        );
    }
    if !state.tessera.settings().secure_cookies {
        tracing::info!(
            "development mode: cookies are sent without Secure (plain HTTP on loopback); \
             set cookies.secure = true behind TLS"
        );
    }
    if !state.config.cors.allowed_origins.is_empty() {
        tracing::info!(
            origins = ?state.config.cors.allowed_origins,
            credentials = state.config.cors.allow_credentials,
            "CORS: pages on these origins may call the public listener"
        );
    }
    for warning in cors_warnings(&state.config) {
        tracing::warn!("{warning}");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, "tessera listening");
    if let Some(admin) = &admin_listener {
        let addr = admin.local_addr()?;
        tracing::info!(%addr, scheme, "tessera admin listening: /admin/ and /metrics are served here only");
        if !addr.ip().is_loopback() {
            // /metrics needs no credential on this listener.
            tracing::warn!(
                %addr,
                "server.admin_bind is not a loopback address: /metrics is open to anyone who reaches it"
            );
        }
    }
    let users = state
        .tessera
        .stores()
        .users
        .list_users(None, 0, 1)
        .await
        .map(|page| page.count)
        .unwrap_or(0);
    let admin_addr = match &admin_listener {
        Some(admin) => Some(admin.local_addr()?),
        None => None,
    };
    banner::Banner::new(&state.config, scheme, addr, admin_addr, users).print();
    // The audit writer and the purge of expired credentials.
    tessera.start_background(&tokio::runtime::Handle::current());
    let prune = spawn_audit_retention(
        state.tessera.clone(),
        state.config.audit.retention,
        AUDIT_RETENTION_INTERVAL,
    );
    // One shutdown signal for both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        // A dropped sender also stops the servers.
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let admin = {
        let (state, stopped, limits, tls) =
            (state.clone(), stopped.clone(), limits.clone(), tls.clone());
        async move {
            match admin_listener {
                Some(listener) => {
                    edge::serve(
                        listener,
                        admin_app(state),
                        limits,
                        tls,
                        until_stopped(stopped),
                    )
                    .await
                }
                None => Ok(()),
            }
        }
    };
    let public = edge::serve(listener, app(state), limits, tls, until_stopped(stopped));
    tokio::try_join!(public, admin)?;
    prune.abort();
    // Queued audit events are written before the process exits.
    tessera.shutdown().await;
    tracing::info!("tessera stopped");
    Ok(())
}

/// Deletes expired tokens and sessions (`tessera clearsessions`; the
/// server's background task is the library's,
/// [`Tessera::start_background`]); how many of each.
pub async fn purge_expired(tessera: &Tessera) -> Result<(u64, u64), tessera_core::StoreError> {
    tessera.purge_expired().await
}

/// How often the server deletes audit events past the retention.
pub const AUDIT_RETENTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes audit events past `retention` now and then every `every` (the
/// server: hourly, [`AUDIT_RETENTION_INTERVAL`]), until aborted.
pub fn spawn_audit_retention(
    tessera: Tessera,
    retention: std::time::Duration,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = prune_audit(&tessera, retention).await {
                tracing::warn!(error = %e, "deleting old audit events failed");
            }
        }
    })
}

/// Deletes the audit events older than `retention` by the state's clock
/// (the background task and `tessera clearsessions`); how many. An event
/// exactly `retention` old is kept.
pub async fn prune_audit(
    tessera: &Tessera,
    retention: std::time::Duration,
) -> Result<u64, tessera_core::StoreError> {
    let retention = time::Duration::try_from(retention).unwrap_or(time::Duration::MAX);
    let cutoff = tessera
        .clock()
        .now()
        .checked_sub(retention)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let deleted = tessera.stores().audit.delete_events_before(cutoff).await?;
    if deleted > 0 {
        tracing::info!(deleted, "audit events past the retention deleted");
    }
    Ok(deleted)
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
