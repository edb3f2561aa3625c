//! Faults are answers, not crashes: the real binary under a steady load of
//! token requests and logins while the test stops its own PostgreSQL cluster
//! (or its own Redis server) for three seconds and starts it again. Only
//! `200`s, and `503`s with `Retry-After` and the contract's body, ever; all
//! `200` again within five seconds of the engine's return; exactly one
//! `login_succeeded` event (and one token) for every login answered `200`,
//! none for one answered `503`. With Redis down the counters fall back to
//! PostgreSQL (logged once, `/readyz` says so) and return to Redis.
//!
//! And `SIGTERM` under load: no accepted request gets a reset connection, a
//! request in flight is answered, queued audit events are written, and the
//! process exits 0 within `server.shutdown_grace`.
//!
//! The engines are the test's own, on free ports in a temporary directory
//! (`initdb`/`pg_ctl` as the `postgres` user when the test runs as root;
//! `redis-server --save ''`): the shared ones on 5432 and 6379 are never
//! stopped. Every start has a deadline (`pg_ctl -t 30`, 10 s for Redis, 30 s
//! for the server).

use crate::cli::tessera;
use crate::e2e::{listening_addr, READY_TIMEOUT};
use crate::postgres_tls::{as_postgres, give_to_postgres, postgres_bin};
use serde_json::{json, Value};
use sqlx::Connection as _;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the engine stays down.
const OUTAGE: Duration = Duration::from_secs(3);
/// How soon after the engine is back every answer must be `200` again.
const RECOVERY: Duration = Duration::from_secs(5);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An engine the test can stop and start.
trait Engine {
    fn stop(&mut self);
    fn start(&mut self);
}

/// A PostgreSQL cluster of the test's own, stopped (immediately) on drop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    pg_ctl: PathBuf,
    data: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// `initdb` and start a cluster on a free port; `None` when there are no
    /// PostgreSQL binaries and `TESSERA_TEST_SKIP=postgres` opts out.
    fn start_new() -> Option<OwnPostgres> {
        let bin = postgres_bin()?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        give_to_postgres(dir.path());
        let initdb = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .unwrap();
        assert!(initdb.status.success(), "{initdb:?}");
        let port = free_port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\n",
            dir.path().display()
        );
        let mut postgresql_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        postgresql_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), postgresql_conf).unwrap();
        give_to_postgres(dir.path());
        let mut cluster = OwnPostgres {
            pg_ctl: bin.join("pg_ctl"),
            data,
            port,
            dir,
        };
        cluster.start();
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = as_postgres(&self.pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "30"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {out:?}\n{}",
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }
}

impl Engine for OwnPostgres {
    fn stop(&mut self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    fn start(&mut self) {
        self.pg_ctl(&["start"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-t", "30", "stop"])
            .output();
    }
}

/// A Redis server of the test's own (no persistence), killed on drop.
struct OwnRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// A Redis server on a free port; `None` when there is no
    /// `redis-server` and `TESSERA_TEST_SKIP=redis` opts out.
    fn start_new() -> Option<OwnRedis> {
        if let Err(e) = Command::new("redis-server").arg("--version").output() {
            return tessera_testkit::unreachable_backend(
                "redis",
                &format!("redis-server ({e}; scripts/services installs it)"),
            );
        }
        let mut redis = OwnRedis {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            child: None,
        };
        redis.start();
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether the server answers `PING` with `PONG`.
    fn pong(&self) -> bool {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// How many keys the server holds.
    fn dbsize(&self) -> u64 {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"DBSIZE\r\n").unwrap();
        let mut answer = [0u8; 32];
        let n = stream.read(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        text.trim().trim_start_matches(':').parse().unwrap()
    }
}

impl Engine for OwnRedis {
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn start(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("redis.log")).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.pong() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 10 s: {}",
                std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `tessera serve` on a free port, its standard error in a file the test
/// reads at any time; killed on drop.
struct Process {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Process {
    fn spawn(dir: &Path, name: &str, env: &[(&str, String)]) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = tessera(dir);
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(addr) = said.lines().find_map(listening_addr) {
                return Process { child, addr, log };
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not start ({exited:?}); it said:\n{said}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn said(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `within`.
    fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `tessera` command with `env`; its standard output.
fn cli(dir: &Path, env: &[(&str, String)], args: &[&str], password: Option<&str>) -> String {
    let mut command = tessera(dir);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    if let Some(password) = password {
        command.env("TESSERA_SUPERUSER_PASSWORD", password);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates alice (password `alice-pass-123`) and a key for her.
fn alice_with_a_key(dir: &Path, env: &[(&str, String)]) -> String {
    cli(
        dir,
        env,
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
    let created = cli(dir, env, &["create-token", "alice"], None);
    created
        .strip_prefix("Generated token ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned()
}

/// The settings every server here runs with: the throttles and login
/// protection on (so the counters are used by every request) with rates no
/// load reaches, and a cap on tokens the logins do not reach.
fn base_env(database: String) -> Vec<(&'static str, String)> {
    vec![
        ("TESSERA_DATABASE__URL", database),
        ("TESSERA_TOKENS__MAX_PER_USER", "1000000".to_owned()),
        ("TESSERA_THROTTLE__RATES__USER", "1000000/min".to_owned()),
        ("TESSERA_THROTTLE__RATES__ANON", "1000000/min".to_owned()),
        ("TESSERA_THROTTLE__RATES__LOGIN", "1000000/min".to_owned()),
        (
            "TESSERA_LOGIN_PROTECTION__MAX_FAILURES_PER_ADDRESS",
            "1000000".to_owned(),
        ),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `GET /api/example/` with alice's key.
    Token,
    /// `POST /api-token-auth/` with alice's password.
    Login,
}

/// One answer of the load.
#[derive(Debug)]
struct Answer {
    kind: Kind,
    started: Instant,
    ended: Instant,
    /// 0: no HTTP answer at all.
    status: u16,
    retry_after: Option<String>,
    body: Value,
    /// Shown when the test fails (`Debug`).
    #[allow(dead_code)]
    error: Option<String>,
}

/// Two workers sending token requests and two sending logins, one after
/// another each, until `stop`.
async fn load(base: String, key: String, stop: Arc<AtomicBool>) -> Vec<Answer> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let workers: Vec<_> = [Kind::Token, Kind::Login, Kind::Token, Kind::Login]
        .into_iter()
        .map(|kind| {
            let (http, base, key, stop) = (http.clone(), base.clone(), key.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(Ordering::Acquire) {
                    let request = match kind {
                        Kind::Token => http
                            .get(format!("{base}/api/example/"))
                            .header("Authorization", format!("Token {key}")),
                        Kind::Login => http
                            .post(format!("{base}/api-token-auth/"))
                            .json(&json!({"username": "alice", "password": "alice-pass-123"})),
                    };
                    let started = Instant::now();
                    let answer = match request.send().await {
                        Ok(reply) => {
                            let status = reply.status().as_u16();
                            let retry_after = reply
                                .headers()
                                .get("retry-after")
                                .map(|v| v.to_str().unwrap_or("?").to_owned());
                            let body = reply.json().await.unwrap_or(Value::Null);
                            Answer {
                                kind,
                                started,
                                ended: Instant::now(),
                                status,
                                retry_after,
                                body,
                                error: None,
                            }
                        }
                        Err(e) => Answer {
                            kind,
                            started,
                            ended: Instant::now(),
                            status: 0,
                            retry_after: None,
                            body: Value::Null,
                            error: Some(format!("{e:?}")),
                        },
                    };
                    answers.push(answer);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                answers
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all
}

/// What happened around an outage.
struct Outage {
    answers: Vec<Answer>,
    /// When the engine was asked to stop.
    stopping: Instant,
    /// When the engine answered again.
    back: Instant,
}

/// Load on `server` for a second and a half, the engine stopped for
/// [`OUTAGE`], started again, and the load kept up for [`RECOVERY`] and two
/// more seconds. `during` runs while the engine is down.
async fn outage<E: Engine + Send + 'static>(
    server: &Process,
    key: &str,
    engine: E,
    during: impl std::future::Future<Output = ()>,
) -> (Outage, E) {
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(server.url(""), key.to_owned(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopping = Instant::now();
    let mut engine = tokio::task::spawn_blocking(move || {
        let mut engine = engine;
        engine.stop();
        engine
    })
    .await
    .unwrap();
    let down = Instant::now();
    during.await;
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    let engine = tokio::task::spawn_blocking(move || {
        engine.start();
        engine
    })
    .await
    .unwrap();
    let back = Instant::now();
    tokio::time::sleep(RECOVERY + Duration::from_secs(2)).await;
    stop.store(true, Ordering::Release);
    let answers = load.await.unwrap();
    (
        Outage {
            answers,
            stopping,
            back,
        },
        engine,
    )
}

impl Outage {
    /// The assertions every outage shares; how many logins were answered
    /// `200`.
    fn check(&self, what: &str) -> usize {
        let odd: Vec<&Answer> = self
            .answers
            .iter()
            .filter(|a| a.status != 200 && a.status != 503)
            .collect();
        assert!(
            odd.is_empty(),
            "{what}: answers other than 200 or 503: {odd:#?}"
        );
        for answer in self.answers.iter().filter(|a| a.status == 503) {
            assert_eq!(
                answer.body,
                json!({"detail": "Service temporarily unavailable.", "code": "unavailable"}),
                "{what}: {answer:?}"
            );
            let wait: u64 = answer
                .retry_after
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what}: a 503 without Retry-After: {answer:?}"));
            assert!(wait >= 1, "{what}: {answer:?}");
        }
        for kind in [Kind::Token, Kind::Login] {
            let before: Vec<&Answer> = self
                .answers
                .iter()
                .filter(|a| a.kind == kind && a.ended < self.stopping)
                .collect();
            assert!(!before.is_empty(), "{what}: no {kind:?} before the outage");
            assert!(
                before.iter().all(|a| a.status == 200),
                "{what}: {kind:?} before the outage: {before:#?}"
            );
            let after: Vec<&Answer> = self
                .answers
                .iter()
                .filter(|a| a.kind == kind && a.started >= self.back + RECOVERY)
                .collect();
            assert!(!after.is_empty(), "{what}: no {kind:?} after the recovery");
            let failed: Vec<&&Answer> = after.iter().filter(|a| a.status != 200).collect();
            assert!(
                failed.is_empty(),
                "{what}: {kind:?} not 200 {RECOVERY:?} after the engine came back: {failed:#?}"
            );
        }
        let last_refusal = self
            .answers
            .iter()
            .filter(|a| a.status != 200)
            .map(|a| a.ended)
            .max();
        let count = |kind, status| {
            self.answers
                .iter()
                .filter(|a| a.kind == kind && a.status == status)
                .count()
        };
        eprintln!(
            "{what}: {} answers; tokens {} x 200, {} x 503; logins {} x 200, {} x 503; \
             last 503 {:?} after the engine was back",
            self.answers.len(),
            count(Kind::Token, 200),
            count(Kind::Token, 503),
            count(Kind::Login, 200),
            count(Kind::Login, 503),
            last_refusal.map(|at| at.saturating_duration_since(self.back)),
        );
        count(Kind::Login, 200)
    }

    fn refused(&self, kind: Kind) -> usize {
        self.answers
            .iter()
            .filter(|a| a.kind == kind && a.status == 503)
            .count()
    }

    /// The keys of the logins answered `200`.
    fn keys(&self) -> Vec<String> {
        self.answers
            .iter()
            .filter(|a| a.kind == Kind::Login && a.status == 200)
            .map(|a| a.body["token"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Exactly one `login_succeeded` event and one obtained token for every
/// login answered `200`, and none for a login answered `503`; and each of
/// those keys works.
async fn audit_matches_the_answers(database: &str, server: &Process, outage: &Outage) {
    let ok = outage.keys();
    let mut db = sqlx::PgConnection::connect(database).await.unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tessera_audit WHERE event = 'login_succeeded'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let tokens: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tessera_tokens WHERE name = 'api-token-auth'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tessera_audit WHERE event = 'token_created' \
         AND detail LIKE '%api-token-auth%'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let _ = db.close().await;
    let ok_count = i64::try_from(ok.len()).unwrap();
    assert_eq!(
        events, ok_count,
        "login_succeeded events vs logins answered 200"
    );
    assert_eq!(tokens, ok_count, "obtained tokens vs logins answered 200");
    assert_eq!(
        created, ok_count,
        "token_created events vs logins answered 200"
    );
    let http = reqwest::Client::new();
    for key in ok.iter().step_by(ok.len() / 10 + 1) {
        let reply = http
            .get(server.url("/api/example/"))
            .header("Authorization", format!("Token {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "a key given out works");
    }
}

async fn readyz(http: &reqwest::Client, server: &Process) -> (u16, Value) {
    let reply = http.get(server.url("/readyz")).send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_stopped_and_started_under_load_is_503_then_200_with_exact_audit() {
    let Some(cluster) = OwnPostgres::start_new() else {
        return;
    };
    let database = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(database.clone());
    let key = alice_with_a_key(dir.path(), &env);
    let server = Process::spawn(dir.path(), "server", &env);
    let http = reqwest::Client::new();
    assert_eq!(
        readyz(&http, &server).await,
        (200, json!({"status": "ok", "counters": "postgres"}))
    );
    let during = async {
        let (status, body) = readyz(&http, &server).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["store"], "database", "{body}");
    };
    let (outage, _cluster) = outage(&server, &key, cluster, during).await;
    outage.check("PostgreSQL down");
    assert!(
        outage.refused(Kind::Login) > 0,
        "logins need the database: some were refused during the outage"
    );
    assert_eq!(
        readyz(&http, &server).await,
        (200, json!({"status": "ok", "counters": "postgres"}))
    );
    audit_matches_the_answers(&database, &server, &outage).await;
    let said = server.said();
    assert!(!said.contains("panicked"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_and_started_under_load_falls_back_to_postgresql_and_back() {
    let Some(redis) = OwnRedis::start_new() else {
        return;
    };
    let Some(database) = crate::support::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(database.url().to_owned());
    env.push(("TESSERA_REDIS__URL", redis.url()));
    let key = alice_with_a_key(dir.path(), &env);
    let server = Process::spawn(dir.path(), "server", &env);
    let http = reqwest::Client::new();
    assert_eq!(
        readyz(&http, &server).await,
        (200, json!({"status": "ok", "counters": "redis"}))
    );
    let during = async {
        // Let the load meet the outage first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            readyz(&http, &server).await,
            (
                200,
                json!({"status": "ok", "counters": "postgres", "redis": "unavailable"})
            )
        );
    };
    let (outage, redis) = outage(&server, &key, redis, during).await;
    outage.check("Redis down");
    // The counters fell back: nothing was refused.
    assert_eq!(
        (outage.refused(Kind::Token), outage.refused(Kind::Login)),
        (0, 0)
    );
    assert_eq!(
        readyz(&http, &server).await,
        (200, json!({"status": "ok", "counters": "redis"}))
    );
    // Back in Redis (which restarted empty): the requests since counted there.
    assert!(redis.dbsize() > 0, "the counters are in Redis again");
    // PostgreSQL's counters were used meanwhile.
    let mut db = sqlx::PgConnection::connect(database.url()).await.unwrap();
    let windows: i64 = sqlx::query_scalar("SELECT count(*) FROM tessera_throttle_windows")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let _ = db.close().await;
    assert!(
        windows > 0,
        "the throttles counted in PostgreSQL during the outage"
    );
    audit_matches_the_answers(database.url(), &server, &outage).await;
    let said = server.said();
    let down = said.matches("Redis is unavailable").count();
    let up = said.matches("Redis answers again").count();
    assert_eq!((down, up), (1, 1), "logged once each way:\n{said}");
    assert!(!said.contains("panicked"), "{said}");
    drop(server);
    drop(database);
}

/// A raw HTTP/1.1 login whose body is sent in two parts: the head and the
/// first part now, the rest on [`Trickle::finish`].
struct Trickle {
    stream: std::net::TcpStream,
    rest: Vec<u8>,
}

impl Trickle {
    fn begin(addr: SocketAddr, password: &str) -> Trickle {
        let body = json!({"username": "alice", "password": password}).to_string();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST /api-token-auth/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(first).unwrap();
        stream.flush().unwrap();
        Trickle {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body and reads the answer to the end.
    fn finish(mut self) -> std::io::Result<String> {
        self.stream.write_all(&self.rest)?;
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer)?;
        Ok(answer)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_answers_every_accepted_request_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/t.sqlite3?mode=rwc", dir.path().display());
    let env = base_env(database.clone());
    let key = alice_with_a_key(dir.path(), &env);
    let mut server = Process::spawn(dir.path(), "server", &env);
    // Fresh connections only: each request is accepted, answered, closed.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            let (http, base, key) = (http.clone(), server.url(""), key.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(30);
                for n in 0.. {
                    if Instant::now() >= deadline {
                        answers.push(Err("still accepting 30 s later".to_owned()));
                        break;
                    }
                    let request = match worker % 3 {
                        0 => http
                            .get(format!("{base}/api/example/"))
                            .header("Authorization", format!("Token {key}")),
                        1 => http
                            .post(format!("{base}/api-token-auth/"))
                            .json(&json!({"username": "alice", "password": "alice-pass-123"})),
                        // A failed login: its event goes through the audit queue.
                        _ => http.post(format!("{base}/api-token-auth/")).json(
                            &json!({"username": format!("nobody-{worker}-{n}"), "password": "x"}),
                        ),
                    };
                    match request.send().await {
                        Ok(reply) => {
                            let status = reply.status().as_u16();
                            match reply.bytes().await {
                                Ok(_) => answers.push(Ok(status)),
                                Err(e) => answers.push(Err(format!("body of {status}: {e:?}"))),
                            }
                        }
                        // Refused: the listener is closed, the server stopped.
                        Err(e) if e.is_connect() => break,
                        Err(e) => answers.push(Err(format!("{e:?}"))),
                    }
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // A login in flight at the signal: its head and half its body are in.
    let trickle = Trickle::begin(server.addr, "alice-pass-123");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let signalled = Instant::now();
    server.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = tokio::task::spawn_blocking(move || trickle.finish())
        .await
        .unwrap()
        .unwrap();
    assert!(
        in_flight.starts_with("HTTP/1.1 200 OK\r\n"),
        "the request in flight is answered: {in_flight}"
    );
    assert!(in_flight.contains("\"token\":\""), "{in_flight}");
    let mut statuses = std::collections::BTreeMap::new();
    let mut failed_logins = 0;
    for (worker, handle) in workers.into_iter().enumerate() {
        for answer in handle.await.unwrap() {
            let status = answer.unwrap_or_else(|e| panic!("an accepted request failed: {e}"));
            *statuses.entry(status).or_insert(0) += 1;
            if worker % 3 == 2 {
                assert_eq!(status, 400);
                failed_logins += 1;
            } else {
                assert_eq!(status, 200);
            }
        }
    }
    let status = server.wait_exit(Duration::from_secs(10));
    let took = signalled.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running 10 s after SIGTERM"));
    assert_eq!(status.code(), Some(0), "{}", server.said());
    eprintln!("answers {statuses:?}; exited 0 {took:?} after SIGTERM");
    assert!(failed_logins > 0);
    let said = server.said();
    assert!(said.contains("tessera stopped"), "{said}");
    assert!(!said.contains("panicked"), "{said}");
    // Every failed login's event was written before the exit.
    let mut db = sqlx::SqliteConnection::connect(&database).await.unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tessera_audit WHERE event = 'login_failed'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let _ = db.close().await;
    assert_eq!(events, failed_logins, "the audit queue was flushed");
}

#[test]
fn sigterm_cuts_what_outlives_the_grace_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/t.sqlite3?mode=rwc", dir.path().display());
    let mut env = base_env(database);
    env.push(("TESSERA_SERVER__SHUTDOWN_GRACE", "1s".to_owned()));
    alice_with_a_key(dir.path(), &env);
    let mut server = Process::spawn(dir.path(), "server", &env);
    // A login whose body never ends.
    let stuck = Trickle::begin(server.addr, "alice-pass-123");
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    server.signal("-TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM"));
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{}", server.said());
    // It waited for the request (the grace), then cut it.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let said = server.said();
    assert!(
        said.contains("connections still open after server.shutdown_grace are cut"),
        "{said}"
    );
    drop(stuck);
}

/// Runs `sql` on `url`'s database (writable for this connection, whatever
/// the database's default).
async fn execute(url: &str, sql: &str) {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("SET default_transaction_read_only = off")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut db).await.unwrap();
    let _ = db.close().await;
}

/// Ends every other connection to the database `name` (the server's pool
/// reconnects, with the database's settings of now).
async fn reconnect_everyone(url: &str, name: &str) {
    execute(
        url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_not_ready_and_logins_are_503_not_500() {
    let Some(database) = crate::support::postgres_database().await else {
        return;
    };
    let url = database.url().to_owned();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(url.clone());
    alice_with_a_key(dir.path(), &env);
    let server = Process::spawn(dir.path(), "server", &env);
    let http = reqwest::Client::new();
    assert_eq!(readyz(&http, &server).await.0, 200);
    let login = || async {
        let reply = http
            .post(server.url("/api-token-auth/"))
            .json(&json!({"username": "alice", "password": "alice-pass-123"}))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let retry = reply.headers().contains_key("retry-after");
        (
            status,
            retry,
            reply.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    assert_eq!(login().await.0, 200);

    // Read-only, as a standby or `default_transaction_read_only` makes it.
    execute(
        &url,
        &format!("ALTER DATABASE {name} SET default_transaction_read_only = on"),
    )
    .await;
    reconnect_everyone(&url, &name).await;
    let (status, body) = readyz(&http, &server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        json!({"detail": "Service temporarily unavailable.", "code": "unavailable", "store": "database"})
    );
    let (status, retry, body) = login().await;
    assert_eq!((status, retry), (503, true), "{body}");
    assert_eq!(
        body,
        json!({"detail": "Service temporarily unavailable.", "code": "unavailable"})
    );
    // Writable again: ready, logins work, without a restart.
    execute(
        &url,
        &format!("ALTER DATABASE {name} RESET default_transaction_read_only"),
    )
    .await;
    reconnect_everyone(&url, &name).await;
    assert_eq!(readyz(&http, &server).await.0, 200);
    assert_eq!(login().await.0, 200);
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tessera_audit WHERE event = 'login_succeeded'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let _ = db.close().await;
    assert_eq!(events, 2, "the refused login left no event");
    drop(server);
    drop(database);
}
