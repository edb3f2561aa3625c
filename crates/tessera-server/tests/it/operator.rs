//! What an operator reads: `tessera config`, misspelt variables, the data
//! directory, the start banner, and what each command says it did.

use crate::cli::{run, superuser_with_token, tessera, text};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn a_misspelt_variable_is_refused_with_the_key_meant() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tessera(dir.path())
        .arg("migrate")
        .env("TESSERA_DATABASE_URL", "sqlite://elsewhere/db.sqlite"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: TESSERA_DATABASE_URL is not read: a configuration variable separates the \
         section and the key with two underscores: TESSERA_DATABASE__URL (database.url)\n"
    );
    // Nothing was opened, neither the default store nor the one meant.
    assert!(!dir.path().join("tessera-data").exists());
    assert!(!dir.path().join("elsewhere").exists());
    let out = run(tessera(dir.path())
        .args(["serve"])
        .env("TESSERA_SERVER__BINDD", "127.0.0.1:0"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("did you mean TESSERA_SERVER__BIND (server.bind)?"),
        "{}",
        text(&out.stderr)
    );
    // Variables that are not configuration are left alone.
    let out = run(tessera(dir.path())
        .arg("migrate")
        .env("TESSERA_URL", "http://127.0.0.1:8000")
        .env("TESSERA_LOG_FORMAT", "text"));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn tessera_config_prints_each_value_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[cookies]\nsecure = true\n[tokens]\nmax_per_user = 7\n",
    )
    .unwrap();
    let out = run(tessera(dir.path())
        .args(["--config", "tessera.toml", "--data-dir", "store", "config"])
        .env(
            "TESSERA_METRICS__BEARER_TOKEN",
            "0123456789abcdef0123456789abcdef-x",
        )
        .env("TESSERA_SESSIONS__MAX_AGE", "7d"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let file = dir.path().join("tessera.toml");
    for line in [
        "bind = \"127.0.0.1:8000\"  # default".to_owned(),
        format!("secure = true  # file {}", file.display()),
        format!("max_per_user = 7  # file {}", file.display()),
        "max_age = \"7d\"  # environment TESSERA_SESSIONS__MAX_AGE".to_owned(),
        "url = \"sqlite://store/tessera.db\"  # command line --data-dir".to_owned(),
        "bearer_token = \"[redacted]\"  # environment TESSERA_METRICS__BEARER_TOKEN".to_owned(),
        // Set by the test harness's environment.
        format!(
            "argon2 = \"{}\"  # environment TESSERA_PASSWORD__ARGON2",
            crate::support::TEST_ARGON2
        ),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no {line:?} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("0123456789abcdef"));
    // `tessera config` opens nothing.
    assert!(!dir.path().join("store").exists());
    // A configuration that would not start is refused there too.
    let out = run(tessera(dir.path())
        .arg("config")
        .env("TESSERA_PASSWORD__ALLOW_WEAK_PARAMETERS", "false"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("argon2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn tessera_config_example_is_the_example_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tessera(dir.path()).args(["config", "--example"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tessera.example.toml");
    assert_eq!(text(&out.stdout), std::fs::read_to_string(file).unwrap());
}

#[test]
fn the_data_directory_comes_from_the_flag_or_the_environment_and_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let out = run(tessera(dir.path()).args(["--data-dir", "from-flag", "migrate"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).lines().next(),
        Some(
            format!(
                "tessera: data in SQLite {}",
                root.join("from-flag/tessera.db").display()
            )
            .as_str()
        )
    );
    assert!(root.join("from-flag/tessera.db").exists());
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = elsewhere.path().join("data");
    let out = run(tessera(dir.path())
        .args(["create-token", "nobody"])
        .env("TESSERA_DATA_DIR", &absolute));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "tessera: data in SQLite {}",
                absolute.join("tessera.db").display()
            )
            .as_str(),
            "error: user \"nobody\" does not exist",
        ]
    );
    assert!(absolute.join("tessera.db").exists());
    assert!(!root.join("tessera-data").exists());
    // Two answers to "where is the data" are refused, not chosen between.
    let out = run(tessera(dir.path())
        .arg("migrate")
        .env("TESSERA_DATA_DIR", &absolute)
        .env("TESSERA_DATABASE__URL", "sqlite://other/db.sqlite"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: environment TESSERA_DATA_DIR and database.url (environment \
         TESSERA_DATABASE__URL) both say where the data is: keep one\n"
    );
}

#[test]
fn create_token_says_when_the_key_expires() {
    let dir = tempfile::tempdir().unwrap();
    superuser_with_token(dir.path(), "root", "root-pass-123");
    let before = time::OffsetDateTime::now_utc();
    let out = run(tessera(dir.path()).args(["create-token", "root", "--name", "ci"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let line = stderr.lines().last().unwrap();
    let at = line
        .strip_prefix("It expires at ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(at, rest)| {
            assert_eq!(
                rest,
                "(tokens.default_lifetime = 90d; unlike DRF's, Tessera's keys expire)."
            );
            at
        })
        .unwrap_or_else(|| panic!("{stderr}"));
    let at =
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    let lifetime = at - before;
    assert!(
        lifetime >= time::Duration::days(90) - time::Duration::seconds(1)
            && lifetime <= time::Duration::days(90) + time::Duration::minutes(1),
        "{lifetime}"
    );
    let out = run(tessera(dir.path())
        .args(["create-token", "root", "--name", "forever"])
        .env("TESSERA_TOKENS__DEFAULT_LIFETIME", "none"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("It never expires (tokens.default_lifetime = none).")
    );
}

#[test]
fn audit_takes_a_username_or_an_id_and_lists_the_event_names() {
    let dir = tempfile::tempdir().unwrap();
    superuser_with_token(dir.path(), "root", "root-pass-123");
    superuser_with_token(dir.path(), "42", "other-pass-123");
    let users = |given: &str| {
        let out = run(tessera(dir.path()).args(["audit", "--user", given]));
        assert!(out.status.success(), "{}", text(&out.stderr));
        let names: Vec<String> = text(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["username"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        (names, text(&out.stderr).lines().last().unwrap().to_owned())
    };
    let (names, said) = users("root");
    assert_eq!(names, ["root", "root"]);
    assert_eq!(said, "tessera: events of user \"root\" (id 1)");
    // An id, when no user has that name.
    let (names, said) = users("1");
    assert_eq!(names, ["root", "root"]);
    assert_eq!(said, "tessera: events of user \"root\" (id 1)");
    // A username made of digits is the username.
    let (names, said) = users("42");
    assert_eq!(names, ["42", "42"]);
    assert_eq!(said, "tessera: events of user \"42\" (id 2)");
    let out = run(tessera(dir.path()).args(["audit", "--user", "ghost"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("error: user \"ghost\" does not exist")
    );
    let out = run(tessera(dir.path()).args(["audit", "--event", "login_failure"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid value 'login_failure' for '--event <EVENT>'")
            && stderr.contains("[possible values: login_succeeded, login_failed, logout,"),
        "{stderr}"
    );
    let out = run(tessera(dir.path()).args(["audit", "--event", "user_created"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
}

#[test]
fn serve_on_localhost_prints_where_it_listens_and_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let mut child = tessera(dir.path())
        .args(["serve", "--bind", "localhost:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(std::time::Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    // Not a terminal: one JSON object.
    let banner: Value = serde_json::from_str(&line.unwrap()).unwrap();
    assert_eq!(banner["version"], env!("CARGO_PKG_VERSION"));
    let listen = banner["listen"].as_str().unwrap();
    assert!(listen.starts_with("http://127.0.0.1:"), "{listen}");
    assert_ne!(listen, "http://127.0.0.1:0");
    assert_eq!(banner["admin_listen"], Value::Null);
    assert_eq!(
        banner["data"],
        format!("SQLite {}", root.join("tessera-data/tessera.db").display())
    );
    assert_eq!(
        banner["routes"],
        serde_json::json!({
            "registration": false,
            "demo": true,
            "admin": "public",
            "metrics": "anyone (loopback bind)",
        })
    );
    assert_eq!(
        banner["next"],
        serde_json::json!([
            "no account yet: create the first with `tessera createsuperuser`",
            format!("sign in at {listen}/login"),
            format!("the API's routes: {listen}/ and {listen}/openapi.json"),
        ])
    );
}
