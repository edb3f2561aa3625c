//! Token lifecycle and account security: named and scoped tokens, rotation,
//! re-authentication, password change, registration, coalesced writes.

use crate::support::{raw, Reply, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) async fn obtain(app: &TestApp, username: &str, password: &str) -> String {
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["token"].as_str().unwrap().to_owned()
}

async fn delete(app: &TestApp, path: &str, key: &str) -> Reply {
    let auth = format!("Token {key}");
    let headers: &[(&str, &[u8])] = &[("authorization", auth.as_bytes())];
    app.send(raw(Method::DELETE, path, headers, Body::empty()))
        .await
}

const REAUTH: &str = "Recent authentication required: confirm your password at /auth/reauth.";

#[tokio::test]
async fn tokens_are_named_listed_without_keys_and_revoked() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let key = obtain(&app, "alice", "s3cret-pass").await;
    let reply = app
        .post_json(
            "/auth/tokens",
            Some(&key),
            json!({"name": "ci", "expires_in": 3600, "scopes": ["notes:read", "notes:read"]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let created = reply.json();
    let new_key = created["token"].as_str().unwrap().to_owned();
    assert!(tessera_core::token::TokenKey::parse(&new_key).is_some());
    assert_eq!(created["name"], "ci");
    assert_eq!(created["scopes"], json!(["notes:read"]));
    assert_eq!(created["created"], "2026-01-01T00:00:00Z");
    assert_eq!(created["expires"], "2026-01-01T01:00:00Z");
    assert_eq!(created["last_used"], Value::Null);
    assert_eq!(created["current"], false);
    let list = app.get("/auth/tokens", Some(&key)).await;
    assert_eq!(list.status, 200);
    let rows = list.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        !String::from_utf8_lossy(&list.body).contains(&new_key)
            && !String::from_utf8_lossy(&list.body).contains(&key)
    );
    for row in rows {
        let mut keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created",
                "current",
                "expires",
                "id",
                "last_used",
                "name",
                "scopes"
            ]
        );
    }
    assert_eq!(rows[0]["name"], "api-token-auth");
    assert_eq!(rows[0]["current"], true);
    assert_eq!(
        rows[0]["expires"], "2026-04-01T00:00:00Z",
        "the 90-day default"
    );
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        delete(&app, &format!("/auth/tokens/{id}"), &key)
            .await
            .status,
        204
    );
    app.get("/auth/me", Some(&new_key)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    delete(&app, &format!("/auth/tokens/{id}"), &key)
        .await
        .assert_error(404, "not_found", "Not found.");
}

#[tokio::test]
async fn token_creation_validates_its_fields() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let key = obtain(&app, "alice", "s3cret-pass").await;
    let reply = app.post_json("/auth/tokens", Some(&key), json!({})).await;
    assert_eq!(reply.json(), json!({"name": ["This field is required."]}));
    let reply = app
        .post_json(
            "/auth/tokens",
            Some(&key),
            json!({"name": "x", "expires_in": 0, "scopes": "all"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({
            "expires_in": ["Ensure this value is greater than or equal to 1."],
            "scopes": ["Expected a list of items but got type \"str\"."],
        })
    );
    let reply = app
        .post_json(
            "/auth/tokens",
            Some(&key),
            json!({"name": "x", "expires_in": "soon", "scopes": [1]}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({
            "expires_in": ["A valid integer is required."],
            "scopes": ["Each scope must be 1-64 characters of a-z, 0-9, ':', '.', '_' and '-'."],
        })
    );
    // A lifetime past 100 years is refused, never a date overflow (a 500).
    for huge in [
        json!(3_155_760_001_u64),
        json!(9_223_372_036_854_775_808_u64),
    ] {
        let reply = app
            .post_json(
                "/auth/tokens",
                Some(&key),
                json!({"name": "x", "expires_in": huge}),
            )
            .await;
        assert_eq!(reply.status, 400, "{huge}");
        assert_eq!(
            reply.json(),
            json!({"expires_in": ["Ensure this value is less than or equal to 3155760000."]})
        );
    }
    let longest = app
        .post_json(
            "/auth/tokens",
            Some(&key),
            json!({"name": "x", "expires_in": 3_155_760_000_u64}),
        )
        .await;
    assert_eq!(longest.status, 201);
    // Mass assignment of an owner is ignored: the token is the caller's.
    let bob = app.user("bob", "s3cret-pass").await;
    let reply = app
        .post_json(
            "/auth/tokens",
            Some(&key),
            json!({"name": "x", "user": bob.id}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let bobs = app.token(&bob).await;
    assert_eq!(
        app.get("/auth/tokens", Some(&bobs))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn another_users_token_is_404_and_staff_manage_anyones() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let boss = app.staff("boss", "s3cret-pass").await;
    let alice_key = app.token(&alice).await;
    let boss_key = app.recent_token(&boss).await;
    let alice_id = app.get("/auth/tokens", Some(&alice_key)).await.json()[0]["id"]
        .as_i64()
        .unwrap();
    delete(&app, &format!("/auth/tokens/{alice_id}"), &boss_key)
        .await
        .assert_error(404, "not_found", "Not found.");
    assert_eq!(app.get("/auth/me", Some(&alice_key)).await.status, 200);
    let listed = app
        .get(
            &format!("/admin/users/{}/tokens", alice.id),
            Some(&boss_key),
        )
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()[0]["id"], alice_id);
    assert_eq!(listed.json()[0]["current"], false);
    app.get(
        &format!("/admin/users/{}/tokens", alice.id),
        Some(&alice_key),
    )
    .await
    .assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    app.get("/admin/users/4242/tokens", Some(&boss_key))
        .await
        .assert_error(404, "not_found", "Not found.");
    assert_eq!(
        delete(&app, &format!("/admin/tokens/{alice_id}"), &boss_key)
            .await
            .status,
        204
    );
    app.get("/auth/me", Some(&alice_key)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    delete(&app, &format!("/admin/tokens/{alice_id}"), &boss_key)
        .await
        .assert_error(404, "not_found", "Not found.");
}

#[tokio::test]
async fn the_per_user_cap_applies_to_created_tokens() {
    let app = TestApp::with_config(|c| c.tokens.max_per_user = 2).await;
    app.user("alice", "s3cret-pass").await;
    let key = obtain(&app, "alice", "s3cret-pass").await;
    assert_eq!(
        app.post_json("/auth/tokens", Some(&key), json!({"name": "a"}))
            .await
            .status,
        201
    );
    let reply = app
        .post_json("/auth/tokens", Some(&key), json!({"name": "b"}))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"non_field_errors": ["Token limit reached: revoke one of your tokens before creating another."]})
    );
}

#[tokio::test]
async fn tokens_may_be_made_without_expiry_when_configured() {
    let app = TestApp::with_config(|c| {
        c.tokens.default_lifetime = tessera_server::config::Lifetime(None)
    })
    .await;
    app.user("alice", "s3cret-pass").await;
    let key = obtain(&app, "alice", "s3cret-pass").await;
    let reply = app
        .post_json("/auth/tokens", Some(&key), json!({"name": "forever"}))
        .await;
    assert_eq!(reply.json()["expires"], Value::Null);
    app.clock.advance(Duration::from_secs(3650 * 86_400));
    assert_eq!(app.get("/auth/me", Some(&key)).await.status, 200);
}

#[tokio::test]
async fn creating_a_token_needs_recent_authentication() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let obtained = obtain(&app, "alice", "s3cret-pass").await;
    // A key made by POST /auth/tokens has not proved the password.
    let made = app
        .post_json("/auth/tokens", Some(&obtained), json!({"name": "m"}))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json("/auth/tokens", Some(&made), json!({"name": "n"}))
        .await
        .assert_error(403, "reauthentication_required", REAUTH);
    // The obtained key's proof lasts the window (10 minutes).
    app.clock.advance(Duration::from_secs(599));
    assert_eq!(
        app.post_json("/auth/tokens", Some(&obtained), json!({"name": "o"}))
            .await
            .status,
        201
    );
    app.clock.advance(Duration::from_secs(1));
    app.post_json("/auth/tokens", Some(&obtained), json!({"name": "p"}))
        .await
        .assert_error(403, "reauthentication_required", REAUTH);
    // Re-authentication renews it, for that credential only.
    let wrong = app
        .post_json("/auth/reauth", Some(&made), json!({"password": "nope"}))
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.json(),
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
    let reply = app
        .post_json(
            "/auth/reauth",
            Some(&made),
            json!({"password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        app.post_json("/auth/tokens", Some(&made), json!({"name": "q"}))
            .await
            .status,
        201
    );
    app.post_json("/auth/tokens", Some(&obtained), json!({"name": "r"}))
        .await
        .assert_error(403, "reauthentication_required", REAUTH);
    app.post_json("/auth/reauth", Some(&made), json!({})).await;
    let missing = app.post_json("/auth/reauth", Some(&made), json!({})).await;
    assert_eq!(
        missing.json(),
        json!({"password": ["This field is required."]})
    );
}

#[tokio::test]
async fn rotation_issues_a_new_key_and_retires_the_old_after_the_grace_period() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let old = obtain(&app, "alice", "s3cret-pass").await;
    let scoped = app
        .post_json(
            "/auth/tokens",
            Some(&old),
            json!({"name": "deploy", "scopes": ["deploy", "read"], "expires_in": 86_400}),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::from_secs(3600));
    let reply = app
        .post_json("/auth/tokens/rotate", Some(&scoped), json!({}))
        .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body.as_object().unwrap().len(), 1);
    let new = body["token"].as_str().unwrap().to_owned();
    assert_ne!(new, scoped);
    let rows = app.get("/auth/tokens", Some(&new)).await.json();
    let current = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["name"], "deploy");
    assert_eq!(current["scopes"], json!(["deploy", "read"]));
    assert_eq!(current["created"], "2026-01-01T01:00:00Z");
    assert_eq!(
        current["expires"], "2026-01-02T00:00:00Z",
        "the old key's expiry: rotation never extends a life"
    );
    // The old key: 60 s of grace.
    app.clock.advance(Duration::from_secs(59));
    assert_eq!(app.get("/auth/me", Some(&scoped)).await.status, 200);
    app.clock.advance(Duration::from_secs(1));
    app.get("/auth/me", Some(&scoped)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    // That was reuse (token_rotation.rs): the new key is revoked with it.
    app.get("/auth/me", Some(&new)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    // Only a token can be rotated.
    let reply = app.post_json("/auth/tokens/rotate", None, json!({})).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
}

#[tokio::test]
async fn a_scoped_token_cannot_mint_broader_tokens() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let full = obtain(&app, "alice", "s3cret-pass").await;
    let read = app
        .post_json(
            "/auth/tokens",
            Some(&full),
            json!({"name": "r", "scopes": ["account", "read"]}),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json(
        "/auth/reauth",
        Some(&read),
        json!({"password": "s3cret-pass"}),
    )
    .await;
    for scopes in [json!(["write"]), json!([]), json!(["read", "write"])] {
        app.post_json(
            "/auth/tokens",
            Some(&read),
            json!({"name": "w", "scopes": scopes}),
        )
        .await
        .assert_error(
            403,
            "permission_denied",
            "A scoped token can only create tokens within its own scopes.",
        );
    }
    assert_eq!(
        app.post_json(
            "/auth/tokens",
            Some(&read),
            json!({"name": "r2", "scopes": ["read"]})
        )
        .await
        .status,
        201
    );
}

#[tokio::test]
async fn password_change_checks_the_old_one_and_ends_other_credentials() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let other = app.token(&alice).await;
    let current = obtain(&app, "alice", "s3cret-pass").await;
    let reply = app
        .post_json(
            "/auth/password",
            Some(&current),
            json!({"old_password": "wrong", "new_password": "n3w-pass-word"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"old_password": ["Your old password was entered incorrectly. Please enter it again."]})
    );
    let reply = app
        .post_json(
            "/auth/password",
            Some(&current),
            json!({"old_password": "s3cret-pass", "new_password": "qwertyuiop"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"new_password": ["This password is too common."]})
    );
    let reply = app
        .post_json("/auth/password", Some(&current), json!({}))
        .await;
    assert_eq!(
        reply.json(),
        json!({"old_password": ["This field is required."], "new_password": ["This field is required."]})
    );
    let reply = app
        .post_json(
            "/auth/password",
            Some(&current),
            json!({"old_password": "s3cret-pass", "new_password": "n3w-pass-word"}),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        app.get("/auth/me", Some(&current)).await.status,
        200,
        "the calling token survives"
    );
    app.get("/auth/me", Some(&other)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    let old = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(old.status, 400);
    obtain(&app, "alice", "n3w-pass-word").await;
}

#[tokio::test]
async fn password_change_needs_recent_authentication() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let made = app.token(&alice).await;
    app.post_json(
        "/auth/password",
        Some(&made),
        json!({"old_password": "s3cret-pass", "new_password": "n3w-pass-word"}),
    )
    .await
    .assert_error(403, "reauthentication_required", REAUTH);
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let app = TestApp::new().await;
    let reply = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "eve", "password": "a-fine-password"}),
        )
        .await;
    reply.assert_error(404, "not_found", "Not found.");
}

#[tokio::test]
async fn registration_creates_a_user_who_can_log_in() {
    let app = TestApp::with_config(|c| c.registration.enabled = true).await;
    let reply = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "eve", "password": "a-fine-password", "email": "eve@example.com"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let body = reply.json();
    assert_eq!(body["user"]["username"], "eve");
    assert_eq!(body["user"]["is_staff"], false);
    assert_eq!(body["user"]["email"], "eve@example.com");
    assert!(body.get("token").is_none());
    obtain(&app, "eve", "a-fine-password").await;
    let again = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "eve", "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(
        again.json(),
        json!({"username": ["A user with that username already exists."]})
    );
    // Every failing password rule at once, in Django's order.
    let weak = app
        .post_json("/auth/register", None, json!({"username": "xylophonist", "password": "xylophonist9", "email": "m@example.com"}))
        .await;
    assert_eq!(weak.status, 400);
    assert_eq!(
        weak.json(),
        json!({"password": ["The password is too similar to the username."]})
    );
    let weak = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "zed", "password": "1234"}),
        )
        .await;
    assert_eq!(
        weak.json(),
        json!({"password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]})
    );
    let long = "x".repeat(4097);
    let weak = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "zed", "password": long}),
        )
        .await;
    assert_eq!(
        weak.json(),
        json!({"password": ["This password is too long. It must contain at most 4096 bytes."]})
    );
    let bad = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "has space", "password": "a-fine-password", "email": "x"}),
        )
        .await;
    assert_eq!(
        bad.json(),
        json!({
            "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
            "email": ["Enter a valid email address."],
        })
    );
}

#[tokio::test]
async fn the_user_created_hook_gives_new_users_a_token() {
    let app = TestApp::with_config(|c| {
        c.registration.enabled = true;
        c.tokens.create_on_user_creation = true;
    })
    .await;
    let reply = app
        .post_json(
            "/auth/register",
            None,
            json!({"username": "eve", "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let key = reply.json()["token"].as_str().unwrap().to_owned();
    let me = app.get("/auth/me", Some(&key)).await;
    assert_eq!(me.json()["user"]["username"], "eve");
    let boss = app.staff("boss", "s3cret-pass").await;
    let boss_key = app.recent_token(&boss).await;
    let reply = app
        .post_json(
            "/admin/users",
            Some(&boss_key),
            json!({"username": "dan", "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let dan_key = reply.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/auth/me", Some(&dan_key)).await.json()["user"]["username"],
        "dan"
    );
}

#[tokio::test]
async fn a_thousand_requests_make_a_handful_of_last_used_writes() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let toucher = app.state.tessera.toucher().clone();
    let before = toucher.writes();
    for _ in 0..1000 {
        assert_eq!(app.get("/api/example/", Some(&key)).await.status, 200);
    }
    let writes = toucher.writes() - before;
    assert!(
        (1..=2).contains(&writes),
        "{writes} writes for 1000 requests"
    );
    // The write landed, off the request path.
    let mut last_used = Value::Null;
    for _ in 0..100 {
        last_used = app.get("/auth/tokens", Some(&key)).await.json()[0]["last_used"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(last_used, "2026-01-01T00:00:00Z");
    // A minute later, one more.
    app.clock.advance(Duration::from_secs(61));
    for _ in 0..100 {
        app.get("/api/example/", Some(&key)).await;
    }
    assert_eq!(toucher.writes() - before, writes + 1);
}

#[tokio::test]
async fn revoking_on_password_change_can_be_turned_off() {
    let app = TestApp::with_config(|c| c.password.revoke_on_change = false).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let other = app.token(&alice).await;
    let current = obtain(&app, "alice", "s3cret-pass").await;
    let reply = app
        .post_json(
            "/auth/password",
            Some(&current),
            json!({"old_password": "s3cret-pass", "new_password": "n3w-pass-word"}),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(app.get("/auth/me", Some(&other)).await.status, 200);
}
