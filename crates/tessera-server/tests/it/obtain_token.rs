//! `POST /api-token-auth/`, as DRF's `obtain_auth_token`.

use crate::support::{raw, req, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::json;
use tessera_core::audit::EventKind;

fn token_of(reply: &crate::support::Reply) -> String {
    reply.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn json_credentials_give_a_new_working_key_each_time() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    let first = app.post_json("/api-token-auth/", None, body.clone()).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(first.header("set-cookie"), None);
    let object = first.json();
    assert_eq!(object.as_object().unwrap().len(), 1, "{object}");
    let k1 = token_of(&first);
    assert!(tessera_core::token::TokenKey::parse(&k1).is_some());
    assert!(k1.starts_with("tsr_"));
    let k2 = token_of(&app.post_json("/api-token-auth/", None, body).await);
    assert_ne!(k1, k2);
    for key in [&k1, &k2] {
        let reply = app.get("/api/example/", Some(key)).await;
        assert_eq!(reply.json(), json!({"user": "alice", "auth": "token"}));
    }
    // last_login is recorded.
    let me = app.get("/auth/me", Some(&k1)).await.json();
    assert_eq!(me["user"]["last_login"], json!("2026-01-01T00:00:00Z"));
}

#[tokio::test]
async fn form_and_multipart_bodies_are_accepted() {
    let app = TestApp::new().await;
    app.user("alice", "pass word+&=").await;
    let form = raw(
        Method::POST,
        "/api-token-auth/",
        &[("content-type", b"application/x-www-form-urlencoded")],
        "username=alice&password=pass+word%2B%26%3D",
    );
    let reply = app.send(form).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert!(token_of(&reply).starts_with("tsr_"));
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\npass word+&=\r\n--XyZ--\r\n";
    let multipart = raw(
        Method::POST,
        "/api-token-auth/",
        &[("content-type", b"multipart/form-data; boundary=XyZ")],
        body,
    );
    let reply = app.send(multipart).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert!(token_of(&reply).starts_with("tsr_"));
}

#[tokio::test]
async fn json_with_charset_is_json() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let request = raw(
        Method::POST,
        "/api-token-auth/",
        &[("content-type", b"application/json; charset=utf-8")],
        r#"{"username": "alice", "password": "s3cret-pass"}"#,
    );
    assert_eq!(app.send(request).await.status, 200);
}

#[tokio::test]
async fn bad_credentials_are_one_generic_error() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    app.user_with("carol", "s3cret-pass", false, false).await;
    let expected = json!({"non_field_errors": ["Unable to log in with provided credentials."]});
    let cases = [
        json!({"username": "alice", "password": "wrong"}),
        json!({"username": "nobody", "password": "s3cret-pass"}),
        json!({"username": "carol", "password": "s3cret-pass"}),
        json!({"username": "ALICE", "password": "s3cret-pass"}),
        json!({"username": "alice", "password": " s3cret-pass"}),
        json!({"username": "alice", "password": "x".repeat(5000)}),
    ];
    let mut bodies = Vec::new();
    for body in cases {
        let reply = app.post_json("/api-token-auth/", None, body).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json(), expected);
        bodies.push((
            reply.body.clone(),
            reply.headers.get("content-type").cloned(),
        ));
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "byte-identical failures"
    );
}

#[tokio::test]
async fn missing_and_blank_fields_are_field_errors() {
    let app = TestApp::new().await;
    let reply = app.post_json("/api-token-auth/", None, json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "  ", "password": ""}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"username": ["This field may not be blank."], "password": ["This field may not be blank."]})
    );
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": ["a"], "password": {"$ne": 1}}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"username": ["Not a valid string."], "password": ["Not a valid string."]})
    );
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": null, "password": "x\u{0}"}),
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"username": ["This field may not be null."], "password": ["Null characters are not allowed."]})
    );
    // An empty body is an empty object.
    let reply = app
        .send(raw(Method::POST, "/api-token-auth/", &[], Body::empty()))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
    // A JSON list is not a dictionary.
    let reply = app
        .post_json("/api-token-auth/", None, json!(["alice"]))
        .await;
    assert_eq!(
        reply.json(),
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

#[tokio::test]
async fn default_authenticators_run_first() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let mut request = req(
        Method::POST,
        "/api-token-auth/",
        None,
        Some(json!({"username": "alice", "password": "s3cret-pass"})),
    );
    request
        .headers_mut()
        .insert("authorization", "Token not-a-key".parse().unwrap());
    let reply = app.send(request).await;
    reply.assert_error(401, "authentication_failed", "Invalid token.");
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn the_per_user_cap_is_a_non_field_error() {
    let app = TestApp::with_config(|c| c.tokens.max_per_user = 2).await;
    app.user("alice", "s3cret-pass").await;
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    for _ in 0..2 {
        assert_eq!(
            app.post_json("/api-token-auth/", None, body.clone())
                .await
                .status,
            200
        );
    }
    let reply = app.post_json("/api-token-auth/", None, body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({"non_field_errors": ["Token limit reached: revoke one of your tokens before creating another."]})
    );
    // The password was right: the refused login is recorded all the same,
    // without a key or a token_created event.
    let events = app.audit_events().await;
    let count = |kind: EventKind| events.iter().filter(|e| e.event == kind).count();
    assert_eq!(count(EventKind::LoginSucceeded), 3);
    assert_eq!(count(EventKind::TokenCreated), 2);
    assert!(app.stored_user("alice").await.last_login.is_some());
}

#[tokio::test]
async fn usernames_are_nfkc_normalised_at_login() {
    let app = TestApp::new().await;
    app.user("file", "s3cret-pass").await;
    // U+FB01 LATIN SMALL LIGATURE FI.
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "\u{FB01}le", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let app = TestApp::new().await;
    let reply = app.get("/api-token-auth/", None).await;
    reply.assert_error(405, "method_not_allowed", "Method \"GET\" not allowed.");
    assert_eq!(reply.header("allow"), Some("POST"));
}

#[tokio::test]
async fn every_failure_costs_exactly_one_verification() {
    // Timing must not reveal who exists: an unknown user, a wrong password and
    // an inactive user each cost one full argon2id verification (Django's
    // dummy hash), as a success does.
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    app.user_with("carol", "s3cret-pass", false, false).await;
    let hasher = app.state.tessera.hasher().clone();
    for (username, password) in [
        ("nobody", "s3cret-pass"),
        ("alice", "wrong"),
        ("carol", "s3cret-pass"),
        ("alice", "s3cret-pass"),
    ] {
        let before = hasher.verifications();
        app.post_json(
            "/api-token-auth/",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
        assert_eq!(hasher.verifications() - before, 1, "{username}/{password}");
    }
}

#[tokio::test]
async fn a_weaker_stored_hash_is_upgraded_at_login() {
    let app = TestApp::with_config(|c| c.password.argon2 = "m=512,t=1,p=1".into()).await;
    let alice = app.user("alice", "s3cret-pass").await;
    // A Django PBKDF2 hash of "tessera" (salt "seasalt", 1000 iterations).
    let django = "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";
    let users = &app.state.tessera.stores().users;
    let update = tessera_core::user::UserUpdate {
        password_hash: Some(django.into()),
        ..Default::default()
    };
    users.update_user(alice.id, update).await.unwrap();
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "tessera"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let stored = users
        .credentials_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=512,t=1,p=1$"),
        "{}",
        stored.password_hash
    );
    let again = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "tessera"}),
        )
        .await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn a_login_the_store_cannot_record_is_a_500_that_keeps_nothing() {
    use sqlx::{Connection, Executor};
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    // The database refuses the login's event, so the login's one transaction
    // (last_login, the event, the key and its event) fails as a whole.
    let url = format!("sqlite://{}/tessera.db", app.dir.path().display());
    let mut plain = sqlx::SqliteConnection::connect(&url).await.unwrap();
    plain
        .execute(
            "CREATE TRIGGER refuse_logins BEFORE INSERT ON tessera_audit \
             WHEN NEW.event = 'login_succeeded' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .await
        .unwrap();
    plain.close().await.unwrap();

    let body = json!({"username": "alice", "password": "s3cret-pass"});
    app.post_json("/api-token-auth/", None, body)
        .await
        .assert_error(500, "error", "A server error occurred.");

    let now = app.state.tessera.clock().now();
    let tokens = app.state.tessera.stores().tokens.list_tokens(alice.id, now);
    assert_eq!(tokens.await.unwrap(), []);
    assert_eq!(app.stored_user("alice").await.last_login, None);
    let events = app.audit_events().await;
    assert!(
        events
            .iter()
            .all(|e| e.event != EventKind::LoginSucceeded && e.event != EventKind::TokenCreated),
        "{events:?}"
    );
    // Not counted as a successful password login either.
    let metrics = String::from_utf8(app.get("/metrics", None).await.body).unwrap();
    let success = "tessera_auth_outcomes_total{method=\"password\",outcome=\"success\"}";
    assert!(
        metrics.lines().all(|l| !l.starts_with(success)),
        "{metrics}"
    );
}
