//! Observability: request ids, `/metrics`, and the real binary's JSON logs,
//! none of which may ever hold a secret.

use crate::cli::{superuser_with_token, tessera};
use crate::e2e::listening_addr;
use crate::support::{raw, req, Reply, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_core::token::TokenKey;

fn is_generated_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn get_with_id(app: &TestApp, path: &str, id: &[u8]) -> Reply {
    app.send(raw(
        Method::GET,
        path,
        &[("x-request-id", id)],
        Body::empty(),
    ))
    .await
}

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    String::from_utf8(reply.body).unwrap()
}

/// The value of the sample named exactly `series` (name and labels), 0 when
/// absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn request_ids_are_echoed_sanitised_or_generated() {
    let app = TestApp::new().await;

    let reply = get_with_id(&app, "/healthz", b"abc-123_X.y").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-request-id"), Some("abc-123_X.y"));
    let longest = "r".repeat(64);
    let reply = get_with_id(&app, "/healthz", longest.as_bytes()).await;
    assert_eq!(reply.header("x-request-id"), Some(longest.as_str()));

    // On every response, the 404 and 405 fallbacks and refusals included.
    let a = app.get("/healthz", None).await;
    let b = app.get("/no/such/route", None).await;
    let c = app.get("/auth/me", None).await;
    let d = app.send(req(Method::DELETE, "/healthz", None, None)).await;
    assert_eq!(
        [b.status.as_u16(), c.status.as_u16(), d.status.as_u16()],
        [404, 401, 405]
    );
    let ids: Vec<&str> = [&a, &b, &c, &d]
        .iter()
        .map(|r| r.header("x-request-id").unwrap())
        .collect();
    for id in &ids {
        assert!(is_generated_id(id), "{id}");
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids repeat: {ids:?}");

    // Hostile ids are replaced, never echoed or cut.
    let long = "a".repeat(1000);
    let hostile: [&[u8]; 7] = [
        long.as_bytes(),
        &long.as_bytes()[..65],
        b"two words",
        b"quote\"}{\"injected\":1",
        b"tab\there",
        b"caf\xc3\xa9",
        b"../../etc/passwd",
    ];
    for id in hostile {
        let reply = get_with_id(&app, "/healthz", id).await;
        assert_eq!(reply.status, 200);
        let echoed = reply.header("x-request-id").unwrap();
        assert!(is_generated_id(echoed), "{:?} gave {echoed}", id);
    }
}

#[tokio::test]
async fn the_request_id_reaches_the_audit_log() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let reply = app
        .send(raw(
            Method::POST,
            "/api-token-auth/",
            &[
                ("content-type", b"application/json"),
                ("x-request-id", b"audit-corr-1"),
            ],
            r#"{"username":"alice","password":"wrong-pass"}"#,
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("x-request-id"), Some("audit-corr-1"));
    let events = app.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e.request_id.as_deref() == Some("audit-corr-1")),
        "{events:?}"
    );
}

#[tokio::test]
async fn metrics_count_exactly_and_hold_no_secret() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let before = scrape(&app).await;
    for series in [
        "tessera_token_db_lookups_total",
        "tessera_csrf_failures_total",
        "tessera_lockouts_total",
        "tessera_login_duration_seconds_count",
    ] {
        assert!(
            before.lines().any(|l| l == format!("{series} 0")),
            "{series} in\n{before}"
        );
    }

    // Three token successes, two failures: an unknown well-formed key (looked
    // up) and a malformed one (refused before the store, SECURITY T4).
    for _ in 0..3 {
        assert_eq!(app.get("/auth/me", Some(&key)).await.status, 200);
    }
    let unknown = TokenKey::generate().expose().to_owned();
    assert_eq!(app.get("/auth/me", Some(&unknown)).await.status, 401);
    assert_eq!(app.get("/auth/me", Some("not-a-key")).await.status, 401);

    // Passwords: one failure, one success (a second key, shown once).
    let bad = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "wrong-pass"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let good = app
        .post_json(
            "/api-token-auth/",
            None,
            json!({"username": "alice", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(good.status, 200);
    let second_key = good.json()["token"].as_str().unwrap().to_owned();

    // A session: the login, one use, one CSRF failure, one garbled cookie.
    let csrf = app.get("/auth/csrf", None).await;
    let csrf_cookie = set_cookie(&csrf, "csrftoken").unwrap();
    let csrf_token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let cookie = format!("csrftoken={csrf_cookie}");
    let login = app
        .send(raw(
            Method::POST,
            "/auth/login",
            &[
                ("content-type", b"application/json"),
                ("cookie", cookie.as_bytes()),
                ("x-csrftoken", csrf_token.as_bytes()),
            ],
            r#"{"username":"alice","password":"s3cret-pass"}"#,
        ))
        .await;
    assert_eq!(login.status, 200, "{:?}", login.json());
    let session_id = set_cookie(&login, "sessionid").unwrap();
    let new_csrf = set_cookie(&login, "csrftoken").unwrap_or(csrf_cookie.clone());
    let jar = format!("sessionid={session_id}; csrftoken={new_csrf}");
    let me = raw(
        Method::GET,
        "/auth/me",
        &[("cookie", jar.as_bytes())],
        Body::empty(),
    );
    assert_eq!(app.send(me).await.status, 200);
    let no_csrf = raw(
        Method::POST,
        "/auth/logout",
        &[("cookie", jar.as_bytes())],
        Body::empty(),
    );
    app.send(no_csrf)
        .await
        .assert_error(403, "csrf_failed", "CSRF Failed: CSRF token missing.");
    let garbled = raw(
        Method::GET,
        "/auth/me",
        &[("cookie", b"sessionid=garbled")],
        Body::empty(),
    );
    assert_eq!(app.send(garbled).await.status, 401);

    // An unmatched route, an unknown method, and a secret in a query string.
    assert_eq!(app.get("/nowhere", None).await.status, 404);
    let brew = req(Method::from_bytes(b"BREW").unwrap(), "/healthz", None, None);
    assert_eq!(app.send(brew).await.status, 405);
    let query = format!("/healthz?token={key}&password=s3cret-pass");
    assert_eq!(app.get(&query, None).await.status, 200);

    let text = scrape(&app).await;
    let expect = [
        ("tessera_auth_outcomes_total{method=\"token\",outcome=\"success\"}", 3.0),
        ("tessera_auth_outcomes_total{method=\"token\",outcome=\"failure\"}", 2.0),
        ("tessera_token_db_lookups_total", 4.0),
        ("tessera_auth_outcomes_total{method=\"password\",outcome=\"success\"}", 2.0),
        ("tessera_auth_outcomes_total{method=\"password\",outcome=\"failure\"}", 1.0),
        ("tessera_login_duration_seconds_count", 3.0),
        ("tessera_auth_outcomes_total{method=\"session\",outcome=\"success\"}", 1.0),
        // The CSRF failure and the garbled cookie.
        ("tessera_auth_outcomes_total{method=\"session\",outcome=\"failure\"}", 2.0),
        ("tessera_csrf_failures_total", 1.0),
        ("tessera_lockouts_total", 0.0),
        ("tessera_http_requests_total{route=\"/auth/me\",method=\"GET\",status=\"200\"}", 4.0),
        ("tessera_http_requests_total{route=\"/auth/me\",method=\"GET\",status=\"401\"}", 3.0),
        ("tessera_http_requests_total{route=\"/healthz\",method=\"OTHER\",status=\"405\"}", 1.0),
        ("tessera_http_requests_total{route=\"/api-token-auth/\",method=\"POST\",status=\"400\"}", 1.0),
        ("tessera_http_requests_total{route=\"/api-token-auth/\",method=\"POST\",status=\"200\"}", 1.0),
        ("tessera_http_requests_total{route=\"/auth/logout\",method=\"POST\",status=\"403\"}", 1.0),
        ("tessera_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}", 1.0),
        ("tessera_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}", 1.0),
        // The first scrape counts; this one is not finished yet.
        ("tessera_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"}", 1.0),
        ("tessera_password_hash_queue_depth", 0.0),
        ("tessera_password_hash_running", 0.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), value, "{series} in\n{text}");
    }
    for gauge in [
        "# TYPE tessera_password_hash_queue_depth gauge",
        "# TYPE tessera_password_hash_running gauge",
        "# TYPE tessera_login_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == gauge), "{gauge} in\n{text}");
    }
    for secret in [
        key.as_str(),
        &second_key,
        &unknown,
        "not-a-key",
        "s3cret-pass",
        "wrong-pass",
        &session_id,
        &csrf_cookie,
        &csrf_token,
        "garbled",
        "?",
        "token=",
    ] {
        assert!(!text.contains(secret), "{secret} in /metrics");
    }

    // Each application has its own registry.
    let other = TestApp::new().await;
    let fresh = scrape(&other).await;
    assert_eq!(
        sample(
            &fresh,
            "tessera_auth_outcomes_total{method=\"token\",outcome=\"success\"}"
        ),
        0.0
    );
}

fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|v| v.strip_prefix(&format!("{name}="))?.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `tessera serve` with its stderr kept, line by line.
struct LoggedServer {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LoggedServer {
    fn start(dir: &std::path::Path) -> LoggedServer {
        let mut child = tessera(dir)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env_remove("TESSERA_LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = listening_addr(&line) {
                    let _ = addr_tx.send(addr);
                }
                kept.lock().unwrap().push(line);
            }
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no listening line in {:?}", lines.lock().unwrap()));
        LoggedServer { child, addr, lines }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The log lines so far, once one holds each of `ids` (or after 10 s).
    fn lines_with(&self, ids: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            let all = ids.iter().all(|id| lines.iter().any(|l| l.contains(id)));
            if all || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A request written by hand, for header bytes no client library sends;
    /// the response's `X-Request-Id`.
    fn raw_request_id(&self, id_line: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ".to_vec();
        request.extend_from_slice(id_line);
        request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        stream.write_all(&request).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_else(|| panic!("no x-request-id in {text}"))
            .to_owned()
    }
}

#[tokio::test]
async fn the_binary_logs_one_json_line_per_request_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let admin_key = superuser_with_token(dir.path(), "admin", "admin-pass-123");
    let server = LoggedServer::start(dir.path());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let health = http
        .get(server.url("/healthz"))
        .header("x-request-id", "obs-health")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.headers()["x-request-id"], "obs-health");

    let login = http
        .post(server.url("/api-token-auth/"))
        .header("x-request-id", "obs-login")
        .form(&[("username", "admin"), ("password", "admin-pass-123")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let key = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = http
        .get(server.url("/auth/me"))
        .header("x-request-id", "obs-me")
        .header("authorization", format!("Token {admin_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let bad = http
        .get(server.url("/auth/me"))
        .header("x-request-id", "obs-bad-key")
        .header("authorization", "Token tsr_not-a-real-key")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    // A secret in a query string is never logged.
    let query = http
        .get(server.url(&format!("/healthz?token={key}")))
        .header("x-request-id", "obs-query")
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
    // What is logged while a request is answered carries its id: a refused
    // host (checked before routing) and a failed CSRF check (in the route).
    let bad_host = http
        .get(server.url("/healthz"))
        .header("x-request-id", "obs-bad-host")
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_host.status(), 400);
    let no_csrf = http
        .post(server.url("/auth/login"))
        .header("x-request-id", "obs-no-csrf")
        .json(&json!({"username": "admin", "password": "admin-pass-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);

    // A session login: its id and CSRF secret are never logged either.
    let csrf = http.get(server.url("/auth/csrf")).send().await.unwrap();
    let csrf_secret = cookie_of(csrf.headers(), "csrftoken").unwrap();
    let csrf_token = csrf.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = http
        .post(server.url("/auth/login"))
        .header("x-request-id", "obs-session")
        .header("cookie", format!("csrftoken={csrf_secret}"))
        .header("x-csrftoken", &csrf_token)
        .json(&json!({"username": "admin", "password": "admin-pass-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    let session_id = cookie_of(session.headers(), "sessionid").unwrap();
    let me = http
        .get(server.url("/auth/me"))
        .header("x-request-id", "obs-session-me")
        .header("cookie", format!("sessionid={session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // Generated and hostile ids, on the wire.
    let generated = http.get(server.url("/healthz")).send().await.unwrap();
    let generated = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(is_generated_id(&generated), "{generated}");
    let long = "a".repeat(1000);
    let replaced_long = server.raw_request_id(long.as_bytes());
    assert!(is_generated_id(&replaced_long), "{replaced_long}");
    let replaced_quote = server.raw_request_id(b"x\"}, {\"forged\": \"line\xff");
    assert!(is_generated_id(&replaced_quote), "{replaced_quote}");

    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();

    let ids = [
        "obs-health",
        "obs-login",
        "obs-me",
        "obs-bad-key",
        "obs-query",
        "obs-bad-host",
        "obs-no-csrf",
        "obs-session",
        "obs-session-me",
        generated.as_str(),
        replaced_long.as_str(),
        replaced_quote.as_str(),
    ];
    let lines = server.lines_with(&ids);
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["target"] == "tessera::http")
        .collect();
    for id in ids {
        let mine: Vec<&&Value> = requests.iter().filter(|v| v["request_id"] == id).collect();
        assert_eq!(mine.len(), 1, "one line for {id} in {lines:#?}");
        let line = mine[0];
        assert_eq!(line["message"], "request");
        assert!(line["method"].is_string() && line["path"].is_string());
        assert!(line["status"].is_u64() && line["latency_ms"].is_f64());
        assert!(line["route"].is_string());
    }
    let by_id = |id: &str| *requests.iter().find(|v| v["request_id"] == id).unwrap();
    assert_eq!(
        by_id("obs-me").clone(),
        json!({
            "timestamp": by_id("obs-me")["timestamp"],
            "level": "INFO",
            "message": "request",
            "request_id": "obs-me",
            "method": "GET",
            "path": "/auth/me",
            "route": "/auth/me",
            "status": 200,
            "latency_ms": by_id("obs-me")["latency_ms"],
            "target": "tessera::http",
        })
    );
    assert_eq!(by_id("obs-query")["path"], "/healthz");
    let logged_in_request = |message: &str| -> Vec<&Value> {
        parsed.iter().filter(|v| v["message"] == message).collect()
    };
    let host_refused = logged_in_request("request refused: Host not in server.allowed_hosts");
    assert_eq!(host_refused.len(), 1, "{lines:#?}");
    assert_eq!(host_refused[0]["span"]["request_id"], "obs-bad-host");
    assert_eq!(host_refused[0]["host"], "\"evil.example\"");
    let csrf_failed = logged_in_request("CSRF check failed");
    assert_eq!(csrf_failed.len(), 1, "{lines:#?}");
    assert_eq!(csrf_failed[0]["span"]["request_id"], "obs-no-csrf");
    assert_eq!(by_id("obs-bad-key")["status"], 401);

    let whole = lines.join("\n");
    for secret in [
        key.as_str(),
        &admin_key,
        "tsr_not-a-real-key",
        "admin-pass-123",
        &session_id,
        &csrf_secret,
        &csrf_token,
        &long,
        "forged",
    ] {
        assert!(!whole.contains(secret), "{secret} logged");
        assert!(!metrics.contains(secret), "{secret} in /metrics");
    }
}

fn cookie_of(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}="))?.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[tokio::test]
async fn metrics_count_users_by_password_scheme_until_their_upgrade() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    app.user("bob", "s3cret-pass").await;
    // Alice's hash as imported from Django: "tessera" with 1000 iterations.
    let django = "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";
    let update = tessera_core::user::UserUpdate {
        password_hash: Some(django.into()),
        ..Default::default()
    };
    let users = &app.state.tessera.stores().users;
    users.update_user(alice.id, update).await.unwrap();
    let text = scrape(&app).await;
    assert!(
        text.lines()
            .any(|l| l == "# TYPE tessera_users_password_scheme gauge"),
        "{text}"
    );
    let scheme = |s: &str| format!("tessera_users_password_scheme{{scheme=\"{s}\"}}");
    assert_eq!(sample(&text, &scheme("pbkdf2_sha256")), 1.0, "{text}");
    assert_eq!(sample(&text, &scheme("tessera")), 1.0, "{text}");
    assert!(text.ends_with("# EOF\n"));
    let reply = app
        .post_json(
            "/api-token-auth/",
            None,
            serde_json::json!({"username": "alice", "password": "tessera"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, &scheme("tessera")), 2.0, "{text}");
    assert!(!text.contains(&scheme("pbkdf2_sha256")), "{text}");
}
