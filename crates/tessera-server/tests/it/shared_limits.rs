//! Three processes of the real binary on one PostgreSQL, and again with
//! Redis, limit as one: the throttles' windows, login protection's counts
//! and the security-alert windows are shared, and a lockout survives a
//! restart of all three. Also: a bad
//! `redis.url` stops the server with one line naming the key, and a Redis
//! key of an unexpected type is a `503`, not a crash.

use crate::cli::{tessera, text};
use crate::e2e::{serve, Server};
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::Duration;

const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A client whose connections come from `ip` (any address of 127.0.0.0/8):
/// the throttles count an anonymous request by its address, so spreading
/// the logins over addresses keeps them clear of `throttle.rates.user`.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .local_address(Some(ip.parse().unwrap()))
        .build()
        .unwrap()
}

/// Redis at `TESSERA_TEST_REDIS_URL` (default the local one), when it
/// answers; under CI it must.
async fn redis_url() -> Option<String> {
    let url = std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| REDIS_URL.to_owned());
    let answer = async {
        let client = redis::Client::open(url.as_str())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(5), answer).await {
        Ok(Ok(_)) => Some(url),
        Ok(Err(e)) => tessera_testkit::unreachable_backend("redis", &e),
        Err(_) => tessera_testkit::unreachable_backend("redis", &"no answer in 5 s"),
    }
}

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Deletes the keys under `prefix` (the shared server is never flushed).
async fn delete_prefix(url: &str, prefix: &str) {
    let mut connection = redis_connection(url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

/// Where the three processes run and what they share.
struct Deployment {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Deployment {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// Runs a CLI command against the deployment's database.
    fn cli(&self, args: &[&str], password: Option<&str>) -> String {
        let mut command = tessera(self.dir.path());
        command.args(args);
        for (k, v) in &self.env {
            command.env(k, v);
        }
        if let Some(password) = password {
            command.env("TESSERA_SUPERUSER_PASSWORD", password);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    fn start(&self) -> Vec<Server> {
        (0..3)
            .map(|_| serve(self.dir.path(), &self.env()))
            .collect()
    }
}

async fn login(
    http: &reqwest::Client,
    server: &Server,
    username: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let reply = http
        .post(server.url("/api-token-auth/"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let retry = reply
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, reply.json().await.unwrap_or(Value::Null))
}

/// Asserts the contract's lockout answer: `429`, `throttled`, and a
/// `Retry-After` of the 30-second first back-off (less the time gone by).
fn assert_locked((status, retry, body): &(u16, Option<String>, Value), what: &str) {
    assert_eq!(*status, 429, "{what}: {body}");
    assert_eq!(body["code"], "throttled", "{what}: {body}");
    let wait: u64 = retry.as_deref().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{what}: Retry-After {wait}");
    let unit = if wait == 1 { "second" } else { "seconds" };
    let detail = body["detail"].as_str().unwrap();
    // The wait in the body may be a second shorter than the header's if the
    // clock ticked between: check the shape.
    assert!(
        detail.starts_with("Request was throttled. Expected available in ")
            && detail.ends_with(&format!(" {unit}.")),
        "{what}: {detail}"
    );
}

/// The whole scenario on one deployment: `backend` is what `/readyz` must
/// report.
async fn three_processes_limit_as_one(deployment: &Deployment, backend: &str) {
    deployment.cli(
        &[
            "createsuperuser",
            "--no-input",
            "--username",
            "alice",
            "--email",
            "a@example.com",
        ],
        Some("alice-pass-123"),
    );
    let created = deployment.cli(&["create-token", "alice"], None);
    let key = created
        .strip_prefix("Generated token ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    deployment.cli(
        &[
            "createsuperuser",
            "--no-input",
            "--username",
            "bob",
            "--email",
            "b@example.com",
        ],
        Some("bob-pass-123"),
    );
    let servers = deployment.start();
    let http = client();
    for server in &servers {
        let ready = http.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        assert_eq!(
            ready.json::<Value>().await.unwrap(),
            json!({"status": "ok", "counters": backend})
        );
    }

    // 60 concurrent requests by one user, 20 to each process, against 10/min.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(60));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (http, url, key, start) = (
                http.clone(),
                servers[i % 3].url("/api/example/"),
                key.clone(),
                start.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                let reply = http
                    .get(url)
                    .header("Authorization", format!("Token {key}"))
                    .send()
                    .await
                    .unwrap();
                (reply.status().as_u16(), i % 3)
            })
        })
        .collect();
    let mut ok = [0; 3];
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, server) => ok[server] += 1,
            (429, _) => refused += 1,
            (other, _) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (ok.iter().sum::<i32>(), refused),
        (10, 50),
        "allowed per process: {ok:?}"
    );

    // Five failed logins for bob, spread over the three processes (and over
    // addresses, each of which the `user` rate counts on its own when
    // anonymous): locked on all three, even with the right password, from
    // an address that never failed.
    for i in 0..5 {
        let http = client_from(&format!("127.0.0.{}", 10 + i));
        let (status, _, body) = login(&http, &servers[i % 3], "bob", "wrong").await;
        assert_eq!(status, 400, "failure {i}: {body}");
    }
    for (i, server) in servers.iter().enumerate() {
        let http = client_from(&format!("127.0.1.{}", 10 + i));
        assert_locked(
            &login(&http, server, "bob", "bob-pass-123").await,
            &format!("process {i}"),
        );
    }
    // Another username is not locked.
    let (status, _, _) = login(
        &client_from("127.0.3.1"),
        &servers[1],
        "alice",
        "alice-pass-123",
    )
    .await;
    assert_eq!(status, 200);

    // Three usernames failing from one address, one on each process: one
    // security alert (`alerts.usernames_per_address = 3`), counted across
    // the three.
    let sprayer = client_from("127.0.4.1");
    for (i, server) in servers.iter().enumerate() {
        let (status, _, _) = login(&sprayer, server, &format!("nobody{i}"), "guess").await;
        assert_eq!(status, 400);
    }
    let mut db = sqlx::PgConnection::connect(&deployment.env[0].1)
        .await
        .unwrap();
    let mut alerts = Vec::new();
    for _ in 0..50 {
        // The audit writer flushes in the background.
        alerts = sqlx::query_scalar::<_, String>(
            "SELECT detail FROM tessera_audit WHERE event = 'security_alert' ORDER BY id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        if !alerts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tessera_audit WHERE event = 'security_alert'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let _ = db.close().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(again, 1, "no second alert");
    let detail: Value = serde_json::from_str(&alerts[0]).unwrap();
    assert_eq!(
        detail,
        json!({"kind": "many_usernames_from_one_address", "address": "127.0.4.1", "usernames": 3})
    );

    // All three stop; three new ones still refuse bob.
    drop(servers);
    let servers = deployment.start();
    for (i, server) in servers.iter().enumerate() {
        let http = client_from(&format!("127.0.2.{}", 10 + i));
        assert_locked(
            &login(&http, server, "bob", "bob-pass-123").await,
            &format!("restarted process {i}"),
        );
    }
}

fn deployment(database: &str, extra: &[(&'static str, String)]) -> Deployment {
    let mut env = vec![
        ("TESSERA_DATABASE__URL", database.to_owned()),
        ("TESSERA_THROTTLE__RATES__USER", "10/min".to_owned()),
        ("TESSERA_ALERTS__USERNAMES_PER_ADDRESS", "3".to_owned()),
    ];
    env.extend(extra.iter().cloned());
    Deployment {
        dir: tempfile::tempdir().unwrap(),
        env,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_one_postgresql_limit_as_one() {
    let Some(database) = crate::support::postgres_database().await else {
        return;
    };
    let deployment = deployment(database.url(), &[]);
    let outcome = tokio::spawn(async move {
        three_processes_limit_as_one(&deployment, "postgres").await;
    })
    .await;
    // The database is dropped with its guard.
    drop(database);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_one_redis_limit_as_one() {
    let Some(redis) = redis_url().await else {
        return;
    };
    let Some(database) = crate::support::postgres_database().await else {
        return;
    };
    let prefix = format!("tessera-test-{:016x}:", rand::random::<u64>());
    let deployment = deployment(
        database.url(),
        &[
            ("TESSERA_REDIS__URL", redis.clone()),
            ("TESSERA_REDIS__KEY_PREFIX", prefix.clone()),
        ],
    );
    let outcome = tokio::spawn(async move {
        three_processes_limit_as_one(&deployment, "redis").await;
        deployment
    })
    .await;
    // Nothing was counted in PostgreSQL's tables.
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM tessera_throttle_windows) \
         + (SELECT count(*) FROM tessera_login_attempts) \
         + (SELECT count(*) FROM tessera_alert_windows)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let _ = db.close().await;
    delete_prefix(&redis, &prefix).await;
    // The database is dropped with its guard.
    drop(database);
    match outcome {
        Err(e) => std::panic::resume_unwind(e.into_panic()),
        Ok(_) => assert_eq!(rows, 0),
    }
}

#[tokio::test]
async fn a_redis_key_of_another_type_is_a_503_not_a_crash() {
    let Some(redis) = redis_url().await else {
        return;
    };
    let prefix = format!("tessera-test-{:016x}:", rand::random::<u64>());
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TESSERA_REDIS__URL", redis.as_str()),
        ("TESSERA_REDIS__KEY_PREFIX", prefix.as_str()),
    ];
    let server = serve(dir.path(), &env);
    let http = client();
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ok", "counters": "redis"})
    );
    // The login guard's key for "mallory" holds a string, not a hash.
    let store = tessera_store_redis::RedisCounterStore::connect(
        &redis,
        tessera_store_redis::RedisOptions {
            prefix: prefix.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let key = store.login_key(&tessera_core::throttle::login::username_key("mallory"));
    let mut connection = redis_connection(&redis).await;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("not a hash")
        .arg("EX")
        .arg(60)
        .query_async(&mut connection)
        .await
        .unwrap();
    let (status, retry, body) = login(&http, &server, "mallory", "whatever").await;
    assert_eq!(status, 503, "{body}");
    assert!(retry.is_some());
    assert_eq!(body["code"], "unavailable", "{body}");
    // The process lives on: other usernames log in as usual (400: no such user).
    let (status, _, _) = login(&http, &server, "someone", "whatever").await;
    assert_eq!(status, 400);
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    delete_prefix(&redis, &prefix).await;
}

/// `tessera serve` with this `redis.url`: the exit status and standard error.
fn serve_with_redis(url: &str) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_REDIS__URL", url)
        .output()
        .unwrap();
    (out.status, text(&out.stderr))
}

#[test]
fn a_malformed_or_unreachable_redis_url_stops_the_server_with_one_line() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    for (url, says) in [
        ("http://127.0.0.1:6379".to_owned(), "not a Redis URL"),
        (
            format!("redis://:hunter2@127.0.0.1:{port}"),
            "cannot reach Redis",
        ),
    ] {
        let started = std::time::Instant::now();
        let (status, stderr) = serve_with_redis(&url);
        assert!(!status.success(), "{url}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(15), "{url}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{url}: {stderr}");
        assert!(errors[0].starts_with("error: redis.url ("), "{}", errors[0]);
        assert!(errors[0].contains(says), "{}", errors[0]);
        assert!(
            !stderr.contains("hunter2"),
            "the password is not shown: {stderr}"
        );
    }
}
