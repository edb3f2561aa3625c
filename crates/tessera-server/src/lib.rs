//! The `tessera` server: Django REST Framework's token authentication (and,
//! as the project grows, sessions, throttles and audit) as a service speaking
//! the contract of `API.md`.
//!
//! [`app`] builds the router from an [`AppState`]; [`run`] serves it on a
//! listener until `shutdown` resolves. The binary (`main.rs`) only parses the
//! command line and calls into [`cli`].

pub mod accounts;
pub mod cli;
pub mod config;
pub mod routes;

use anyhow::Context as _;
use config::Config;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tessera_axum::{Authenticator, Settings, Tessera};
use tessera_core::password::{Argon2Params, PasswordHasher};
use tessera_core::{Clock, Stores, SystemClock};
use tessera_store_sql::SqlStore;
use tokio::net::TcpListener;

pub use routes::app;

/// What the routes share: the library's state and the server's configuration.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Stores, hasher, clock, authentication settings.
    pub tessera: Tessera,
    /// The configuration the server started with.
    pub config: Arc<Config>,
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
    Ok(Settings {
        token_keyword: config.authentication.token_keyword.clone(),
        accept_bearer: config.authentication.accept_bearer,
        default_authenticators,
        token_lifetime: config.tokens.default_lifetime.0,
        max_tokens_per_user: config.tokens.max_per_user,
        body_limit: config.limits.body_bytes,
    })
}

/// The password hasher the configuration asks for.
pub fn hasher(config: &Config) -> anyhow::Result<PasswordHasher> {
    let params: Argon2Params = config
        .password
        .argon2
        .parse()
        .map_err(anyhow::Error::msg)
        .context("password.argon2")?;
    PasswordHasher::with_defaults(params).map_err(anyhow::Error::msg)
}

/// Opens the configured store and applies its migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<SqlStore> {
    let store = SqlStore::connect(&config.database.url)
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

/// The state for `config`, over an opened store, with the given clock.
pub fn state(config: Config, store: SqlStore, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let tessera = Tessera::with_clock(
        Stores::from_one(store),
        hasher(&config)?,
        settings(&config)?,
        clock,
    );
    Ok(AppState {
        tessera,
        config: Arc::new(config),
    })
}

/// Serves the application on `listener` until `shutdown` resolves, then
/// finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let state = state(config, store, Arc::new(SystemClock))?;
    let addr = listener.local_addr()?;
    if addr.ip().is_loopback() {
        tracing::info!("development mode: listening on loopback without TLS");
    }
    tracing::info!(%addr, "tessera listening");
    let purge = spawn_purge(state.tessera.stores().clone());
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    purge.abort();
    tracing::info!("tessera stopped");
    Ok(())
}

/// Deletes expired tokens every hour.
fn spawn_purge(stores: Stores) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match stores.tokens.purge_expired_tokens(SystemClock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired tokens purged"),
                Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
            }
        }
    })
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
