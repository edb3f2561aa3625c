//! Least privilege: scopes on every route, the administration's rank rules,
//! and input that tries to write what it may not.

use crate::sessions::{login, request};
use crate::support::{Reply, TestApp};
use axum::http::Method;
use serde_json::{json, Value};

const FORBIDDEN: &str = "You do not have permission to perform this action.";
const REAUTH: &str = "Recent authentication required: confirm your password at /auth/reauth.";

#[track_caller]
fn assert_scope_refused(reply: &Reply, scope: &str) {
    reply.assert_error(
        403,
        "permission_denied",
        &format!("Token scope \"{scope}\" required."),
    );
}

#[tokio::test]
async fn a_read_scoped_token_reads_and_does_nothing_else_even_for_a_superuser() {
    let app = TestApp::new().await;
    let root = app.superuser("root", "root-pass-123").await;
    let alice = app.user("alice", "alice-pass-123").await;
    let read = app.token_with(&root, &["read"], true).await;

    let me = app.get("/auth/me", Some(&read)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["user"]["username"], "root");
    assert_eq!(app.get("/api/example/", Some(&read)).await.status, 200);
    assert_eq!(app.get("/auth/tokens", Some(&read)).await.status, 200);
    assert_eq!(app.get("/auth/sessions", Some(&read)).await.status, 200);

    let post = app
        .call(Method::POST, "/api/example/", &read, Some(json!({"a": 1})))
        .await;
    assert_scope_refused(&post, "write");
    let patch = app
        .call(
            Method::PATCH,
            &format!("/admin/users/{}", alice.id),
            &read,
            Some(json!({"is_staff": true})),
        )
        .await;
    assert_scope_refused(&patch, "admin");
    assert!(!app.stored_user("alice").await.is_staff, "nothing changed");
    assert_scope_refused(&app.get("/admin/users", Some(&read)).await, "admin");
    let mint = app
        .call(
            Method::POST,
            "/auth/tokens",
            &read,
            Some(json!({"name": "more"})),
        )
        .await;
    assert_scope_refused(&mint, "account");
    for (method, path) in [
        (Method::POST, "/auth/logout-all"),
        (Method::POST, "/auth/reauth"),
        (Method::POST, "/auth/password"),
        (Method::DELETE, "/auth/tokens/1"),
        (Method::DELETE, "/auth/sessions/1"),
    ] {
        let reply = app.call(method, path, &read, Some(json!({}))).await;
        assert_scope_refused(&reply, "account");
    }
    // The refusal is audited as a permission denial of that user.
    let denied = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.event.as_str() == "permission_denied")
        .count();
    assert!(denied >= 9, "{denied}");
    // What needs no scope: ending its own life.
    let out = app.call(Method::POST, "/auth/logout", &read, None).await;
    assert_eq!(out.status, 204);
    app.get("/auth/me", Some(&read)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
}

#[tokio::test]
async fn a_write_scoped_token_cannot_read() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "alice-pass-123").await;
    let write = app.token_with(&alice, &["write"], false).await;
    assert_scope_refused(&app.get("/api/example/", Some(&write)).await, "read");
    assert_scope_refused(&app.get("/auth/me", Some(&write)).await, "read");
    // HEAD is served by GET's handler, and needs what GET needs.
    let head = app.call(Method::HEAD, "/api/example/", &write, None).await;
    assert_eq!(head.status, 403);
    let post = app
        .call(Method::POST, "/api/example/", &write, Some(json!({"a": 1})))
        .await;
    assert_eq!(post.status, 200);
    assert_eq!(post.json(), json!({"user": "alice", "received": {"a": 1}}));
    // Rotation of the presenting token needs no scope, and keeps its scopes.
    let rotated = app
        .call(Method::POST, "/auth/tokens/rotate", &write, None)
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.json());
    let new = rotated.json()["token"].as_str().unwrap().to_owned();
    assert_scope_refused(&app.get("/auth/me", Some(&new)).await, "read");
}

#[tokio::test]
async fn an_unscoped_token_does_all_its_owner_may() {
    let app = TestApp::new().await;
    let root = app.superuser("root", "root-pass-123").await;
    let alice = app.user("alice", "alice-pass-123").await;
    let key = app.recent_token(&root).await;
    assert_eq!(app.get("/auth/me", Some(&key)).await.status, 200);
    let post = app
        .call(Method::POST, "/api/example/", &key, Some(json!({})))
        .await;
    assert_eq!(post.status, 200);
    let patch = app
        .call(
            Method::PATCH,
            &format!("/admin/users/{}", alice.id),
            &key,
            Some(json!({"is_staff": true})),
        )
        .await;
    assert_eq!(patch.status, 200, "{:?}", patch.json());
    assert_eq!(patch.json()["is_staff"], true);
    let minted = app
        .call(
            Method::POST,
            "/auth/tokens",
            &key,
            Some(json!({"name": "ci", "scopes": ["admin", "notes:write"]})),
        )
        .await;
    assert_eq!(minted.status, 201, "{:?}", minted.json());
    assert_eq!(minted.json()["scopes"], json!(["admin", "notes:write"]));
}

#[tokio::test]
async fn a_scoped_token_mints_only_within_its_own_scopes() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "alice-pass-123").await;
    let key = app.token_with(&alice, &["account", "read"], true).await;
    let mint = |scopes: Value| {
        app.call(
            Method::POST,
            "/auth/tokens",
            &key,
            Some(json!({"name": "child", "scopes": scopes})),
        )
    };
    let ok = mint(json!(["read"])).await;
    assert_eq!(ok.status, 201, "{:?}", ok.json());
    assert_eq!(ok.json()["scopes"], json!(["read"]));
    for wider in [
        json!(["write"]),
        json!([]),
        json!(["read", "admin"]),
        json!(null),
    ] {
        mint(wider).await.assert_error(
            403,
            "permission_denied",
            "A scoped token can only create tokens within its own scopes.",
        );
    }
    let listed = app.get("/auth/tokens", Some(&key)).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "only one was minted");
}

#[tokio::test]
async fn scope_names_and_shapes_are_validated() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "alice-pass-123").await;
    let key = app.recent_token(&alice).await;
    let rule = "Each scope must be 1-64 characters of a-z, 0-9, ':', '.', '_' and '-'.";
    for bad in [
        json!(["Read"]),
        json!([""]),
        json!(["notes write"]),
        json!(["a".repeat(65)]),
        json!([1]),
        json!([["read"]]),
        json!(["é"]),
    ] {
        let reply = app
            .call(
                Method::POST,
                "/auth/tokens",
                &key,
                Some(json!({"name": "x", "scopes": bad})),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.json(), json!({"scopes": [rule]}), "{bad}");
    }
    let reply = app
        .call(
            Method::POST,
            "/auth/tokens",
            &key,
            Some(json!({"name": "x", "scopes": "read"})),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"scopes": ["Expected a list of items but got type \"str\"."]})
    );
    let ok = app
        .call(
            Method::POST,
            "/auth/tokens",
            &key,
            Some(json!({"name": "x", "scopes": ["a".repeat(64), "x.y_z-0:1"]})),
        )
        .await;
    assert_eq!(ok.status, 201, "{:?}", ok.json());
    let listed = app.get("/auth/tokens", Some(&key)).await.json();
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "nothing stored on a 400"
    );
}

#[tokio::test]
async fn openapi_lists_each_operations_scope() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json", None).await.json();
    let token_roles = |path: &str, method: &str| -> Value {
        doc["paths"][path][method]["security"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|r| r.get("tokenAuth").cloned())
            .unwrap()
    };
    assert_eq!(token_roles("/api/example/", "get"), json!(["read"]));
    assert_eq!(token_roles("/api/example/", "post"), json!(["write"]));
    assert_eq!(token_roles("/auth/me", "get"), json!(["read"]));
    assert_eq!(token_roles("/auth/tokens", "get"), json!(["read"]));
    assert_eq!(token_roles("/auth/tokens", "post"), json!(["account"]));
    assert_eq!(token_roles("/auth/password", "post"), json!(["account"]));
    assert_eq!(token_roles("/admin/users/{id}", "patch"), json!(["admin"]));
    assert_eq!(token_roles("/admin/audit", "get"), json!(["admin"]));
    assert_eq!(token_roles("/auth/logout", "post"), json!([]));
    assert_eq!(token_roles("/auth/tokens/rotate", "post"), json!([]));
}

// ------------------------------------------------------------ administration

async fn patch(app: &TestApp, key: &str, user: i64, body: Value) -> Reply {
    app.call(
        Method::PATCH,
        &format!("/admin/users/{user}"),
        key,
        Some(body),
    )
    .await
}

async fn logs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
    reply.status == 200
}

#[tokio::test]
async fn staff_cannot_escalate_or_touch_privileged_accounts() {
    let app = TestApp::new().await;
    let root = app.superuser("root", "root-pass-123").await;
    let staff = app.staff("sam", "sam-pass-1234").await;
    let other_staff = app.staff("olga", "olga-pass-123").await;
    let alice = app.user("alice", "alice-pass-123").await;
    let key = app.recent_token(&staff).await;
    let root_key = app.token(&root).await;

    for (target, body) in [
        (alice.id, json!({"is_superuser": true})),
        (alice.id, json!({"is_staff": true})),
        (alice.id, json!({"is_staff": false})),
        (staff.id, json!({"is_superuser": true})),
        (root.id, json!({"password": "taken-over-42"})),
        (root.id, json!({"email": "evil@example.com"})),
        (root.id, json!({"is_active": false})),
        (other_staff.id, json!({"password": "taken-over-42"})),
        (staff.id, json!({"email": "me@example.com"})),
    ] {
        patch(&app, &key, target, body.clone()).await.assert_error(
            403,
            "permission_denied",
            FORBIDDEN,
        );
    }
    // Nothing changed: flags, passwords, e-mail, the superuser's key.
    assert!(!app.stored_user("alice").await.is_staff);
    assert!(!app.stored_user("sam").await.is_superuser);
    assert!(app.stored_user("root").await.is_active);
    assert_eq!(app.stored_user("root").await.email, "root@example.com");
    assert!(logs_in(&app, "root", "root-pass-123").await);
    assert!(logs_in(&app, "olga", "olga-pass-123").await);
    assert_eq!(app.get("/auth/me", Some(&root_key)).await.status, 200);

    // Creating a staff account is a superuser's act.
    app.post_json(
        "/admin/users",
        Some(&key),
        json!({"username": "mallory", "password": "mallory-pass-1", "is_staff": true}),
    )
    .await
    .assert_error(403, "permission_denied", FORBIDDEN);
    assert_eq!(
        app.state
            .tessera
            .stores()
            .users
            .credentials_by_username("mallory")
            .await
            .unwrap()
            .map(|c| c.user.id),
        None
    );

    // Nor may staff revoke a superuser's token or session.
    let root_tokens = app
        .get(&format!("/admin/users/{}/tokens", root.id), Some(&key))
        .await;
    assert_eq!(root_tokens.status, 200, "staff may read");
    let token_id = root_tokens.json()[0]["id"].as_i64().unwrap();
    app.call(
        Method::DELETE,
        &format!("/admin/tokens/{token_id}"),
        &key,
        None,
    )
    .await
    .assert_error(403, "permission_denied", FORBIDDEN);
    let (jar, _) = login(&app, "root", "root-pass-123").await;
    let sessions = app
        .get(&format!("/admin/users/{}/sessions", root.id), Some(&key))
        .await;
    let session_id = sessions.json()[0]["id"].as_i64().unwrap();
    app.call(
        Method::DELETE,
        &format!("/admin/sessions/{session_id}"),
        &key,
        None,
    )
    .await
    .assert_error(403, "permission_denied", FORBIDDEN);
    assert_eq!(app.get("/auth/me", Some(&root_key)).await.status, 200);
    let me = request(&app, Method::GET, "/auth/me", &jar, &[], None).await;
    assert_eq!(me.status, 200);
}

#[tokio::test]
async fn staff_manage_ordinary_users_and_a_reset_ends_their_credentials() {
    let app = TestApp::new().await;
    let staff = app.staff("sam", "sam-pass-1234").await;
    let alice = app.user("alice", "alice-pass-123").await;
    let key = app.recent_token(&staff).await;
    let alice_key = app.token(&alice).await;
    let (alice_jar, _) = login(&app, "alice", "alice-pass-123").await;
    let alice_me = || request(&app, Method::GET, "/auth/me", &alice_jar, &[], None);
    assert_eq!(alice_me().await.status, 200);

    let reply = patch(&app, &key, alice.id, json!({"email": "a@example.org"})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(reply.json()["email"], "a@example.org");
    // An e-mail change ends nothing.
    assert_eq!(app.get("/auth/me", Some(&alice_key)).await.status, 200);

    let reply = patch(
        &app,
        &key,
        alice.id,
        json!({"password": "brand-new-pass-7"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    app.get("/auth/me", Some(&alice_key)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    alice_me().await.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    assert!(!logs_in(&app, "alice", "alice-pass-123").await);
    assert!(logs_in(&app, "alice", "brand-new-pass-7").await);
    let stores = app.state.tessera.stores();
    assert_eq!(
        stores
            .sessions
            .list_sessions(
                alice.id,
                app.state.tessera.clock().now(),
                time::Duration::days(1)
            )
            .await
            .unwrap()
            .len(),
        0
    );

    let events = app.audit_events().await;
    let updated: Vec<_> = events
        .iter()
        .filter(|e| e.event.as_str() == "user_updated")
        .collect();
    assert_eq!(updated.len(), 2);
    assert_eq!(updated[0].user, Some(alice.id));
    assert_eq!(
        updated[0].detail,
        json!({"by": staff.id, "fields": ["password"], "credentials_revoked": true})
    );
    assert_eq!(
        updated[1].detail,
        json!({"by": staff.id, "fields": ["email"], "credentials_revoked": false})
    );
    for e in &events {
        let text = serde_json::to_string(&e.detail).unwrap();
        assert!(!text.contains("brand-new-pass-7"), "{text}");
    }

    // Deactivation keeps DRF's semantics: refused while it lasts, restored after.
    let alice_key = app.token(&alice).await;
    assert_eq!(
        patch(&app, &key, alice.id, json!({"is_active": false}))
            .await
            .status,
        200
    );
    app.get("/auth/me", Some(&alice_key)).await.assert_error(
        401,
        "authentication_failed",
        "User inactive or deleted.",
    );
    assert_eq!(
        patch(&app, &key, alice.id, json!({"is_active": true}))
            .await
            .status,
        200
    );
    assert_eq!(app.get("/auth/me", Some(&alice_key)).await.status, 200);
}

#[tokio::test]
async fn a_superuser_grants_privileges_only_with_recent_authentication() {
    let app = TestApp::new().await;
    let root = app.superuser("root", "root-pass-123").await;
    let staff = app.staff("sam", "sam-pass-1234").await;
    let alice = app.user("alice", "alice-pass-123").await;
    let stale = app.token(&root).await;
    for (target, body) in [
        (alice.id, json!({"is_superuser": true})),
        (staff.id, json!({"password": "reset-by-root-1"})),
    ] {
        patch(&app, &stale, target, body).await.assert_error(
            403,
            "reauthentication_required",
            REAUTH,
        );
    }
    // Every admin write needs it, reading does not.
    app.post_json(
        "/admin/users",
        Some(&stale),
        json!({"username": "dave", "password": "dave-pass-123"}),
    )
    .await
    .assert_error(403, "reauthentication_required", REAUTH);
    assert_eq!(app.get("/admin/users", Some(&stale)).await.status, 200);

    let fresh = app.recent_token(&root).await;
    let staff_key = app.token(&staff).await;
    let reply = patch(
        &app,
        &fresh,
        alice.id,
        json!({"is_superuser": true, "is_staff": true}),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(reply.json()["is_superuser"], true);
    let reply = patch(
        &app,
        &fresh,
        staff.id,
        json!({"password": "reset-by-root-1"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    app.get("/auth/me", Some(&staff_key)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    assert!(logs_in(&app, "sam", "reset-by-root-1").await);
    let reply = app
        .post_json(
            "/admin/users",
            Some(&fresh),
            json!({"username": "dave", "password": "dave-pass-123", "is_staff": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    assert_eq!(reply.json()["is_staff"], true);
}

#[tokio::test]
async fn admin_bodies_and_ids_are_validated_and_change_nothing() {
    let app = TestApp::new().await;
    let root = app.superuser("root", "root-pass-123").await;
    let alice = app.user("alice", "alice-pass-123").await;
    let key = app.recent_token(&root).await;
    let before = app.stored_user("alice").await;
    for (body, expected) in [
        (
            json!({"id": 99, "email": "x@example.com"}),
            json!({"id": ["This field is read-only."]}),
        ),
        (
            json!({"date_joined": "2020-01-01T00:00:00Z"}),
            json!({"date_joined": ["This field is read-only."]}),
        ),
        (
            json!({"username": "root2"}),
            json!({"username": ["This field is read-only."]}),
        ),
        (
            json!({"nickname": "al", "is_staff": true}),
            json!({"nickname": ["Unknown field."]}),
        ),
        (
            json!({"is_active": "yes please"}),
            json!({"is_active": ["Must be a valid boolean."]}),
        ),
    ] {
        let reply = patch(&app, &key, alice.id, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json(), expected, "{body}");
    }
    assert_eq!(app.stored_user("alice").await, before);
    for path in [
        "/admin/users/abc",
        "/admin/users/1.5/tokens",
        "/admin/users/-/sessions",
    ] {
        let method = if path.ends_with("abc") {
            Method::PATCH
        } else {
            Method::GET
        };
        let reply = app.call(method, path, &key, Some(json!({}))).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(
            reply.json(),
            json!({"id": ["A valid integer is required."]}),
            "{path}"
        );
    }
    for path in ["/admin/tokens/x", "/admin/sessions/9e9"] {
        let reply = app.call(Method::DELETE, path, &key, None).await;
        assert_eq!(reply.status, 400, "{path}");
    }
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "eve", "password": "eve-pass-1234", "is_superuser": true, "id": 1}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"id": ["This field is read-only."], "is_superuser": ["This field is read-only."]})
    );
    assert!(app
        .state
        .tessera
        .stores()
        .users
        .credentials_by_username("eve")
        .await
        .unwrap()
        .is_none());
}
