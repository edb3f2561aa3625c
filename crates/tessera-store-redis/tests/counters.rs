//! The counter-store suite on Redis, each test under a key prefix of its own
//! (the shared server is never flushed; a test's keys are deleted after it),
//! plus what is particular to Redis: TTLs, key layout, bad URLs and answers.
//!
//! Redis is found at `TESSERA_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). When it cannot be reached the tests are
//! skipped with a note, unless `CI` is set: then they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;
use tessera_core::store::{Health, StoreError};
use tessera_core::throttle::{LoginAttemptStore, LoginPolicy, Rate, ThrottleStore};
use tessera_store_redis::{ConnectError, RedisCounterStore, RedisOptions};
use tessera_testkit::counters::T0;
use tessera_testkit::{counter_tests, unreachable_backend, CounterStores, Fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A store under a fresh prefix; `None` (skip) when Redis cannot be reached
/// outside CI.
async fn store() -> Option<(RedisCounterStore, String)> {
    let prefix = format!("tessera-test-{:016x}:", rand::random::<u64>());
    let options = RedisOptions {
        prefix: prefix.clone(),
        ..RedisOptions::default()
    };
    match RedisCounterStore::connect(&redis_url(), options).await {
        Ok(store) => Some((store, prefix)),
        Err(e) => unreachable_backend("redis", &e),
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

async fn redis_counters() -> Option<Fixture<CounterStores>> {
    let (store, prefix) = store().await?;
    let stores = CounterStores {
        throttle: Arc::new(store.clone()),
        logins: Arc::new(store.clone()),
        alerts: Arc::new(store),
    };
    Some(Fixture::new(stores).on_teardown(async move { delete_prefix(&prefix).await }))
}

counter_tests!(on_redis, redis_counters());

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_key_has_a_ttl_and_carries_no_submitted_string() {
    let Some((store, prefix)) = store().await else {
        return;
    };
    let now = time::OffsetDateTime::now_utc();
    store
        .hit("throttle_user_alice", Rate::per_minute(5), now)
        .await
        .unwrap();
    store
        .record_failure(
            "login:u:alice",
            LoginPolicy::default().username_limit(),
            now,
        )
        .await
        .unwrap();
    let mut connection = raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert!(!key.contains("alice"), "{key}");
        assert_eq!(key.len(), prefix.len() + 2 + 43, "{key}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 0, "{key}: {ttl}");
    }
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.throttle_key("throttle_user_alice"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(
        (59_000..=61_000).contains(&ttl),
        "a minute's window, and a second: {ttl}"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.login_key("login:u:alice"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(
        (899_000..=901_000).contains(&ttl),
        "the 15-minute window: {ttl}"
    );
    delete_prefix(&prefix).await;
}

#[tokio::test]
async fn a_key_of_another_type_is_unavailable_not_a_panic() {
    let Some((store, prefix)) = store().await else {
        return;
    };
    let mut connection = raw().await;
    for key in [store.throttle_key("k"), store.login_key("k")] {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("surprise")
            .arg("EX")
            .arg(60)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    let hit = store.hit("k", Rate::per_minute(5), T0).await;
    assert!(matches!(hit, Err(StoreError::Unavailable(_))), "{hit:?}");
    let failure = store
        .record_failure("k", LoginPolicy::default().username_limit(), T0)
        .await;
    assert!(
        matches!(failure, Err(StoreError::Unavailable(_))),
        "{failure:?}"
    );
    let record = store.live_record("k", T0).await;
    assert!(
        matches!(record, Err(StoreError::Unavailable(_))),
        "{record:?}"
    );
    // In a pipeline, behind a key that reads well.
    let records = store.live_records(&["fine", "k"], T0).await;
    assert!(
        matches!(records, Err(StoreError::Unavailable(_))),
        "{records:?}"
    );
    delete_prefix(&prefix).await;
}

#[tokio::test]
async fn malformed_and_unreachable_urls_are_told_apart() {
    let malformed = RedisCounterStore::connect("http://127.0.0.1:6379", RedisOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(malformed, ConnectError::Malformed(_)),
        "{malformed}"
    );
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let started = std::time::Instant::now();
    let unreachable = RedisCounterStore::connect(
        &format!("redis://:hunter2@127.0.0.1:{port}"),
        RedisOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(unreachable, ConnectError::Unreachable(_)),
        "{unreachable}"
    );
    assert!(
        !unreachable.to_string().contains("hunter2"),
        "{unreachable}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A server that answers every command with the integer 1: `PING` gets a
/// number where `PONG` was expected, and the scripts a number where an
/// array was.
#[tokio::test]
async fn a_server_answering_the_wrong_type_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    // One answer per command in what arrived (each starts
                    // with `*`, an array of arguments).
                    let commands = buf[..n].iter().filter(|&&b| b == b'*').count().max(1);
                    for _ in 0..commands {
                        if socket.write_all(b":1\r\n").await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    let url = format!("redis://{addr}");
    match RedisCounterStore::connect(&url, RedisOptions::default()).await {
        Err(e) => assert!(matches!(e, ConnectError::Unreachable(_)), "{e}"),
        Ok(store) => {
            let ping = store.ping().await;
            assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
            let hit = store.hit("k", Rate::per_minute(5), T0).await;
            assert!(matches!(hit, Err(StoreError::Unavailable(_))), "{hit:?}");
        }
    }
}
