//! `GET /auth/me`.

use super::{op, Entry, ViewAuth, ViewReturns, ViewShape};
use crate::{AuthUser, Policy};
use axum::http::Method;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

pub(super) fn entries(path: &'static str) -> Vec<Entry> {
    vec![Entry::guarded(
        path,
        vec![op(
            Method::GET,
            "The signed-in user and how they authenticated",
            ViewAuth::Default,
            &[],
            &[200, 401, 403],
        )
        .returns(ViewReturns::Json(ViewShape::Me))],
        Policy::new(),
        get(me),
    )]
}

async fn me(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"user": me.user, "auth": me.credential.kind()}))
}
