//! Moving from Django (issue 15), end to end: a real Django REST Framework
//! project (`scripts/django/project.py`, Django 5.2 with DRF and
//! django-rest-knox in a virtualenv that `scripts/django-venv` makes under
//! the target directory) is imported with `tessera import-django`, from its
//! SQLite file, from `dumpdata` JSON and from PostgreSQL; then, against the
//! real `tessera` binary, every password logs in (and is argon2id
//! afterwards), every DRF and knox key authenticates unchanged, the Django
//! session cookie is signed in and its CSRF token accepted on a POST, and
//! the unusable password logs nobody in. Groups and memberships come along:
//! the administration lists them, `HasGroup` lets members in, and a
//! membership changed in Django is changed by the next import. A custom
//! user table is imported through `--user-column`.
//!
//! Without the package index these tests fail, unless
//! `TESSERA_TEST_SKIP=pypi` opts out.

use crate::cli::tessera;
use crate::e2e::{serve, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

const SECRET_KEY: &str = "django-insecure-moving-to-tessera";
const LOGIN_FAILED: &str = "Unable to log in with provided credentials.";

/// The virtualenv with Django, made once per test run and kept under the
/// target directory between runs; `None` (after saying so) when the package
/// index cannot be reached and `TESSERA_TEST_SKIP=pypi` opts out.
fn venv() -> Option<PathBuf> {
    static VENV: OnceLock<Option<PathBuf>> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("django-venv");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/django-venv");
        let out = Command::new(script).arg(&dir).output().unwrap();
        match out.status.code() {
            Some(0) => Some(dir),
            Some(3) if tessera_testkit::opted_out("pypi") => None,
            Some(3) => tessera_testkit::unreachable_backend("pypi", &NO_INDEX),
            _ => panic!(
                "scripts/django-venv failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    })
    .clone()
    .or_else(|| {
        // Every test that skips says so, not only the first.
        tessera_testkit::record_skip("pypi", &NO_INDEX);
        None
    })
}

const NO_INDEX: &str =
    "the package index cannot be reached to install Django (scripts/django-venv)";

/// A Django project made by `scripts/django/project.py` on `database`:
/// what its clients hold (passwords, keys, cookies), and its dumpdata file.
struct Project {
    held: Value,
    dumpdata: PathBuf,
    /// `dumpdata auth.group auth.user --natural-foreign`.
    natural: PathBuf,
}

fn django_project(venv: &Path, dir: &Path, database: &str) -> Project {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/django/project.py");
    let (out, dumpdata) = (dir.join("held.json"), dir.join("dumpdata.json"));
    let natural = dir.join("natural.json");
    let made = Command::new(venv.join("bin/python"))
        .arg(script)
        .args(["--database", database, "--secret-key", SECRET_KEY])
        .arg("--out")
        .arg(&out)
        .arg("--dumpdata")
        .arg(&dumpdata)
        .arg("--natural")
        .arg(&natural)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let held = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    Project {
        held,
        dumpdata,
        natural,
    }
}

fn import(dir: &Path, source: &[&str]) -> Output {
    let out = tessera(dir)
        .arg("import-django")
        .args(source)
        .env("DJANGO_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first import's report: the bad rows named with their reasons.
fn assert_first_import(report: &str) {
    for line in [
        "skipped users: user 9 \"md5\": unknown hash algorithm \"md5\"",
        "skipped users: user 11 \"casey\": username \"casey\" is taken by Tessera user \"Casey\"",
        "skipped sessions: session of user 12: the user's password changed since this login",
        "users: 10 created, 0 updated, 0 unchanged, 2 skipped (1 unknown hash algorithm, 1 username taken (ignoring case))",
        "tokens: 6 created, 0 updated, 0 unchanged, 0 skipped",
        "sessions: 1 created, 0 updated, 0 unchanged, 1 skipped (1 password changed)",
        "groups: 3 created, 0 updated, 0 unchanged, 0 skipped",
        "memberships: 3 set, 0 skipped",
    ] {
        assert!(report.contains(line), "{line:?} not in:\n{report}");
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn stored_hash(dir: &Path, username: &str) -> String {
    use sqlx::Connection;
    let url = format!("sqlite://{}/tessera-data/tessera.db", dir.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_scalar("SELECT password_hash FROM tessera_users WHERE username = $1")
        .bind(username)
        .fetch_one(&mut db)
        .await
        .unwrap()
}

/// Each user's groups in Tessera's store on `dir`, users without any left out.
async fn stored_groups(dir: &Path) -> BTreeMap<String, Vec<String>> {
    use sqlx::Connection;
    let url = format!("sqlite://{}/tessera-data/tessera.db", dir.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.username, g.name FROM tessera_user_groups ug \
         JOIN tessera_users u ON u.id = ug.user_id JOIN tessera_groups g ON g.id = ug.group_id \
         ORDER BY u.username, g.name",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (user, group) in rows {
        groups.entry(user).or_default().push(group);
    }
    groups
}

/// Django's memberships as the project made them (`held["groups"]`), for
/// the users Tessera imported, without those in no group.
fn held_groups(held: &Value) -> BTreeMap<String, Vec<String>> {
    held["groups"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(user, groups)| {
            !["md5", "casey"].contains(&user.as_str()) && !groups.as_array().unwrap().is_empty()
        })
        .map(|(user, groups)| {
            (
                user.clone(),
                serde_json::from_value(groups.clone()).unwrap(),
            )
        })
        .collect()
}

async fn login(
    http: &reqwest::Client,
    server: &Server,
    username: &str,
    password: &str,
) -> (u16, Value) {
    let reply = http
        .post(server.url("/api-token-auth/"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    (
        reply.status().as_u16(),
        reply.json().await.unwrap_or(Value::Null),
    )
}

async fn me(http: &reqwest::Client, server: &Server, header: (&str, String)) -> (u16, Value) {
    let reply = http
        .get(server.url("/auth/me"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    (
        reply.status().as_u16(),
        reply.json().await.unwrap_or(Value::Null),
    )
}

/// Everything a Django client held works against Tessera on `dir`'s store.
async fn clients_keep_working(dir: &Path, held: &Value) {
    let server = serve(dir, &[]);
    let http = client();
    for user in held["users"].as_array().unwrap() {
        let username = user["username"].as_str().unwrap();
        let password = user["password"].as_str().unwrap_or("");
        match username {
            // Not imported (unknown algorithm; a name taken but for case).
            "md5" | "casey" => {
                let (status, body) = login(&http, &server, username, password).await;
                assert_eq!(
                    (status, &body),
                    (400, &json!({"non_field_errors": [LOGIN_FAILED]}))
                );
            }
            "unusable" => {
                for guess in ["", "!", "unusable"] {
                    let (status, _) = login(&http, &server, username, guess).await;
                    assert_eq!(status, 400, "{guess:?}");
                }
                assert!(stored_hash(dir, username).await.starts_with('!'));
            }
            _ => {
                let before = stored_hash(dir, username).await;
                assert!(!before.starts_with("$argon2id$"), "{username}: {before}");
                let (status, body) = login(&http, &server, username, password).await;
                assert_eq!(status, 200, "{username}: {body}");
                let after = stored_hash(dir, username).await;
                assert!(
                    after.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
                    "{username}: {after}"
                );
                let (status, _) = login(&http, &server, username, password).await;
                assert_eq!(status, 200, "{username} after the upgrade");
                let (status, _) = login(&http, &server, username, &format!("{password}x")).await;
                assert_eq!(status, 400, "{username} with a wrong password");
            }
        }
    }
    for key in held["drf"]
        .as_array()
        .unwrap()
        .iter()
        .chain(held["knox"].as_array().unwrap())
    {
        let token = key["key"].as_str().unwrap();
        let (status, body) = me(&http, &server, ("Authorization", format!("Token {token}"))).await;
        assert_eq!(status, 200, "{key}: {body}");
        assert_eq!(body["user"]["username"], key["username"]);
        assert_eq!(body["auth"], "token");
        // API.md's User: no groups outside the administration.
        assert_eq!(body["user"].get("groups"), None, "{body}");
    }
    groups_are_shown_and_guard(&http, &server, held).await;
    let sessions = held["sessions"].as_array().unwrap();
    let signed_in = &sessions[0];
    let cookies = format!(
        "sessionid={}; csrftoken={}",
        signed_in["sessionid"].as_str().unwrap(),
        signed_in["csrftoken"].as_str().unwrap()
    );
    let (status, body) = me(&http, &server, ("Cookie", cookies.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], signed_in["username"]);
    assert_eq!(body["auth"], "session");
    // Django's CSRF token (masked, as its page gave it) on a POST.
    let post = |csrf: Option<&str>| {
        let mut request = http
            .post(server.url("/api/example/"))
            .header("Cookie", cookies.clone())
            .json(&json!({"note": "from Django"}));
        if let Some(csrf) = csrf {
            request = request.header("X-CSRFToken", csrf.to_owned());
        }
        request.send()
    };
    let reply = post(signed_in["masked"].as_str()).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json::<Value>().await.unwrap(),
        json!({"user": signed_in["username"], "received": {"note": "from Django"}})
    );
    let reply = post(None).await.unwrap();
    assert_eq!(reply.status(), 403);
    // The session of a user whose password changed since is not carried over.
    let logged_out = format!("sessionid={}", sessions[1]["sessionid"].as_str().unwrap());
    let (status, _) = me(&http, &server, ("Cookie", logged_out)).await;
    assert_ne!(status, 200);
}

/// The DRF key Django gave `username`.
fn drf_key(held: &Value, username: &str) -> String {
    held["drf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["username"] == username)
        .and_then(|k| k["key"].as_str())
        .unwrap()
        .to_owned()
}

/// The administration lists each user with Django's groups, sorted; the
/// `HasGroup("editors")` view admits the members and refuses the others.
async fn groups_are_shown_and_guard(http: &reqwest::Client, server: &Server, held: &Value) {
    let staff = (
        "Authorization",
        format!("Token {}", drf_key(held, "pbkdf2")),
    );
    let reply = http
        .get(server.url("/admin/users"))
        .header(staff.0, staff.1.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let page: Value = reply.json().await.unwrap();
    let results = page["results"].as_array().unwrap();
    assert_eq!(results.len(), 10, "{page}");
    for user in results {
        let username = user["username"].as_str().unwrap();
        assert_eq!(user["groups"], held["groups"][username], "{username}");
    }
    let editors = |key: Option<String>| {
        let mut request = http.get(server.url("/api/editors/"));
        if let Some(key) = key {
            request = request.header("Authorization", format!("Token {key}"));
        }
        async move {
            let reply = request.send().await.unwrap();
            (
                reply.status().as_u16(),
                reply.json::<Value>().await.unwrap(),
            )
        }
    };
    assert_eq!(
        editors(Some(drf_key(held, "pbkdf2"))).await,
        (
            200,
            json!({"message": "Hello, editor.", "groups": ["editors"]})
        )
    );
    assert_eq!(
        editors(Some(drf_key(held, "argon2"))).await,
        (
            200,
            json!({"message": "Hello, editor.", "groups": ["editors", "readers"]})
        )
    );
    assert_eq!(
        editors(Some(drf_key(held, "scrypt"))).await,
        (
            403,
            json!({"detail": "You do not have permission to perform this action.", "code": "permission_denied"})
        )
    );
    assert_eq!(editors(None).await.0, 401);
}

#[tokio::test]
async fn a_django_project_on_sqlite_moves_to_tessera_from_its_database_and_from_dumpdata() {
    let Some(venv) = venv() else {
        return;
    };
    let django = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/db.sqlite3", django.path().display());
    let project = django_project(&venv, django.path(), &database);

    let from_database = tempfile::tempdir().unwrap();
    let first = import(from_database.path(), &["--from", &database]);
    assert_first_import(&stdout(&first));
    // Idempotent: a second run finds everything as it was.
    let second = stdout(&import(from_database.path(), &["--from", &database]));
    for line in [
        "users: 0 created, 0 updated, 10 unchanged",
        "tokens: 0 created, 0 updated, 6 unchanged",
        "sessions: 0 created, 0 updated, 1 unchanged",
        "groups: 0 created, 0 updated, 3 unchanged",
        "memberships: 3 set, 0 skipped",
    ] {
        assert!(second.contains(line), "{line:?} not in:\n{second}");
    }
    assert_eq!(
        stored_groups(from_database.path()).await,
        held_groups(&project.held)
    );
    clients_keep_working(from_database.path(), &project.held).await;

    // Django's membership changes: argon2 leaves readers, scrypt joins
    // nobody. The next import sets both users' groups to Django's.
    {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&database).await.unwrap();
        for sql in [
            "DELETE FROM auth_user_groups WHERE user_id = (SELECT id FROM auth_user WHERE username = 'argon2') \
             AND group_id = (SELECT id FROM auth_group WHERE name = 'readers')",
            "INSERT INTO auth_user_groups (user_id, group_id) SELECT u.id, g.id FROM auth_user u, auth_group g \
             WHERE u.username = 'scrypt' AND g.name = 'nobody'",
        ] {
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
    }
    let third = stdout(&import(from_database.path(), &["--from", &database]));
    // (Users who logged in to Tessera meanwhile are updated too: Django's
    // `last_login` is imported again.)
    assert!(third.contains("memberships: 3 set, 0 skipped"), "{third}");
    let mut expected = held_groups(&project.held);
    expected.insert("argon2".into(), vec!["editors".into()]);
    expected.insert("scrypt".into(), vec!["nobody".into()]);
    assert_eq!(stored_groups(from_database.path()).await, expected);

    // Groups named by natural keys (`--natural-foreign`).
    let natural = tempfile::tempdir().unwrap();
    let report = stdout(&import(
        natural.path(),
        &["--dumpdata", &project.natural.to_string_lossy()],
    ));
    assert!(report.contains("memberships: 3 set, 0 skipped"), "{report}");
    assert_eq!(
        stored_groups(natural.path()).await,
        held_groups(&project.held)
    );

    let from_dumpdata = tempfile::tempdir().unwrap();
    let dumpdata = project.dumpdata.to_string_lossy().into_owned();
    let dry = stdout(&import(
        from_dumpdata.path(),
        &["--dumpdata", &dumpdata, "--dry-run"],
    ));
    assert!(dry.contains("Dry run: nothing was written."), "{dry}");
    assert!(dry.contains("users: 10 created"), "{dry}");
    assert!(
        !from_dumpdata
            .path()
            .join("tessera-data/tessera.db")
            .exists()
            || { stored_users(from_dumpdata.path()).await == 0 }
    );
    assert!(
        !from_dumpdata
            .path()
            .join("tessera-data/tessera.db")
            .exists()
            || stored_groups(from_dumpdata.path()).await.is_empty()
    );
    let first = import(from_dumpdata.path(), &["--dumpdata", &dumpdata]);
    assert_first_import(&stdout(&first));
    assert_eq!(
        stored_groups(from_dumpdata.path()).await,
        held_groups(&project.held)
    );
    clients_keep_working(from_dumpdata.path(), &project.held).await;
}

async fn stored_users(dir: &Path) -> i64 {
    use sqlx::Connection;
    let url = format!("sqlite://{}/tessera-data/tessera.db", dir.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM tessera_users")
        .fetch_one(&mut db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_django_project_on_postgresql_moves_to_tessera() {
    let Some(venv) = venv() else {
        return;
    };
    let Some(pg) = crate::support::postgres_database().await else {
        return;
    };
    let database = pg.url().to_owned();
    let django = tempfile::tempdir().unwrap();
    let project = django_project(&venv, django.path(), &database);
    let tessera_dir = tempfile::tempdir().unwrap();
    let first = import(tessera_dir.path(), &["--from", &database]);
    assert_first_import(&stdout(&first));
    clients_keep_working(tessera_dir.path(), &project.held).await;
}

/// A user object of `dumpdata` JSON.
fn dumped_user(pk: i64, username: &str, password: &str) -> Value {
    json!({"model": "auth.user", "pk": pk, "fields": {
        "password": password, "last_login": null, "is_superuser": false,
        "username": username, "first_name": "", "last_name": "", "email": "",
        "is_staff": false, "is_active": true, "date_joined": "2024-05-06T07:08:09.123Z",
        "groups": [], "user_permissions": []}})
}

/// A hash real Django made (tessera-core's test vectors), with its password.
fn django_hash() -> (String, String) {
    let vectors: Value = serde_json::from_str(include_str!(
        "../../../tessera-core/tests/data/django_hashes.json"
    ))
    .unwrap();
    let v = &vectors["vectors"][0];
    (
        v["password"].as_str().unwrap().to_owned(),
        v["encoded"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn bad_rows_are_reported_with_their_reasons_and_the_rest_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let (password, hash) = django_hash();
    let sessions: Value =
        serde_json::from_str(include_str!("../data/django_sessions.json")).unwrap();
    let mut ann = dumped_user(1, "ann", &hash);
    ann["fields"]["groups"] = json!([1, 42]);
    let knox_digest = "ab".repeat(64);
    let objects = [
        json!({"model": "auth.group", "pk": 1, "fields": {"name": "editors"}}),
        ann,
        dumped_user(2, "bob", "md5$salt$0123456789abcdef0123456789abcdef"),
        dumped_user(3, "Ann", &hash),
        dumped_user(
            4,
            "hostile",
            "pbkdf2_sha256$900000000$salt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=",
        ),
        json!({"model": "authtoken.token", "pk": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
               "fields": {"user": 1, "created": "2024-05-06T07:08:09Z"}}),
        json!({"model": "authtoken.token", "pk": "0123456789abcdef0123456789abcdef01234567",
               "fields": {"user": 99, "created": "2024-05-06T07:08:09Z"}}),
        // knox 4.2 (an 8-character token_key) and before (salted).
        json!({"model": "knox.authtoken", "pk": knox_digest,
               "fields": {"token_key": "0123abcd", "user": 1,
                          "created": "2024-05-06T07:08:09Z", "expiry": null}}),
        json!({"model": "knox.authtoken", "pk": "cd".repeat(64),
               "fields": {"token_key": "89abcdef", "salt": "00".repeat(8), "user": 1,
                          "created": "2024-05-06T07:08:09Z", "expiry": null}}),
        json!({"model": "sessions.session", "pk": "q8x0ryb3ws0o0w9f7k1jv3m2ahx2lq4e",
               "fields": {"session_data": sessions["sessions"][0]["session_data"],
                          "expire_date": "2999-01-01T00:00:00Z"}}),
    ];
    let mut text = serde_json::to_string(&objects).unwrap();
    // Truncated: the last object breaks off.
    text.truncate(text.len() - 1);
    text.push_str(", {\"model\": \"auth.us");
    let file = dir.path().join("dump.json");
    std::fs::write(&file, text).unwrap();
    let out = tessera(dir.path())
        .args(["import-django", "--dumpdata"])
        .arg(&file)
        .args(["--secret-key", "not-the-right-key"])
        .output()
        .unwrap();
    let report = stdout(&out);
    assert!(out.status.success(), "{report}");
    for line in [
        "skipped users: user 2 \"bob\": unknown hash algorithm \"md5\"",
        "skipped users: user 3 \"Ann\": username \"Ann\" is taken by Tessera user \"ann\"",
        "skipped users: user 4 \"hostile\": pbkdf2_sha256 hash with iterations = 900000000 exceeds Tessera's cap of 5000000",
        "skipped tokens: DRF token of user 99: its user (Django id 99) was not imported",
        "skipped tokens: knox token of user 1: made by django-rest-knox before 5.0, whose digest (salted before 4.2, of the key's bytes in 4.2) cannot be carried over: its client logs in again",
        "skipped memberships: user 1 \"ann\" in group id 42: no such group in the source",
        "groups: 1 created, 0 updated, 0 unchanged, 0 skipped",
        "memberships: 1 set, 1 skipped (1 unknown group)",
        "skipped sessions: session: bad signature (wrong --secret-key?)",
        "the file ends early or is malformed",
        "users: 1 created, 0 updated, 0 unchanged, 3 skipped (1 hash too costly, 1 unknown hash algorithm, 1 username taken (ignoring case))",
        "tokens: 1 created, 0 updated, 0 unchanged, 3 skipped (2 knox before 5.0, 1 user not imported)",
        "sessions: 0 created, 0 updated, 0 unchanged, 1 skipped (1 bad signature (wrong --secret-key?))",
        "unreadable: 1",
    ] {
        assert!(report.contains(line), "{line:?} not in:\n{report}");
    }
    // No secret reaches the report: not the key, not the hash, not a digest.
    assert!(!report.contains("9944b09199c62bcf"), "{report}");
    assert!(!report.contains(&knox_digest[..16]), "{report}");
    assert_eq!(
        stored_groups(dir.path()).await,
        [("ann".to_owned(), vec!["editors".to_owned()])].into()
    );
    assert!(!report.contains(&hash[20..]), "{report}");
    // What was imported works.
    let server = serve(dir.path(), &[]);
    let http = client();
    assert_eq!(login(&http, &server, "ann", &password).await.0, 200);
    let key = (
        "Authorization",
        "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b".to_owned(),
    );
    assert_eq!(me(&http, &server, key).await.0, 200);
}

#[test]
fn nothing_readable_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("not.json");
    std::fs::write(&not_json, "{\"model\": \"auth.user\"}").unwrap();
    let missing = dir.path().join("missing.json");
    let sqlite = format!("sqlite://{}/missing.sqlite3", dir.path().display());
    let empty = dir.path().join("empty.sqlite3");
    std::fs::write(&empty, "").unwrap();
    let empty = format!("sqlite://{}", empty.display());
    for args in [
        vec!["--dumpdata", not_json.to_str().unwrap()],
        vec!["--dumpdata", missing.to_str().unwrap()],
        vec!["--from", &sqlite],
        vec!["--from", &empty],
        vec!["--from", "mysql://localhost/django"],
    ] {
        let out = tessera(dir.path())
            .arg("import-django")
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    }
}

/// A custom user model (`accounts.Member`: the e-mail address is the
/// username, `active` for `is_active`, no names, flags or `date_joined`), as
/// a plain SQLite table with Django's membership table for it, imported
/// with `--user-column`; its users then log in with their e-mail addresses.
#[tokio::test]
async fn a_custom_user_table_is_imported_through_a_column_mapping() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let (password, hash) = django_hash();
    let django = dir.path().join("django.sqlite3");
    let url = format!("sqlite://{}?mode=rwc", django.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for sql in [
        "CREATE TABLE accounts_member (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
         password varchar(128) NOT NULL, last_login datetime NULL, \
         email varchar(254) NOT NULL UNIQUE, active bool NOT NULL)",
        "CREATE TABLE auth_group (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
         name varchar(150) NOT NULL UNIQUE)",
        "CREATE TABLE accounts_member_groups (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
         member_id bigint NOT NULL, group_id integer NOT NULL)",
        "INSERT INTO auth_group (id, name) VALUES (1, 'editors'), (2, 'readers')",
        "INSERT INTO accounts_member_groups (member_id, group_id) VALUES (7, 1), (7, 2), (8, 2)",
        // django-rest-knox 4.1 (salted digests, an 8-character token_key).
        "CREATE TABLE knox_authtoken (digest varchar(128) NOT NULL PRIMARY KEY, \
         salt varchar(16) NOT NULL UNIQUE, created datetime NOT NULL, user_id integer NOT NULL, \
         expiry datetime NULL, token_key varchar(8) NOT NULL)",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO accounts_member (id, password, last_login, email, active) VALUES \
         (7, $1, '2024-05-06 07:08:09.123456', 'ann@example.com', 1), \
         (8, $1, NULL, 'bob@example.com', 0)",
    )
    .bind(&hash)
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO knox_authtoken VALUES ($1, '0011223344556677', '2024-05-06 07:08:09', 7, NULL, '0123abcd')",
    )
    .bind("ef".repeat(64))
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let from = format!("sqlite://{}", django.display());
    let mapping = [
        "--user-table",
        "accounts_member",
        "--user-column",
        "username=email",
        "--user-column",
        "is_active=active",
        "--user-column",
        "first_name=-",
        "--user-column",
        "last_name=-",
        "--user-column",
        "is_staff=-",
        "--user-column",
        "is_superuser=-",
        "--user-column",
        "date_joined=-",
    ];
    // Without the mapping: refused whole, naming the column.
    let out = tessera(dir.path())
        .args([
            "import-django",
            "--from",
            &from,
            "--user-table",
            "accounts_member",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("table accounts_member has no column \"username\" for the user's username: map it with --user-column username=COLUMN"),
        "{stderr}"
    );
    // A column that is not an identifier never reaches SQL.
    let out = tessera(dir.path())
        .args(["import-django", "--from", &from])
        .args(["--user-column", "email=email) FROM x; --"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a column name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut args = vec!["--from", from.as_str()];
    args.extend(mapping);
    let first = stdout(&import(dir.path(), &args));
    for line in [
        "users: 2 created, 0 updated, 0 unchanged, 0 skipped",
        "groups: 2 created, 0 updated, 0 unchanged, 0 skipped",
        "memberships: 3 set, 0 skipped",
        "note: no table authtoken_token: no drf tokens",
        "skipped tokens: knox token of user 7: made by django-rest-knox before 5.0",
        "tokens: 0 created, 0 updated, 0 unchanged, 1 skipped (1 knox before 5.0)",
    ] {
        assert!(first.contains(line), "{line:?} not in:\n{first}");
    }
    let again = stdout(&import(dir.path(), &args));
    assert!(
        again.contains("users: 0 created, 0 updated, 2 unchanged, 0 skipped"),
        "{again}"
    );
    assert_eq!(
        stored_groups(dir.path()).await,
        [
            (
                "ann@example.com".to_owned(),
                vec!["editors".to_owned(), "readers".to_owned()]
            ),
            ("bob@example.com".to_owned(), vec!["readers".to_owned()]),
        ]
        .into()
    );
    let server = serve(dir.path(), &[]);
    let http = client();
    let (status, body) = login(&http, &server, "ann@example.com", &password).await;
    assert_eq!(status, 200, "{body}");
    let key = body["token"].as_str().unwrap().to_owned();
    let (status, body) = me(&http, &server, ("Authorization", format!("Token {key}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["username"], "ann@example.com");
    assert_eq!(body["user"]["email"], "ann@example.com");
    assert_eq!(body["user"]["is_staff"], false);
    // Inactive in Django (`active` = 0): no login.
    let (status, body) = login(&http, &server, "bob@example.com", &password).await;
    assert_eq!(
        (status, body),
        (400, json!({"non_field_errors": [LOGIN_FAILED]}))
    );
}
