//! What every request and response of a listener passes through, as one
//! tower service: the sensitive-header marks, the request id, Django's
//! `ALLOWED_HOSTS`, the body limit, the contract's `405` body, the hardening
//! headers, the request's count in the metrics and its access-log line.
//!
//! These were eight layers (three of them `from_fn` middlewares); each
//! level costs a request a clone of the boxed service chain below it and a
//! boxed future (callgrind: about 9,000 instructions a request together).
//! One service does the same work in the same order, listed here from the
//! outside in:
//!
//! 1. `Authorization`, `Proxy-Authorization`, `Cookie` and `X-CSRFToken` are
//!    marked sensitive (redacted in any debug output of the request).
//! 2. The request id ([`request_id`]): in the request's headers and
//!    extensions ([`RequestId`], the audit log records it), its log scope
//!    or span ([`RequestLog`]), its log line and the response's
//!    `X-Request-Id`.
//! 3. The host check ([`hosts::admit`]): a `Host` that is not allowed is
//!    answered `400 invalid_host` before routing, CORS, authentication or any
//!    store read.
//! 4. [`BodyLimit`] for the body extractors (of a request that has a body).
//! 5. The route (inside CORS when `[cors]` is on).
//! 6. A `405` from the router gets the contract's body ([`explain_405`]),
//!    keeping the headers it had (`Allow`, CORS).
//! 7. `Set-Cookie` is marked sensitive; the hardening headers
//!    ([`hardening_headers`]); `X-Request-Id`.
//! 8. The count in the metrics and the access-log line
//!    ([`crate::observability::access_log`]).

use super::hosts::{self, HostCheck};
use crate::observability::{access_log, request_id, request_scopes, REQUEST_ID_HEADER};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use std::convert::Infallible;
use std::future::Future as _;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tessera_axum::audit::RequestId;
use tessera_axum::body::BodyLimit;
use tessera_axum::metrics::UNMATCHED_ROUTE;
use tessera_axum::{ApiError, Tessera};
use tessera_core::log_scope::{self, RequestScope};
use tower::{Layer, Service};
use tracing::Instrument as _;

/// Request headers marked sensitive.
const SENSITIVE_REQUEST_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static(tessera_axum::csrf::HEADER),
];

/// What [`Front`] needs, shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) tessera: Tessera,
    pub(crate) hosts: HostCheck,
    pub(crate) body_limit: usize,
}

/// The layer making [`Front`].
#[derive(Debug, Clone)]
pub(crate) struct FrontLayer(pub(crate) Arc<Shared>);

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            shared: self.0.clone(),
        }
    }
}

/// See the module's documentation.
#[derive(Debug, Clone)]
pub(crate) struct Front<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let headers = request.headers_mut();
        for name in &SENSITIVE_REQUEST_HEADERS {
            if let header::Entry::Occupied(mut entry) = headers.entry(name) {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
            }
        }
        let id = request_id(headers.get(&REQUEST_ID_HEADER));
        // A sane or generated id is always a valid header value.
        let id_header = HeaderValue::from_str(&id).ok();
        match &id_header {
            Some(value) => headers.insert(REQUEST_ID_HEADER, value.clone()),
            None => headers.remove(REQUEST_ID_HEADER),
        };
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let log = RequestLog::new(&id);
        let refused = hosts::admit(&self.shared.hosts, &mut request, &log);
        request.extensions_mut().insert(RequestId(id.clone()));
        // Only a request with a body has one to limit (an insert saved for
        // most requests).
        if !http_body::Body::is_end_stream(request.body()) {
            request
                .extensions_mut()
                .insert(BodyLimit(self.shared.body_limit));
        }
        // The path is logged from the request line as sent; the route is
        // the matched pattern. (A `Uri` clone shares its bytes: no copy for
        // a line that is mostly not written.)
        let uri = request.uri().clone();
        // The service polled ready is called here, at once: its future
        // owns what it needs, so no clone of the route (a boxed service, an
        // allocation) is kept for the next request. The route's work (and
        // its log lines) happens when its future is polled, in the span or
        // log scope; calling it only makes the future.
        let scoped = log.scope.is_some();
        let routed = match refused {
            None => Ok(self.inner.call(request).instrument(log.span)),
            Some(refusal) => Err(refusal),
        };
        let shared = self.shared.clone();
        Box::pin(async move {
            let mut response = match routed {
                Ok(routed) => {
                    // The scope is made again from the id at each poll (a
                    // copy of a few bytes) rather than kept in this future:
                    // 66 bytes more to move with it cost more (callgrind).
                    let mut routed = std::pin::pin!(routed);
                    let answered = std::future::poll_fn(|cx| {
                        let scope = RequestScope::new(&id).filter(|_| scoped);
                        log_scope::in_scope(scope, || routed.as_mut().poll(cx))
                    });
                    match answered.await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                }
                Err(refusal) => refusal,
            };
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                response = explain_405(&method, response);
            }
            // Room for the headers added below and by the edge (length,
            // HSTS) at once, rather than a second growth of the map.
            response.headers_mut().reserve(8);
            if let header::Entry::Occupied(mut entry) =
                response.headers_mut().entry(header::SET_COOKIE)
            {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
            }
            hardening_headers(response.headers_mut());
            if let Some(value) = id_header {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            let status = response.status().as_u16();
            let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
            shared
                .tessera
                .metrics()
                .record_request(route, &method, status);
            access_log(&id, &method, uri.path(), route, status, started.elapsed());
            Ok(response)
        })
    }
}

/// What names a request in the lines logged while it is answered (as
/// `"span":{"request_id":"…","name":"request"}` in a JSON line): its log
/// scope with the JSON lines, which costs a request nothing until something
/// logs ([`tessera_core::log_scope`]); else (the text lines, or a
/// subscriber other than the server's) a `tracing` span.
pub(crate) struct RequestLog {
    scope: Option<RequestScope>,
    span: tracing::Span,
}

impl RequestLog {
    fn new(id: &str) -> Self {
        match RequestScope::new(id).filter(|_| request_scopes()) {
            Some(scope) => Self {
                scope: Some(scope),
                span: tracing::Span::none(),
            },
            None => Self {
                scope: None,
                // A `&str` field, recorded as such (`%id` would format it
                // first).
                span: tracing::info_span!("request", request_id = id),
            },
        }
    }

    /// Runs `f` in the request's scope or span.
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        log_scope::in_scope(self.scope, || self.span.in_scope(f))
    }
}

/// The contract's body for the router's bare `405` (DRF's
/// `Method "X" not allowed.`), keeping the response's headers (`Allow`, and
/// CORS's when it is on). A `405` that already has a body (a view's own) is
/// left alone.
pub(crate) fn explain_405(method: &Method, response: Response) -> Response {
    if response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut explained = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        // Methods are tokens (no quotes or controls), safe to echo.
        format!("Method \"{}\" not allowed.", method.as_str()),
    )
    .into_response();
    let headers = explained.headers_mut();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && !headers.contains_key(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    explained
}

/// The headers every response gets: `X-Frame-Options: DENY`,
/// `Referrer-Policy: same-origin` and `X-Content-Type-Options: nosniff`
/// always (replacing a route's own); `Content-Security-Policy: default-src
/// 'none'; frame-ancestors 'none'` (API responses load nothing and may not be
/// framed, SECURITY H5; the login page sets its own policy) and
/// `Cache-Control: no-store` unless the route set its own.
pub(crate) fn hardening_headers(headers: &mut http::HeaderMap) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
