//! `sessions.store = "redis"` over HTTP, on the real binary: a session login
//! keeps its session in Redis (by digest, nothing in the database's session
//! table) and its `login_succeeded` event in the database; the cookie
//! authenticates; a password changed from the command line and a logout end
//! the session in Redis at once. Without `redis.url` the server refuses to
//! start, with one line naming the keys.

use crate::cli::tessera;
use crate::e2e::{serve, Server};
use serde_json::{json, Value};
use sqlx::Connection as _;
use std::time::Duration;

const REDIS_URL: &str = "redis://127.0.0.1:6379";

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

async fn keys(url: &str, pattern: &str) -> Vec<String> {
    let mut connection = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut connection)
        .await
        .unwrap()
}

async fn delete_prefix(url: &str, prefix: &str) {
    let found = keys(url, &format!("{prefix}*")).await;
    if !found.is_empty() {
        let mut connection = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: i64 = redis::cmd("DEL")
            .arg(found)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

fn cookie_named(reply: &reqwest::Response, name: &str) -> Option<String> {
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// A CSRF cookie and its masked token, for the cookies already held.
async fn csrf(http: &reqwest::Client, server: &Server, cookies: &str) -> (String, String) {
    let reply = http
        .get(server.url("/auth/csrf"))
        .header("Cookie", cookies)
        .send()
        .await
        .unwrap();
    let cookie = cookie_named(&reply, "csrftoken");
    let token = reply.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = cookie.unwrap_or_else(|| {
        cookies
            .split("; ")
            .find(|c| c.starts_with("csrftoken="))
            .unwrap()
            .to_owned()
    });
    (cookie, token)
}

/// Logs alice in by session: the session cookie.
async fn login(http: &reqwest::Client, server: &Server, password: &str) -> String {
    let (cookie, token) = csrf(http, server, "").await;
    let reply = http
        .post(server.url("/auth/login"))
        .header("Cookie", &cookie)
        .header("X-CSRFToken", token)
        .json(&json!({"username": "alice", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let session = cookie_named(&reply, "sessionid").unwrap();
    let csrf_cookie = cookie_named(&reply, "csrftoken").unwrap();
    format!("{session}; {csrf_cookie}")
}

async fn me(http: &reqwest::Client, server: &Server, cookies: &str) -> (u16, Value) {
    let reply = http
        .get(server.url("/auth/me"))
        .header("Cookie", cookies)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn count(database: &str, sql: &str) -> i64 {
    let mut db = sqlx::SqliteConnection::connect(database).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap();
    let _ = db.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_in_redis_log_in_authenticate_and_end_there() {
    let Some(redis) = redis_url().await else {
        return;
    };
    let prefix = format!("tessera-test-{:016x}:", rand::random::<u64>());
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/t.sqlite3?mode=rwc", dir.path().display());
    let env = [
        ("TESSERA_DATABASE__URL", database.as_str()),
        ("TESSERA_REDIS__URL", redis.as_str()),
        ("TESSERA_REDIS__KEY_PREFIX", prefix.as_str()),
        ("TESSERA_SESSIONS__STORE", "redis"),
    ];
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut command = tessera(dir.path());
        command.args(args);
        for (k, v) in env {
            command.env(k, v);
        }
        command.env("TESSERA_SUPERUSER_PASSWORD", "alice-pass-123");
        let out = match stdin {
            Some(input) => crate::cli::run_with_input(&mut command, input),
            None => command.output().unwrap(),
        };
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        &[
            "createsuperuser",
            "--no-input",
            "--username",
            "alice",
            "--email",
            "a@example.com",
        ],
        None,
    );
    let server = serve(dir.path(), &env);
    let http = reqwest::Client::new();
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let cookies = login(&http, &server, "alice-pass-123").await;
    let (status, body) = me(&http, &server, &cookies).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "alice", "{body}");
    assert_eq!(body["auth"], "session", "{body}");
    // The session is in Redis, by digest; not in the database.
    let sessions = keys(&redis, &format!("{prefix}s:i:*")).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let id = cookies
        .split("; ")
        .next()
        .unwrap()
        .trim_start_matches("sessionid=");
    let all = keys(&redis, &format!("{prefix}*")).await;
    assert!(all.iter().all(|k| !k.contains(id)), "{all:?}");
    assert_eq!(
        count(&database, "SELECT count(*) FROM tessera_sessions").await,
        0
    );
    assert_eq!(
        count(
            &database,
            "SELECT count(*) FROM tessera_audit WHERE event = 'login_succeeded'"
        )
        .await,
        1
    );

    // A password changed from the command line ends it, at once.
    run(
        &["changepassword", "alice"],
        Some(b"alice-new-pass-9\nalice-new-pass-9\n"),
    );
    assert!(keys(&redis, &format!("{prefix}s:i:*")).await.is_empty());
    assert_eq!(me(&http, &server, &cookies).await.0, 401);

    // A logout ends the next one, with its event.
    let cookies = login(&http, &server, "alice-new-pass-9").await;
    assert_eq!(me(&http, &server, &cookies).await.0, 200);
    let (csrf_cookie, token) = csrf(&http, &server, &cookies).await;
    let session = cookies.split("; ").next().unwrap();
    let logout = http
        .post(server.url("/auth/logout"))
        .header("Cookie", format!("{session}; {csrf_cookie}"))
        .header("X-CSRFToken", token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert!(keys(&redis, &format!("{prefix}s:i:*")).await.is_empty());
    assert_eq!(me(&http, &server, &cookies).await.0, 401);
    assert_eq!(
        count(
            &database,
            "SELECT count(*) FROM tessera_audit WHERE event = 'logout'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&database, "SELECT count(*) FROM tessera_sessions").await,
        0
    );
    drop(server);
    delete_prefix(&redis, &prefix).await;
}

#[test]
fn sessions_in_redis_without_a_redis_url_stop_the_server_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("TESSERA_SESSIONS__STORE", "redis")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors,
        ["error: sessions.store = \"redis\" needs redis.url (e.g. TESSERA_REDIS__URL=redis://127.0.0.1:6379)"],
        "{stderr}"
    );
}
