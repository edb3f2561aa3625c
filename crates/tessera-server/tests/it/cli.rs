//! The `tessera` command line, run as a process.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn tessera(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .current_dir(dir)
        .env_remove("TESSERA_DATABASE__URL")
        .env_remove("TESSERA_DATA_DIR")
        .env("TESSERA_PASSWORD__ARGON2", crate::support::TEST_ARGON2)
        .env("TESSERA_PASSWORD__ALLOW_WEAK_PARAMETERS", "true")
        .env("RUST_LOG", "warn");
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

/// Runs `command` with `input` on its standard input.
pub fn run_with_input(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `createsuperuser --no-input` then `create-token`, in a directory, on the
/// default store. Returns the key.
pub fn superuser_with_token(dir: &Path, username: &str, password: &str) -> String {
    let out = run(tessera(dir)
        .args([
            "createsuperuser",
            "--no-input",
            "--username",
            username,
            "--email",
            "root@example.com",
        ])
        .env("TESSERA_SUPERUSER_PASSWORD", password));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("Superuser {username} created.\n")
    );
    let out = run(tessera(dir).args(["create-token", username]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let key = stdout
        .strip_prefix("Generated token ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_eq!(
        stdout,
        format!("Generated token {key} for user {username}\n")
    );
    assert!(tessera_core::token::TokenKey::parse(&key).is_some());
    key
}

#[test]
fn commands_share_the_default_store_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tessera(dir.path()).arg("migrate"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Migrations applied to the sqlite store.\n"
    );
    assert!(dir.path().join("tessera-data/tessera.db").exists());
    superuser_with_token(dir.path(), "root", "root-pass-123");
    // The same username again is refused with Django's message, exit 1.
    let out = run(tessera(dir.path())
        .args(["createsuperuser", "--no-input", "--username", "root"])
        .env("TESSERA_SUPERUSER_PASSWORD", "x-fine-password-1"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("error: username: A user with that username already exists.")
    );
    // The password validators apply here too.
    let out = run(tessera(dir.path())
        .args(["createsuperuser", "--no-input", "--username", "other"])
        .env("TESSERA_SUPERUSER_PASSWORD", "password"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().last().unwrap_or_default(),
        "error: password: This password is too common."
    );
}

#[test]
fn createsuperuser_prompts_for_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tessera(dir.path())
        .arg("createsuperuser")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"admin\nadmin@example.com\nfirst-pass\nfirst-pass\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let prompts = text(&out.stderr);
    for prompt in [
        "Username: ",
        "Email address: ",
        "Password: ",
        "Password (again): ",
    ] {
        assert!(prompts.contains(prompt), "{prompts}");
    }
    assert_eq!(text(&out.stdout), "Superuser admin created.\n");
}

#[test]
fn no_input_needs_the_password_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tessera(dir.path())
        .args(["createsuperuser", "--no-input", "--username", "root"])
        .env_remove("TESSERA_SUPERUSER_PASSWORD"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: TESSERA_SUPERUSER_PASSWORD must be set with --no-input"
    );
}

#[test]
fn changepassword_asks_twice_and_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    superuser_with_token(dir.path(), "root", "old-pass-123");
    let out = run_with_input(
        tessera(dir.path()).args(["changepassword", "root"]),
        b"new-pass-1\nnew-pass-2\nnew-pass-9\nnew-pass-9\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Error: Your passwords didn't match."));
    assert_eq!(
        text(&out.stdout),
        "Password changed successfully for user \"root\"\nEvery session and token of the user was revoked.\n"
    );
    let out = run(tessera(dir.path()).args(["changepassword", "nobody"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("error: user \"nobody\" does not exist")
    );
}

#[test]
fn bad_arguments_and_unreachable_databases_fail_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tessera(dir.path()).args(["serve", "--bind", "not-an-address"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'not-an-address' for '--bind <ADDR>'"));
    let out = run(tessera(dir.path()).args([
        "--database-url",
        "postgres://postgres:hunter2@127.0.0.1:1/x",
        "migrate",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(
        lines[0],
        "tessera: data in PostgreSQL database \"x\" on 127.0.0.1:1"
    );
    assert!(
        lines[1].starts_with(
            "error: cannot open the database at postgres://postgres:***@127.0.0.1:1/x"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2") && !stderr.contains("panicked"));
    let out = run(tessera(dir.path())
        .arg("migrate")
        .env("TESSERA_TOKENS__ROTATION_GRACE", "soon"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid duration \"soon\""));
    let out = run(tessera(dir.path()).args(["--config", "missing.toml", "migrate"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: configuration file missing.toml does not exist"
    );
    let out = run(tessera(dir.path()).args(["create-token", "ghost"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().last(),
        Some("error: user \"ghost\" does not exist")
    );
}

#[test]
fn a_config_file_is_read_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tessera.toml"),
        "[database]\nurl = \"sqlite://from-file/db.sqlite\"\n",
    )
    .unwrap();
    let out = run(tessera(dir.path()).args(["--config", "tessera.toml", "migrate"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("from-file/db.sqlite").exists());
    let out = run(tessera(dir.path())
        .args(["--config", "tessera.toml", "migrate"])
        .env("TESSERA_DATABASE__URL", "sqlite://from-env/db.sqlite"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("from-env/db.sqlite").exists());
    let out = run(tessera(dir.path())
        .args([
            "--config",
            "tessera.toml",
            "--database-url",
            "sqlite://from-flag/db.sqlite",
            "migrate",
        ])
        .env("TESSERA_DATABASE__URL", "sqlite://from-env/db.sqlite"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("from-flag/db.sqlite").exists());
}

#[test]
fn clearsessions_reports_what_it_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tessera(dir.path()).arg("clearsessions"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Deleted 0 expired sessions and 0 expired tokens.\n\
         Deleted 0 audit events older than 365 days.\n"
    );
}

/// Audit events in the store of `dir`, `ages` (in days) old by the system
/// clock, each a `logout` whose username is its age.
fn audit_events_aged(dir: &Path, ages: &[i64]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = tessera_server::config::Config::default();
        config.database.url = format!("sqlite://{}/tessera-data/tessera.db", dir.display());
        let store = tessera_server::open_store(&config).await.unwrap();
        let now = time::OffsetDateTime::now_utc();
        for &age in ages {
            let mut event = tessera_core::audit::NewAuditEvent::new(
                now - time::Duration::days(age),
                tessera_core::audit::EventKind::Logout,
            );
            event.username = format!("{age}");
            tessera_core::audit::AuditStore::append(&store, event)
                .await
                .unwrap();
        }
        store.close().await;
    });
}

/// The usernames of the events left, oldest first.
fn audit_usernames(dir: &Path) -> Vec<String> {
    let out = run(tessera(dir).args(["audit", "--event", "logout"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["username"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    names.reverse();
    names
}

#[test]
fn clearsessions_deletes_audit_events_past_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(tessera(dir.path()).arg("migrate")).status.success());
    audit_events_aged(dir.path(), &[800, 366, 364, 31, 29, 0]);
    let out = run(tessera(dir.path()).arg("clearsessions"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Deleted 0 expired sessions and 0 expired tokens.\n\
         Deleted 2 audit events older than 365 days.\n"
    );
    assert_eq!(audit_usernames(dir.path()), ["364", "31", "29", "0"]);
    // A shorter retention, from the environment.
    let out = run(tessera(dir.path())
        .arg("clearsessions")
        .env("TESSERA_AUDIT__RETENTION", "30d"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("Deleted 2 audit events older than 30 days.\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(audit_usernames(dir.path()), ["29", "0"]);
}

#[test]
fn audit_prints_events_as_json_lines_or_a_table() {
    let dir = tempfile::tempdir().unwrap();
    superuser_with_token(dir.path(), "root", "root-pass-123");
    let out = run(tessera(dir.path()).args(["audit"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kinds: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["token_created", "user_created"], "newest first");
    // A real event, through the library, on the same store.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = tessera_server::config::Config::default();
        config.database.url = format!("sqlite://{}/tessera-data/tessera.db", dir.path().display());
        let store = tessera_server::open_store(&config).await.unwrap();
        let state = tessera_server::state(
            config,
            store,
            std::sync::Arc::new(tessera_core::SystemClock),
        )
        .unwrap();
        let meta = tessera_axum::audit::RequestMeta::default();
        let mut event = meta.event(
            time::macros::datetime!(2026-02-01 10:00 UTC),
            tessera_core::audit::EventKind::LoginFailed,
        );
        event.username = "eve\n{\"event\":\"forged\"}".into();
        state.tessera.auditor().record_now(event).await;
    });
    let out = run(tessera(dir.path()).args(["audit", "--event", "login_failed"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one event, one line: {stdout}");
    let event: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(event["event"], "login_failed");
    assert_eq!(event["username"], "eve\n{\"event\":\"forged\"}");
    let out =
        run(tessera(dir.path()).args(["audit", "--format", "table", "--event", "login_failed"]));
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(
        table.contains(r#""eve\n{\"event\":\"forged\"}""#),
        "{table}"
    );
    let out = run(tessera(dir.path()).args(["audit", "--event", "nope"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn changepassword_applies_the_password_validators() {
    let dir = tempfile::tempdir().unwrap();
    superuser_with_token(dir.path(), "root", "old-pass-123");
    let mut child = tessera(dir.path())
        .args(["changepassword", "root"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"12345678\n12345678\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .trim_end()
            .ends_with("error: This password is too common. This password is entirely numeric."),
        "{}",
        text(&out.stderr)
    );
}
