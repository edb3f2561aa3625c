//! Configuration: one TOML file, every key overridable by an environment
//! variable named after its path (`TESSERA_DATABASE__URL` for `database.url`),
//! and sensible defaults so that `tessera serve` needs none of it.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub mod keys;

/// The whole configuration. Names follow DRF's settings where DRF has one.
#[derive(Debug, Clone, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[redis]`.
    pub redis: RedisConfig,
    /// `[cache]`.
    pub cache: CacheConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[authentication]`.
    pub authentication: AuthenticationConfig,
    /// `[tokens]`.
    pub tokens: TokensConfig,
    /// `[sessions]`.
    pub sessions: SessionsConfig,
    /// `[cookies]`.
    pub cookies: CookiesConfig,
    /// `[csrf]`.
    pub csrf: CsrfConfig,
    /// `[cors]`.
    pub cors: CorsConfig,
    /// `[reauth]`.
    pub reauth: ReauthConfig,
    /// `[registration]`.
    pub registration: RegistrationConfig,
    /// `[throttle]`.
    pub throttle: ThrottleConfig,
    /// `[login_protection]`.
    pub login_protection: LoginProtectionConfig,
    /// `[alerts]`.
    pub alerts: AlertsConfig,
    /// `[audit]`.
    pub audit: AuditConfig,
    /// `[password]`.
    pub password: PasswordConfig,
    /// `[demo]`.
    pub demo: DemoConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[tls]`.
    pub tls: TlsConfig,
}

/// `[server]`: where and how the server listens.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listening address (`localhost:8000` is `127.0.0.1:8000`; `0.0.0.0:8000`
    /// listens on every interface and then needs `allowed_hosts`).
    #[serde(deserialize_with = "socket_addr::deserialize")]
    #[schemars(with = "String")]
    pub bind: SocketAddr,
    /// A second listener (e.g. `127.0.0.1:9000`) that alone serves
    /// `/admin/*` and `/metrics`, with the same state; the public listener
    /// then answers `404` for them. Unset (the default): both stay on the
    /// public listener, `/metrics` behind a staff credential or
    /// `metrics.bearer_token` unless `bind` is a loopback address.
    #[serde(deserialize_with = "socket_addr::deserialize_option")]
    #[schemars(with = "Option<String>", example = "127.0.0.1:9000")]
    pub admin_bind: Option<SocketAddr>,
    /// Django's `ALLOWED_HOSTS`: the `Host` names the server answers
    /// (`api.example.com` exactly, `.example.com` for the domain and its
    /// subdomains, `*` for any; the port is ignored). Any other `Host` gets
    /// `400 invalid_host` before authentication. Empty (the default) means
    /// `localhost`, `127.0.0.1`, `[::1]` and the bind address, and is refused
    /// at start when the bind address is not loopback.
    pub allowed_hosts: Vec<String>,
    /// `Strict-Transport-Security: max-age` on requests that came over TLS
    /// (directly or through a trusted proxy), Django's `SECURE_HSTS_SECONDS`:
    /// a duration (`365d`) or seconds (`31536000`); `0` turns the header off.
    /// Default one year.
    #[serde(with = "duration_or_zero")]
    #[schemars(with = "String")]
    pub hsts_max_age: Duration,
    /// Add `includeSubDomains` to `Strict-Transport-Security` (ASVS 5
    /// 3.4.1 at L2; Django's `SECURE_HSTS_INCLUDE_SUBDOMAINS`, off there by
    /// default). Turn it off when a sibling subdomain still serves plain HTTP.
    pub hsts_include_subdomains: bool,
    /// Trusted reverse proxies in front of the server (a count, as
    /// `throttle.num_proxies`, which stays an alias): their
    /// `X-Forwarded-For` gives the client address and their
    /// `X-Forwarded-Proto: https` counts as TLS. Unset: `throttle.num_proxies`.
    #[schemars(example = 1)]
    pub trusted_proxies: Option<usize>,
    /// How long a client has to send a request's head (request line and
    /// headers) once the server waits for it; then the connection is closed.
    /// On a keep-alive connection the wait for the next request counts too.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body once its head is read;
    /// then `408` and the connection is closed.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub body_read_timeout: Duration,
    /// The longest silence from the client while no request is being
    /// answered (between requests, or in the middle of a head); then the
    /// connection is closed.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub idle_timeout: Duration,
    /// Concurrent connections; a connection past it is answered `503` and
    /// closed at once (never queued).
    pub max_connections: usize,
    /// The request line and headers together, in bytes; more: `431`.
    pub max_header_bytes: usize,
    /// How long `GET /readyz` waits for each store (`1s`): one that has not answered by then is reported down (`503`, the store named).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub readiness_timeout: Duration,
    /// How long a stopping server (`SIGTERM`, Ctrl-C) lets the requests in flight finish (`10s`) after it stops accepting connections; then the rest are cut, the audit queue is written, and the process exits 0.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            admin_bind: None,
            allowed_hosts: Vec::new(),
            hsts_max_age: Duration::from_secs(365 * 86_400),
            hsts_include_subdomains: true,
            trusted_proxies: None,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            readiness_timeout: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// `[tls]`: HTTPS on the listening address (both files or neither).
#[derive(Debug, Clone, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first. Re-read on `SIGHUP`.
    #[schemars(example = "/etc/tessera/cert.pem")]
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Re-read on `SIGHUP`.
    #[schemars(example = "/etc/tessera/key.pem")]
    pub key_file: Option<std::path::PathBuf>,
}

/// The default database: SQLite in `./tessera-data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tessera-data/tessera.db";

/// `[database]`: where users, tokens, sessions and the audit log are kept.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created `0700`/`0600`) or `postgres://USER:PASSWORD@HOST/DB`
    /// (`?sslmode=verify-full&sslrootcert=FILE` for TLS). `--data-dir` or
    /// `TESSERA_DATA_DIR` moves the default SQLite file.
    pub url: String,
    /// How long a request waits for a database connection (`2s`) before it is answered `503` with `Retry-After`.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: DEFAULT_DATABASE_URL.to_owned(),
            acquire_timeout: tessera_store_sql::DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// `[redis]`: a Redis server for the counters every process shares
/// (throttles, login protection). Without it, the counters are kept in
/// PostgreSQL when the database is PostgreSQL, else in this process's memory.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]`: keep the throttle and login
    /// counters there. Checked at start: a malformed or unreachable URL
    /// stops the server with an error naming this key.
    #[schemars(example = "redis://127.0.0.1:6379")]
    pub url: Option<String>,
    /// Prefix of every key Tessera writes (`tessera:`), for several
    /// deployments on one server.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            key_prefix: tessera_store_redis::DEFAULT_PREFIX.to_owned(),
        }
    }
}

/// `[cache]`: the in-process cache of token and session checks. A found
/// credential is kept up to `ttl`; a revocation (a token deleted, rotated or
/// re-dated, a session ended, a password changed, a user deactivated) reaches
/// every process within 1 s whatever `ttl` is, through the database's
/// revocation log, which each process reads every `poll_interval`
/// (PostgreSQL's `LISTEN/NOTIFY` wakes it sooner). When the log cannot be read
/// for 1 s, cached entries older than 1 s are not used until it can.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long a found token or session is kept in memory (`5m`).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub ttl: Duration,
    /// How often each process reads the revocation log (`250ms`); below `1s`.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
    /// How long a key found unknown is remembered (`500ms`; at most `1s`, so
    /// that a key created by another process works here within 1 s).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub negative_ttl: Duration,
    /// How many tokens, and how many sessions, are kept at most; past it the
    /// least used entries are evicted.
    pub capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let core = tessera_core::cache::CacheConfig::default();
        CacheConfig {
            ttl: core.ttl,
            poll_interval: core.poll_interval,
            negative_ttl: core.negative_ttl,
            capacity: core.capacity,
        }
    }
}

impl CacheConfig {
    /// The cache's settings, or why they cannot work.
    pub fn settings(&self) -> Result<tessera_core::cache::CacheConfig, String> {
        let bound = tessera_core::cache::REVOCATION_BOUND;
        if self.poll_interval >= bound {
            return Err(format!(
                "cache.poll_interval must be below {}ms (the revocation bound)",
                bound.as_millis()
            ));
        }
        if self.negative_ttl > bound {
            return Err(format!(
                "cache.negative_ttl must be at most {}ms (the revocation bound)",
                bound.as_millis()
            ));
        }
        if self.capacity == 0 {
            return Err("cache.capacity must be at least 1".to_owned());
        }
        Ok(tessera_core::cache::CacheConfig {
            ttl: self.ttl,
            negative_ttl: self.negative_ttl,
            capacity: self.capacity,
            poll_interval: self.poll_interval,
        })
    }
}

/// `[limits]`: request sizes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Request bodies larger than this many bytes get `413`.
    pub body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { body_bytes: 65_536 }
    }
}

/// `[authentication]`: how requests prove who they are.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// Routes' default authenticators, in order (DRF's
    /// `DEFAULT_AUTHENTICATION_CLASSES`): `token`, `session`.
    pub default: Vec<String>,
    /// The `Authorization` keyword of tokens (DRF's `TokenAuthentication.keyword`).
    pub token_keyword: String,
    /// Also accept `Authorization: Bearer <key>`.
    pub accept_bearer: bool,
}

impl Default for AuthenticationConfig {
    fn default() -> Self {
        AuthenticationConfig {
            default: vec!["token".to_owned(), "session".to_owned()],
            token_keyword: "Token".to_owned(),
            accept_bearer: false,
        }
    }
}

/// `[tokens]`: API tokens (`Authorization: Token <key>`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// Lifetime of a new token (`90d`), or `none` for DRF's keys that never expire.
    #[schemars(with = "String")]
    pub default_lifetime: Lifetime,
    /// How long a rotated key keeps working after its successor is issued.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub rotation_grace: Duration,
    /// The most unexpired tokens a user may hold.
    pub max_per_user: u64,
    /// Give every new user a token (the seed's `post_save` signal).
    pub create_on_user_creation: bool,
    /// A token unused this long is refused, or `none` (the default): idle
    /// expiry, counted from the token's last recorded use (or its issue).
    /// At least two minutes, since uses are recorded once a minute.
    #[schemars(with = "String")]
    pub idle_timeout: Lifetime,
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            default_lifetime: Lifetime(Some(Duration::from_secs(90 * 86_400))),
            rotation_grace: Duration::from_secs(60),
            max_per_user: 100,
            create_on_user_creation: false,
            idle_timeout: Lifetime(None),
        }
    }
}

/// `[sessions]`: the server-side sessions of browser logins.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// A session unused this long ends (Django's idle expiry).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub idle_timeout: Duration,
    /// A session ends this long after its login, however active
    /// (Django's `SESSION_COOKIE_AGE`).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub max_age: Duration,
    /// Where sessions are kept: `"sql"` (the database, the default) or `"redis"` (the server of `redis.url`, keyed by the session id's digest, each expiring at its idle timeout capped by its absolute end; see README "Scaling out").
    pub store: SessionBackend,
}

/// `sessions.store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionBackend {
    /// The database (`"sql"`).
    #[default]
    Sql,
    /// Redis (`"redis"`), which needs `redis.url`.
    Redis,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            idle_timeout: Duration::from_secs(86_400),
            max_age: Duration::from_secs(14 * 86_400),
            store: SessionBackend::Sql,
        }
    }
}

/// `[cookies]`: the session and CSRF cookies.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CookiesConfig {
    /// The `Secure` attribute: `true`, `false`, or `"auto"` (secure with TLS
    /// or on a non-loopback bind; not on plain-HTTP loopback development).
    pub secure: SecureCookies,
    /// The session cookie's name (Django's `SESSION_COOKIE_NAME`).
    pub session_name: String,
    /// The CSRF cookie's name (Django's `CSRF_COOKIE_NAME`).
    pub csrf_name: String,
    /// Prefix both cookie names with `__Host-` (`__Host-sessionid`,
    /// `__Host-csrftoken`): the browser then keeps them only from a secure
    /// origin, with `Path=/` and no `Domain`, so a sibling subdomain cannot
    /// plant them. Needs secure cookies (TLS, or `secure = true`).
    pub host_prefix: bool,
}

impl Default for CookiesConfig {
    fn default() -> Self {
        CookiesConfig {
            secure: SecureCookies::Auto,
            session_name: "sessionid".to_owned(),
            csrf_name: "csrftoken".to_owned(),
            host_prefix: false,
        }
    }
}

/// `[csrf]`: Django's CSRF protection of session-authenticated writes.
#[derive(Debug, Clone, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfConfig {
    /// Django's `CSRF_TRUSTED_ORIGINS`: other origins (`https://app.example.com`)
    /// whose unsafe requests pass the origin check.
    pub trusted_origins: Vec<String>,
    /// Django's `CSRF_USE_SESSIONS`: a signed-in client's CSRF secret is kept
    /// in its server-side session instead of the `csrftoken` cookie, so a
    /// cookie planted by a sibling subdomain or a man in the middle is never
    /// read. Clients get their token from `GET /auth/csrf`.
    pub use_sessions: bool,
}

/// `[cors]`: pages on other origins calling the API from a browser, as
/// django-cors-headers gives DRF. Off while `allowed_origins` is empty (the
/// default): no CORS header and no `Vary` is added. Served on the public
/// listener only, never on `server.admin_bind`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins whose pages may call the API (`CORS_ALLOWED_ORIGINS`), exactly
    /// as browsers send them (`https://app.example`, no path or trailing
    /// slash), or `["*"]` alone for any origin without credentials; empty (the
    /// default) turns CORS off.
    pub allowed_origins: Vec<String>,
    /// Let those pages send cookies and read the answers
    /// (`Access-Control-Allow-Credentials: true`, `CORS_ALLOW_CREDENTIALS`):
    /// session logins need it, token calls do not; each origin then belongs in
    /// `csrf.trusted_origins` too.
    pub allow_credentials: bool,
    /// Request headers a page may send (`CORS_ALLOW_HEADERS`), answered to
    /// preflights.
    pub allowed_headers: Vec<String>,
    /// Methods a page may use (`CORS_ALLOW_METHODS`), in upper case, answered
    /// to preflights.
    pub allowed_methods: Vec<String>,
    /// Response headers a page may read beyond the CORS-safelisted ones
    /// (`CORS_EXPOSE_HEADERS`); default `retry-after`, the wait of a `429` or
    /// `503`.
    pub expose_headers: Vec<String>,
    /// How long a browser may reuse a preflight answer
    /// (`CORS_PREFLIGHT_MAX_AGE`, default `1d`; Chromium caps it at 2 h); `0`
    /// sends no `Access-Control-Max-Age`.
    #[serde(with = "duration_or_zero")]
    #[schemars(with = "String")]
    pub max_age: Duration,
}

impl Default for CorsConfig {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        CorsConfig {
            allowed_origins: Vec::new(),
            allow_credentials: false,
            // django-cors-headers' `default_headers` and `default_methods`.
            allowed_headers: list(&[
                "accept",
                "authorization",
                "content-type",
                "user-agent",
                "x-csrftoken",
                "x-requested-with",
            ]),
            allowed_methods: list(&["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]),
            // Not in django-cors-headers' defaults: the contract's `429` and
            // `503` say how long to wait in `Retry-After`, which a page cannot
            // read unless exposed; it tells nothing the body does not.
            expose_headers: list(&["retry-after"]),
            max_age: Duration::from_secs(86_400),
        }
    }
}

/// `[reauth]`: re-authentication before sensitive operations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReauthConfig {
    /// How long a re-authentication (`POST /auth/reauth`) counts for
    /// sensitive operations.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub window: Duration,
}

impl Default for ReauthConfig {
    fn default() -> Self {
        ReauthConfig {
            window: Duration::from_secs(600),
        }
    }
}

/// `[registration]`: self-service sign-up.
#[derive(Debug, Clone, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Serve `POST /auth/register` (self-service sign-up).
    pub enabled: bool,
}

/// `[throttle]`: DRF's request throttling.
#[derive(Debug, Clone, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// DRF's `DEFAULT_THROTTLE_RATES`: `anon`, `user` and scope names to
    /// rates (`100/day`, `10/min`).
    #[schemars(example = example_rates())]
    pub rates: BTreeMap<String, String>,
    /// Trusted `X-Forwarded-For` hops (DRF's `NUM_PROXIES`; `server.trusted_proxies`
    /// takes precedence).
    pub num_proxies: usize,
}

/// `[login_protection]`: back-off after failed logins.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoginProtectionConfig {
    /// Failures per username in `window` before back-off.
    pub max_failures: u32,
    /// Failures per client address in `window`.
    pub max_failures_per_address: u32,
    /// The counting window.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub window: Duration,
    /// The longest lock that binds everyone (`15m`): past it, a username's
    /// lock lets the right password through from an address that has not
    /// failed for that username, so that guesses from elsewhere cannot hold
    /// an account closed; an address's own lock never grows past it.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub max_lockout: Duration,
    /// The longest lock of a username (`1d`), which still binds the
    /// addresses that failed for it; also how long such an address is
    /// remembered.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub max_backoff: Duration,
}

impl Default for LoginProtectionConfig {
    fn default() -> Self {
        let policy = tessera_core::throttle::LoginPolicy::default();
        LoginProtectionConfig {
            max_failures: policy.max_failures,
            max_failures_per_address: policy.max_failures_per_address,
            window: policy.window,
            max_lockout: policy.max_lockout,
            max_backoff: policy.max_backoff,
        }
    }
}

/// `[alerts]`: alerts on credential-stuffing patterns.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Where `security_alert` events are POSTed (JSON).
    #[schemars(example = "https://hooks.example.com/tessera")]
    pub webhook_url: Option<String>,
    /// Distinct usernames failing from one address within `window`.
    pub usernames_per_address: usize,
    /// Distinct addresses failing for one username within `window`.
    pub addresses_per_username: usize,
    /// The window.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub window: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook_url: None,
            usernames_per_address: 10,
            addresses_per_username: 10,
            window: Duration::from_secs(900),
        }
    }
}

/// `[audit]`: the audit log of authentication outcomes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Anonymous noise (throttled, CSRF failures, permission denials and
    /// failed token checks without a user) is counted into one row per
    /// event, client address and route per window this long (`60s`).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub aggregate_window: Duration,
    /// Events older than this are deleted (`365d`), every hour by the server
    /// and by `tessera clearsessions`.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub retention: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            aggregate_window: tessera_axum::audit::DEFAULT_AGGREGATE_WINDOW,
            retention: Duration::from_secs(365 * 86_400),
        }
    }
}

/// `[password]`: password hashing and rules.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// argon2id cost for new hashes: memory in KiB, iterations, parallelism
    /// (`m=19456,t=2,p=1`, OWASP's minimum).
    pub argon2: String,
    /// Shortest password accepted when one is set (never below 8).
    pub min_length: usize,
    /// A password change ends the user's other sessions and tokens.
    pub revoke_on_change: bool,
    /// How long a password hash waits for the server's other requests
    /// before it runs anyway (`2s`): the floor of login capacity under a
    /// flood of other traffic, one verification per core per this much time
    /// (shorter gives logins more and the other traffic's tail latency less).
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub max_give_way: Duration,
    /// How long a login waits for its password hash to start (`5s`); then it is answered `503` with `Retry-After`, and the queue holds only what starts within it.
    #[serde(with = "duration_text")]
    #[schemars(with = "String")]
    pub max_queue_wait: Duration,
    /// The share of the machine's CPU time (all cores) that password hashing gets however busy other requests keep it (`0.25`); `0` turns it off.
    pub min_share: f64,
    /// Accept `argon2` parameters below OWASP's minimum (m=19456,t=2, or
    /// m=47104,t=1, or m=12288,t=3); without it the server refuses to start
    /// with them. For test suites only.
    pub allow_weak_parameters: bool,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            argon2: "m=19456,t=2,p=1".to_owned(),
            min_length: 8,
            revoke_on_change: true,
            max_give_way: tessera_core::password::DEFAULT_MAX_GIVE_WAY,
            max_queue_wait: tessera_core::password::DEFAULT_MAX_QUEUE_WAIT,
            min_share: tessera_core::password::DEFAULT_MIN_SHARE,
            allow_weak_parameters: false,
        }
    }
}

/// `[demo]`: the example views.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Serve the example views under `/api/`.
    pub enabled: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { enabled: true }
    }
}

/// `[admin]`: the administration API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Users per page of `GET /admin/users` (DRF's `PAGE_SIZE`).
    pub page_size: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { page_size: 50 }
    }
}

/// `[metrics]`: Prometheus metrics at `/metrics`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A secret a scraper presents as `Authorization: Bearer <token>` to
    /// read `/metrics` on the public listener of a non-loopback bind
    /// (compared in constant time); at least 32 characters. Unset: only a
    /// staff credential reads it there.
    #[schemars(example = "a-random-secret-of-at-least-32-characters")]
    pub bearer_token: Option<MetricsToken>,
}

/// `metrics.bearer_token`: a secret whose `Debug` is redacted.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(transparent)]
pub struct MetricsToken(pub String);

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `cookies.secure`: a boolean, or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecureCookies {
    /// Secure with TLS or on a non-loopback bind; not on plain-HTTP loopback.
    #[default]
    Auto,
    /// Always `Secure` (`true`).
    Always,
    /// Never `Secure` (`false`).
    Never,
}

impl Serialize for SecureCookies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecureCookies::Auto => s.serialize_str("auto"),
            SecureCookies::Always => s.serialize_bool(true),
            SecureCookies::Never => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for SecureCookies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(SecureCookies::Always),
            Raw::Bool(false) => Ok(SecureCookies::Never),
            // The strings of earlier versions are still read.
            Raw::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "auto" => Ok(SecureCookies::Auto),
                "true" => Ok(SecureCookies::Always),
                "false" => Ok(SecureCookies::Never),
                _ => Err(serde::de::Error::custom(format!(
                    "expected true, false or \"auto\", found {text:?}"
                ))),
            },
        }
    }
}

impl JsonSchema for SecureCookies {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecureCookies".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [{"type": "boolean"}, {"const": "auto"}]})
    }
}

fn example_rates() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("anon".to_owned(), "100/day".to_owned()),
        ("user".to_owned(), "1000/day".to_owned()),
    ])
}

/// Listening addresses: an IP address and port, or `localhost:PORT`
/// (`127.0.0.1:PORT`). Other names are refused rather than resolved, so
/// that the address bound never depends on DNS.
pub mod socket_addr {
    use serde::{Deserialize, Deserializer};
    use std::net::{Ipv4Addr, SocketAddr};

    /// Parses `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
    pub fn parse(text: &str) -> Result<SocketAddr, String> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(addr);
        }
        if let Some((host, port)) = text.rsplit_once(':') {
            if host.eq_ignore_ascii_case("localhost") {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("invalid port {port:?} in {text:?}"))?;
                return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
            }
        }
        Err(format!(
            "invalid listening address {text:?}: write an IP address and a port \
             (127.0.0.1:8000, 0.0.0.0:8000, [::1]:8000) or localhost:PORT"
        ))
    }

    /// serde's `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// serde's `deserialize_with` for an optional address.
    pub fn deserialize_option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

/// A lifetime that may be `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(pub Option<Duration>);

impl Serialize for Lifetime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("none"),
            Some(d) => s.serialize_str(&duration_text::format(d)),
        }
    }
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Lifetime(None));
        }
        duration_text::parse(&text)
            .map(|d| Lifetime(Some(d)))
            .map_err(serde::de::Error::custom)
    }
}

/// A duration where zero (`0`, `0s`) means "off".
pub mod duration_or_zero {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// As [`super::duration_text::serialize`].
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        super::duration_text::serialize(d, s)
    }

    /// Text as [`super::duration_text::parse`], a zero, or a whole number
    /// of seconds (as Django's `SECURE_HSTS_SECONDS`).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            Seconds(u64),
            Text(String),
        }
        match Text::deserialize(d)? {
            Text::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
            Text::Text(text) if text.trim().trim_end_matches('s') == "0" => Ok(Duration::ZERO),
            Text::Text(text) => {
                super::duration_text::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    }
}

/// Durations written as `60s`, `10m`, `1d`, `90d`.
pub mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Parses a positive duration.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let d = humantime::parse_duration(text.trim())
            .map_err(|e| format!("invalid duration {text:?}: {e} (write e.g. 60s, 10m, 1d)"))?;
        if d.is_zero() {
            return Err(format!("duration {text:?} must be positive"));
        }
        Ok(d)
    }

    /// `d` in its largest whole unit (`365d`, `10m`, `90s`, `1500ms`),
    /// which [`parse`] reads back.
    pub fn format(d: Duration) -> String {
        if !d.subsec_nanos().is_multiple_of(1_000_000) {
            return format!("{}ns", d.as_nanos());
        }
        let millis = d.as_millis();
        if !millis.is_multiple_of(1000) {
            return format!("{millis}ms");
        }
        let seconds = d.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if seconds > 0 && seconds.is_multiple_of(size) {
                return format!("{}{unit}", seconds / size);
            }
        }
        format!("{seconds}s")
    }

    /// serde's `serialize_with`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// serde's `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Config {
    /// Defaults, then the file (if any), then `TESSERA_*` variables; a
    /// variable that looks like configuration but names no key is an error
    /// ([`keys::check_environment`]).
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        Ok(Config::load_with_sources(file)?.0)
    }

    /// [`Config::load`], and the figment it came from, which knows where
    /// each value was set ([`keys::source`]).
    pub fn load_with_sources(file: Option<&Path>) -> Result<(Config, Figment), String> {
        keys::check_environment(
            std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned()),
        )?;
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!(
                    "configuration file {} does not exist",
                    path.display()
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only variables naming a section and a key (`TESSERA_SECTION__KEY`)
        // are configuration; others such as `TESSERA_SUPERUSER_PASSWORD` are not.
        let env = Env::prefixed("TESSERA_")
            .split("__")
            .filter(|key| key.as_str().contains('.'));
        figment = figment.merge(env);
        let config = figment.extract::<Config>().map_err(|e| {
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        Ok((config, figment))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_designs() {
        let c = Config::default();
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(
            c.tokens.default_lifetime,
            Lifetime(Some(Duration::from_secs(90 * 86_400)))
        );
        assert_eq!(c.tokens.rotation_grace, Duration::from_secs(60));
        assert_eq!(c.tokens.idle_timeout, Lifetime(None));
        assert_eq!(c.limits.body_bytes, 65_536);
        assert_eq!(c.password.max_give_way, Duration::from_secs(2));
        assert_eq!(c.password.max_queue_wait, Duration::from_secs(5));
        assert_eq!(c.password.min_share, 0.25);
        assert_eq!(c.server.readiness_timeout, Duration::from_secs(1));
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.database.acquire_timeout, Duration::from_secs(2));
        assert!(c.demo.enabled);
        assert_eq!(c.audit.aggregate_window, Duration::from_secs(60));
        assert_eq!(c.audit.retention, Duration::from_secs(365 * 86_400));
    }

    #[test]
    fn audit_keys_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_AUDIT__AGGREGATE_WINDOW", "5m");
            jail.set_env("TESSERA_AUDIT__RETENTION", "30d");
            let c = Config::load(None).map_err(figment::Error::from)?;
            assert_eq!(c.audit.aggregate_window, Duration::from_secs(300));
            assert_eq!(c.audit.retention, Duration::from_secs(30 * 86_400));
            let settings = crate::settings(&c).map_err(|e| e.to_string())?;
            assert_eq!(settings.audit.aggregate_window, Duration::from_secs(300));
            Ok(())
        });
    }

    #[test]
    fn the_hashers_give_way_limit_comes_from_the_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_PASSWORD__MAX_GIVE_WAY", "2s");
            jail.set_env("TESSERA_PASSWORD__ARGON2", "m=64,t=1,p=1");
            jail.set_env("TESSERA_PASSWORD__ALLOW_WEAK_PARAMETERS", "true");
            let c = Config::load(None).map_err(figment::Error::from)?;
            assert_eq!(c.password.max_give_way, Duration::from_secs(2));
            let hasher = crate::hasher(&c).map_err(|e| e.to_string())?;
            assert_eq!(hasher.max_give_way(), Duration::from_secs(2));
            Ok(())
        });
    }

    #[test]
    fn overload_keys_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_PASSWORD__MAX_QUEUE_WAIT", "3s");
            jail.set_env("TESSERA_PASSWORD__MIN_SHARE", "0.5");
            jail.set_env("TESSERA_PASSWORD__ARGON2", "m=64,t=1,p=1");
            jail.set_env("TESSERA_PASSWORD__ALLOW_WEAK_PARAMETERS", "true");
            jail.set_env("TESSERA_SERVER__READINESS_TIMEOUT", "250ms");
            jail.set_env("TESSERA_SERVER__SHUTDOWN_GRACE", "3s");
            jail.set_env("TESSERA_DATABASE__ACQUIRE_TIMEOUT", "1500ms");
            let c = Config::load(None).map_err(figment::Error::from)?;
            assert_eq!(c.password.max_queue_wait, Duration::from_secs(3));
            assert_eq!(c.password.min_share, 0.5);
            assert_eq!(c.server.readiness_timeout, Duration::from_millis(250));
            assert_eq!(c.server.shutdown_grace, Duration::from_secs(3));
            assert_eq!(c.database.acquire_timeout, Duration::from_millis(1500));
            let hasher = crate::hasher(&c).map_err(|e| e.to_string())?;
            assert_eq!(hasher.max_queue_wait(), Duration::from_secs(3));
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            assert_eq!(hasher.guaranteed_cores(), 0.5 * cores as f64);
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_PASSWORD__MIN_SHARE", "1.5");
            let c = Config::load(None).map_err(figment::Error::from)?;
            let e = crate::check(&c)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(e.contains("password.min_share"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "t.toml",
                "[tokens]\ndefault_lifetime = \"none\"\nmax_per_user = 3\n[throttle.rates]\nuser = \"10/min\"\n",
            )?;
            jail.set_env("TESSERA_THROTTLE__RATES__ANON", "100/day");
            jail.set_env("TESSERA_DATABASE__URL", "postgres://x@h/db");
            jail.set_env("TESSERA_SUPERUSER_PASSWORD", "not config");
            jail.set_env("TESSERA_TOKENS__MAX_PER_USER", "7");
            jail.set_env("TESSERA_TOKENS__IDLE_TIMEOUT", "30d");
            let c = Config::load(Some(Path::new("t.toml"))).map_err(figment::Error::from)?;
            assert_eq!(c.tokens.default_lifetime, Lifetime(None));
            assert_eq!(c.tokens.max_per_user, 7);
            assert_eq!(
                c.tokens.idle_timeout,
                Lifetime(Some(Duration::from_secs(30 * 86_400)))
            );
            assert_eq!(
                c.throttle.rates.get("anon").map(String::as_str),
                Some("100/day")
            );
            assert_eq!(
                c.throttle.rates.get("user").map(String::as_str),
                Some("10/min")
            );
            assert_eq!(c.database.url, "postgres://x@h/db");
            Ok(())
        });
    }

    #[test]
    fn cors_is_off_by_default_and_lists_come_from_the_environment() {
        let c = Config::default();
        assert!(c.cors.allowed_origins.is_empty());
        assert!(!c.cors.allow_credentials);
        assert_eq!(c.cors.max_age, Duration::from_secs(86_400));
        assert!(crate::cors(&c)
            .map_err(|e| e.to_string())
            .is_ok_and(|l| l.is_none()));
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "TESSERA_CORS__ALLOWED_ORIGINS",
                r#"["https://app.example"]"#,
            );
            jail.set_env("TESSERA_CORS__ALLOW_CREDENTIALS", "true");
            jail.set_env("TESSERA_CORS__ALLOWED_METHODS", r#"["GET", "POST"]"#);
            jail.set_env("TESSERA_CORS__MAX_AGE", "10m");
            let c = Config::load(None).map_err(figment::Error::from)?;
            assert_eq!(c.cors.allowed_origins, ["https://app.example"]);
            assert!(c.cors.allow_credentials);
            assert_eq!(c.cors.allowed_methods, ["GET", "POST"]);
            assert_eq!(c.cors.max_age, Duration::from_secs(600));
            assert_eq!(c.cors.expose_headers, ["retry-after"]);
            let layer = crate::cors(&c).map_err(|e| e.to_string())?;
            assert!(layer.is_some());
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "t.toml",
                "[cors]\nallowed_origins = [\"http://localhost:5173\"]\nmax_age = 0\n",
            )?;
            let c = Config::load(Some(Path::new("t.toml"))).map_err(figment::Error::from)?;
            assert_eq!(c.cors.allowed_origins, ["http://localhost:5173"]);
            assert_eq!(c.cors.max_age, Duration::ZERO);
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_CORS__ALLOWED_ORIGIN", r#"["https://app.example"]"#);
            let e = Config::load(None).err().unwrap_or_default();
            assert!(e.contains("allowed_origin"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_TOKENS__ROTATION_GRACE", "soon");
            let e = Config::load(None).err().unwrap_or_default();
            assert!(
                e.to_lowercase().contains("rotation_grace") && e.contains("invalid duration"),
                "{e}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_SERVER__BINDD", "x");
            let e = Config::load(None).err().unwrap_or_default();
            assert!(e.to_lowercase().contains("bindd"), "{e}");
            Ok(())
        });
    }
    #[test]
    fn booleans_are_booleans_and_auto_is_kept() {
        for (toml, wanted) in [
            ("secure = true", SecureCookies::Always),
            ("secure = false", SecureCookies::Never),
            ("secure = \"auto\"", SecureCookies::Auto),
            ("secure = \"true\"", SecureCookies::Always),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.create_file("t.toml", &format!("[cookies]\n{toml}\n"))?;
                let c = Config::load(Some(Path::new("t.toml"))).map_err(figment::Error::from)?;
                assert_eq!(c.cookies.secure, wanted, "{toml}");
                Ok(())
            });
        }
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_COOKIES__SECURE", "false");
            let c = Config::load(None).map_err(figment::Error::from)?;
            assert_eq!(c.cookies.secure, SecureCookies::Never);
            jail.set_env("TESSERA_COOKIES__SECURE", "sometimes");
            let e = Config::load(None).err().unwrap_or_default();
            assert!(
                e.contains("expected true, false or \"auto\", found \"sometimes\""),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn listening_addresses_take_localhost_and_nothing_resolved() {
        assert_eq!(
            socket_addr::parse("localhost:8000"),
            Ok("127.0.0.1:8000".parse().unwrap())
        );
        assert_eq!(
            socket_addr::parse("[::1]:8000"),
            Ok("[::1]:8000".parse().unwrap())
        );
        let e = socket_addr::parse("api.example.com:80").unwrap_err();
        assert!(
            e.starts_with("invalid listening address \"api.example.com:80\""),
            "{e}"
        );
        assert!(socket_addr::parse("localhost:http").is_err());
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "t.toml",
                "[server]\nbind = \"localhost:8123\"\nadmin_bind = \"localhost:9123\"\n",
            )?;
            let c = Config::load(Some(Path::new("t.toml"))).map_err(figment::Error::from)?;
            assert_eq!(c.server.bind.to_string(), "127.0.0.1:8123");
            assert_eq!(
                c.server.admin_bind.map(|a| a.to_string()).as_deref(),
                Some("127.0.0.1:9123")
            );
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_variable_stops_the_load() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_DATABASE_URL", "postgres://x@h/db");
            let e = Config::load(None).err().unwrap_or_default();
            assert!(e.contains("TESSERA_DATABASE__URL (database.url)"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn durations_are_written_in_whole_units() {
        for (seconds, text) in [
            (31_536_000, "365d"),
            (7_200, "2h"),
            (600, "10m"),
            (90, "90s"),
            (0, "0s"),
        ] {
            assert_eq!(duration_text::format(Duration::from_secs(seconds)), text);
        }
        assert_eq!(duration_text::format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(
            duration_text::parse("1500ms"),
            Ok(Duration::from_millis(1500))
        );
    }
}
