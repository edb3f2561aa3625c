//! The `tessera` binary: parses the command line and runs it.

use clap::Parser;
use std::process::ExitCode;
use tessera_server::cli::{run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    // JSON lines on stderr, or text with TESSERA_LOG_FORMAT=text.
    tessera_server::observability::init_logging();
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
