//! `GET /auth/me`.

use crate::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_axum::{AuthUser, Policy, Tessera};

pub(super) fn routes(tessera: &Tessera) -> Router<AppState> {
    Router::new().route("/auth/me", get(me).layer(Policy::new().layer(tessera)))
}

async fn me(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"user": me.user, "auth": me.credential.kind()}))
}
