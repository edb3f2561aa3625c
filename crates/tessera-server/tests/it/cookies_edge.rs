//! Cookies and logout as careful sites do (issue 13 point 4): `csrf.use_sessions`
//! (Django's `CSRF_USE_SESSIONS`), `Clear-Site-Data` at logout, and unsafe
//! requests a browser marks `Sec-Fetch-Site: cross-site` refused.

use crate::sessions::{csrf_header, login, request, Jar};
use crate::support::{raw, Reply, TestApp};
use axum::body::Body;
use axum::http::Method;
use serde_json::json;

const CROSS_SITE: &str = "CSRF Failed: Cross-site request refused (Sec-Fetch-Site: cross-site).";

/// The value a response sets for cookie `name` (`Some("")` when it deletes it).
fn cookie_value(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

/// A JSON request with exactly these headers (and `Host: testserver`).
async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
    let headers: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (*k, v.as_bytes()))
        .chain([("content-type", b"application/json" as &[u8])])
        .collect();
    app.send(raw(method, path, &headers, Body::from("{}")))
        .await
}

#[tokio::test]
async fn logout_asks_the_browser_to_clear_the_sites_cookies() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
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
    assert_eq!(reply.header("clear-site-data"), Some("\"cookies\""));
    assert_eq!(cookie_value(&reply, "sessionid").as_deref(), Some(""));
    // A token's logout too: the browser (if any) keeps nothing of the site.
    let key = app.token(&alice).await;
    let reply = app.call(Method::POST, "/auth/logout", &key, None).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("clear-site-data"), Some("\"cookies\""));
    // Nothing else says it.
    let key = app.token(&alice).await;
    let reply = app.call(Method::GET, "/auth/me", &key, None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("clear-site-data").is_none());
    // A refused logout clears nothing.
    let reply = app.post_json("/auth/logout", None, json!({})).await;
    assert_eq!(reply.status, 401);
    assert!(reply.header("clear-site-data").is_none());
}

#[tokio::test]
async fn a_cross_site_unsafe_request_is_refused_before_the_token_check() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let secret = csrf_header(&jar);
    let post = |extra: Vec<(&'static str, String)>| {
        let jar = jar.clone();
        let app = &app;
        async move {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request(
                app,
                Method::POST,
                "/api/example/",
                &jar,
                &extra,
                Some(json!({"hello": "world"})),
            )
            .await
        }
    };
    let token = || ("x-csrftoken", secret.clone());
    // A valid token does not help, nor does the request's own Origin: the
    // browser says the page that sent it is on another site.
    for extra in [
        vec![token(), ("sec-fetch-site", "cross-site".to_owned())],
        vec![
            token(),
            ("sec-fetch-site", "Cross-Site".to_owned()),
            ("origin", "http://testserver".to_owned()),
        ],
        vec![("sec-fetch-site", "cross-site".to_owned())],
    ] {
        post(extra)
            .await
            .assert_error(403, "csrf_failed", CROSS_SITE);
    }
    // same-origin, same-site and none go on to Django's checks.
    for site in ["same-origin", "same-site", "none"] {
        let reply = post(vec![token(), ("sec-fetch-site", site.to_owned())]).await;
        assert_eq!(reply.status, 200, "{site}");
        assert_eq!(reply.json()["received"], json!({"hello": "world"}));
        post(vec![("sec-fetch-site", site.to_owned())])
            .await
            .assert_error(403, "csrf_failed", "CSRF Failed: CSRF token missing.");
    }
    // Safe methods are never refused.
    let reply = request(
        &app,
        Method::GET,
        "/api/example/",
        &jar,
        &[("sec-fetch-site", "cross-site")],
        None,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["auth"], "session");
}

#[tokio::test]
async fn cross_site_login_is_refused_and_tokens_and_trusted_origins_are_not() {
    let app = TestApp::with_config(|c| {
        c.csrf.trusted_origins = vec!["https://app.example.net".into()];
    })
    .await;
    let alice = app.user("alice", "s3cret-pass").await;
    let csrf = request(&app, Method::GET, "/auth/csrf", &Jar::default(), &[], None).await;
    let masked = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let cookie = format!("csrftoken={}", cookie_value(&csrf, "csrftoken").unwrap());
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    let login_with = |site: &'static str, origin: Option<&'static str>| {
        let mut headers: Vec<(&str, &[u8])> = vec![
            ("cookie", cookie.as_bytes()),
            ("x-csrftoken", masked.as_bytes()),
            ("content-type", b"application/json"),
            ("sec-fetch-site", site.as_bytes()),
        ];
        if let Some(origin) = origin {
            headers.push(("origin", origin.as_bytes()));
        }
        raw(
            Method::POST,
            "/auth/login",
            &headers,
            Body::from(body.to_string()),
        )
    };
    // Login CSRF from another site, with a token the attacker planted.
    app.send(login_with("cross-site", Some("https://evil.example")))
        .await
        .assert_error(403, "csrf_failed", CROSS_SITE);
    app.send(login_with("cross-site", None))
        .await
        .assert_error(403, "csrf_failed", CROSS_SITE);
    // A front end on a trusted origin is another site by design.
    let reply = app
        .send(login_with("cross-site", Some("https://app.example.net")))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let reply = app.send(login_with("same-origin", None)).await;
    assert_eq!(reply.status, 200);
    // Token-authenticated requests are never CSRF-checked.
    let key = app.token(&alice).await;
    let reply = send(
        &app,
        Method::POST,
        "/api/example/",
        &[
            ("authorization", &format!("Token {key}")),
            ("sec-fetch-site", "cross-site"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn with_use_sessions_the_secret_lives_in_the_session_and_a_planted_cookie_is_useless() {
    let app = TestApp::with_config(|c| c.csrf.use_sessions = true).await;
    app.user("alice", "s3cret-pass").await;
    // Before login there is no session: the secret is the cookie's.
    let csrf = send(&app, Method::GET, "/auth/csrf", &[]).await;
    let pre = cookie_value(&csrf, "csrftoken").unwrap();
    let masked = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let pre_cookie = format!("csrftoken={pre}");
    let login = send(
        &app,
        Method::POST,
        "/auth/login",
        &[("cookie", &pre_cookie), ("x-csrftoken", &masked)],
    )
    .await;
    // `{}` has no credentials: 400, CSRF passed. Now with them.
    assert_eq!(login.status, 400);
    let body = json!({"username": "alice", "password": "s3cret-pass"}).to_string();
    let login = app
        .send(raw(
            Method::POST,
            "/auth/login",
            &[
                ("cookie", pre_cookie.as_bytes()),
                ("x-csrftoken", masked.as_bytes()),
                ("content-type", b"application/json"),
            ],
            Body::from(body.clone()),
        ))
        .await;
    assert_eq!(login.status, 200);
    // Login sets the session and deletes the CSRF cookie: the rotated
    // secret is in the session.
    let session = cookie_value(&login, "sessionid").unwrap();
    assert_eq!(cookie_value(&login, "csrftoken").as_deref(), Some(""));
    let with_session = format!("sessionid={session}");
    // The secret before login is dead after it, cookie or not.
    for cookie in [
        with_session.clone(),
        format!("{with_session}; {pre_cookie}"),
    ] {
        send(
            &app,
            Method::POST,
            "/api/example/",
            &[("cookie", &cookie), ("x-csrftoken", &masked)],
        )
        .await
        .assert_error(
            403,
            "csrf_failed",
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        );
    }
    // `/auth/csrf` masks the session's secret, and sets no cookie.
    let csrf = send(
        &app,
        Method::GET,
        "/auth/csrf",
        &[("cookie", &with_session)],
    )
    .await;
    assert_eq!(csrf.status, 200);
    assert!(csrf.headers.get("set-cookie").is_none());
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let again = send(
        &app,
        Method::GET,
        "/auth/csrf",
        &[("cookie", &with_session)],
    )
    .await;
    let token2 = again.json()["csrfToken"].as_str().unwrap().to_owned();
    assert_ne!(token, token2, "masked anew each time");
    for t in [&token, &token2] {
        let reply = send(
            &app,
            Method::POST,
            "/api/example/",
            &[("cookie", &with_session), ("x-csrftoken", t)],
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    // A planted cookie with a token of its own secret is never read.
    let planted = "abcdefghijABCDEFGHIJ0123456789zZ";
    send(
        &app,
        Method::POST,
        "/api/example/",
        &[
            ("cookie", &format!("{with_session}; csrftoken={planted}")),
            ("x-csrftoken", planted),
        ],
    )
    .await
    .assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
    );
    // A second login rotates the session's secret.
    let relogin = app
        .send(raw(
            Method::POST,
            "/auth/login",
            &[
                ("cookie", format!("{with_session}; {pre_cookie}").as_bytes()),
                ("x-csrftoken", masked.as_bytes()),
                ("content-type", b"application/json"),
            ],
            Body::from(body),
        ))
        .await;
    assert_eq!(relogin.status, 200);
    let second = format!("sessionid={}", cookie_value(&relogin, "sessionid").unwrap());
    send(
        &app,
        Method::POST,
        "/api/example/",
        &[("cookie", &second), ("x-csrftoken", &token)],
    )
    .await
    .assert_error(
        403,
        "csrf_failed",
        "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
    );
}

#[tokio::test]
async fn with_use_sessions_a_session_without_a_secret_has_no_csrf_cookie() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    // A session made before the setting was turned on holds no secret.
    let (jar, _) = login(&app, "alice", "s3cret-pass").await;
    let cookie = jar.cookie_header();
    let secret = csrf_header(&jar);
    let mut state = app.state.clone();
    let mut config = (*state.config).clone();
    config.csrf.use_sessions = true;
    let store = tessera_server::open_store(&config).await.unwrap();
    state = tessera_server::state(config, store, std::sync::Arc::new(app.clock.clone())).unwrap();
    let on = TestApp {
        state,
        clock: app.clock.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    send(
        &on,
        Method::POST,
        "/api/example/",
        &[("cookie", &cookie), ("x-csrftoken", &secret)],
    )
    .await
    .assert_error(403, "csrf_failed", "CSRF Failed: CSRF cookie not set.");
    // `/auth/csrf` gives the session a secret; its token then works.
    let csrf = send(&on, Method::GET, "/auth/csrf", &[("cookie", &cookie)]).await;
    assert!(csrf.headers.get("set-cookie").is_none());
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let reply = send(
        &on,
        Method::POST,
        "/api/example/",
        &[("cookie", &cookie), ("x-csrftoken", &token)],
    )
    .await;
    assert_eq!(reply.status, 200);
}
