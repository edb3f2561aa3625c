//! The ready views of `tessera_axum::views`, in-process over HTTP, without
//! the server: every view's success and refusals, DRF's 401-or-403 rule with
//! `WWW-Authenticate`, Django's CSRF refusals, the throttles, and the views
//! under other paths. Stored state is checked after each change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera_axum::prelude::*;
use tessera_axum::views::OLD_PASSWORD_INCORRECT;
use tessera_core::throttle::Rate;
use tessera_testkit::{ManualClock, MemoryStore};
use time::macros::datetime;
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse-staple-9";
const NEW_PASSWORD: &str = "battery-staple-horse-7";
const LOGIN_FAILED: &str = "Unable to log in with provided credentials.";
const NOT_PROVIDED: &str = "Authentication credentials were not provided.";

fn hasher() -> PasswordHasher {
    let params = Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    PasswordHasher::new(params, 1, 64).unwrap()
}

fn settings() -> Settings {
    Settings {
        secure_cookies: false,
        ..Settings::default()
    }
}

async fn hello(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({ "hello": me.user.username }))
}

async fn open(Caller(identity): Caller) -> Json<Value> {
    Json(json!({ "user": identity.user().map(|u| u.username.clone()) }))
}

/// An application with the views and a few routes of its own, on a
/// manual clock.
struct App {
    tessera: Tessera,
    clock: ManualClock,
    router: Router,
}

/// One response, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// The `Set-Cookie` of `name`, whole (value and attributes).
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the `name` cookie the response sets.
    fn cookie(&self, name: &str) -> String {
        let whole = self
            .set_cookie(name)
            .unwrap_or_else(|| panic!("no {name} cookie"));
        let pair = whole.split(';').next().unwrap();
        pair.split_once('=').unwrap().1.to_owned()
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A request being built.
struct Call {
    request: http::request::Builder,
    body: Body,
}

impl Call {
    fn new(method: Method, path: &str) -> Self {
        Call {
            request: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }
    fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }
    fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }
    fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }
    fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }
    fn token(self, key: &str) -> Self {
        self.header("authorization", &format!("Token {key}"))
    }
    fn cookies(self, cookies: &str) -> Self {
        self.header("cookie", cookies)
    }
    fn json(mut self, body: Value) -> Self {
        self.request = self.request.header("content-type", "application/json");
        self.body = Body::from(body.to_string());
        self
    }
    fn form(mut self, body: &str) -> Self {
        self.request = self
            .request
            .header("content-type", "application/x-www-form-urlencoded");
        self.body = Body::from(body.to_owned());
        self
    }
    fn peer(mut self, peer: &str) -> Self {
        let addr: SocketAddr = peer.parse().unwrap();
        self.request = self.request.extension(ConnectInfo(addr));
        self
    }
}

/// A signed-in session: its cookie and the CSRF pair for unsafe methods.
struct Session {
    id: String,
    csrf_cookie: String,
    csrf_token: String,
}

impl Session {
    /// The request with the session cookie only (safe methods).
    fn on(&self, call: Call) -> Call {
        call.cookies(&format!("sessionid={}", self.id))
    }
    /// The request with the session and the CSRF cookie and header.
    fn unsafe_on(&self, call: Call) -> Call {
        call.cookies(&format!(
            "sessionid={}; csrftoken={}",
            self.id, self.csrf_cookie
        ))
        .header("x-csrftoken", &self.csrf_token)
    }
}

impl App {
    fn new(settings: Settings) -> Self {
        Self::with_views(settings, Views::new().registration(true))
    }

    fn with_views(settings: Settings, views: Views) -> Self {
        let clock = ManualClock::new(datetime!(2026-01-01 12:00 UTC));
        let tessera = Tessera::builder()
            .store(MemoryStore::default())
            .hasher(hasher())
            .settings(settings)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let router = Router::new()
            .route("/hello", get(hello).layer(Policy::new().layer(&tessera)))
            .route(
                "/token-only",
                get(hello).layer(
                    Policy::new()
                        .authenticators([Authenticator::Token])
                        .layer(&tessera),
                ),
            )
            .route(
                "/session-first",
                get(hello).layer(
                    Policy::new()
                        .authenticators([Authenticator::Session, Authenticator::Token])
                        .layer(&tessera),
                ),
            )
            .route(
                "/staff",
                get(hello).layer(Policy::new().permission(IsStaff).layer(&tessera)),
            )
            .route(
                "/open",
                get(open).layer(Policy::allow_any().layer(&tessera)),
            )
            .route(
                "/burst",
                get(open).layer(
                    Policy::allow_any()
                        .throttle(Throttle::Scoped("burst".to_owned()))
                        .layer(&tessera),
                ),
            )
            .merge(views.router(&tessera));
        App {
            tessera,
            clock,
            router,
        }
    }

    async fn send(&self, call: Call) -> Answer {
        let request = call.request.body(call.body).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn register(&self, username: &str) -> i64 {
        let answer = self
            .send(
                Call::post("/auth/register")
                    .json(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["user"]["id"].as_i64().unwrap()
    }

    async fn key(&self, username: &str, password: &str) -> String {
        let answer = self
            .send(
                Call::post("/api-token-auth/")
                    .json(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["token"].as_str().unwrap().to_owned()
    }

    async fn csrf(&self) -> (String, String) {
        let answer = self.send(Call::get("/auth/csrf")).await;
        assert_eq!(answer.status, StatusCode::OK);
        (
            answer.cookie("csrftoken"),
            answer.body["csrfToken"].as_str().unwrap().to_owned(),
        )
    }

    async fn login(&self, username: &str) -> Session {
        let (csrf_cookie, csrf_token) = self.csrf().await;
        let answer = self
            .send(
                Call::post("/auth/login")
                    .cookies(&format!("csrftoken={csrf_cookie}"))
                    .header("x-csrftoken", &csrf_token)
                    .json(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        Session {
            id: answer.cookie("sessionid"),
            csrf_cookie,
            csrf_token,
        }
    }

    /// Who `/auth/me` says the call is, or its status.
    async fn me(&self, call: Call) -> Result<(String, String), StatusCode> {
        let answer = self.send(call).await;
        if answer.status != StatusCode::OK {
            return Err(answer.status);
        }
        Ok((
            answer.body["user"]["username"].as_str().unwrap().to_owned(),
            answer.body["auth"].as_str().unwrap().to_owned(),
        ))
    }

    async fn live_tokens(&self, user: i64) -> usize {
        let now = self.tessera.clock().now();
        self.tessera
            .stores()
            .tokens
            .list_tokens(user, now)
            .await
            .unwrap()
            .len()
    }
}

fn refused(answer: &Answer, status: StatusCode, detail: &str, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body, json!({"detail": detail, "code": code}));
}

#[tokio::test]
async fn obtain_token_takes_json_and_forms_and_refuses_like_drf() {
    let app = App::new(settings());
    let alice = app.register("alice").await;
    let first = app.key("alice", PASSWORD).await;
    let answer = app
        .send(Call::post("/api-token-auth/").form(&format!("username=alice&password={PASSWORD}")))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.body.as_object().unwrap();
    assert_eq!(body.len(), 1, "only the key: {body:?}");
    let second = body["token"].as_str().unwrap();
    // Each call issues a new key; both work.
    assert_ne!(first, second);
    assert_eq!(app.live_tokens(alice).await, 2);
    for key in [first.as_str(), second] {
        assert_eq!(
            app.me(Call::get("/auth/me").token(key)).await,
            Ok(("alice".into(), "token".into()))
        );
    }

    let wrong = app
        .send(Call::post("/api-token-auth/").json(json!({"username": "alice", "password": "nope"})))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body, json!({"non_field_errors": [LOGIN_FAILED]}));
    let unknown = app
        .send(
            Call::post("/api-token-auth/")
                .json(json!({"username": "nobody", "password": PASSWORD})),
        )
        .await;
    assert_eq!(unknown.body, wrong.body);
    let missing = app
        .send(Call::post("/api-token-auth/").json(json!({})))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body,
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
    // DRF's default authentication runs on obtain_auth_token too: a bad
    // token header is refused before the credentials are looked at.
    let bad_header = app
        .send(
            Call::post("/api-token-auth/")
                .token("tsr_nope")
                .json(json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    refused(
        &bad_header,
        StatusCode::UNAUTHORIZED,
        "Invalid token.",
        "authentication_failed",
    );
    assert_eq!(bad_header.header(header::WWW_AUTHENTICATE), Some("Token"));
    assert_eq!(app.live_tokens(alice).await, 2);
}

#[tokio::test]
async fn session_login_is_csrf_checked_as_django() {
    let app = App::new(settings());
    app.register("alice").await;
    let credentials = json!({"username": "alice", "password": PASSWORD});

    let csrf = app.send(Call::get("/auth/csrf")).await;
    assert_eq!(csrf.status, StatusCode::OK);
    let secret = csrf.cookie("csrftoken");
    let masked = csrf.body["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!((secret.len(), masked.len()), (32, 64));
    assert!(masked.bytes().all(|b| b.is_ascii_alphanumeric()));

    let no_cookie = app
        .send(Call::post("/auth/login").json(credentials.clone()))
        .await;
    refused(
        &no_cookie,
        StatusCode::FORBIDDEN,
        "CSRF Failed: CSRF cookie not set.",
        "csrf_failed",
    );
    let no_token = app
        .send(
            Call::post("/auth/login")
                .cookies(&format!("csrftoken={secret}"))
                .json(credentials.clone()),
        )
        .await;
    refused(
        &no_token,
        StatusCode::FORBIDDEN,
        "CSRF Failed: CSRF token missing.",
        "csrf_failed",
    );
    let (_, other_token) = app.csrf().await;
    let wrong_token = app
        .send(
            Call::post("/auth/login")
                .cookies(&format!("csrftoken={secret}"))
                .header("x-csrftoken", &other_token)
                .json(credentials.clone()),
        )
        .await;
    refused(
        &wrong_token,
        StatusCode::FORBIDDEN,
        "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        "csrf_failed",
    );
    assert!(wrong_token.set_cookie("sessionid").is_none());

    let csrf_ok = |call: Call| {
        call.cookies(&format!("csrftoken={secret}"))
            .header("x-csrftoken", &masked)
    };
    let wrong_password = app
        .send(
            csrf_ok(Call::post("/auth/login")).json(json!({"username": "alice", "password": "x"})),
        )
        .await;
    assert_eq!(wrong_password.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong_password.body,
        json!({"non_field_errors": [LOGIN_FAILED]})
    );

    let login = app
        .send(csrf_ok(Call::post("/auth/login")).json(credentials))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["user"]["username"], "alice");
    let cookie = login.set_cookie("sessionid").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session = login.cookie("sessionid");
    assert_eq!(
        app.me(Call::get("/auth/me").cookies(&format!("sessionid={session}")))
            .await,
        Ok(("alice".into(), "session".into()))
    );
    // An unsafe request on a session without its CSRF token is refused.
    let logout = app
        .send(Call::post("/auth/logout").cookies(&format!("sessionid={session}")))
        .await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        logout.body,
        json!({"detail": "CSRF Failed: CSRF cookie not set.", "code": "csrf_failed"})
    );
    assert!(app
        .me(Call::get("/auth/me").cookies(&format!("sessionid={session}")))
        .await
        .is_ok());
}

#[tokio::test]
async fn me_shows_the_user_and_how_they_authenticated() {
    let app = App::new(settings());
    let id = app.register("alice").await;
    let key = app.key("alice", PASSWORD).await;
    let answer = app.send(Call::get("/auth/me").token(&key)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["auth"], "token");
    let user = answer.body["user"].as_object().unwrap();
    let mut fields: Vec<&str> = user.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "date_joined",
            "email",
            "id",
            "is_active",
            "is_staff",
            "is_superuser",
            "last_login",
            "username"
        ]
    );
    assert_eq!(user["id"], id);
    assert_eq!(user["is_staff"], false);
    let anonymous = app.send(Call::get("/auth/me")).await;
    refused(
        &anonymous,
        StatusCode::UNAUTHORIZED,
        NOT_PROVIDED,
        "not_authenticated",
    );
    assert_eq!(anonymous.header(header::WWW_AUTHENTICATE), Some("Token"));
}

#[tokio::test]
async fn logout_ends_the_calling_credential_only() {
    let app = App::new(settings());
    let alice = app.register("alice").await;
    let first = app.key("alice", PASSWORD).await;
    let second = app.key("alice", PASSWORD).await;

    let out = app.send(Call::post("/auth/logout").token(&first)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        out.header("clear-site-data".parse().unwrap()),
        Some("\"cookies\"")
    );
    let gone = app.send(Call::get("/auth/me").token(&first)).await;
    refused(
        &gone,
        StatusCode::UNAUTHORIZED,
        "Invalid token.",
        "authentication_failed",
    );
    assert!(app.me(Call::get("/auth/me").token(&second)).await.is_ok());
    assert_eq!(app.live_tokens(alice).await, 1);

    let session = app.login("alice").await;
    let out = app
        .send(session.unsafe_on(Call::post("/auth/logout")))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = out.set_cookie("sessionid").unwrap();
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("expires=Thu, 01 Jan 1970"),
        "{cleared}"
    );
    // The old cookie is now nobody's: anonymous, refused with the token challenge.
    assert_eq!(
        app.me(session.on(Call::get("/auth/me"))).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert!(app.me(Call::get("/auth/me").token(&second)).await.is_ok());
}

#[tokio::test]
async fn logout_all_ends_every_session_and_token_of_the_user() {
    let app = App::new(settings());
    let alice = app.register("alice").await;
    app.register("bob").await;
    let first = app.key("alice", PASSWORD).await;
    let second = app.key("alice", PASSWORD).await;
    let session = app.login("alice").await;
    let bob = app.key("bob", PASSWORD).await;

    let out = app.send(Call::post("/auth/logout-all").token(&first)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    for key in [&first, &second] {
        assert_eq!(
            app.me(Call::get("/auth/me").token(key)).await,
            Err(StatusCode::UNAUTHORIZED)
        );
    }
    assert_eq!(
        app.me(session.on(Call::get("/auth/me"))).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(app.live_tokens(alice).await, 0);
    // Another user's key is untouched.
    assert_eq!(
        app.me(Call::get("/auth/me").token(&bob)).await,
        Ok(("bob".into(), "token".into()))
    );
}

#[tokio::test]
async fn reauth_renews_a_made_key_for_recent_authentication() {
    let app = App::new(settings());
    app.register("alice").await;
    let full = app.key("alice", PASSWORD).await;
    let made = app
        .send(
            Call::post("/auth/tokens")
                .token(&full)
                .json(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made = made.body["token"].as_str().unwrap().to_owned();

    // A key made by POST /auth/tokens is not a password proof.
    let refused_make = app
        .send(
            Call::post("/auth/tokens")
                .token(&made)
                .json(json!({"name": "more"})),
        )
        .await;
    refused(
        &refused_make,
        StatusCode::FORBIDDEN,
        "Recent authentication required: confirm your password at /auth/reauth.",
        "reauthentication_required",
    );
    let wrong = app
        .send(
            Call::post("/auth/reauth")
                .token(&made)
                .json(json!({"password": "nope"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body, json!({"non_field_errors": [LOGIN_FAILED]}));
    let renewed = app
        .send(
            Call::post("/auth/reauth")
                .token(&made)
                .json(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::NO_CONTENT);
    let allowed = app
        .send(
            Call::post("/auth/tokens")
                .token(&made)
                .json(json!({"name": "more"})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED);

    // The window (10 minutes by default) passes: not recent any more.
    app.clock.advance(Duration::from_secs(601));
    let stale = app
        .send(
            Call::post("/auth/tokens")
                .token(&full)
                .json(json!({"name": "late"})),
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(stale.body["code"], "reauthentication_required");
}

#[tokio::test]
async fn a_password_change_checks_the_old_one_and_ends_other_credentials() {
    let app = App::new(settings());
    let alice = app.register("alice").await;
    let current = app.key("alice", PASSWORD).await;
    let other = app.key("alice", PASSWORD).await;
    let session = app.login("alice").await;

    let wrong = app
        .send(
            Call::post("/auth/password")
                .token(&current)
                .json(json!({"old_password": "nope", "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.body,
        json!({"old_password": [OLD_PASSWORD_INCORRECT]})
    );
    assert!(app.me(Call::get("/auth/me").token(&other)).await.is_ok());

    let changed = app
        .send(
            Call::post("/auth/password")
                .token(&current)
                .json(json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    assert!(app.me(Call::get("/auth/me").token(&current)).await.is_ok());
    assert_eq!(
        app.me(Call::get("/auth/me").token(&other)).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        app.me(session.on(Call::get("/auth/me"))).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(app.live_tokens(alice).await, 1);
    let old = app
        .send(
            Call::post("/api-token-auth/").json(json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    app.key("alice", NEW_PASSWORD).await;
}

#[tokio::test]
async fn the_users_tokens_are_listed_made_scoped_deleted_and_rotated() {
    let app = App::new(settings());
    let alice = app.register("alice").await;
    app.register("bob").await;
    let key = app.key("alice", PASSWORD).await;

    let made = app
        .send(
            Call::post("/auth/tokens")
                .token(&key)
                .json(json!({"name": "reader", "scopes": ["read"], "expires_in": 3600})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["name"], "reader");
    assert_eq!(made.body["scopes"], json!(["read"]));
    assert_eq!(made.body["current"], false);
    assert_eq!(made.body["expires"], "2026-01-01T13:00:00Z");
    let reader = made.body["token"].as_str().unwrap().to_owned();
    let reader_id = made.body["id"].as_i64().unwrap();

    let bad = app
        .send(
            Call::post("/auth/tokens")
                .token(&key)
                .json(json!({"name": "x", "scopes": ["Not Valid"]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["scopes"]
    );
    let unnamed = app
        .send(Call::post("/auth/tokens").token(&key).json(json!({})))
        .await;
    assert_eq!(unnamed.body, json!({"name": ["This field is required."]}));

    let list = app.send(Call::get("/auth/tokens").token(&key)).await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|t| t.get("token").is_none()), "never a key");
    let current: Vec<bool> = list
        .iter()
        .map(|t| t["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1);

    // A read-scoped key may list but not make or delete keys.
    assert_eq!(
        app.send(Call::get("/auth/tokens").token(&reader))
            .await
            .status,
        StatusCode::OK
    );
    let denied = app
        .send(Call::delete(&format!("/auth/tokens/{reader_id}")).token(&reader))
        .await;
    refused(
        &denied,
        StatusCode::FORBIDDEN,
        "Token scope \"account\" required.",
        "permission_denied",
    );

    // Another user's token, or none, is not found.
    let bob = app.key("bob", PASSWORD).await;
    let theirs = app
        .send(Call::delete(&format!("/auth/tokens/{reader_id}")).token(&bob))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(app.me(Call::get("/auth/me").token(&reader)).await.is_ok());
    let deleted = app
        .send(Call::delete(&format!("/auth/tokens/{reader_id}")).token(&key))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.me(Call::get("/auth/me").token(&reader)).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    let again = app
        .send(Call::delete(&format!("/auth/tokens/{reader_id}")).token(&key))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Rotation: a new key; the old one works for the grace period, then is reuse.
    let rotated = app
        .send(Call::post("/auth/tokens/rotate").token(&key))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["token"].as_str().unwrap().to_owned();
    assert_ne!(new, key);
    assert!(app.me(Call::get("/auth/me").token(&key)).await.is_ok());
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(
        app.me(Call::get("/auth/me").token(&key)).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    // Reuse revoked the whole family, the new key included.
    assert_eq!(
        app.me(Call::get("/auth/me").token(&new)).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(app.live_tokens(alice).await, 0);
    // A session cannot rotate: the view takes a token only.
    let session = app.login("alice").await;
    let by_session = app
        .send(session.unsafe_on(Call::post("/auth/tokens/rotate")))
        .await;
    refused(
        &by_session,
        StatusCode::UNAUTHORIZED,
        NOT_PROVIDED,
        "not_authenticated",
    );
}

#[tokio::test]
async fn the_users_sessions_are_listed_and_ended() {
    let app = App::new(settings());
    app.register("alice").await;
    app.register("bob").await;
    let here = app.login("alice").await;
    let there = app.login("alice").await;
    let bob = app.login("bob").await;

    let list = app.send(here.on(Call::get("/auth/sessions"))).await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    for session in &list {
        let mut fields: Vec<&str> = session
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["created", "current", "id", "ip", "last_seen", "user_agent"]
        );
    }
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_i64()
        .unwrap();

    // Bob cannot end alice's session.
    let theirs = app
        .send(bob.unsafe_on(Call::delete(&format!("/auth/sessions/{other_id}"))))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(app.me(there.on(Call::get("/auth/me"))).await.is_ok());
    let ended = app
        .send(here.unsafe_on(Call::delete(&format!("/auth/sessions/{other_id}"))))
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.me(there.on(Call::get("/auth/me"))).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert!(app.me(here.on(Call::get("/auth/me"))).await.is_ok());
    let list = app.send(here.on(Call::get("/auth/sessions"))).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refusals_follow_drfs_401_or_403_rule() {
    let app = App::new(settings());
    app.register("alice").await;
    let key = app.key("alice", PASSWORD).await;

    // First authenticator token: 401 with its challenge.
    for call in [Call::get("/hello"), Call::get("/token-only")] {
        let answer = app.send(call).await;
        refused(
            &answer,
            StatusCode::UNAUTHORIZED,
            NOT_PROVIDED,
            "not_authenticated",
        );
        assert_eq!(answer.header(header::WWW_AUTHENTICATE), Some("Token"));
    }
    let bad = app.send(Call::get("/token-only").token("tsr_nope")).await;
    refused(
        &bad,
        StatusCode::UNAUTHORIZED,
        "Invalid token.",
        "authentication_failed",
    );
    assert_eq!(bad.header(header::WWW_AUTHENTICATE), Some("Token"));
    let malformed = app
        .send(Call::get("/hello").header("authorization", "Token"))
        .await;
    refused(
        &malformed,
        StatusCode::UNAUTHORIZED,
        "Invalid token header. No credentials provided.",
        "authentication_failed",
    );

    // First authenticator session: the same refusals are 403, no challenge.
    let anonymous = app.send(Call::get("/session-first")).await;
    refused(
        &anonymous,
        StatusCode::FORBIDDEN,
        NOT_PROVIDED,
        "not_authenticated",
    );
    assert_eq!(anonymous.header(header::WWW_AUTHENTICATE), None);
    let bad = app
        .send(Call::get("/session-first").token("tsr_nope"))
        .await;
    refused(
        &bad,
        StatusCode::FORBIDDEN,
        "Invalid token.",
        "authentication_failed",
    );
    assert_eq!(bad.header(header::WWW_AUTHENTICATE), None);
    let good = app.send(Call::get("/session-first").token(&key)).await;
    assert_eq!(good.body, json!({"hello": "alice"}));

    // Authenticated but not permitted: 403 permission_denied, no challenge.
    let staff = app.send(Call::get("/staff").token(&key)).await;
    refused(
        &staff,
        StatusCode::FORBIDDEN,
        "You do not have permission to perform this action.",
        "permission_denied",
    );
    assert_eq!(staff.header(header::WWW_AUTHENTICATE), None);
    // The Bearer keyword is not accepted unless configured.
    let bearer = app
        .send(Call::get("/hello").header("authorization", &format!("Bearer {key}")))
        .await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bearer.body["code"], "not_authenticated");
}

#[tokio::test]
async fn throttles_refuse_with_drfs_429_and_retry_after() {
    let mut rates = std::collections::BTreeMap::new();
    rates.insert("user".to_owned(), Rate::per_minute(2));
    rates.insert("anon".to_owned(), Rate::per_minute(1));
    rates.insert("burst".to_owned(), Rate::per_hour(3));
    let app = App::new(Settings {
        throttle_rates: rates,
        ..settings()
    });
    app.register("alice").await;
    app.register("bob").await;
    let alice = app.key("alice", PASSWORD).await;
    let bob = app.key("bob", PASSWORD).await;

    // `user`: per user.
    for _ in 0..2 {
        assert_eq!(
            app.send(Call::get("/hello").token(&alice)).await.status,
            StatusCode::OK
        );
    }
    let third = app.send(Call::get("/hello").token(&alice)).await;
    refused(
        &third,
        StatusCode::TOO_MANY_REQUESTS,
        "Request was throttled. Expected available in 60 seconds.",
        "throttled",
    );
    assert_eq!(third.header(header::RETRY_AFTER), Some("60"));
    assert_eq!(
        app.send(Call::get("/hello").token(&bob)).await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::from_secs(59));
    let later = app.send(Call::get("/hello").token(&alice)).await;
    assert_eq!(later.header(header::RETRY_AFTER), Some("1"));
    assert_eq!(
        later.body["detail"],
        "Request was throttled. Expected available in 1 second."
    );
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(
        app.send(Call::get("/hello").token(&alice)).await.status,
        StatusCode::OK
    );

    // `anon`: per client address, anonymous requests only.
    let open = |peer: &str| Call::get("/open").peer(peer);
    assert_eq!(
        app.send(open("192.0.2.1:1000")).await.body,
        json!({"user": null})
    );
    let again = app.send(open("192.0.2.1:1001")).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.header(header::RETRY_AFTER), Some("60"));
    assert_eq!(
        app.send(open("192.0.2.2:1000")).await.status,
        StatusCode::OK
    );

    // A scoped rate on one route, on top of the defaults, per user.
    app.clock.advance(Duration::from_secs(3600));
    for _ in 0..3 {
        let ok = app.send(Call::get("/burst").token(&bob)).await;
        assert_eq!(ok.body, json!({"user": "bob"}));
        app.clock.advance(Duration::from_secs(30));
    }
    let burst = app.send(Call::get("/burst").token(&bob)).await;
    assert_eq!(burst.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(burst.header(header::RETRY_AFTER), Some("3510"));
    assert_eq!(
        app.send(Call::get("/burst").token(&alice)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_protection_locks_a_username_after_repeated_failures() {
    let app = App::new(settings());
    app.register("alice").await;
    let attempt = |password: &str| {
        Call::post("/api-token-auth/")
            .peer("192.0.2.9:5000")
            .json(json!({"username": "alice", "password": password}))
    };
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.send(attempt("wrong")).await.status);
    }
    assert_eq!(statuses[0], StatusCode::BAD_REQUEST);
    let locked = app.send(attempt(PASSWORD)).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(locked.body["code"], "throttled");
    assert!(locked.header(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn every_view_serves_under_its_overridden_path() {
    let paths = Paths {
        obtain_token: "/v2/token/",
        csrf: "/v2/csrf",
        login: "/v2/login",
        logout: "/v2/logout",
        logout_all: "/v2/logout-all",
        me: "/v2/me",
        reauth: "/v2/reauth",
        password: "/v2/password",
        register: "/v2/register",
        tokens: "/v2/tokens",
        token: "/v2/tokens/{id}",
        rotate_token: "/v2/tokens/rotate",
        sessions: "/v2/sessions",
        session: "/v2/sessions/{id}",
    };
    let app = App::with_views(settings(), Views::new().paths(paths).registration(true));
    let created = app
        .send(Call::post("/v2/register").json(json!({"username": "alice", "password": PASSWORD})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    for (method, path) in [
        (Method::POST, "/api-token-auth/"),
        (Method::GET, "/auth/csrf"),
        (Method::GET, "/auth/me"),
        (Method::GET, "/auth/tokens"),
        (Method::POST, "/auth/register"),
    ] {
        assert_eq!(
            app.send(Call::new(method, path)).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let obtained = app
        .send(Call::post("/v2/token/").json(json!({"username": "alice", "password": PASSWORD})))
        .await;
    let key = obtained.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.me(Call::get("/v2/me").token(&key)).await,
        Ok(("alice".into(), "token".into()))
    );
    let list = app.send(Call::get("/v2/tokens").token(&key)).await;
    let id = list.body[0]["id"].as_i64().unwrap();
    assert_eq!(
        app.send(Call::get("/v2/sessions").token(&key)).await.body,
        json!([])
    );
    assert_eq!(app.send(Call::get("/v2/csrf")).await.status, StatusCode::OK);
    let reauth = app
        .send(
            Call::post("/v2/reauth")
                .token(&key)
                .json(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(reauth.status, StatusCode::NO_CONTENT);
    let rotated = app.send(Call::post("/v2/tokens/rotate").token(&key)).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new = rotated.body["token"].as_str().unwrap().to_owned();
    let deleted = app
        .send(Call::delete(&format!("/v2/tokens/{id}")).token(&new))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let key = app
        .send(Call::post("/v2/token/").json(json!({"username": "alice", "password": PASSWORD})))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let logout = app.send(Call::post("/v2/logout").token(&key)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
}
