//! `tessera clearsessions`, as Django's: deletes expired sessions (and expired
//! tokens, which the same background task purges), and audit events older
//! than `audit.retention` (which the server deletes hourly).

use crate::config::Config;

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    let state = super::open_state(config).await?;
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
