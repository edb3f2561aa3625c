//! `tessera clearsessions`, as Django's: deletes expired sessions (and expired
//! tokens, which the same background task purges), and audit events older
//! than `audit.retention` (which the server deletes hourly).

use crate::config::Config;
use std::sync::Arc;
use tessera_core::SystemClock;

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let state = crate::state(config, store, Arc::new(SystemClock))?;
    let (tokens, sessions) = crate::purge_expired(&state.tessera).await?;
    println!("Deleted {sessions} expired sessions and {tokens} expired tokens.");
    let retention = state.config.audit.retention;
    let events = crate::prune_audit(&state.tessera, retention).await?;
    println!(
        "Deleted {events} audit events older than {}.",
        retention_text(retention)
    );
    Ok(())
}

/// `365 days` for whole days (humantime would write a year as 365.25 days),
/// else humantime's form.
fn retention_text(retention: std::time::Duration) -> String {
    let secs = retention.as_secs();
    if secs > 0 && secs.is_multiple_of(86_400) && retention.subsec_nanos() == 0 {
        match secs / 86_400 {
            1 => "1 day".to_owned(),
            days => format!("{days} days"),
        }
    } else {
        humantime::format_duration(retention).to_string()
    }
}
