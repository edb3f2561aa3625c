//! The routes of API.md, and the contract's answers for unknown routes (404),
//! wrong methods (405 with `Allow`) and hardening headers on every response.

mod account;
mod admin;
mod events;
mod login_page;
mod me;
mod ops;
mod pagination;
mod session;
mod token_auth;
mod tokens;

use crate::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tessera_axum::body::BodyLimit;
use tessera_axum::ApiError;
use tower_http::set_header::SetResponseHeaderLayer;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let tessera = &state.tessera;
    let mut router = Router::new()
        .merge(token_auth::routes(tessera))
        .merge(me::routes(tessera))
        .merge(session::routes(tessera))
        .merge(tokens::routes(tessera))
        .merge(account::routes(tessera))
        .merge(admin::routes(tessera))
        .merge(ops::routes())
        // `/metrics` (observability.rs).
        .route(
            "/metrics",
            axum::routing::get(crate::observability::metrics),
        )
        .merge(login_page::routes());
    if state.config.demo.enabled {
        router = router.merge(seed_views::router(
            tessera,
            &tessera.settings().default_authenticators,
        ));
    }
    let router = router
        .fallback(not_found)
        .layer(middleware::from_fn(method_not_allowed))
        .layer(Extension(BodyLimit(state.config.limits.body_bytes)))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ));
    // Request ids, request logs and metrics (observability.rs).
    crate::observability::instrument(router, tessera).with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// axum answers a wrong method with an empty 405 and an `Allow` header; give it
/// DRF's body, keeping the header.
async fn method_not_allowed(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("Method \"{}\" not allowed.", method_name(&method)),
    );
    if let Some(allow) = allow {
        error = error.with_header(header::ALLOW, allow);
    }
    error.into_response()
}

fn method_name(method: &Method) -> String {
    // Methods are tokens (no quotes or controls), safe to echo.
    method.as_str().to_owned()
}
