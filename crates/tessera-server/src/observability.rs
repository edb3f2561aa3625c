//! Logs, request ids and metrics.
//!
//! - Logs go through `tracing` to stderr, as JSON lines by default or in a
//!   human-readable form with `TESSERA_LOG_FORMAT=text`; `RUST_LOG` filters
//!   them (default `info`).
//! - Request ids and the request log are the library's
//!   ([`tessera_axum::observability`]), re-exported here:
//!   every request gets an id: the client's `X-Request-Id` when it is sane (at
//!   most 64 characters of `[A-Za-z0-9._-]`), else a random one. It is put in
//!   the request's extensions as [`RequestId`](tessera_axum::audit::RequestId) (the audit log records it),
//!   in the request's span, in its log line and in the response's
//!   `X-Request-Id`.
//! - One log line per request: method, path (never the query string, which
//!   may hold secrets), matched route, status, latency and request id. No
//!   header is logged; `Authorization`, `Cookie` and `Set-Cookie` are marked
//!   sensitive besides, so that any debug output of them is redacted.
//! - `GET /metrics` answers the application's own Prometheus registry
//!   ([`tessera_axum::metrics`]).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tessera_axum::metrics::CONTENT_TYPE;
use tessera_axum::{ApiError, Tessera};

pub use tessera_axum::observability::{
    instrument, is_sane_request_id, new_request_id, request_id, MAX_REQUEST_ID_LEN,
    REQUEST_ID_HEADER,
};

/// The environment variable choosing the log format: `json` (default) or
/// `text`.
pub const LOG_FORMAT_VAR: &str = "TESSERA_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, the event's fields at the top level.
    Json,
    /// tracing-subscriber's human-readable lines.
    Text,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            other => Err(format!(
                "unknown {LOG_FORMAT_VAR} {other:?} (expected \"json\" or \"text\")"
            )),
        }
    }
}

/// Installs the process's log subscriber: stderr, filtered by `RUST_LOG`
/// (default `info`), in the format `TESSERA_LOG_FORMAT` names. An unknown
/// format falls back to JSON with a warning. Does nothing when a subscriber is
/// already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let requested = std::env::var(LOG_FORMAT_VAR).unwrap_or_default();
    let (format, problem) = match requested.parse::<LogFormat>() {
        Ok(format) => (format, None),
        Err(problem) => (LogFormat::Json, Some(problem)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let (Ok(()), Some(problem)) = (installed, problem) {
        tracing::warn!("{problem}; logging JSON");
    }
}

/// `GET /metrics`: the application's metrics in Prometheus text format.
pub async fn metrics(State(tessera): State<Tessera>) -> Response {
    // Read from the store at scrape time; a store that cannot answer leaves
    // this family out rather than failing the scrape.
    let schemes = tessera.stores().users.count_password_schemes().await.ok();
    match tessera.metrics().encode() {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            with_password_schemes(text, schemes),
        )
            .into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}

/// Adds `tessera_users_password_scheme{scheme}` (users by the scheme of
/// their stored hash: Django's legacy ones count down as their users log
/// in and are upgraded) before the exposition's closing `# EOF`.
fn with_password_schemes(
    text: String,
    schemes: Option<std::collections::BTreeMap<String, u64>>,
) -> String {
    let Some(schemes) = schemes else {
        return text;
    };
    let body = text.strip_suffix("# EOF\n").unwrap_or(&text);
    let mut out = String::with_capacity(body.len() + 512);
    out.push_str(body);
    out.push_str(
        "# HELP tessera_users_password_scheme Users by the scheme of their stored password hash (Django's until their next login).\n",
    );
    out.push_str("# TYPE tessera_users_password_scheme gauge\n");
    for (scheme, count) in schemes {
        // Scheme names are the store's fixed labels, never user input.
        out.push_str(&format!(
            "tessera_users_password_scheme{{scheme=\"{scheme}\"}} {count}\n"
        ));
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats() {
        assert_eq!("".parse(), Ok(LogFormat::Json));
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
