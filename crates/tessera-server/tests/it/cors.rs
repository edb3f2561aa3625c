//! CORS (`[cors]`, as django-cors-headers): preflights answered before
//! authentication, the allowed origin echoed exactly, nothing for other
//! origins, `Vary` on every response, and nothing at all without `[cors]`.

use crate::cli::tessera;
use crate::support::{peer_request, send_to, Reply, TestApp};
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;
use std::process::Stdio;
use tessera_server::config::Config;

/// The front end's origin in these tests.
const APP: &str = "https://app.example";
/// tower-http's `Vary`, on every response once CORS is on.
const VARY: &str = "origin, access-control-request-method, access-control-request-headers";
const METHODS: &str = "DELETE,GET,OPTIONS,PATCH,POST,PUT";
const HEADERS: &str = "accept,authorization,content-type,user-agent,x-csrftoken,x-requested-with";

/// `APP` allowed with credentials, and trusted by the CSRF check.
async fn cors_app(edit: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_config(|c| {
        c.cors.allowed_origins = vec![APP.to_owned()];
        c.cors.allow_credentials = true;
        c.csrf.trusted_origins = vec![APP.to_owned()];
        edit(c);
    })
    .await
}

/// A request to `testserver` with `headers`.
fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "testserver");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

/// A preflight from `origin` for `method` with the headers a front end sends.
fn preflight(path: &str, origin: &str, method: &str) -> Request<Body> {
    request(
        Method::OPTIONS,
        path,
        &[
            ("origin", origin),
            ("access-control-request-method", method),
            (
                "access-control-request-headers",
                "authorization,content-type,x-csrftoken",
            ),
        ],
    )
}

/// The reply's `Access-Control-*` headers, sorted.
fn cors_headers(reply: &Reply) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    headers
}

/// Every `Vary` value of the reply.
fn vary(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// The reply's header names, but the request id (new on every request).
fn header_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply
        .headers
        .keys()
        .map(|name| name.to_string())
        .filter(|name| name != "x-request-id")
        .collect();
    names.sort();
    names.dedup();
    names
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_before_authentication() {
    let app = cors_app(|_| {}).await;
    // Routes behind a token, a session, staff, the CSRF check, and none.
    for (path, method) in [
        ("/auth/me", "GET"),
        ("/api/secure/", "GET"),
        ("/api/session/", "GET"),
        ("/admin/users", "GET"),
        ("/auth/login", "POST"),
        ("/auth/logout", "POST"),
        ("/auth/tokens/1", "DELETE"),
        ("/api-token-auth/", "POST"),
        ("/no/such/route", "GET"),
    ] {
        let reply = app.send(preflight(path, APP, method)).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.body.is_empty(), "{path}");
        assert_eq!(
            cors_headers(&reply),
            pairs(&[
                ("access-control-allow-origin", APP),
                ("access-control-allow-credentials", "true"),
                ("access-control-allow-methods", METHODS),
                ("access-control-allow-headers", HEADERS),
                ("access-control-max-age", "86400"),
            ]),
            "{path}"
        );
        assert_eq!(vary(&reply), [VARY], "{path}");
        assert!(reply.header("www-authenticate").is_none(), "{path}");
        // Answered inside the hardening headers.
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    // Nothing was authenticated or refused: no audit event.
    assert!(app.audit_events().await.is_empty());
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_headers() {
    let app = cors_app(|_| {}).await;
    for origin in [
        "https://evil.example",
        "null",
        "http://app.example",
        "https://app.example:8443",
        "https://app.example.evil.example",
        "https://evil.app.example",
        "https://app.example/",
        "HTTPS://APP.EXAMPLE",
    ] {
        let reply = app.send(preflight("/auth/me", origin, "GET")).await;
        // Still answered by the layer, never by authentication.
        assert_eq!(reply.status, 200, "{origin}");
        assert!(reply.body.is_empty(), "{origin}");
        assert_eq!(cors_headers(&reply), [], "{origin}");
        assert_eq!(vary(&reply), [VARY], "{origin}");
    }
}

#[tokio::test]
async fn an_actual_request_from_an_allowed_origin_gets_its_origin() {
    let app = cors_app(|_| {}).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let auth = format!("Token {}", app.token(&alice).await);
    let without = app
        .send(request(
            Method::GET,
            "/auth/me",
            &[("authorization", &auth)],
        ))
        .await;
    let reply = app
        .send(request(
            Method::GET,
            "/auth/me",
            &[("authorization", &auth), ("origin", APP)],
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["user"]["username"], "alice");
    assert_eq!(reply.json(), without.json());
    assert_eq!(
        cors_headers(&reply),
        pairs(&[
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "retry-after"),
        ])
    );
    assert_eq!(vary(&reply), [VARY]);
    // Without `Origin` (not a CORS request): no CORS header, `Vary` still.
    assert_eq!(without.status, 200);
    assert_eq!(cors_headers(&without), []);
    assert_eq!(vary(&without), [VARY]);
}

#[tokio::test]
async fn an_actual_request_from_another_origin_is_answered_as_without_origin() {
    let app = cors_app(|_| {}).await;
    let alice = app.user("alice", "s3cret-pass").await;
    let auth = format!("Token {}", app.token(&alice).await);
    for (path, auth) in [
        ("/auth/me", Some(auth.as_str())),
        ("/auth/me", None),
        ("/api/public/", None),
    ] {
        let mut headers = vec![];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        let without = app.send(request(Method::GET, path, &headers)).await;
        for origin in ["https://evil.example", "null"] {
            let mut with = headers.clone();
            with.push(("origin", origin));
            let reply = app.send(request(Method::GET, path, &with)).await;
            assert_eq!(reply.status, without.status, "{path} from {origin}");
            assert_eq!(reply.body, without.body, "{path} from {origin}");
            assert_eq!(header_names(&reply), header_names(&without));
            assert_eq!(cors_headers(&reply), [], "{path} from {origin}");
            assert_eq!(vary(&reply), [VARY], "{path} from {origin}");
        }
    }
}

#[tokio::test]
async fn errors_to_an_allowed_origin_carry_the_cors_headers() {
    let app = cors_app(|c| {
        c.limits.body_bytes = 64;
        c.throttle.rates.insert("anon".into(), "1/min".into());
    })
    .await;
    let from_app = [("origin", APP)];
    let allowed = pairs(&[
        ("access-control-allow-origin", APP),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "retry-after"),
    ]);
    let check = |reply: &Reply, status: u16, code: &str| {
        assert_eq!(reply.status, status, "{code}");
        assert_eq!(reply.json()["code"], code);
        assert_eq!(cors_headers(reply), allowed, "{code}");
        assert_eq!(vary(reply), [VARY], "{code}");
    };
    // 401 with `WWW-Authenticate`, readable by the page.
    let reply = app.send(request(Method::GET, "/auth/me", &from_app)).await;
    check(&reply, 401, "not_authenticated");
    assert_eq!(reply.header("www-authenticate"), Some("Token"));
    let reply = app
        .send(request(
            Method::GET,
            "/auth/me",
            &[("origin", APP), ("authorization", "Token nope")],
        ))
        .await;
    check(&reply, 401, "authentication_failed");
    // 403 of a session-only route, 404, 405.
    let reply = app
        .send(request(Method::GET, "/api/session/", &from_app))
        .await;
    check(&reply, 403, "not_authenticated");
    let reply = app
        .send(request(Method::GET, "/no/such/route", &from_app))
        .await;
    check(&reply, 404, "not_found");
    let reply = app
        .send(request(Method::DELETE, "/healthz", &from_app))
        .await;
    check(&reply, 405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET,HEAD"));
    // 413.
    let big = Request::builder()
        .method(Method::POST)
        .uri("/api-token-auth/")
        .header("host", "testserver")
        .header("origin", APP)
        .header("content-type", "application/json")
        .body(Body::from(json!({"username": "a".repeat(100)}).to_string()))
        .unwrap();
    check(&app.send(big).await, 413, "request_too_large");
    // 429, whose `Retry-After` the page may read.
    let get = || peer_request(Method::GET, "/api/public/", "203.0.113.9", &from_app, None);
    assert_eq!(app.send(get()).await.status, 200);
    let reply = app.send(get()).await;
    check(&reply, 429, "throttled");
    assert_eq!(reply.header("retry-after"), Some("60"));
}

#[tokio::test]
async fn without_cors_nothing_changes() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let auth = format!("Token {}", app.token(&alice).await);
    for (method, path, headers) in [
        (
            Method::GET,
            "/auth/me",
            vec![("authorization", auth.as_str())],
        ),
        (Method::GET, "/auth/me", vec![]),
        (Method::GET, "/api/session/", vec![]),
        (Method::GET, "/no/such/route", vec![]),
        (Method::OPTIONS, "/auth/me", vec![]),
        (
            Method::OPTIONS,
            "/auth/me",
            vec![("access-control-request-method", "GET")],
        ),
    ] {
        let without = app.send(request(method.clone(), path, &headers)).await;
        let mut with = headers.clone();
        with.push(("origin", APP));
        let reply = app.send(request(method.clone(), path, &with)).await;
        assert_eq!(reply.status, without.status, "{method} {path}");
        assert_eq!(reply.body, without.body, "{method} {path}");
        assert_eq!(header_names(&reply), header_names(&without));
        assert_eq!(cors_headers(&reply), [], "{method} {path}");
        assert_eq!(vary(&reply), Vec::<&str>::new(), "{method} {path}");
    }
    // A preflight is not answered: it reaches the route as any `OPTIONS`,
    // and authentication refuses it (the browser then refuses the call).
    let reply = app.send(preflight("/auth/me", APP, "GET")).await;
    reply.assert_error(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
    );
}

#[tokio::test]
async fn a_plain_options_still_reaches_its_route() {
    // Today's `OPTIONS`, as DRF's: authentication first, then `405` with
    // `Allow` (no route answers `OPTIONS`). With CORS on, the same.
    let plain = TestApp::new().await;
    let with_cors = cors_app(|_| {}).await;
    for (cors_on, app) in [(false, &plain), (true, &with_cors)] {
        let alice = app.user("alice", "s3cret-pass").await;
        let auth = format!("Token {}", app.token(&alice).await);
        for (path, with_token, status, allow) in [
            ("/auth/me", false, 401, Some("GET,HEAD")),
            ("/auth/me", true, 405, Some("GET,HEAD")),
            ("/auth/login", false, 405, Some("POST")),
        ] {
            // No `Access-Control-Request-Method`: not a preflight, whether
            // it comes from nowhere or from the allowed origin.
            for origin in [None, Some(APP)] {
                let mut headers = vec![];
                if with_token {
                    headers.push(("authorization", auth.as_str()));
                }
                headers.extend(origin.map(|origin| ("origin", origin)));
                let reply = app.send(request(Method::OPTIONS, path, &headers)).await;
                let what = format!("{path} token={with_token} origin={origin:?} cors={cors_on}");
                if status == 401 {
                    reply.assert_error(
                        401,
                        "not_authenticated",
                        "Authentication credentials were not provided.",
                    );
                } else {
                    reply.assert_error(
                        405,
                        "method_not_allowed",
                        "Method \"OPTIONS\" not allowed.",
                    );
                }
                assert_eq!(reply.header("allow"), allow, "{what}");
                // The page on the allowed origin may read the answer.
                let expected = if cors_on && origin.is_some() {
                    pairs(&[
                        ("access-control-allow-origin", APP),
                        ("access-control-allow-credentials", "true"),
                        ("access-control-expose-headers", "retry-after"),
                    ])
                } else {
                    vec![]
                };
                assert_eq!(cors_headers(&reply), expected, "{what}");
                let vary_expected: Vec<&str> = if cors_on { vec![VARY] } else { vec![] };
                assert_eq!(vary(&reply), vary_expected, "{what}");
            }
        }
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused_even_for_a_preflight() {
    let app = cors_app(|_| {}).await;
    let mut request = preflight("/auth/me", APP, "GET");
    request
        .headers_mut()
        .insert("host", "evil.example".parse().unwrap());
    let reply = app.send(request).await;
    reply.assert_error(400, "invalid_host", "Invalid host header.");
    assert_eq!(cors_headers(&reply), []);
    assert_eq!(vary(&reply), [VARY]);
    // Without `[cors]`, the same 400 has no `Vary`.
    let plain = TestApp::new().await;
    let mut request = preflight("/auth/me", APP, "GET");
    request
        .headers_mut()
        .insert("host", "evil.example".parse().unwrap());
    let reply = plain.send(request).await;
    reply.assert_error(400, "invalid_host", "Invalid host header.");
    assert_eq!(vary(&reply), Vec::<&str>::new());
}

#[tokio::test]
async fn the_admin_listener_answers_no_cors() {
    let app = cors_app(|c| c.server.admin_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let admin = tessera_server::admin_app(app.state.clone());
    // The open `/metrics` there: readable by no page, preflight or not.
    let reply = send_to(admin.clone(), preflight("/metrics", APP, "GET")).await;
    reply.assert_error(405, "method_not_allowed", "Method \"OPTIONS\" not allowed.");
    assert_eq!(cors_headers(&reply), []);
    assert_eq!(vary(&reply), Vec::<&str>::new());
    let reply = send_to(admin, request(Method::GET, "/metrics", &[("origin", APP)])).await;
    assert_eq!(reply.status, 200);
    assert_eq!(cors_headers(&reply), []);
    assert_eq!(vary(&reply), Vec::<&str>::new());
    // The public listener of the same state does answer CORS.
    let reply = app.send(preflight("/auth/me", APP, "GET")).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn a_front_end_logs_in_by_session_from_an_allowed_origin() {
    for trusted in [true, false] {
        let app = cors_app(|c| {
            if !trusted {
                c.csrf.trusted_origins.clear();
            }
        })
        .await;
        app.user("alice", "s3cret-pass").await;
        let csrf = app
            .send(request(Method::GET, "/auth/csrf", &[("origin", APP)]))
            .await;
        assert_eq!(csrf.status, 200);
        assert_eq!(csrf.header("access-control-allow-origin"), Some(APP));
        assert_eq!(
            csrf.header("access-control-allow-credentials"),
            Some("true")
        );
        // The CSRF cookie's own `Vary: Cookie` is kept beside CORS's.
        assert_eq!(vary(&csrf), ["Cookie", VARY]);
        let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
        let cookie = csrf.header("set-cookie").unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let login = Request::builder()
            .method(Method::POST)
            .uri("/auth/login")
            .header("host", "testserver")
            .header("origin", APP)
            .header("sec-fetch-site", "cross-site")
            .header("cookie", &cookie)
            .header("x-csrftoken", &token)
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"username": "alice", "password": "s3cret-pass"}).to_string(),
            ))
            .unwrap();
        let reply = app.send(login).await;
        assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
        if trusted {
            assert_eq!(reply.status, 200, "{:?}", reply.json());
            assert_eq!(reply.json()["user"]["username"], "alice");
        } else {
            // Django's way: CORS lets the page read the answer, the CSRF
            // check still wants the origin among the trusted ones.
            reply.assert_error(
                403,
                "csrf_failed",
                "CSRF Failed: Cross-site request refused (Sec-Fetch-Site: cross-site).",
            );
        }
    }
}

#[tokio::test]
async fn any_origin_is_star_without_credentials_and_never_null() {
    let app = TestApp::with_config(|c| c.cors.allowed_origins = vec!["*".into()]).await;
    let reply = app
        .send(preflight("/auth/me", "https://anyone.example", "GET"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        cors_headers(&reply),
        pairs(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", METHODS),
            ("access-control-allow-headers", HEADERS),
            ("access-control-max-age", "86400"),
        ])
    );
    let reply = app
        .send(request(
            Method::GET,
            "/api/public/",
            &[("origin", "https://anyone.example")],
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        cors_headers(&reply),
        pairs(&[
            ("access-control-allow-origin", "*"),
            ("access-control-expose-headers", "retry-after"),
        ])
    );
    for headers in [vec![("origin", "null")], vec![]] {
        let reply = app
            .send(request(Method::GET, "/api/public/", &headers))
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(cors_headers(&reply), [], "{headers:?}");
        assert_eq!(vary(&reply), [VARY]);
    }
}

#[tokio::test]
async fn the_lists_and_max_age_come_from_the_configuration() {
    let app = cors_app(|c| {
        c.cors.allowed_origins = vec![APP.into(), "http://localhost:5173".into()];
        c.cors.allow_credentials = false;
        c.cors.allowed_headers = vec!["Authorization".into(), "X-Custom".into()];
        c.cors.allowed_methods = vec!["GET".into(), "POST".into()];
        c.cors.expose_headers = vec![];
        c.cors.max_age = std::time::Duration::ZERO;
    })
    .await;
    for origin in [APP, "http://localhost:5173"] {
        let reply = app.send(preflight("/auth/me", origin, "GET")).await;
        assert_eq!(
            cors_headers(&reply),
            pairs(&[
                ("access-control-allow-origin", origin),
                ("access-control-allow-methods", "GET,POST"),
                ("access-control-allow-headers", "authorization,x-custom"),
            ])
        );
        let reply = app
            .send(request(Method::GET, "/api/public/", &[("origin", origin)]))
            .await;
        assert_eq!(
            cors_headers(&reply),
            pairs(&[("access-control-allow-origin", origin)])
        );
    }
}

/// The error `[cors]` gives when `edit` applies, if any.
fn refusal(edit: impl FnOnce(&mut Config)) -> Option<String> {
    let mut config = Config::default();
    edit(&mut config);
    tessera_server::cors(&config)
        .err()
        .map(|e| format!("{e:#}"))
}

fn origins<'a>(list: &'a [&'a str]) -> impl FnOnce(&mut Config) + 'a {
    move |c| c.cors.allowed_origins = list.iter().map(|o| (*o).to_owned()).collect()
}

#[test]
fn bad_cors_settings_are_refused_with_the_key() {
    let example = "write scheme://host[:port], e.g. \"https://app.example\"";
    for (list, message) in [
        (
            vec!["https://app.example/"],
            "cors.allowed_origins: \"https://app.example/\": no trailing slash, write \"https://app.example\"".to_owned(),
        ),
        (
            vec!["https://app.example/app"],
            "cors.allowed_origins: \"https://app.example/app\": an origin has no path, query or fragment, write \"https://app.example\"".to_owned(),
        ),
        (
            vec!["https://app.example?x=1"],
            "cors.allowed_origins: \"https://app.example?x=1\": an origin has no path, query or fragment, write \"https://app.example\"".to_owned(),
        ),
        (
            vec!["app.example"],
            format!("cors.allowed_origins: \"app.example\" is not an origin: {example}"),
        ),
        (
            vec!["null"],
            "cors.allowed_origins: \"null\" is never allowed: any page can take that origin".to_owned(),
        ),
        (
            vec!["https://*.example.com"],
            "cors.allowed_origins: \"https://*.example.com\": no wildcards, list each origin (or [\"*\"] alone for any)".to_owned(),
        ),
        (
            vec!["https://App.Example"],
            "cors.allowed_origins: \"https://App.Example\" is not written as browsers send it: write \"https://app.example\"".to_owned(),
        ),
        (
            vec!["https://app.example:443"],
            "cors.allowed_origins: \"https://app.example:443\" is not written as browsers send it: write \"https://app.example\"".to_owned(),
        ),
        (
            vec!["https://user@app.example"],
            format!("cors.allowed_origins: \"https://user@app.example\": an origin has no user name, {example}"),
        ),
        (
            vec!["https://app.example:99999"],
            "cors.allowed_origins: \"https://app.example:99999\" is not an origin: invalid port number".to_owned(),
        ),
        (
            vec!["*", APP],
            "cors.allowed_origins: \"*\" allows every origin and must be alone".to_owned(),
        ),
    ] {
        assert_eq!(refusal(origins(&list)), Some(message), "{list:?}");
    }
    assert_eq!(
        refusal(|c| {
            c.cors.allowed_origins = vec!["*".into()];
            c.cors.allow_credentials = true;
        }),
        Some(
            "cors.allowed_origins = [\"*\"] cannot go with cors.allow_credentials = true \
             (browsers refuse credentials with Access-Control-Allow-Origin: *): list the origins"
                .to_owned()
        )
    );
    let with_app = |edit: fn(&mut Config)| {
        refusal(move |c| {
            c.cors.allowed_origins = vec![APP.into()];
            edit(c);
        })
    };
    assert_eq!(
        with_app(|c| c.cors.allowed_headers = vec!["x bad".into()]),
        Some("cors.allowed_headers: \"x bad\" is not a header name".to_owned())
    );
    assert_eq!(
        with_app(|c| c.cors.expose_headers = vec!["*".into()]),
        Some("cors.expose_headers: \"*\" is not supported: list the header names".to_owned())
    );
    assert_eq!(
        with_app(|c| c.cors.allowed_methods = vec!["get".into()]),
        Some("cors.allowed_methods: \"get\": write methods in upper case (\"GET\")".to_owned())
    );
    assert_eq!(
        with_app(|c| c.cors.allowed_methods = vec!["GE T".into()]),
        Some("cors.allowed_methods: \"GE T\" is not a method".to_owned())
    );
    // Good ones: the forms browsers send, any scheme, `*` alone.
    for list in [
        vec![
            APP,
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ],
        vec!["https://xn--bcher-kva.example", "tauri://localhost"],
        vec!["*"],
    ] {
        assert_eq!(refusal(origins(&list)), None, "{list:?}");
    }
    // Empty: CORS off, whatever the rest says.
    let mut config = Config::default();
    config.cors.allow_credentials = true;
    config.cors.allowed_methods = vec!["get".into()];
    assert!(tessera_server::cors(&config).unwrap().is_none());
}

#[test]
fn credentialed_origins_missing_from_csrf_trusted_origins_are_warned_about() {
    let mut config = Config::default();
    config.cors.allowed_origins = vec![APP.into(), "https://admin.example".into()];
    config.csrf.trusted_origins = vec![APP.into()];
    // Without credentials no session can come from there: nothing to say.
    assert_eq!(tessera_server::cors_warnings(&config), Vec::<String>::new());
    config.cors.allow_credentials = true;
    assert_eq!(
        tessera_server::cors_warnings(&config),
        [
            "cors.allowed_origins has \"https://admin.example\" with cors.allow_credentials, but \
          csrf.trusted_origins does not trust it: session logins and session-authenticated \
          writes from its pages will get 403 \"CSRF Failed: Origin checking failed\"; \
          add it to csrf.trusted_origins (Django needs both lists too)"
        ]
    );
    // A wildcard trusted origin covers it, as in Django.
    config.csrf.trusted_origins = vec!["https://*.example".into(), APP.into()];
    assert_eq!(tessera_server::cors_warnings(&config), Vec::<String>::new());
}

#[test]
fn serve_refuses_a_star_with_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_CORS__ALLOWED_ORIGINS", "[\"*\"]")
        .env("TESSERA_CORS__ALLOW_CREDENTIALS", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: cors.allowed_origins = [\"*\"] cannot go with cors.allow_credentials = true \
         (browsers refuse credentials with Access-Control-Allow-Origin: *): list the origins"
    );
    // Refused before the database is opened.
    assert!(!dir.path().join("tessera-data").exists());
    let out = tessera(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "TESSERA_CORS__ALLOWED_ORIGINS",
            "[\"https://app.example/api\"]",
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: cors.allowed_origins: \"https://app.example/api\": an origin has no path, \
         query or fragment, write \"https://app.example\""
    );
}
