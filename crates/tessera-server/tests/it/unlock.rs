//! Unlocking a username: `POST /admin/users/{id}/unlock` and `tessera
//! unlock`, which reaches a running server through the database.

use crate::support::TestApp;
use crate::throttling::{events, from_peer, throttled};
use axum::http::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use tessera_core::audit::EventKind;
use tessera_core::user::UserUpdate;
use tessera_core::User;

const REAUTH: &str = "Recent authentication required: confirm your password at /auth/reauth.";

/// Five wrong passwords for `username` from one address: locked for 30 s.
async fn lock(app: &TestApp, username: &str) {
    let body = json!({"username": username, "password": "wrong"});
    for _ in 0..5 {
        let reply = from_peer(
            app,
            "198.51.100.7",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(body.clone()),
        )
        .await;
        assert_eq!(reply.status, 400);
    }
    throttled(&right_password(app, username).await, 30);
}

async fn right_password(app: &TestApp, username: &str) -> crate::support::Reply {
    let body = json!({"username": username, "password": "s3cret-pass"});
    from_peer(
        app,
        "192.0.2.1",
        Method::POST,
        "/api-token-auth/",
        &[],
        Some(body),
    )
    .await
}

/// A key obtained with the password: recently authenticated.
async fn obtained(app: &TestApp, username: &str) -> String {
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": username, "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    reply.json()["token"].as_str().unwrap().to_owned()
}

async fn make_superuser(app: &TestApp, user: &User) {
    let update = UserUpdate {
        is_superuser: Some(true),
        ..UserUpdate::default()
    };
    let users = &app.state.tessera.stores().users;
    users.update_user(user.id, update).await.unwrap();
}

fn unlock_path(user: &User) -> String {
    format!("/admin/users/{}/unlock", user.id)
}

#[tokio::test]
async fn staff_unlock_a_locked_username_and_the_right_password_logs_in_at_once() {
    let app = TestApp::new().await;
    let boss = app.staff("boss", "s3cret-pass").await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = obtained(&app, "boss").await;
    lock(&app, "alice").await;
    let reply = app
        .post_json(&unlock_path(&alice), Some(&key), json!({}))
        .await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    assert_eq!(right_password(&app, "alice").await.status, 200);
    let updated = events(&app, EventKind::UserUpdated).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["user"], alice.id);
    assert_eq!(updated[0]["username"], "alice");
    assert_eq!(
        updated[0]["detail"],
        json!({"action": "unlock", "by": boss.id})
    );
    assert_ne!(updated[0]["request_id"], Value::Null);
    // Nothing locked: 204 all the same, and audited.
    let reply = app
        .post_json(&unlock_path(&alice), Some(&key), json!({}))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(events(&app, EventKind::UserUpdated).await.len(), 2);
}

#[tokio::test]
async fn only_a_superuser_unlocks_staff_and_superusers() {
    let app = TestApp::new().await;
    app.staff("boss", "s3cret-pass").await;
    let root = app.staff("root", "s3cret-pass").await;
    make_superuser(&app, &root).await;
    let staff = app.staff("sam", "s3cret-pass").await;
    let boss_key = obtained(&app, "boss").await;
    let root_key = obtained(&app, "root").await;
    lock(&app, "root").await;
    lock(&app, "sam").await;
    for target in [&root, &staff] {
        app.post_json(&unlock_path(target), Some(&boss_key), json!({}))
            .await
            .assert_error(
                403,
                "permission_denied",
                "You do not have permission to perform this action.",
            );
    }
    // Nothing changed.
    throttled(&right_password(&app, "root").await, 30);
    throttled(&right_password(&app, "sam").await, 30);
    assert!(events(&app, EventKind::UserUpdated).await.is_empty());
    // A superuser may.
    let reply = app
        .post_json(&unlock_path(&staff), Some(&root_key), json!({}))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(right_password(&app, "sam").await.status, 200);
}

#[tokio::test]
async fn unlocking_needs_recent_authentication_and_staff() {
    let app = TestApp::new().await;
    let boss = app.staff("boss", "s3cret-pass").await;
    let alice = app.user("alice", "s3cret-pass").await;
    lock(&app, "alice").await;
    // A key made without the password is not recently authenticated.
    let stale = app.token(&boss).await;
    app.post_json(&unlock_path(&alice), Some(&stale), json!({}))
        .await
        .assert_error(403, "reauthentication_required", REAUTH);
    app.user("bob", "s3cret-pass").await;
    let bobs = obtained(&app, "bob").await;
    app.post_json(&unlock_path(&alice), Some(&bobs), json!({}))
        .await
        .assert_error(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        );
    app.post_json(&unlock_path(&alice), None, json!({}))
        .await
        .assert_error(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    throttled(&right_password(&app, "alice").await, 30);
    let key = obtained(&app, "boss").await;
    app.post_json("/admin/users/999999/unlock", Some(&key), json!({}))
        .await
        .assert_error(404, "not_found", "Not found.");
    let reply = app
        .post_json("/admin/users/nope/unlock", Some(&key), json!({}))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"id": ["A valid integer is required."]})
    );
    // A scoped token needs `admin` here, whatever its owner's rank.
    let boss = app.stored_user("boss").await;
    let read = app.token_with(&boss, &["read"], true).await;
    app.post_json(&unlock_path(&alice), Some(&read), json!({}))
        .await
        .assert_error(403, "permission_denied", "Token scope \"admin\" required.");
}

#[tokio::test]
async fn an_unlock_made_by_another_process_reaches_this_one() {
    // Two server processes on one database: each counts logins in its own
    // memory; the unlock goes through the database.
    let app = TestApp::new().await;
    app.staff("boss", "s3cret-pass").await;
    let alice = app.user("alice", "s3cret-pass").await;
    lock(&app, "alice").await;
    let store = tessera_server::open_store(&app.state.config).await.unwrap();
    let other = tessera_server::state(
        (*app.state.config).clone(),
        store,
        Arc::new(app.clock.clone()),
    )
    .unwrap();
    let other = TestApp {
        state: other,
        clock: app.clock.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let key = obtained(&other, "boss").await;
    let reply = other
        .post_json(&unlock_path(&alice), Some(&key), json!({}))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(right_password(&app, "alice").await.status, 200);
}

#[tokio::test]
async fn the_unlock_command_reaches_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let admin_key = crate::cli::superuser_with_token(dir.path(), "alice", "s3cret-pass");
    let server = crate::e2e::serve(dir.path(), &[]);
    let http = reqwest::Client::new();
    let login = |password: &'static str| {
        let http = http.clone();
        let url = server.url("/api-token-auth/");
        async move {
            http.post(url)
                .json(&json!({"username": "alice", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(login("wrong").await.status(), 400);
    }
    let refused = login("s3cret-pass").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "30");
    let out = crate::cli::tessera(dir.path())
        .args(["unlock", "alice"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Login protection cleared for user \"alice\"\n"
    );
    assert_eq!(login("s3cret-pass").await.status(), 200);
    let audit: Value = http
        .get(server.url("/admin/audit?event=user_updated"))
        .header("Authorization", format!("Token {admin_key}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["count"], 1);
    let event = &audit["results"][0];
    assert_eq!(event["username"], "alice");
    assert_eq!(event["detail"], json!({"action": "unlock", "via": "cli"}));
    assert_eq!(event["request_id"], Value::Null);
    // An unknown username is an error, in one line.
    let out = crate::cli::tessera(dir.path())
        .args(["unlock", "ghost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last(),
        Some("error: user \"ghost\" does not exist")
    );
}
