//! A test application over SQLite in a temporary directory, with a manual clock.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tempfile::TempDir;
use tessera_axum::accounts::{create_user, issue_token, TokenRequest, UserInput};
use tessera_axum::audit::RequestMeta;
use tessera_core::audit::{AuditQuery, AuditRecord, EventKind};
use tessera_core::secret::Secret;
use tessera_core::User;
use tessera_server::config::Config;
use tessera_server::AppState;
use tessera_testkit::ManualClock;
use tower::ServiceExt;

/// Cheap argon2 parameters, so that tests are fast (with
/// `password.allow_weak_parameters`); the timing tests use the real ones.
pub const TEST_ARGON2: &str = "m=256,t=1,p=1";

pub struct TestApp {
    pub state: AppState,
    pub clock: ManualClock,
    pub dir: TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the contract's error shape exactly.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, detail: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.json(),
            serde_json::json!({"detail": detail, "code": code})
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(edit: impl FnOnce(&mut Config)) -> TestApp {
        Self::with_stores(edit, |stores| stores).await
    }

    /// With the configuration edited, and the stores (over SQLite, behind
    /// the cache, as the server builds them) replaced in part by `stores`.
    pub async fn with_stores(
        edit: impl FnOnce(&mut Config),
        stores: impl FnOnce(tessera_core::Stores) -> tessera_core::Stores,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.database.url = format!("sqlite://{}/tessera.db", dir.path().display());
        config.password.argon2 = TEST_ARGON2.to_owned();
        config.password.allow_weak_parameters = true;
        // As Django's test runner adds `testserver` to `ALLOWED_HOSTS`: the
        // loopback defaults, and the host every test request names.
        let mut hosts = tessera_server::allowed_hosts(&config).patterns().to_vec();
        hosts.push("testserver".to_owned());
        config.server.allowed_hosts = hosts;
        edit(&mut config);
        let store = tessera_server::open_store(&config).await.unwrap();
        let clock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
        let (cached, _) =
            tessera_core::cache::with_cache(store, tessera_core::cache::CacheConfig::default());
        let state =
            tessera_server::state_with_stores(config, stores(cached), Arc::new(clock.clone()))
                .unwrap();
        TestApp { state, clock, dir }
    }

    pub fn app(&self) -> Router {
        tessera_server::app(self.state.clone())
    }

    pub async fn user(&self, username: &str, password: &str) -> User {
        self.user_with(username, password, false, true).await
    }

    pub async fn staff(&self, username: &str, password: &str) -> User {
        self.user_with(username, password, true, true).await
    }

    pub async fn user_with(
        &self,
        username: &str,
        password: &str,
        staff: bool,
        active: bool,
    ) -> User {
        let input = UserInput {
            username: username.to_owned(),
            email: format!("{username}@example.com"),
            password: Secret::new(password),
            is_active: active,
            is_staff: staff,
            is_superuser: false,
        };
        self.create(input).await
    }

    async fn create(&self, input: UserInput) -> User {
        let event =
            RequestMeta::default().event(self.state.tessera.clock().now(), EventKind::UserCreated);
        create_user(&self.state.tessera, input, event)
            .await
            .unwrap()
            .user
    }

    /// Every audit event, the writer's queue flushed first; newest first.
    pub async fn audit_events(&self) -> Vec<AuditRecord> {
        self.state.tessera.auditor().flush().await;
        self.state
            .tessera
            .stores()
            .audit
            .query(&AuditQuery::default())
            .await
            .unwrap()
            .events
    }

    /// The user `username` as stored now.
    pub async fn stored_user(&self, username: &str) -> User {
        self.state
            .tessera
            .stores()
            .users
            .credentials_by_username(username)
            .await
            .unwrap()
            .unwrap()
            .user
    }

    /// A key for `user`, issued directly: no scopes, no recent password proof.
    pub async fn token(&self, user: &User) -> String {
        self.token_with(user, &[], false).await
    }

    /// A key for `user` that counts as recently authenticated (as one from
    /// `/api-token-auth/`): what administrative writes need.
    pub async fn recent_token(&self, user: &User) -> String {
        self.token_with(user, &[], true).await
    }

    /// A key for `user` with `scopes`, recently authenticated or not.
    pub async fn token_with(&self, user: &User, scopes: &[&str], recent: bool) -> String {
        let now = self.state.tessera.clock().now();
        let request = TokenRequest {
            name: "test".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            lifetime: None,
            authenticated_at: recent.then_some(now),
        };
        let event = RequestMeta::default().user_event(
            now,
            EventKind::TokenCreated,
            user,
            serde_json::json!({"name": "test"}),
        );
        let (key, _) = issue_token(&self.state.tessera, user, request, event)
            .await
            .unwrap();
        key.expose().to_owned()
    }

    /// A superuser (and staff), as `createsuperuser` makes one.
    pub async fn superuser(&self, username: &str, password: &str) -> User {
        let input = UserInput {
            username: username.to_owned(),
            email: format!("{username}@example.com"),
            password: Secret::new(password),
            is_active: true,
            is_staff: true,
            is_superuser: true,
        };
        self.create(input).await
    }

    /// A request with a method, a key and a JSON body.
    pub async fn call(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        self.send(req(method, path, Some(key), body)).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send_to(self.app(), request).await
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> Reply {
        self.send(req(Method::GET, path, auth, None)).await
    }

    pub async fn post_json(&self, path: &str, auth: Option<&str>, body: Value) -> Reply {
        self.send(req(Method::POST, path, auth, Some(body))).await
    }
}

/// A request with an optional `Authorization: Token <key>` and JSON body.
pub fn req(method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "testserver");
    if let Some(key) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Token {key}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// Sends `request` through `router` and reads the whole response.
pub async fn send_to(router: Router, request: Request<Body>) -> Reply {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// A request to `path` from the client address `peer` (as the real server
/// sees it through `ConnectInfo`), with `headers` and a JSON `body`.
pub fn peer_request(
    method: Method,
    path: &str,
    peer: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "testserver");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let mut request = builder.body(body).unwrap();
    let addr = std::net::SocketAddr::new(peer.parse().unwrap(), 40000);
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    request
}

/// A request with raw headers and body.
pub fn raw(
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "testserver");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// The PostgreSQL server the tests use: `TESSERA_TEST_DATABASE_URL`
/// (default: the local `test` database).
pub fn postgres_base_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The prefix of the databases [`postgres_database`] makes, followed by the
/// Unix time of their making and a random part.
const E2E_PREFIX: &str = "tessera_e2e_";

/// An hour: a test database older than that is left over from a run that
/// was killed before its guard could drop it.
const STALE_AFTER_SECS: u64 = 3600;

/// A PostgreSQL database made for one test, dropped (with whatever is still
/// connected to it) when this guard is: declare it before the server that
/// uses it, so that the server goes first.
pub struct PgDatabase {
    url: String,
    name: String,
    base: String,
}

impl PgDatabase {
    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // a thread of its own, with a runtime of its own, joined.
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(&drop).execute(&mut conn).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// A fresh, empty PostgreSQL database for one test, at the server named by
/// `TESSERA_TEST_DATABASE_URL`, dropped with the returned guard. Databases
/// left by a killed run (older than an hour) are dropped first. When
/// PostgreSQL cannot be reached the test fails, unless `TESSERA_TEST_SKIP`
/// opts out (`None`).
pub async fn postgres_database() -> Option<PgDatabase> {
    use sqlx::Connection;
    let base = postgres_base_url();
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(conn) => conn,
        Err(e) => return tessera_testkit::unreachable_backend("postgres", &format!("{base}: {e}")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    drop_stale_databases(&mut conn, now).await;
    let name = format!(
        "{E2E_PREFIX}{now}_{}",
        tessera_core::token::TokenKey::generate().expose()[4..16].to_ascii_lowercase()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&name);
    Some(PgDatabase {
        url: url.to_string(),
        name,
        base,
    })
}

/// Drops the test databases made more than an hour before `now`.
async fn drop_stale_databases(conn: &mut sqlx::PgConnection, now: u64) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'tessera\\_e2e\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let made = name
            .strip_prefix(E2E_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        // A name without a time is not one of ours (or from before the
        // guard, when a run of another checkout may still be using it): kept.
        if made.is_some_and(|made| now.saturating_sub(made) > STALE_AFTER_SECS) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *conn)
                .await;
        }
    }
}
