//! Django's `ALLOWED_HOSTS` at the edge: a request whose `Host` is not allowed
//! is answered `400 invalid_host` before routing, authentication or any
//! store read, and every later part (the CSRF origin check, absolute links)
//! sees only an allowed host.

use crate::AppState;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use tessera_axum::ApiError;
use tessera_core::host::AllowedHosts;

/// What the host check needs: the allowed patterns, the server's own
/// `host:port` (for HTTP/1.0 requests, which may omit `Host`, as Django then
/// uses `SERVER_NAME:SERVER_PORT`).
#[derive(Debug, Clone)]
pub(crate) struct HostCheck {
    pub(crate) allowed: AllowedHosts,
    pub(crate) own: String,
    /// The `Vary` of the CORS layer when CORS is on: the `400` of a foreign
    /// host carries it too, as every other response does then.
    pub(crate) vary: Option<HeaderValue>,
}

/// The request's scheme and allowed host, `http://api.example.com:8000`: the
/// base of every absolute link the server builds.
///
/// Worked out by the few routes that build links, from the `Host` that
/// [`admit`] checked (and set, when the host came from elsewhere), checked
/// again against `server.allowed_hosts` here: a router built without the
/// check never gets an unchecked `Host` into a link, only the loopback name.
/// (Recording it for every request cost an allocation and an extension
/// insert a request, for the two routes that read it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestOrigin(pub(crate) String);

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let allowed = crate::allowed_hosts(&state.config);
        let host = parts
            .headers
            .get(header::HOST)
            .map(HeaderValue::as_bytes)
            .filter(|host| allowed.is_allowed(host));
        let Some(host) = host else {
            return Ok(RequestOrigin("http://localhost".to_owned()));
        };
        // An allowed host is `name[:port]` of ASCII letters, digits, `.-:[]`.
        let secure = tessera_axum::client::is_secure(parts, state.config.throttle.num_proxies);
        let scheme = if secure { "https://" } else { "http://" };
        Ok(RequestOrigin(format!(
            "{scheme}{}",
            String::from_utf8_lossy(host)
        )))
    }
}

/// The 400 of a disallowed or missing `Host`.
fn invalid_host(check: &HostCheck) -> Response {
    let mut response = ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_host",
        "Invalid host header.",
    )
    .into_response();
    if let Some(vary) = &check.vary {
        response.headers_mut().append(header::VARY, vary.clone());
    }
    response
}

/// The check; the refusal when the host is not allowed. The host is the
/// `Host` header, else the URI's authority (HTTP/2's `:authority`, an
/// absolute-form request line), else for HTTP/1.0 the server's own address;
/// an HTTP/1.1 request without any is refused, as RFC 9112 (section 3.2)
/// requires. An allowed host that came from elsewhere is set as the
/// request's `Host`. A refusal is logged as the request's (`log`).
pub(crate) fn admit(
    check: &HostCheck,
    request: &mut Request,
    log: &super::front::RequestLog,
) -> Option<Response> {
    let (host, from_header) = match request.headers().get(header::HOST) {
        Some(value) => (value.as_bytes(), true),
        None => match request.uri().authority() {
            Some(authority) => (authority.as_str().as_bytes(), false),
            None if request.version() <= Version::HTTP_10 => (check.own.as_bytes(), false),
            None => return Some(invalid_host(check)),
        },
    };
    if !check.allowed.is_allowed(host) {
        let shown: String = String::from_utf8_lossy(host).chars().take(100).collect();
        log.in_scope(|| {
            tracing::info!(host = ?shown, "request refused: Host not in server.allowed_hosts");
        });
        return Some(invalid_host(check));
    }
    if !from_header {
        // Later readers of `Host` (the CSRF check, [`RequestOrigin`]) see
        // the host checked here.
        if let Ok(value) = HeaderValue::from_bytes(host) {
            request.headers_mut().insert(header::HOST, value);
        }
    }
    None
}
