//! Django's `ALLOWED_HOSTS` (`server.allowed_hosts`): a foreign `Host` is
//! refused before authentication, and absolute links use the allowed host.

use crate::cli::tessera;
use crate::sessions::{csrf_header, login};
use crate::support::{Reply, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, Version};
use serde_json::{json, Value};
use std::process::Stdio;

/// A request naming `host` (none when `None`), with extra headers.
fn to_host(
    method: Method,
    path: &str,
    host: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(host) = host {
        builder = builder.header("host", host);
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

#[track_caller]
fn assert_invalid_host(reply: &Reply) {
    reply.assert_error(400, "invalid_host", "Invalid host header.");
    // The edge's answer still carries the hardening headers.
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_authentication() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let auth = format!("Token {key}");
    for (method, path, headers) in [
        (
            Method::GET,
            "/api/example/",
            vec![("authorization", auth.as_str())],
        ),
        // A bad key would be 401 after the host check: the host comes first.
        (
            Method::GET,
            "/api/example/",
            vec![("authorization", "Token nope")],
        ),
        (Method::GET, "/api/example/", vec![]),
        (Method::GET, "/healthz", vec![]),
        (Method::GET, "/no/such/route", vec![]),
        (Method::DELETE, "/auth/csrf", vec![]),
    ] {
        let reply = app
            .send(to_host(method, path, Some("evil.example"), &headers, None))
            .await;
        assert_invalid_host(&reply);
        assert!(reply.header("www-authenticate").is_none());
    }
    // Obtaining a token with the right password: refused, and no password
    // was checked (no login event).
    let before = app.audit_events().await.len();
    let reply = app
        .send(to_host(
            Method::POST,
            "/api-token-auth/",
            Some("evil.example"),
            &[],
            Some(json!({"username": "alice", "password": "s3cret-pass"})),
        ))
        .await;
    assert_invalid_host(&reply);
    assert_eq!(app.audit_events().await.len(), before);
    // The same key on an allowed host works.
    let reply = app
        .send(to_host(
            Method::GET,
            "/api/example/",
            Some("testserver"),
            &[("authorization", &auth)],
            None,
        ))
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn the_defaults_are_the_loopback_names_and_the_bind_address() {
    let app = TestApp::with_config(|c| {
        c.server.allowed_hosts.clear();
        c.server.bind = "127.0.0.2:8000".parse().unwrap();
    })
    .await;
    for host in [
        "localhost",
        "localhost:8000",
        "LOCALHOST.",
        "127.0.0.1:8000",
        "[::1]:8000",
        "127.0.0.2:8000",
        "127.0.0.2",
    ] {
        let reply = app
            .send(to_host(Method::GET, "/healthz", Some(host), &[], None))
            .await;
        assert_eq!(reply.status, 200, "{host}");
    }
    for host in [
        "testserver",
        "evil.example",
        "localhost.evil.example",
        "127.0.0.3",
        "[::2]",
        "localhost:80:80",
        "local host",
        "",
    ] {
        let reply = app
            .send(to_host(Method::GET, "/healthz", Some(host), &[], None))
            .await;
        assert_invalid_host(&reply);
    }
}

#[tokio::test]
async fn patterns_are_exact_names_domains_with_a_leading_dot_or_any() {
    let app = TestApp::with_config(|c| {
        c.server.allowed_hosts = vec!["api.example.com".into(), ".example.org".into()];
    })
    .await;
    for (host, allowed) in [
        ("api.example.com", true),
        ("API.Example.COM:8443", true),
        ("www.example.com", false),
        ("example.com", false),
        ("example.org", true),
        ("a.b.example.org:80", true),
        ("badexample.org", false),
        ("example.org.evil.example", false),
        ("localhost", false),
        ("testserver", false),
    ] {
        let reply = app
            .send(to_host(Method::GET, "/healthz", Some(host), &[], None))
            .await;
        if allowed {
            assert_eq!(reply.status, 200, "{host}");
        } else {
            assert_invalid_host(&reply);
        }
    }
    let any = TestApp::with_config(|c| c.server.allowed_hosts = vec!["*".into()]).await;
    let reply = any
        .send(to_host(
            Method::GET,
            "/healthz",
            Some("whatever.example:1"),
            &[],
            None,
        ))
        .await;
    assert_eq!(reply.status, 200);
    // `*` is any well-formed host, not any bytes.
    let reply = any
        .send(to_host(Method::GET, "/healthz", Some("a@b"), &[], None))
        .await;
    assert_invalid_host(&reply);
}

#[tokio::test]
async fn http_1_1_needs_a_host_and_http_1_0_may_omit_it() {
    let app = TestApp::new().await;
    let reply = app
        .send(to_host(Method::GET, "/healthz", None, &[], None))
        .await;
    assert_invalid_host(&reply);
    let mut request = to_host(Method::GET, "/healthz", None, &[], None);
    *request.version_mut() = Version::HTTP_10;
    assert_eq!(app.send(request).await.status, 200);
    // HTTP/2's `:authority` (the URI's authority) stands for `Host`.
    let request = to_host(Method::GET, "http://evil.example/healthz", None, &[], None);
    assert_invalid_host(&app.send(request).await);
    let request = to_host(Method::GET, "http://localhost/healthz", None, &[], None);
    assert_eq!(app.send(request).await.status, 200);
}

#[tokio::test]
async fn a_foreign_host_cannot_vouch_for_its_own_origin() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let cookie = jar.cookie_header();
    let secret = csrf_header(&jar);
    let post = |host: &'static str, origin: &'static str| {
        to_host(
            Method::POST,
            "/api/example/",
            Some(host),
            &[
                ("cookie", &cookie),
                ("x-csrftoken", &secret),
                ("origin", origin),
            ],
            Some(json!({"hello": "world"})),
        )
    };
    // Before allowed hosts this passed Django's origin check: the origin
    // matched the request's own (attacker-chosen) host.
    assert_invalid_host(&app.send(post("evil.example", "http://evil.example")).await);
    assert_invalid_host(
        &app.send(post("evil.example:80", "http://evil.example:80"))
            .await,
    );
    let reply = app.send(post("testserver", "http://evil.example")).await;
    reply.assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: Origin checking failed - http://evil.example does not match any trusted origins.",
    );
    let reply = app.send(post("testserver", "http://testserver")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["received"], json!({"hello": "world"}));
}

#[tokio::test]
async fn pagination_links_use_the_allowed_host_and_the_scheme() {
    let app = TestApp::with_config(|c| {
        c.admin.page_size = 1;
        c.server.allowed_hosts = vec![".example.com".into()];
        c.throttle.num_proxies = 1;
    })
    .await;
    let boss = app.superuser("boss", "s3cret-pass").await;
    app.user("ann", "pw-123456").await;
    let key = format!("Token {}", app.recent_token(&boss).await);
    let page = |host: &'static str, proto: Option<&'static str>| {
        let mut headers = vec![("authorization", key.as_str())];
        if let Some(proto) = proto {
            headers.push(("x-forwarded-proto", proto));
        }
        to_host(Method::GET, "/admin/users", Some(host), &headers, None)
    };
    let body = app.send(page("api.example.com:8443", None)).await.json();
    assert_eq!(
        body["next"],
        "http://api.example.com:8443/admin/users?page=2"
    );
    let body = app
        .send(page("api.example.com", Some("https")))
        .await
        .json();
    assert_eq!(body["next"], "https://api.example.com/admin/users?page=2");
    // The link host is never one the client chose outside the list.
    assert_invalid_host(&app.send(page("evil.example", Some("https"))).await);
}

#[test]
fn serving_on_a_public_address_without_allowed_hosts_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("TESSERA_SERVER__ALLOWED_HOSTS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("server.allowed_hosts is not set: serving on 0.0.0.0:0 needs")
            && stderr.contains("TESSERA_SERVER__ALLOWED_HOSTS='[\"api.example.com\"]'")
            && stderr.contains("\"*\" allows any host"),
        "{stderr}"
    );
    // No database was created: the refusal comes first.
    assert!(!dir.path().join("tessera-data").exists());
}

#[tokio::test]
async fn a_public_bind_with_allowed_hosts_serves_them_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::e2e::serve_on(
        dir.path(),
        "0.0.0.0:0",
        &[("TESSERA_SERVER__ALLOWED_HOSTS", "[\"api.example.com\"]")],
    );
    let port = server.addr.port();
    let client = reqwest::Client::new();
    let get = |host: String| {
        client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .header("host", host)
            .send()
    };
    let reply = get(format!("api.example.com:{port}")).await.unwrap();
    assert_eq!(reply.status(), 200);
    let reply = get(format!("127.0.0.1:{port}")).await.unwrap();
    assert_eq!(reply.status(), 400);
    assert_eq!(
        reply.json::<Value>().await.unwrap(),
        json!({"detail": "Invalid host header.", "code": "invalid_host"})
    );
}

#[tokio::test]
async fn the_api_root_lists_the_routes_on_the_requests_own_host() {
    let app = TestApp::new().await;
    let reply = app.get("/", None).await;
    assert_eq!(reply.status, 200);
    let root = reply.json();
    assert_eq!(root["api-token-auth"], "http://testserver/api-token-auth/");
    assert_eq!(root["auth-me"], "http://testserver/auth/me");
    assert_eq!(root["openapi.json"], "http://testserver/openapi.json");
    assert_eq!(root["api-example"], "http://testserver/api/example/");
    // Routes with a parameter are not listed (DRF's router lists list routes).
    assert!(root
        .as_object()
        .unwrap()
        .values()
        .all(|url| !url.as_str().unwrap().contains('{')));
    assert!(root.get("").is_none(), "the root does not list itself");
    // A browser gets a page that leads to the sign-in page.
    let html = app
        .send(to_host(
            Method::GET,
            "/",
            Some("testserver"),
            &[("accept", "text/html,application/xhtml+xml")],
            None,
        ))
        .await;
    assert_eq!(html.status, 200);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(html.body.clone()).unwrap();
    assert!(page.contains("<a href=\"/login\">Sign in</a>"), "{page}");
    assert!(page.contains("<a href=\"/auth/me\">auth-me</a>"), "{page}");
    // A foreign host gets no links at all.
    let foreign = app
        .send(to_host(Method::GET, "/", Some("evil.example"), &[], None))
        .await;
    assert_invalid_host(&foreign);
}
