//! The audit log: every authentication outcome recorded, queryable by staff,
//! never holding a secret.

use crate::support::{raw, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};

async fn all_events(app: &TestApp) -> Vec<Value> {
    app.audit_events()
        .await
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

#[tokio::test]
async fn every_outcome_is_recorded_with_its_context() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let headers: &[(&str, &[u8])] = &[
        ("content-type", b"application/json"),
        ("user-agent", b"audit-test/1.0"),
    ];
    let bad = raw(
        Method::POST,
        "/api-token-auth/",
        headers,
        r#"{"username":"alice","password":"nope"}"#,
    );
    assert_eq!(app.send(bad).await.status, 400);
    let ghost = raw(
        Method::POST,
        "/api-token-auth/",
        headers,
        r#"{"username":"ghost","password":"nope"}"#,
    );
    assert_eq!(app.send(ghost).await.status, 400);
    let good = raw(
        Method::POST,
        "/api-token-auth/",
        headers,
        r#"{"username":"alice","password":"s3cret-pass"}"#,
    );
    let key = app.send(good).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = app
        .post_json("/auth/tokens", Some(&key), json!({"name": "ci"}))
        .await
        .json();
    let made_id = made["id"].as_i64().unwrap();
    let auth = format!("Token {key}");
    let del = raw(
        Method::DELETE,
        &format!("/auth/tokens/{made_id}"),
        &[("authorization", auth.as_bytes())],
        Body::empty(),
    );
    assert_eq!(app.send(del).await.status, 204);
    assert_eq!(
        app.post_json(
            "/auth/reauth",
            Some(&key),
            json!({"password": "s3cret-pass"})
        )
        .await
        .status,
        204
    );
    let reply = app
        .post_json(
            "/auth/password",
            Some(&key),
            json!({"old_password": "s3cret-pass", "new_password": "n3w-pass-word"}),
        )
        .await;
    assert_eq!(reply.status, 204);
    app.get("/api/staff/", Some(&key)).await;
    let rotated = app
        .post_json("/auth/tokens/rotate", Some(&key), json!({}))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post_json("/auth/logout", Some(&rotated), json!({}))
            .await
            .status,
        204
    );

    // Queued events (failures) and direct ones (state changes) share one
    // instant under the test clock, so compare the multiset.
    let events = all_events(&app).await;
    let mut got = kinds(&events);
    got.sort();
    let mut want: Vec<String> = [
        "login_failed",
        "login_failed",
        "login_succeeded",
        "token_created",
        "token_created",
        "token_revoked",
        "reauthenticated",
        "password_changed",
        "permission_denied",
        "token_rotated",
        "logout",
        "user_created",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.sort();
    assert_eq!(got, want);
    let first = events
        .iter()
        .find(|e| e["event"] == "login_succeeded")
        .unwrap();
    assert_eq!(first["username"], "alice");
    assert_eq!(first["user"], alice.id);
    assert_eq!(first["user_agent"], "audit-test/1.0");
    assert_eq!(first["time"], "2026-01-01T00:00:00Z");
    assert_eq!(first["detail"], json!({"via": "api-token-auth"}));
    let ghost = events.iter().find(|e| e["username"] == "ghost").unwrap();
    assert_eq!(ghost["username"], "ghost");
    assert_eq!(ghost["user"], Value::Null);
    for event in &events {
        let mut keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "detail",
                "event",
                "id",
                "ip",
                "request_id",
                "time",
                "user",
                "user_agent",
                "username"
            ]
        );
    }
    let denied = events
        .iter()
        .find(|e| e["event"] == "permission_denied")
        .unwrap();
    assert_eq!(
        denied["detail"],
        json!({"method": "GET", "path": "/api/staff/"})
    );
}

#[tokio::test]
async fn session_events_and_csrf_failures_are_recorded() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let login = raw(
        Method::POST,
        "/auth/login",
        &[("content-type", b"application/json")],
        r#"{"username":"alice","password":"s3cret-pass"}"#,
    );
    assert_eq!(app.send(login).await.status, 403);
    let events = all_events(&app).await;
    assert_eq!(kinds(&events), ["user_created", "csrf_failed"]);
    // An anonymous CSRF failure is counted in its (address, route) row.
    assert_eq!(
        events[0]["detail"],
        json!({"reason": "CSRF cookie not set.", "path": "/auth/login", "route": "/auth/login", "count": 1})
    );
}

#[tokio::test]
async fn staff_query_the_log_with_filters_and_pages() {
    let app = TestApp::with_config(|c| c.admin.page_size = 2).await;
    let boss = app.staff("boss", "s3cret-pass").await;
    let alice = app.user("alice", "s3cret-pass").await;
    for password in ["x", "y", "s3cret-pass"] {
        app.post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": password}),
        )
        .await;
    }
    app.clock.advance(std::time::Duration::from_secs(60));
    let boss_key = app.token(&boss).await;
    app.post_json(
        "/api-token-auth/",
        None,
        json!({"username": "boss", "password": "s3cret-pass"}),
    )
    .await;
    app.state.tessera.auditor().flush().await;
    let reply = app.get("/admin/audit", Some(&boss_key)).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    // Two users created, two failures, two logins, three tokens.
    assert_eq!(body["count"], 9);
    assert_eq!(body["next"], "http://testserver/admin/audit?page=2");
    assert_eq!(body["results"][0]["event"], "token_created");
    assert_eq!(body["results"][0]["username"], "boss");
    let reply = app
        .get(
            &format!("/admin/audit?user={}&event=login_failed", alice.id),
            Some(&boss_key),
        )
        .await;
    let body = reply.json();
    assert_eq!(body["count"], 2);
    assert!(body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["event"] == "login_failed" && e["user"] == alice.id));
    let reply = app
        .get(
            "/admin/audit?since=2026-01-01T00:01:00Z&page=1",
            Some(&boss_key),
        )
        .await;
    assert_eq!(reply.json()["count"], 3, "since is inclusive");
    let reply = app
        .get(
            "/admin/audit?since=2026-01-01T00:00:00Z&page=2",
            Some(&boss_key),
        )
        .await;
    assert_eq!(
        reply.json()["previous"],
        "http://testserver/admin/audit?since=2026-01-01T00%3A00%3A00Z"
    );
    assert_eq!(
        reply.json()["next"],
        "http://testserver/admin/audit?page=3&since=2026-01-01T00%3A00%3A00Z"
    );
    let reply = app
        .get(
            "/admin/audit?user=x&event=nope&since=yesterday",
            Some(&boss_key),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json(),
        json!({
            "user": ["A valid integer is required."],
            "event": ["Select a valid choice. nope is not one of the available choices."],
            "since": ["Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
        })
    );
    let alice_key = app.token(&alice).await;
    app.get("/admin/audit", Some(&alice_key))
        .await
        .assert_error(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        );
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let auth = format!("Token {boss_key}");
        let reply = app
            .send(raw(
                method.clone(),
                "/admin/audit",
                &[("authorization", auth.as_bytes())],
                Body::empty(),
            ))
            .await;
        assert_eq!(reply.status, 405, "{method}");
    }
}

#[tokio::test]
async fn no_secret_is_ever_stored_in_the_log() {
    let app = TestApp::new().await;
    let password = "CANARY-9f3a-pass-word";
    app.user("alice", password).await;
    let mut secrets = vec![password.to_owned(), "CANARY-wrong-guess".to_owned()];
    app.post_json(
        "/api-token-auth/",
        None,
        json!({"username": "alice", "password": "CANARY-wrong-guess"}),
    )
    .await;
    let key = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": password}),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(key.clone());
    let made = app
        .post_json("/auth/tokens", Some(&key), json!({"name": "x"}))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(made.clone());
    let csrf = app.get("/auth/csrf", None).await;
    let cookie = csrf
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let masked = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    secrets.push(cookie.trim_start_matches("csrftoken=").to_owned());
    secrets.push(masked.clone());
    let login = raw(
        Method::POST,
        "/auth/login",
        &[
            ("content-type", b"application/json"),
            ("cookie", cookie.as_bytes()),
            ("x-csrftoken", masked.as_bytes()),
        ],
        format!(r#"{{"username":"alice","password":"{password}"}}"#),
    );
    let reply = app.send(login).await;
    for value in reply.headers.get_all("set-cookie") {
        let pair = value.to_str().unwrap().split(';').next().unwrap();
        secrets.push(pair.split_once('=').unwrap().1.to_owned());
    }
    app.post_json(
        "/auth/reauth",
        Some(&made),
        json!({"password": "CANARY-wrong-guess"}),
    )
    .await;
    app.post_json("/auth/logout", Some(&made), json!({})).await;
    let dump = serde_json::to_string(&all_events(&app).await).unwrap();
    assert!(dump.len() > 100);
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !dump.contains(secret.as_str()),
            "a secret is in the audit log"
        );
    }
}
