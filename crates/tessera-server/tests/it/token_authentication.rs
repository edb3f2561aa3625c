//! DRF's `TokenAuthentication`, case by case, over HTTP.

use crate::support::{raw, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::json;
use std::time::Duration;

async fn get_with_header(app: &TestApp, path: &str, value: &[u8]) -> crate::support::Reply {
    app.send(raw(
        Method::GET,
        path,
        &[("authorization", value)],
        Body::empty(),
    ))
    .await
}

#[tokio::test]
async fn valid_token_authenticates_with_any_keyword_case() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    for keyword in ["Token", "token", "TOKEN", "tOkEn"] {
        let reply =
            get_with_header(&app, "/api/example/", format!("{keyword} {key}").as_bytes()).await;
        assert_eq!(reply.status, 200, "{keyword}");
        assert_eq!(reply.json(), json!({"user": "alice", "auth": "token"}));
    }
    let reply = get_with_header(&app, "/api/secure/", format!("Token {key}").as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"message": "Hello, secure world!"}));
    let reply = get_with_header(
        &app,
        "/api/protected/",
        format!("Token   {key}  ").as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"message": "This is a protected endpoint"})
    );
}

#[tokio::test]
async fn token_without_credentials_is_rejected_with_401() {
    let app = TestApp::new().await;
    let reply = get_with_header(&app, "/api/example/", b"Token").await;
    reply.assert_error(
        401,
        "authentication_failed",
        "Invalid token header. No credentials provided.",
    );
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn token_with_spaces_is_rejected_with_401() {
    let app = TestApp::new().await;
    let reply = get_with_header(&app, "/api/example/", b"Token a b").await;
    reply.assert_error(
        401,
        "authentication_failed",
        "Invalid token header. Token string should not contain spaces.",
    );
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn token_with_invalid_utf8_is_rejected_with_401() {
    let app = TestApp::new().await;
    let reply = get_with_header(&app, "/api/example/", b"Token \xc3\x28abc").await;
    reply.assert_error(
        401,
        "authentication_failed",
        "Invalid token header. Token string should not contain invalid characters.",
    );
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn unknown_malformed_and_checksum_failing_keys_are_invalid() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let mut flipped = key.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let unknown = tessera_core::token::TokenKey::generate()
        .expose()
        .to_owned();
    for candidate in [
        "nonsense".to_owned(),
        "é".to_owned(),
        flipped,
        unknown,
        "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b".to_owned(),
    ] {
        let reply = get_with_header(
            &app,
            "/api/example/",
            format!("Token {candidate}").as_bytes(),
        )
        .await;
        reply.assert_error(401, "authentication_failed", "Invalid token.");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Token"),
            "{candidate}"
        );
    }
}

#[tokio::test]
async fn other_schemes_are_ignored_and_the_request_is_anonymous() {
    let app = TestApp::new().await;
    for value in [
        &b"Basic YWxpY2U6cHc="[..],
        b"Bearer tsr_x",
        b"Tokens abc",
        b"",
    ] {
        let reply = get_with_header(&app, "/api/example/", value).await;
        reply.assert_error(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        assert_eq!(reply.header("www-authenticate"), Some("Token"));
        let reply = get_with_header(&app, "/api/public/", value).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), json!({"user": null}));
    }
}

#[tokio::test]
async fn bearer_is_accepted_only_when_enabled() {
    let app = TestApp::with_config(|c| c.authentication.accept_bearer = true).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let reply = get_with_header(&app, "/api/example/", format!("Bearer {key}").as_bytes()).await;
    assert_eq!(reply.status, 200);
    let reply = get_with_header(&app, "/api/example/", b"Bearer").await;
    reply.assert_error(
        401,
        "authentication_failed",
        "Invalid token header. No credentials provided.",
    );
}

#[tokio::test]
async fn a_configured_keyword_replaces_token() {
    let app = TestApp::with_config(|c| c.authentication.token_keyword = "Key".into()).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let reply = get_with_header(&app, "/api/example/", format!("key {key}").as_bytes()).await;
    assert_eq!(reply.status, 200);
    let reply = get_with_header(&app, "/api/example/", format!("Token {key}").as_bytes()).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    assert_eq!(reply.header("www-authenticate"), Some("Key"));
}

#[tokio::test]
async fn inactive_users_key_is_refused() {
    let app = TestApp::new().await;
    let bob = app.user_with("bob", "s3cret-pass", false, false).await;
    let key = app.token(&bob).await;
    let reply = get_with_header(&app, "/api/example/", format!("Token {key}").as_bytes()).await;
    reply.assert_error(401, "authentication_failed", "User inactive or deleted.");
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn expired_key_is_answered_like_an_unknown_one() {
    let app = TestApp::with_config(|c| {
        c.tokens.default_lifetime = tessera_server::config::Lifetime(Some(Duration::from_secs(60)))
    })
    .await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    app.clock.advance(Duration::from_secs(59));
    let reply = get_with_header(&app, "/api/example/", format!("Token {key}").as_bytes()).await;
    assert_eq!(reply.status, 200);
    app.clock.advance(Duration::from_secs(1));
    let expired = get_with_header(&app, "/api/example/", format!("Token {key}").as_bytes()).await;
    let unknown = get_with_header(
        &app,
        "/api/example/",
        format!(
            "Token {}",
            tessera_core::token::TokenKey::generate().expose()
        )
        .as_bytes(),
    )
    .await;
    expired.assert_error(401, "authentication_failed", "Invalid token.");
    assert_eq!(expired.body, unknown.body);
    // Byte-identical but for the request id.
    let strip = |mut h: axum::http::HeaderMap| {
        h.remove("x-request-id");
        h
    };
    assert_eq!(
        strip(expired.headers.clone()),
        strip(unknown.headers.clone())
    );
}

#[tokio::test]
async fn keys_in_the_query_string_are_never_accepted() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    for param in ["token", "auth_token", "access_token", "key"] {
        let reply = app.get(&format!("/api/example/?{param}={key}"), None).await;
        reply.assert_error(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    }
}

#[tokio::test]
async fn imported_drf_keys_authenticate_by_digest() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let drf_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
    let digest = tessera_core::token::TokenKey::parse(drf_key)
        .unwrap()
        .digest();
    let now = app.state.tessera.clock().now();
    let new = tessera_core::token::NewToken {
        user_id: alice.id,
        digest,
        name: "imported".into(),
        scopes: vec![],
        created: now,
        expires: None,
        authenticated_at: None,
    };
    app.state
        .tessera
        .stores()
        .tokens
        .create_token(new, None)
        .await
        .unwrap();
    let reply = get_with_header(&app, "/api/example/", format!("Token {drf_key}").as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"user": "alice", "auth": "token"}));
}

#[tokio::test]
async fn only_the_digest_is_stored() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let db = std::fs::read(app.dir.path().join("tessera.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("tessera.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "the key is stored in clear"
        );
    }
    let digest = tessera_core::token::TokenKey::parse(&key)
        .unwrap()
        .digest()
        .0;
    let found = [&db, &wal]
        .iter()
        .any(|b| b.windows(32).any(|w| w == digest));
    assert!(found, "the digest should be stored");
}
