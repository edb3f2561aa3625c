//! `tessera audit`: the audit log, newest first, as JSON lines or a table.

use crate::config::Config;
use clap::{Args, ValueEnum};
use tessera_core::audit::{AuditQuery, EventKind};

/// Options of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this user's events: a username, or a user id (a username is
    /// looked up first).
    #[arg(long, value_name = "USERNAME|ID")]
    pub user: Option<String>,
    /// Only this kind of event.
    #[arg(long, value_parser = event_kind())]
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

/// The event names, listed by clap when a value is not one of them.
fn event_kind() -> impl clap::builder::TypedValueParser<Value = EventKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(EventKind::ALL.map(EventKind::as_str))
        .try_map(|name| name.parse::<EventKind>())
}

fn parse_time(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"))
}

pub(super) async fn run(config: Config, args: AuditArgs) -> anyhow::Result<()> {
    let state = super::open_state(config).await?;
    let user = match &args.user {
        Some(given) => Some(user_id(&state.tessera, given).await?),
        None => None,
    };
    let store = state.tessera.stores().audit.clone();
    let query = AuditQuery {
        user,
        event: args.event,
        since: args.since,
        offset: 0,
        limit: args.limit,
        ..AuditQuery::default()
    };
    let page = store.query(&query).await?;
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

/// The id of the user named `given`, or `given` as an id when no user has
/// that name; said on standard error.
async fn user_id(tessera: &tessera_axum::Tessera, given: &str) -> anyhow::Result<i64> {
    let user = match super::user_named(tessera, given).await {
        Ok(user) => user,
        Err(not_found) => match given.parse::<i64>() {
            Ok(id) => tessera
                .stores()
                .users
                .user_by_id(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user is named {given:?} or has the id {id}"))?,
            Err(_) => return Err(not_found),
        },
    };
    eprintln!(
        "tessera: events of user {:?} (id {})",
        user.username, user.id
    );
    Ok(user.id)
}
