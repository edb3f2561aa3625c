//! Serving an application as the server does: [`serve`].

use crate::observability::instrument;
use crate::Tessera;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until Ctrl-C or `SIGTERM`, with what the
/// Tessera server adds around its own routes:
///
/// - each request's client address (axum's `ConnectInfo`), which login
///   protection and throttles count by;
/// - request ids and one log line per request ([`crate::observability`]);
/// - the background work ([`Tessera::start_background`]): the audit log's
///   writer and the periodic purge of expired tokens and sessions;
/// - a graceful shutdown: requests in flight finish, then the queued audit
///   events are written ([`Tessera::shutdown`]).
///
/// ```no_run
/// # async fn run(app: axum::Router, tessera: tessera_axum::Tessera) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// tessera_axum::serve(listener, app, tessera).await
/// # }
/// ```
pub async fn serve(listener: TcpListener, app: Router, tessera: Tessera) -> std::io::Result<()> {
    serve_until(listener, app, tessera, shutdown_signal()).await
}

/// [`serve`] until `shutdown` resolves instead of a signal.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    tessera: Tessera,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tessera.start_background(&tokio::runtime::Handle::current());
    let app = instrument(app, &tessera);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    // Written even when serving failed.
    tessera.shutdown().await;
    served
}

/// Resolves at Ctrl-C or, on Unix, at `SIGTERM` (what a service manager or
/// a container runtime sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
