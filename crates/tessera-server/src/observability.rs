//! Logs, request ids and metrics.
//!
//! - Logs go through `tracing` to stderr, as JSON lines by default or in a
//!   human-readable form with `TESSERA_LOG_FORMAT=text`; `RUST_LOG` filters
//!   them (default `info`).
//! - Every request gets an id: the client's `X-Request-Id` when it is sane (at
//!   most 64 characters of `[A-Za-z0-9._-]`), else a random one. It is put in
//!   the request's extensions as [`RequestId`] (the audit log records it),
//!   in the request's span, in its log line and in the response's
//!   `X-Request-Id`.
//! - One log line per request: method, path (never the query string, which
//!   may hold secrets), matched route, status, latency and request id. No
//!   header is logged; `Authorization`, `Cookie` and `Set-Cookie` are marked
//!   sensitive besides, so that any debug output of them is redacted.
//! - `GET /metrics` answers the application's own Prometheus registry
//!   ([`tessera_axum::metrics`]).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Instant;
use tessera_axum::audit::RequestId;
use tessera_axum::metrics::{CONTENT_TYPE, UNMATCHED_ROUTE};
use tessera_axum::{ApiError, Tessera};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tracing::Instrument as _;

/// `X-Request-Id`.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Longest path written in a log line; longer ones are cut.
const MAX_LOGGED_PATH: usize = 256;

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

/// The id of a request: the client's `X-Request-Id` when it is sane, else a
/// fresh random one (128 bits, hex).
pub fn request_id(given: Option<&HeaderValue>) -> String {
    match given.map(HeaderValue::as_bytes) {
        Some(bytes) if is_sane_request_id(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => new_request_id(),
    }
}

/// Whether a client's request id may be kept: 1 to 64 characters of
/// `[A-Za-z0-9._-]` (nothing that could forge a log line or a header).
pub fn is_sane_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A fresh random request id: 16 random bytes in hex.
pub fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Wraps every route of `router` (and its fallback: call this after
/// `fallback`) with the request id, the request's log line and metrics, and
/// the sensitive-header marks.
pub fn instrument<S>(router: Router<S>, tessera: &Tessera) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        // Innermost: responses are marked before the log line is written.
        .layer(SetSensitiveResponseHeadersLayer::new([header::SET_COOKIE]))
        .layer(middleware::from_fn_with_state(tessera.clone(), observe))
        // Outermost: requests are marked before anything reads them.
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::PROXY_AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static(tessera_axum::csrf::HEADER),
        ]))
}

/// The request id, the request's log line and its count.
async fn observe(State(tessera): State<Tessera>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers().get(&REQUEST_ID_HEADER));
    // A sane or generated id is always a valid header value.
    let id_header = HeaderValue::from_str(&id).ok();
    match &id_header {
        Some(value) => {
            request
                .headers_mut()
                .insert(REQUEST_ID_HEADER, value.clone());
        }
        None => {
            request.headers_mut().remove(REQUEST_ID_HEADER);
        }
    }
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let path = logged_path(request.uri().path()).to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Some(value) = id_header {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    tessera.metrics().record_request(route, &method, status);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (method, path) = (method.as_str(), path.as_str());
    if response.status().is_server_error() {
        tracing::warn!(target: "tessera::http", request_id = %id, method, path, route, status, latency_ms, "request");
    } else {
        tracing::info!(target: "tessera::http", request_id = %id, method, path, route, status, latency_ms, "request");
    }
    response
}

/// The path as logged: at most [`MAX_LOGGED_PATH`] characters (a URI path is
/// ASCII). The query string is never passed here.
fn logged_path(path: &str) -> &str {
    match path.char_indices().nth(MAX_LOGGED_PATH) {
        Some((end, _)) => &path[..end],
        None => path,
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
    fn request_ids() {
        let given = HeaderValue::from_static("abc-123_X.y");
        assert_eq!(request_id(Some(&given)), "abc-123_X.y");
        let max = "a".repeat(64);
        assert_eq!(request_id(Some(&HeaderValue::from_str(&max).unwrap())), max);
        for hostile in ["", "a b", "a/b", "é", "x\"y", &"a".repeat(65)] {
            let value = HeaderValue::from_bytes(hostile.as_bytes()).unwrap();
            let id = request_id(Some(&value));
            assert_ne!(id, hostile);
            assert_eq!(id.len(), 32);
        }
        let (a, b) = (request_id(None), request_id(None));
        assert_ne!(a, b);
        assert!(is_sane_request_id(a.as_bytes()));
    }

    #[test]
    fn log_formats() {
        assert_eq!("".parse(), Ok(LogFormat::Json));
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn long_paths_are_cut() {
        assert_eq!(logged_path("/a"), "/a");
        assert_eq!(logged_path(&"/".repeat(1000)).len(), MAX_LOGGED_PATH);
    }
}
