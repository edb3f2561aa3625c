//! The shared store suite on SQLite (a temporary file per test) and on
//! PostgreSQL (a fresh schema per test, so tests run in parallel), plus what
//! is particular to `SqlStore`: URLs, migrations, SQLite settings, errors.
//!
//! PostgreSQL is found at `TESSERA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the
//! PostgreSQL tests fail, unless `TESSERA_TEST_SKIP=postgres` opts out: then
//! they are skipped, and `scripts/test` says so at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use std::time::{Duration, Instant};
use tessera_core::audit::{AuditQuery, AuditStore, EventKind, NewAuditEvent};
use tessera_core::audited::{AuditedWrites, LoginWrite, TokenWrite};
use tessera_core::store::{Health, SessionStore, StoreError, TokenStore, UserStore};
use tessera_core::user::UserUpdate;
use tessera_store_sql::SqlStore;
use tessera_testkit::{
    counter_tests, store_tests, suite, unreachable_backend, CacheLayer, CounterStores, Fixture,
};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn postgres_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A migrated store in a new file, in a directory that does not exist yet.
async fn sqlite() -> Fixture<SqlStore> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("data").join("tessera.sqlite3");
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("connect to SQLite");
    store.migrate().await.expect("migrate SQLite");
    let closing = store.clone();
    Fixture::new(store)
        .on_teardown(async move { closing.close().await })
        .keep(dir)
}

/// A migrated store in a schema of its own, dropped after the test; `None`
/// (skip) when PostgreSQL cannot be reached and `TESSERA_TEST_SKIP` opts out.
async fn postgres() -> Option<Fixture<SqlStore>> {
    postgres_in_schema().await.map(|(fixture, _)| fixture)
}

/// [`postgres`], with the name of the schema.
async fn postgres_in_schema() -> Option<(Fixture<SqlStore>, String)> {
    let url = postgres_url();
    let mut admin = match PgConnection::connect(&url).await {
        Ok(admin) => admin,
        Err(e) => return unreachable_backend("postgres", &e),
    };
    let schema = format!("tessera_test_{:016x}", rand::random::<u64>());
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create the test schema");
    let store = SqlStore::connect_postgres_schema(&url, &schema)
        .await
        .expect("connect to PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL");
    let closing = store.clone();
    let dropped = schema.clone();
    let fixture = Fixture::new(store).on_teardown(async move {
        closing.close().await;
        // Best effort: a schema left behind only costs disk space.
        let _ = admin
            .execute(format!("DROP SCHEMA {dropped} CASCADE").as_str())
            .await;
        let _ = admin.close().await;
    });
    Some((fixture, schema))
}

store_tests!(sqlite, async { Some(sqlite().await) });
store_tests!(postgres, postgres());

// The whole suite again through the credential cache the server runs on
// (`with_cache`, its revocation poller started).
store_tests!(sqlite_cached, async {
    Some(sqlite().await.map(CacheLayer::with_log))
});
store_tests!(postgres_cached, async {
    Some(postgres().await?.map(CacheLayer::with_log))
});

/// The shared counters in a schema of their own; `None` as [`postgres`].
async fn postgres_counters() -> Option<Fixture<CounterStores>> {
    let (fixture, _) = postgres_in_schema().await?;
    let counters = fixture
        .store()
        .counters()
        .expect("PostgreSQL has shared counters");
    let stores = CounterStores {
        throttle: std::sync::Arc::new(counters.clone()),
        logins: std::sync::Arc::new(counters.clone()),
        alerts: std::sync::Arc::new(counters),
    };
    // The schema is dropped by the store fixture's teardown, kept alive here.
    Some(Fixture::new(stores).on_teardown(fixture.teardown()))
}

counter_tests!(postgres_counters, postgres_counters());

#[tokio::test]
async fn sqlite_has_no_shared_counters() {
    let fixture = sqlite().await;
    assert!(fixture.store().counters().is_none());
    fixture.teardown().await;
}

#[tokio::test]
async fn dead_counter_rows_are_purged() {
    use tessera_core::throttle::{LoginAttemptStore, LoginPolicy, Rate, ThrottleStore};
    let Some((fixture, schema)) = postgres_in_schema().await else {
        return;
    };
    let counters = fixture.store().counters().unwrap();
    let t0 = tessera_testkit::counters::T0;
    for i in 0..10 {
        counters
            .hit(&format!("k{i}"), Rate::per_second(5), t0)
            .await
            .unwrap();
    }
    counters.hit("long", Rate::per_hour(5), t0).await.unwrap();
    counters
        .record_failure("u", LoginPolicy::default().username_limit(), t0)
        .await
        .unwrap();
    let mut admin = PgConnection::connect(&postgres_url()).await.unwrap();
    let count = |table: &'static str| format!("SELECT count(*) FROM {schema}.{table}");
    let rows: i64 = sqlx::query_scalar(&count("tessera_throttle_windows"))
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(rows, 11);
    // Keys are kept as 32-byte digests, never as the submitted string.
    let lengths: Vec<i32> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT octet_length(key) FROM {schema}.tessera_throttle_windows"
    ))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(lengths, [32]);
    let purged = counters
        .purge_expired(t0 + Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        purged, 10,
        "the ten one-second windows; the hour's and the login record live"
    );
    let purged = counters
        .purge_expired(t0 + Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(purged, 2);
    let rows: i64 = sqlx::query_scalar(&count("tessera_login_attempts"))
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let _ = admin.close().await;
    fixture.teardown().await;
}

// ---------------------------------------------------------------- SqlStore itself

#[tokio::test]
async fn backend_names_the_database() {
    let fixture = sqlite().await;
    assert_eq!(fixture.store().backend(), "sqlite");
    fixture.teardown().await;
    if let Some(fixture) = postgres().await {
        assert_eq!(fixture.store().backend(), "postgres");
        fixture.teardown().await;
    }
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let fixture = sqlite().await;
    let store = fixture.store();
    store
        .create_user(suite::new_user("alice"))
        .await
        .expect("create_user");
    store.migrate().await.expect("a second migration");
    let page = store.list_users(None, 0, 10).await.expect("list_users");
    assert_eq!(page.count, 1);
    fixture.teardown().await;
    if let Some(fixture) = postgres().await {
        fixture.store().migrate().await.expect("a second migration");
        fixture.teardown().await;
    }
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_and_survives_reconnection() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("a").join("b").join("tessera.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let store = SqlStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let alice = store
        .create_user(suite::new_user("alice"))
        .await
        .expect("create_user");
    store.close().await;
    assert!(path.is_file(), "the file and its directories were created");

    // WAL is a property of the file, so a plain connection sees it.
    let mut plain = SqliteConnection::connect(&url).await.expect("connect");
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut plain)
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    plain.close().await.expect("close");

    let again = SqlStore::connect(&url).await.expect("reconnect");
    again.migrate().await.expect("migrate");
    let read = again.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(read, Some(alice));
    again.close().await;
}

#[tokio::test]
async fn sqlite_enforces_foreign_keys() {
    let fixture = sqlite().await;
    let store = fixture.store();
    let alice = store
        .create_user(suite::new_user("alice"))
        .await
        .expect("create_user");
    // Without `foreign_keys = ON` SQLite would store a token for nobody.
    let orphan = suite::new_token(alice.id + 1, "orphan");
    let result = tessera_core::store::TokenStore::create_token(store, orphan, None).await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
    fixture.teardown().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_them() {
    for url in ["mysql://root:hunter2@localhost/db", "", "hunter2"] {
        let error = SqlStore::connect(url).await.expect_err(url);
        assert!(matches!(error, StoreError::Other(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_unavailable() {
    // Nothing listens on port 1.
    let started = Instant::now();
    let error = SqlStore::connect("postgres://postgres@127.0.0.1:1/test")
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let fixture = sqlite().await;
    fixture.store().ping().await.expect("ping");
    fixture.store().close().await;
    let error = fixture.store().ping().await.expect_err("closed");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    fixture.teardown().await;
}

#[tokio::test]
async fn postgres_schemas_isolate_stores() {
    let (Some(a), Some(b)) = (postgres().await, postgres().await) else {
        return;
    };
    a.store()
        .create_user(suite::new_user("alice"))
        .await
        .expect("create_user");
    // The same username in another schema is no conflict: nothing is shared.
    b.store()
        .create_user(suite::new_user("alice"))
        .await
        .expect("create_user");
    let page = b.store().list_users(None, 0, 10).await.expect("list_users");
    assert_eq!(page.count, 1);
    a.teardown().await;
    b.teardown().await;
}

/// Appends a batch whose middle event the database refuses (the refusal is
/// set up by the caller for the username `"boom"`): nothing of it is stored.
async fn check_append_many_is_all_or_nothing(store: &SqlStore) {
    let event = |username: &str| NewAuditEvent {
        username: username.to_owned(),
        ..NewAuditEvent::new(suite::T0, EventKind::LoginFailed)
    };
    store.append(event("before")).await.expect("append");
    let refused = store
        .append_many(vec![event("first"), event("boom"), event("last")])
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let page = store.query(&AuditQuery::default()).await.expect("query");
    let names: Vec<String> = page.events.into_iter().map(|e| e.username).collect();
    assert_eq!(names, ["before"]);
    store
        .append_many(vec![event("first"), event("last")])
        .await
        .expect("append_many");
    let page = store.query(&AuditQuery::default()).await.expect("query");
    assert_eq!(page.count, 3);
}

/// A migrated SQLite store whose database refuses audit events of the
/// username `"boom"` (a trigger), with the directory that holds its file.
async fn sqlite_refusing_boom() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("t.sqlite3").display()
    );
    let store = SqlStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let mut plain = SqliteConnection::connect(&url).await.expect("connect");
    plain
        .execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON tessera_audit \
             WHEN NEW.username = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        .await
        .expect("create the trigger");
    plain.close().await.expect("close");
    (store, dir)
}

/// A migrated PostgreSQL store in a schema of its own whose database refuses
/// audit events of the username `"boom"` (a `CHECK` constraint); `None` when
/// PostgreSQL cannot be reached and `TESSERA_TEST_SKIP` opts out.
async fn postgres_refusing_boom() -> Option<Fixture<SqlStore>> {
    let (fixture, schema) = postgres_in_schema().await?;
    let mut admin = PgConnection::connect(&postgres_url())
        .await
        .expect("connect");
    admin
        .execute(
            format!(
                "ALTER TABLE {schema}.tessera_audit \
                 ADD CONSTRAINT refuse_boom CHECK (username <> 'boom')"
            )
            .as_str(),
        )
        .await
        .expect("add the constraint");
    admin.close().await.expect("close");
    Some(fixture)
}

#[tokio::test]
async fn append_many_is_all_or_nothing() {
    let (store, _dir) = sqlite_refusing_boom().await;
    check_append_many_is_all_or_nothing(&store).await;
    store.close().await;

    if let Some(fixture) = postgres_refusing_boom().await {
        check_append_many_is_all_or_nothing(fixture.store()).await;
        fixture.teardown().await;
    }
}

/// Makes every audited write with an event the database refuses (set up by
/// the caller for the username `"boom"`): each fails, and its change is rolled
/// back with the event. Then the same writes with an accepted event succeed.
async fn check_audited_writes_roll_back_with_a_refused_event(store: &SqlStore) {
    let boom = |event| NewAuditEvent {
        username: "boom".to_owned(),
        ..NewAuditEvent::new(suite::T0, event)
    };
    let refused = |result: Result<_, StoreError>, what: &str| {
        assert!(matches!(result, Err(StoreError::Other(_))), "{what}");
    };
    let alice = store
        .create_user(suite::new_user("alice"))
        .await
        .expect("create_user");
    let token = store
        .create_token(suite::new_token(alice.id, "kept"), None)
        .await
        .expect("create_token")
        .expect("no cap");
    let session = store
        .create_session(suite::new_session(alice.id))
        .await
        .expect("create_session");

    let result = store
        .create_user_audited(suite::new_user("bob"), boom(EventKind::UserCreated))
        .await;
    refused(result.map(drop), "create_user_audited");
    let bob = store
        .credentials_by_username("bob")
        .await
        .expect("credentials_by_username");
    assert!(bob.is_none(), "the user was not created");

    let update = UserUpdate {
        password_hash: Some("argon2id$new".to_owned()),
        is_active: Some(false),
        ..UserUpdate::default()
    };
    let result = store
        .update_user_audited(alice.id, update.clone(), boom(EventKind::PasswordChanged))
        .await;
    refused(result.map(drop), "update_user_audited");
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.user, alice, "the user was not updated");
    assert_eq!(credentials.password_hash, "argon2id$hash-of-alice");

    // Without a cap, and with one (on PostgreSQL, the owner's row is locked
    // in the transaction: the lock must be released by the rollback).
    for cap in [None, Some(5)] {
        let new = suite::new_token(alice.id, "refused");
        let digest = new.digest;
        let result = store
            .create_token_audited(new, cap, boom(EventKind::TokenCreated))
            .await;
        refused(result.map(drop), "create_token_audited");
        let found = store.find_token(&digest, suite::T0).await.expect("find");
        assert!(found.is_none(), "the token was not created (cap {cap:?})");
    }

    // A login whose own event, or whose token's event, is refused: neither
    // the login time nor the token is kept.
    for login_refused in [true, false] {
        let new = suite::new_token(alice.id, "at-login");
        let digest = new.digest;
        let event = |kind| match login_refused == (kind == EventKind::LoginSucceeded) {
            true => boom(kind),
            false => NewAuditEvent::new(suite::T0, kind),
        };
        let login = LoginWrite {
            user_id: alice.id,
            at: suite::T0 + time::Duration::hours(1),
            event: event(EventKind::LoginSucceeded),
            token: Some(TokenWrite {
                new,
                max_per_user: Some(5),
                event: event(EventKind::TokenCreated),
            }),
            rehash: None,
            session: None,
        };
        let result = store.record_login(login).await;
        refused(result.map(drop), "record_login");
        let found = store.find_token(&digest, suite::T0).await.expect("find");
        assert!(found.is_none(), "the token was not created");
        let read = store.user_by_id(alice.id).await.expect("user_by_id");
        assert_eq!(read.as_ref(), Some(&alice), "last_login was not set");
    }

    // A session login whose event is refused: no session, no login time.
    let new = suite::new_session(alice.id);
    let digest = new.digest;
    let login = LoginWrite {
        user_id: alice.id,
        at: suite::T0 + time::Duration::hours(1),
        event: boom(EventKind::LoginSucceeded),
        token: None,
        rehash: None,
        session: Some(new),
    };
    let result = store.record_login(login).await;
    refused(result.map(drop), "record_login with a session");
    let found = store
        .find_session(&digest, suite::T0, suite::IDLE)
        .await
        .expect("find_session");
    assert!(found.is_none(), "the session was not created");
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(read.as_ref(), Some(&alice), "last_login was not set");

    let result = store
        .delete_token_audited(token.id, Some(alice.id), boom(EventKind::TokenRevoked))
        .await;
    refused(result.map(drop), "delete_token_audited");
    let kept = store.token_by_id(token.id).await.expect("token_by_id");
    assert_eq!(kept, Some(token.clone()), "the token was not deleted");

    let result = store
        .delete_session_audited(session.id, Some(alice.id), boom(EventKind::SessionRevoked))
        .await;
    refused(result.map(drop), "delete_session_audited");
    let live = store
        .list_sessions(alice.id, suite::T0, suite::IDLE)
        .await
        .expect("list_sessions");
    assert_eq!(
        live,
        std::slice::from_ref(&session),
        "the session was not deleted"
    );

    let result = store
        .delete_user_credentials_audited(alice.id, None, None, boom(EventKind::Logout))
        .await;
    refused(result.map(drop), "delete_user_credentials_audited");
    let live = store
        .list_sessions(alice.id, suite::T0, suite::IDLE)
        .await
        .expect("list_sessions");
    assert_eq!(
        live,
        std::slice::from_ref(&session),
        "no session was deleted"
    );
    let tokens = store.list_tokens(alice.id, suite::T0).await.expect("list");
    assert_eq!(tokens, std::slice::from_ref(&token), "no token was deleted");

    let page = store.query(&AuditQuery::default()).await.expect("query");
    assert_eq!(page.count, 0, "{:?}", page.events);

    // Nothing was left locked or half-written: the same writes now succeed.
    let fine = |event| NewAuditEvent::new(suite::T0, event);
    let bob = store
        .create_user_audited(suite::new_user("bob"), fine(EventKind::UserCreated))
        .await
        .expect("create_user_audited");
    store
        .update_user_audited(alice.id, update, fine(EventKind::PasswordChanged))
        .await
        .expect("update_user_audited")
        .expect("alice exists");
    store
        .create_token_audited(
            suite::new_token(bob.id, "t"),
            Some(5),
            fine(EventKind::TokenCreated),
        )
        .await
        .expect("create_token_audited")
        .expect("under the cap");
    let deleted = store
        .delete_user_credentials_audited(alice.id, None, None, fine(EventKind::Logout))
        .await
        .expect("delete_user_credentials_audited");
    assert_eq!(deleted, (1, 1));
    let page = store.query(&AuditQuery::default()).await.expect("query");
    assert_eq!(page.count, 4);
}

#[tokio::test]
async fn sqlite_audited_writes_roll_back_with_a_refused_event() {
    let (store, _dir) = sqlite_refusing_boom().await;
    check_audited_writes_roll_back_with_a_refused_event(&store).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_audited_writes_roll_back_with_a_refused_event() {
    if let Some(fixture) = postgres_refusing_boom().await {
        check_audited_writes_roll_back_with_a_refused_event(fixture.store()).await;
        fixture.teardown().await;
    }
}

/// Transactions that read before they write, run at once on SQLite from
/// several threads, all commit: they begin `IMMEDIATE`, so none is refused
/// with `SQLITE_BUSY_SNAPSHOT` because another committed after its first
/// read (a deferred `BEGIN` fails this test).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_then_write_transactions_all_commit_on_sqlite() {
    use tessera_core::import::{ImportBatch, ImportStore};
    let fixture = sqlite().await;
    let store = fixture.store().clone();
    let mut tasks = Vec::new();
    for worker in 0..8_i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10_i64 {
                let id = worker * 100 + round;
                let user = suite::imported_user(id, &format!("user{id}"));
                let batch = ImportBatch {
                    at: time::OffsetDateTime::now_utc(),
                    dry_run: false,
                };
                store.import_users(&[user], batch).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let page = store.list_users(None, 0, 1000).await.unwrap();
    assert_eq!(page.count, 80);
    fixture.teardown().await;
}
