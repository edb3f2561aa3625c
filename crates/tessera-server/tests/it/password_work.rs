//! Timing parity counted as work (Django's `test_authentication_timing`): on
//! every endpoint that checks a password, every failure runs exactly one
//! argon2id computation at the configured parameters, counted inside the
//! hashing code, whatever the account holds.

use crate::support::TestApp;
use serde_json::{json, Value};
use tessera_axum::accounts::{issue_token, TokenRequest};
use tessera_axum::audit::RequestMeta;
use tessera_core::audit::EventKind;
use tessera_core::user::UserUpdate;
use tessera_core::User;

const FAILED: &str = "Unable to log in with provided credentials.";

/// Users whose password can never match: an unusable hash (Django's
/// `set_unusable_password`) and a hash of a format Tessera does not know.
async fn users_without_usable_hashes(app: &TestApp) -> (User, User) {
    let users = &app.state.tessera.stores().users;
    let mut made = Vec::new();
    for (name, hash) in [
        ("dora", "!Kq3xUQ2bqPnVn2CPd4wtIxgGJfKcKvhk9d2jFm1e"),
        ("erin", "md5$seasalt$1b2ad3f6c2cbe8dd6cf9eb6b8f6e2d4c"),
    ] {
        let user = app.user(name, "s3cret-pass").await;
        let update = UserUpdate {
            password_hash: Some(hash.to_owned()),
            ..UserUpdate::default()
        };
        users.update_user(user.id, update).await.unwrap();
        made.push(user);
    }
    let erin = made.pop().unwrap();
    (made.pop().unwrap(), erin)
}

/// A key for `user` that counts as recently authenticated.
async fn recent_key(app: &TestApp, user: &User) -> String {
    let now = app.state.tessera.clock().now();
    let request = TokenRequest {
        name: "recent".into(),
        scopes: vec![],
        lifetime: None,
        authenticated_at: Some(now),
    };
    let event = RequestMeta::default().user_event(
        now,
        EventKind::TokenCreated,
        user,
        json!({"name": "recent"}),
    );
    let (key, _) = issue_token(&app.state.tessera, user, request, event)
        .await
        .unwrap();
    key.expose().to_owned()
}

#[tokio::test]
async fn every_login_failure_runs_exactly_one_argon2id_at_the_configured_parameters() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    app.user_with("carol", "s3cret-pass", false, false).await;
    users_without_usable_hashes(&app).await;
    let hasher = app.state.tessera.hasher().clone();
    let cases = [
        ("unknown user", "nobody", "s3cret-pass"),
        ("wrong password", "alice", "wrong"),
        ("unusable hash", "dora", "s3cret-pass"),
        ("unknown hash format", "erin", "s3cret-pass"),
        ("inactive user", "carol", "s3cret-pass"),
    ];
    for (case, username, password) in cases {
        let body = json!({"username": username, "password": password});
        let before = hasher.argon2_runs();
        let reply = app.post_json("/api-token-auth/", None, body).await;
        assert_eq!(hasher.argon2_runs() - before, 1, "api-token-auth: {case}");
        assert_eq!(reply.status, 400, "{case}");
        assert_eq!(
            reply.json(),
            json!({"non_field_errors": [FAILED]}),
            "{case}"
        );

        let before = hasher.argon2_runs();
        let (_, reply) = crate::sessions::login(&app, username, password).await;
        assert_eq!(hasher.argon2_runs() - before, 1, "login: {case}");
        assert_eq!(reply.status, 400, "{case}");
        assert_eq!(
            reply.json(),
            json!({"non_field_errors": [FAILED]}),
            "{case}"
        );
    }
    // A success is one too (no re-hash: the stored hash is current).
    let before = hasher.argon2_runs();
    let ok = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(hasher.argon2_runs() - before, 1);
}

#[tokio::test]
async fn every_failed_password_check_of_a_signed_in_user_runs_exactly_one_argon2id() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let (dora, erin) = users_without_usable_hashes(&app).await;
    let hasher = app.state.tessera.hasher().clone();
    for (case, user, password) in [
        ("wrong password", &alice, "wrong"),
        ("unusable hash", &dora, "s3cret-pass"),
        ("unknown hash format", &erin, "s3cret-pass"),
    ] {
        let key = recent_key(&app, user).await;
        let before = hasher.argon2_runs();
        let reply = app
            .post_json("/auth/reauth", Some(&key), json!({"password": password}))
            .await;
        assert_eq!(hasher.argon2_runs() - before, 1, "reauth: {case}");
        assert_eq!(reply.status, 400, "{case}");

        let before = hasher.argon2_runs();
        let body = json!({"old_password": password, "new_password": "n3w-pass-word"});
        let reply = app.post_json("/auth/password", Some(&key), body).await;
        assert_eq!(hasher.argon2_runs() - before, 1, "password: {case}");
        assert_eq!(reply.status, 400, "{case}");
        assert_eq!(
            reply.json()["old_password"],
            Value::from(vec![
                "Your old password was entered incorrectly. Please enter it again."
            ]),
            "{case}"
        );
    }
}
