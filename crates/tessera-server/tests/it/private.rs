//! Private by default (issue 13, point 6): the data directory `0700` and the
//! database files `0600`; `/metrics` closed to anonymous callers off
//! loopback; `/admin/*` and `/metrics` moved to `server.admin_bind`; weak
//! argon2 parameters refused at start.

use crate::cli::{superuser_with_token, tessera};
use crate::support::{req, send_to, Reply, TestApp};
use axum::body::Body;
use axum::http::{header, Method, Request};
use serde_json::json;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

const BEARER: &str = "metrics-scraper-secret-0123456789abcdef";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `tessera-data/tessera.db` and its `-wal` and `-shm` files under `dir`.
fn database_files(dir: &Path) -> [PathBuf; 3] {
    let data = dir.join("tessera-data");
    [
        data.join("tessera.db"),
        data.join("tessera.db-wal"),
        data.join("tessera.db-shm"),
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn migrate_creates_the_data_directory_0700_and_the_database_0600() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&dir.path().join("tessera-data")), 0o700);
    let [db, wal, shm] = database_files(dir.path());
    assert_eq!(mode(&db), 0o600);
    for file in [wal, shm] {
        if file.exists() {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    // Nothing to tighten on a fresh directory: no such log line.
    assert!(
        !text(&out.stderr).contains("tightened"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_open_data_directory_is_tightened_at_start_with_one_log_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let data = dir.path().join("tessera-data");
    set_mode(&data, 0o755);
    let mut opened = vec![data.clone()];
    for file in database_files(dir.path()) {
        if file.exists() {
            set_mode(&file, 0o644);
            opened.push(file);
        }
    }

    let out = tessera(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&data), 0o700);
    // SQLite deletes -wal and -shm when its last connection closes, so
    // only the files still there are read back (the database always is);
    // the log lines below show each was tightened.
    for file in opened[1..].iter().filter(|f| f.exists()) {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert!(opened[1].exists(), "the database file is there");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("tightened")).collect();
    assert_eq!(lines.len(), opened.len(), "{stderr}");
    for path in &opened {
        let from = if path == &data { "0755" } else { "0644" };
        let to = if path == &data { "0700" } else { "0600" };
        let wanted = format!("tightened {} from mode {from} to {to}", path.display());
        assert_eq!(
            lines.iter().filter(|l| l.contains(&wanted)).count(),
            1,
            "{wanted} in {stderr}"
        );
    }

    // Once private, nothing more is said.
    let out = tessera(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("tightened"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_keeps_a_fresh_data_directory_private() {
    let dir = tempfile::tempdir().unwrap();
    let _server = crate::e2e::serve(dir.path(), &[]);
    assert_eq!(mode(&dir.path().join("tessera-data")), 0o700);
    let [db, wal, shm] = database_files(dir.path());
    // A running server holds the database in WAL mode: all three exist.
    for file in [db, wal, shm] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[test]
fn serve_tightens_a_data_directory_made_0755_beforehand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tessera-data");
    std::fs::create_dir(&data).unwrap();
    set_mode(&data, 0o755);
    let _server = crate::e2e::serve(dir.path(), &[]);
    assert_eq!(mode(&data), 0o700);
    for file in database_files(dir.path()) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[test]
fn weak_argon2_parameters_are_refused_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_PASSWORD__ARGON2", "m=19455,t=2,p=1")
        .env("TESSERA_PASSWORD__ALLOW_WEAK_PARAMETERS", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr),
        "error: password.argon2 = \"m=19456,t=2,p=1\" is below OWASP's minimum for argon2id \
         (m=19456,t=2, or m=47104,t=1, or m=12288,t=3): raise it, or set \
         password.allow_weak_parameters = true (for tests only)\n"
            .replace("\"m=19456,t=2,p=1\" is", "\"m=19455,t=2,p=1\" is")
    );
    // Refused before anything is opened.
    assert!(!dir.path().join("tessera-data").exists());
}

#[test]
fn owasp_floors_are_the_minimum() {
    use tessera_core::password::Argon2Params;
    let ok = |m_cost, t_cost| {
        tessera_server::argon2_meets_floor(&Argon2Params {
            m_cost,
            t_cost,
            p_cost: 1,
        })
    };
    assert!(ok(19_456, 2) && ok(47_104, 1) && ok(12_288, 3) && ok(65_536, 3));
    assert!(!ok(19_455, 2) && !ok(19_456, 1) && !ok(47_103, 1) && !ok(12_288, 2));
    assert!(!ok(256, 1));
}

/// A test app as if bound to `0.0.0.0:8000` (built, not bound).
async fn public_app(edit: impl FnOnce(&mut tessera_server::config::Config)) -> TestApp {
    TestApp::with_config(|c| {
        c.server.bind = "0.0.0.0:8000".parse().unwrap();
        edit(c);
    })
    .await
}

fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(header::HOST, "testserver")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[track_caller]
fn assert_metrics(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", text(&reply.body));
    assert_eq!(reply.header("content-type"), Some(PROMETHEUS));
    assert!(
        text(&reply.body).contains("# TYPE tessera_login_duration_seconds histogram"),
        "{}",
        text(&reply.body)
    );
}

#[tokio::test]
async fn metrics_on_a_non_loopback_bind_need_a_staff_credential() {
    let app = public_app(|_| {}).await;
    let anonymous = app.get("/metrics", None).await;
    anonymous.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    assert_eq!(anonymous.header("www-authenticate"), Some("Token"));

    let user = app.user("alice", "alice-pass-123").await;
    let key = app.token(&user).await;
    app.get("/metrics", Some(&key)).await.assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );

    let staff = app.staff("root", "root-pass-123").await;
    let key = app.token(&staff).await;
    assert_metrics(&app.get("/metrics", Some(&key)).await);
    let scoped = app.token_with(&staff, &["admin"], false).await;
    assert_metrics(&app.get("/metrics", Some(&scoped)).await);
    let read = app.token_with(&staff, &["read"], false).await;
    app.get("/metrics", Some(&read)).await.assert_error(
        403,
        "permission_denied",
        "Token scope \"admin\" required.",
    );
}

#[tokio::test]
async fn metrics_on_a_non_loopback_bind_take_the_configured_bearer_token() {
    let app = public_app(|c| {
        c.metrics.bearer_token = Some(tessera_server::config::MetricsToken(BEARER.into()));
    })
    .await;
    assert_metrics(&app.send(bearer("/metrics", BEARER)).await);
    // Only the exact token: not a prefix, not another, not for other routes.
    for wrong in [
        &BEARER[..BEARER.len() - 1],
        "x".repeat(BEARER.len()).as_str(),
    ] {
        let reply = app.send(bearer("/metrics", wrong)).await;
        reply.assert_error(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    }
    let reply = app.send(bearer("/admin/users", BEARER)).await;
    assert_eq!(reply.status, 401);
    // A staff credential still works beside it.
    let staff = app.staff("root", "root-pass-123").await;
    let key = app.token(&staff).await;
    assert_metrics(&app.get("/metrics", Some(&key)).await);
}

#[tokio::test]
async fn a_short_metrics_bearer_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tessera_server::config::Config::default();
    config.metrics.bearer_token = Some(tessera_server::config::MetricsToken("short".into()));
    config.database.url = format!("sqlite://{}/db", dir.path().display());
    let error = tessera_server::check(&config).unwrap_err().to_string();
    assert_eq!(
        error,
        "metrics.bearer_token must be at least 32 characters without spaces \
         (e.g. `openssl rand -hex 32`)"
    );
}

#[tokio::test]
async fn metrics_on_a_loopback_bind_are_open_as_before() {
    let app = TestApp::new().await;
    assert!(tessera_server::public_metrics_open(&app.state.config));
    assert_metrics(&app.get("/metrics", None).await);
    let public = public_app(|_| {}).await;
    assert!(!tessera_server::public_metrics_open(&public.state.config));
}

#[tokio::test]
async fn with_an_admin_listener_the_public_one_answers_404_for_admin_and_metrics() {
    let app =
        TestApp::with_config(|c| c.server.admin_bind = Some("127.0.0.1:9000".parse().unwrap()))
            .await;
    let staff = app.superuser("root", "root-pass-123").await;
    let key = app.recent_token(&staff).await;
    for path in [
        "/metrics",
        "/admin/users",
        "/admin/audit",
        "/admin/users/1/unlock",
    ] {
        let reply = app.get(path, Some(&key)).await;
        reply.assert_error(404, "not_found", "Not found.");
    }
    let reply = app.get("/openapi.json", None).await;
    let paths = reply.json()["paths"].as_object().unwrap().clone();
    assert!(paths
        .keys()
        .all(|p| !p.starts_with("/admin") && p != "/metrics"));
    assert!(paths.contains_key("/api-token-auth/"));

    // The admin listener: the same state, metrics open, administration as
    // guarded as ever.
    let admin = || tessera_server::admin_app(app.state.clone());
    let reply = send_to(admin(), req(Method::GET, "/metrics", None, None)).await;
    assert_metrics(&reply);
    let reply = send_to(admin(), req(Method::GET, "/admin/users", None, None)).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    let reply = send_to(admin(), req(Method::GET, "/admin/users", Some(&key), None)).await;
    assert_eq!(reply.status, 200, "{}", text(&reply.body));
    assert_eq!(reply.json()["count"], json!(1));
    let reply = send_to(admin(), req(Method::GET, "/api-token-auth/", None, None)).await;
    reply.assert_error(404, "not_found", "Not found.");
}

/// A running `tessera serve` with an admin listener, killed on drop.
struct TwoListeners {
    child: Child,
    public: SocketAddr,
    admin: SocketAddr,
}

impl Drop for TwoListeners {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `addr` field of a JSON log line whose message starts with `message`.
fn addr_of(line: &str, message: &str) -> Option<SocketAddr> {
    if !line.contains(&format!("\"message\":\"{message}")) {
        return None;
    }
    line.split("\"addr\":\"")
        .nth(1)?
        .split('"')
        .next()?
        .parse()
        .ok()
}

fn serve_with_admin_listener(dir: &Path) -> TwoListeners {
    let mut child = tessera(dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_SERVER__ADMIN_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut public, mut admin) = (None, None);
    crate::e2e::wait_ready(&mut child, |line| {
        public = public.or(addr_of(line, "tessera listening"));
        admin = admin.or(addr_of(line, "tessera admin listening"));
        public.is_some() && admin.is_some()
    });
    TwoListeners {
        child,
        public: public.unwrap(),
        admin: admin.unwrap(),
    }
}

#[tokio::test]
async fn the_admin_listener_serves_admin_and_metrics_on_a_real_socket() {
    let dir = tempfile::tempdir().unwrap();
    let key = superuser_with_token(dir.path(), "admin", "admin-pass-123");
    let server = serve_with_admin_listener(dir.path());
    assert_ne!(server.public, server.admin);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let get = |addr: SocketAddr, path: &str| {
        http.get(format!("http://{addr}{path}"))
            .header("Authorization", format!("Token {key}"))
            .send()
    };

    for path in ["/metrics", "/admin/users"] {
        let reply = get(server.public, path).await.unwrap();
        assert_eq!(reply.status(), 404, "{path}");
        assert_eq!(
            reply.json::<serde_json::Value>().await.unwrap(),
            json!({"detail": "Not found.", "code": "not_found"})
        );
    }
    let reply = get(server.public, "/api/example/").await.unwrap();
    assert_eq!(reply.status(), 200);

    let reply = http
        .get(format!("http://{}/metrics", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], PROMETHEUS);
    let metrics = reply.text().await.unwrap();
    // The same state: the public listener's requests are counted here.
    let series =
        "tessera_http_requests_total{route=\"/api/example/\",method=\"GET\",status=\"200\"} ";
    let count = metrics
        .lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert_eq!(count, Some(1.0), "{metrics}");
    let reply = get(server.admin, "/admin/users").await.unwrap();
    assert_eq!(reply.status(), 200);
    let body = reply.json::<serde_json::Value>().await.unwrap();
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["results"][0]["username"], json!("admin"));
}

#[tokio::test]
async fn metrics_on_a_non_loopback_bind_take_a_staff_session() {
    use crate::sessions::{login, request, Jar};
    let app = public_app(|_| {}).await;
    app.staff("root", "root-pass-123").await;
    app.user("alice", "alice-pass-123").await;
    let (staff, reply) = login(&app, "root", "root-pass-123").await;
    assert_eq!(reply.status, 200, "{}", text(&reply.body));
    assert_metrics(&request(&app, Method::GET, "/metrics", &staff, &[], None).await);
    let (user, reply) = login(&app, "alice", "alice-pass-123").await;
    assert_eq!(reply.status, 200, "{}", text(&reply.body));
    request(&app, Method::GET, "/metrics", &user, &[], None)
        .await
        .assert_error(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        );
    let anonymous = request(&app, Method::GET, "/metrics", &Jar::default(), &[], None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn the_metrics_bearer_token_comes_before_accept_bearer_token_authentication() {
    let app = public_app(|c| {
        c.authentication.accept_bearer = true;
        c.metrics.bearer_token = Some(tessera_server::config::MetricsToken(BEARER.into()));
    })
    .await;
    assert_metrics(&app.send(bearer("/metrics", BEARER)).await);
    // Another bearer value is a token for the token authenticator: unknown.
    let staff = app.staff("root", "root-pass-123").await;
    let key = app.token(&staff).await;
    assert_metrics(&app.send(bearer("/metrics", &key)).await);
    let reply = app.send(bearer("/metrics", &"x".repeat(40))).await;
    assert_eq!(reply.status, 401, "{}", text(&reply.body));
    assert_eq!(reply.json()["code"], json!("authentication_failed"));
}
