//! Revocation reaches every process within the bound (1 s), whatever the
//! credential cache's TTL: three processes of the real binary on one
//! PostgreSQL (and again with Redis configured), two on one SQLite file,
//! each keeping found credentials for ten minutes. A key logged in on A and
//! used on B and C, revoked on C, is refused on A and B within 1 s; a
//! password change on B refuses every other key and session of the user on
//! every process within 1 s, while the key that made the change keeps
//! working.
//!
//! The bound is asserted on when each request was *sent*: any request sent
//! 1 s or more after the revoking request was answered must be refused.

use crate::cli::{tessera, text};
use crate::e2e::{serve, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(1);
/// How long a test waits at most for a refusal (a failure past the bound is
/// reported at the first request sent after it).
const GIVE_UP: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A credential as a request header.
#[derive(Clone, Debug)]
enum Credential {
    Token(String),
    Session(String),
}

impl Credential {
    fn header(&self) -> (&'static str, String) {
        match self {
            Credential::Token(key) => ("Authorization", format!("Token {key}")),
            Credential::Session(cookie) => ("Cookie", cookie.clone()),
        }
    }
}

/// The status of `GET /auth/me` on `server` with `credential`.
async fn me(http: &reqwest::Client, server: &Server, credential: &Credential) -> u16 {
    let (name, value) = credential.header();
    http.get(server.url("/auth/me"))
        .header(name, value)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls `credential` on every server until each refuses it (`refused`),
/// failing if a request sent `BOUND` or more after `since` was accepted.
/// How long the slowest process took.
async fn refused_everywhere_within_the_bound(
    http: &reqwest::Client,
    servers: &[&Server],
    credential: &Credential,
    refused: u16,
    since: Instant,
    what: &str,
) -> Duration {
    let mut slowest = Duration::ZERO;
    for (i, server) in servers.iter().enumerate() {
        loop {
            let sent = since.elapsed();
            let status = me(http, server, credential).await;
            if status == refused {
                slowest = slowest.max(sent);
                break;
            }
            assert_eq!(status, 200, "{what} on process {i}");
            assert!(
                sent < BOUND,
                "{what}: process {i} still accepted a request sent {sent:?} after the revocation"
            );
            assert!(sent < GIVE_UP);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    slowest
}

/// The credential cache's hits and misses on `server`, from `/metrics`.
async fn cache_counts(http: &reqwest::Client, server: &Server) -> (u64, u64) {
    let reply = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let body = reply.text().await.unwrap();
    let value = |name: &str| -> u64 {
        body.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .trim()
            .parse()
            .unwrap()
    };
    (
        value("tessera_credential_cache_hits_total"),
        value("tessera_credential_cache_misses_total"),
    )
}

/// `POST /api-token-auth/` on `server`: the key.
async fn obtain_token(http: &reqwest::Client, server: &Server, password: &str) -> Credential {
    let reply = http
        .post(server.url("/api-token-auth/"))
        .json(&json!({"username": "alice", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    Credential::Token(body["token"].as_str().unwrap().to_owned())
}

/// A session cookie from `/auth/login` on `server`, through Django's CSRF
/// dance (cookie, then header).
async fn session(http: &reqwest::Client, server: &Server, password: &str) -> Credential {
    let cookie_of = |reply: &reqwest::Response, name: &str| {
        reply
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap()
    };
    let csrf = http.get(server.url("/auth/csrf")).send().await.unwrap();
    let cookie = cookie_of(&csrf, "csrftoken");
    let masked = csrf.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let login = http
        .post(server.url("/auth/login"))
        .header("Cookie", &cookie)
        .header("X-CSRFToken", masked)
        .json(&json!({"username": "alice", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    Credential::Session(cookie_of(&login, "sessionid"))
}

/// Runs a CLI command with `env`: its standard output.
fn cli(dir: &Path, env: &[(&str, &str)], args: &[&str], password: Option<&str>) -> String {
    let mut command = tessera(dir);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    if let Some(password) = password {
        command.env("TESSERA_SUPERUSER_PASSWORD", password);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The scenario on `processes` servers sharing `env`'s database.
async fn revocation_reaches_every_process(processes: usize, extra: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, &str)> = vec![("TESSERA_CACHE__TTL", "10m")];
    env.extend_from_slice(extra);
    cli(
        dir.path(),
        &env,
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
    let created = cli(dir.path(), &env, &["create-token", "alice"], None);
    let cli_key = Credential::Token(
        created
            .strip_prefix("Generated token ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned(),
    );
    let servers: Vec<Server> = (0..processes).map(|_| serve(dir.path(), &env)).collect();
    let (a, b, c) = (&servers[0], &servers[1], &servers[processes - 1]);
    let http = client();

    // Log in on A; use the key on B and C (and every credential everywhere,
    // so that every process has them cached).
    let key = obtain_token(&http, a, "alice-pass-123").await;
    let changer = obtain_token(&http, b, "alice-pass-123").await;
    let cookie = session(&http, a, "alice-pass-123").await;
    let all = [&key, &changer, &cli_key, &cookie];
    for server in &servers {
        for credential in all {
            assert_eq!(me(&http, server, credential).await, 200, "{credential:?}");
        }
    }
    // Past the bound the entries are still served from memory (the cache
    // outlives it: the poller vouches for them), no store read.
    tokio::time::sleep(BOUND + Duration::from_millis(200)).await;
    for server in &servers {
        let before = cache_counts(&http, server).await;
        for credential in all {
            assert_eq!(me(&http, server, credential).await, 200);
        }
        let after = cache_counts(&http, server).await;
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (4, 0),
            "hits and misses past the bound"
        );
    }

    // Revoke the key on C: refused on A and B within the bound.
    let Credential::Token(raw) = &key else {
        unreachable!()
    };
    let logout = http
        .post(c.url("/auth/logout"))
        .header("Authorization", format!("Token {raw}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let revoked = Instant::now();
    let others: Vec<&Server> = servers[..processes - 1].iter().collect();
    let took =
        refused_everywhere_within_the_bound(&http, &others, &key, 401, revoked, "logout").await;
    eprintln!("a logout on one process reached the others after {took:?}");

    // The anonymous answer of /auth/me, which a dead session gets.
    let anonymous = http
        .get(a.url("/auth/me"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_ne!(anonymous, 200);

    // The logout dropped alice's cached credentials everywhere (per user):
    // cache them again, so that the next revocation has entries to reach.
    for server in &servers {
        for credential in [&changer, &cli_key, &cookie] {
            assert_eq!(me(&http, server, credential).await, 200);
        }
        let before = cache_counts(&http, server).await;
        for credential in [&changer, &cli_key, &cookie] {
            assert_eq!(me(&http, server, credential).await, 200);
        }
        let after = cache_counts(&http, server).await;
        assert_eq!((after.0 - before.0, after.1 - before.1), (3, 0));
    }

    // Change the password on B: every other key and session of alice is
    // refused everywhere within the bound; the changing key still works.
    let (name, value) = changer.header();
    let changed = http
        .post(b.url("/auth/password"))
        .header(name, value)
        .json(&json!({"old_password": "alice-pass-123", "new_password": "alice-pass-456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    let changed = Instant::now();
    let everyone: Vec<&Server> = servers.iter().collect();
    let took_key = refused_everywhere_within_the_bound(
        &http,
        &everyone,
        &cli_key,
        401,
        changed,
        "password change (key)",
    )
    .await;
    let took_session = refused_everywhere_within_the_bound(
        &http,
        &everyone,
        &cookie,
        anonymous,
        changed,
        "password change (session)",
    )
    .await;
    eprintln!(
        "a password change reached every process after {:?}",
        took_key.max(took_session)
    );
    for server in &servers {
        assert_eq!(me(&http, server, &changer).await, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_postgresql_refuse_a_revoked_credential_within_a_second() {
    let Some(database) = crate::support::postgres_database().await else {
        return;
    };
    let url = database.url().to_owned();
    let outcome = tokio::spawn(async move {
        revocation_reaches_every_process(3, &[("TESSERA_DATABASE__URL", &url)]).await;
    })
    .await;
    drop(database);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_postgresql_and_redis_refuse_a_revoked_credential_within_a_second() {
    let redis = std::env::var("TESSERA_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let reachable = async {
        let client = redis::Client::open(redis.as_str())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(5), reachable).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return tessera_testkit::unreachable_backend("redis", &e).unwrap_or(()),
        Err(_) => {
            return tessera_testkit::unreachable_backend("redis", &"no answer in 5 s").unwrap_or(())
        }
    }
    let Some(database) = crate::support::postgres_database().await else {
        return;
    };
    let url = database.url().to_owned();
    let prefix = format!("tessera-test-{:016x}:", rand::random::<u64>());
    let env_redis = redis.clone();
    let env_prefix = prefix.clone();
    let outcome = tokio::spawn(async move {
        revocation_reaches_every_process(
            3,
            &[
                ("TESSERA_DATABASE__URL", &url),
                ("TESSERA_REDIS__URL", &env_redis),
                ("TESSERA_REDIS__KEY_PREFIX", &env_prefix),
            ],
        )
        .await;
    })
    .await;
    drop(database);
    // The counters' keys carry a TTL; delete them anyway.
    if let Ok(client) = redis::Client::open(redis.as_str()) {
        if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut connection)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<i64, _> = redis::cmd("DEL")
                    .arg(keys)
                    .query_async(&mut connection)
                    .await;
            }
        }
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_sqlite_file_refuse_a_revoked_credential_within_a_second() {
    revocation_reaches_every_process(2, &[]).await;
}
