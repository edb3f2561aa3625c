//! `tessera serve`.

use crate::config::Config;
use clap::Args;
use std::net::SocketAddr;

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The listening address (`127.0.0.1:8000`, `localhost:8000`,
    /// `0.0.0.0:8000`), overriding `server.bind`.
    #[arg(long, value_name = "ADDR", value_parser = super::parse_bind)]
    pub bind: Option<SocketAddr>,
}

pub(super) async fn run(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let config = super::with_bind(config, args.bind);
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.bind))?;
    crate::run(listener, config, shutdown_signal()).await
}

/// SIGTERM or Ctrl-C (the library's signal, as `tessera_axum::serve` stops).
async fn shutdown_signal() {
    tessera_axum::shutdown_signal().await;
}
