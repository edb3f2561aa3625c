//! Request ids and request logs, as the server has them.
//!
//! - Every request gets an id: the client's `X-Request-Id` when it is sane (at
//!   most 64 characters of `[A-Za-z0-9._-]`), else a random one. It is put in
//!   the request's extensions as [`RequestId`] (the audit log records it),
//!   in the request's span, in its log line and in the response's
//!   `X-Request-Id`.
//! - One log line per request (target `tessera::http`): method, path (never
//!   the query string, which may hold secrets), matched route, status,
//!   latency and request id. No header is logged; `Authorization`, `Cookie`,
//!   `X-CSRFToken` and `Set-Cookie` are marked sensitive besides, so that any
//!   debug output of them is redacted.
//! - Each request is counted in the application's metrics
//!   ([`crate::metrics`]).
//!
//! [`instrument`] puts all of it around a router; [`crate::serve`] does so.

use crate::audit::RequestId;
use crate::metrics::UNMATCHED_ROUTE;
use crate::Tessera;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::{header, HeaderName, HeaderValue};
use std::time::Instant;
use tower::ServiceBuilder;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tracing::Instrument as _;

/// `X-Request-Id`.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Longest path written in a log line; longer ones are cut.
pub const MAX_LOGGED_PATH: usize = 256;

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
    hex_id(rand::random::<[u8; 16]>())
}

/// `bytes` in lowercase hex. By hand into a buffer rather than
/// `hex::encode`, whose char iterator cost about a thousand instructions a
/// request (callgrind), or a `String` pushed a `char` at a time (about 500).
fn hex_id(bytes: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
    // Hex digits are ASCII, so always UTF-8.
    std::str::from_utf8(&out)
        .map(String::from)
        .unwrap_or_default()
}

/// Wraps every route of `router` (and its fallback: call this after
/// `fallback`) with the request id, the request's log line and metrics, and
/// the sensitive-header marks.
pub fn instrument<S>(router: Router<S>, tessera: &Tessera) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // One `Router::layer` call with the three layers stacked: axum wraps
    // every route in a boxed `Route` per call, and each request clones every
    // level of that chain (an allocation a level), so separate calls cost a
    // request several allocations more than this.
    router.layer(
        ServiceBuilder::new()
            // Outermost: requests are marked before anything reads them.
            .layer(SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::COOKIE,
                HeaderName::from_static(crate::csrf::HEADER),
            ]))
            .layer(middleware::from_fn_with_state(tessera.clone(), observe))
            // Innermost: responses are marked before the log line is written.
            .layer(SetSensitiveResponseHeadersLayer::new([header::SET_COOKIE])),
    )
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
pub fn logged_path(path: &str) -> &str {
    match path.char_indices().nth(MAX_LOGGED_PATH) {
        Some((end, _)) => &path[..end],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
    fn ids_are_lowercase_hex() {
        let bytes: [u8; 16] = [
            0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0, 0xfe,
            0xff, 0x42,
        ];
        assert_eq!(hex_id(bytes), "00010f107f809aabbccddeeff0feff42");
        assert_eq!(hex_id([0; 16]), "0".repeat(32));
        let fresh = new_request_id();
        assert_eq!(fresh.len(), 32);
        assert!(fresh
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn long_paths_are_cut() {
        assert_eq!(logged_path("/a"), "/a");
        assert_eq!(logged_path(&"/".repeat(1000)).len(), MAX_LOGGED_PATH);
    }
}
