//! The suite's concurrency tests race for real: they spawn their attempts on
//! several worker threads. A store whose cap is a count and an insert with a
//! blocking step between them (as a store calling a database synchronously
//! would have), and no await point, is refused by them on the suite's
//! runtime, though one thread running the same tasks one at a time (as a
//! `join_all` in one task did) lets it pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use futures::FutureExt;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tessera_core::store::{
    StoreError, TokenStore, UserCredentials, UserPage, UserQuery, UserStore,
};
use tessera_core::token::{KeyDigest, NewToken, TokenRecord};
use tessera_core::user::{NewUser, User, UserUpdate};
use tessera_testkit::{suite, MemoryStore};
use time::OffsetDateTime;

/// The memory store with `create_token`'s cap done wrong: counted, then the
/// token inserted without a cap, a blocking pause between.
#[derive(Clone, Default)]
struct NonAtomicCap(MemoryStore);

impl NonAtomicCap {
    async fn create_token_capped(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        if let Some(cap) = max_per_user {
            let live = self.0.list_tokens(new.user_id, new.created).await?;
            std::thread::sleep(Duration::from_millis(2));
            if live.len() as u64 >= cap {
                return Ok(None);
            }
        }
        self.0.create_token(new, None).await
    }
}

/// Whether the suite's cap test passes `NonAtomicCap` on a runtime with
/// `threads` worker threads (0: the current thread only).
fn cap_test_passes(threads: usize) -> bool {
    let runtime = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .expect("a runtime");
    runtime.block_on(async {
        let store = NonAtomicCap::default();
        AssertUnwindSafe(suite::max_per_user_is_atomic_under_concurrency(&store))
            .catch_unwind()
            .await
            .is_ok()
    })
}

#[test]
fn the_cap_test_refuses_a_non_atomic_cap_on_several_threads() {
    assert!(
        !cap_test_passes(4),
        "a count-then-insert cap raced by four threads stores more than five tokens"
    );
}

#[test]
fn one_thread_cannot_race_the_non_atomic_cap() {
    // What the suite's concurrency tests were worth when they polled their
    // attempts in one task: the broken store passes.
    assert!(cap_test_passes(0));
}

#[async_trait]
impl UserStore for NonAtomicCap {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.0.create_user(new).await
    }
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.0.user_by_id(id).await
    }
    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.0.credentials_by_username(username).await
    }
    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError> {
        self.0.update_user(id, update).await
    }
    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.0.set_last_login(id, at).await
    }
    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError> {
        self.0.list_users(search, offset, limit).await
    }
    async fn query_users(&self, q: &UserQuery) -> Result<UserPage, StoreError> {
        self.0.query_users(q).await
    }
    async fn count_password_schemes(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.0.count_password_schemes().await
    }
}

#[async_trait]
impl TokenStore for NonAtomicCap {
    async fn create_token(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.create_token_capped(new, max_per_user).await
    }
    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        self.0.find_token(digest, now).await
    }
    async fn list_tokens(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.0.list_tokens(user_id, now).await
    }
    async fn count_live_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.count_live_tokens(now).await
    }
    async fn delete_token(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        self.0.delete_token(id, owner).await
    }
    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.0.delete_user_tokens(user_id, except).await
    }
    async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        self.0.token_by_id(id).await
    }
    async fn set_token_expiry(
        &self,
        id: i64,
        expires: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        self.0.set_token_expiry(id, expires).await
    }
    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0.set_token_authenticated_at(id, at).await
    }
    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.0.touch_token(id, at).await
    }
    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.purge_expired_tokens(now).await
    }
}
