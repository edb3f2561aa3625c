//! The seed's example views, written with `tessera-axum`: each is a DRF
//! `APIView` with its `authentication_classes` and `permission_classes`, here a
//! [`Policy`] on an axum route.
//!
//! Run them on their own with `cargo run -p seed-views` (SQLite in a
//! temporary directory; see `src/main.rs`), or as part of the `tessera`
//! server, which serves them under `/api/` unless `demo.enabled = false`.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use tessera_axum::body::JsonObject;
use tessera_axum::{AuthUser, Authenticator, Caller, Policy, Tessera};
use tessera_core::permission::{AllowAny, HasGroup, IsAuthenticated, IsStaff};
use tessera_core::scope;

/// `ExampleView`'s answer to `GET`. A struct rather than `json!`: the
/// body is written straight from it, with no map built first (the keys in
/// the order `json!` sorted them).
#[derive(Debug, Serialize)]
struct WhoCalls<'a> {
    auth: &'a str,
    user: &'a str,
}

/// A public view's answer: the caller's username, `null` when anonymous.
#[derive(Debug, Serialize)]
struct MaybeNamed<'a> {
    user: Option<&'a str>,
}

/// `ExampleView` (GET): who is calling and how.
pub async fn example_get(AuthUser(me): AuthUser) -> Response {
    Json(WhoCalls {
        auth: me.credential.kind(),
        user: &me.user.username,
    })
    .into_response()
}

/// `ExampleView` (POST): echoes the body.
pub async fn example_post(AuthUser(me): AuthUser, JsonObject(body): JsonObject) -> Json<Value> {
    Json(json!({"user": me.user.username, "received": body}))
}

/// `SecureAPIView`.
pub async fn secure() -> Json<Value> {
    Json(json!({"message": "Hello, secure world!"}))
}

/// `ProtectedView`.
pub async fn protected() -> Json<Value> {
    Json(json!({"message": "This is a protected endpoint"}))
}

/// `SessionView`: only a session authenticates here.
pub async fn session_only() -> Json<Value> {
    Json(json!({"message": "You are authenticated through session!"}))
}

/// A public view that still says who is calling.
pub async fn public(Caller(identity): Caller) -> Response {
    Json(MaybeNamed {
        user: identity.user().map(|u| u.username.as_str()),
    })
    .into_response()
}

/// A staff-only view.
pub async fn staff() -> Json<Value> {
    Json(json!({"message": "Hello, staff."}))
}

/// A view for the members of the `editors` group (Django's groups, carried
/// over by `tessera import-django`): anonymous `401`, anyone else `403`.
pub async fn editors(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"message": "Hello, editor.", "groups": me.user.groups}))
}

/// The views, under `/api/`. `both` is the authenticator list of the views
/// that accept either scheme (the server's default).
///
/// They are application routes: a scoped token needs `read` to call them
/// with a safe method and `write` for the others (a token without scopes, or
/// a session, may do both).
pub fn router<S: Clone + Send + Sync + 'static>(
    tessera: &Tessera,
    both: &[Authenticator],
) -> Router<S> {
    let app = Policy::new().scopes(scope::READ, scope::WRITE);
    let both = app.clone().authenticators(both.iter().cloned());
    let token_only = app
        .clone()
        .authenticators([Authenticator::Token])
        .permission(IsAuthenticated);
    // Only a session: an anonymous request is refused with 403, as DRF does
    // when the first authenticator offers no `WWW-Authenticate` challenge.
    let session_only_policy = app
        .authenticators([Authenticator::Session])
        .permission(IsAuthenticated);
    Router::new()
        .route(
            "/api/example/",
            get(example_get)
                .post(example_post)
                .layer(both.clone().permission(IsAuthenticated).layer(tessera)),
        )
        .route("/api/secure/", get(secure).layer(token_only.layer(tessera)))
        .route(
            "/api/protected/",
            get(protected).layer(token_only.layer(tessera)),
        )
        .route(
            "/api/session/",
            get(session_only).layer(session_only_policy.layer(tessera)),
        )
        .route(
            "/api/public/",
            get(public).layer(both.clone().permission(AllowAny).layer(tessera)),
        )
        .route(
            "/api/staff/",
            get(staff).layer(both.clone().permission(IsStaff).layer(tessera)),
        )
        .route(
            "/api/editors/",
            get(editors).layer(both.permission(HasGroup::new("editors")).layer(tessera)),
        )
}
