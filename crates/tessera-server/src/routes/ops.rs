//! `/healthz`, `/readyz` and `/metrics`.

use crate::openapi::{op, Auth, Returns, Routes, Shape};
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tessera_axum::{ApiError, Policy, Tessera};
use tessera_core::permission::IsStaff;
use tessera_core::scope;

pub(super) fn routes() -> Routes {
    Routes::new()
        .route(
            "/healthz",
            vec![op(
                Method::GET,
                "200 while the process runs",
                Auth::None,
                &[],
                &[200],
            )
            .returns(Returns::Json(Shape::Health))],
            get(healthz),
        )
        .route(
            "/readyz",
            vec![op(
                Method::GET,
                "200 when every store answers, else 503",
                Auth::None,
                &[],
                &[200, 503],
            )
            .returns(Returns::Json(Shape::Health))],
            get(readyz),
        )
}

/// `/metrics`: open on the admin listener and on a loopback bind without
/// one (`open`); elsewhere a staff credential (a scoped token needs the
/// `admin` scope) or `metrics.bearer_token` as `Authorization: Bearer`.
/// The bearer token is checked first, so that a scraper's `Bearer` header
/// never reaches the token authenticator (with `accept_bearer` it would be
/// refused as an unknown key).
pub(super) fn metrics_routes(tessera: &Tessera, open: bool, token: Option<Arc<str>>) -> Routes {
    if open {
        return Routes::new().route(
            "/metrics",
            vec![
                op(Method::GET, "Prometheus metrics", Auth::None, &[], &[200])
                    .returns(Returns::Text("text/plain")),
            ],
            get(crate::observability::metrics),
        );
    }
    let staff = Policy::new().permission(IsStaff);
    let bearer = middleware::from_fn_with_state(tessera.clone(), move |state, request, next| {
        metrics_bearer(token.clone(), state, request, next)
    });
    Routes::new().guarded_behind(
        tessera,
        "/metrics",
        vec![op(
            Method::GET,
            "Prometheus metrics (staff, or metrics.bearer_token)",
            Auth::Default,
            &[],
            &[200, 401, 403],
        )
        .scope(scope::ADMIN)
        .returns(Returns::Text("text/plain"))],
        staff,
        get(crate::observability::metrics),
        move |handler| handler.layer(bearer),
    )
}

/// Serves the metrics to a request bearing `metrics.bearer_token` (compared
/// in constant time); any other goes on to the staff policy.
async fn metrics_bearer(
    token: Option<Arc<str>>,
    State(tessera): State<Tessera>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(expected), Some(given)) = (token, bearer(request.headers())) {
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return crate::observability::metrics(State(tessera)).await;
        }
    }
    next.run(request).await
}

/// The credentials of `Authorization: Bearer <token>` (the scheme
/// case-insensitive, as RFC 9110 has it).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
        .filter(|c| !c.is_empty())
}

/// 200 while the process runs.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when every store answers within `server.readiness_timeout` and the
/// database accepts writes (a read-only database is not ready), with where
/// the counters are kept now (`"counters": "postgres"`), else 503 with
/// `Retry-After` and the contract's body, naming the first store that did
/// not (`"store": "database"`), so that a load balancer takes the process
/// out within that time of an outage, however long the store itself would
/// take to fail.
///
/// With `redis.url`, Redis is checked too. When it does not answer the
/// process still serves (its counters fall back to PostgreSQL's, or to its
/// memory on SQLite): 200 with `"counters"` naming the fallback and
/// `"redis": "unavailable"`.
async fn readyz(State(state): State<AppState>) -> Response {
    let timeout = state.config.server.readiness_timeout;
    let stores = state.tessera.stores();
    // One deadline for all: the answer comes within the timeout however
    // many stores there are.
    let deadline = tokio::time::Instant::now() + timeout;
    let mut probes = vec![("database", stores.health.clone())];
    if let Some(counters) = &state.counters.health {
        probes.push((state.counters.backend, counters.clone()));
    }
    let mut answers = Vec::with_capacity(probes.len());
    for (name, store) in probes {
        answers.push((name, tokio::time::timeout_at(deadline, store.ping()).await));
    }
    let redis_up = match &state.counters.redis {
        Some(redis) => {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            Some(redis.check(left).await)
        }
        None => None,
    };
    for (name, answer) in answers {
        let reason = match answer {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", timeout.as_millis()),
        };
        tracing::warn!(store = name, %reason, "not ready: a store did not answer");
        let unavailable = ApiError::unavailable();
        let mut response = (
            unavailable.status,
            Json(json!({"detail": unavailable.detail, "code": unavailable.code, "store": name})),
        )
            .into_response();
        for (header, value) in unavailable.headers {
            response.headers_mut().insert(header, value);
        }
        return response;
    }
    match (&state.counters.redis, redis_up) {
        (Some(redis), Some(false)) => {
            Json(json!({"status": "ok", "counters": redis.fallback_name(), "redis": "unavailable"}))
                .into_response()
        }
        (Some(redis), _) => {
            Json(json!({"status": "ok", "counters": redis.backend()})).into_response()
        }
        (None, _) => {
            Json(json!({"status": "ok", "counters": state.counters.backend})).into_response()
        }
    }
}
