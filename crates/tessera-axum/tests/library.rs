//! tessera-axum used as a library, in-process: the builder, the ready views
//! merged into an application, and requests that carry no client address.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tessera_axum::prelude::*;
use tessera_core::throttle::LoginPolicy;
use tessera_testkit::MemoryStore;
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse-staple-9";

/// A hasher cheap enough for tests.
fn hasher() -> PasswordHasher {
    let params = Argon2Params {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    PasswordHasher::new(params, 1, 64).unwrap()
}

/// Settings for plain HTTP in tests.
fn settings() -> Settings {
    Settings {
        secure_cookies: false,
        ..Settings::default()
    }
}

fn tessera(settings: Settings) -> Tessera {
    Tessera::builder()
        .store(MemoryStore::default())
        .hasher(hasher())
        .settings(settings)
        .build()
        .unwrap()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// The value of the `name` cookie the response sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

fn post_json(path: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get_with(path: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(name, value)
        .body(Body::empty())
        .unwrap()
}

async fn hello(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({ "hello": me.user.username }))
}

/// An application as a library user writes it: its own route and the views.
fn app(tessera: &Tessera, views: Views) -> Router {
    let signed_in = Policy::new().permission(IsAuthenticated);
    Router::new()
        .route("/hello", get(hello).layer(signed_in.layer(tessera)))
        .merge(views.router(tessera))
}

#[test]
fn building_outside_a_runtime_spawns_nothing_until_started() {
    // No Tokio runtime on this thread: building must neither panic nor spawn.
    assert!(tokio::runtime::Handle::try_current().is_err());
    let tessera = tessera(settings());
    assert!(!tessera.auditor().is_started());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    tessera.start_background(runtime.handle());
    assert!(tessera.auditor().is_started());
    // Again: nothing more is started, nothing panics.
    tessera.start_background(runtime.handle());
    runtime.block_on(tessera.shutdown());
}

#[test]
fn a_builder_without_a_store_or_with_contradictory_settings_is_an_error() {
    let missing = Tessera::builder().hasher(hasher()).build().unwrap_err();
    assert!(matches!(missing, BuildError::MissingStore));
    assert_eq!(
        missing.to_string(),
        "no store: call .store(..) or .stores(..) on the builder"
    );
    let idle = Tessera::builder()
        .store(MemoryStore::default())
        .hasher(hasher())
        .settings(Settings {
            token_idle_timeout: Some(Duration::from_secs(30)),
            ..settings()
        })
        .build()
        .unwrap_err();
    assert!(matches!(idle, BuildError::Settings(_)), "{idle}");
    let host_prefix = Tessera::builder()
        .store(MemoryStore::default())
        .hasher(hasher())
        .settings(Settings {
            session_cookie: "__Host-sessionid".to_owned(),
            ..settings()
        })
        .build()
        .unwrap_err();
    assert!(host_prefix.to_string().contains("__Host-"), "{host_prefix}");
}

#[test]
fn errors_are_standard_errors_for_anyhow() {
    fn hasher_of(params: Argon2Params) -> anyhow::Result<PasswordHasher> {
        Ok(PasswordHasher::new(params, 1, 8)?)
    }
    fn build() -> anyhow::Result<Tessera> {
        Ok(Tessera::builder().hasher(hasher()).build()?)
    }
    fn refuse() -> anyhow::Result<()> {
        Err(Rejection::from(ApiError::not_found()))?;
        Ok(())
    }
    let bad = Argon2Params {
        m_cost: 64,
        t_cost: 0,
        p_cost: 1,
    };
    let error = hasher_of(bad).unwrap_err();
    assert!(
        error.is::<tessera_axum::core::password::InvalidParams>(),
        "{error}"
    );
    let error = build().unwrap_err();
    assert!(error.is::<BuildError>(), "{error}");
    assert_eq!(
        refuse().unwrap_err().to_string(),
        "404 not_found: Not found."
    );
}

#[tokio::test]
async fn token_and_session_through_the_views() {
    let tessera = Tessera::builder()
        .store(MemoryStore::default())
        .hasher(hasher())
        .settings(settings())
        .on_user_created(|_tessera, user: User| async move {
            let mut extra = serde_json::Map::new();
            extra.insert("welcome".to_owned(), json!(user.username));
            Ok(extra)
        })
        .build()
        .unwrap();
    let app = app(&tessera, Views::new().registration(true));
    let credentials = json!({"username": "alice", "password": PASSWORD});

    let created = send(&app, post_json("/auth/register", credentials.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["user"]["username"], "alice");
    // The builder's user-created hook ran and added to the response.
    assert_eq!(created.body["welcome"], "alice");

    let hello_anonymous = send(&app, Request::get("/hello").body(Body::empty()).unwrap()).await;
    assert_eq!(hello_anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        hello_anonymous.body["detail"],
        "Authentication credentials were not provided."
    );

    // Token: DRF's obtain_auth_token, then the protected route.
    let obtained = send(&app, post_json("/api-token-auth/", credentials.clone())).await;
    assert_eq!(obtained.status, StatusCode::OK, "{}", obtained.body);
    let key = obtained.body["token"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tsr_"));
    let authorization = format!("Token {key}");
    let greeted = send(
        &app,
        get_with("/hello", header::AUTHORIZATION, &authorization),
    )
    .await;
    assert_eq!(greeted.status, StatusCode::OK);
    assert_eq!(greeted.body, json!({"hello": "alice"}));
    let me = send(
        &app,
        get_with("/auth/me", header::AUTHORIZATION, &authorization),
    )
    .await;
    assert_eq!(me.body["auth"], "token");

    // Session: a CSRF token, a CSRF-checked login, the session cookie.
    let csrf = send(
        &app,
        Request::get("/auth/csrf").body(Body::empty()).unwrap(),
    )
    .await;
    let cookie = csrf.cookie("csrftoken").unwrap();
    let token = csrf.body["csrfToken"].as_str().unwrap().to_owned();
    let without_csrf = send(&app, post_json("/auth/login", credentials.clone())).await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
    let mut login = post_json("/auth/login", credentials.clone());
    login.headers_mut().insert(
        header::COOKIE,
        format!("csrftoken={cookie}").parse().unwrap(),
    );
    login
        .headers_mut()
        .insert("x-csrftoken", token.parse().unwrap());
    let logged_in = send(&app, login).await;
    assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.body);
    assert_eq!(logged_in.body["user"]["username"], "alice");
    let session = logged_in.cookie("sessionid").unwrap();
    let me = send(
        &app,
        get_with("/auth/me", header::COOKIE, &format!("sessionid={session}")),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["auth"], "session");
}

#[tokio::test]
async fn paths_are_overridable_and_registration_is_off_by_default() {
    let tessera = tessera(settings());
    let paths = Paths {
        obtain_token: "/api/token/",
        ..Paths::default()
    };
    let app = app(&tessera, Views::new().paths(paths));
    let closed = send(
        &app,
        post_json(
            "/auth/register",
            json!({"username": "bob", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(closed.status, StatusCode::NOT_FOUND);
    let moved = send(
        &app,
        post_json(
            "/api-token-auth/",
            json!({"username": "bob", "password": "x"}),
        ),
    )
    .await;
    assert_eq!(moved.status, StatusCode::NOT_FOUND);
    let here = send(
        &app,
        post_json("/api/token/", json!({"username": "bob", "password": "x"})),
    )
    .await;
    assert_eq!(here.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        here.body,
        json!({"non_field_errors": ["Unable to log in with provided credentials."]})
    );
}

/// Failed logins for made-up usernames, then alice's right password, all
/// from `peer` (`None`: no `ConnectInfo`, as `axum::serve(listener, app)`).
async fn alice_after_failures(peer: Option<SocketAddr>) -> StatusCode {
    let tessera = tessera(Settings {
        login_policy: LoginPolicy {
            max_failures_per_address: 5,
            ..LoginPolicy::default()
        },
        ..settings()
    });
    let app = app(&tessera, Views::new().registration(true));
    let with_peer = |mut request: Request<Body>| {
        if let Some(peer) = peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        request
    };
    let credentials = json!({"username": "alice", "password": PASSWORD});
    let created = send(&app, post_json("/auth/register", credentials.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED);
    for i in 0..12 {
        let attempt = json!({"username": format!("user{i}"), "password": "wrong"});
        let failed = send(&app, with_peer(post_json("/api-token-auth/", attempt))).await;
        assert!(
            matches!(
                failed.status,
                StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            failed.status
        );
    }
    send(&app, with_peer(post_json("/api-token-auth/", credentials)))
        .await
        .status
}

#[tokio::test]
async fn without_a_client_address_other_usernames_failures_lock_nobody_out() {
    // Control: from one known address, the address's count locks it.
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    assert_eq!(
        alice_after_failures(Some(peer)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Without an address there is no shared bucket: alice still logs in.
    assert_eq!(alice_after_failures(None).await, StatusCode::OK);
}

/// Credential uses are written off the request path, in batches; those still
/// queued when the application stops are written by `Tessera::shutdown`, and
/// a use within the minute of the last one is not written again.
#[tokio::test]
async fn uses_still_queued_are_written_at_shutdown() {
    use tessera_axum::touch::Used;
    use tessera_testkit::suite::{new_session, new_token, new_user, T0};
    let tessera = tessera(settings());
    let stores = tessera.stores().clone();
    let alice = stores.users.create_user(new_user("alice")).await.unwrap();
    let token = |name: &'static str| {
        let stores = stores.clone();
        async move {
            stores
                .tokens
                .create_token(new_token(alice.id, name), None)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (a, b, c) = (token("a").await, token("b").await, token("c").await);
    let session = stores
        .sessions
        .create_session(new_session(alice.id))
        .await
        .unwrap();
    let now = T0 + time::Duration::hours(2);
    let toucher = tessera.toucher();
    toucher.used(Used::Token(a.id), None, now);
    toucher.used(
        Used::Token(b.id),
        Some(T0),
        now + time::Duration::microseconds(1),
    );
    toucher.used(Used::Session(session.id), Some(T0), now);
    // Within the minute of a queued use, or of the stored one: not again.
    toucher.used(Used::Token(a.id), None, now + time::Duration::seconds(59));
    toucher.used(
        Used::Token(c.id),
        Some(now - time::Duration::seconds(30)),
        now,
    );
    assert_eq!(toucher.writes(), 3);
    // No waiting: the writer gathers for a while before it writes, and
    // shutdown writes what it has not.
    tessera.shutdown().await;
    let last_used = |id| {
        let stores = stores.clone();
        async move {
            stores
                .tokens
                .token_by_id(id)
                .await
                .unwrap()
                .unwrap()
                .last_used
        }
    };
    assert_eq!(last_used(a.id).await, Some(now));
    assert_eq!(
        last_used(b.id).await,
        Some(now + time::Duration::microseconds(1))
    );
    assert_eq!(last_used(c.id).await, None);
    let sessions = stores
        .sessions
        .list_sessions(alice.id, now, time::Duration::DAY)
        .await
        .unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|s| (s.id, s.last_seen))
            .collect::<Vec<_>>(),
        [(session.id, now)]
    );
    assert_eq!((toucher.dropped(), toucher.failures()), (0, 0));
    let text = tessera.metrics().encode().unwrap();
    for line in [
        "tessera_last_used_queued_total 3\n",
        "tessera_last_used_dropped_total 0\n",
        "tessera_last_used_write_failures_total 0\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

/// A hot key whose cached `last_used` stays old is recorded once a minute
/// whichever thread serves it (each thread answers its repeats from its own
/// copy of what was recorded), and one application's record never stands for
/// another's: two applications on one thread each write their own use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_key_is_recorded_once_a_minute_by_each_application() {
    use tessera_axum::touch::Used;
    use tessera_testkit::suite::T0;
    let (one, two) = (tessera(settings()), tessera(settings()));
    let now = T0 + time::Duration::hours(2);
    // Repeats on this thread and on the runtime's workers, the stored time
    // an hour old each time.
    let stale = Some(T0);
    for i in 0..1000 {
        one.toucher()
            .used(Used::Token(7), stale, now + time::Duration::milliseconds(i));
    }
    let spawned = (0..8)
        .map(|i| {
            let one = one.clone();
            tokio::spawn(async move {
                for j in 0..1000 {
                    one.toucher().used(
                        Used::Token(7),
                        stale,
                        now + time::Duration::milliseconds(i * 1000 + j),
                    );
                }
            })
        })
        .collect::<Vec<_>>();
    for task in spawned {
        task.await.unwrap();
    }
    assert_eq!(one.toucher().writes(), 1);
    // The other application, same credential id, same thread: its own use.
    two.toucher().used(Used::Token(7), stale, now);
    assert_eq!(two.toucher().writes(), 1);
    // A session with the token's id is another credential.
    one.toucher().used(Used::Session(7), stale, now);
    assert_eq!(one.toucher().writes(), 2);
    // A microsecond short of the minute: still recorded; at the minute: again.
    let minute = now + time::Duration::minutes(1);
    one.toucher().used(
        Used::Token(7),
        stale,
        minute - time::Duration::microseconds(1),
    );
    assert_eq!(one.toucher().writes(), 2);
    one.toucher().used(Used::Token(7), stale, minute);
    assert_eq!(one.toucher().writes(), 3);
    // Many keys sharing this thread's slots: each still written once.
    for id in 1000..3000 {
        one.toucher().used(Used::Token(id), stale, minute);
        one.toucher().used(Used::Token(id), stale, minute);
    }
    assert_eq!(one.toucher().writes(), 2003);
    one.shutdown().await;
    two.shutdown().await;
}
