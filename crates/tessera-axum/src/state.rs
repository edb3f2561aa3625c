//! [`Tessera`]: what every layer and handler shares — the stores, the password
//! hasher, the clock and the authentication settings.

use crate::accounts::UserCreatedHook;
use crate::alerts::{AlertPolicy, AlertSink, Alerts};
use crate::audit::{AuditSettings, Auditor};
use crate::authentication::Authenticator;
use crate::metrics::Metrics;
use crate::throttling::Throttle;
use crate::touch::Toucher;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_core::csrf::CsrfConfig;
use tessera_core::password::PasswordHasher;
use tessera_core::throttle::{
    AlertWindowStore, LoginAttemptStore, LoginGuard, LoginPolicy, MemoryAlertWindowStore,
    MemoryLoginAttemptStore, MemoryThrottleStore, Rate, ThrottleStore,
};
use tessera_core::validation::PasswordPolicy;
use tessera_core::{Clock, Stores, SystemClock};

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

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_keyword: "Token".to_owned(),
            accept_bearer: false,
            default_authenticators: vec![Authenticator::Token, Authenticator::Session],
            token_lifetime: Some(Duration::from_secs(90 * 24 * 3600)),
            max_tokens_per_user: 100,
            token_idle_timeout: None,
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

/// The shared state of a Tessera-protected application. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tessera {
    inner: Arc<Inner>,
}

struct Inner {
    stores: Stores,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    settings: Settings,
    toucher: Arc<Toucher>,
    hooks: RwLock<Vec<UserCreatedHook>>,
    throttle_store: Arc<dyn ThrottleStore>,
    login_guard: LoginGuard,
    alerts: Alerts,
    auditor: Arc<Auditor>,
    metrics: Metrics,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tessera")
            .field("stores", &self.stores)
            .field("clock", &self.clock)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Tessera {
    /// State over `stores`, with the system clock.
    pub fn new(stores: Stores, hasher: PasswordHasher, settings: Settings) -> Self {
        Self::with_clock(stores, hasher, settings, Arc::new(SystemClock))
    }

    /// State with an injected clock (tests move it forward instead of sleeping).
    pub fn with_clock(
        stores: Stores,
        hasher: PasswordHasher,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::with_counters(
            stores,
            hasher,
            settings,
            clock,
            Arc::new(MemoryThrottleStore::new()),
            Arc::new(MemoryLoginAttemptStore::new()),
            Arc::new(MemoryAlertWindowStore::new()),
        )
    }

    /// [`Tessera::with_clock`] with the throttles' windows in `throttle`,
    /// login protection's failure records in `login_attempts` and the
    /// security-alert windows in `alert_windows`: stores that several
    /// processes share (PostgreSQL, Redis) make them count as one.
    /// [`Tessera::with_clock`] keeps all three in this process's memory.
    pub fn with_counters(
        stores: Stores,
        hasher: PasswordHasher,
        settings: Settings,
        clock: Arc<dyn Clock>,
        throttle: Arc<dyn ThrottleStore>,
        login_attempts: Arc<dyn LoginAttemptStore>,
        alert_windows: Arc<dyn AlertWindowStore>,
    ) -> Self {
        let auditor = Auditor::with_settings(stores.audit.clone(), settings.audit);
        let mut metrics = Metrics::new(hasher.clone());
        metrics.register_auditor(auditor.clone());
        Tessera {
            inner: Arc::new(Inner {
                auditor,
                throttle_store: throttle,
                // Unlocks made by other processes (the CLI, other servers)
                // are read from the store when a username is found locked.
                login_guard: LoginGuard::new(login_attempts, settings.login_policy)
                    .with_unlocks(stores.unlocks.clone()),
                alerts: Alerts::with_store(
                    settings.alert_policy,
                    settings.alert_sink.clone(),
                    alert_windows,
                ),
                metrics,
                stores,
                hasher,
                clock,
                settings,
                toucher: Arc::new(Toucher::default()),
                hooks: RwLock::new(Vec::new()),
            }),
        }
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Registers code to run after every user creation (Django's `post_save`
    /// signal), such as issuing the new user a token.
    pub fn on_user_created(&self, hook: UserCreatedHook) {
        if let Ok(mut hooks) = self.inner.hooks.write() {
            hooks.push(hook);
        }
    }

    /// The registered user-created hooks.
    pub fn user_created_hooks(&self) -> Vec<UserCreatedHook> {
        self.inner
            .hooks
            .read()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// The throttle counters.
    pub fn throttle_store(&self) -> &Arc<dyn ThrottleStore> {
        &self.inner.throttle_store
    }

    /// Login protection.
    pub fn login_guard(&self) -> &LoginGuard {
        &self.inner.login_guard
    }

    /// The attack-pattern tracker.
    pub fn alerts(&self) -> &Alerts {
        &self.inner.alerts
    }

    /// The audit log's writer.
    pub fn auditor(&self) -> &Arc<Auditor> {
        &self.inner.auditor
    }

    /// This application's metrics (its own registry).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The coalescer of credential-use writes.
    pub fn toucher(&self) -> &Arc<Toucher> {
        &self.inner.toucher
    }
}
