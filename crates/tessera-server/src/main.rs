//! The `tessera` binary: parses the command line and runs it.

use clap::Parser;
use std::process::ExitCode;
use tessera_server::cli::{run, Cli};

/// mimalloc rather than the system's malloc: a request makes about a hundred
/// small allocations, which cost glibc's malloc and free a fifth of the
/// request's instructions (callgrind; bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // JSON lines on stderr, or text with TESSERA_LOG_FORMAT=text.
    tessera_server::observability::init_logging();
    let cli = Cli::parse();
    let result = run(cli).await;
    // The log thread's queue, written out before the process ends.
    tessera_server::observability::flush_logs();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes, no backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
