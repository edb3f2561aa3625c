//! The audit log cannot be flooded and loses nothing (API.md, "Audit
//! events"): anonymous noise is counted into one row per (event, client
//! address, route) per window, kept current; every other event is written,
//! a full queue making the request wait; events past the retention are
//! pruned; `/metrics` shows the queue and the failed token checks per
//! address.

use crate::support::{peer_request as request, send_to, Reply, TestApp, TEST_ARGON2};
use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::audit::{AuditQuery, AuditRecord, EventKind, NewAuditEvent};
use tessera_testkit::ManualClock;

/// Sends through a router built once (the floods send thousands).
async fn send(router: &Router, request: Request<Body>) -> Reply {
    send_to(router.clone(), request).await
}

/// The stored events of `kind`, the writer flushed first.
async fn events_of(app: &TestApp, kind: EventKind) -> Vec<AuditRecord> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.event == kind)
        .collect()
}

/// `(ip, route, count)` of aggregated rows, sorted.
fn rows(events: &[AuditRecord]) -> Vec<(String, String, u64)> {
    let mut rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.ip.clone().unwrap_or_default(),
                e.detail["route"].as_str().unwrap().to_owned(),
                e.detail["count"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_throttled_requests_add_a_row_per_window() {
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("anon".into(), "1/min".into());
    })
    .await;
    let router = app.app();
    // Half a minute into a window, a request every 6 ms of the test clock:
    // the minute they span crosses one window boundary.
    app.clock.advance(Duration::from_secs(30));
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for _ in 0..10_000 {
        let get = request(Method::GET, "/api/public/", "203.0.113.7", &[], None);
        *statuses
            .entry(send(&router, get).await.status.as_u16())
            .or_default() += 1;
        app.clock.advance(Duration::from_millis(6));
    }
    assert_eq!(statuses, BTreeMap::from([(200, 1), (429, 9_999)]));
    let throttled = events_of(&app, EventKind::Throttled).await;
    // One row per window: [00:00, 00:01) and [00:01, 00:02).
    assert_eq!(
        rows(&throttled),
        [
            ("203.0.113.7".into(), "/api/public/".into(), 4_999),
            ("203.0.113.7".into(), "/api/public/".into(), 5_000),
        ]
    );
    let mut times: Vec<String> = throttled
        .iter()
        .map(|e| tessera_core::clock::rfc3339(e.time))
        .collect();
    times.sort();
    // Each row is its window's first refusal.
    assert_eq!(times, ["2026-01-01T00:00:30.006Z", "2026-01-01T00:01:00Z"]);
    assert!(throttled
        .iter()
        .all(|e| e.user.is_none() && e.username.is_empty() && e.detail["scope"] == "anon"));
    // Nothing else was recorded of them.
    assert_eq!(app.audit_events().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_csrf_failures_add_one_row_per_address_and_route() {
    let app = TestApp::new().await;
    let router = app.app();
    let body = json!({"username": "alice", "password": "whatever"});
    let mut refused = 0;
    for i in 0..10_010 {
        let peer = if i < 10_000 {
            "203.0.113.7"
        } else {
            "2001:db8::1"
        };
        let post = request(Method::POST, "/auth/login", peer, &[], Some(body.clone()));
        let reply = send(&router, post).await;
        reply.assert_error(403, "csrf_failed", "CSRF Failed: CSRF cookie not set.");
        refused += 1;
    }
    assert_eq!(refused, 10_010);
    let events = app.audit_events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.event == EventKind::CsrfFailed));
    assert_eq!(
        rows(&events),
        [
            ("2001:db8::1".into(), "/auth/login".into(), 10),
            ("203.0.113.7".into(), "/auth/login".into(), 10_000),
        ]
    );
    // Both rows carry the same time (the manual clock stands still), so
    // pick the row by its address, not by its place in the listing.
    let busiest = events
        .iter()
        .find(|e| e.ip.as_deref() == Some("203.0.113.7"))
        .unwrap();
    assert_eq!(
        busiest.detail,
        json!({"reason": "CSRF cookie not set.", "path": "/auth/login", "route": "/auth/login", "count": 10_000})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_denials_and_bad_keys_are_counted_per_address_and_route() {
    let app = TestApp::new().await;
    let bob = app.user_with("bob", "s3cret-pass", false, false).await;
    let inactive = format!("Token {}", app.token(&bob).await);
    let router = app.app();
    let (a, b, c) = ("203.0.113.7", "198.51.100.2", "198.51.100.3");
    let unknown = format!(
        "Token {}",
        tessera_core::token::TokenKey::generate().expose()
    );
    let sent: Vec<(&str, &str, Option<&str>, u64)> = vec![
        (a, "/api/example/", None, 300),
        (b, "/api/example/", None, 200),
        (a, "/api/secure/", Some(unknown.as_str()), 300),
        (a, "/api/protected/", Some("Token not-a-key"), 100),
        (a, "/api/public/", Some("Token a b"), 5),
        (c, "/api/example/", Some(inactive.as_str()), 3),
    ];
    for (peer, path, auth, times) in sent {
        for _ in 0..times {
            let headers: Vec<(&str, &str)> =
                auth.map(|v| ("authorization", v)).into_iter().collect();
            let reply = send(&router, request(Method::GET, path, peer, &headers, None)).await;
            assert_eq!(reply.status, 401, "{path} {auth:?}");
        }
    }
    let denied = events_of(&app, EventKind::PermissionDenied).await;
    assert_eq!(
        rows(&denied),
        [
            (b.into(), "/api/example/".into(), 200),
            (a.into(), "/api/example/".into(), 300),
        ]
    );
    assert_eq!(denied[0].detail["method"], "GET");
    let failed = events_of(&app, EventKind::LoginFailed).await;
    let (anonymous, named): (Vec<AuditRecord>, Vec<AuditRecord>) =
        failed.into_iter().partition(|e| e.user.is_none());
    assert_eq!(
        rows(&anonymous),
        [
            (a.into(), "/api/protected/".into(), 100),
            (a.into(), "/api/public/".into(), 5),
            (a.into(), "/api/secure/".into(), 300),
        ]
    );
    let reasons: BTreeMap<String, Value> = anonymous
        .iter()
        .map(|e| {
            let route = e.detail["route"].as_str().unwrap().to_owned();
            (route, e.detail["reason"].clone())
        })
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([
            ("/api/protected/".to_owned(), json!("invalid_token")),
            ("/api/public/".to_owned(), json!("malformed_header")),
            ("/api/secure/".to_owned(), json!("invalid_token")),
        ])
    );
    assert!(anonymous.iter().all(|e| e.detail["via"] == "token"));
    // A key that names a user is that user's event, each written whole.
    assert_eq!(named.len(), 3);
    for event in &named {
        assert_eq!((event.user, event.username.as_str()), (Some(bob.id), "bob"));
        assert_eq!(event.ip.as_deref(), Some(c));
        assert_eq!(
            event.detail,
            json!({"via": "token", "reason": "user_inactive"})
        );
    }
    // Nothing secret in any of it.
    let everything = serde_json::to_string(&app.audit_events().await).unwrap();
    assert!(!everything.contains(&unknown[6..]) && !everything.contains(&inactive[6..]));

    // /metrics: failed token checks per address, and the queue.
    let reply = send(
        &router,
        request(Method::GET, "/metrics", "127.0.0.1", &[], None),
    )
    .await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8(reply.body).unwrap();
    for line in [
        "# TYPE tessera_token_auth_failures_by_address gauge",
        "tessera_token_auth_failures_by_address{address=\"203.0.113.7\"} 405",
        "tessera_token_auth_failures_by_address{address=\"198.51.100.3\"} 3",
        "tessera_token_auth_failures_by_address{address=\"other\"} 0",
        "tessera_auth_outcomes_total{method=\"token\",outcome=\"failure\"} 408",
        "# TYPE tessera_audit_queue_depth gauge",
        "tessera_audit_queue_depth 0",
        "tessera_audit_queue_capacity 4096",
        "tessera_audit_pending_rows 0",
        "tessera_audit_write_failures_total 0",
        "tessera_audit_events_lost_total 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    assert!(
        !text.contains("198.51.100.2"),
        "no failed token check came from it"
    );
}

/// Every failed login names a username, so each is written: a thousand at
/// once, through an audit queue of four, are all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_failed_logins_are_all_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tessera_server::config::Config::default();
    config.database.url = format!("sqlite://{}/tessera.db", dir.path().display());
    config.password.argon2 = TEST_ARGON2.to_owned();
    config.password.allow_weak_parameters = true;
    // The host the test requests name, as the test app allows it.
    config.server.allowed_hosts = vec!["testserver".to_owned()];
    let store = tessera_server::open_store(&config).await.unwrap();
    let mut settings = tessera_server::settings(&config).unwrap();
    settings.audit.queue_capacity = 4;
    // A hashing queue long enough for all of them, and a wait no slow
    // machine reaches (the defaults answer 503 past what starts within 5 s,
    // which is not what this test is about).
    let hasher =
        tessera_core::password::PasswordHasher::new(TEST_ARGON2.parse().unwrap(), 2, 2_000)
            .unwrap()
            .with_max_queue_wait(std::time::Duration::from_secs(600));
    let (stores, _cache) =
        tessera_core::cache::with_cache(store, tessera_core::cache::CacheConfig::default());
    let clock = ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC));
    let tessera = tessera_axum::Tessera::builder()
        .stores(stores)
        .hasher(hasher)
        .settings(settings)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    assert_eq!(tessera.auditor().settings().queue_capacity, 4);
    let app = TestApp {
        state: tessera_server::AppState::new(
            tessera,
            Arc::new(config),
            tessera_server::SharedCounters::in_memory(),
        ),
        clock,
        dir,
    };
    for i in 0..10 {
        app.user(&format!("known{i}"), "s3cret-pass").await;
    }
    let router = app.app();
    let attempts = (0..1000).map(|i| {
        let router = router.clone();
        let username = if i < 10 {
            format!("known{i}")
        } else {
            format!("ghost{i}")
        };
        let peer = format!("10.1.{}.{}", i / 250, i % 250);
        async move {
            let body = json!({"username": username, "password": "wrong"});
            let post = request(Method::POST, "/api-token-auth/", &peer, &[], Some(body));
            send(&router, post).await.status.as_u16()
        }
    });
    let tasks: Vec<_> = attempts.map(tokio::spawn).collect();
    let statuses: Vec<u16> = join_all(tasks)
        .await
        .into_iter()
        .map(|s| s.unwrap())
        .collect();
    assert!(statuses.iter().all(|&s| s == 400), "{statuses:?}");
    let failed = events_of(&app, EventKind::LoginFailed).await;
    assert_eq!(failed.len(), 1000);
    let mut names: Vec<&str> = failed.iter().map(|e| e.username.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 1000);
    assert!(failed.iter().all(|e| e.detail.get("count").is_none()));
    assert_eq!(
        failed.iter().filter(|e| e.user.is_some()).count(),
        10,
        "known users' failures carry their id"
    );
}

/// No flush: an aggregated event shows in its row's count within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_counts_are_current_within_five_seconds() {
    let app = TestApp::with_config(|c| {
        c.throttle.rates.insert("anon".into(), "1/min".into());
    })
    .await;
    let router = app.app();
    let count = || async {
        let page = app
            .state
            .tessera
            .stores()
            .audit
            .query(&AuditQuery {
                event: Some(EventKind::Throttled),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        page.events.first().map(|e| e.detail["count"].clone())
    };
    let mut sent = 0;
    for burst in [4, 3] {
        for _ in 0..burst {
            let get = request(Method::GET, "/api/public/", "203.0.113.7", &[], None);
            send(&router, get).await;
        }
        sent += burst;
        let started = std::time::Instant::now();
        // The first request of all was let through.
        while count().await != Some(json!(sent - 1)) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "count {} not written within 5 s",
                sent - 1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Retention by the state's clock: `prune_audit` (clearsessions) and the
/// server's task delete exactly what is older than `audit.retention`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_past_the_retention_are_pruned() {
    let day = Duration::from_secs(86_400);
    let app = TestApp::with_config(|c| c.audit.retention = 30 * day).await;
    let retention = app.state.config.audit.retention;
    let store = &app.state.tessera.stores().audit;
    let now = app.state.tessera.clock().now();
    let us = time::Duration::microseconds(1);
    let month = time::Duration::days(30);
    for (name, age) in [
        ("year", time::Duration::days(365)),
        ("month and a microsecond", month + us),
        ("month", month),
        ("month less a day", month - time::Duration::DAY),
        ("now", time::Duration::ZERO),
    ] {
        let event = NewAuditEvent {
            username: name.to_owned(),
            ..NewAuditEvent::new(now - age, EventKind::Logout)
        };
        store.append(event).await.unwrap();
    }
    let names = || async {
        let mut events = app.audit_events().await;
        events.reverse();
        events
            .into_iter()
            .map(|e| e.username)
            .collect::<Vec<String>>()
    };
    let deleted = tessera_server::prune_audit(&app.state.tessera, retention)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(names().await, ["month", "month less a day", "now"]);

    // The server's task (hourly; here every 20 ms): a day later, one more
    // event is past the retention.
    let task = tessera_server::spawn_audit_retention(
        app.state.tessera.clone(),
        retention,
        Duration::from_millis(20),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(names().await, ["month", "month less a day", "now"]);
    app.clock.advance(day);
    let started = std::time::Instant::now();
    while names().await != ["month less a day", "now"] {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            names().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
}
