//! `GET /auth/me`.

use crate::openapi::{op, Auth, Returns, Routes, Shape};
use axum::http::Method;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tessera_axum::{AuthUser, Policy, Tessera};

pub(super) fn routes(tessera: &Tessera) -> Routes {
    Routes::new().guarded(
        tessera,
        "/auth/me",
        vec![op(
            Method::GET,
            "The signed-in user and how they authenticated",
            Auth::Default,
            &[],
            &[200, 401, 403],
        )
        .returns(Returns::Json(Shape::Me))],
        Policy::new(),
        get(me),
    )
}

async fn me(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"user": me.user, "auth": me.credential.kind()}))
}
