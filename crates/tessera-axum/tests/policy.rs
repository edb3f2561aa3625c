//! Route policies over HTTP: DRF's order and status rules, object-level
//! permissions, extractors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::any::Any;
use tessera_axum::{
    ApiError, AuthUser, Authenticator, Caller, Policy, PolicyContext, Settings, Tessera,
};
use tessera_core::password::{hash_now, Argon2Params, PasswordHasher};
use tessera_core::permission::{IsAuthenticated, IsStaff, Permission, RequestInfo};
use tessera_core::secret::Secret;
use tessera_core::token::{NewToken, TokenKey};
use tessera_core::user::NewUser;
use tessera_core::{permission_ops, Identity, User};
use tessera_store_sql::SqlStore;
use tower::ServiceExt;

struct Fixture {
    tessera: Tessera,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let params = Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let hasher = PasswordHasher::new(params, 1, 8).unwrap();
    let tessera = Tessera::builder()
        .store(store)
        .hasher(hasher)
        .settings(Settings::default())
        .build()
        .unwrap();
    Fixture { tessera, _dir: dir }
}

impl Fixture {
    async fn user(&self, name: &str, staff: bool) -> (User, String) {
        let params = Argon2Params {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let now = self.tessera.clock().now();
        let user = self
            .tessera
            .stores()
            .users
            .create_user(NewUser {
                username: name.into(),
                email: String::new(),
                password_hash: hash_now(&params, &Secret::new("pw")).unwrap(),
                is_active: true,
                is_staff: staff,
                is_superuser: false,
                date_joined: now,
            })
            .await
            .unwrap();
        let key = self.key(&user, &[]).await;
        (user, key)
    }

    /// A key for `user` with `scopes` (none: the owner's full rights).
    async fn key(&self, user: &User, scopes: &[&str]) -> String {
        let key = TokenKey::generate();
        let new = NewToken {
            user_id: user.id,
            digest: key.digest(),
            name: "t".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created: self.tessera.clock().now(),
            expires: None,
            authenticated_at: None,
        };
        self.tessera
            .stores()
            .tokens
            .create_token(new, None)
            .await
            .unwrap();
        key.expose().to_owned()
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Token {key}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, challenge, body)
}

/// A note owned by a user: the app object of the object-level checks.
struct Note {
    owner: i64,
    text: &'static str,
}

fn note(id: i64) -> Option<Note> {
    match id {
        1 => Some(Note {
            owner: 1,
            text: "alice's",
        }),
        2 => Some(Note {
            owner: 2,
            text: "bob's",
        }),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct IsOwner;

impl Permission for IsOwner {
    fn has_permission(&self, _: &RequestInfo, identity: &Identity) -> bool {
        identity.is_authenticated()
    }
    fn has_object_permission(
        &self,
        _: &RequestInfo,
        identity: &Identity,
        object: &dyn Any,
    ) -> bool {
        match (identity.user(), object.downcast_ref::<Note>()) {
            (Some(user), Some(note)) => note.owner == user.id,
            _ => false,
        }
    }
}
permission_ops!(IsOwner);

async fn show_note(
    Path(id): Path<i64>,
    Caller(identity): Caller,
    ctx: PolicyContext,
) -> Result<Json<Value>, ApiError> {
    let note = note(id).ok_or_else(ApiError::not_found)?;
    ctx.check_object(&RequestInfo::new(Method::GET), &identity, &note)?;
    Ok(Json(json!({"text": note.text})))
}

#[tokio::test]
async fn object_permissions_compose_without_drfs_or_bug() {
    let f = fixture().await;
    let (_alice, alice_key) = f.user("alice", false).await;
    let (_bob, bob_key) = f.user("bob", false).await;
    let (_boss, boss_key) = f.user("boss", true).await;
    // IsStaff has no object-level check of its own; DRF's old OR let any
    // authenticated non-owner read every note through it (DRF #7117).
    let policy = Policy::new().permission(IsStaff | IsOwner);
    let app = Router::new().route(
        "/notes/{id}",
        get(show_note).layer(policy.layer(&f.tessera)),
    );
    assert_eq!(
        call(&app, Method::GET, "/notes/1", Some(&alice_key))
            .await
            .2,
        json!({"text": "alice's"})
    );
    let (status, _, body) = call(&app, Method::GET, "/notes/2", Some(&alice_key)).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"detail": "You do not have permission to perform this action.", "code": "permission_denied"})
    );
    assert_eq!(
        call(&app, Method::GET, "/notes/2", Some(&bob_key)).await.0,
        200
    );
    assert_eq!(
        call(&app, Method::GET, "/notes/1", Some(&boss_key)).await.0,
        200
    );
    let (status, challenge, body) = call(&app, Method::GET, "/notes/1", None).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Token"));
    assert_eq!(body["code"], "not_authenticated");
}

async fn hello(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"user": me.user.username}))
}

#[tokio::test]
async fn a_route_without_authenticators_refuses_with_403() {
    // DRF: no authenticators means no challenge to give, so PermissionDenied.
    let f = fixture().await;
    let policy = Policy::new().authenticators([]).permission(IsAuthenticated);
    let app = Router::new().route("/x", get(hello).layer(policy.layer(&f.tessera)));
    let (status, challenge, body) = call(&app, Method::GET, "/x", None).await;
    assert_eq!(status, 403);
    assert_eq!(challenge, None);
    assert_eq!(
        body,
        json!({"detail": "You do not have permission to perform this action.", "code": "permission_denied"})
    );
}

#[tokio::test]
async fn auth_user_on_an_open_route_refuses_the_anonymous_like_the_policy() {
    let f = fixture().await;
    let (_alice, key) = f.user("alice", false).await;
    let app = Router::new().route(
        "/x",
        get(hello).layer(
            Policy::allow_any()
                .authenticators([Authenticator::Token])
                .layer(&f.tessera),
        ),
    );
    assert_eq!(
        call(&app, Method::GET, "/x", Some(&key)).await.2,
        json!({"user": "alice"})
    );
    let (status, challenge, body) = call(&app, Method::GET, "/x", None).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Token"));
    assert_eq!(
        body["detail"],
        "Authentication credentials were not provided."
    );
}

#[tokio::test]
async fn a_route_that_declares_nothing_is_closed() {
    let f = fixture().await;
    let app = Router::new().route("/x", get(hello).layer(Policy::new().layer(&f.tessera)));
    assert_eq!(call(&app, Method::GET, "/x", None).await.0, 401);
}

#[tokio::test]
async fn extractors_without_the_layer_are_a_500_not_a_panic() {
    let app = Router::new().route("/x", get(hello));
    let (status, _, body) = call(&app, Method::GET, "/x", None).await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        json!({"detail": "A server error occurred.", "code": "error"})
    );
}

#[tokio::test]
async fn a_route_declares_its_scope_on_its_policy() {
    let f = fixture().await;
    let t = &f.tessera;
    let ok = || async { Json(json!({"ok": true})) };
    let app = Router::new()
        .route(
            "/notes",
            get(ok)
                .post(ok)
                .layer(Policy::new().scopes("notes:read", "notes:write").layer(t)),
        )
        .route(
            "/export",
            get(ok).layer(Policy::new().scope("notes:export").layer(t)),
        )
        .route(
            "/purge",
            get(ok).delete(ok).layer(
                Policy::new()
                    .method_scope(Method::DELETE, "notes:purge")
                    .layer(t),
            ),
        )
        .route(
            "/typo",
            get(ok).layer(Policy::new().scope("Notes Write").layer(t)),
        );
    let (alice, full) = f.user("alice", false).await;
    let read = f.key(&alice, &["notes:read"]).await;
    let write = f.key(&alice, &["notes:write"]).await;
    let refused = |scope: &str| {
        (
            StatusCode::FORBIDDEN,
            None,
            json!({"detail": format!("Token scope \"{scope}\" required."), "code": "permission_denied"}),
        )
    };
    let allowed = (StatusCode::OK, None, json!({"ok": true}));
    assert_eq!(
        call(&app, Method::GET, "/notes", Some(&read)).await,
        allowed
    );
    assert_eq!(
        call(&app, Method::POST, "/notes", Some(&read)).await,
        refused("notes:write")
    );
    assert_eq!(
        call(&app, Method::POST, "/notes", Some(&write)).await,
        allowed
    );
    assert_eq!(
        call(&app, Method::GET, "/notes", Some(&write)).await,
        refused("notes:read")
    );
    assert_eq!(
        call(&app, Method::GET, "/export", Some(&read)).await,
        refused("notes:export")
    );
    assert_eq!(
        call(&app, Method::GET, "/purge", Some(&read)).await,
        allowed
    );
    assert_eq!(
        call(&app, Method::DELETE, "/purge", Some(&read)).await,
        refused("notes:purge")
    );
    // A name no token can hold fails closed for every scoped token.
    assert_eq!(
        call(&app, Method::GET, "/typo", Some(&read)).await,
        refused("Notes Write")
    );
    // A token without scopes carries its owner's full rights.
    for (method, path) in [
        (Method::GET, "/notes"),
        (Method::POST, "/notes"),
        (Method::GET, "/export"),
        (Method::DELETE, "/purge"),
        (Method::GET, "/typo"),
    ] {
        assert_eq!(
            call(&app, method, path, Some(&full)).await,
            allowed,
            "{path}"
        );
    }
    // The anonymous are refused by the permission first, as DRF: 401.
    let (status, challenge, _) = call(&app, Method::GET, "/notes", None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Token"))
    );
}
