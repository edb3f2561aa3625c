//! The session part of the store suite on Redis ([`RedisSessionStore`]),
//! its users in the in-memory store, each test under a key prefix of its
//! own; and what is particular to Redis: keys by digest only, TTLs.
//!
//! Redis is found at `TESSERA_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); when it cannot be reached the tests fail,
//! unless `TESSERA_TEST_SKIP=redis` opts out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_core::session::{NewSession, SessionRecord};
use tessera_core::store::{SessionStore, StoreError, UserPage, UserQuery, UserStore};
use tessera_core::token::KeyDigest;
use tessera_core::user::{NewUser, UserUpdate};
use tessera_core::User;
use tessera_store_redis::{RedisCounterStore, RedisOptions, RedisSessionStore};
use tessera_testkit::{session_tests, unreachable_backend, Fixture, MemoryStore};
use time::{Duration, OffsetDateTime};

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Users in memory, sessions in Redis: what the session suite needs.
struct Split {
    users: MemoryStore,
    sessions: RedisSessionStore,
}

#[async_trait]
impl UserStore for Split {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.users.create_user(new).await
    }
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.users.user_by_id(id).await
    }
    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<tessera_core::store::UserCredentials>, StoreError> {
        self.users.credentials_by_username(username).await
    }
    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError> {
        self.users.update_user(id, update).await
    }
    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.users.set_last_login(id, at).await
    }
    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError> {
        self.users.list_users(search, offset, limit).await
    }
    async fn query_users(&self, q: &UserQuery) -> Result<UserPage, StoreError> {
        self.users.query_users(q).await
    }
    async fn count_password_schemes(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.users.count_password_schemes().await
    }
}

#[async_trait]
impl SessionStore for Split {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        self.sessions.create_session(new).await
    }
    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        self.sessions.find_session(digest, now, idle_timeout).await
    }
    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.sessions
            .list_sessions(user_id, now, idle_timeout)
            .await
    }
    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<u64, StoreError> {
        self.sessions.count_live_sessions(now, idle_timeout).await
    }
    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        authenticated_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        self.sessions
            .rotate_session(id, new_digest, authenticated_at)
            .await
    }
    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        self.sessions.set_session_data(id, data).await
    }
    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.sessions.touch_session(id, at).await
    }
    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        self.sessions.session_owner(id).await
    }
    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        self.sessions.delete_session(id, owner).await
    }
    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.sessions.delete_user_sessions(user_id, except).await
    }
    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<u64, StoreError> {
        self.sessions
            .purge_expired_sessions(now, idle_timeout)
            .await
    }
}

/// Deletes every key under `prefix`.
async fn delete_prefix(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
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

/// A fresh split store under its own prefix; keys deleted after the test.
async fn split() -> Option<(Split, String)> {
    let prefix = format!("tessera-test-{:016x}:", rand::random::<u64>());
    let options = RedisOptions {
        prefix: prefix.clone(),
        ..RedisOptions::default()
    };
    let counters = match RedisCounterStore::connect(&redis_url(), options).await {
        Ok(store) => store,
        Err(e) => return unreachable_backend("redis", &e),
    };
    let users = MemoryStore::new();
    // The store's own idle timeout sets the TTLs; the suite's checks pass
    // theirs (an hour) with every read.
    let sessions = RedisSessionStore::new(
        &counters,
        Arc::new(users.clone()),
        std::time::Duration::from_secs(3600),
    );
    Some((Split { users, sessions }, prefix))
}

async fn redis_sessions() -> Option<Fixture<Split>> {
    let (store, prefix) = split().await?;
    Some(Fixture::new(store).on_teardown(async move { delete_prefix(&prefix).await }))
}

session_tests!(on_redis, redis_sessions());

#[tokio::test]
async fn keys_hold_digests_only_and_expire_at_the_idle_timeout_capped_by_the_end() {
    let Some((store, prefix)) = split().await else {
        return;
    };
    let alice = store
        .create_user(tessera_testkit::suite::new_user("alice"))
        .await
        .unwrap();
    let key = tessera_core::session::SessionKey::generate();
    let now = OffsetDateTime::now_utc();
    // Ends in ten minutes, before the hour of idle timeout.
    let new = NewSession {
        digest: key.digest(),
        created: now,
        expires: now + Duration::minutes(10),
        ..tessera_testkit::suite::new_session(alice.id)
    };
    let record = store.create_session(new).await.unwrap();
    let mut connection = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(!k.contains(key.expose()), "no session id in a key: {k}");
        let dump: Vec<String> = match redis::cmd("TYPE")
            .arg(k)
            .query_async::<String>(&mut connection)
            .await
            .unwrap()
            .as_str()
        {
            "hash" => redis::cmd("HVALS")
                .arg(k)
                .query_async(&mut connection)
                .await
                .unwrap(),
            "string" => vec![redis::cmd("GET")
                .arg(k)
                .query_async(&mut connection)
                .await
                .unwrap()],
            "set" => redis::cmd("SMEMBERS")
                .arg(k)
                .query_async(&mut connection)
                .await
                .unwrap(),
            other => panic!("{k}: {other}"),
        };
        assert!(
            dump.iter().all(|v| !v.contains(key.expose())),
            "no session id in a value: {k}"
        );
        if k.ends_with("s:next") {
            continue;
        }
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(
            (591_000..=601_000).contains(&ttl),
            "{k}: the session's end caps its TTL, plus the grace: {ttl}"
        );
    }
    // A touch moves the deadline, still capped by the end.
    store
        .touch_session(record.id, now + Duration::minutes(1))
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}s:i:{}", record.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((531_000..=541_000).contains(&ttl), "{ttl}");
    delete_prefix(&prefix).await;
}
