//! Failing well under overload and outages (issue 14): a login waits a
//! bounded time for its password hash, and `/readyz` answers within
//! `server.readiness_timeout` whatever the stores do.

use crate::support::TestApp;
use axum::http::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::store::Health;
use tessera_core::StoreError;

/// A store that never answers, as a database behind a dead network path.
struct Hanging;

#[async_trait::async_trait]
impl Health for Hanging {
    async fn ping(&self) -> Result<(), StoreError> {
        std::future::pending().await
    }
}

/// A store that answers at once that it cannot be reached.
struct Down;

#[async_trait::async_trait]
impl Health for Down {
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn readyz_answers_503_naming_a_store_that_does_not_answer_in_time() {
    let app = TestApp::with_stores(
        |config| config.server.readiness_timeout = Duration::from_millis(200),
        |mut stores| {
            stores.health = Arc::new(Hanging);
            stores
        },
    )
    .await;
    // Bounded here only so that a regression fails instead of hanging.
    let reply = tokio::time::timeout(Duration::from_secs(60), app.get("/readyz", None))
        .await
        .expect("/readyz did not answer: it waits for the hanging store");
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.json(),
        json!({"detail": "Service temporarily unavailable.", "code": "unavailable", "store": "database"})
    );
    assert!(reply.header("retry-after").is_some());
    // The process itself still runs.
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

#[tokio::test]
async fn readyz_answers_503_naming_a_store_that_is_down() {
    let app = TestApp::with_stores(
        |_| {},
        |mut stores| {
            stores.health = Arc::new(Down);
            stores
        },
    )
    .await;
    let reply = app.get("/readyz", None).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json()["store"], "database");
    assert_eq!(reply.json()["code"], "unavailable");
}

#[tokio::test]
async fn a_login_whose_hash_cannot_start_within_max_queue_wait_gets_503_with_retry_after() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.recent_token(&alice).await;
    let hasher = app.state.tessera.hasher().clone();
    // No job can start within a nanosecond of being queued: every password
    // check waits past the limit.
    let _ = hasher.clone().with_max_queue_wait(Duration::from_nanos(1));
    let before = hasher.argon2_runs();
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    let token_login = app.post_json("/api-token-auth/", None, body.clone()).await;
    token_login.assert_error(503, "unavailable", "Service temporarily unavailable.");
    assert!(token_login.header("retry-after").is_some());
    let (_, session_login) = crate::sessions::login(&app, "alice", "s3cret-pass").await;
    assert_eq!(session_login.status, 503);
    assert!(session_login.header("retry-after").is_some());
    let reauth = app
        .call(
            Method::POST,
            "/auth/reauth",
            &key,
            Some(json!({"password": "s3cret-pass"})),
        )
        .await;
    assert_eq!(reauth.status, 503);
    // Dropped unhashed.
    assert_eq!(hasher.argon2_runs(), before);
    assert_eq!(hasher.timed_out(), 3);
}
