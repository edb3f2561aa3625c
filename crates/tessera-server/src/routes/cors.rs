//! CORS, as django-cors-headers gives DRF, on tower-http's layer: pages on
//! the origins of `cors.allowed_origins` may call the API from a browser.
//!
//! The layer sits right inside the allowed-hosts check (a foreign `Host` is
//! refused even for a preflight) and outside every route, so a preflight is
//! answered before authentication: never a `401` or `403`. Around
//! tower-http's layer, three rules of django-cors-headers:
//!
//! - A preflight is `OPTIONS` with `Access-Control-Request-Method`. tower-http
//!   answers every `OPTIONS` itself; a plain `OPTIONS` goes on to its route,
//!   as without CORS, and gets the headers of an actual request.
//! - A request without `Origin`, with `Origin: null` (sandboxed frames,
//!   `file:` pages: any page can take it) or from an origin not allowed gets
//!   no `Access-Control-*` header at all: tower-http would still send the
//!   allowed methods, headers and credentials flag, or `*` to anyone.
//! - `Vary: origin, access-control-request-method,
//!   access-control-request-headers` (tower-http's) is on every response,
//!   allowed or not, so that a cache never hands one origin's answer to
//!   another.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Layer, ServiceExt};
use tower_http::cors::CorsLayer;

/// The `Vary` value the layer adds to every response, which the host
/// check's `400` carries too when CORS is on.
pub(crate) fn vary() -> Option<HeaderValue> {
    let names: Vec<String> = tower_http::cors::preflight_request_headers()
        .map(|name| name.as_str().to_owned())
        .collect();
    HeaderValue::from_str(&names.join(", ")).ok()
}

/// django-cors-headers' test of a preflight.
fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The middleware (see the module's documentation).
pub(crate) async fn cors(
    State(layer): State<Arc<CorsLayer>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = if request.method() == Method::OPTIONS && !is_preflight(&request) {
        let headers = actual_request_headers(&layer, request.headers()).await;
        let mut response = next.run(request).await;
        add(response.headers_mut(), headers);
        response
    } else {
        match layer.layer(next).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    };
    let allowed = origin.is_some_and(|origin| origin != "null")
        && response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    if !allowed {
        remove_cors_headers(response.headers_mut());
    }
    response
}

/// The headers tower-http's layer gives an actual (not preflight) request
/// carrying `headers`: asked of the layer over an empty answer, so that the
/// rules stay tower-http's.
async fn actual_request_headers(layer: &CorsLayer, headers: &HeaderMap) -> HeaderMap {
    let mut probe = Request::new(Body::empty());
    *probe.headers_mut() = headers.clone();
    let empty =
        tower::service_fn(|_: Request| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
    match layer.layer(empty).oneshot(probe).await {
        Ok(response) => response.into_parts().0.headers,
        Err(never) => match never {},
    }
}

/// Adds `cors` to a response's headers as tower-http does: `Vary` appended,
/// the others replacing any of the same name.
fn add(headers: &mut HeaderMap, mut cors: HeaderMap) {
    for vary in cors.get_all(header::VARY) {
        headers.append(header::VARY, vary.clone());
    }
    cors.remove(header::VARY);
    headers.extend(cors);
}

/// Removes every `Access-Control-*` header.
fn remove_cors_headers(headers: &mut HeaderMap) {
    let names: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}
