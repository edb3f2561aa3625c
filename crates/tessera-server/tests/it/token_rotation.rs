//! Tokens a thief cannot keep alive (API.md "Tokens of the current user",
//! SECURITY.md T6, T7): rotation inherits the expiry, a rotated-out key
//! presented after its grace period (or rotated again) revokes its whole
//! family with one `token_reuse` alert, rotation counts against the cap, and
//! the optional idle timeout.

use crate::lifecycle::obtain;
use crate::support::{Reply, TestApp};
use crate::throttling::{receiver, wait_for};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_axum::accounts::TOKEN_LIMIT;
use tessera_core::audit::{AuditRecord, EventKind};

/// Rotates `key`; the new key.
async fn rotate(app: &TestApp, key: &str) -> String {
    let reply = app
        .post_json("/auth/tokens/rotate", Some(key), json!({}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["token"].as_str().unwrap().to_owned()
}

/// The row of `GET /auth/tokens` for the calling key.
async fn own_row(app: &TestApp, key: &str) -> Value {
    let rows = app.get("/auth/tokens", Some(key)).await;
    assert_eq!(rows.status, 200);
    rows.json()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["current"] == true)
        .unwrap()
        .clone()
}

/// Asserts that `reply` is the refusal of an unknown key, byte for byte.
#[track_caller]
fn assert_invalid_token(reply: &Reply) {
    reply.assert_error(401, "authentication_failed", "Invalid token.");
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
}

/// The `security_alert` events stored so far.
async fn alerts(app: &TestApp) -> Vec<AuditRecord> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.event == EventKind::SecurityAlert)
        .collect()
}

#[tokio::test]
async fn a_rotated_out_key_presented_after_its_grace_revokes_the_whole_family() {
    let (url, posted) = receiver(vec![]).await;
    let app = TestApp::with_config(|c| c.alerts.webhook_url = Some(url)).await;
    let alice = app.user("alice", "s3cret-pass").await;
    app.staff("root", "r00t-pass-word").await;
    let admin = obtain(&app, "root", "r00t-pass-word").await;
    let k1 = obtain(&app, "alice", "s3cret-pass").await;
    let k1_row = own_row(&app, &k1).await;

    app.clock.advance(Duration::from_secs(600));
    let k2 = rotate(&app, &k1).await;
    app.clock.advance(Duration::from_secs(30));
    let k3 = rotate(&app, &k2).await;
    let k3_row = own_row(&app, &k3).await;
    assert_eq!(
        k3_row["expires"], k1_row["expires"],
        "rotation never extends a life"
    );
    // K1 and K2 are past their grace periods; K3, the newest, still works.
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(app.get("/auth/me", Some(&k3)).await.status, 200);
    assert!(alerts(&app).await.is_empty());

    let reuse = app.get("/auth/me", Some(&k1)).await;
    assert_invalid_token(&reuse);
    let stranger = tessera_core::token::TokenKey::generate();
    let unknown = app.get("/auth/me", Some(stranger.expose())).await;
    assert_eq!(reuse.body, unknown.body, "reuse looks like an unknown key");
    for key in [&k3, &k2, &k1] {
        assert_invalid_token(&app.get("/auth/me", Some(key)).await);
    }
    let stored = app
        .state
        .tessera
        .stores()
        .tokens
        .list_tokens(alice.id, app.state.tessera.clock().now())
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");

    // One alert, in the audit log and at the webhook.
    let audit = app
        .get("/admin/audit?event=security_alert", Some(&admin))
        .await;
    assert_eq!(audit.status, 200);
    let audit = audit.json();
    assert_eq!(audit["count"], 1, "{audit}");
    let alert = &audit["results"][0];
    assert_eq!(alert["user"], alice.id);
    assert_eq!(alert["username"], "alice");
    assert_eq!(
        alert["detail"],
        json!({
            "kind": "token_reuse",
            "username": "alice",
            "token_id": k1_row["id"],
            "family": k1_row["id"],
        })
    );
    wait_for(&posted, 1).await;
    let got = posted.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "security_alert");
    assert_eq!(got[0]["detail"], alert["detail"]);
}

#[tokio::test]
async fn the_old_key_works_in_its_grace_period_and_one_reuse_raises_one_alert() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let k1 = obtain(&app, "alice", "s3cret-pass").await;
    let k2 = rotate(&app, &k1).await;
    app.clock.advance(Duration::from_secs(59));
    assert_eq!(app.get("/auth/me", Some(&k1)).await.status, 200);
    assert_eq!(app.get("/auth/me", Some(&k2)).await.status, 200);
    // Listed while it works, ending with its grace period.
    let rows = app.get("/auth/tokens", Some(&k2)).await.json();
    let old = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["current"] == false)
        .unwrap()
        .clone();
    assert_eq!(old["expires"], "2026-01-01T00:01:00Z");
    app.clock.advance(Duration::from_secs(1));
    for _ in 0..3 {
        assert_invalid_token(&app.get("/auth/me", Some(&k1)).await);
    }
    assert_invalid_token(&app.get("/auth/me", Some(&k2)).await);
    assert_eq!(alerts(&app).await.len(), 1);
}

#[tokio::test]
async fn rotating_a_key_twice_is_reuse() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let k1 = obtain(&app, "alice", "s3cret-pass").await;
    let k1_id = own_row(&app, &k1).await["id"].clone();
    let k2 = rotate(&app, &k1).await;
    // Still within K1's grace period.
    app.clock.advance(Duration::from_secs(5));
    let again = app
        .post_json("/auth/tokens/rotate", Some(&k1), json!({}))
        .await;
    assert_invalid_token(&again);
    for key in [&k1, &k2] {
        assert_invalid_token(&app.get("/auth/me", Some(key)).await);
    }
    let alerts = alerts(&app).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].user, Some(alice.id));
    assert_eq!(alerts[0].detail["kind"], "token_reuse");
    assert_eq!(alerts[0].detail["token_id"], k1_id);
    let rotated = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.event == EventKind::TokenRotated)
        .count();
    assert_eq!(rotated, 1, "the refused rotation wrote no token_rotated");
}

#[tokio::test]
async fn of_two_concurrent_rotations_of_one_key_exactly_one_wins() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let k1 = obtain(&app, "alice", "s3cret-pass").await;
    let replies = futures::future::join_all(
        (0..2).map(|_| app.post_json("/auth/tokens/rotate", Some(&k1), json!({}))),
    )
    .await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 401]);
    let lost = replies.iter().find(|r| r.status == 401).unwrap();
    assert_invalid_token(lost);
    let alerts = alerts(&app).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].detail["kind"], "token_reuse");
    // Reuse revoked the family, the winner's new key included.
    let won = replies.iter().find(|r| r.status == 200).unwrap().json();
    let new = won["token"].as_str().unwrap();
    assert_invalid_token(&app.get("/auth/me", Some(new)).await);
    assert_invalid_token(&app.get("/auth/me", Some(&k1)).await);
}

#[tokio::test]
async fn rotation_at_the_cap_is_refused_and_stores_nothing() {
    let app = TestApp::with_config(|c| c.tokens.max_per_user = 2).await;
    app.user("alice", "s3cret-pass").await;
    let k1 = obtain(&app, "alice", "s3cret-pass").await;
    obtain(&app, "alice", "s3cret-pass").await;
    // Ids and expiries: `last_used` is recorded as the listing goes.
    let listed = |rows: Value| -> Vec<(Value, Value)> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].clone(), r["expires"].clone()))
            .collect()
    };
    let before = app.get("/auth/tokens", Some(&k1)).await.json();
    let events_before = app.audit_events().await.len();
    let reply = app
        .post_json("/auth/tokens/rotate", Some(&k1), json!({}))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json(), json!({"non_field_errors": [TOKEN_LIMIT]}));
    let after = app.get("/auth/tokens", Some(&k1)).await.json();
    assert_eq!(listed(after), listed(before.clone()));
    assert_eq!(app.audit_events().await.len(), events_before);
    // K1 was not rotated out: it outlives any grace period, and rotates
    // once a slot is free.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.get("/auth/me", Some(&k1)).await.status, 200);
    assert!(alerts(&app).await.is_empty());
    let other = before
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["current"] == false)
        .unwrap()["id"]
        .clone();
    let delete = crate::support::raw(
        axum::http::Method::DELETE,
        &format!("/auth/tokens/{other}"),
        &[("authorization", format!("Token {k1}").as_bytes())],
        axum::body::Body::empty(),
    );
    assert_eq!(app.send(delete).await.status, 204);
    rotate(&app, &k1).await;
}

/// Waits until the token's use at `at` is recorded (written off the request
/// path).
async fn until_recorded(app: &TestApp, key: &str, at: &str) {
    for _ in 0..100 {
        if own_row(app, key).await["last_used"] == at {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the use at {at} was not recorded");
}

#[tokio::test]
async fn with_an_idle_timeout_a_key_unused_that_long_is_refused() {
    let app = TestApp::with_config(|c| {
        c.tokens.idle_timeout = tessera_server::config::Lifetime(Some(Duration::from_secs(3600)))
    })
    .await;
    let alice = app.user("alice", "s3cret-pass").await;
    let used = app.token(&alice).await;
    let unused = app.token(&alice).await;
    // Never used: idle from its issue.
    app.clock.advance(Duration::from_secs(50 * 60));
    assert_eq!(app.get("/api/example/", Some(&used)).await.status, 200);
    until_recorded(&app, &used, "2026-01-01T00:50:00Z").await;
    // 59 minutes after its last use, 109 after its issue (as a cached entry
    // read before the use was recorded may still say: the store is asked).
    app.clock.advance(Duration::from_secs(59 * 60));
    assert_eq!(app.get("/api/example/", Some(&used)).await.status, 200);
    let refused = app.get("/api/example/", Some(&unused)).await;
    assert_invalid_token(&refused);
    // An hour after its last use, `used` is refused too.
    until_recorded(&app, &used, "2026-01-01T01:49:00Z").await;
    app.clock.advance(Duration::from_secs(60 * 60));
    assert_invalid_token(&app.get("/api/example/", Some(&used)).await);
}

#[tokio::test]
async fn without_an_idle_timeout_an_unused_key_lives_to_its_expiry() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    app.clock.advance(Duration::from_secs(89 * 86_400));
    assert_eq!(app.get("/api/example/", Some(&key)).await.status, 200);
}

#[test]
fn an_idle_timeout_under_two_minutes_is_refused() {
    let mut config = tessera_server::config::Config::default();
    config.tokens.idle_timeout = tessera_server::config::Lifetime(Some(Duration::from_secs(119)));
    let error = tessera_server::settings(&config).err().unwrap().to_string();
    assert!(error.contains("tokens.idle_timeout"), "{error}");
    config.tokens.idle_timeout = tessera_server::config::Lifetime(Some(Duration::from_secs(120)));
    assert_eq!(
        tessera_server::settings(&config)
            .unwrap()
            .token_idle_timeout,
        Some(Duration::from_secs(120))
    );
}
