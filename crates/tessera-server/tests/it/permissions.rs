//! Permissions on the server's routes: DRF's 401-or-403 rule.

use crate::support::TestApp;
use serde_json::json;

#[tokio::test]
async fn staff_view_refuses_anonymous_with_401_and_non_staff_with_403() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let boss = app.staff("boss", "s3cret-pass").await;
    let reply = app.get("/api/staff/", None).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
    let reply = app.get("/api/staff/", Some(&app.token(&alice).await)).await;
    reply.assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    assert_eq!(reply.header("www-authenticate"), None);
    let reply = app.get("/api/staff/", Some(&app.token(&boss).await)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"message": "Hello, staff."}));
}

#[tokio::test]
async fn public_view_names_the_caller() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let reply = app
        .get("/api/public/", Some(&app.token(&alice).await))
        .await;
    assert_eq!(reply.json(), json!({"user": "alice"}));
    assert_eq!(
        app.get("/api/public/", None).await.json(),
        json!({"user": null})
    );
}

#[tokio::test]
async fn example_post_echoes_the_body() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let reply = app
        .post_json("/api/example/", Some(&key), json!({"a": [1, 2], "b": null}))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"user": "alice", "received": {"a": [1, 2], "b": null}})
    );
    let reply = app.post_json("/api/example/", None, json!({"a": 1})).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
}

#[tokio::test]
async fn me_returns_the_user_and_the_scheme() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let reply = app.get("/auth/me", Some(&app.token(&alice).await)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({
            "user": {
                "id": alice.id,
                "username": "alice",
                "email": "alice@example.com",
                "is_active": true,
                "is_staff": false,
                "is_superuser": false,
                "date_joined": "2026-01-01T00:00:00Z",
                "last_login": null,
            },
            "auth": "token",
        })
    );
    app.get("/auth/me", None).await.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
}

#[tokio::test]
async fn demo_views_can_be_disabled() {
    let app = TestApp::with_config(|c| c.demo.enabled = false).await;
    app.get("/api/public/", None)
        .await
        .assert_error(404, "not_found", "Not found.");
}
