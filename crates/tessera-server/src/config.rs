//! Configuration: one TOML file, every key overridable by an environment
//! variable named after its path (`TESSERA_DATABASE__URL` for `database.url`),
//! and sensible defaults so that `tessera serve` needs none of it.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The whole configuration. Names follow DRF's settings where DRF has one.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[database]`.
    pub database: DatabaseConfig,
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

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listening address.
    pub bind: SocketAddr,
    /// A second listener (e.g. `127.0.0.1:9000`) that alone serves
    /// `/admin/*` and `/metrics`, with the same state; the public listener
    /// then answers `404` for them. Unset (the default): both stay on the
    /// public listener, `/metrics` behind a staff credential or
    /// `metrics.bearer_token` unless `bind` is a loopback address.
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
    pub hsts_max_age: Duration,
    /// Add `includeSubDomains` to `Strict-Transport-Security` (ASVS 5
    /// 3.4.1 at L2; Django's `SECURE_HSTS_INCLUDE_SUBDOMAINS`, off there by
    /// default). Turn it off when a sibling subdomain still serves plain HTTP.
    pub hsts_include_subdomains: bool,
    /// Trusted reverse proxies in front of the server (a count, as
    /// `throttle.num_proxies`, which stays an alias): their
    /// `X-Forwarded-For` gives the client address and their
    /// `X-Forwarded-Proto: https` counts as TLS. Unset: `throttle.num_proxies`.
    pub trusted_proxies: Option<usize>,
    /// How long a client has to send a request's head (request line and
    /// headers) once the server waits for it; then the connection is closed.
    /// On a keep-alive connection the wait for the next request counts too.
    #[serde(with = "duration_text")]
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body once its head is read;
    /// then `408` and the connection is closed.
    #[serde(with = "duration_text")]
    pub body_read_timeout: Duration,
    /// The longest silence from the client while no request is being
    /// answered (between requests, or in the middle of a head); then the
    /// connection is closed.
    #[serde(with = "duration_text")]
    pub idle_timeout: Duration,
    /// Concurrent connections; a connection past it is answered `503` and
    /// closed at once (never queued).
    pub max_connections: usize,
    /// The request line and headers together, in bytes; more: `431`.
    pub max_header_bytes: usize,
    /// How long `GET /readyz` waits for each store (`1s`): one that has not answered by then is reported down (`503`, the store named).
    #[serde(with = "duration_text")]
    pub readiness_timeout: Duration,
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
        }
    }
}

/// `[tls]`: HTTPS on the listening address. Both or neither.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first. Re-read on `SIGHUP`.
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Re-read on `SIGHUP`.
    pub key_file: Option<std::path::PathBuf>,
}

/// The default database: SQLite in `./tessera-data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tessera-data/tessera.db";

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://...` or `postgres://...`.
    pub url: String,
    /// How long a request waits for a database connection (`2s`) before it is answered `503` with `Retry-After`.
    #[serde(with = "duration_text")]
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

/// `[limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Larger request bodies get 413.
    pub body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { body_bytes: 65_536 }
    }
}

/// `[authentication]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// Routes' default authenticators (DRF's `DEFAULT_AUTHENTICATION_CLASSES`).
    pub default: Vec<String>,
    /// DRF's `TokenAuthentication.keyword`.
    pub token_keyword: String,
    /// Also accept `Bearer`.
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

/// `[tokens]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// Lifetime of a new token, or `none`.
    pub default_lifetime: Lifetime,
    /// How long a rotated key keeps working.
    #[serde(with = "duration_text")]
    pub rotation_grace: Duration,
    /// Most unexpired tokens per user.
    pub max_per_user: u64,
    /// Give every new user a token (the seed's `post_save` signal).
    pub create_on_user_creation: bool,
    /// A token unused this long is refused, or `none` (the default): idle
    /// expiry, counted from the token's last recorded use (or its issue).
    /// At least two minutes, since uses are recorded once a minute.
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

/// `[sessions]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Idle timeout.
    #[serde(with = "duration_text")]
    pub idle_timeout: Duration,
    /// Absolute lifetime.
    #[serde(with = "duration_text")]
    pub max_age: Duration,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            idle_timeout: Duration::from_secs(86_400),
            max_age: Duration::from_secs(14 * 86_400),
        }
    }
}

/// `[cookies]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookiesConfig {
    /// `auto`, `true` or `false`.
    pub secure: String,
    /// Session cookie name.
    pub session_name: String,
    /// CSRF cookie name.
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
            secure: "auto".to_owned(),
            session_name: "sessionid".to_owned(),
            csrf_name: "csrftoken".to_owned(),
            host_prefix: false,
        }
    }
}

/// `[csrf]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfConfig {
    /// Django's `CSRF_TRUSTED_ORIGINS`.
    pub trusted_origins: Vec<String>,
    /// Django's `CSRF_USE_SESSIONS`: a signed-in client's CSRF secret is kept
    /// in its server-side session instead of the `csrftoken` cookie, so a
    /// cookie planted by a sibling subdomain or a man in the middle is never
    /// read. Clients get their token from `GET /auth/csrf`.
    pub use_sessions: bool,
}

/// `[reauth]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReauthConfig {
    /// How long a re-authentication counts.
    #[serde(with = "duration_text")]
    pub window: Duration,
}

impl Default for ReauthConfig {
    fn default() -> Self {
        ReauthConfig {
            window: Duration::from_secs(600),
        }
    }
}

/// `[registration]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// Serve `POST /auth/register`.
    pub enabled: bool,
}

/// `[throttle]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// `anon`, `user` and scope names to DRF rates.
    pub rates: BTreeMap<String, String>,
    /// Trusted `X-Forwarded-For` hops.
    pub num_proxies: usize,
}

/// `[login_protection]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginProtectionConfig {
    /// Failures per username in `window` before back-off.
    pub max_failures: u32,
    /// Failures per client address in `window`.
    pub max_failures_per_address: u32,
    /// The counting window.
    #[serde(with = "duration_text")]
    pub window: Duration,
    /// The longest lock that binds everyone (`15m`): past it, a username's
    /// lock lets the right password through from an address that has not
    /// failed for that username, so that guesses from elsewhere cannot hold
    /// an account closed; an address's own lock never grows past it.
    #[serde(with = "duration_text")]
    pub max_lockout: Duration,
    /// The longest lock of a username (`1d`), which still binds the
    /// addresses that failed for it; also how long such an address is
    /// remembered.
    #[serde(with = "duration_text")]
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

/// `[alerts]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Where `security_alert` events are POSTed.
    pub webhook_url: Option<String>,
    /// Distinct usernames failing from one address within `window`.
    pub usernames_per_address: usize,
    /// Distinct addresses failing for one username within `window`.
    pub addresses_per_username: usize,
    /// The window.
    #[serde(with = "duration_text")]
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

/// `[audit]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Anonymous noise (throttled, CSRF failures, permission denials and
    /// failed token checks without a user) is counted into one row per
    /// event, client address and route per window this long (`60s`).
    #[serde(with = "duration_text")]
    pub aggregate_window: Duration,
    /// Events older than this are deleted (`365d`), every hour by the server
    /// and by `tessera clearsessions`.
    #[serde(with = "duration_text")]
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

/// `[password]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// `m=19456,t=2,p=1`.
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
    pub max_give_way: Duration,
    /// How long a login waits for its password hash to start (`5s`); then it is answered `503` with `Retry-After`, and the queue holds only what starts within it.
    #[serde(with = "duration_text")]
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

/// `[demo]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Serve the seed's example views under `/api/`.
    pub enabled: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { enabled: true }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// `[metrics]`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A secret a scraper presents as `Authorization: Bearer <token>` to
    /// read `/metrics` on the public listener of a non-loopback bind
    /// (compared in constant time); at least 32 characters. Unset: only a
    /// staff credential reads it there.
    pub bearer_token: Option<MetricsToken>,
}

/// `metrics.bearer_token`: a secret whose `Debug` is redacted.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct MetricsToken(pub String);

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A lifetime that may be `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(pub Option<Duration>);

impl Serialize for Lifetime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("none"),
            Some(d) => s.serialize_str(&humantime::format_duration(d).to_string()),
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

    /// serde's `serialize_with`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// serde's `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Config {
    /// Defaults, then the file (if any), then `TESSERA_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
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
        figment.extract::<Config>().map_err(|e| {
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
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
            jail.set_env("TESSERA_DATABASE__ACQUIRE_TIMEOUT", "1500ms");
            let c = Config::load(None).map_err(figment::Error::from)?;
            assert_eq!(c.password.max_queue_wait, Duration::from_secs(3));
            assert_eq!(c.password.min_share, 0.5);
            assert_eq!(c.server.readiness_timeout, Duration::from_millis(250));
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
}
