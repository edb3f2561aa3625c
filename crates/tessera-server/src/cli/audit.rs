//! `tessera audit`: the audit log, newest first, as JSON lines or a table.

use crate::config::Config;
use clap::{Args, ValueEnum};
use tessera_core::audit::{AuditQuery, EventKind};

/// Options of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this user's events (an id).
    #[arg(long)]
    pub user: Option<i64>,
    /// Only this kind of event (`login_failed`, `token_created`, ...).
    #[arg(long)]
    pub event: Option<EventKind>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<time::OffsetDateTime>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// How events are printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// An aligned table.
    Table,
}

fn parse_time(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"))
}

pub(super) async fn run(config: Config, args: AuditArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let query = AuditQuery {
        user: args.user,
        event: args.event,
        since: args.since,
        offset: 0,
        limit: args.limit,
    };
    let page = tessera_core::audit::AuditStore::query(&store, &query).await?;
    match args.format {
        Format::Json => {
            for event in &page.events {
                println!("{}", serde_json::to_string(event)?);
            }
        }
        Format::Table => {
            println!(
                "{:<27} {:<18} {:>6} {:<20} {:<15} request_id",
                "time", "event", "user", "username", "ip"
            );
            for e in &page.events {
                // Debug formatting escapes control characters: a hostile
                // username cannot forge a line of the table.
                println!(
                    "{:<27} {:<18} {:>6} {:<20} {:<15} {}",
                    tessera_core::clock::rfc3339(e.time),
                    e.event.as_str(),
                    e.user.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                    format!("{:?}", e.username),
                    e.ip.as_deref().unwrap_or("-"),
                    e.request_id.as_deref().unwrap_or("-"),
                );
            }
        }
    }
    Ok(())
}
