//! The revocation log and the credential cache over it, on SQLite (two pools
//! on one file) and PostgreSQL (two pools on one schema): each pool stands
//! for a process. Every revoking write appends a row naming the user in its
//! own transaction; a cache in "process" A stops serving a credential that
//! "process" B revoked once it has read the log, its poller does that within
//! the bound (woken by `LISTEN/NOTIFY` on PostgreSQL), and a stalled poller
//! makes cached entries untrusted once they are older than the bound.
//!
//! PostgreSQL as in `suite.rs`: `TESSERA_TEST_DATABASE_URL`, skipped only
//! with `TESSERA_TEST_SKIP=postgres`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::{Connection, Executor, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_core::audit::{EventKind, NewAuditEvent};
use tessera_core::audited::{AuditedWrites, TokenRotation};
use tessera_core::cache::{with_cache, CacheConfig, CacheState, RevocationLog, REVOCATION_BOUND};
use tessera_core::store::{SessionStore, TokenStore, UserStore};
use tessera_core::token::{KeyDigest, TokenKey};
use tessera_core::user::UserUpdate;
use tessera_core::Stores;
use tessera_store_sql::SqlStore;
use tessera_testkit::suite::{new_session, new_token, new_user, T0};
use tessera_testkit::unreachable_backend;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Two stores on one database (two "processes"), and what to drop after.
struct Pair {
    a: SqlStore,
    b: SqlStore,
    cleanup: Option<(PgConnection, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Pair {
    async fn close(self) {
        self.a.close().await;
        self.b.close().await;
        if let Some((mut admin, schema)) = self.cleanup {
            let _ = admin
                .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await;
            let _ = admin.close().await;
        }
    }
}

async fn sqlite() -> Option<Pair> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.sqlite3?mode=rwc", dir.path().display());
    let a = SqlStore::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = SqlStore::connect(&url).await.unwrap();
    Some(Pair {
        a,
        b,
        cleanup: None,
        _dir: Some(dir),
    })
}

async fn postgres() -> Option<Pair> {
    let url = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let mut admin = match PgConnection::connect(&url).await {
        Ok(admin) => admin,
        Err(e) => return unreachable_backend("postgres", &e),
    };
    let schema = format!("tessera_test_{:016x}", rand::random::<u64>());
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    let a = SqlStore::connect_postgres_schema(&url, &schema)
        .await
        .unwrap();
    a.migrate().await.unwrap();
    let b = SqlStore::connect_postgres_schema(&url, &schema)
        .await
        .unwrap();
    Some(Pair {
        a,
        b,
        cleanup: Some((admin, schema)),
        _dir: None,
    })
}

/// Waits for the poller's first read of the log (which drops what was
/// cached before it).
async fn fresh(state: &CacheState) {
    let started = Instant::now();
    while !state.is_fresh() {
        assert!(started.elapsed() < Duration::from_secs(5), "no poll");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn event(kind: EventKind) -> NewAuditEvent {
    NewAuditEvent::new(T0, kind)
}

/// The users named by the log's rows after `after`, and the newest id.
async fn named_after(store: &SqlStore, after: i64) -> (Vec<i64>, i64) {
    let rows = store.revocations_after(after).await.unwrap();
    let last = rows.last().map_or(after, |row| row.id);
    let mut users: Vec<i64> = rows.iter().map(|row| row.user_id).collect();
    users.dedup();
    (users, last)
}

/// A cache over `store` with these settings, and its stores.
fn cached(store: &SqlStore, config: CacheConfig) -> (Stores, Arc<CacheState>) {
    with_cache(store.clone(), config)
}

/// A user with a token and a session, through `store`: their id, the
/// token's id and digest, the session's id and digest.
async fn user_with_credentials(
    store: &SqlStore,
    name: &str,
) -> (i64, (i64, KeyDigest), (i64, KeyDigest)) {
    let user = store.create_user(new_user(name)).await.unwrap();
    let token = new_token(user.id, "t");
    let token_digest = token.digest;
    let token = store.create_token(token, None).await.unwrap().unwrap();
    let session = new_session(user.id);
    let session_digest = session.digest;
    let session = store.create_session(session).await.unwrap();
    (
        user.id,
        (token.id, token_digest),
        (session.id, session_digest),
    )
}

async fn every_revoking_write_appends_a_row_naming_the_user(pair: &Pair) {
    let store = &pair.b;
    let (alice, (token, _), (session, _)) = user_with_credentials(store, "alice").await;
    let (bob, _, (bob_session, _)) = user_with_credentials(store, "bob").await;
    let mut last = store.latest_revocation().await.unwrap();
    assert_eq!(
        named_after(store, last).await,
        (vec![], last),
        "creating revokes nothing"
    );

    macro_rules! names {
        ($write:expr, $users:expr) => {{
            $write;
            let (users, newest) = named_after(store, last).await;
            assert_eq!(users, $users, "{}", stringify!($write));
            last = newest;
        }};
    }
    names!(
        assert!(store.set_token_expiry(token, Some(T0)).await.unwrap()),
        vec![alice]
    );
    names!(
        assert!(store.set_token_authenticated_at(token, T0).await.unwrap()),
        vec![alice]
    );
    names!(
        store
            .set_session_data(session, serde_json::json!({"k": 1}))
            .await
            .unwrap(),
        vec![alice]
    );
    let rotated = TokenKey::generate().digest();
    names!(
        assert!(store.rotate_session(session, &rotated, None).await.unwrap()),
        vec![alice]
    );
    names!(
        store
            .update_user(
                bob,
                UserUpdate {
                    is_active: Some(false),
                    ..UserUpdate::default()
                }
            )
            .await
            .unwrap()
            .unwrap(),
        vec![bob]
    );
    // Nothing changed: nothing written (the row is rolled back with it).
    names!(
        assert!(!store.delete_token(token + 1000, None).await.unwrap()),
        Vec::<i64>::new()
    );
    names!(
        assert!(!store.delete_token(token, Some(bob)).await.unwrap()),
        Vec::<i64>::new()
    );
    names!(
        assert!(store.delete_session(bob_session, None).await.unwrap()),
        vec![bob]
    );
    names!(
        assert_eq!(store.delete_user_tokens(bob, None).await.unwrap(), 1),
        vec![bob]
    );
    names!(
        assert_eq!(store.delete_user_sessions(alice, None).await.unwrap(), 1),
        vec![alice]
    );
    names!(
        assert_eq!(store.delete_user_sessions(alice, None).await.unwrap(), 0),
        Vec::<i64>::new()
    );
    // The audited writes.
    let second = store
        .create_token(new_token(alice, "second"), None)
        .await
        .unwrap()
        .unwrap();
    names!(
        assert!(store
            .delete_token_audited(second.id, Some(alice), event(EventKind::TokenRevoked))
            .await
            .unwrap()),
        vec![alice]
    );
    let third = store
        .create_token(new_token(alice, "third"), None)
        .await
        .unwrap()
        .unwrap();
    let rotation = TokenRotation {
        token_id: third.id,
        user_id: alice,
        digest: TokenKey::generate().digest(),
        created: T0,
        grace_until: T0 + time::Duration::minutes(1),
        max_per_user: None,
    };
    names!(
        store
            .rotate_token_audited(rotation, event(EventKind::TokenCreated))
            .await
            .unwrap(),
        vec![alice]
    );
    names!(
        assert_eq!(
            store
                .revoke_token_family_audited(third.id, event(EventKind::SecurityAlert))
                .await
                .unwrap(),
            2
        ),
        vec![alice]
    );
    let session = store.create_session(new_session(alice)).await.unwrap();
    names!(
        assert!(store
            .delete_session_audited(session.id, None, event(EventKind::Logout))
            .await
            .unwrap()),
        vec![alice]
    );
    names!(
        store
            .delete_user_credentials_audited(alice, None, None, event(EventKind::Logout))
            .await
            .unwrap(),
        vec![alice]
    );
    names!(
        store
            .update_user_and_revoke_audited(
                alice,
                UserUpdate {
                    password_hash: Some("changed".to_owned()),
                    ..UserUpdate::default()
                },
                None,
                None,
                event(EventKind::PasswordChanged),
            )
            .await
            .unwrap()
            .unwrap(),
        vec![alice]
    );
    names!(
        store
            .update_user_audited(bob, UserUpdate::default(), event(EventKind::UserUpdated))
            .await
            .unwrap()
            .unwrap(),
        vec![bob]
    );
    // Purged by age: rows written now are younger than any cut-off in the past.
    assert_eq!(
        store
            .purge_revocations(time::OffsetDateTime::now_utc() - time::Duration::minutes(10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_revocations(time::OffsetDateTime::now_utc() + time::Duration::seconds(1))
            .await
            .unwrap(),
        15
    );
    assert_eq!(named_after(store, 0).await.0, Vec::<i64>::new());
    // Ids are never reused once the newest rows are gone.
    store
        .update_user(bob, UserUpdate::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(named_after(store, last).await.0, vec![bob]);
}

async fn a_remote_revocation_is_refused_after_the_next_read_of_the_log(pair: &Pair) {
    let (alice, (token, token_digest), (_, session_digest)) =
        user_with_credentials(&pair.b, "alice").await;
    let other = new_token(alice, "other");
    let other_digest = other.digest;
    pair.b.create_token(other, None).await.unwrap().unwrap();
    let (stores, state) = cached(&pair.a, CacheConfig::default());
    state.sync().await.unwrap();
    let idle = time::Duration::days(1);
    // Warm: one miss each, then hits.
    for _ in 0..2 {
        assert!(stores
            .tokens
            .find_token(&token_digest, T0)
            .await
            .unwrap()
            .is_some());
        assert!(stores
            .sessions
            .find_session(&session_digest, T0, idle)
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(state.stats(), (2, 2));
    // B revokes the token behind A's back: A serves its entry until it reads
    // the log (the poller is not running here)...
    assert!(pair.b.delete_token(token, None).await.unwrap());
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(state.sync().await.unwrap(), 1);
    // ...and not after: the token is gone, and the user's session is read
    // again (invalidation is per user).
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_none());
    assert!(stores
        .sessions
        .find_session(&session_digest, T0, idle)
        .await
        .unwrap()
        .is_some());
    assert_eq!(state.stats(), (3, 4));
    // A password change on B: every session and token of the user refused.
    assert!(stores
        .tokens
        .find_token(&other_digest, T0)
        .await
        .unwrap()
        .is_some());
    pair.b
        .update_user_and_revoke_audited(
            alice,
            UserUpdate {
                password_hash: Some("changed".to_owned()),
                ..UserUpdate::default()
            },
            None,
            None,
            event(EventKind::PasswordChanged),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(stores
        .sessions
        .find_session(&session_digest, T0, idle)
        .await
        .unwrap()
        .is_some());
    assert!(stores
        .tokens
        .find_token(&other_digest, T0)
        .await
        .unwrap()
        .is_some());
    state.sync().await.unwrap();
    assert!(stores
        .sessions
        .find_session(&session_digest, T0, idle)
        .await
        .unwrap()
        .is_none());
    assert!(stores
        .tokens
        .find_token(&other_digest, T0)
        .await
        .unwrap()
        .is_none());
}

async fn a_local_revocation_is_refused_at_once_and_spares_other_users(pair: &Pair) {
    let (_, (token, token_digest), _) = user_with_credentials(&pair.a, "alice").await;
    let (_, (_, bob_digest), _) = user_with_credentials(&pair.a, "bob").await;
    let (stores, state) = cached(&pair.a, CacheConfig::default());
    state.sync().await.unwrap();
    for digest in [token_digest, bob_digest, token_digest, bob_digest] {
        assert!(stores
            .tokens
            .find_token(&digest, T0)
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(state.stats(), (2, 2));
    assert!(stores.tokens.delete_token(token, None).await.unwrap());
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_none());
    // Bob's entry was kept: a hit.
    assert!(stores
        .tokens
        .find_token(&bob_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(state.stats(), (3, 3));
    assert_eq!(state.clears(), 1, "only the first read of the log cleared");
}

async fn the_poller_refuses_a_remote_revocation_within_the_bound(
    pair: &Pair,
    poll_interval: Duration,
) {
    let (_, (token, token_digest), _) = user_with_credentials(&pair.b, "alice").await;
    let config = CacheConfig {
        poll_interval,
        ..CacheConfig::default()
    };
    let (stores, state) = cached(&pair.a, config);
    state.start(&tokio::runtime::Handle::current());
    fresh(&state).await;
    // Warm, then wait past the bound: entries are still served from memory
    // (the poller is fresh), so the cache is longer-lived than the bound.
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(REVOCATION_BOUND + Duration::from_millis(300)).await;
    assert!(state.is_fresh());
    let before = state.stats();
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        state.stats(),
        (before.0 + 1, before.1),
        "a hit past the bound"
    );
    assert!(pair.b.delete_token(token, None).await.unwrap());
    let revoked = Instant::now();
    loop {
        if stores
            .tokens
            .find_token(&token_digest, T0)
            .await
            .unwrap()
            .is_none()
        {
            break;
        }
        assert!(
            revoked.elapsed() < REVOCATION_BOUND,
            "still served {:?} after the revocation",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("refused {:?} after the revocation", revoked.elapsed());
    state.stop();
}

async fn a_stalled_poller_makes_entries_older_than_the_bound_untrusted(pair: &Pair) {
    let (_, (token, token_digest), _) = user_with_credentials(&pair.b, "alice").await;
    let (stores, state) = cached(&pair.a, CacheConfig::default());
    state.start(&tokio::runtime::Handle::current());
    fresh(&state).await;
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(state.is_fresh());
    // The poller stops (as if the database stopped answering it): B's
    // revocation is never read from the log.
    state.stop();
    assert!(pair.b.delete_token(token, None).await.unwrap());
    let stopped = Instant::now();
    loop {
        if stores
            .tokens
            .find_token(&token_digest, T0)
            .await
            .unwrap()
            .is_none()
        {
            break;
        }
        assert!(
            stopped.elapsed() < REVOCATION_BOUND + Duration::from_millis(100),
            "still served {:?} after the poller stopped",
            stopped.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!state.is_fresh());
    // Fresh reads are still cached for up to the bound (as a one-second
    // cache would), then read again.
    let (_, (_, bob_digest), _) = user_with_credentials(&pair.b, "bob").await;
    let before = state.stats();
    assert!(stores
        .tokens
        .find_token(&bob_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert!(stores
        .tokens
        .find_token(&bob_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(state.stats(), (before.0 + 1, before.1 + 1));
    tokio::time::sleep(REVOCATION_BOUND).await;
    assert!(stores
        .tokens
        .find_token(&bob_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        state.stats(),
        (before.0 + 1, before.1 + 2),
        "not trusted any more"
    );
    // A successful read of the log makes the cache trusted again.
    state.sync().await.unwrap();
    assert!(state.is_fresh());
}

async fn a_dead_database_makes_entries_older_than_the_bound_untrusted(pair: &Pair) {
    let (_, (_, token_digest), _) = user_with_credentials(&pair.b, "alice").await;
    let (stores, state) = cached(&pair.a, CacheConfig::default());
    state.start(&tokio::runtime::Handle::current());
    fresh(&state).await;
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(state.is_fresh());
    // A's pool closes: every read of the log fails from now on.
    pair.a.close().await;
    tokio::time::sleep(REVOCATION_BOUND).await;
    assert!(!state.is_fresh());
    assert!(state.poll_failures() > 0);
    // The entry is not served from memory: the store is asked, and fails.
    assert!(stores.tokens.find_token(&token_digest, T0).await.is_err());
    state.stop();
}

async fn unknown_keys_are_remembered_within_the_bound(pair: &Pair) {
    let user = pair.b.create_user(new_user("alice")).await.unwrap();
    let (stores, state) = cached(&pair.a, CacheConfig::default());
    let remote = new_token(user.id, "remote");
    let remote_digest = remote.digest;
    assert!(stores
        .tokens
        .find_token(&remote_digest, T0)
        .await
        .unwrap()
        .is_none());
    assert!(stores
        .tokens
        .find_token(&remote_digest, T0)
        .await
        .unwrap()
        .is_none());
    assert_eq!(state.stats(), (1, 1));
    assert_eq!(state.negative_hits(), 1);
    // Created by another process: found within the negative TTL (<= bound).
    pair.b.create_token(remote, None).await.unwrap().unwrap();
    let created = Instant::now();
    while stores
        .tokens
        .find_token(&remote_digest, T0)
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            created.elapsed() < REVOCATION_BOUND,
            "{:?}",
            created.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Created through this cache: found at once.
    let local = new_token(user.id, "local");
    let local_digest = local.digest;
    assert!(stores
        .tokens
        .find_token(&local_digest, T0)
        .await
        .unwrap()
        .is_none());
    stores
        .tokens
        .create_token(local, None)
        .await
        .unwrap()
        .unwrap();
    assert!(stores
        .tokens
        .find_token(&local_digest, T0)
        .await
        .unwrap()
        .is_some());
}

macro_rules! backend_tests {
    ($backend:ident) => {
        mod $backend {

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn every_revoking_write_appends_a_row_naming_the_user() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::every_revoking_write_appends_a_row_naming_the_user(&pair).await;
                pair.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_remote_revocation_is_refused_after_the_next_read_of_the_log() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::a_remote_revocation_is_refused_after_the_next_read_of_the_log(&pair).await;
                pair.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_local_revocation_is_refused_at_once_and_spares_other_users() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::a_local_revocation_is_refused_at_once_and_spares_other_users(&pair).await;
                pair.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_poller_refuses_a_remote_revocation_within_the_bound() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::the_poller_refuses_a_remote_revocation_within_the_bound(
                    &pair,
                    tessera_core::cache::DEFAULT_POLL_INTERVAL,
                )
                .await;
                pair.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_stalled_poller_makes_entries_older_than_the_bound_untrusted() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::a_stalled_poller_makes_entries_older_than_the_bound_untrusted(&pair).await;
                pair.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_dead_database_makes_entries_older_than_the_bound_untrusted() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::a_dead_database_makes_entries_older_than_the_bound_untrusted(&pair).await;
                pair.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn unknown_keys_are_remembered_within_the_bound() {
                let Some(pair) = super::$backend().await else {
                    return;
                };
                super::unknown_keys_are_remembered_within_the_bound(&pair).await;
                pair.close().await;
            }
        }
    };
}

backend_tests!(sqlite);
backend_tests!(postgres);

/// On PostgreSQL the poller is woken by the revoking transaction's NOTIFY:
/// with a poll interval far past the bound, the revocation is still refused
/// within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_wakes_the_poller_before_its_interval() {
    let Some(pair) = postgres().await else { return };
    let (_, (token, token_digest), _) = user_with_credentials(&pair.b, "alice").await;
    let config = CacheConfig {
        poll_interval: Duration::from_secs(30),
        ..CacheConfig::default()
    };
    let (stores, state) = cached(&pair.a, config);
    state.start(&tokio::runtime::Handle::current());
    fresh(&state).await;
    // The listener's start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some());
    assert!(pair.b.delete_token(token, None).await.unwrap());
    let revoked = Instant::now();
    // The entry is younger than the bound, so it would be served for up to
    // the bound without the log; refused well before, only a wake-up explains.
    while stores
        .tokens
        .find_token(&token_digest, T0)
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            revoked.elapsed() < Duration::from_millis(600),
            "no wake-up: still served {:?} after",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state.stop();
    pair.close().await;
}

/// On PostgreSQL an id is taken at insert, not at commit: a revocation whose
/// transaction took a smaller id and commits after a later one has been read
/// is still read (the poller follows the writing transactions, not the ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_revocation_committed_after_a_later_one_is_still_read() {
    use sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;
    let Some(pair) = postgres().await else { return };
    let schema = pair
        .cleanup
        .as_ref()
        .map(|(_, schema)| schema.clone())
        .unwrap();
    let url = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let (alice, (alice_token, alice_digest), _) = user_with_credentials(&pair.b, "alice").await;
    let (_, (bob_token, bob_digest), _) = user_with_credentials(&pair.b, "bob").await;
    let (stores, state) = cached(&pair.a, CacheConfig::default());
    state.start(&tokio::runtime::Handle::current());
    fresh(&state).await;
    for digest in [alice_digest, bob_digest] {
        assert!(stores
            .tokens
            .find_token(&digest, T0)
            .await
            .unwrap()
            .is_some());
    }
    // A slow transaction takes its id first and revokes alice's token...
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let mut slow = PgConnection::connect_with(&options).await.unwrap();
    let mut tx = slow.begin().await.unwrap();
    sqlx::query("INSERT INTO tessera_revocations (user_id, kind, at) VALUES ($1, 'test', 0)")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("DELETE FROM tessera_tokens WHERE id = $1")
        .bind(alice_token)
        .execute(&mut *tx)
        .await
        .unwrap();
    // ...while a later one commits and is read.
    assert!(pair.b.delete_token(bob_token, None).await.unwrap());
    let started = Instant::now();
    while stores
        .tokens
        .find_token(&bob_digest, T0)
        .await
        .unwrap()
        .is_some()
    {
        assert!(started.elapsed() < REVOCATION_BOUND);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Past the bound, so that alice's entry lives on the poller's word only.
    tokio::time::sleep(REVOCATION_BOUND + Duration::from_millis(100)).await;
    assert!(stores
        .tokens
        .find_token(&alice_digest, T0)
        .await
        .unwrap()
        .is_some());
    tx.commit().await.unwrap();
    let committed = Instant::now();
    while stores
        .tokens
        .find_token(&alice_digest, T0)
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            committed.elapsed() < REVOCATION_BOUND,
            "the late row was never read"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = slow.close().await;
    state.stop();
    pair.close().await;
}
