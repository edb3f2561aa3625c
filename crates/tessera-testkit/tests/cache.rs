//! The caching decorator over a store without a revocation log: hits served
//! from memory, local writes invalidate at once, entries expire after the TTL
//! (and the bound), unknown keys are remembered briefly but a key created
//! through the cache is found at once. The decorator over a real log is
//! tested in tessera-store-sql's `tests/revocation.rs`.

use std::sync::Arc;
use std::time::Duration;
use tessera_core::cache::{CacheState, Cached};
use tessera_core::session::SessionKey;
use tessera_core::store::{SessionStore, TokenStore, UserStore};
use tessera_core::token::TokenKey;
use tessera_core::user::UserUpdate;
use tessera_testkit::suite::{new_session, new_token, new_user, T0};
use tessera_testkit::MemoryStore;

fn cached(ttl: Duration) -> (Arc<MemoryStore>, Cached<MemoryStore>) {
    let inner = Arc::new(MemoryStore::new());
    (inner.clone(), Cached::new(inner, CacheState::new(ttl)))
}

#[tokio::test]
async fn hits_are_served_from_memory_until_a_local_write() {
    let (inner, cache) = cached(Duration::from_secs(60));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let new = new_token(user.id, "t");
    let digest = new.digest;
    let token = cache.create_token(new, None).await.unwrap().unwrap();
    for _ in 0..3 {
        assert!(cache.find_token(&digest, T0).await.unwrap().is_some());
    }
    assert_eq!(cache.state().stats(), (2, 1));
    // Deleted behind the cache's back: still served (the cross-process case,
    // bounded by the TTL)...
    inner.delete_token(token.id, None).await.unwrap();
    assert!(cache.find_token(&digest, T0).await.unwrap().is_some());
    // ...but a write through the cache invalidates at once.
    cache.delete_token(token.id + 1000, None).await.unwrap();
    assert!(cache.find_token(&digest, T0).await.unwrap().is_none());
}

#[tokio::test]
async fn a_user_update_invalidates_their_credentials() {
    let (_, cache) = cached(Duration::from_secs(60));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let new = new_token(user.id, "t");
    let digest = new.digest;
    cache.create_token(new, None).await.unwrap();
    let found = cache.find_token(&digest, T0).await.unwrap().unwrap();
    assert!(found.1.is_active);
    let update = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    cache.update_user(user.id, update).await.unwrap();
    let found = cache.find_token(&digest, T0).await.unwrap().unwrap();
    assert!(!found.1.is_active, "the cached user was refreshed");
}

#[tokio::test]
async fn entries_expire_after_the_ttl_and_unknown_keys_are_remembered_briefly() {
    let (inner, cache) = cached(Duration::from_millis(50));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let new = new_token(user.id, "t");
    let digest = new.digest;
    // A miss first: then the key is created and must be found at once.
    assert!(cache.find_token(&digest, T0).await.unwrap().is_none());
    let token = cache.create_token(new, None).await.unwrap().unwrap();
    assert!(cache.find_token(&digest, T0).await.unwrap().is_some());
    inner.delete_token(token.id, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        cache.find_token(&digest, T0).await.unwrap().is_none(),
        "revocation elsewhere is seen after the TTL"
    );
    let unknown = TokenKey::generate().digest();
    let before = cache.state().stats();
    assert!(cache.find_token(&unknown, T0).await.unwrap().is_none());
    assert!(cache.find_token(&unknown, T0).await.unwrap().is_none());
    assert_eq!(cache.state().stats(), (before.0 + 1, before.1 + 1));
    assert_eq!(cache.state().negative_hits(), 1);
    // Created behind the cache's back (another process): found once the
    // unknown entry is older than its TTL (50 ms here, capped at the bound).
    let mut remote = new_token(user.id, "remote");
    remote.digest = unknown;
    inner.create_token(remote, None).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(cache.find_token(&unknown, T0).await.unwrap().is_some());
}

#[tokio::test]
async fn without_a_log_entries_are_trusted_for_the_bound_at_most() {
    let (inner, cache) = cached(Duration::from_secs(600));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let new = new_token(user.id, "t");
    let digest = new.digest;
    let token = cache.create_token(new, None).await.unwrap().unwrap();
    assert!(cache.find_token(&digest, T0).await.unwrap().is_some());
    inner.delete_token(token.id, None).await.unwrap();
    assert!(cache.find_token(&digest, T0).await.unwrap().is_some());
    tokio::time::sleep(tessera_core::cache::REVOCATION_BOUND).await;
    assert!(
        cache.find_token(&digest, T0).await.unwrap().is_none(),
        "no poller vouches for the entry past the bound"
    );
}

#[tokio::test]
async fn expiry_is_checked_on_every_hit() {
    let (_, cache) = cached(Duration::from_secs(60));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let mut new = new_token(user.id, "t");
    new.expires = Some(T0 + time::Duration::seconds(10));
    let digest = new.digest;
    cache.create_token(new, None).await.unwrap();
    assert!(cache.find_token(&digest, T0).await.unwrap().is_some());
    assert!(cache
        .find_token(&digest, T0 + time::Duration::seconds(10))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn sessions_are_cached_and_their_revocation_is_immediate() {
    let (_, cache) = cached(Duration::from_secs(60));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let new = new_session(user.id);
    let digest = new.digest;
    let session = cache.create_session(new).await.unwrap();
    let idle = time::Duration::hours(1);
    assert!(cache
        .find_session(&digest, T0, idle)
        .await
        .unwrap()
        .is_some());
    assert!(cache
        .find_session(&digest, T0, idle)
        .await
        .unwrap()
        .is_some());
    // A use recorded after caching: a later check past the stale idle
    // deadline asks the store instead of refusing.
    cache
        .touch_session(session.id, T0 + time::Duration::minutes(50))
        .await
        .unwrap();
    let later = T0 + time::Duration::minutes(70);
    assert!(cache
        .find_session(&digest, later, idle)
        .await
        .unwrap()
        .is_some());
    let rotated = SessionKey::generate().digest();
    cache
        .rotate_session(session.id, &rotated, None)
        .await
        .unwrap();
    assert!(cache
        .find_session(&digest, later, idle)
        .await
        .unwrap()
        .is_none());
    assert!(cache
        .find_session(&rotated, later, idle)
        .await
        .unwrap()
        .is_some());
    cache.delete_session(session.id, None).await.unwrap();
    assert!(cache
        .find_session(&rotated, later, idle)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_rotation_and_a_family_revocation_invalidate_at_once() {
    use tessera_core::audit::{EventKind, NewAuditEvent};
    use tessera_core::audited::{AuditedWrites, Rotated, TokenRotation};
    let (_, cache) = cached(Duration::from_secs(60));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let new = new_token(user.id, "t");
    let old_digest = new.digest;
    let old = cache.create_token(new, None).await.unwrap().unwrap();
    let cached_old = cache.find_token(&old_digest, T0).await.unwrap().unwrap();
    assert_eq!(cached_old.0.grace_until, None);
    let grace_end = T0 + time::Duration::minutes(1);
    let rotation = TokenRotation {
        token_id: old.id,
        user_id: user.id,
        digest: TokenKey::generate().digest(),
        created: T0,
        grace_until: grace_end,
        max_per_user: None,
    };
    let new_digest = rotation.digest;
    let event = NewAuditEvent::new(T0, EventKind::TokenRotated);
    let rotated = cache.rotate_token_audited(rotation, event).await.unwrap();
    assert!(matches!(rotated, Rotated::Rotated(_)), "{rotated:?}");
    // The old key's entry had no grace end: it is not served again.
    let found = cache.find_token(&old_digest, T0).await.unwrap().unwrap();
    assert_eq!(found.0.grace_until, Some(grace_end));
    assert!(cache.find_token(&new_digest, T0).await.unwrap().is_some());
    let alert = NewAuditEvent::new(T0, EventKind::SecurityAlert);
    let revoked = cache
        .revoke_token_family_audited(old.family, alert)
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    assert!(cache.find_token(&old_digest, T0).await.unwrap().is_none());
    assert!(cache.find_token(&new_digest, T0).await.unwrap().is_none());
}

#[tokio::test]
async fn a_users_credentials_share_a_copy_only_while_it_is_what_the_store_holds() {
    // The cache keeps one copy of a user for all of their cached
    // credentials. A credential read after the user changed behind the
    // cache's back (another process, before its revocation reaches this one)
    // must carry the user as the store has it now, not the shared copy.
    let (inner, cache) = cached(Duration::from_secs(60));
    let user = cache.create_user(new_user("alice")).await.unwrap();
    let first = new_token(user.id, "first");
    let first_digest = first.digest;
    cache.create_token(first, None).await.unwrap();
    let session = new_session(user.id);
    let session_digest = session.digest;
    cache.create_session(session).await.unwrap();
    let idle = time::Duration::hours(1);
    let found = cache.find_token(&first_digest, T0).await.unwrap().unwrap();
    assert_eq!(found.1, user);
    let update = UserUpdate {
        email: Some("new@example.com".to_owned()),
        is_staff: Some(true),
        ..UserUpdate::default()
    };
    let changed = inner.update_user(user.id, update).await.unwrap().unwrap();
    assert_ne!(changed, user);
    // A miss reads the user afresh...
    let (_, session_user) = cache
        .find_session(&session_digest, T0, idle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session_user, changed);
    let second = new_token(user.id, "second");
    let second_digest = second.digest;
    cache.create_token(second, None).await.unwrap();
    let (_, second_user) = cache.find_token(&second_digest, T0).await.unwrap().unwrap();
    assert_eq!(second_user, changed);
    // ...and the hits serve what each entry was read with: the first token
    // keeps the copy it was cached with until a revocation or its TTL.
    let (_, first_user) = cache.find_token(&first_digest, T0).await.unwrap().unwrap();
    assert_eq!(first_user, user);
    let (_, session_user) = cache
        .find_session(&session_digest, T0, idle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session_user, changed);
    // A write through the cache drops every cached credential of the user.
    cache
        .update_user(user.id, UserUpdate::default())
        .await
        .unwrap();
    let (_, first_user) = cache.find_token(&first_digest, T0).await.unwrap().unwrap();
    assert_eq!(first_user, changed);
}
