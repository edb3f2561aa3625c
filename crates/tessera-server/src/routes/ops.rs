//! `/healthz` and `/readyz`.

use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_axum::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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
