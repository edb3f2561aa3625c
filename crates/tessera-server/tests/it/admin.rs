//! Staff-only user administration.

use crate::support::{raw, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};

async fn patch(app: &TestApp, path: &str, key: &str, body: Value) -> crate::support::Reply {
    let request = raw(
        Method::PATCH,
        path,
        &[
            ("authorization", format!("Token {key}").as_bytes()),
            ("content-type", b"application/json"),
        ],
        Body::from(body.to_string()),
    );
    app.send(request).await
}

#[tokio::test]
async fn only_staff_may_administer() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    app.get("/admin/users", None).await.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    app.get("/admin/users", Some(&key)).await.assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    app.post_json(
        "/admin/users",
        Some(&key),
        json!({"username": "x", "password": "y"}),
    )
    .await
    .assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    patch(
        &app,
        &format!("/admin/users/{}", alice.id),
        &key,
        json!({"is_staff": true}),
    )
    .await
    .assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
}

#[tokio::test]
async fn staff_create_users_who_can_then_log_in() {
    let app = TestApp::new().await;
    let boss = app.superuser("boss", "s3cret-pass").await;
    let key = app.recent_token(&boss).await;
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "dave", "password": "dave-pass-1", "email": "dave@example.com", "is_staff": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let created = reply.json();
    assert_eq!(created["username"], "dave");
    assert_eq!(created["email"], "dave@example.com");
    assert_eq!(created["is_staff"], true);
    assert_eq!(created["is_active"], true);
    assert_eq!(created["is_superuser"], false);
    assert_eq!(created["last_login"], Value::Null);
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    let login = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "dave", "password": "dave-pass-1"}),
        )
        .await;
    assert_eq!(login.status, 200);
    let stored = app
        .state
        .tessera
        .stores()
        .users
        .credentials_by_username("dave")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$v=19$"),
        "{}",
        stored.password_hash
    );
}

#[tokio::test]
async fn creating_validates_fields_as_django() {
    let app = TestApp::new().await;
    let boss = app.superuser("boss", "s3cret-pass").await;
    let key = app.recent_token(&boss).await;
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "boss", "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"username": ["A user with that username already exists."]})
    );
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "zqxwv", "password": "zqxwv"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"password": [
            "The password is too similar to the username.",
            "This password is too short. It must contain at least 8 characters.",
        ]})
    );
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "bad name!", "email": "nope", "is_staff": "maybe"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({
            "password": ["This field is required."],
            "email": ["Enter a valid email address."],
            "is_staff": ["Must be a valid boolean."],
        })
    );
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "bad name!", "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]})
    );
    let reply = app
        .post_json(
            "/admin/users",
            Some(&key),
            json!({"username": "a".repeat(151), "password": "a-fine-password"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"username": ["Ensure this field has no more than 150 characters."]})
    );
}

#[tokio::test]
async fn deactivating_a_user_stops_their_keys_and_logins() {
    let app = TestApp::new().await;
    let boss = app.superuser("boss", "s3cret-pass").await;
    let boss_key = app.recent_token(&boss).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let alice_key = app.token(&alice).await;
    let reply = patch(
        &app,
        &format!("/admin/users/{}", alice.id),
        &boss_key,
        json!({"is_active": false}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["is_active"], false);
    app.get("/api/example/", Some(&alice_key))
        .await
        .assert_error(401, "authentication_failed", "User inactive or deleted.");
    let login = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(
        login.json(),
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
}

#[tokio::test]
async fn staff_make_staff_and_reset_passwords() {
    let app = TestApp::new().await;
    let boss = app.superuser("boss", "s3cret-pass").await;
    let boss_key = app.recent_token(&boss).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let alice_key = app.token(&alice).await;
    let path = format!("/admin/users/{}", alice.id);
    let reply = patch(
        &app,
        &path,
        &boss_key,
        json!({"is_staff": true, "email": "a@example.org"}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["is_staff"], true);
    assert_eq!(reply.json()["email"], "a@example.org");
    assert_eq!(app.get("/api/staff/", Some(&alice_key)).await.status, 200);
    let reply = patch(&app, &path, &boss_key, json!({"password": "new-pass-42"})).await;
    assert_eq!(reply.status, 200);
    let old = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(old.status, 400);
    let new = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "new-pass-42"}),
        )
        .await;
    assert_eq!(new.status, 200);
    patch(
        &app,
        "/admin/users/999999",
        &boss_key,
        json!({"is_staff": true}),
    )
    .await
    .assert_error(404, "not_found", "Not found.");
    let reply = patch(&app, "/admin/users/abc", &boss_key, json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"id": ["A valid integer is required."]})
    );
    let reply = patch(&app, &path, &boss_key, json!({"is_superuser": "x"})).await;
    assert_eq!(
        reply.json(),
        json!({"is_superuser": ["Must be a valid boolean."]})
    );
    let reply = patch(&app, &path, &boss_key, json!({"password": "12345678"})).await;
    assert_eq!(
        reply.json(),
        json!({"password": ["This password is too common.", "This password is entirely numeric."]})
    );
}

#[tokio::test]
async fn listing_searches_and_paginates() {
    let app = TestApp::with_config(|c| c.admin.page_size = 2).await;
    let boss = app.superuser("boss", "s3cret-pass").await;
    let key = app.recent_token(&boss).await;
    for name in ["ann", "anna", "bob", "joanne"] {
        app.user(name, "pw-123456").await;
    }
    let page1 = app.get("/admin/users", Some(&key)).await;
    assert_eq!(page1.status, 200);
    let body = page1.json();
    assert_eq!(body["count"], 5);
    assert_eq!(body["previous"], Value::Null);
    assert_eq!(body["next"], "http://testserver/admin/users?page=2");
    let names: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss", "ann"]);
    let page3 = app.get("/admin/users?page=3", Some(&key)).await.json();
    assert_eq!(page3["next"], Value::Null);
    assert_eq!(page3["previous"], "http://testserver/admin/users?page=2");
    assert_eq!(page3["results"].as_array().unwrap().len(), 1);
    let page2 = app.get("/admin/users?page=2", Some(&key)).await.json();
    assert_eq!(page2["previous"], "http://testserver/admin/users");
    let search = app.get("/admin/users?search=ANN", Some(&key)).await.json();
    assert_eq!(search["count"], 3);
    assert_eq!(
        search["next"],
        "http://testserver/admin/users?page=2&search=ANN"
    );
    let names: Vec<&str> = search["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "anna"]);
    for bad in ["0", "9", "x", "-1"] {
        app.get(&format!("/admin/users?page={bad}"), Some(&key))
            .await
            .assert_error(404, "not_found", "Invalid page.");
    }
    // A repeated parameter: the last value, as Django's `QueryDict.get`
    // (axum's `Query` used to answer a plain-text 400).
    let repeated = app
        .get(
            "/admin/users?page=1&search=zzz&page=2&search=ANN",
            Some(&key),
        )
        .await;
    assert_eq!(repeated.status, 200);
    let body = repeated.json();
    assert_eq!(body["count"], 3);
    assert_eq!(body["previous"], "http://testserver/admin/users?search=ANN");
    app.get("/admin/users?page=null&page=null", Some(&key))
        .await
        .assert_error(404, "not_found", "Invalid page.");
    let audit = app.get("/admin/audit?user=x&user=null", Some(&key)).await;
    assert_eq!(audit.status, 400);
    assert_eq!(
        audit.json(),
        json!({"user": ["A valid integer is required."]})
    );
}
