//! Django's `ALLOWED_HOSTS` at the edge: a request whose `Host` is not allowed
//! is answered `400 invalid_host` before routing, authentication or any
//! store read, and every later part (the CSRF origin check, absolute links)
//! sees only an allowed host.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use tessera_axum::ApiError;
use tessera_core::host::AllowedHosts;

/// What the host check needs: the allowed patterns, the server's own
/// `host:port` (for HTTP/1.0 requests, which may omit `Host`, as Django then
/// uses `SERVER_NAME:SERVER_PORT`) and the trusted proxy count (for the
/// scheme of absolute links).
#[derive(Debug, Clone)]
pub(crate) struct HostCheck {
    pub(crate) allowed: AllowedHosts,
    pub(crate) own: String,
    pub(crate) num_proxies: usize,
    /// The `Vary` of the CORS layer when CORS is on: the `400` of a foreign
    /// host carries it too, as every other response does then.
    pub(crate) vary: Option<HeaderValue>,
}

/// The request's scheme and allowed host, `http://api.example.com:8000`: the
/// base of every absolute link the server builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestOrigin(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = Infallible;

    /// The origin the host check recorded; without the check (a router built
    /// without it), the loopback name, never an unchecked `Host`.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestOrigin>()
            .cloned()
            .unwrap_or_else(|| RequestOrigin("http://localhost".to_owned())))
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
/// requires. An allowed host is recorded as the request's
/// [`RequestOrigin`] (and as its `Host` when it came from elsewhere).
pub(crate) fn admit(check: &HostCheck, request: &mut Request) -> Option<Response> {
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
        tracing::info!(host = ?shown, "request refused: Host not in server.allowed_hosts");
        return Some(invalid_host(check));
    }
    // An allowed host is `name[:port]` of ASCII letters, digits, `.-:[]`.
    let secure = tessera_axum::client::is_secure_request(request, check.num_proxies);
    let scheme = if secure { "https://" } else { "http://" };
    let origin = format!("{scheme}{}", String::from_utf8_lossy(host));
    if !from_header {
        // Later readers of `Host` (the CSRF check) see the host checked here.
        if let Some(Ok(value)) = origin.get(scheme.len()..).map(HeaderValue::from_str) {
            request.headers_mut().insert(header::HOST, value);
        }
    }
    request.extensions_mut().insert(RequestOrigin(origin));
    None
}
