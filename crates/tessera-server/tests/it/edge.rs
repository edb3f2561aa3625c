//! The listener's edge on a real socket: slow and oversized clients, the
//! connection cap, TLS with HSTS and secure cookies, certificate reload.

use crate::cli::tessera;
use crate::e2e::{serve, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A raw connection to `addr`, reads failing after `timeout`.
fn connect(addr: SocketAddr, timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream
}

/// Reads until the server closes the connection (panics on a read timeout).
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads one response whose body has a `content-length`.
fn read_response(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed mid-response: {answer:?}");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            if answer.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// The status line and the body of a raw response.
fn status_and_body(answer: &str) -> (&str, &str) {
    let status = answer.lines().next().unwrap_or_default();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body)
}

/// `GET /healthz` on `conn`, `times` times, each answered `200`, waiting
/// `gap` after each answer.
fn ask_healthz(conn: &mut TcpStream, times: usize, gap: Duration) {
    for _ in 0..times {
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let answer = read_response(conn);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        std::thread::sleep(gap);
    }
}

/// Waits for the server to close `conn` without an answer, which must take
/// at least `at_least` (and less than 5 s).
fn closed_after(conn: &mut TcpStream, at_least: Duration) {
    let started = Instant::now();
    assert_eq!(read_to_close(conn), "", "closed without an answer");
    let waited = started.elapsed();
    assert!(
        waited >= at_least && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

/// A server with these idle and header timeouts.
fn serve_with_timeouts(dir: &std::path::Path, idle: &str, header: &str) -> Server {
    serve(
        dir,
        &[
            ("TESSERA_SERVER__IDLE_TIMEOUT", idle),
            ("TESSERA_SERVER__HEADER_READ_TIMEOUT", header),
        ],
    )
}

/// Another client is served meanwhile.
async fn healthz(addr: SocketAddr) {
    let reply = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn a_half_sent_header_is_closed_by_the_timeout_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("TESSERA_SERVER__HEADER_READ_TIMEOUT", "1s"),
            ("TESSERA_SERVER__IDLE_TIMEOUT", "60s"),
        ],
    );
    let mut slow = connect(server.addr, Duration::from_secs(10));
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .unwrap();
    healthz(server.addr).await;
    // Each further byte arrives well within the idle timeout; the head as a
    // whole does not arrive within the header timeout.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(200));
        let _ = slow.write_all(b"a");
    }
    let answer = read_to_close(&mut slow);
    let waited = started.elapsed();
    assert_eq!(answer, "", "closed without an answer");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    healthz(server.addr).await;
}

#[tokio::test]
async fn a_20_kib_header_is_refused_with_431_and_a_huge_one_by_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let mut big = connect(server.addr, Duration::from_secs(10));
    let value = "a".repeat(20 * 1024);
    big.write_all(
        format!(
            "GET /api/example/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Token {value}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let answer = read_to_close(&mut big);
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(
        answer.contains("\r\ncontent-type: application/json\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert_eq!(
        body,
        r#"{"code":"request_header_fields_too_large","detail":"Request header fields too large."}"#
    );

    // Just under the limit passes through to the application (401 for the
    // unknown key's shape).
    let mut fits = connect(server.addr, Duration::from_secs(10));
    let value = "a".repeat(15 * 1024);
    fits.write_all(
        format!("GET /api/example/ HTTP/1.1\r\nHost: localhost\r\nX-Pad: {value}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let answer = read_to_close(&mut fits);
    assert_eq!(status_and_body(&answer).0, "HTTP/1.1 401 Unauthorized");

    // Past twice the limit the parser stops reading it: 431, no body.
    let mut huge = connect(server.addr, Duration::from_secs(10));
    let value = "a".repeat(400 * 1024);
    let _ = huge.write_all(
        format!(
            "GET /api/example/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Token {value}\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut answer = Vec::new();
    let _ = huge.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    healthz(server.addr).await;
}

#[tokio::test]
async fn a_body_not_sent_in_time_is_answered_408_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("TESSERA_SERVER__BODY_READ_TIMEOUT", "1s")]);
    let mut slow = connect(server.addr, Duration::from_secs(10));
    let started = Instant::now();
    slow.write_all(
        b"POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\": ",
    )
    .unwrap();
    healthz(server.addr).await;
    let answer = read_to_close(&mut slow);
    let waited = started.elapsed();
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert_eq!(
        body,
        r#"{"code":"request_timeout","detail":"Request body not received in time."}"#
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    healthz(server.addr).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_timeouts(dir.path(), "1s", "60s");
    let mut idle = connect(server.addr, Duration::from_secs(10));
    ask_healthz(&mut idle, 1, Duration::ZERO);
    healthz(server.addr).await;
    // Kept alive, then closed once silent for the idle timeout.
    closed_after(&mut idle, Duration::from_millis(800));
    healthz(server.addr).await;
}

#[tokio::test]
async fn a_connection_in_use_outlives_its_idle_timeout_and_then_closes_once_silent() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_timeouts(dir.path(), "1s", "60s");
    let mut conn = connect(server.addr, Duration::from_secs(10));
    // A request every 400 ms for 2.4 s: each silence is shorter than the
    // idle timeout, the connection's life longer; the one timer the
    // connection keeps is pushed back after each request.
    ask_healthz(&mut conn, 7, Duration::from_millis(400));
    // 400 ms of the second were already spent silent.
    closed_after(&mut conn, Duration::from_millis(400));
}

#[tokio::test]
async fn the_header_timeout_counts_each_heads_wait_not_the_connections_life() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_timeouts(dir.path(), "60s", "1s");
    let mut conn = connect(server.addr, Duration::from_secs(10));
    // A request every 100 ms for 2.5 s, on one connection: each head comes
    // well within the header timeout, the connection's life is longer.
    ask_healthz(&mut conn, 25, Duration::from_millis(100));
    // Then no head: closed by the header timeout, counted from the last
    // answer (100 ms of it already spent), not by the idle timeout.
    closed_after(&mut conn, Duration::from_millis(700));
}

#[tokio::test]
async fn the_idle_timeout_counts_from_the_answer_of_a_request_that_took_longer() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_timeouts(dir.path(), "1s", "60s");
    let mut conn = connect(server.addr, Duration::from_secs(10));
    // A body sent in pieces over 2 s, longer than the idle timeout: the
    // request is being answered meanwhile, so the connection stays.
    let body = br#"{"username": "nobody", "password": "wrong-password"}"#;
    let head = format!(
        "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    for piece in body.chunks(body.len().div_ceil(5)) {
        std::thread::sleep(Duration::from_millis(400));
        conn.write_all(piece).unwrap();
    }
    let answer = read_response(&mut conn);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    // Then closed once silent for the idle timeout after the answer, not
    // at once for the time the request took.
    closed_after(&mut conn, Duration::from_millis(800));
}

#[tokio::test]
async fn an_idle_timeout_too_long_for_the_clock_never_fires_and_never_breaks_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("TESSERA_SERVER__IDLE_TIMEOUT", "500000000000y"),
            ("TESSERA_SERVER__HEADER_READ_TIMEOUT", "60s"),
        ],
    );
    let mut conn = connect(server.addr, Duration::from_secs(10));
    for _ in 0..3 {
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let answer = read_response(&mut conn);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }
}

#[tokio::test]
async fn connections_past_max_connections_are_refused_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            ("TESSERA_SERVER__MAX_CONNECTIONS", "2"),
            ("TESSERA_SERVER__IDLE_TIMEOUT", "60s"),
            ("TESSERA_SERVER__HEADER_READ_TIMEOUT", "60s"),
        ],
    );
    let holders: Vec<TcpStream> = (0..2)
        .map(|_| connect(server.addr, Duration::from_secs(10)))
        .collect();
    // The server has accepted both (the cap counts accepted connections).
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut third = connect(server.addr, Duration::from_secs(10));
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let answer = read_to_close(&mut third);
    assert!(started.elapsed() < Duration::from_secs(3));
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert_eq!(
        body,
        r#"{"detail":"Too many connections; try again shortly.","code":"too_many_connections"}"#
    );
    // A held connection closes: the next client is served.
    drop(holders);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = reqwest::Client::new()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
        if reply.status() == 200 {
            break;
        }
        assert_eq!(reply.status(), 503);
        assert!(Instant::now() < deadline, "a slot never came free");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let key =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    (key.cert.pem(), key.key_pair.serialize_pem())
}

/// A client trusting only `ca_pem`, reaching `localhost` at `addr`.
fn tls_client(ca_pem: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn tls_handshake_hsts_host_prefixed_secure_cookies_and_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let server = serve(
        dir.path(),
        &[
            ("TESSERA_TLS__CERT_FILE", cert_file.to_str().unwrap()),
            ("TESSERA_TLS__KEY_FILE", key_file.to_str().unwrap()),
            ("TESSERA_COOKIES__HOST_PREFIX", "true"),
        ],
    );
    let url = |path: &str| format!("https://localhost:{}{path}", server.addr.port());
    let first = tls_client(&cert, server.addr);
    let reply = first.get(url("/healthz")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let reply = first.get(url("/auth/csrf")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let cookie = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-csrftoken="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.addr))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err());

    // A new certificate, and SIGHUP.
    let (new_cert, new_key) = self_signed();
    std::fs::write(&cert_file, &new_cert).unwrap();
    std::fs::write(&key_file, &new_key).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // New handshakes see the new certificate...
    let second = tls_client(&new_cert, server.addr);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match second.get(url("/healthz")).send().await {
            Ok(reply) => {
                assert_eq!(reply.status(), 200);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "never reloaded: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old_only = tls_client(&cert, server.addr);
    assert!(old_only.get(url("/healthz")).send().await.is_err());
    // ... while the first client's open keep-alive connection (which trusts
    // only the old certificate, so it could not open a new one) still works.
    let reply = first.get(url("/healthz")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn a_trusted_proxy_saying_https_gets_hsts_and_plain_http_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("TESSERA_SERVER__TRUSTED_PROXIES", "1")]);
    let http = reqwest::Client::new();
    let reply = http
        .get(server.url("/healthz"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let reply = http.get(server.url("/healthz")).send().await.unwrap();
    assert!(reply.headers().get("strict-transport-security").is_none());
    // The cookies count it as TLS too, on this loopback bind.
    let reply = http
        .get(server.url("/auth/csrf"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = reply.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("csrftoken="), "{cookie}");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let reply = http.get(server.url("/auth/csrf")).send().await.unwrap();
    let cookie = reply.headers()["set-cookie"].to_str().unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");

    // A 431 answered before the application carries it too.
    let reply = http
        .get(server.url("/healthz"))
        .header("X-Forwarded-Proto", "https")
        .header("X-Pad", "a".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 431);
    assert_eq!(
        reply.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );

    // Off, and without subdomains.
    let dir = tempfile::tempdir().unwrap();
    for (max_age, subdomains, expected) in
        [("0", "true", None), ("600", "false", Some("max-age=600"))]
    {
        let server = serve(
            dir.path(),
            &[
                ("TESSERA_SERVER__TRUSTED_PROXIES", "1"),
                ("TESSERA_SERVER__HSTS_MAX_AGE", max_age),
                ("TESSERA_SERVER__HSTS_INCLUDE_SUBDOMAINS", subdomains),
            ],
        );
        let reply = http
            .get(server.url("/healthz"))
            .header("X-Forwarded-Proto", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply
                .headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            expected
        );
    }

    // Without a trusted proxy the header means nothing.
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let reply = http
        .get(server.url("/healthz"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert!(reply.headers().get("strict-transport-security").is_none());
}

#[test]
fn host_prefix_without_secure_cookies_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = tessera(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_COOKIES__HOST_PREFIX", "true")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cookies.host_prefix = true needs Secure cookies"),
        "{stderr}"
    );
}

#[test]
fn plain_http_off_loopback_warns_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tessera(dir.path())
        .args(["serve", "--bind", "0.0.0.0:0"])
        // A public bind needs its hosts named (else it refuses to start).
        .env("TESSERA_SERVER__ALLOWED_HOSTS", r#"["api.example"]"#)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let seen = crate::e2e::wait_ready(&mut child, |line| line.contains("tessera listening"));
    let _ = child.kill();
    let _ = child.wait();
    let warnings: Vec<_> = seen
        .iter()
        .filter(|l| l.contains("neither TLS nor a trusted proxy"))
        .collect();
    assert_eq!(warnings.len(), 1, "{seen:#?}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
}
