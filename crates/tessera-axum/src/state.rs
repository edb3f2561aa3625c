//! [`Tessera`]: what every layer and handler shares — the stores, the password
//! hasher, the clock and the authentication settings.

use crate::alerts::Alerts;
use crate::audit::Auditor;
use crate::error::Rejection;
use crate::metrics::Metrics;
pub use crate::settings::Settings;
use crate::touch::Toucher;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_core::audit::AuditStore;
use tessera_core::audited::AuditedWrites;
use tessera_core::password::{Argon2Params, InvalidParams, PasswordHasher};
use tessera_core::store::{Health, SessionStore, TokenStore, UserStore};
use tessera_core::throttle::{
    AlertWindowStore, LoginAttemptStore, LoginGuard, LoginUnlockStore, MemoryAlertWindowStore,
    MemoryLoginAttemptStore, MemoryThrottleStore, ThrottleStore,
};
use tessera_core::{Clock, StoreError, Stores, SystemClock, User};

/// Code run after a user is created (Django's `post_save` signal on the user
/// model). It may add fields to the creation's response, such as a key it
/// issued (`{"token": "tsr_..."}`): a key is shown once, when it is made.
pub type UserCreatedHook = Arc<
    dyn Fn(Tessera, User) -> BoxFuture<'static, Result<Map<String, Value>, Rejection>>
        + Send
        + Sync,
>;

/// The shared state of a Tessera-protected application. Cheap to clone.
///
/// Made with [`Tessera::builder`]; building touches no async runtime, so it
/// may happen before one exists. The background work (the audit log's
/// writer, the writer of credentials' last uses and the periodic purge of
/// expired credentials) starts with
/// [`Tessera::start_background`], which [`crate::serve`] calls.
///
/// ```
/// use tessera_axum::Tessera;
/// use tessera_core::password::{Argon2Params, PasswordHasher};
///
/// # fn main() -> anyhow::Result<()> {
/// // No runtime yet: building spawns nothing.
/// let tessera = Tessera::builder()
///     .store(tessera_testkit::MemoryStore::default())
///     .hasher(PasswordHasher::with_defaults(Argon2Params::default())?)
///     .build()?;
/// let runtime = tokio::runtime::Runtime::new()?;
/// tessera.start_background(runtime.handle());
/// # Ok(())
/// # }
/// ```
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
    hooks: Vec<UserCreatedHook>,
    throttle_store: Arc<dyn ThrottleStore>,
    login_guard: LoginGuard,
    alerts: Alerts,
    auditor: Arc<Auditor>,
    metrics: Metrics,
    purge: Mutex<Option<tokio::task::JoinHandle<()>>>,
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

/// How often [`Tessera::start_background`]'s task deletes expired tokens and
/// sessions (Django's `clearsessions`, run for you).
pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// The counters of throttles, login protection and security alerts. All are
/// in memory by default ([`Counters::in_memory`]): each process counts on its
/// own. Put shared implementations of the traits here (PostgreSQL's or
/// Redis's counter stores) to count across processes.
#[derive(Clone)]
pub struct Counters {
    /// The throttles' request counts (DRF's cache).
    pub throttle: Arc<dyn ThrottleStore>,
    /// Failed logins per username, address and pair.
    pub login_attempts: Arc<dyn LoginAttemptStore>,
    /// The security-alert windows.
    pub alert_windows: Arc<dyn AlertWindowStore>,
}

impl Counters {
    /// Every counter in this process's memory, of the default capacity.
    pub fn in_memory() -> Self {
        Counters {
            throttle: Arc::new(MemoryThrottleStore::new()),
            login_attempts: Arc::new(MemoryLoginAttemptStore::new()),
            alert_windows: Arc::new(MemoryAlertWindowStore::new()),
        }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Counters::in_memory()
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counters")
    }
}

/// Why [`TesseraBuilder::build`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither [`TesseraBuilder::store`] nor [`TesseraBuilder::stores`] was
    /// called.
    #[error("no store: call .store(..) or .stores(..) on the builder")]
    MissingStore,
    /// No hasher was given and the default one could not be made.
    #[error(transparent)]
    Hasher(#[from] InvalidParams),
    /// The settings contradict themselves.
    #[error("invalid settings: {0}")]
    Settings(String),
}

/// Builds a [`Tessera`]: [`Tessera::builder`].
#[derive(Default)]
#[must_use]
pub struct TesseraBuilder {
    stores: Option<Stores>,
    audit: Option<Arc<dyn AuditStore>>,
    counters: Option<Counters>,
    hasher: Option<PasswordHasher>,
    settings: Option<Settings>,
    clock: Option<Arc<dyn Clock>>,
    hooks: Vec<UserCreatedHook>,
}

impl std::fmt::Debug for TesseraBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TesseraBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TesseraBuilder {
    /// Every role (users, tokens, sessions, audit log, unlocks, health)
    /// played by one store, such as `tessera_store_sql::SqlStore`.
    pub fn store<S>(self, store: S) -> Self
    where
        S: UserStore
            + TokenStore
            + SessionStore
            + AuditStore
            + AuditedWrites
            + LoginUnlockStore
            + Health,
    {
        self.stores(Stores::from_one(store))
    }

    /// The stores, role by role (a cache in front of some, say).
    pub fn stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// Where the audit writer's queued events go, instead of the store's
    /// audit log. Events written with their state change (a login, a token
    /// created) go with the change, to the store's own log.
    pub fn audit(mut self, audit: Arc<dyn AuditStore>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The throttle and login-protection counters (default: in memory).
    pub fn counters(mut self, counters: Counters) -> Self {
        self.counters = Some(counters);
        self
    }

    /// The password hasher (default: argon2id at OWASP's parameters on a
    /// pool of one thread per core, [`PasswordHasher::with_defaults`]).
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// The settings (default: [`Settings::default`]).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The clock (default: the system's; tests move theirs forward).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Code to run after every user creation (Django's `post_save` signal
    /// on the user model), such as issuing the new user a token; what it
    /// returns is added to the creation's response. Hooks run in the order
    /// they were added.
    pub fn on_user_created<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Tessera, User) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<
                Output = Result<serde_json::Map<String, serde_json::Value>, crate::Rejection>,
            > + Send
            + 'static,
    {
        self.hooks.push(Arc::new(move |tessera, user| {
            Box::pin(hook(tessera, user)) as futures::future::BoxFuture<'static, _>
        }));
        self
    }

    /// The state. Spawns nothing and needs no runtime; see
    /// [`Tessera::start_background`].
    pub fn build(self) -> Result<Tessera, BuildError> {
        let mut stores = self.stores.ok_or(BuildError::MissingStore)?;
        let settings = self.settings.unwrap_or_default();
        check_settings(&settings)?;
        let hasher = match self.hasher {
            Some(hasher) => hasher,
            None => PasswordHasher::with_defaults(Argon2Params::default())?,
        };
        if let Some(audit) = self.audit {
            stores.audit = audit;
        }
        let counters = self.counters.unwrap_or_default();
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let auditor = Auditor::with_settings(stores.audit.clone(), settings.audit);
        let mut metrics = Metrics::new(hasher.clone());
        metrics.register_auditor(auditor.clone());
        if let Some(cache) = &stores.cache {
            metrics.register_cache(cache.clone());
        }
        let toucher = Toucher::new(stores.clone());
        metrics.register_toucher(toucher.clone());
        let alerts = Alerts::new(
            settings.alert_policy,
            settings.alert_sink.clone(),
            counters.alert_windows,
            auditor.clone(),
            stores.audited.clone(),
        );
        Ok(Tessera {
            inner: Arc::new(Inner {
                auditor,
                throttle_store: counters.throttle,
                // Unlocks made by other processes (the CLI, other servers)
                // are read from the store when a username is found locked.
                login_guard: LoginGuard::new(counters.login_attempts, settings.login_policy)
                    .with_unlocks(stores.unlocks.clone()),
                alerts,
                metrics,
                toucher,
                stores,
                hasher,
                clock,
                settings,
                hooks: self.hooks,
                purge: Mutex::new(None),
            }),
        })
    }
}

/// The settings no request could work with.
fn check_settings(settings: &Settings) -> Result<(), BuildError> {
    let interval = Duration::try_from(crate::touch::INTERVAL).unwrap_or(Duration::from_secs(60));
    if let Some(idle) = settings.token_idle_timeout {
        if idle < 2 * interval {
            return Err(BuildError::Settings(format!(
                "token_idle_timeout must be at least {}s (uses are recorded once every {}s), or None",
                (2 * interval).as_secs(),
                interval.as_secs()
            )));
        }
    }
    for name in [&settings.session_cookie, &settings.csrf_cookie] {
        if name.starts_with("__Host-") && !settings.secure_cookies {
            return Err(BuildError::Settings(format!(
                "the cookie {name:?} has the __Host- prefix, which browsers drop without Secure: \
                 set secure_cookies"
            )));
        }
        if name.is_empty() {
            return Err(BuildError::Settings("a cookie name is empty".to_owned()));
        }
    }
    Ok(())
}

impl Tessera {
    /// A builder: at least a store, and usually a hasher and settings.
    pub fn builder() -> TesseraBuilder {
        TesseraBuilder::default()
    }

    /// Starts the background work on `runtime`: the audit log's writer, the
    /// writer of credentials' last uses ([`Toucher`]), the
    /// credential cache's revocation poller (when the stores have a cache,
    /// [`Stores::cache`]: without it, cached credentials are trusted for at
    /// most [`tessera_core::cache::REVOCATION_BOUND`]) and a task deleting
    /// expired tokens and sessions, and old rows of the revocation log, every
    /// [`PURGE_INTERVAL`], the first time at once. Calling it again does
    /// nothing. Without it, the audit writer and the last-use writer start
    /// on the runtime of their first event, and nothing is purged.
    ///
    /// In async code, pass `&tokio::runtime::Handle::current()`.
    pub fn start_background(&self, runtime: &tokio::runtime::Handle) {
        self.inner.auditor.start(runtime);
        self.inner.toucher.start(runtime);
        if let Some(cache) = &self.stores().cache {
            cache.start(runtime);
        }
        let mut purge = match self.inner.purge.lock() {
            Ok(purge) => purge,
            Err(poisoned) => poisoned.into_inner(),
        };
        if purge.is_some() {
            return;
        }
        // A weak handle: the task ends once the application is dropped.
        let weak = Arc::downgrade(&self.inner);
        *purge = Some(runtime.spawn(async move {
            let mut tick = tokio::time::interval(PURGE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let tessera = Tessera { inner };
                if let Err(e) = tessera.purge_expired().await {
                    tracing::warn!(error = %e, "purging expired credentials failed");
                }
            }
        }));
    }

    /// Stops the background work and writes the credential uses and audit
    /// events still queued;
    /// call it when the application stops ([`crate::serve`] does).
    pub async fn shutdown(&self) {
        let purge = match self.inner.purge.lock() {
            Ok(mut purge) => purge.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(purge) = purge {
            purge.abort();
        }
        if let Some(cache) = &self.stores().cache {
            cache.stop();
        }
        // Flushed before the writer is stopped: stopping it in the middle of
        // a batch would lose that batch; the flush waits for it.
        self.inner.toucher.flush().await;
        self.inner.toucher.stop();
        self.inner.auditor.flush().await;
    }

    /// Deletes expired tokens and sessions now (Django's `clearsessions`);
    /// how many of each.
    pub async fn purge_expired(&self) -> Result<(u64, u64), StoreError> {
        let now = self.clock().now();
        let tokens = self.stores().tokens.purge_expired_tokens(now).await?;
        let idle = self.settings().session_idle();
        let sessions = self
            .stores()
            .sessions
            .purge_expired_sessions(now, idle)
            .await?;
        if tokens + sessions > 0 {
            tracing::info!(tokens, sessions, "expired credentials purged");
        }
        if let Some(cache) = &self.stores().cache {
            // Old revocations concern no entry any more; a failure here is
            // not the credentials' purge's.
            if let Err(e) = cache.purge_log().await {
                tracing::warn!(error = %e, "purging the revocation log failed");
            }
        }
        Ok((tokens, sessions))
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

    /// The user-created hooks ([`TesseraBuilder::on_user_created`]).
    pub fn user_created_hooks(&self) -> &[UserCreatedHook] {
        &self.inner.hooks
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
