//! Micro-benchmarks of the store reads on every authenticated request: a token
//! and a session looked up by digest in SQLite (a temporary file, WAL, as the
//! server's default store), through the same `SqlStore` the server uses.
//!
//! `cargo bench -p tessera-store-sql --bench lookup`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tessera_core::session::{NewSession, SessionKey};
use tessera_core::store::{SessionStore, TokenStore, UserStore};
use tessera_core::token::{KeyDigest, NewToken, TokenKey};
use tessera_core::user::NewUser;
use tessera_store_sql::SqlStore;
use time::OffsetDateTime;

/// Tokens and sessions stored besides the ones looked up, so that the index
/// is not trivially small.
const OTHERS: usize = 1_000;

struct Fixture {
    store: SqlStore,
    key: TokenKey,
    session: SessionKey,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.sqlite3").display()
    );
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let now = OffsetDateTime::now_utc();
    let user = store
        .create_user(NewUser {
            username: "bench".to_owned(),
            email: String::new(),
            password_hash: "!".to_owned(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: now,
        })
        .await
        .unwrap();
    let token = |digest| NewToken {
        user_id: user.id,
        digest,
        name: "bench".to_owned(),
        scopes: vec![],
        created: now,
        expires: Some(now + time::Duration::days(90)),
        authenticated_at: None,
    };
    let session = |digest| NewSession {
        user_id: user.id,
        digest,
        data: serde_json::json!({}),
        created: now,
        expires: now + time::Duration::days(14),
        ip: None,
        user_agent: None,
        authenticated_at: Some(now),
    };
    for _ in 0..OTHERS {
        store
            .create_token(token(TokenKey::generate().digest()), None)
            .await
            .unwrap();
        store
            .create_session(session(SessionKey::generate().digest()))
            .await
            .unwrap();
    }
    let key = TokenKey::generate();
    store.create_token(token(key.digest()), None).await.unwrap();
    let session_key = SessionKey::generate();
    store
        .create_session(session(session_key.digest()))
        .await
        .unwrap();
    Fixture {
        store,
        key,
        session: session_key,
        _dir: dir,
    }
}

fn lookup(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture());
    let now = OffsetDateTime::now_utc();
    let idle = time::Duration::days(1);
    let digest = f.key.digest();
    let absent = KeyDigest([7; 32]);
    // Sanity: the benchmarks below measure hits and a miss, not errors.
    assert!(rt
        .block_on(f.store.find_token(&digest, now))
        .unwrap()
        .is_some());
    assert!(rt
        .block_on(f.store.find_session(&f.session.digest(), now, idle))
        .unwrap()
        .is_some());

    let mut g = c.benchmark_group("sqlite");
    g.bench_function("find_token_hit", |b| {
        b.to_async(&rt)
            .iter(|| f.store.find_token(black_box(&digest), now))
    });
    g.bench_function("find_token_miss", |b| {
        b.to_async(&rt)
            .iter(|| f.store.find_token(black_box(&absent), now))
    });
    // What a token check costs past the header: parse, digest, lookup.
    g.bench_function("parse_digest_find_token", |b| {
        b.to_async(&rt).iter(|| async {
            let key = TokenKey::parse(black_box(f.key.expose())).unwrap();
            f.store.find_token(&key.digest(), now).await
        })
    });
    let session_digest = f.session.digest();
    g.bench_function("find_session_hit", |b| {
        b.to_async(&rt)
            .iter(|| f.store.find_session(black_box(&session_digest), now, idle))
    });
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
