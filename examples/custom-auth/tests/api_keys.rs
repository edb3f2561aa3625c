//! The API-key scheme over HTTP, in-process: DRF's three answers, the
//! 401-or-403 rule of the route's first authenticator, scopes, and the
//! ready views with a custom credential.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use custom_auth::{app, ApiKeys, CONTAINS_SPACES, INVALID_KEY, NO_CREDENTIALS, USER_INACTIVE};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tessera_axum::core::secret::Secret;
use tessera_axum::core::user::{NewUser, UserUpdate};
use tessera_axum::prelude::*;
use tessera_testkit::MemoryStore;
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse-staple-9";

struct Fixture {
    tessera: Tessera,
    app: Router,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

fn settings() -> Settings {
    Settings {
        secure_cookies: false,
        ..Settings::default()
    }
}

fn fixture_with(settings: impl FnOnce(&ApiKeys) -> Settings) -> Fixture {
    let hasher = PasswordHasher::new(
        Argon2Params {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        },
        1,
        64,
    )
    .unwrap();
    let keys = ApiKeys::default();
    let tessera = Tessera::builder()
        .store(MemoryStore::default())
        .hasher(hasher)
        .settings(settings(&keys))
        .build()
        .unwrap();
    Fixture {
        app: app(&tessera, keys),
        tessera,
    }
}

fn fixture() -> Fixture {
    fixture_with(|_| settings())
}

impl Fixture {
    async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn user(&self, username: &str) -> User {
        let hash = self
            .tessera
            .hasher()
            .hash(&Secret::new(PASSWORD.to_owned()))
            .await
            .unwrap();
        self.tessera
            .stores()
            .users
            .create_user(NewUser {
                username: username.to_owned(),
                email: String::new(),
                password_hash: hash,
                is_active: true,
                is_staff: false,
                is_superuser: false,
                date_joined: self.tessera.clock().now(),
            })
            .await
            .unwrap()
    }

    /// A built-in token key from `/api-token-auth/`.
    async fn token(&self, username: &str) -> String {
        let answer = self
            .send(
                Method::POST,
                "/api-token-auth/",
                None,
                Some(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["token"].as_str().unwrap().to_owned()
    }

    /// An API key with `scopes`, issued over HTTP with the user's token.
    async fn api_key(&self, username: &str, scopes: &[&str]) -> String {
        let token = self.token(username).await;
        let answer = self
            .send(
                Method::POST,
                "/api-keys",
                Some(&format!("Token {token}")),
                Some(json!({"scopes": scopes})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.body["scopes"], json!(scopes));
        answer.body["key"].as_str().unwrap().to_owned()
    }
}

fn refused_401(answer: &Answer, detail: &str, code: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Api-Key");
    assert_eq!(answer.body, json!({"detail": detail, "code": code}));
}

#[tokio::test]
async fn a_key_authenticates_its_user_with_the_custom_credential() {
    let f = fixture();
    f.user("alice").await;
    let key = f.api_key("alice", &[]).await;
    let (prefix, secret) = key.split_once('.').unwrap();
    assert_eq!((prefix.len(), secret.len()), (16, 64));
    let answer = f
        .send(
            Method::GET,
            "/whoami",
            Some(&format!("Api-Key {key}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"user": "alice", "auth": "api-key"}));
    // The keyword is case-insensitive, as DRF's.
    let answer = f
        .send(
            Method::GET,
            "/whoami",
            Some(&format!("api-key  {key}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_key_the_next_authenticator_is_asked() {
    let f = fixture();
    f.user("alice").await;
    let token = f.token("alice").await;
    let answer = f
        .send(
            Method::GET,
            "/whoami",
            Some(&format!("Token {token}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"user": "alice", "auth": "token"}));
    // Nobody recognises the request: anonymous, refused with the first
    // authenticator's challenge.
    let answer = f.send(Method::GET, "/whoami", None, None).await;
    refused_401(
        &answer,
        "Authentication credentials were not provided.",
        "not_authenticated",
    );
    let answer = f
        .send(Method::GET, "/whoami", Some("Basic YTpi"), None)
        .await;
    refused_401(
        &answer,
        "Authentication credentials were not provided.",
        "not_authenticated",
    );
}

#[tokio::test]
async fn a_bad_key_fails_the_request_with_401_and_the_challenge() {
    let f = fixture();
    f.user("alice").await;
    let key = f.api_key("alice", &[]).await;
    let (prefix, secret) = key.split_once('.').unwrap();
    let mut wrong = secret.to_owned().into_bytes();
    wrong[63] = if wrong[63] == b'0' { b'1' } else { b'0' };
    let wrong_secret = format!("{prefix}.{}", String::from_utf8(wrong).unwrap());
    let unknown_prefix = format!("{}.{secret}", "0".repeat(16));
    for bad in [
        wrong_secret.as_str(),
        unknown_prefix.as_str(),
        prefix,
        "not-a-key",
        &format!("{prefix}.{}", &secret[..63]),
    ] {
        let answer = f
            .send(
                Method::GET,
                "/whoami",
                Some(&format!("Api-Key {bad}")),
                None,
            )
            .await;
        refused_401(&answer, INVALID_KEY, "authentication_failed");
    }
    let answer = f.send(Method::GET, "/whoami", Some("Api-Key"), None).await;
    refused_401(&answer, NO_CREDENTIALS, "authentication_failed");
    let answer = f
        .send(
            Method::GET,
            "/whoami",
            Some(&format!("Api-Key {key} x")),
            None,
        )
        .await;
    refused_401(&answer, CONTAINS_SPACES, "authentication_failed");
}

#[tokio::test]
async fn a_bad_key_where_the_first_authenticator_is_the_session_is_403() {
    let f = fixture();
    f.user("alice").await;
    let key = f.api_key("alice", &[]).await;
    let answer = f
        .send(Method::GET, "/reports", Some("Api-Key not-a-key"), None)
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(!answer.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(
        answer.body,
        json!({"detail": INVALID_KEY, "code": "authentication_failed"})
    );
    let answer = f.send(Method::GET, "/reports", None, None).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["code"], "not_authenticated");
    let answer = f
        .send(
            Method::GET,
            "/reports",
            Some(&format!("Api-Key {key}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"reports": [], "for": "alice"}));
}

#[tokio::test]
async fn a_scoped_key_passes_only_the_routes_its_scopes_allow() {
    let f = fixture();
    f.user("alice").await;
    let other = f.api_key("alice", &["billing:read"]).await;
    let reader = f.api_key("alice", &["reports:read"]).await;
    let answer = f
        .send(
            Method::GET,
            "/reports",
            Some(&format!("Api-Key {other}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.body,
        json!({"detail": "Token scope \"reports:read\" required.", "code": "permission_denied"})
    );
    let answer = f
        .send(
            Method::GET,
            "/reports",
            Some(&format!("Api-Key {reader}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    // `/whoami` declares no scope: any key passes.
    let answer = f
        .send(
            Method::GET,
            "/whoami",
            Some(&format!("Api-Key {other}")),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn the_key_of_a_deactivated_user_is_refused() {
    let f = fixture();
    let alice = f.user("alice").await;
    let key = f.api_key("alice", &[]).await;
    let update = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    f.tessera
        .stores()
        .users
        .update_user(alice.id, update)
        .await
        .unwrap();
    let answer = f
        .send(
            Method::GET,
            "/whoami",
            Some(&format!("Api-Key {key}")),
            None,
        )
        .await;
    refused_401(&answer, USER_INACTIVE, "authentication_failed");
}

#[tokio::test]
async fn keys_are_issued_only_to_a_signed_in_caller() {
    let f = fixture();
    f.user("alice").await;
    let answer = f
        .send(Method::POST, "/api-keys", None, Some(json!({})))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Token");
    // A key does not make keys: the route does not list the scheme.
    let key = f.api_key("alice", &[]).await;
    let answer = f
        .send(
            Method::POST,
            "/api-keys",
            Some(&format!("Api-Key {key}")),
            Some(json!({})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["code"], "not_authenticated");
    let token = f.token("alice").await;
    let answer = f
        .send(
            Method::POST,
            "/api-keys",
            Some(&format!("Token {token}")),
            Some(json!({"scopes": "x"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.body,
        json!({"scopes": ["Expected a list of strings."]})
    );
}

#[tokio::test]
async fn as_a_default_authenticator_the_views_see_a_custom_credential() {
    let f = fixture_with(|keys| Settings {
        default_authenticators: vec![
            Authenticator::custom(keys.clone()),
            Authenticator::Token,
            Authenticator::Session,
        ],
        ..settings()
    });
    f.user("alice").await;
    let key = f.api_key("alice", &[]).await;
    let authorization = format!("Api-Key {key}");
    let me = f
        .send(Method::GET, "/auth/me", Some(&authorization), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["auth"], "api-key");
    assert_eq!(me.body["user"]["username"], "alice");
    // Tessera stores nothing of the key: logging it out is refused, and it
    // still works after.
    let logout = f
        .send(Method::POST, "/auth/logout", Some(&authorization), None)
        .await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        logout.body,
        json!({"detail": "Not available for a credential of the \"api-key\" scheme.", "code": "permission_denied"})
    );
    let reauth = f
        .send(
            Method::POST,
            "/auth/reauth",
            Some(&authorization),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(reauth.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reauth.body["detail"],
        "Not available for a credential of the \"api-key\" scheme."
    );
    let me = f
        .send(Method::GET, "/auth/me", Some(&authorization), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // A refused key on a view answers with the scheme's challenge.
    let me = f
        .send(Method::GET, "/auth/me", Some("Api-Key nope"), None)
        .await;
    refused_401(&me, INVALID_KEY, "authentication_failed");
}
