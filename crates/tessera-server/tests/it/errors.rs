//! The contract's error shapes: 404, 405, 413, 415, malformed JSON; health.

use crate::support::{raw, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::json;

#[tokio::test]
async fn unknown_route_is_404() {
    let app = TestApp::new().await;
    let reply = app.get("/nope", None).await;
    reply.assert_error(404, "not_found", "Not found.");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    assert_eq!(reply.header("referrer-policy"), Some("same-origin"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_after_authentication_as_in_drf() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let auth = format!("Token {key}");
    let headers: &[(&str, &[u8])] = &[("authorization", auth.as_bytes())];
    let reply = app
        .send(raw(Method::DELETE, "/api/example/", headers, Body::empty()))
        .await;
    reply.assert_error(405, "method_not_allowed", "Method \"DELETE\" not allowed.");
    let allow = reply.header("allow").unwrap();
    let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["GET", "HEAD", "POST"]);
    let reply = app
        .send(raw(Method::TRACE, "/auth/me", headers, Body::empty()))
        .await;
    reply.assert_error(405, "method_not_allowed", "Method \"TRACE\" not allowed.");
    assert_eq!(reply.header("allow"), Some("GET,HEAD"));
    // DRF runs authentication and permissions before it looks for a handler:
    // an anonymous wrong method is refused as anonymous.
    let reply = app
        .send(raw(Method::DELETE, "/api/example/", &[], Body::empty()))
        .await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
}

#[tokio::test]
async fn other_content_types_are_415() {
    let app = TestApp::new().await;
    for (content_type, shown) in [
        (&b"text/plain"[..], "text/plain"),
        (
            b"application/xml; charset=utf-8",
            "application/xml; charset=utf-8",
        ),
    ] {
        let request = raw(
            Method::POST,
            "/api-token-auth/",
            &[("content-type", content_type)],
            "username=a",
        );
        app.send(request).await.assert_error(
            415,
            "unsupported_media_type",
            &format!("Unsupported media type \"{shown}\" in request."),
        );
    }
    let request = raw(Method::POST, "/api-token-auth/", &[], "username=a");
    app.send(request).await.assert_error(
        415,
        "unsupported_media_type",
        "Unsupported media type \"\" in request.",
    );
    // JSON-only routes refuse forms.
    let boss = app.staff("boss", "s3cret-pass").await;
    let key = app.recent_token(&boss).await;
    let request = raw(
        Method::POST,
        "/admin/users",
        &[
            ("authorization", format!("Token {key}").as_bytes()),
            ("content-type", b"application/x-www-form-urlencoded"),
        ],
        "username=a&password=b",
    );
    app.send(request).await.assert_error(
        415,
        "unsupported_media_type",
        "Unsupported media type \"application/x-www-form-urlencoded\" in request.",
    );
}

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let app = TestApp::new().await;
    let json_ct: &[(&str, &[u8])] = &[("content-type", b"application/json")];
    let reply = app
        .send(raw(
            Method::POST,
            "/api-token-auth/",
            json_ct,
            "{\"username\": ",
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "parse_error");
    assert!(reply.json()["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let reply = app
        .send(raw(Method::POST, "/api-token-auth/", json_ct, deep))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "parse_error");
    let reply = app
        .send(raw(
            Method::POST,
            "/api-token-auth/",
            json_ct,
            r#"{"username":"a","username":"b","password":"c"}"#,
        ))
        .await;
    reply.assert_error(
        400,
        "parse_error",
        "JSON parse error - duplicate key \"username\" at line 1 column 26",
    );
    let reply = app
        .send(raw(
            Method::POST,
            "/api-token-auth/",
            json_ct,
            vec![0xff, 0xfe],
        ))
        .await;
    assert_eq!(reply.json()["code"], "parse_error");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::with_config(|c| c.limits.body_bytes = 1024).await;
    let big = format!("{{\"username\": \"{}\"}}", "a".repeat(2000));
    let json_ct: &[(&str, &[u8])] = &[("content-type", b"application/json")];
    let reply = app
        .send(raw(Method::POST, "/api-token-auth/", json_ct, big.clone()))
        .await;
    reply.assert_error(413, "request_too_large", "Request body too large.");
    // Declared larger than the limit: refused before reading.
    let declared: &[(&str, &[u8])] = &[
        ("content-type", b"application/json"),
        ("content-length", b"99999999"),
    ];
    let reply = app
        .send(raw(
            Method::POST,
            "/api-token-auth/",
            declared,
            Body::empty(),
        ))
        .await;
    reply.assert_error(413, "request_too_large", "Request body too large.");
    // Streamed without a length.
    let stream = futures_util_stream(big);
    let reply = app
        .send(raw(Method::POST, "/api-token-auth/", json_ct, stream))
        .await;
    reply.assert_error(413, "request_too_large", "Request body too large.");
    // Just under the limit is parsed.
    let ok = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "a".repeat(900), "password": "x"}),
        )
        .await;
    assert_eq!(ok.status, 400);
    assert_eq!(
        ok.json(),
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
}

fn futures_util_stream(text: String) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(100)
        .map(|c| Ok(c.to_vec()))
        .collect();
    Body::from_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_core_stream::iter(chunks)
}

mod futures_core_stream {
    pub use futures::stream::{iter, Stream};
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    let reply = app.get("/healthz", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok"}));
    let reply = app.get("/readyz", None).await;
    assert_eq!(reply.status, 200);
    // SQLite: one process, counting in its memory.
    assert_eq!(reply.json(), json!({"status": "ok", "counters": "memory"}));
}
