//! The `tessera` binary: parses the command line and runs it.

use clap::Parser;
use std::process::ExitCode;
use tessera_server::cli::{run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes, no backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
