//! `/healthz` and `/readyz`.

use crate::openapi::{op, Auth, Routes};
use crate::AppState;
use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tessera_axum::ApiError;

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
            )],
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
            )],
            get(readyz),
        )
        .route(
            "/metrics",
            vec![op(
                Method::GET,
                "Prometheus metrics",
                Auth::None,
                &[],
                &[200],
            )],
            get(crate::observability::metrics),
        )
}

/// 200 while the process runs.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when every store answers, else 503 with `Retry-After`.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.tessera.stores().health.ping().await?;
    Ok(Json(json!({"status": "ok"})))
}
