//! Throttles, login protection and attack alerts, over HTTP.

use crate::support::{peer_request, send_to, Reply, TestApp};
use axum::http::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_core::audit::{AuditQuery, EventKind};

/// A request from a given peer address, as the real server sees it.
pub(crate) async fn from_peer(
    app: &TestApp,
    peer: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    send_to(app.app(), peer_request(method, path, peer, headers, body)).await
}

pub(crate) fn throttled(reply: &Reply, wait: u64) {
    let unit = if wait == 1 { "second" } else { "seconds" };
    reply.assert_error(
        429,
        "throttled",
        &format!("Request was throttled. Expected available in {wait} {unit}."),
    );
    assert_eq!(reply.header("retry-after"), Some(wait.to_string().as_str()));
}

pub(crate) async fn events(app: &TestApp, kind: EventKind) -> Vec<Value> {
    app.state.tessera.auditor().flush().await;
    let query = AuditQuery {
        event: Some(kind),
        ..AuditQuery::default()
    };
    let page = app
        .state
        .tessera
        .stores()
        .audit
        .query(&query)
        .await
        .unwrap();
    page.events
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[tokio::test]
async fn the_anonymous_rate_refuses_with_drfs_429() {
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("anon".into(), "5/min".into());
    })
    .await;
    for _ in 0..5 {
        assert_eq!(
            from_peer(&app, "203.0.113.7", Method::GET, "/api/public/", &[], None)
                .await
                .status,
            200
        );
    }
    throttled(
        &from_peer(&app, "203.0.113.7", Method::GET, "/api/public/", &[], None).await,
        60,
    );
    // Another address has its own count.
    assert_eq!(
        from_peer(&app, "203.0.113.8", Method::GET, "/api/public/", &[], None)
            .await
            .status,
        200
    );
    app.clock.advance(Duration::from_secs(59));
    throttled(
        &from_peer(&app, "203.0.113.7", Method::GET, "/api/public/", &[], None).await,
        1,
    );
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(
        from_peer(&app, "203.0.113.7", Method::GET, "/api/public/", &[], None)
            .await
            .status,
        200
    );
    // Authenticated requests are not the anonymous rate's.
    let alice = app.user("alice", "s3cret-pass").await;
    let auth = format!("Token {}", app.token(&alice).await);
    for _ in 0..10 {
        let reply = from_peer(
            &app,
            "203.0.113.7",
            Method::GET,
            "/api/public/",
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    // Both refusals fall in one minute: one aggregated row, counting two.
    let recorded = events(&app, EventKind::Throttled).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["ip"], "203.0.113.7");
    assert_eq!(
        recorded[0]["detail"],
        json!({"scope": "anon", "wait": 60, "route": "/api/public/", "count": 2})
    );
}

#[tokio::test]
async fn the_user_rate_counts_per_user() {
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("user".into(), "3/hour".into());
    })
    .await;
    let alice = app.user("alice", "s3cret-pass").await;
    let bob = app.user("bob", "s3cret-pass").await;
    let (a, b) = (app.token(&alice).await, app.token(&bob).await);
    for _ in 0..3 {
        assert_eq!(app.get("/api/example/", Some(&a)).await.status, 200);
    }
    throttled(&app.get("/api/example/", Some(&a)).await, 3600);
    assert_eq!(app.get("/api/example/", Some(&b)).await.status, 200);
}

#[tokio::test]
async fn a_scoped_rate_covers_the_password_endpoints() {
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("login".into(), "2/min".into());
    })
    .await;
    app.user("alice", "s3cret-pass").await;
    let body = json!({"username": "alice", "password": "s3cret-pass"});
    for _ in 0..2 {
        assert_eq!(
            from_peer(
                &app,
                "198.51.100.1",
                Method::POST,
                "/api-token-auth/",
                &[],
                Some(body.clone())
            )
            .await
            .status,
            200
        );
    }
    throttled(
        &from_peer(
            &app,
            "198.51.100.1",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(body.clone()),
        )
        .await,
        60,
    );
    // Other routes are not in the scope.
    assert_eq!(
        from_peer(&app, "198.51.100.1", Method::GET, "/api/public/", &[], None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn forwarded_for_is_trusted_only_through_configured_proxies() {
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("anon".into(), "2/min".into());
    })
    .await;
    for i in 0..2 {
        let spoof = format!("10.9.9.{i}");
        let reply = from_peer(
            &app,
            "192.0.2.50",
            Method::GET,
            "/api/public/",
            &[("x-forwarded-for", &spoof)],
            None,
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    let reply = from_peer(
        &app,
        "192.0.2.50",
        Method::GET,
        "/api/public/",
        &[("x-forwarded-for", "10.9.9.99")],
        None,
    )
    .await;
    throttled(&reply, 60);
    // Behind one trusted proxy, the client is the last entry, not what it wrote first.
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("anon".into(), "2/min".into());
        c.throttle.num_proxies = 1;
    })
    .await;
    for spoof in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let xff = format!("{spoof}, 198.51.100.23");
        let reply = from_peer(
            &app,
            "10.0.0.1",
            Method::GET,
            "/api/public/",
            &[("x-forwarded-for", &xff)],
            None,
        )
        .await;
        if spoof == "3.3.3.3" {
            throttled(&reply, 60);
        } else {
            assert_eq!(reply.status, 200);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_cannot_slip_past_the_limit() {
    let app = Arc::new(
        TestApp::with_config(|c| {
            c.throttle.rates.insert("anon".into(), "10/min".into());
        })
        .await,
    );
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            from_peer(&app, "203.0.113.99", Method::GET, "/api/public/", &[], None)
                .await
                .status
                .as_u16()
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            200 => ok += 1,
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, refused), (10, 190));
}

#[test]
fn malformed_rates_are_refused_at_start_up() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut config = tessera_server::config::Config::default();
        config.database.url = format!("sqlite://{}/db", dir.path().display());
        config
            .throttle
            .rates
            .insert("anon".into(), "lots/min".into());
        let store = tessera_server::open_store(&config).await.unwrap();
        let err =
            tessera_server::state(config, store, Arc::new(tessera_core::SystemClock)).unwrap_err();
        assert!(
            err.to_string().starts_with("throttle.rates.anon: "),
            "{err}"
        );
    });
}

#[tokio::test]
async fn failed_logins_lock_the_username_with_a_doubling_back_off() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let wrong = json!({"username": "alice", "password": "wrong"});
    let right = json!({"username": "alice", "password": "s3cret-pass"});
    for i in 0..5 {
        let peer = format!("198.51.100.{i}");
        let reply = from_peer(
            &app,
            &peer,
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(wrong.clone()),
        )
        .await;
        assert_eq!(reply.status, 400);
    }
    // Locked: even the right password, from anywhere, waits.
    throttled(
        &from_peer(
            &app,
            "192.0.2.1",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(right.clone()),
        )
        .await,
        30,
    );
    let before = app.state.tessera.hasher().verifications();
    throttled(
        &from_peer(
            &app,
            "192.0.2.1",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(wrong.clone()),
        )
        .await,
        30,
    );
    assert_eq!(
        app.state.tessera.hasher().verifications(),
        before,
        "refused without hashing"
    );
    // Refused attempts do not extend the lock.
    app.clock.advance(Duration::from_secs(30));
    // One more failure doubles it.
    assert_eq!(
        from_peer(
            &app,
            "192.0.2.1",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(wrong.clone())
        )
        .await
        .status,
        400
    );
    throttled(
        &from_peer(
            &app,
            "192.0.2.1",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(right.clone()),
        )
        .await,
        60,
    );
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(
        from_peer(
            &app,
            "192.0.2.1",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(right.clone())
        )
        .await
        .status,
        200
    );
    // A success resets the username's count.
    for _ in 0..4 {
        from_peer(
            &app,
            "192.0.2.2",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(wrong.clone()),
        )
        .await;
    }
    assert_eq!(
        from_peer(
            &app,
            "192.0.2.2",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(right)
        )
        .await
        .status,
        200
    );
    let lockouts = events(&app, EventKind::Lockout).await;
    // Newest first: the doubled lock, then the first.
    assert_eq!(lockouts.len(), 2);
    assert_eq!(lockouts[1]["username"], "alice");
    assert_eq!(lockouts[1]["detail"]["username_locked_for"], 30);
    assert_eq!(lockouts[0]["detail"]["username_locked_for"], 60);
}

/// A login for alice from `peer`, with `password`.
async fn login_from(app: &TestApp, peer: &str, password: &str) -> Reply {
    let body = json!({"username": "alice", "password": password});
    from_peer(app, peer, Method::POST, "/api-token-auth/", &[], Some(body)).await
}

#[tokio::test]
async fn past_max_lockout_the_right_password_from_an_address_that_never_failed_gets_in() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let guessers: Vec<String> = (1..=5).map(|i| format!("198.51.100.{i}")).collect();
    for peer in &guessers {
        assert_eq!(login_from(&app, peer, "wrong").await.status, 400);
    }
    // Each guesser waits out the lock and guesses again: 60 s .. 960 s.
    for (peer, backoff) in guessers.iter().zip([30, 60, 120, 240, 480]) {
        // Until the back-off exceeds max_lockout, a fresh address waits too.
        throttled(
            &login_from(&app, "192.0.2.99", "s3cret-pass").await,
            backoff,
        );
        app.clock.advance(Duration::from_secs(backoff));
        assert_eq!(login_from(&app, peer, "wrong").await.status, 400);
    }
    // 960 s > 15 min: the right password from an address that never failed
    // for alice gets in...
    let fresh = login_from(&app, "192.0.2.10", "s3cret-pass").await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.json());
    let key = fresh.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/auth/me", Some(&key)).await.status, 200);
    // ...without resetting the lock for the addresses that guessed.
    throttled(&login_from(&app, &guessers[0], "s3cret-pass").await, 960);
    // A wrong password from another fresh address is counted (the lock
    // doubles) and refused as the lock refuses.
    let verified = app.state.tessera.hasher().argon2_runs();
    throttled(&login_from(&app, "192.0.2.11", "wrong").await, 1920);
    assert_eq!(app.state.tessera.hasher().argon2_runs(), verified + 1);
    throttled(&login_from(&app, "192.0.2.11", "s3cret-pass").await, 1920);
    throttled(&login_from(&app, &guessers[4], "s3cret-pass").await, 1920);
    assert_eq!(
        login_from(&app, "192.0.2.12", "s3cret-pass").await.status,
        200
    );
    // The way in is audited; the wrong guess is a failure like any other.
    let succeeded = events(&app, EventKind::LoginSucceeded).await;
    assert_eq!(succeeded.len(), 2);
    for event in &succeeded {
        assert_eq!(event["user"], alice.id);
        assert_eq!(
            event["detail"],
            json!({"via": "api-token-auth", "past_lock": true})
        );
    }
    let failed = events(&app, EventKind::LoginFailed).await;
    assert_eq!(failed.len(), 11);
    assert_eq!(failed[0]["ip"], "192.0.2.11");
}

#[tokio::test]
async fn an_address_locked_on_its_own_is_not_let_past_a_username_lock() {
    let app = TestApp::with_config(|c| c.login_protection.max_failures_per_address = 3).await;
    app.user("alice", "s3cret-pass").await;
    let guessers: Vec<String> = (1..=5).map(|i| format!("198.51.100.{i}")).collect();
    for peer in &guessers {
        login_from(&app, peer, "wrong").await;
    }
    for (peer, backoff) in guessers.iter().zip([30, 60, 120, 240, 480]) {
        app.clock.advance(Duration::from_secs(backoff));
        login_from(&app, peer, "wrong").await;
    }
    // An address that sprayed other usernames, never alice, is locked itself.
    for name in ["bob", "carol", "dave"] {
        let body = json!({"username": name, "password": "wrong"});
        let reply = from_peer(
            &app,
            "192.0.2.50",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(body),
        )
        .await;
        assert_eq!(reply.status, 400);
    }
    throttled(&login_from(&app, "192.0.2.50", "s3cret-pass").await, 960);
    assert_eq!(
        login_from(&app, "192.0.2.51", "s3cret-pass").await.status,
        200
    );
}

#[tokio::test]
async fn max_lockout_is_configured() {
    let app =
        TestApp::with_config(|c| c.login_protection.max_lockout = Duration::from_secs(100)).await;
    app.user("alice", "s3cret-pass").await;
    for i in 1..=5 {
        login_from(&app, &format!("198.51.100.{i}"), "wrong").await;
    }
    throttled(&login_from(&app, "192.0.2.10", "s3cret-pass").await, 30);
    app.clock.advance(Duration::from_secs(30));
    login_from(&app, "198.51.100.1", "wrong").await;
    throttled(&login_from(&app, "192.0.2.10", "s3cret-pass").await, 60);
    app.clock.advance(Duration::from_secs(60));
    login_from(&app, "198.51.100.2", "wrong").await;
    // 120 s > 100 s.
    assert_eq!(
        login_from(&app, "192.0.2.10", "s3cret-pass").await.status,
        200
    );
}

#[tokio::test]
async fn unknown_usernames_lock_exactly_like_known_ones() {
    let app = TestApp::new().await;
    app.user("alice", "s3cret-pass").await;
    let mut replies = Vec::new();
    for name in ["alice", "ghost"] {
        let body = json!({"username": name, "password": "wrong"});
        for _ in 0..5 {
            from_peer(
                &app,
                "198.51.100.77",
                Method::POST,
                "/api-token-auth/",
                &[],
                Some(body.clone()),
            )
            .await;
        }
        let reply = from_peer(
            &app,
            "198.51.100.78",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(body),
        )
        .await;
        replies.push((
            reply.status,
            reply.body.clone(),
            reply.header("retry-after").map(str::to_owned),
        ));
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[0].0, 429);
}

#[tokio::test]
async fn failures_count_across_the_three_endpoints_and_spellings() {
    let app = TestApp::new().await;
    let alice = app.user("alice", "s3cret-pass").await;
    let key = app.token(&alice).await;
    let auth = format!("Token {key}");
    for name in ["alice", "ALICE", " Alice "] {
        let body = json!({"username": name, "password": "wrong"});
        assert_eq!(
            from_peer(
                &app,
                "192.0.2.9",
                Method::POST,
                "/api-token-auth/",
                &[],
                Some(body)
            )
            .await
            .status,
            400
        );
    }
    for _ in 0..2 {
        let reply = from_peer(
            &app,
            "192.0.2.9",
            Method::POST,
            "/auth/reauth",
            &[("authorization", &auth)],
            Some(json!({"password": "wrong"})),
        )
        .await;
        assert_eq!(reply.status, 400);
    }
    let reply = from_peer(
        &app,
        "192.0.2.9",
        Method::POST,
        "/auth/reauth",
        &[("authorization", &auth)],
        Some(json!({"password": "s3cret-pass"})),
    )
    .await;
    throttled(&reply, 30);
}

#[tokio::test]
async fn an_address_failing_for_many_usernames_is_locked_too() {
    let app = TestApp::with_config(|c| c.login_protection.max_failures_per_address = 3).await;
    app.user("alice", "s3cret-pass").await;
    for name in ["u1", "u2", "u3"] {
        let body = json!({"username": name, "password": "x"});
        assert_eq!(
            from_peer(
                &app,
                "203.0.113.66",
                Method::POST,
                "/api-token-auth/",
                &[],
                Some(body)
            )
            .await
            .status,
            400
        );
    }
    let right = json!({"username": "alice", "password": "s3cret-pass"});
    throttled(
        &from_peer(
            &app,
            "203.0.113.66",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(right.clone()),
        )
        .await,
        30,
    );
    assert_eq!(
        from_peer(
            &app,
            "203.0.113.67",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(right)
        )
        .await
        .status,
        200
    );
}

/// A local webhook receiver: answers with the given statuses in turn (then
/// 200), and keeps the bodies it got.
pub(crate) async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(statuses));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let seen = seen.clone();
            let statuses = statuses.clone();
            async move {
                seen.lock().unwrap().push(body);
                let mut s = statuses.lock().unwrap();
                let code = if s.is_empty() { 200 } else { s.remove(0) };
                axum::http::StatusCode::from_u16(code).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

pub(crate) async fn wait_for(got: &Arc<Mutex<Vec<Value>>>, n: usize) {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn spraying_many_usernames_from_one_address_raises_one_alert() {
    let (url, got) = receiver(vec![]).await;
    let app = TestApp::with_config(|c| {
        c.alerts.webhook_url = Some(url);
        c.alerts.usernames_per_address = 3;
    })
    .await;
    for name in ["u1", "u2"] {
        from_peer(
            &app,
            "203.0.113.5",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(json!({"username": name, "password": "x"})),
        )
        .await;
    }
    assert!(
        events(&app, EventKind::SecurityAlert).await.is_empty(),
        "below the threshold"
    );
    for name in ["u3", "u4", "u5"] {
        from_peer(
            &app,
            "203.0.113.5",
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(json!({"username": name, "password": "x"})),
        )
        .await;
    }
    let alerts = events(&app, EventKind::SecurityAlert).await;
    assert_eq!(alerts.len(), 1, "exactly one alert per window");
    assert_eq!(
        alerts[0]["detail"],
        json!({"kind": "many_usernames_from_one_address", "address": "203.0.113.5", "usernames": 3})
    );
    wait_for(&got, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let posted = got.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["event"], "security_alert");
    assert_eq!(
        posted[0]["detail"]["kind"],
        "many_usernames_from_one_address"
    );
}

#[tokio::test]
async fn one_username_from_many_addresses_raises_an_alert() {
    let app = TestApp::with_config(|c| c.alerts.addresses_per_username = 4).await;
    for i in 0..4 {
        let peer = format!("198.51.100.{}", 10 + i);
        from_peer(
            &app,
            &peer,
            Method::POST,
            "/api-token-auth/",
            &[],
            Some(json!({"username": "alice", "password": "x"})),
        )
        .await;
    }
    let alerts = events(&app, EventKind::SecurityAlert).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0]["detail"]["kind"],
        "many_addresses_for_one_username"
    );
    assert_eq!(alerts[0]["detail"]["addresses"], 4);
}

#[tokio::test]
async fn the_webhook_retries_until_it_is_accepted() {
    use tessera_axum::alerts::AlertSink;
    let (url, got) = receiver(vec![500, 503]).await;
    let hook = tessera_server::webhook::Webhook::with_retries(url, 4, Duration::from_millis(10));
    hook.send(json!({"event": "security_alert", "detail": {"n": 1}}));
    wait_for(&got, 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let posted = got.lock().unwrap().clone();
    assert_eq!(posted.len(), 3, "two refusals, then accepted, then no more");
    assert!(posted.iter().all(|p| p["detail"]["n"] == 1));
}
