//! Session authentication and Django's CSRF protection, over HTTP.

use crate::support::{raw, Reply, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// What a browser holds: its cookies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Jar {
    session: Option<String>,
    csrf: Option<String>,
}

impl Jar {
    pub(crate) fn cookie_header(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.session {
            parts.push(format!("sessionid={s}"));
        }
        if let Some(c) = &self.csrf {
            parts.push(format!("csrftoken={c}"));
        }
        parts.join("; ")
    }

    /// Takes the cookies a response sets.
    pub(crate) fn absorb(&mut self, reply: &Reply) {
        for value in reply.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let value = (!value.is_empty()).then(|| value.to_owned());
            match name {
                "sessionid" => self.session = value,
                "csrftoken" => self.csrf = value,
                _ => {}
            }
        }
    }
}

fn set_cookie<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
}

pub(crate) async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    jar: &Jar,
    extra: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let cookie = jar.cookie_header();
    let mut headers: Vec<(&str, &[u8])> = vec![];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie.as_bytes()));
    }
    for (k, v) in extra {
        headers.push((k, v.as_bytes()));
    }
    let body = match &body {
        Some(b) => {
            headers.push(("content-type", b"application/json"));
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    app.send(raw(method, path, &headers, body)).await
}

/// `GET /auth/csrf`, then `POST /auth/login` with the masked token.
pub(crate) async fn login(app: &TestApp, username: &str, password: &str) -> (Jar, Reply) {
    let mut jar = Jar::default();
    let csrf = request(app, Method::GET, "/auth/csrf", &jar, &[], None).await;
    jar.absorb(&csrf);
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let reply = request(
        app,
        Method::POST,
        "/auth/login",
        &jar,
        &[("x-csrftoken", &token)],
        Some(json!({"username": username, "password": password})),
    )
    .await;
    jar.absorb(&reply);
    (jar, reply)
}

pub(crate) fn csrf_header(jar: &Jar) -> String {
    jar.csrf.clone().unwrap()
}

#[tokio::test]
async fn csrf_endpoint_gives_masked_tokens_and_sets_the_cookie() {
    let app = TestApp::new().await;
    let reply = request(&app, Method::GET, "/auth/csrf", &Jar::default(), &[], None).await;
    assert_eq!(reply.status, 200);
    let token = reply.json()["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    let cookie = set_cookie(&reply, "csrftoken").unwrap();
    let secret = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("csrftoken=");
    assert_eq!(secret.len(), 32);
    assert_eq!(
        cookie,
        format!("csrftoken={secret}; SameSite=Lax; Path=/; Max-Age=31449600"),
        "readable by scripts (no HttpOnly), no Secure on loopback"
    );
    assert_eq!(reply.header("vary"), Some("Cookie"));
    assert_eq!(tessera_core::csrf::unmask(&token).unwrap().expose(), secret);
    // The same cookie, another masked token.
    let mut jar = Jar::default();
    jar.absorb(&reply);
    let again = request(&app, Method::GET, "/auth/csrf", &jar, &[], None).await;
    let token2 = again.json()["csrfToken"].as_str().unwrap().to_owned();
    assert_ne!(token, token2);
    assert_eq!(
        tessera_core::csrf::unmask(&token2).unwrap().expose(),
        secret
    );
}

#[tokio::test]
async fn login_sets_a_fresh_http_only_session_and_rotates_the_csrf_secret() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let mut jar = Jar::default();
    let csrf = request(&app, Method::GET, "/auth/csrf", &jar, &[], None).await;
    jar.absorb(&csrf);
    let before = jar.csrf.clone().unwrap();
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let reply = request(
        &app,
        Method::POST,
        "/auth/login",
        &jar,
        &[("x-csrftoken", &token)],
        Some(json!({"username": "alice", "password": "s3cret-pass"})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["user"]["id"], alice.id);
    assert_eq!(reply.json()["user"]["username"], "alice");
    assert_eq!(reply.json()["user"]["last_login"], "2026-01-01T00:00:00Z");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let session = set_cookie(&reply, "sessionid").unwrap();
    let id = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("sessionid=");
    assert_eq!(id.len(), 43);
    assert_eq!(
        session,
        format!("sessionid={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600")
    );
    jar.absorb(&reply);
    assert_ne!(
        jar.csrf.as_deref(),
        Some(before.as_str()),
        "CSRF secret rotated at login"
    );
    let me = request(&app, Method::GET, "/auth/me", &jar, &[], None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["auth"], "session");
    assert_eq!(me.json()["user"]["username"], "alice");
    // The token read before login is dead after it (Django's rotate_token).
    let stale = request(
        &app,
        Method::POST,
        "/api/example/",
        &jar,
        &[("x-csrftoken", &token)],
        Some(json!({})),
    )
    .await;
    stale.assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
    );
    // Only a digest of the session id is stored.
    let db = std::fs::read(app.dir.path().join("tessera.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("tessera.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(id.len()).any(|w| w == id.as_bytes()));
    }
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let app =
        TestApp::with_config(|c| c.cookies.secure = tessera_server::config::SecureCookies::Always)
            .await;
    app.user("alice", "s3cret-pass").await;
    let (_, reply) = login(&app, "alice", "s3cret-pass").await;
    assert!(set_cookie(&reply, "sessionid")
        .unwrap()
        .contains("; Secure"));
    assert!(set_cookie(&reply, "csrftoken")
        .unwrap()
        .contains("; Secure"));
    // Not on loopback without TLS by default: `auto`.
    let app = TestApp::with_config(|c| c.server.bind = "0.0.0.0:8000".parse().unwrap()).await;
    app.user("alice", "s3cret-pass").await;
    let (_, reply) = login(&app, "alice", "s3cret-pass").await;
    assert!(set_cookie(&reply, "sessionid")
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn login_is_csrf_checked_even_for_the_anonymous() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    let reply = request(
        &app,
        Method::POST,
        "/auth/login",
        &Jar::default(),
        &[],
        Some(body.clone()),
    )
    .await;
    reply.assert_error(403, "csrf_failed", "CSRF Failed: CSRF cookie not set.");
    assert!(set_cookie(&reply, "sessionid").is_none());
    let mut jar = Jar::default();
    jar.absorb(&request(&app, Method::GET, "/auth/csrf", &jar, &[], None).await);
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "CSRF Failed: CSRF token missing."),
        (
            &[("x-csrftoken", "abc")],
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
        ),
        (
            &[("x-csrftoken", "********************************")],
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
        ),
        (
            &[("x-csrftoken", "abcdefghijklmnopqrstuvwxyzABCDEF")],
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        ),
    ];
    for (headers, detail) in cases {
        let reply = request(
            &app,
            Method::POST,
            "/auth/login",
            &jar,
            headers,
            Some(body.clone()),
        )
        .await;
        reply.assert_error(403, "csrf_failed", detail);
        assert!(set_cookie(&reply, "sessionid").is_none());
    }
    // The bare secret (the cookie's value) is accepted, as Django accepts it.
    let secret = csrf_header(&jar);
    let reply = request(
        &app,
        Method::POST,
        "/auth/login",
        &jar,
        &[("x-csrftoken", &secret)],
        Some(body),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn login_failures_are_generic() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    for (u, p) in [("alice", "nope"), ("ghost", "s3cret-pass")] {
        let (jar, reply) = login(&app, u, p).await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.json(),
            json!({"non_field_errors": ["Unable to log in with provided credentials."]})
        );
        assert!(jar.session.is_none());
    }
}

#[tokio::test]
async fn unsafe_methods_need_a_matching_token_and_safe_ones_do_not() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    assert_eq!(
        request(&app, Method::GET, "/api/example/", &jar, &[], None)
            .await
            .status,
        200
    );
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &jar,
        &[],
        Some(json!({"a": 1})),
    )
    .await;
    reply.assert_error(403, "csrf_failed", "CSRF Failed: CSRF token missing.");
    let secret = csrf_header(&jar);
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &jar,
        &[("x-csrftoken", &secret)],
        Some(json!({"a": 1})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"user": "alice", "received": {"a": 1}}));
    // A masked token of the current secret, from /auth/csrf.
    let masked = request(&app, Method::GET, "/auth/csrf", &jar, &[], None)
        .await
        .json()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &jar,
        &[("x-csrftoken", &masked)],
        Some(json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
    // Without the CSRF cookie.
    let no_cookie = Jar {
        session: jar.session.clone(),
        csrf: None,
    };
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &no_cookie,
        &[("x-csrftoken", &masked)],
        Some(json!({})),
    )
    .await;
    reply.assert_error(403, "csrf_failed", "CSRF Failed: CSRF cookie not set.");
    // Logout is unsafe too.
    let reply = request(&app, Method::POST, "/auth/logout", &jar, &[], None).await;
    reply.assert_error(403, "csrf_failed", "CSRF Failed: CSRF token missing.");
}

#[tokio::test]
async fn origin_must_be_own_or_trusted() {
    let app =
        TestApp::with_config(|c| c.csrf.trusted_origins = vec!["https://*.example.com".into()])
            .await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let secret = csrf_header(&jar);
    let post = |origin: &'static str| {
        let jar = jar.clone();
        let secret = secret.clone();
        let app = &app;
        async move {
            request(
                app,
                Method::POST,
                "/api/example/",
                &jar,
                &[("x-csrftoken", &secret), ("origin", origin)],
                Some(json!({})),
            )
            .await
        }
    };
    for bad in [
        "http://evil.example",
        "null",
        "https://example.com.evil.io",
        "http://a.example.com",
        "https://[",
    ] {
        post(bad).await.assert_error(
            403,
            "csrf_failed",
            &format!(
                "CSRF Failed: Origin checking failed - {bad} does not match any trusted origins."
            ),
        );
    }
    assert_eq!(post("http://testserver").await.status, 200);
    assert_eq!(post("https://a.example.com").await.status, 200);
}

#[tokio::test]
async fn https_requests_without_origin_need_a_good_referer() {
    let app = TestApp::with_config(|c| c.throttle.num_proxies = 1).await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let secret = csrf_header(&jar);
    let post = |referer: Option<&'static str>| {
        let jar = jar.clone();
        let secret = secret.clone();
        let app = &app;
        async move {
            let mut headers = vec![
                ("x-csrftoken", secret.as_str()),
                ("x-forwarded-proto", "https"),
            ];
            if let Some(r) = referer {
                headers.push(("referer", r));
            }
            request(
                app,
                Method::POST,
                "/api/example/",
                &jar,
                &headers,
                Some(json!({})),
            )
            .await
        }
    };
    post(None).await.assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: Referer checking failed - no Referer.",
    );
    post(Some("x")).await.assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: Referer checking failed - Referer is malformed.",
    );
    post(Some("http://testserver/page")).await.assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: Referer checking failed - Referer is insecure while host is secure.",
    );
    post(Some("https://evil.example/page")).await.assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: Referer checking failed - https://evil.example/page does not match any trusted origins.",
    );
    assert_eq!(post(Some("https://testserver/page")).await.status, 200);
    // Over plain HTTP no Referer is needed.
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &jar,
        &[("x-csrftoken", &secret)],
        Some(json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn token_requests_are_never_csrf_checked() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let auth = format!("Token {key}");
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &Jar::default(),
        &[("authorization", &auth), ("origin", "https://evil.example")],
        Some(json!({"x": 1})),
    )
    .await;
    assert_eq!(reply.status, 200);
    // A stale session cookie next to the token changes nothing: the token decides.
    let stale = Jar {
        session: Some("A".repeat(43)),
        csrf: None,
    };
    let reply = request(
        &app,
        Method::POST,
        "/api/example/",
        &stale,
        &[("authorization", &auth)],
        Some(json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
    let reply = request(
        &app,
        Method::POST,
        "/api-token-auth/",
        &stale,
        &[],
        Some(json!({"username": "alice", "password": "s3cret-pass"})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn planted_session_ids_are_never_adopted() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let planted = "A".repeat(43);
    let mut jar = Jar {
        session: Some(planted.clone()),
        csrf: None,
    };
    let csrf = request(&app, Method::GET, "/auth/csrf", &jar, &[], None).await;
    jar.absorb(&csrf);
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let reply = request(
        &app,
        Method::POST,
        "/auth/login",
        &jar,
        &[("x-csrftoken", &token)],
        Some(json!({"username": "alice", "password": "s3cret-pass"})),
    )
    .await;
    jar.absorb(&reply);
    assert_ne!(jar.session.as_deref(), Some(planted.as_str()));
    let attacker = Jar {
        session: Some(planted),
        csrf: None,
    };
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &attacker, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
    // Logging in again kills the previous session.
    let (first, _) = login(&app, "alice", "s3cret-pass").await;
    let mut second = first.clone();
    let csrf = request(&app, Method::GET, "/auth/csrf", &second, &[], None).await;
    second.absorb(&csrf);
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let reply = request(
        &app,
        Method::POST,
        "/auth/login",
        &second,
        &[("x-csrftoken", &token)],
        Some(json!({"username": "alice", "password": "s3cret-pass"})),
    )
    .await;
    second.absorb(&reply);
    assert_ne!(first.session, second.session);
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &first, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &second, &[], None)
            .await
            .json(),
        json!({"user": "alice"})
    );
}

#[tokio::test]
async fn forged_truncated_and_garbled_cookies_are_anonymous() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let real = jar.session.clone().unwrap();
    let mut flipped = real.clone().into_bytes();
    flipped[0] = if flipped[0] == b'a' { b'b' } else { b'a' };
    let cookies = [
        format!("sessionid={}", &real[..42]),
        format!("sessionid={}x", real),
        format!("sessionid={}", String::from_utf8(flipped).unwrap()),
        "sessionid=".to_owned(),
        "sessionid=../../etc/passwd".to_owned(),
        "sessionid=%00%ff; ;;=;".to_owned(),
        format!("sessionid={}", "x".repeat(10_000)),
    ];
    for cookie in cookies {
        let headers: &[(&str, &[u8])] = &[("cookie", cookie.as_bytes())];
        let reply = app
            .send(raw(Method::GET, "/api/public/", headers, Body::empty()))
            .await;
        assert_eq!(reply.status, 200, "{cookie}");
        assert_eq!(reply.json(), json!({"user": null}));
        let reply = app
            .send(raw(Method::GET, "/api/session/", headers, Body::empty()))
            .await;
        reply.assert_error(
            403,
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
    }
    let headers: &[(&str, &[u8])] = &[("cookie", b"sessionid=\xff\xfe")];
    let reply = app
        .send(raw(Method::GET, "/api/public/", headers, Body::empty()))
        .await;
    assert_eq!(reply.json(), json!({"user": null}));
}

#[tokio::test]
async fn session_only_route_answers_403_and_other_routes_ignore_the_cookie() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let reply = app.get("/api/session/", None).await;
    reply.assert_error(
        403,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    assert_eq!(reply.header("www-authenticate"), None);
    // A token is not this route's scheme: still anonymous.
    let reply = app.get("/api/session/", Some(&key)).await;
    reply.assert_error(
        403,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let reply = request(&app, Method::GET, "/api/session/", &jar, &[], None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"message": "You are authenticated through session!"})
    );
    // Token-only routes ignore the session cookie.
    let reply = request(&app, Method::GET, "/api/secure/", &jar, &[], None).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let secret = csrf_header(&jar);
    let reply = request(
        &app,
        Method::POST,
        "/auth/logout",
        &jar,
        &[("x-csrftoken", &secret)],
        None,
    )
    .await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    let cleared = set_cookie(&reply, "sessionid").unwrap();
    assert!(
        cleared.starts_with("sessionid=; ") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // Replaying the saved cookie: anonymous.
    let reply = request(&app, Method::GET, "/auth/me", &jar, &[], None).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
    // GET is not a way to log out.
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let reply = request(&app, Method::GET, "/auth/logout", &jar, &[], None).await;
    reply.assert_error(405, "method_not_allowed", "Method \"GET\" not allowed.");
    assert_eq!(
        request(&app, Method::GET, "/auth/me", &jar, &[], None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn logout_with_a_token_revokes_that_token_only() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let k1 = app.token(&alice).await;
    let k2 = app.token(&alice).await;
    let reply = app.post_json("/auth/logout", Some(&k1), json!({})).await;
    assert_eq!(reply.status, 204);
    app.get("/auth/me", Some(&k1)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    assert_eq!(app.get("/auth/me", Some(&k2)).await.status, 200);
}

#[tokio::test]
async fn logout_all_ends_every_session_and_token() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let bob = app.user("bob", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let bob_key = app.token(&bob).await;
    let (a, _) = login(&app, "alice", "s3cret-pass").await;
    let (b, _) = login(&app, "alice", "s3cret-pass").await;
    let secret = csrf_header(&a);
    let reply = request(
        &app,
        Method::POST,
        "/auth/logout-all",
        &a,
        &[("x-csrftoken", &secret)],
        None,
    )
    .await;
    assert_eq!(reply.status, 204);
    for jar in [&a, &b] {
        assert_eq!(
            request(&app, Method::GET, "/api/public/", jar, &[], None)
                .await
                .json(),
            json!({"user": null})
        );
    }
    app.get("/auth/me", Some(&key)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
    assert_eq!(
        app.get("/auth/me", Some(&bob_key)).await.status,
        200,
        "other users are untouched"
    );
}

#[tokio::test]
async fn idle_timeout_and_absolute_lifetime_end_sessions() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let sessions = app.state.tessera.stores().sessions.clone();
    let alice_id = app.stored_user("alice").await.id;
    // Busy every 23 hours: the idle timeout (1 day) never strikes...
    for _ in 0..16 {
        app.clock.advance(Duration::from_secs(23 * 3600));
        let now = app.state.tessera.clock().now();
        let reply = request(&app, Method::GET, "/api/public/", &jar, &[], None).await;
        if reply.json() == json!({"user": null}) {
            // ...but the absolute lifetime (14 days) does.
            let elapsed = now - time::macros::datetime!(2026-01-01 00:00 UTC);
            assert!(
                elapsed >= time::Duration::days(14),
                "ended early, after {elapsed}"
            );
            return;
        }
        assert_eq!(reply.json(), json!({"user": "alice"}));
        // The use is recorded off the request path; wait for it.
        for _ in 0..100 {
            let live = sessions
                .list_sessions(alice_id, now, time::Duration::DAY)
                .await
                .unwrap();
            if live.first().is_some_and(|s| s.last_seen == now) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    panic!("the session outlived its absolute lifetime");
}

#[tokio::test]
async fn an_idle_session_is_anonymous() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    app.clock.advance(Duration::from_secs(24 * 3600 - 1));
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &jar, &[], None)
            .await
            .json(),
        json!({"user": "alice"})
    );
    let app2_clock = app.clock.clone();
    // Give the coalesced touch time to land, then go quiet for a whole day.
    tokio::time::sleep(Duration::from_millis(100)).await;
    app2_clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &jar, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
}

#[tokio::test]
async fn users_list_and_end_their_own_sessions_only() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    app.user("bob", "s3cret-pass").await;
    let (a1, _) = login(&app, "alice", "s3cret-pass").await;
    let (a2, _) = login(&app, "alice", "s3cret-pass").await;
    let (b, _) = login(&app, "bob", "s3cret-pass").await;
    let list = request(
        &app,
        Method::GET,
        "/auth/sessions",
        &a1,
        &[("user-agent", "ua")],
        None,
    )
    .await;
    assert_eq!(list.status, 200);
    let rows = list.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.iter().filter(|r| r["current"] == true).count(), 1);
    for row in rows {
        let mut keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["created", "current", "id", "ip", "last_seen", "user_agent"]
        );
    }
    let other = rows.iter().find(|r| r["current"] == false).unwrap()["id"]
        .as_i64()
        .unwrap();
    let bobs = request(&app, Method::GET, "/auth/sessions", &b, &[], None)
        .await
        .json()[0]["id"]
        .as_i64()
        .unwrap();
    let secret = csrf_header(&a1);
    let reply = request(
        &app,
        Method::DELETE,
        &format!("/auth/sessions/{bobs}"),
        &a1,
        &[("x-csrftoken", &secret)],
        None,
    )
    .await;
    reply.assert_error(404, "not_found", "Not found.");
    let reply = request(
        &app,
        Method::DELETE,
        "/auth/sessions/987654",
        &a1,
        &[("x-csrftoken", &secret)],
        None,
    )
    .await;
    reply.assert_error(404, "not_found", "Not found.");
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &b, &[], None)
            .await
            .json(),
        json!({"user": "bob"})
    );
    let reply = request(
        &app,
        Method::DELETE,
        &format!("/auth/sessions/{other}"),
        &a1,
        &[("x-csrftoken", &secret)],
        None,
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &a2, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &a1, &[], None)
            .await
            .json(),
        json!({"user": "alice"})
    );
}

#[tokio::test]
async fn staff_list_and_revoke_anyones_sessions() {
    let app = TestApp::new().await;
    let boss = app.staff("boss", "s3cret-pass").await;
    let boss_key = app.recent_token(&boss).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let alice_key = app.token(&alice).await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let path = format!("/admin/users/{}/sessions", alice.id);
    app.get(&path, Some(&alice_key)).await.assert_error(
        403,
        "permission_denied",
        "You do not have permission to perform this action.",
    );
    let list = app.get(&path, Some(&boss_key)).await;
    assert_eq!(list.status, 200);
    let rows = list.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["current"], false);
    let id = rows[0]["id"].as_i64().unwrap();
    app.get("/admin/users/99999/sessions", Some(&boss_key))
        .await
        .assert_error(404, "not_found", "Not found.");
    let delete = |path: String, key: String| {
        let app = &app;
        async move {
            let auth = format!("Token {key}");
            let headers: &[(&str, &[u8])] = &[("authorization", auth.as_bytes())];
            app.send(raw(Method::DELETE, &path, headers, Body::empty()))
                .await
        }
    };
    delete(format!("/admin/sessions/{id}"), alice_key.clone())
        .await
        .assert_error(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        );
    assert_eq!(
        delete(format!("/admin/sessions/{id}"), boss_key.clone())
            .await
            .status,
        204
    );
    delete(format!("/admin/sessions/{id}"), boss_key)
        .await
        .assert_error(404, "not_found", "Not found.");
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &jar, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
}

#[tokio::test]
async fn inactive_users_sessions_are_anonymous() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let update = tessera_core::user::UserUpdate {
        is_active: Some(false),
        ..Default::default()
    };
    app.state
        .tessera
        .stores()
        .users
        .update_user(alice.id, update)
        .await
        .unwrap();
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &jar, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
}

#[tokio::test]
async fn expired_sessions_and_tokens_are_purged() {
    let app = TestApp::with_config(|c| {
        c.tokens.default_lifetime =
            tessera_server::config::Lifetime(Some(Duration::from_secs(3600)))
    })
    .await;
    let alice = app.user("alice", "s3cret-pass").await;
    app.token(&alice).await;
    login(&app, "alice", "s3cret-pass").await;
    login(&app, "alice", "s3cret-pass").await;
    assert_eq!(
        tessera_server::purge_expired(&app.state.tessera)
            .await
            .unwrap(),
        (0, 0)
    );
    app.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(
        tessera_server::purge_expired(&app.state.tessera)
            .await
            .unwrap(),
        (1, 2)
    );
    assert_eq!(
        tessera_server::purge_expired(&app.state.tessera)
            .await
            .unwrap(),
        (0, 0)
    );
}

#[tokio::test]
async fn session_reauthentication_rotates_the_id_and_renews_the_window() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (mut jar, _) = login(&app, "alice", "s3cret-pass").await;
    let secret = csrf_header(&jar);
    let create = |jar: Jar| {
        let secret = secret.clone();
        let app = &app;
        async move {
            request(
                app,
                Method::POST,
                "/auth/tokens",
                &jar,
                &[("x-csrftoken", &secret)],
                Some(json!({"name": "t"})),
            )
            .await
        }
    };
    assert_eq!(
        create(jar.clone()).await.status,
        201,
        "a fresh login is recent"
    );
    app.clock.advance(Duration::from_secs(601));
    create(jar.clone()).await.assert_error(
        403,
        "reauthentication_required",
        "Recent authentication required: confirm your password at /auth/reauth.",
    );
    let old = jar.clone();
    let reply = request(
        &app,
        Method::POST,
        "/auth/reauth",
        &jar,
        &[("x-csrftoken", &secret)],
        Some(json!({"password": "s3cret-pass"})),
    )
    .await;
    assert_eq!(reply.status, 204);
    jar.absorb(&reply);
    assert_ne!(jar.session, old.session, "a new session id");
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &old, &[], None)
            .await
            .json(),
        json!({"user": null})
    );
    assert_eq!(create(jar.clone()).await.status, 201);
}

#[tokio::test]
async fn session_password_change_keeps_this_session_under_a_new_id_and_ends_the_others() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let (mut a, _) = login(&app, "alice", "s3cret-pass").await;
    let (b, _) = login(&app, "alice", "s3cret-pass").await;
    let before = a.clone();
    let secret = csrf_header(&a);
    let reply = request(
        &app,
        Method::POST,
        "/auth/password",
        &a,
        &[("x-csrftoken", &secret)],
        Some(json!({"old_password": "s3cret-pass", "new_password": "n3w-pass-word"})),
    )
    .await;
    assert_eq!(reply.status, 204);
    a.absorb(&reply);
    assert_ne!(a.session, before.session);
    assert_eq!(
        request(&app, Method::GET, "/api/public/", &a, &[], None)
            .await
            .json(),
        json!({"user": "alice"})
    );
    for dead in [&before, &b] {
        assert_eq!(
            request(&app, Method::GET, "/api/public/", dead, &[], None)
                .await
                .json(),
            json!({"user": null})
        );
    }
    app.get("/auth/me", Some(&key)).await.assert_error(
        401,
        "authentication_failed",
        "Invalid token.",
    );
}

#[tokio::test]
async fn obtain_token_with_a_live_session_and_no_csrf_token_is_refused_as_drf() {
    // API.md: /api-token-auth/ runs the default authenticators first, so a
    // live session cookie on this POST needs its CSRF token, as in DRF.
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    let reply = request(
        &app,
        Method::POST,
        "/api-token-auth/",
        &jar,
        &[],
        Some(body.clone()),
    )
    .await;
    reply.assert_error(403, "csrf_failed", "CSRF Failed: CSRF token missing.");
    let secret = csrf_header(&jar);
    let reply = request(
        &app,
        Method::POST,
        "/api-token-auth/",
        &jar,
        &[("x-csrftoken", &secret)],
        Some(body),
    )
    .await;
    assert_eq!(reply.status, 200);
}
