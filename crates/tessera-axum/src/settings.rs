//! [`Settings`]: the plain configuration of a [`Tessera`](crate::Tessera)
//! (DRF's `REST_FRAMEWORK` dictionary, in part), and the plain types it
//! names. A leaf of the crate: nothing here uses the shared state.

use crate::alerts::{AlertPolicy, AlertSink};
use crate::audit::AuditSettings;
use crate::authentication::Authenticator;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::csrf::CsrfConfig;
use tessera_core::throttle::{LoginPolicy, Rate};
use tessera_core::validation::PasswordPolicy;

/// Authentication settings (DRF's `REST_FRAMEWORK` dictionary, in part).
#[derive(Debug, Clone)]
pub struct Settings {
    /// DRF's `TokenAuthentication.keyword`; matched case-insensitively.
    pub token_keyword: String,
    /// Also accept `Authorization: Bearer <key>`.
    pub accept_bearer: bool,
    /// Routes' default authenticators (DRF's `DEFAULT_AUTHENTICATION_CLASSES`).
    pub default_authenticators: Vec<Authenticator>,
    /// Lifetime of a new token; `None` never expires.
    pub token_lifetime: Option<Duration>,
    /// Most unexpired tokens a user may hold.
    pub max_tokens_per_user: u64,
    /// A token unused this long is refused (`Invalid token.`), counting from
    /// its last recorded use, or its issue when never used; `None` (the
    /// default, as DRF's tokens) for no idle expiry. Uses are recorded at
    /// most once a minute, so the expiry is exact to the minute. An idle key
    /// is refused, not deleted: it is still listed (its `last_used` says
    /// why) and counted against the cap until it expires or is revoked, as
    /// the setting may be changed back.
    pub token_idle_timeout: Option<Duration>,
    /// How long a rotated key keeps working after its successor is issued
    /// (`POST /auth/tokens/rotate`); presenting it later is reuse.
    pub token_rotation_grace: Duration,
    /// Whether a password change ends the user's other sessions and tokens
    /// (Django's `update_session_auth_hash` keeps only the current one).
    pub revoke_on_password_change: bool,
    /// Largest request body read, in bytes.
    pub body_limit: usize,
    /// Session cookie name (Django's `SESSION_COOKIE_NAME`).
    pub session_cookie: String,
    /// CSRF cookie name (Django's `CSRF_COOKIE_NAME`).
    pub csrf_cookie: String,
    /// Whether cookies carry `Secure`.
    pub secure_cookies: bool,
    /// A session unused this long ends.
    pub session_idle_timeout: Duration,
    /// A session ends this long after login, however busy.
    pub session_max_age: Duration,
    /// How long a password proof counts as recent ("sudo mode").
    pub reauth_window: Duration,
    /// Trusted `X-Forwarded-For` hops (DRF's `NUM_PROXIES`).
    pub num_proxies: usize,
    /// Django's `CSRF_TRUSTED_ORIGINS`, parsed.
    pub csrf: CsrfConfig,
    /// Django's `CSRF_USE_SESSIONS`: a session's CSRF secret lives in its
    /// server-side data (`_csrftoken`, Django's `CSRF_SESSION_KEY`), and the
    /// `csrftoken` cookie is not read for session-authenticated requests.
    pub csrf_use_sessions: bool,
    /// The audit writer's queue and aggregation window.
    pub audit: AuditSettings,
    /// Rules for new passwords (Django's `AUTH_PASSWORD_VALIDATORS`).
    pub password_policy: PasswordPolicy,
    /// DRF's `DEFAULT_THROTTLE_RATES`: `anon`, `user` and scope names.
    pub throttle_rates: BTreeMap<String, Rate>,
    /// DRF's `DEFAULT_THROTTLE_CLASSES`: applied by every policy that does
    /// not name its own (each does nothing until its rate is configured).
    pub default_throttles: Vec<Throttle>,
    /// Login protection: failures per username and address, back-off.
    pub login_policy: LoginPolicy,
    /// Attack-pattern alert thresholds.
    pub alert_policy: AlertPolicy,
    /// Where alerts are delivered besides the audit log.
    pub alert_sink: Option<Arc<dyn AlertSink>>,
}

impl Settings {
    /// [`Settings::session_idle_timeout`] as a `time::Duration` (a day if it
    /// does not fit).
    pub fn session_idle(&self) -> time::Duration {
        time::Duration::try_from(self.session_idle_timeout).unwrap_or(time::Duration::DAY)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_keyword: "Token".to_owned(),
            accept_bearer: false,
            default_authenticators: vec![Authenticator::Token, Authenticator::Session],
            token_lifetime: Some(Duration::from_secs(90 * 24 * 3600)),
            max_tokens_per_user: 100,
            token_idle_timeout: None,
            token_rotation_grace: Duration::from_secs(60),
            revoke_on_password_change: true,
            body_limit: 64 * 1024,
            session_cookie: "sessionid".to_owned(),
            csrf_cookie: "csrftoken".to_owned(),
            secure_cookies: true,
            session_idle_timeout: Duration::from_secs(24 * 3600),
            session_max_age: Duration::from_secs(14 * 24 * 3600),
            reauth_window: Duration::from_secs(600),
            num_proxies: 0,
            csrf: CsrfConfig::default(),
            csrf_use_sessions: false,
            audit: AuditSettings::default(),
            password_policy: PasswordPolicy::default(),
            throttle_rates: BTreeMap::new(),
            default_throttles: vec![Throttle::Anon, Throttle::User],
            login_policy: LoginPolicy::default(),
            alert_policy: AlertPolicy::default(),
            alert_sink: None,
        }
    }
}

/// A throttle of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttle {
    /// DRF's `AnonRateThrottle`: the `anon` rate, per client address.
    Anon,
    /// DRF's `UserRateThrottle`: the `user` rate, per user (or address).
    User,
    /// DRF's `ScopedRateThrottle`: the named rate, per user (or address).
    Scoped(String),
}

impl Throttle {
    /// The name of the rate in the configuration.
    pub fn scope(&self) -> &str {
        match self {
            Throttle::Anon => "anon",
            Throttle::User => "user",
            Throttle::Scoped(scope) => scope,
        }
    }
}
