//! The store suite: one function per behaviour of the store traits, generic over
//! the store. [`store_tests!`](crate::store_tests) turns each into a named test
//! per backend.
//!
//! Every function starts from an empty store and uses times with a non-zero
//! microsecond part, so that a backend that loses precision fails.

use crate::{AuditSuite, SessionSuite, Store, TokenSuite, UnlockSuite};
use serde_json::json;
use tessera_core::audit::{
    AggregatedEvents, AuditPage, AuditQuery, AuditRecord, AuditStore, EventKind, NewAuditEvent,
    MAX_DETAIL_BYTES, MAX_IP_CHARS, MAX_REQUEST_ID_CHARS, MAX_USERNAME_CHARS, MAX_USER_AGENT_CHARS,
};
use tessera_core::audited::{LoginWrite, LoginWritten, Rehash, Rotated, TokenRotation, TokenWrite};
use tessera_core::clock::truncate_to_micros;
use tessera_core::import::{
    ImportBatch, Imported, ImportedSession, ImportedToken, ImportedUser, Rejection, TokenKind,
};
use tessera_core::session::{NewSession, SessionKey, SessionRecord};
use tessera_core::store::{Health, SessionStore, StoreError, TokenStore, UserStore};
use tessera_core::token::{KeyDigest, NewToken, TokenKey, TokenRecord};
use tessera_core::user::{NewUser, UserUpdate};
use tessera_core::User;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The instant the suite treats as "now".
pub const T0: OffsetDateTime = datetime!(2024-05-06 07:08:09.123456 UTC);

/// A user to create: `{username}@example.com`, active, neither staff nor
/// superuser, joined at [`T0`].
pub fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: format!("{username}@example.com"),
        password_hash: format!("argon2id$hash-of-{username}"),
        is_active: true,
        is_staff: false,
        is_superuser: false,
        date_joined: T0,
    }
}

/// A token for `user_id` with a fresh key: no scopes, created at [`T0`], never
/// expiring.
pub fn new_token(user_id: i64, name: &str) -> NewToken {
    NewToken {
        user_id,
        digest: TokenKey::generate().digest(),
        name: name.to_owned(),
        scopes: Vec::new(),
        created: T0,
        expires: None,
        authenticated_at: None,
    }
}

/// The idle timeout the session functions use.
pub const IDLE: Duration = Duration::hours(1);

/// A session for `user_id` with a fresh id: created (and last seen) at [`T0`],
/// ending 14 days later, with some data, an address, a user agent, and the
/// password proved at [`T0`].
pub fn new_session(user_id: i64) -> NewSession {
    NewSession {
        user_id,
        digest: SessionKey::generate().digest(),
        data: json!({"cart": [1, 2], "theme": "dark"}),
        created: T0,
        expires: T0 + Duration::days(14),
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        authenticated_at: Some(T0),
    }
}

async fn user<S: UserStore>(store: &S, username: &str) -> User {
    store
        .create_user(new_user(username))
        .await
        .expect("create_user")
}

async fn token<S: TokenStore>(store: &S, new: NewToken) -> TokenRecord {
    store
        .create_token(new, None)
        .await
        .expect("create_token")
        .expect("a token without a cap is always stored")
}

async fn usernames<S: UserStore>(
    store: &S,
    search: Option<&str>,
    offset: u64,
    limit: u64,
) -> (u64, Vec<String>) {
    let page = store
        .list_users(search, offset, limit)
        .await
        .expect("list_users");
    let names = page.users.into_iter().map(|u| u.username).collect();
    (page.count, names)
}

async fn token_names<S: TokenStore>(store: &S, user_id: i64, now: OffsetDateTime) -> Vec<String> {
    store
        .list_tokens(user_id, now)
        .await
        .expect("list_tokens")
        .into_iter()
        .map(|t| t.name)
        .collect()
}

async fn session<S: SessionStore>(store: &S, new: NewSession) -> SessionRecord {
    store.create_session(new).await.expect("create_session")
}

/// The live session with this digest at `now` under [`IDLE`], without its user.
async fn live<S: SessionStore>(
    store: &S,
    digest: &KeyDigest,
    now: OffsetDateTime,
) -> Option<SessionRecord> {
    store
        .find_session(digest, now, IDLE)
        .await
        .expect("find_session")
        .map(|(s, _)| s)
}

async fn session_ids<S: SessionStore>(store: &S, user_id: i64, now: OffsetDateTime) -> Vec<i64> {
    store
        .list_sessions(user_id, now, IDLE)
        .await
        .expect("list_sessions")
        .into_iter()
        .map(|s| s.id)
        .collect()
}

/// Runs `task(store, input)` for each of `inputs` on a tokio task of its
/// own, so that on the suite's multi-threaded runtime they run at once on
/// several threads (a `join_all` in one task polls them one at a time and
/// cannot race a store that takes no await point between its steps); the
/// results in input order.
///
/// # Panics
///
/// When a task panicked.
async fn spawn_all<S, I, T, F, Fut>(
    store: &S,
    inputs: impl IntoIterator<Item = I>,
    task: F,
) -> Vec<T>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, I) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = inputs
        .into_iter()
        .map(|input| tokio::spawn(task(store.clone(), input)))
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(
            handle
                .await
                .expect("a concurrent task of the suite panicked"),
        );
    }
    results
}

// ---------------------------------------------------------------- users

/// `create_user` returns the user as stored, and `user_by_id` reads it back.
pub async fn create_user_returns_the_stored_user<S: UserStore>(store: &S) {
    let new = NewUser {
        username: "alice".to_owned(),
        email: "alice@example.com".to_owned(),
        password_hash: "argon2id$alice".to_owned(),
        is_active: true,
        is_staff: true,
        is_superuser: false,
        date_joined: T0,
    };
    let user = store.create_user(new).await.expect("create_user");
    assert!(user.id > 0);
    assert_eq!(user.username, "alice");
    assert_eq!(user.email, "alice@example.com");
    assert!(user.is_active);
    assert!(user.is_staff);
    assert!(!user.is_superuser);
    assert_eq!(user.date_joined, T0);
    assert_eq!(user.last_login, None);
    let read = store.user_by_id(user.id).await.expect("user_by_id");
    assert_eq!(read, Some(user));
}

/// Flags and an empty e-mail round-trip as given.
pub async fn create_user_keeps_flags_and_empty_email<S: UserStore>(store: &S) {
    let mut new = new_user("root");
    new.email = String::new();
    new.is_active = false;
    new.is_superuser = true;
    new.is_staff = true;
    let user = store.create_user(new).await.expect("create_user");
    let read = store.user_by_id(user.id).await.expect("user_by_id");
    let read = read.expect("the user exists");
    assert_eq!(read.email, "");
    assert!(!read.is_active && read.is_staff && read.is_superuser);
}

/// A taken username is `Conflict`, and the existing user is left as it was.
pub async fn create_user_with_a_taken_username_is_a_conflict<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    let mut again = new_user("alice");
    again.email = "impostor@example.com".to_owned();
    let result = store.create_user(again).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(read, Some(alice));
    assert_eq!(usernames(store, None, 0, 10).await.0, 1);
}

/// Usernames are compared exactly: `alice` and `Alice` are two users.
pub async fn usernames_differing_in_case_are_different_users<S: UserStore>(store: &S) {
    let lower = user(store, "alice").await;
    let upper = user(store, "Alice").await;
    assert_ne!(lower.id, upper.id);
}

/// Ids are distinct; an unknown id is `None`.
pub async fn user_by_id_of_an_unknown_user_is_none<S: UserStore>(store: &S) {
    let a = user(store, "a").await;
    let b = user(store, "b").await;
    assert_ne!(a.id, b.id);
    for unknown in [a.id.max(b.id) + 1000, 0, -1] {
        let read = store.user_by_id(unknown).await.expect("user_by_id");
        assert_eq!(read, None, "id {unknown}");
    }
}

/// `credentials_by_username` returns the user and the stored hash.
pub async fn credentials_by_username_returns_the_user_and_hash<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    user(store, "bob").await;
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.user, alice);
    assert_eq!(credentials.password_hash, "argon2id$hash-of-alice");
}

/// Only the exact username is found: not another case, prefix, padding or
/// (for non-ASCII) another case either.
pub async fn credentials_by_username_is_an_exact_match<S: UserStore>(store: &S) {
    user(store, "alice").await;
    user(store, "zoë").await;
    for other in [
        "ALICE", "Alice", "alic", "alice ", " alice", "", "%", "ZOË", "zoe",
    ] {
        let found = store
            .credentials_by_username(other)
            .await
            .expect("credentials_by_username");
        assert!(found.is_none(), "{other:?} must not be found");
    }
    let found = store
        .credentials_by_username("zoë")
        .await
        .expect("credentials_by_username");
    assert_eq!(found.map(|c| c.user.username), Some("zoë".to_owned()));
}

/// `update_user` changes the given fields, leaves the rest, and returns the
/// user as stored; `Some("")` sets an empty e-mail.
pub async fn update_user_changes_only_the_given_fields<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let update = UserUpdate {
        email: Some(String::new()),
        is_staff: Some(true),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(alice.id, update)
        .await
        .expect("update_user")
        .expect("alice exists");
    let expected = User {
        email: String::new(),
        is_staff: true,
        ..alice.clone()
    };
    assert_eq!(updated, expected);
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(read, Some(expected));
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.password_hash, "argon2id$hash-of-alice");
    let bob_now = store.user_by_id(bob.id).await.expect("user_by_id");
    assert_eq!(bob_now, Some(bob), "another user is untouched");
}

/// Every field of [`UserUpdate`] is applied, the password hash included.
pub async fn update_user_applies_every_field<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    let update = UserUpdate {
        email: Some("new@example.org".to_owned()),
        is_active: Some(false),
        is_staff: Some(true),
        is_superuser: Some(true),
        password_hash: Some("argon2id$new".to_owned()),
    };
    let updated = store
        .update_user(alice.id, update)
        .await
        .expect("update_user")
        .expect("alice exists");
    assert_eq!(updated.email, "new@example.org");
    assert!(!updated.is_active && updated.is_staff && updated.is_superuser);
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.password_hash, "argon2id$new");
    assert_eq!(credentials.user, updated);
}

/// An empty update returns the user unchanged.
pub async fn update_user_with_nothing_to_change_returns_the_user<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    let updated = store
        .update_user(alice.id, UserUpdate::default())
        .await
        .expect("update_user");
    assert_eq!(updated, Some(alice));
}

/// Updating an unknown user is `None`.
pub async fn update_user_of_an_unknown_user_is_none<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    let update = UserUpdate {
        is_staff: Some(true),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(alice.id + 1000, update)
        .await
        .expect("update_user");
    assert_eq!(updated, None);
}

/// `set_last_login` records the time to the microsecond, for that user only;
/// a later login replaces it.
pub async fn set_last_login_records_the_time<S: UserStore>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let at = T0 + Duration::hours(1) + Duration::microseconds(654_321);
    store
        .set_last_login(alice.id, at)
        .await
        .expect("set_last_login");
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(read.and_then(|u| u.last_login), Some(at));
    let bob_now = store.user_by_id(bob.id).await.expect("user_by_id");
    assert_eq!(bob_now.and_then(|u| u.last_login), None);
    let later = at + Duration::days(3) + Duration::microseconds(1);
    store
        .set_last_login(alice.id, later)
        .await
        .expect("set_last_login");
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username");
    assert_eq!(credentials.and_then(|c| c.user.last_login), Some(later));
}

/// Without a search, every user, ordered by id; `count` is all of them.
pub async fn list_users_orders_by_id_and_counts_all<S: UserStore>(store: &S) {
    let (count, names) = usernames(store, None, 0, 10).await;
    assert_eq!((count, names), (0, Vec::<String>::new()));
    let mut ids = Vec::new();
    for name in ["carol", "alice", "bob"] {
        ids.push(user(store, name).await.id);
    }
    let page = store.list_users(None, 0, 10).await.expect("list_users");
    assert_eq!(page.count, 3);
    let listed: Vec<i64> = page.users.iter().map(|u| u.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted);
    assert_eq!(listed, ids, "ids grow with creation");
    let carol = store.user_by_id(ids[0]).await.expect("user_by_id");
    assert_eq!(page.users.first().cloned(), carol);
}

/// `offset` and `limit` page through the users; `count` is always the total.
pub async fn list_users_pages_with_offset_and_limit<S: UserStore>(store: &S) {
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        user(store, name).await;
    }
    let cases: [(u64, u64, &[&str]); 7] = [
        (0, 2, &["u1", "u2"]),
        (2, 2, &["u3", "u4"]),
        (4, 2, &["u5"]),
        (5, 2, &[]),
        (100, 2, &[]),
        (1, 0, &[]),
        (1, u64::MAX, &["u2", "u3", "u4", "u5"]),
    ];
    for (offset, limit, expected) in cases {
        let (count, names) = usernames(store, None, offset, limit).await;
        assert_eq!(count, 5, "offset {offset}, limit {limit}");
        assert_eq!(names, expected, "offset {offset}, limit {limit}");
    }
    let (count, names) = usernames(store, None, u64::MAX, u64::MAX).await;
    assert_eq!((count, names.len()), (5, 0));
}

/// A search matches a case-insensitive substring of the username or the
/// e-mail; `count` counts the matches.
pub async fn list_users_search_matches_username_or_email_case_insensitively<S: UserStore>(
    store: &S,
) {
    for (username, email) in [
        ("alice", "a@example.com"),
        ("bob", "ALICE.fan@Example.org"),
        ("carol", "carol@other.net"),
        ("DAVE", ""),
    ] {
        let mut new = new_user(username);
        new.email = email.to_owned();
        store.create_user(new).await.expect("create_user");
    }
    let cases: [(&str, &[&str]); 7] = [
        ("ALI", &["alice", "bob"]),
        ("example", &["alice", "bob"]),
        ("Carol@", &["carol"]),
        ("dave", &["DAVE"]),
        (".NET", &["carol"]),
        ("OB", &["bob"]),
        ("zzz", &[]),
    ];
    for (search, expected) in cases {
        let (count, names) = usernames(store, Some(search), 0, 10).await;
        assert_eq!(names, expected, "search {search:?}");
        assert_eq!(count, expected.len() as u64, "search {search:?}");
    }
    let (count, names) = usernames(store, Some(""), 0, 10).await;
    assert_eq!((count, names.len()), (4, 4), "an empty search matches all");
}

/// A search's `count` is the number of matches, not of the page.
pub async fn list_users_search_pages_and_counts_matches<S: UserStore>(store: &S) {
    for name in ["match1", "other1", "match2", "other2", "match3"] {
        user(store, name).await;
    }
    let (count, names) = usernames(store, Some("MATCH"), 1, 1).await;
    assert_eq!(count, 3);
    assert_eq!(names, ["match2"]);
    let (count, names) = usernames(store, Some("match"), 3, 10).await;
    assert_eq!((count, names.len()), (3, 0));
}

/// `%`, `_` and `\` in a search are literal characters, not wildcards.
pub async fn list_users_search_treats_wildcards_literally<S: UserStore>(store: &S) {
    for (username, email) in [
        ("a_b", "one@example.com"),
        ("axb", "two@example.com"),
        ("p", "100%off@example.com"),
        ("q", "100xoff@example.com"),
    ] {
        let mut new = new_user(username);
        new.email = email.to_owned();
        store.create_user(new).await.expect("create_user");
    }
    let cases: [(&str, &[&str]); 5] = [
        ("a_b", &["a_b"]),
        ("_", &["a_b"]),
        ("%off", &["p"]),
        ("%", &["p"]),
        ("\\", &[]),
    ];
    for (search, expected) in cases {
        let (count, names) = usernames(store, Some(search), 0, 10).await;
        assert_eq!(names, expected, "search {search:?}");
        assert_eq!(count, expected.len() as u64, "search {search:?}");
    }
}

// ---------------------------------------------------------------- tokens

/// `create_token` returns the record as stored: every field, no `last_used`.
pub async fn create_token_returns_the_record<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = NewToken {
        scopes: vec!["notes:read".to_owned(), "notes:write".to_owned()],
        expires: Some(T0 + Duration::days(90)),
        authenticated_at: Some(T0 - Duration::minutes(5)),
        ..new_token(alice.id, "laptop")
    };
    let record = store
        .create_token(new.clone(), None)
        .await
        .expect("create_token")
        .expect("stored");
    assert!(record.id > 0);
    assert_eq!(record.user_id, alice.id);
    assert_eq!(record.name, "laptop");
    assert_eq!(record.scopes, new.scopes);
    assert_eq!(record.created, T0);
    assert_eq!(record.expires, new.expires);
    assert_eq!(record.last_used, None);
    assert_eq!(record.authenticated_at, new.authenticated_at);
    let second = token(store, new_token(alice.id, "phone")).await;
    assert_ne!(second.id, record.id);
}

/// `find_token` by digest returns the record and its owner.
pub async fn find_token_returns_the_record_and_its_user<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let new = NewToken {
        scopes: vec!["notes:read".to_owned()],
        expires: Some(T0 + Duration::days(1)),
        ..new_token(alice.id, "laptop")
    };
    let digest = new.digest;
    let record = token(store, new).await;
    let bobs = new_token(bob.id, "bob's");
    let bobs_digest = bobs.digest;
    let bobs_record = token(store, bobs).await;
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found, Some((record, alice)));
    let found = store
        .find_token(&bobs_digest, T0)
        .await
        .expect("find_token");
    assert_eq!(found, Some((bobs_record, bob)));
}

/// A digest that was never stored finds nothing.
pub async fn find_token_with_an_unknown_digest_is_none<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    token(store, new_token(alice.id, "laptop")).await;
    let unknown = TokenKey::generate().digest();
    let found = store.find_token(&unknown, T0).await.expect("find_token");
    assert_eq!(found, None);
}

/// A token is found until its expiry and not at or after it.
pub async fn find_token_at_or_after_expiry_is_none<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let expires = T0 + Duration::hours(1);
    let new = NewToken {
        expires: Some(expires),
        ..new_token(alice.id, "short")
    };
    let digest = new.digest;
    let record = token(store, new).await;
    let just_before = expires - Duration::microseconds(1);
    let found = store
        .find_token(&digest, just_before)
        .await
        .expect("find_token");
    assert_eq!(found.map(|(t, _)| t), Some(record));
    for at in [
        expires,
        expires + Duration::microseconds(1),
        expires + Duration::days(365),
    ] {
        let found = store.find_token(&digest, at).await.expect("find_token");
        assert_eq!(found, None, "at {at}");
    }
}

/// A token without an expiry is found at any time.
pub async fn token_without_expiry_never_expires<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_token(alice.id, "forever");
    let digest = new.digest;
    let record = token(store, new).await;
    let far = datetime!(2999-12-31 23:59:59.999999 UTC);
    let found = store.find_token(&digest, far).await.expect("find_token");
    assert_eq!(found.map(|(t, _)| t), Some(record));
    assert_eq!(token_names(store, alice.id, far).await, ["forever"]);
}

/// A token's owner is returned as stored now, after changes to it.
pub async fn find_token_returns_the_owner_as_it_is_now<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_token(alice.id, "laptop");
    let digest = new.digest;
    token(store, new).await;
    let update = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(alice.id, update)
        .await
        .expect("update_user");
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found.map(|(_, u)| u), updated);
}

/// Scopes round-trip exactly: none, one, several, with awkward characters.
pub async fn token_scopes_round_trip<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let cases: [&[&str]; 4] = [
        &[],
        &["notes:read"],
        &["b", "a", "a"],
        &[
            "with space",
            "quote\"s",
            "comma,",
            "ünïcødé",
            "[]",
            "back\\slash",
        ],
    ];
    for (i, scopes) in cases.into_iter().enumerate() {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let new = NewToken {
            scopes: scopes.clone(),
            created: T0 + Duration::seconds(i as i64),
            ..new_token(alice.id, &format!("t{i}"))
        };
        let digest = new.digest;
        let record = token(store, new).await;
        assert_eq!(record.scopes, scopes);
        let found = store.find_token(&digest, T0).await.expect("find_token");
        assert_eq!(found.map(|(t, _)| t.scopes), Some(scopes.clone()));
    }
    let listed = store.list_tokens(alice.id, T0).await.expect("list_tokens");
    let listed: Vec<usize> = listed.iter().map(|t| t.scopes.len()).collect();
    assert_eq!(listed, [0, 1, 3, 6]);
}

/// `created`, `expires` and `authenticated_at` come back to the microsecond.
pub async fn token_times_round_trip_to_the_microsecond<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = NewToken {
        created: datetime!(2024-02-29 23:59:59.999999 UTC),
        expires: Some(datetime!(2031-12-31 23:59:59.000001 UTC)),
        authenticated_at: Some(datetime!(2024-02-29 23:58:00.5 UTC)),
        ..new_token(alice.id, "precise")
    };
    let digest = new.digest;
    let record = token(store, new.clone()).await;
    assert_eq!(record.created, new.created);
    assert_eq!(record.expires, new.expires);
    assert_eq!(record.authenticated_at, new.authenticated_at);
    let found = store
        .find_token(&digest, new.created)
        .await
        .expect("find_token")
        .map(|(t, _)| t);
    assert_eq!(found, Some(record.clone()));
    let listed = store
        .list_tokens(alice.id, new.created)
        .await
        .expect("list_tokens");
    assert_eq!(listed, [record]);
}

/// An `authenticated_at` of `None` stays `None`; `Some` stays `Some`.
pub async fn authenticated_at_round_trips<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let never = new_token(alice.id, "never");
    let never_digest = never.digest;
    token(store, never).await;
    let at = T0 - Duration::microseconds(7);
    let proved = NewToken {
        authenticated_at: Some(at),
        ..new_token(alice.id, "proved")
    };
    let proved_digest = proved.digest;
    token(store, proved).await;
    let found = store
        .find_token(&never_digest, T0)
        .await
        .expect("find_token");
    assert_eq!(found.map(|(t, _)| t.authenticated_at), Some(None));
    let found = store
        .find_token(&proved_digest, T0)
        .await
        .expect("find_token");
    assert_eq!(found.map(|(t, _)| t.authenticated_at), Some(Some(at)));
}

/// A digest already stored is `Conflict`, with or without a cap.
pub async fn create_token_with_a_taken_digest_is_a_conflict<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = new_token(alice.id, "first");
    let digest = first.digest;
    let record = token(store, first).await;
    for (owner, cap) in [(alice.id, None), (bob.id, None), (bob.id, Some(10))] {
        let again = NewToken {
            digest,
            ..new_token(owner, "again")
        };
        let result = store.create_token(again, cap).await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    }
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found.map(|(t, _)| t), Some(record));
}

/// A token for a user that does not exist is refused.
pub async fn create_token_for_an_unknown_user_fails<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    for cap in [None, Some(5)] {
        let new = new_token(alice.id + 1000, "orphan");
        let digest = new.digest;
        let result = store.create_token(new, cap).await;
        assert!(result.is_err(), "cap {cap:?}: {result:?}");
        let found = store.find_token(&digest, T0).await.expect("find_token");
        assert_eq!(found, None);
    }
}

/// At the cap, `create_token` stores nothing and answers `None`.
pub async fn max_per_user_refuses_tokens_past_the_cap<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    for i in 0..3 {
        let created = store
            .create_token(new_token(alice.id, &format!("t{i}")), Some(3))
            .await
            .expect("create_token");
        assert!(created.is_some(), "token {i} is under the cap");
    }
    let refused = new_token(alice.id, "t3");
    let digest = refused.digest;
    let result = store
        .create_token(refused, Some(3))
        .await
        .expect("create_token");
    assert_eq!(result, None);
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found, None, "a refused token is not stored");
    assert_eq!(
        store.list_tokens(alice.id, T0).await.expect("list").len(),
        3
    );
    let zero = store
        .create_token(new_token(user(store, "bob").await.id, "b"), Some(0))
        .await
        .expect("create_token");
    assert_eq!(zero, None, "a cap of zero refuses every token");
    let uncapped = store
        .create_token(new_token(alice.id, "t4"), None)
        .await
        .expect("create_token");
    assert!(uncapped.is_some(), "without a cap there is no limit");
}

/// Tokens expired at the new token's `created` time do not count against the
/// cap; one expiring exactly then is expired.
pub async fn max_per_user_counts_only_unexpired_tokens<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let expired = [
        (T0 - Duration::days(2), T0 - Duration::seconds(1)),
        (T0 - Duration::days(1), T0),
    ];
    for (i, (created, expires)) in expired.into_iter().enumerate() {
        let new = NewToken {
            created,
            expires: Some(expires),
            ..new_token(alice.id, &format!("old{i}"))
        };
        token(store, new).await;
    }
    let live = NewToken {
        expires: Some(T0 + Duration::microseconds(1)),
        ..new_token(alice.id, "live")
    };
    token(store, live).await;
    let second = store
        .create_token(new_token(alice.id, "second"), Some(2))
        .await
        .expect("create_token");
    assert!(second.is_some(), "only one unexpired token is held");
    let third = store
        .create_token(new_token(alice.id, "third"), Some(2))
        .await
        .expect("create_token");
    assert_eq!(third, None);
}

/// The cap is per user: another user's tokens do not count.
pub async fn max_per_user_counts_each_user_separately<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    for owner in [alice.id, bob.id] {
        let created = store
            .create_token(new_token(owner, "first"), Some(1))
            .await
            .expect("create_token");
        assert!(created.is_some(), "user {owner}'s first token");
    }
    let again = store
        .create_token(new_token(alice.id, "second"), Some(1))
        .await
        .expect("create_token");
    assert_eq!(again, None);
}

/// The count and the insert are one atomic step: for each of four users,
/// twenty concurrent creations (all eighty at once) under a cap of five store
/// exactly five tokens.
pub async fn max_per_user_is_atomic_under_concurrency<S: TokenSuite + Clone>(store: &S) {
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        users.push(user(store, name).await.id);
    }
    // One user's attempts after another's: the first tasks the worker
    // threads pick up race on the same user.
    let attempts = users
        .iter()
        .flat_map(|&owner| (0..20).map(move |i| (owner, i)));
    let results = spawn_all(store, attempts, |store, (owner, i)| async move {
        store
            .create_token(new_token(owner, &format!("t{i}")), Some(5))
            .await
    })
    .await;
    let mut stored = std::collections::BTreeMap::new();
    for result in results {
        if let Some(record) = result.expect("create_token") {
            *stored.entry(record.user_id).or_insert(0) += 1;
        }
    }
    for owner in users {
        assert_eq!(stored.get(&owner), Some(&5), "user {owner}: {stored:?}");
        let listed = store.list_tokens(owner, T0).await.expect("list_tokens");
        assert_eq!(listed.len(), 5, "user {owner}");
    }
}

/// `list_tokens` lists one user's unexpired tokens, oldest first (by id when
/// created together).
pub async fn list_tokens_is_oldest_first_and_excludes_expired<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let now = T0 + Duration::minutes(1);
    let tokens = [
        ("third", T0 + Duration::seconds(2), None),
        ("first", T0, Some(now + Duration::microseconds(1))),
        ("second", T0 + Duration::seconds(1), None),
        ("second-too", T0 + Duration::seconds(1), None),
        (
            "expired",
            T0 - Duration::seconds(1),
            Some(T0 + Duration::seconds(10)),
        ),
        ("expires-now", T0 - Duration::seconds(2), Some(now)),
    ];
    for (name, created, expires) in tokens {
        let new = NewToken {
            created,
            expires,
            ..new_token(alice.id, name)
        };
        token(store, new).await;
    }
    token(store, new_token(bob.id, "bob's")).await;
    assert_eq!(
        token_names(store, alice.id, now).await,
        ["first", "second", "second-too", "third"]
    );
    assert_eq!(token_names(store, bob.id, now).await, ["bob's"]);
    let nobody = user(store, "carol").await;
    assert!(token_names(store, nobody.id, now).await.is_empty());
}

/// Deleting without an owner deletes the token; a second delete finds nothing.
pub async fn delete_token_deletes_it<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_token(alice.id, "laptop");
    let digest = new.digest;
    let record = token(store, new).await;
    let kept = token(store, new_token(alice.id, "phone")).await;
    assert!(store
        .delete_token(record.id, None)
        .await
        .expect("delete_token"));
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found, None);
    assert!(!store
        .delete_token(record.id, None)
        .await
        .expect("delete_token"));
    assert_eq!(token_names(store, alice.id, T0).await, [kept.name]);
}

/// With an owner, only that owner's token is deleted; another owner's id
/// answers `false` and leaves it.
pub async fn delete_token_with_an_owner_deletes_only_their_token<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let new = new_token(alice.id, "laptop");
    let digest = new.digest;
    let record = token(store, new).await;
    let deleted = store
        .delete_token(record.id, Some(bob.id))
        .await
        .expect("delete_token");
    assert!(!deleted);
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert!(found.is_some(), "bob cannot delete alice's token");
    let deleted = store
        .delete_token(record.id, Some(alice.id))
        .await
        .expect("delete_token");
    assert!(deleted);
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found, None);
}

/// Deleting an id that does not exist answers `false`.
pub async fn delete_unknown_token_is_false<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let record = token(store, new_token(alice.id, "laptop")).await;
    for owner in [None, Some(alice.id)] {
        let deleted = store
            .delete_token(record.id + 1000, owner)
            .await
            .expect("delete_token");
        assert!(!deleted);
    }
    assert_eq!(token_names(store, alice.id, T0).await, ["laptop"]);
}

/// `delete_user_tokens` deletes every token of the user, expired ones too,
/// but `except`, and counts them; other users' tokens are untouched.
pub async fn delete_user_tokens_deletes_all_but_the_exception<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let laptop = token(store, new_token(alice.id, "laptop")).await;
    token(store, new_token(alice.id, "phone")).await;
    let expired = NewToken {
        created: T0 - Duration::days(2),
        expires: Some(T0 - Duration::days(1)),
        ..new_token(alice.id, "expired")
    };
    token(store, expired).await;
    let bobs = token(store, new_token(bob.id, "bob's")).await;
    let deleted = store
        .delete_user_tokens(alice.id, Some(laptop.id))
        .await
        .expect("delete_user_tokens");
    assert_eq!(deleted, 2);
    assert_eq!(token_names(store, alice.id, T0).await, ["laptop"]);
    assert_eq!(token_names(store, bob.id, T0).await, ["bob's"]);
    let deleted = store
        .delete_user_tokens(alice.id, Some(bobs.id))
        .await
        .expect("delete_user_tokens");
    assert_eq!(deleted, 1, "another user's id spares nothing of alice's");
    assert!(token_names(store, alice.id, T0).await.is_empty());
    assert_eq!(token_names(store, bob.id, T0).await, ["bob's"]);
    let deleted = store
        .delete_user_tokens(bob.id, None)
        .await
        .expect("delete_user_tokens");
    assert_eq!(deleted, 1);
    assert!(token_names(store, bob.id, T0).await.is_empty());
    let deleted = store
        .delete_user_tokens(bob.id, None)
        .await
        .expect("delete_user_tokens");
    assert_eq!(deleted, 0);
}

/// `touch_token` sets `last_used` to the microsecond, for that token only; a
/// later use replaces it.
pub async fn touch_token_records_the_last_use<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_token(alice.id, "laptop");
    let digest = new.digest;
    let record = token(store, new).await;
    let other = token(store, new_token(alice.id, "phone")).await;
    let at = T0 + Duration::minutes(5) + Duration::microseconds(7);
    store.touch_token(record.id, at).await.expect("touch_token");
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found.map(|(t, _)| t.last_used), Some(Some(at)));
    let later = at + Duration::hours(2);
    store
        .touch_token(record.id, later)
        .await
        .expect("touch_token");
    let listed = store.list_tokens(alice.id, T0).await.expect("list_tokens");
    let last_used: Vec<_> = listed.iter().map(|t| (t.id, t.last_used)).collect();
    assert_eq!(last_used, [(record.id, Some(later)), (other.id, None)]);
    store
        .touch_token(record.id + 1000, later)
        .await
        .expect("touching an unknown token is not an error");
}

/// Ids to touch around `real`: 600 unknown ids below every real one and 600
/// above, so that a batch spans several statements of a backend that splits
/// it, the real ids in none of them first.
fn around(real: &[(i64, OffsetDateTime)]) -> Vec<(i64, OffsetDateTime)> {
    let unknown_low = (1..=600).map(|i| (-i, T0));
    let unknown_high = (1..=600).map(|i| (i64::MAX - i, T0));
    unknown_high
        .chain(real.iter().copied())
        .chain(unknown_low)
        .collect()
}

/// `touch_tokens` sets each listed token's `last_used` to its own time, to
/// the microsecond, in any order, skipping unknown ids; the others are
/// untouched, and an empty batch is no error.
pub async fn touch_tokens_records_each_use<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let a = token(store, new_token(alice.id, "a")).await;
    let b = token(store, new_token(alice.id, "b")).await;
    let c = token(store, new_token(alice.id, "c")).await;
    let d = token(store, new_token(bob.id, "d")).await;
    let at_a = T0 + Duration::minutes(3) + Duration::microseconds(1);
    let at_c = T0 + Duration::minutes(2) + Duration::microseconds(9);
    store
        .touch_tokens(&around(&[(c.id, at_c), (a.id, at_a)]))
        .await
        .expect("touch_tokens");
    store.touch_tokens(&[]).await.expect("an empty batch");
    let listed = store.list_tokens(alice.id, T0).await.expect("list_tokens");
    let last_used: Vec<_> = listed.iter().map(|t| (t.id, t.last_used)).collect();
    assert_eq!(
        last_used,
        [(a.id, Some(at_a)), (b.id, None), (c.id, Some(at_c))]
    );
    let listed = store.list_tokens(bob.id, T0).await.expect("list_tokens");
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.id, t.last_used))
            .collect::<Vec<_>>(),
        [(d.id, None)]
    );
    // A later batch replaces the time.
    let later = at_a + Duration::hours(1);
    store
        .touch_tokens(&[(a.id, later)])
        .await
        .expect("touch_tokens");
    let found = store.token_by_id(a.id).await.expect("token_by_id");
    assert_eq!(found.map(|t| t.last_used), Some(Some(later)));
}

/// `token_by_id` returns a token whether expired or not; unknown ids are `None`.
pub async fn token_by_id_returns_expired_tokens_too<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let mut new = new_token(alice.id, "old");
    new.expires = Some(T0 + Duration::seconds(1));
    let digest = new.digest;
    let record = token(store, new).await;
    let later = T0 + Duration::days(1);
    assert!(store
        .find_token(&digest, later)
        .await
        .expect("find")
        .is_none());
    let found = store.token_by_id(record.id).await.expect("token_by_id");
    assert_eq!(found, Some(record.clone()));
    assert_eq!(
        store
            .token_by_id(record.id + 1000)
            .await
            .expect("token_by_id"),
        None
    );
}

/// `set_token_expiry` moves the expiry either way (or removes it), and the
/// token is found or not accordingly; `set_token_authenticated_at` records a
/// password proof. Both say whether the token existed.
pub async fn token_expiry_and_authentication_time_can_be_set<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_token(alice.id, "laptop");
    let digest = new.digest;
    let record = token(store, new).await;
    let grace = T0 + Duration::seconds(60);
    assert!(store
        .set_token_expiry(record.id, Some(grace))
        .await
        .expect("set_token_expiry"));
    assert!(store
        .find_token(&digest, grace - Duration::microseconds(1))
        .await
        .expect("find")
        .is_some());
    assert!(store
        .find_token(&digest, grace)
        .await
        .expect("find")
        .is_none());
    assert!(store
        .set_token_expiry(record.id, None)
        .await
        .expect("set_token_expiry"));
    assert!(store
        .find_token(&digest, T0 + Duration::days(999))
        .await
        .expect("find")
        .is_some());
    let at = T0 + Duration::minutes(3) + Duration::microseconds(5);
    assert!(store
        .set_token_authenticated_at(record.id, at)
        .await
        .expect("set_token_authenticated_at"));
    let found = store.token_by_id(record.id).await.expect("token_by_id");
    assert_eq!(found.and_then(|t| t.authenticated_at), Some(at));
    assert!(!store
        .set_token_expiry(record.id + 1000, None)
        .await
        .expect("unknown id"));
    assert!(!store
        .set_token_authenticated_at(record.id + 1000, at)
        .await
        .expect("unknown id"));
}

/// `purge_expired_tokens` deletes the tokens expired at `now` (expiry at or
/// before it), counts them, and keeps the rest.
pub async fn purge_expired_tokens_deletes_only_expired_ones<S: TokenSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let tokens = [
        (alice.id, "long-expired", Some(T0 - Duration::days(1))),
        (bob.id, "just-expired", Some(T0 - Duration::microseconds(1))),
        (alice.id, "expires-now", Some(T0)),
        (
            alice.id,
            "expires-later",
            Some(T0 + Duration::microseconds(1)),
        ),
        (bob.id, "never-expires", None),
    ];
    let mut digests = Vec::new();
    for (owner, name, expires) in tokens {
        let new = NewToken {
            created: T0 - Duration::days(2),
            expires,
            ..new_token(owner, name)
        };
        digests.push(new.digest);
        token(store, new).await;
    }
    let purged = store
        .purge_expired_tokens(T0)
        .await
        .expect("purge_expired_tokens");
    assert_eq!(purged, 3);
    let before = T0 - Duration::days(2);
    let mut left = Vec::new();
    for digest in &digests {
        let found = store.find_token(digest, before).await.expect("find_token");
        left.push(found.map(|(t, _)| t.name));
    }
    assert_eq!(
        left,
        [
            None,
            None,
            None,
            Some("expires-later".to_owned()),
            Some("never-expires".to_owned())
        ]
    );
    let again = store
        .purge_expired_tokens(T0)
        .await
        .expect("purge_expired_tokens");
    assert_eq!(again, 0);
}

// ---------------------------------------------------------------- sessions

/// `create_session` returns the record as stored: every field, with
/// `last_seen` equal to `created`.
pub async fn create_session_returns_the_record<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = NewSession {
        authenticated_at: Some(T0 - Duration::microseconds(3)),
        ..new_session(alice.id)
    };
    let record = session(store, new.clone()).await;
    assert!(record.id > 0);
    assert_eq!(record.user_id, alice.id);
    assert_eq!(record.data, new.data);
    assert_eq!(record.created, T0);
    assert_eq!(record.last_seen, T0);
    assert_eq!(record.expires, new.expires);
    assert_eq!(record.ip, new.ip);
    assert_eq!(record.user_agent, new.user_agent);
    assert_eq!(record.authenticated_at, new.authenticated_at);
    let second = session(store, new_session(alice.id)).await;
    assert_ne!(second.id, record.id);
}

/// `find_session` by digest returns the record, every field as created (times
/// to the microsecond, absent fields absent), and its owner.
pub async fn find_session_returns_the_record_and_its_user<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let full = NewSession {
        created: datetime!(2024-02-29 23:59:59.999999 UTC),
        expires: datetime!(2024-03-14 23:59:59.000001 UTC),
        authenticated_at: Some(datetime!(2024-02-29 23:58:00.5 UTC)),
        ip: Some("2001:db8::1".to_owned()),
        user_agent: Some("curl/8.5.0 \"quoted\" ünïcødé".to_owned()),
        ..new_session(alice.id)
    };
    let sparse = NewSession {
        ip: None,
        user_agent: None,
        authenticated_at: None,
        data: json!({}),
        ..new_session(bob.id)
    };
    for (new, owner) in [(full, &alice), (sparse, &bob)] {
        let record = session(store, new.clone()).await;
        let found = store
            .find_session(&new.digest, new.created, IDLE)
            .await
            .expect("find_session");
        assert_eq!(found, Some((record.clone(), owner.clone())));
        let expected = SessionRecord {
            id: record.id,
            user_id: new.user_id,
            data: new.data,
            created: new.created,
            last_seen: new.created,
            expires: new.expires,
            ip: new.ip,
            user_agent: new.user_agent,
            authenticated_at: new.authenticated_at,
        };
        assert_eq!(record, expected);
    }
}

/// Session data round-trips as JSON: objects, nesting, every kind of value,
/// and data that is not an object at all.
pub async fn session_data_round_trips<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let cases = [
        json!({}),
        json!({
            "nested": {"list": [1, -2, 3.5, null, true, false, "ü\"\\"], "empty": []},
            "big": u64::MAX,
            "small": i64::MIN,
            "float": 0.1,
            "text": "line\nbreak\ttab \u{1F600}",
            "": "empty key",
        }),
        json!(null),
        json!("just a string"),
        json!([1, "two", {"three": 3}]),
        json!(42),
    ];
    for data in cases {
        let new = NewSession {
            data: data.clone(),
            ..new_session(alice.id)
        };
        let digest = new.digest;
        let record = session(store, new).await;
        assert_eq!(record.data, data);
        let found = live(store, &digest, T0).await;
        assert_eq!(found.map(|s| s.data), Some(data));
    }
}

/// A digest that was never stored finds nothing, and neither does a token's
/// digest.
pub async fn find_session_with_an_unknown_digest_is_none<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    session(store, new_session(alice.id)).await;
    let new = new_token(alice.id, "laptop");
    let token_digest = new.digest;
    token(store, new).await;
    for digest in [SessionKey::generate().digest(), token_digest] {
        assert_eq!(live(store, &digest, T0).await, None);
    }
}

/// A session's owner is returned as stored now, after changes to it.
pub async fn find_session_returns_the_owner_as_it_is_now<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    session(store, new).await;
    let update = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(alice.id, update)
        .await
        .expect("update_user");
    let found = store
        .find_session(&digest, T0, IDLE)
        .await
        .expect("find_session");
    assert_eq!(found.map(|(_, u)| u), updated);
}

/// A session idle for less than the idle timeout is live, and gone once it has
/// been idle for exactly the timeout, in `find_session` and `list_sessions`.
pub async fn session_idle_expiry_is_exact<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    let record = session(store, new).await;
    let just_before = T0 + IDLE - Duration::microseconds(1);
    assert_eq!(
        live(store, &digest, just_before).await,
        Some(record.clone())
    );
    assert_eq!(session_ids(store, alice.id, just_before).await, [record.id]);
    for at in [
        T0 + IDLE,
        T0 + IDLE + Duration::microseconds(1),
        T0 + Duration::days(13),
    ] {
        assert_eq!(live(store, &digest, at).await, None, "at {at}");
        assert!(session_ids(store, alice.id, at).await.is_empty(), "at {at}");
    }
    let longer = store
        .find_session(&digest, T0 + IDLE, IDLE + Duration::microseconds(1))
        .await
        .expect("find_session");
    assert!(
        longer.is_some(),
        "the idle timeout is the caller's to choose"
    );
}

/// A session ends at its absolute expiry even when it was used just before.
pub async fn session_absolute_expiry_holds_even_when_recently_touched<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let expires = T0 + Duration::hours(3) + Duration::microseconds(17);
    let new = NewSession {
        expires,
        ..new_session(alice.id)
    };
    let digest = new.digest;
    let record = session(store, new).await;
    let mut at = T0;
    while at + IDLE / 2 < expires {
        at += IDLE / 2;
        store
            .touch_session(record.id, at)
            .await
            .expect("touch_session");
    }
    let last = expires - Duration::microseconds(2);
    store
        .touch_session(record.id, last)
        .await
        .expect("touch_session");
    let just_before = expires - Duration::microseconds(1);
    let found = live(store, &digest, just_before).await;
    assert_eq!(found.map(|s| s.last_seen), Some(last));
    assert_eq!(session_ids(store, alice.id, just_before).await, [record.id]);
    for at in [expires, expires + Duration::microseconds(1)] {
        assert_eq!(live(store, &digest, at).await, None, "at {at}");
        assert!(session_ids(store, alice.id, at).await.is_empty(), "at {at}");
    }
}

/// `touch_session` sets `last_seen` to the microsecond, for that session
/// only, and the idle timeout then runs from it.
pub async fn touch_session_extends_idle_life<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    let record = session(store, new).await;
    let other = new_session(alice.id);
    let other_digest = other.digest;
    session(store, other).await;
    let at = T0 + IDLE - Duration::microseconds(5);
    store
        .touch_session(record.id, at)
        .await
        .expect("touch_session");
    let later = T0 + IDLE + Duration::minutes(30);
    let found = live(store, &digest, later).await;
    let expected = SessionRecord {
        last_seen: at,
        ..record.clone()
    };
    assert_eq!(found, Some(expected));
    assert_eq!(live(store, &other_digest, later).await, None);
    assert_eq!(session_ids(store, alice.id, later).await, [record.id]);
    let just_before = at + IDLE - Duration::microseconds(1);
    assert!(live(store, &digest, just_before).await.is_some());
    assert_eq!(live(store, &digest, at + IDLE).await, None);
    store
        .touch_session(record.id + 1000, later)
        .await
        .expect("touching an unknown session is not an error");
}

/// `touch_sessions` sets each listed session's `last_seen` to its own time,
/// to the microsecond, in any order, skipping unknown ids, and the idle
/// timeout then runs from it; the others are untouched.
pub async fn touch_sessions_records_each_use<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let first = new_session(alice.id);
    let first_digest = first.digest;
    let first = session(store, first).await;
    let second = new_session(alice.id);
    let second_digest = second.digest;
    let second = session(store, second).await;
    let third = new_session(alice.id);
    let third_digest = third.digest;
    let third = session(store, third).await;
    let at_first = T0 + IDLE - Duration::microseconds(3);
    let at_third = T0 + Duration::minutes(20) + Duration::microseconds(11);
    store
        .touch_sessions(&around(&[(third.id, at_third), (first.id, at_first)]))
        .await
        .expect("touch_sessions");
    store.touch_sessions(&[]).await.expect("an empty batch");
    let now = T0 + Duration::minutes(30);
    assert_eq!(
        live(store, &first_digest, now).await,
        Some(SessionRecord {
            last_seen: at_first,
            ..first.clone()
        })
    );
    assert_eq!(live(store, &second_digest, now).await, Some(second.clone()));
    assert_eq!(
        live(store, &third_digest, now).await,
        Some(SessionRecord {
            last_seen: at_third,
            ..third.clone()
        })
    );
    // Idle from the recorded use: the first and third live on past
    // T0 + IDLE, the second (never touched) does not; the third is idle an
    // IDLE after its use.
    let later = T0 + IDLE + Duration::minutes(1);
    assert!(live(store, &first_digest, later).await.is_some());
    assert_eq!(live(store, &second_digest, later).await, None);
    assert!(live(store, &third_digest, later).await.is_some());
    assert_eq!(
        session_ids(store, alice.id, later).await,
        [first.id, third.id]
    );
    assert_eq!(live(store, &third_digest, at_third + IDLE).await, None);
}

/// `rotate_session` gives the same row a new digest: the old one finds
/// nothing, the new one finds the session with its id, data and times, and
/// `authenticated_at` is set when given and left when not.
pub async fn rotate_session_replaces_the_digest_of_the_same_row<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let old = new.digest;
    let record = session(store, new).await;
    let touched = T0 + Duration::minutes(3);
    store
        .touch_session(record.id, touched)
        .await
        .expect("touch_session");
    let first = SessionKey::generate().digest();
    let proved = T0 + Duration::minutes(4) + Duration::microseconds(9);
    let rotated = store
        .rotate_session(record.id, &first, Some(proved))
        .await
        .expect("rotate_session");
    assert!(rotated);
    assert_eq!(live(store, &old, touched).await, None);
    let expected = SessionRecord {
        last_seen: touched,
        authenticated_at: Some(proved),
        ..record.clone()
    };
    assert_eq!(live(store, &first, touched).await, Some(expected.clone()));
    let second = SessionKey::generate().digest();
    let rotated = store
        .rotate_session(record.id, &second, None)
        .await
        .expect("rotate_session");
    assert!(rotated);
    assert_eq!(live(store, &first, touched).await, None);
    assert_eq!(live(store, &second, touched).await, Some(expected));
    assert_eq!(session_ids(store, alice.id, touched).await, [record.id]);

    let never = NewSession {
        authenticated_at: None,
        ..new_session(alice.id)
    };
    let never = session(store, never).await;
    let third = SessionKey::generate().digest();
    let rotated = store
        .rotate_session(never.id, &third, None)
        .await
        .expect("rotate_session");
    assert!(rotated);
    let found = live(store, &third, T0).await;
    assert_eq!(found.map(|s| s.authenticated_at), Some(None));

    let unknown = store
        .rotate_session(never.id + 1000, &SessionKey::generate().digest(), Some(T0))
        .await
        .expect("rotate_session");
    assert!(!unknown, "an unknown session is not rotated");
}

/// Rotating to a digest another session holds is `Conflict`, and both
/// sessions keep theirs.
pub async fn rotate_session_to_a_taken_digest_is_a_conflict<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let a = new_session(alice.id);
    let a_digest = a.digest;
    let a = session(store, a).await;
    let b = new_session(alice.id);
    let b_digest = b.digest;
    let b = session(store, b).await;
    let result = store.rotate_session(a.id, &b_digest, Some(T0)).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(live(store, &a_digest, T0).await, Some(a));
    assert_eq!(live(store, &b_digest, T0).await, Some(b));
}

/// A session digest already stored is `Conflict`, for any owner.
pub async fn create_session_with_a_taken_digest_is_a_conflict<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = new_session(alice.id);
    let digest = first.digest;
    let record = session(store, first).await;
    for owner in [alice.id, bob.id] {
        let again = NewSession {
            digest,
            ..new_session(owner)
        };
        let result = store.create_session(again).await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    }
    assert_eq!(live(store, &digest, T0).await, Some(record));
}

/// A session for a user that does not exist is refused.
pub async fn create_session_for_an_unknown_user_fails<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id + 1000);
    let digest = new.digest;
    let result = store.create_session(new).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(live(store, &digest, T0).await, None);
}

/// `set_session_data` replaces the data of that session only; the rest of
/// the record is unchanged.
pub async fn set_session_data_replaces_the_data<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    let record = session(store, new).await;
    let other = new_session(alice.id);
    let other_digest = other.digest;
    let other = session(store, other).await;
    let data = json!({"cart": [], "csrf": "x", "n": 2});
    store
        .set_session_data(record.id, data.clone())
        .await
        .expect("set_session_data");
    let expected = SessionRecord {
        data: data.clone(),
        ..record.clone()
    };
    assert_eq!(live(store, &digest, T0).await, Some(expected));
    assert_eq!(live(store, &other_digest, T0).await, Some(other));
    store
        .set_session_data(record.id, json!(null))
        .await
        .expect("set_session_data");
    let found = live(store, &digest, T0).await;
    assert_eq!(found.map(|s| s.data), Some(json!(null)));
    store
        .set_session_data(record.id + 1000, data)
        .await
        .expect("setting an unknown session's data is not an error");
}

/// Deleting without an owner deletes the session; a second delete, or an
/// unknown id, answers `false`.
pub async fn delete_session_deletes_it<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    let record = session(store, new).await;
    let kept = session(store, new_session(alice.id)).await;
    for owner in [None, Some(alice.id)] {
        let deleted = store
            .delete_session(kept.id + 1000, owner)
            .await
            .expect("delete_session");
        assert!(!deleted, "an unknown id");
    }
    let deleted = store
        .delete_session(record.id, None)
        .await
        .expect("delete_session");
    assert!(deleted);
    assert_eq!(live(store, &digest, T0).await, None);
    let deleted = store
        .delete_session(record.id, None)
        .await
        .expect("delete_session");
    assert!(!deleted);
    assert_eq!(session_ids(store, alice.id, T0).await, [kept.id]);
}

/// With an owner, only that owner's session is deleted; another owner's id
/// answers `false` and leaves it.
pub async fn delete_session_with_an_owner_deletes_only_their_session<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    let record = session(store, new).await;
    let deleted = store
        .delete_session(record.id, Some(bob.id))
        .await
        .expect("delete_session");
    assert!(!deleted);
    assert_eq!(live(store, &digest, T0).await, Some(record.clone()));
    let deleted = store
        .delete_session(record.id, Some(alice.id))
        .await
        .expect("delete_session");
    assert!(deleted);
    assert_eq!(live(store, &digest, T0).await, None);
}

/// `delete_user_sessions` deletes every session of the user, dead ones too,
/// but `except`, and counts them; other users' sessions are untouched.
pub async fn delete_user_sessions_deletes_all_but_the_exception<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let current = session(store, new_session(alice.id)).await;
    session(store, new_session(alice.id)).await;
    let dead = NewSession {
        created: T0 - Duration::days(30),
        expires: T0 - Duration::days(16),
        ..new_session(alice.id)
    };
    session(store, dead).await;
    let bobs = session(store, new_session(bob.id)).await;
    let deleted = store
        .delete_user_sessions(alice.id, Some(current.id))
        .await
        .expect("delete_user_sessions");
    assert_eq!(deleted, 2);
    assert_eq!(session_ids(store, alice.id, T0).await, [current.id]);
    assert_eq!(session_ids(store, bob.id, T0).await, [bobs.id]);
    let deleted = store
        .delete_user_sessions(alice.id, Some(bobs.id))
        .await
        .expect("delete_user_sessions");
    assert_eq!(deleted, 1, "another user's id spares nothing of alice's");
    assert!(session_ids(store, alice.id, T0).await.is_empty());
    assert_eq!(session_ids(store, bob.id, T0).await, [bobs.id]);
    let deleted = store
        .delete_user_sessions(bob.id, None)
        .await
        .expect("delete_user_sessions");
    assert_eq!(deleted, 1);
    let deleted = store
        .delete_user_sessions(bob.id, None)
        .await
        .expect("delete_user_sessions");
    assert_eq!(deleted, 0);
}

/// `list_sessions` lists one user's live sessions, oldest first (by id when
/// created together), leaving out idle and absolutely expired ones.
pub async fn list_sessions_is_oldest_first_and_only_live<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let now = T0 + Duration::minutes(30);
    let sessions = [
        ("third", T0 + Duration::seconds(2), T0 + Duration::days(1)),
        (
            "first",
            T0 - Duration::minutes(20),
            now + Duration::microseconds(1),
        ),
        ("second", T0, T0 + Duration::days(1)),
        ("second-too", T0, T0 + Duration::days(1)),
        ("idle", now - IDLE, T0 + Duration::days(1)),
        ("expires-now", T0 - Duration::minutes(10), now),
    ];
    let mut ids = std::collections::BTreeMap::new();
    for (name, created, expires) in sessions {
        let new = NewSession {
            created,
            expires,
            data: json!({ "name": name }),
            ..new_session(alice.id)
        };
        ids.insert(name, session(store, new).await.id);
    }
    let bobs = session(store, new_session(bob.id)).await;
    let listed = store
        .list_sessions(alice.id, now, IDLE)
        .await
        .expect("list_sessions");
    let names: Vec<&str> = listed
        .iter()
        .filter_map(|s| s.data.get("name").and_then(|n| n.as_str()))
        .collect();
    assert_eq!(names, ["first", "second", "second-too", "third"]);
    assert!(ids["second"] < ids["second-too"]);
    assert_eq!(session_ids(store, bob.id, now).await, [bobs.id]);
    let nobody = user(store, "carol").await;
    assert!(session_ids(store, nobody.id, now).await.is_empty());
}

/// `purge_expired_sessions` deletes the sessions that are not live at `now`
/// (idle for the timeout or more, or at or past their expiry), counts them,
/// and keeps the live ones.
pub async fn purge_expired_sessions_deletes_only_dead_ones<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let now = T0 + Duration::days(1);
    let us = Duration::microseconds(1);
    let sessions = [
        (alice.id, now - Duration::days(20), now - Duration::days(6)),
        (bob.id, now - IDLE, now + Duration::days(1)),
        (alice.id, now - Duration::minutes(1), now),
        (alice.id, now - Duration::minutes(1), now - us),
        (alice.id, now - IDLE + us, now + Duration::days(1)),
        (bob.id, now - Duration::minutes(1), now + us),
        (alice.id, now, now + Duration::days(14)),
    ];
    let dead = 4;
    let mut digests = Vec::new();
    for (owner, created, expires) in sessions {
        let new = NewSession {
            created,
            expires,
            ..new_session(owner)
        };
        digests.push((new.digest, created));
        session(store, new).await;
    }
    let purged = store
        .purge_expired_sessions(now, IDLE)
        .await
        .expect("purge_expired_sessions");
    assert_eq!(purged, dead);
    let mut left = Vec::new();
    for (digest, created) in &digests {
        left.push(live(store, digest, *created).await.is_some());
    }
    assert_eq!(left, [false, false, false, false, true, true, true]);
    let again = store
        .purge_expired_sessions(now, IDLE)
        .await
        .expect("purge_expired_sessions");
    assert_eq!(again, 0);
}

// ---------------------------------------------------------------- audit

/// An event of `event` at `time` about `user` (named `username`), from a
/// client with an address, a user agent and a request id, and a reason.
pub fn new_event(
    time: OffsetDateTime,
    event: EventKind,
    user: Option<i64>,
    username: &str,
) -> NewAuditEvent {
    NewAuditEvent {
        time,
        event,
        user,
        username: username.to_owned(),
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        request_id: Some("01HXAMPLE0REQUEST0ID".to_owned()),
        detail: json!({"reason": "bad_password"}),
        route: None,
    }
}

async fn append<S: AuditStore>(store: &S, event: NewAuditEvent) -> AuditRecord {
    store.append(event).await.expect("append")
}

async fn audit_page<S: AuditStore>(store: &S, q: AuditQuery) -> AuditPage {
    store.query(&q).await.expect("query")
}

/// How many events match `q`, and the ids of its page, in order.
async fn audit_ids<S: AuditStore>(store: &S, q: AuditQuery) -> (u64, Vec<i64>) {
    let page = audit_page(store, q).await;
    (page.count, page.events.into_iter().map(|e| e.id).collect())
}

/// A query with these filters and no paging.
fn filtered(
    user: Option<i64>,
    event: Option<EventKind>,
    since: Option<OffsetDateTime>,
) -> AuditQuery {
    AuditQuery {
        user,
        event,
        since,
        ..AuditQuery::default()
    }
}

/// An empty trail lists nothing, and counts nothing.
pub async fn audit_query_of_an_empty_store_is_empty<S: AuditSuite>(store: &S) {
    let page = audit_page(store, AuditQuery::default()).await;
    assert_eq!(page.count, 0);
    assert!(page.events.is_empty());
}

/// `append` returns the event as stored, with a new id, and `query` reads every
/// field back: the full event, and one with nothing optional.
pub async fn append_returns_the_record_that_query_reads_back<S: AuditSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let full = NewAuditEvent {
        detail: json!({"reason": "bad_password", "attempt": 3, "scopes": ["a", "b"]}),
        ..new_event(T0, EventKind::LoginFailed, Some(alice.id), "alice")
    };
    let bare = NewAuditEvent::new(T0 + Duration::seconds(1), EventKind::Throttled);
    let first = append(store, full.clone()).await;
    let second = append(store, bare.clone()).await;
    assert_eq!(first, full.into_record(first.id));
    assert_eq!(second, bare.into_record(second.id));
    assert!(second.id > first.id, "{} then {}", first.id, second.id);
    let page = audit_page(store, AuditQuery::default()).await;
    assert_eq!(page.count, 2);
    assert_eq!(page.events, [second, first]);
}

/// Times are kept to the microsecond: the nanoseconds below are dropped, in
/// what `append` returns as in what `query` reads.
pub async fn audit_times_are_kept_to_the_microsecond<S: AuditSuite>(store: &S) {
    let times = [
        T0,
        T0 + Duration::nanoseconds(999),
        datetime!(1969-12-31 23:59:59.999999 UTC),
        datetime!(2100-01-01 00:00:00.000001 UTC),
    ];
    for time in times {
        let record = append(store, NewAuditEvent::new(time, EventKind::Logout)).await;
        assert_eq!(record.time, truncate_to_micros(time));
        let page = audit_page(store, AuditQuery::default()).await;
        let read = page.events.into_iter().find(|e| e.id == record.id);
        assert_eq!(read, Some(record));
    }
}

/// Every kind is stored and found by its own filter.
pub async fn every_audit_event_kind_round_trips<S: AuditSuite>(store: &S) {
    for kind in EventKind::ALL {
        append(store, new_event(T0, kind, None, "alice")).await;
    }
    for kind in EventKind::ALL {
        let page = audit_page(store, filtered(None, Some(kind), None)).await;
        assert_eq!(page.count, 1, "{kind}");
        assert_eq!(page.events.first().map(|e| e.event), Some(kind));
    }
}

/// The `user` filter keeps exactly that user's events: not another user's,
/// not those without a user.
pub async fn audit_query_filters_by_user<S: AuditSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let a1 = append(
        store,
        new_event(T0, EventKind::LoginSucceeded, Some(alice.id), "alice"),
    )
    .await;
    let b1 = append(
        store,
        new_event(T0, EventKind::LoginSucceeded, Some(bob.id), "bob"),
    )
    .await;
    let a2 = append(
        store,
        new_event(T0, EventKind::Logout, Some(alice.id), "alice"),
    )
    .await;
    let nobody = append(store, new_event(T0, EventKind::LoginFailed, None, "alice")).await;
    assert_eq!(
        audit_ids(store, filtered(Some(alice.id), None, None)).await,
        (2, vec![a2.id, a1.id])
    );
    assert_eq!(
        audit_ids(store, filtered(Some(bob.id), None, None)).await,
        (1, vec![b1.id])
    );
    assert_eq!(
        audit_ids(store, filtered(Some(bob.id + 100), None, None)).await,
        (0, vec![])
    );
    assert_eq!(
        audit_ids(store, AuditQuery::default()).await,
        (4, vec![nobody.id, a2.id, b1.id, a1.id])
    );
}

/// The `event` filter keeps exactly the events of that kind.
pub async fn audit_query_filters_by_event<S: AuditSuite>(store: &S) {
    let failed1 = append(store, new_event(T0, EventKind::LoginFailed, None, "x")).await;
    append(
        store,
        new_event(T0, EventKind::LoginSucceeded, Some(1), "alice"),
    )
    .await;
    let failed2 = append(store, new_event(T0, EventKind::LoginFailed, None, "y")).await;
    append(store, new_event(T0, EventKind::Lockout, None, "y")).await;
    assert_eq!(
        audit_ids(store, filtered(None, Some(EventKind::LoginFailed), None)).await,
        (2, vec![failed2.id, failed1.id])
    );
    assert_eq!(
        audit_ids(store, filtered(None, Some(EventKind::CsrfFailed), None)).await,
        (0, vec![])
    );
}

/// `since` is inclusive, exactly: an event at `since` is listed, one a
/// microsecond before is not, and a `since` between two microseconds falls
/// between them.
pub async fn audit_query_since_is_inclusive<S: AuditSuite>(store: &S) {
    let us = Duration::microseconds(1);
    let before = append(store, NewAuditEvent::new(T0 - us, EventKind::Logout)).await;
    let at = append(store, NewAuditEvent::new(T0, EventKind::Logout)).await;
    let after = append(store, NewAuditEvent::new(T0 + us, EventKind::Logout)).await;
    let since = |t| filtered(None, None, Some(t));
    assert_eq!(
        audit_ids(store, since(T0)).await,
        (2, vec![after.id, at.id])
    );
    assert_eq!(
        audit_ids(store, since(T0 + Duration::nanoseconds(1))).await,
        (1, vec![after.id])
    );
    assert_eq!(
        audit_ids(store, since(T0 - Duration::nanoseconds(1))).await,
        (2, vec![after.id, at.id])
    );
    assert_eq!(
        audit_ids(store, since(T0 - us)).await,
        (3, vec![after.id, at.id, before.id])
    );
    assert_eq!(
        audit_ids(store, since(T0 + Duration::days(1))).await,
        (0, vec![])
    );
}

/// Filters combine: an event is listed only when it passes every filter set.
pub async fn audit_query_filters_combine<S: AuditSuite>(store: &S) {
    let (alice, bob) = (Some(1), Some(2));
    let late = T0 + Duration::hours(1);
    let failed = EventKind::LoginFailed;
    let ok = EventKind::LoginSucceeded;
    let e1 = append(store, new_event(T0, failed, alice, "alice")).await;
    let e2 = append(store, new_event(late, failed, alice, "alice")).await;
    let e3 = append(store, new_event(late, ok, alice, "alice")).await;
    let e4 = append(store, new_event(late, failed, bob, "bob")).await;
    let e5 = append(store, new_event(T0, ok, bob, "bob")).await;
    let cases = [
        (filtered(alice, Some(failed), None), vec![e2.id, e1.id]),
        (filtered(alice, None, Some(late)), vec![e3.id, e2.id]),
        (filtered(None, Some(failed), Some(late)), vec![e4.id, e2.id]),
        (filtered(alice, Some(failed), Some(late)), vec![e2.id]),
        (filtered(bob, Some(ok), Some(late)), vec![]),
        (filtered(bob, Some(ok), Some(T0)), vec![e5.id]),
    ];
    for (q, ids) in cases {
        let expected = (ids.len() as u64, ids);
        assert_eq!(audit_ids(store, q.clone()).await, expected, "{q:?}");
    }
}

/// Events are listed newest first, and events at the same time by id,
/// highest first, whatever order they were appended in.
pub async fn audit_query_is_newest_first_with_ties_by_id<S: AuditSuite>(store: &S) {
    let s = Duration::seconds(1);
    let mut appended = Vec::new();
    for time in [T0 + 2 * s, T0, T0 + s, T0, T0 + 2 * s, T0 - s] {
        let record = append(store, NewAuditEvent::new(time, EventKind::Logout)).await;
        appended.push((record.time, record.id));
    }
    appended.sort_by(|a, b| b.cmp(a));
    let expected: Vec<i64> = appended.into_iter().map(|(_, id)| id).collect();
    assert_eq!(audit_ids(store, AuditQuery::default()).await, (6, expected));
}

/// `offset` and `limit` page through the newest-first list; `count` counts
/// every match, whatever the page.
pub async fn audit_query_pages_with_offset_and_limit_and_counts_all<S: AuditSuite>(store: &S) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let time = T0 + Duration::seconds(i);
        ids.push(
            append(store, NewAuditEvent::new(time, EventKind::Throttled))
                .await
                .id,
        );
    }
    append(store, NewAuditEvent::new(T0, EventKind::Lockout)).await;
    ids.reverse();
    let page = |offset, limit| AuditQuery {
        event: Some(EventKind::Throttled),
        offset,
        limit,
        ..AuditQuery::default()
    };
    assert_eq!(audit_ids(store, page(0, 2)).await, (5, ids[0..2].to_vec()));
    assert_eq!(audit_ids(store, page(2, 2)).await, (5, ids[2..4].to_vec()));
    assert_eq!(audit_ids(store, page(4, 2)).await, (5, ids[4..].to_vec()));
    assert_eq!(audit_ids(store, page(5, 2)).await, (5, vec![]));
    assert_eq!(audit_ids(store, page(1, 0)).await, (5, vec![]));
    assert_eq!(audit_ids(store, page(0, u64::MAX)).await, (5, ids.clone()));
    assert_eq!(
        audit_ids(store, page(u64::MAX, u64::MAX)).await,
        (5, vec![])
    );
    assert_eq!(audit_ids(store, AuditQuery::default()).await.0, 6);
}

/// `append_many` stores every event of the batch, sanitised, with ids in the
/// batch's order; an empty batch stores nothing.
pub async fn append_many_stores_every_event<S: AuditSuite>(store: &S) {
    store.append_many(Vec::new()).await.expect("append_many");
    assert_eq!(audit_ids(store, AuditQuery::default()).await, (0, vec![]));
    let batch = vec![
        new_event(T0, EventKind::LoginFailed, None, "mallory"),
        new_event(T0, EventKind::Lockout, None, &"m".repeat(1000)),
        NewAuditEvent::new(T0 + Duration::nanoseconds(500), EventKind::SecurityAlert),
    ];
    store.append_many(batch.clone()).await.expect("append_many");
    let mut events = audit_page(store, AuditQuery::default()).await.events;
    assert_eq!(events.len(), 3);
    // Same time: newest first is highest id first, the reverse of the batch.
    events.reverse();
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "{events:?}");
    for (read, new) in events.into_iter().zip(batch) {
        assert_eq!(read.clone(), new.sanitized().into_record(read.id));
    }
    assert_eq!(
        audit_page(store, AuditQuery::default()).await.events[1].username,
        "m".repeat(MAX_USERNAME_CHARS)
    );
}

/// A batch larger than a SQL store writes in one statement (512 events) is
/// stored whole, in order.
pub async fn append_many_stores_a_large_batch_in_order<S: AuditSuite>(store: &S) {
    let batch: Vec<NewAuditEvent> = (0..1100)
        .map(|i| new_event(T0, EventKind::LoginFailed, Some(i), &format!("u{i}")))
        .collect();
    store.append_many(batch).await.expect("append_many");
    let page = audit_page(store, AuditQuery::default()).await;
    assert_eq!(page.count, 1100);
    let mut events = page.events;
    events.sort_by_key(|e| e.id);
    let users: Vec<Option<i64>> = events.iter().map(|e| e.user).collect();
    assert_eq!(users, (0..1100).map(Some).collect::<Vec<_>>());
    assert!(events
        .iter()
        .all(|e| e.username == format!("u{}", e.user.unwrap_or(-1))));
}

/// Long text is cut to its limit in characters (not bytes), text at the limit
/// is kept whole, control characters are kept, and NUL becomes U+FFFD.
pub async fn audit_long_fields_are_truncated<S: AuditSuite>(store: &S) {
    let long = NewAuditEvent {
        username: "ü".repeat(MAX_USERNAME_CHARS + 44),
        ip: Some("1".repeat(MAX_IP_CHARS + 1)),
        user_agent: Some(format!("a\0b\r\nc\u{1b}[31m{}", "x".repeat(600))),
        request_id: Some("r".repeat(MAX_REQUEST_ID_CHARS * 2)),
        ..new_event(T0, EventKind::LoginFailed, None, "")
    };
    let record = append(store, long).await;
    assert_eq!(record.username, "ü".repeat(MAX_USERNAME_CHARS));
    assert_eq!(record.ip, Some("1".repeat(MAX_IP_CHARS)));
    let agent = record.user_agent.clone().unwrap_or_default();
    assert_eq!(agent.chars().count(), MAX_USER_AGENT_CHARS);
    assert!(
        agent.starts_with("a\u{FFFD}b\r\nc\u{1b}[31mxxx"),
        "{agent:?}"
    );
    assert_eq!(record.request_id, Some("r".repeat(MAX_REQUEST_ID_CHARS)));

    let exact = NewAuditEvent {
        username: "\u{1F600}".repeat(MAX_USERNAME_CHARS),
        user_agent: Some("y".repeat(MAX_USER_AGENT_CHARS)),
        ..new_event(T0, EventKind::LoginFailed, None, "")
    };
    let kept = append(store, exact.clone()).await;
    assert_eq!(kept, exact.into_record(kept.id));

    let page = audit_page(store, AuditQuery::default()).await;
    assert_eq!(page.events, [kept, record]);
}

/// `detail` round-trips as JSON: objects, nesting, every kind of value, and
/// details that are not objects; one too big is replaced.
pub async fn audit_detail_round_trips<S: AuditSuite>(store: &S) {
    let cases = [
        json!({}),
        json!({
            "nested": {"list": [1, -2, 3.5, null, true, false, "ü\"\\"], "empty": []},
            "big": u64::MAX,
            "small": i64::MIN,
            "text": "line\nbreak\ttab\u{0}nul \u{1F600}",
            "": "empty key",
        }),
        json!(null),
        json!("just a string"),
        json!([1, "two", {"three": 3}]),
    ];
    for detail in cases {
        let new = NewAuditEvent {
            detail: detail.clone(),
            ..NewAuditEvent::new(T0, EventKind::SecurityAlert)
        };
        let record = append(store, new).await;
        assert_eq!(record.detail, detail);
        let read = audit_page(store, AuditQuery::default()).await.events;
        let read = read.into_iter().find(|e| e.id == record.id);
        assert_eq!(read.map(|e| e.detail), Some(detail));
    }
    let huge = NewAuditEvent {
        detail: json!({"reason": "x".repeat(MAX_DETAIL_BYTES)}),
        ..NewAuditEvent::new(T0, EventKind::SecurityAlert)
    };
    let record = append(store, huge).await;
    assert_eq!(record.detail, json!({"truncated": true}));
    let page = audit_page(store, filtered(None, None, None)).await;
    assert_eq!(page.events.first(), Some(&record));
}

/// Events may name a user id that no user has (events outlive users): they
/// are stored, and found by that id.
pub async fn audit_events_of_unknown_users_are_kept<S: AuditSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let ghost = alice.id + 1_000;
    let record = append(
        store,
        new_event(T0, EventKind::Logout, Some(ghost), "ghost"),
    )
    .await;
    assert_eq!(record.user, Some(ghost));
    store
        .append_many(vec![new_event(
            T0,
            EventKind::Lockout,
            Some(ghost),
            "ghost",
        )])
        .await
        .expect("append_many");
    let page = audit_page(store, filtered(Some(ghost), None, None)).await;
    assert_eq!(page.count, 2);
    assert!(page
        .events
        .iter()
        .all(|e| e.user == Some(ghost) && e.username == "ghost"));
}

// ---------------------------------------------------------------- aggregation, retention

/// The aggregation window the suite uses.
const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// An anonymous `kind` event at `time` from `ip` on `route`, `count` times.
fn noise(
    time: OffsetDateTime,
    kind: EventKind,
    ip: &str,
    route: &str,
    count: u64,
) -> AggregatedEvents {
    let first = NewAuditEvent {
        ip: Some(ip.to_owned()),
        user_agent: Some(format!("agent at {time}")),
        request_id: Some(format!("req-{}", time.unix_timestamp_nanos())),
        detail: json!({"scope": "anon"}),
        route: Some(route.to_owned()),
        ..NewAuditEvent::new(time, kind)
    };
    assert!(first.is_aggregated());
    AggregatedEvents {
        count,
        ..AggregatedEvents::new(first, WINDOW)
    }
}

/// Each aggregated row's (kind, ip, route, count), sorted.
async fn aggregated_rows<S: AuditStore>(store: &S) -> Vec<(EventKind, String, String, u64)> {
    let mut rows: Vec<_> = all_events(store)
        .await
        .into_iter()
        .map(|e| {
            (
                e.event,
                e.ip.unwrap_or_default(),
                e.detail["route"].as_str().unwrap_or_default().to_owned(),
                e.detail["count"].as_u64().expect("a count"),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Counts of one (kind, address, route, window) go into one row, made of
/// the first event and keeping it as later counts are added; entries of one
/// key in one call are summed; a different kind, address, route or window is
/// another row.
pub async fn aggregated_events_add_up_in_one_row_per_key<S: AuditSuite>(store: &S) {
    store
        .add_aggregated(Vec::new())
        .await
        .expect("add_aggregated");
    assert_eq!(audit_ids(store, AuditQuery::default()).await, (0, vec![]));
    // T0 is 07:08:09.123456; its window is [07:08:00, 07:09:00).
    let route = "/api/example/";
    let first = noise(T0, EventKind::Throttled, "203.0.113.7", route, 3);
    store
        .add_aggregated(vec![first.clone()])
        .await
        .expect("add_aggregated");
    let stored = all_events(store).await;
    assert_eq!(stored.len(), 1);
    let row = &stored[0];
    assert_eq!(row.time, T0);
    assert_eq!(row.event, EventKind::Throttled);
    assert_eq!((row.user, row.username.as_str()), (None, ""));
    assert_eq!(row.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(row.user_agent, first.first.user_agent);
    assert_eq!(row.request_id, first.first.request_id);
    assert_eq!(
        row.detail,
        json!({"scope": "anon", "route": route, "count": 3})
    );

    let later = T0 + Duration::seconds(50);
    store
        .add_aggregated(vec![
            noise(later, EventKind::Throttled, "203.0.113.7", route, 2),
            noise(later, EventKind::Throttled, "203.0.113.7", route, 4),
        ])
        .await
        .expect("add_aggregated");
    let stored = all_events(store).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].id, row.id);
    assert_eq!(stored[0].time, T0);
    assert_eq!(stored[0].user_agent, row.user_agent);
    assert_eq!(stored[0].detail["count"], 9);

    let next_window = datetime!(2024-05-06 07:09:00 UTC);
    store
        .add_aggregated(vec![
            noise(T0, EventKind::Throttled, "203.0.113.8", route, 1),
            noise(T0, EventKind::Throttled, "203.0.113.7", "/api/public/", 5),
            noise(T0, EventKind::CsrfFailed, "203.0.113.7", route, 6),
            noise(next_window, EventKind::Throttled, "203.0.113.7", route, 7),
        ])
        .await
        .expect("add_aggregated");
    assert_eq!(
        aggregated_rows(store).await,
        [
            (
                EventKind::Throttled,
                "203.0.113.7".into(),
                "/api/example/".into(),
                7
            ),
            (
                EventKind::Throttled,
                "203.0.113.7".into(),
                "/api/example/".into(),
                9
            ),
            (
                EventKind::Throttled,
                "203.0.113.7".into(),
                "/api/public/".into(),
                5
            ),
            (
                EventKind::Throttled,
                "203.0.113.8".into(),
                "/api/example/".into(),
                1
            ),
            (
                EventKind::CsrfFailed,
                "203.0.113.7".into(),
                "/api/example/".into(),
                6
            ),
        ]
    );
    // Aggregated rows are listed and filtered like any other.
    let csrf = audit_page(store, filtered(None, Some(EventKind::CsrfFailed), None)).await;
    assert_eq!(csrf.count, 1);
    assert_eq!(csrf.events[0].detail["count"], 6);
    let since = audit_page(store, filtered(None, None, Some(next_window))).await;
    assert_eq!(since.count, 1);
    assert_eq!(since.events[0].detail["count"], 7);
}

/// A `detail` that is not an object is kept under `"detail"`, beside the
/// route and the count; an event without an address has a row of its own.
pub async fn aggregated_rows_keep_any_detail<S: AuditSuite>(store: &S) {
    let mut entry = noise(T0, EventKind::PermissionDenied, "ignored", "/r", 1);
    entry.first.ip = None;
    entry.first.detail = json!("text");
    store
        .add_aggregated(vec![entry.clone(), entry])
        .await
        .expect("add_aggregated");
    let mut plain = noise(T0, EventKind::PermissionDenied, "ignored", "/r", 1);
    plain.first.ip = None;
    plain.first.detail = serde_json::Value::Null;
    plain.first.event = EventKind::LoginFailed;
    store
        .add_aggregated(vec![plain])
        .await
        .expect("add_aggregated");
    let events = all_events(store).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].ip, None);
    assert_eq!(
        events[0].detail,
        json!({"detail": "text", "route": "/r", "count": 2})
    );
    assert_eq!(events[1].detail, json!({"route": "/r", "count": 1}));
}

/// Many writers adding to one key at once (as several processes do) make one
/// row whose count is the sum.
pub async fn aggregated_rows_are_one_under_concurrency<S: AuditSuite + Clone>(store: &S) {
    let adds = spawn_all(store, 0..40i64, |store, i| async move {
        let time = T0 + Duration::milliseconds(i);
        store
            .add_aggregated(vec![noise(
                time,
                EventKind::Throttled,
                "198.51.100.1",
                "/x",
                5,
            )])
            .await
    })
    .await;
    for result in adds {
        result.expect("add_aggregated");
    }
    assert_eq!(
        aggregated_rows(store).await,
        [(
            EventKind::Throttled,
            "198.51.100.1".into(),
            "/x".into(),
            200
        )]
    );
}

/// Retention deletes exactly the events before the cut-off, aggregated rows
/// included, and says how many; a key whose row was deleted starts a new row.
pub async fn delete_events_before_removes_only_older_events<S: AuditSuite>(store: &S) {
    assert_eq!(store.delete_events_before(T0).await.expect("delete"), 0);
    let us = Duration::microseconds(1);
    let old = append(
        store,
        NewAuditEvent::new(T0 - Duration::days(400), EventKind::Logout),
    )
    .await;
    let just_before = append(store, new_event(T0 - us, EventKind::LoginFailed, None, "x")).await;
    let at = append(store, new_event(T0, EventKind::LoginFailed, None, "y")).await;
    let after = append(store, NewAuditEvent::new(T0 + us, EventKind::Logout)).await;
    let early = T0 - Duration::seconds(1);
    store
        .add_aggregated(vec![noise(
            early,
            EventKind::Throttled,
            "203.0.113.7",
            "/r",
            4,
        )])
        .await
        .expect("add_aggregated");
    assert_eq!(audit_ids(store, AuditQuery::default()).await.0, 5);

    assert_eq!(store.delete_events_before(T0).await.expect("delete"), 3);
    let mut left: Vec<i64> = all_events(store).await.iter().map(|e| e.id).collect();
    left.sort_unstable();
    assert_eq!(left, [at.id, after.id]);
    assert!(![old.id, just_before.id].iter().any(|id| left.contains(id)));
    assert_eq!(store.delete_events_before(T0).await.expect("delete"), 0);

    // The same key again: a fresh row with only the new count.
    store
        .add_aggregated(vec![noise(
            early,
            EventKind::Throttled,
            "203.0.113.7",
            "/r",
            2,
        )])
        .await
        .expect("add_aggregated");
    let rows = audit_page(store, filtered(None, Some(EventKind::Throttled), None)).await;
    assert_eq!(rows.count, 1);
    assert_eq!(rows.events[0].detail["count"], 2);
}

/// Retention on a trail larger than one deleting statement (10,000 events
/// in a SQL store) deletes all of it.
pub async fn delete_events_before_deletes_a_large_trail<S: AuditSuite>(store: &S) {
    let batch: Vec<NewAuditEvent> = (0..10_500)
        .map(|i| NewAuditEvent::new(T0 - Duration::seconds(i + 1), EventKind::Logout))
        .collect();
    for chunk in batch.chunks(2_000) {
        store
            .append_many(chunk.to_vec())
            .await
            .expect("append_many");
    }
    append(store, NewAuditEvent::new(T0, EventKind::Logout)).await;
    assert_eq!(
        store.delete_events_before(T0).await.expect("delete"),
        10_500
    );
    assert_eq!(audit_ids(store, AuditQuery::default()).await.0, 1);
}

// ---------------------------------------------------------------- audited writes

/// Every stored event, oldest first.
async fn all_events<S: AuditStore>(store: &S) -> Vec<AuditRecord> {
    let mut events = audit_page(store, AuditQuery::default()).await.events;
    events.sort_by_key(|e| e.id);
    events
}

/// What the store keeps of `event` as its only event so far: `event`,
/// sanitised, with the id it was given.
async fn only_event<S: AuditStore>(store: &S, event: NewAuditEvent) -> AuditRecord {
    let events = all_events(store).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let stored = events[0].clone();
    assert_eq!(stored, event.sanitized().into_record(stored.id));
    stored
}

/// An event at a time with a sub-microsecond part, which a store drops.
fn audited_event(event: EventKind, user: Option<i64>, username: &str) -> NewAuditEvent {
    NewAuditEvent {
        detail: json!({"via": "suite"}),
        ..new_event(T0 + Duration::nanoseconds(700), event, user, username)
    }
}

/// `create_user_audited` stores the user and its event, whose `user` is the
/// new user's id (whatever it was given), and returns the user as stored.
pub async fn create_user_audited_stores_the_user_and_its_event<S: Store>(store: &S) {
    let event = audited_event(EventKind::UserCreated, Some(999_999), "admin");
    let alice = store
        .create_user_audited(new_user("alice"), event.clone())
        .await
        .expect("create_user_audited");
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.date_joined, T0);
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(read, Some(alice.clone()));
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.password_hash, "argon2id$hash-of-alice");
    let stored = only_event(
        store,
        NewAuditEvent {
            user: Some(alice.id),
            ..event
        },
    )
    .await;
    assert_eq!(stored.time, T0);
    assert_eq!(stored.username, "admin");
}

/// A taken username is `Conflict`: no user, and no event.
pub async fn create_user_audited_with_a_taken_username_writes_no_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let event = audited_event(EventKind::UserCreated, None, "alice");
    let result = store.create_user_audited(new_user("alice"), event).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        usernames(store, None, 0, 10).await,
        (1, vec!["alice".to_owned()])
    );
    assert_eq!(
        store.user_by_id(alice.id).await.expect("user_by_id"),
        Some(alice)
    );
    assert!(all_events(store).await.is_empty());
}

/// `update_user_audited` applies the update, writes its event, and returns
/// the updated user.
pub async fn update_user_audited_updates_the_user_and_writes_its_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let update = UserUpdate {
        password_hash: Some("argon2id$new".to_owned()),
        is_staff: Some(true),
        ..UserUpdate::default()
    };
    let event = audited_event(EventKind::PasswordChanged, Some(alice.id), "alice");
    let updated = store
        .update_user_audited(alice.id, update, event.clone())
        .await
        .expect("update_user_audited");
    let expected = User {
        is_staff: true,
        ..alice.clone()
    };
    assert_eq!(updated, Some(expected.clone()));
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.user, expected);
    assert_eq!(credentials.password_hash, "argon2id$new");
    only_event(store, event).await;
}

/// No such user: `None`, and no event.
pub async fn update_user_audited_of_an_unknown_user_writes_no_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let update = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    let event = audited_event(EventKind::UserUpdated, Some(alice.id + 1), "ghost");
    let updated = store
        .update_user_audited(alice.id + 1, update, event)
        .await
        .expect("update_user_audited");
    assert_eq!(updated, None);
    assert!(all_events(store).await.is_empty());
    assert_eq!(
        store.user_by_id(alice.id).await.expect("user_by_id"),
        Some(alice)
    );
}

/// `create_token_audited` stores the token and its event, with the token's id
/// added to an object `detail` (and any other `detail` kept as it is), and
/// returns the token as stored.
pub async fn create_token_audited_stores_the_token_and_its_event_with_its_id<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let new = NewToken {
        expires: Some(T0 + Duration::days(1) + Duration::nanoseconds(1)),
        scopes: vec!["read".to_owned()],
        authenticated_at: Some(T0),
        ..new_token(alice.id, "ci")
    };
    let digest = new.digest;
    let event = NewAuditEvent {
        detail: json!({"name": "ci", "token_id": "forged"}),
        ..audited_event(EventKind::TokenCreated, Some(alice.id), "alice")
    };
    let record = store
        .create_token_audited(new, Some(5), event.clone())
        .await
        .expect("create_token_audited")
        .expect("under the cap");
    assert_eq!(record.name, "ci");
    assert_eq!(record.expires, Some(T0 + Duration::days(1)));
    let read = store.token_by_id(record.id).await.expect("token_by_id");
    assert_eq!(read, Some(record.clone()));
    let found = store.find_token(&digest, T0).await.expect("find_token");
    assert_eq!(found.map(|(t, _)| t), Some(record.clone()));
    let stored = only_event(
        store,
        NewAuditEvent {
            detail: json!({"name": "ci", "token_id": record.id}),
            ..event
        },
    )
    .await;
    assert_eq!(stored.detail["token_id"], json!(record.id));

    for detail in [json!(null), json!(["ci"]), json!("ci")] {
        let event = NewAuditEvent {
            detail: detail.clone(),
            ..audited_event(EventKind::TokenCreated, Some(alice.id), "alice")
        };
        let other = store
            .create_token_audited(new_token(alice.id, "other"), None, event)
            .await
            .expect("create_token_audited")
            .expect("no cap");
        let events = all_events(store).await;
        let last = events.last().expect("an event");
        assert_eq!(last.detail, detail, "token {}", other.id);
    }
    assert_eq!(all_events(store).await.len(), 4);
    assert_eq!(token_names(store, alice.id, T0).await.len(), 4);
}

/// A token refused by the cap is `None`: no token, and no event. A token
/// that cannot be stored at all (unknown owner, taken digest) is an error,
/// and no event either.
pub async fn create_token_audited_refused_or_failed_writes_no_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let event = audited_event(EventKind::TokenCreated, Some(alice.id), "alice");
    let first = new_token(alice.id, "first");
    let taken = first.digest;
    store
        .create_token_audited(first, Some(1), event.clone())
        .await
        .expect("create_token_audited")
        .expect("under the cap");
    let refused = store
        .create_token_audited(new_token(alice.id, "second"), Some(1), event.clone())
        .await
        .expect("create_token_audited");
    assert_eq!(refused, None);
    let orphan = store
        .create_token_audited(new_token(alice.id + 1, "orphan"), None, event.clone())
        .await;
    assert!(orphan.is_err(), "{orphan:?}");
    let twin = NewToken {
        digest: taken,
        ..new_token(alice.id, "twin")
    };
    let twin = store.create_token_audited(twin, None, event).await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");
    assert_eq!(token_names(store, alice.id, T0).await, ["first"]);
    assert_eq!(all_events(store).await.len(), 1);
}

/// Concurrent `create_token_audited` calls with a cap store exactly the cap's
/// worth of tokens per user, and one event for each token stored.
pub async fn create_token_audited_cap_is_atomic_under_concurrency<S: Store + Clone>(store: &S) {
    let users = four_users(store).await;
    let attempts = users
        .iter()
        .flat_map(|&owner| (0..20).map(move |i| (owner, i)));
    let stored = spawn_all(store, attempts, |store, (owner, i)| async move {
        let event = NewAuditEvent {
            detail: json!({}),
            ..audited_event(EventKind::TokenCreated, Some(owner), "")
        };
        store
            .create_token_audited(new_token(owner, &format!("t{i}")), Some(5), event)
            .await
    })
    .await
    .into_iter()
    .filter_map(|result| result.expect("create_token_audited"));
    assert_five_tokens_each_audited(store, &users, stored).await;
}

/// Four users: alice, bob, carol and dave; their ids.
async fn four_users<S: UserStore>(store: &S) -> Vec<i64> {
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        users.push(user(store, name).await.id);
    }
    users
}

/// The tokens `stored` by concurrent calls under a cap of 5 are five for each
/// of `users`, exactly the ones the store lists, each with one
/// `token_created` event naming it.
async fn assert_five_tokens_each_audited<S: Store>(
    store: &S,
    users: &[i64],
    stored: impl Iterator<Item = TokenRecord>,
) {
    let mut by_owner = std::collections::BTreeMap::new();
    for record in stored {
        by_owner
            .entry(record.user_id)
            .or_insert_with(Vec::new)
            .push(record.id);
    }
    for &owner in users {
        let mut ids = by_owner.get(&owner).cloned().unwrap_or_default();
        ids.sort_unstable();
        assert_eq!(ids.len(), 5, "user {owner}: {by_owner:?}");
        let mut listed: Vec<i64> = store
            .list_tokens(owner, T0)
            .await
            .expect("list_tokens")
            .into_iter()
            .map(|t| t.id)
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, ids, "user {owner}");
        let filter = filtered(Some(owner), Some(EventKind::TokenCreated), None);
        let events = audit_page(store, filter).await;
        let mut audited: Vec<i64> = events
            .events
            .iter()
            .filter_map(|e| e.detail["token_id"].as_i64())
            .collect();
        audited.sort_unstable();
        assert_eq!(events.count, 5, "user {owner}");
        assert_eq!(audited, ids, "user {owner}");
    }
}

/// A [`LoginWrite`] for `user_id` at a time with a sub-microsecond part,
/// with a token named `token` when given, under `cap`.
fn login_write(user_id: i64, token: Option<&str>, cap: Option<u64>) -> LoginWrite {
    LoginWrite {
        user_id,
        at: T0 + Duration::minutes(5) + Duration::nanoseconds(300),
        event: audited_event(EventKind::LoginSucceeded, Some(user_id), "alice"),
        token: token.map(|name| TokenWrite {
            new: new_token(user_id, name),
            max_per_user: cap,
            event: NewAuditEvent {
                detail: json!({"name": name}),
                ..audited_event(EventKind::TokenCreated, Some(user_id), "alice")
            },
        }),
        rehash: None,
        session: None,
    }
}

async fn stored_hash<S: UserStore>(store: &S, username: &str) -> Option<String> {
    store
        .credentials_by_username(username)
        .await
        .expect("credentials_by_username")
        .map(|c| c.password_hash)
}

/// `record_login` with a [`Rehash`] replaces the password hash in the same
/// transaction, but only while the stored hash is the one checked: a
/// password changed meanwhile is kept.
pub async fn record_login_upgrades_the_checked_hash_only<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let django = new_user("alice").password_hash;
    let login = LoginWrite {
        rehash: Some(Rehash {
            from: django.clone(),
            to: "$argon2id$upgraded".to_owned(),
        }),
        ..login_write(alice.id, None, None)
    };
    let written = store.record_login(login).await.expect("record_login");
    assert_eq!(written, LoginWritten::Recorded(None));
    assert_eq!(
        stored_hash(store, "alice").await.as_deref(),
        Some("$argon2id$upgraded")
    );
    // A second login that checked the old hash (raced with a password
    // change) does not overwrite the hash now stored.
    let stale = LoginWrite {
        rehash: Some(Rehash {
            from: django,
            to: "$argon2id$stale".to_owned(),
        }),
        ..login_write(alice.id, None, None)
    };
    let written = store.record_login(stale).await.expect("record_login");
    assert_eq!(written, LoginWritten::Recorded(None));
    assert_eq!(
        stored_hash(store, "alice").await.as_deref(),
        Some("$argon2id$upgraded")
    );
}

/// `record_login` with a session stores it with the login and its event, in
/// one write: the session as a later read finds it, `last_login` set, the
/// `login_succeeded` event written. A login with both a token and a session
/// is refused and writes nothing.
pub async fn record_login_opens_the_session_with_the_login<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let new = new_session(alice.id);
    let digest = new.digest;
    let both = LoginWrite {
        session: Some(new.clone()),
        ..login_write(alice.id, Some("api-token-auth"), None)
    };
    assert!(
        matches!(store.record_login(both).await, Err(StoreError::Other(_))),
        "a token and a session at once"
    );
    let nothing = store.query(&AuditQuery::default()).await.expect("query");
    assert_eq!(nothing.count, 0, "{:?}", nothing.events);
    let login = LoginWrite {
        session: Some(new),
        ..login_write(alice.id, None, None)
    };
    let at = login.at;
    let written = store.record_login(login).await.expect("record_login");
    let LoginWritten::RecordedSession(session) = written else {
        panic!("no session: {written:?}");
    };
    let (found, owner) = store
        .find_session(&digest, T0, IDLE)
        .await
        .expect("find_session")
        .expect("the session is stored");
    assert_eq!(found, session);
    assert_eq!(owner.id, alice.id);
    assert_eq!(owner.last_login, Some(truncate_to_micros(at)));
    let events = store.query(&AuditQuery::default()).await.expect("query");
    let kinds: Vec<EventKind> = events.events.iter().map(|e| e.event).collect();
    assert_eq!(kinds, [EventKind::LoginSucceeded]);
    assert_eq!(events.events[0].user, Some(alice.id));
}

/// `record_login` sets `last_login`, writes the login's event and, when asked,
/// stores the token and its event (with the token's id), the login's first;
/// it returns the token as stored.
pub async fn record_login_writes_the_login_and_its_token<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let login = login_write(alice.id, Some("api-token-auth"), Some(5));
    let digest = login.token.as_ref().map(|t| t.new.digest).expect("a token");
    let written = store
        .record_login(login.clone())
        .await
        .expect("record_login");
    let LoginWritten::Recorded(Some(record)) = written else {
        panic!("the login and its token were recorded: {written:?}");
    };
    assert_eq!(record.user_id, alice.id);
    assert_eq!(record.name, "api-token-auth");
    let found = store.find_token(&digest, T0).await.expect("find_token");
    let (found, owner) = found.expect("the token is stored");
    assert_eq!(found, record);
    assert_eq!(owner.last_login, Some(T0 + Duration::minutes(5)));
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(
        read.and_then(|u| u.last_login),
        Some(T0 + Duration::minutes(5))
    );
    let events = all_events(store).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].id < events[1].id);
    assert_eq!(events[0], login.event.sanitized().into_record(events[0].id));
    let token_event = login.token.map(|t| t.event).expect("a token");
    assert_eq!(
        events[1],
        NewAuditEvent {
            detail: json!({"name": "api-token-auth", "token_id": record.id}),
            ..token_event
        }
        .sanitized()
        .into_record(events[1].id)
    );
}

/// Without a token, `record_login` writes the login time and its event only.
pub async fn record_login_without_a_token_writes_the_login_only<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let login = login_write(alice.id, None, None);
    let written = store
        .record_login(login.clone())
        .await
        .expect("record_login");
    assert_eq!(written, LoginWritten::Recorded(None));
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(
        read.and_then(|u| u.last_login),
        Some(T0 + Duration::minutes(5))
    );
    only_event(store, login.event).await;
    assert!(token_names(store, alice.id, T0).await.is_empty());
}

/// A token refused by the cap leaves the login recorded, without the token or
/// its event; a login of a user that no longer exists writes nothing.
pub async fn record_login_past_the_cap_or_of_no_user<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    token(store, new_token(alice.id, "held")).await;
    let login = login_write(alice.id, Some("refused"), Some(1));
    let written = store
        .record_login(login.clone())
        .await
        .expect("record_login");
    assert_eq!(written, LoginWritten::Recorded(None));
    assert_eq!(token_names(store, alice.id, T0).await, ["held"]);
    only_event(store, login.event).await;
    let read = store.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(
        read.and_then(|u| u.last_login),
        Some(T0 + Duration::minutes(5))
    );

    let nobody = login_write(alice.id + 1, Some("orphan"), None);
    let written = store.record_login(nobody).await.expect("record_login");
    assert_eq!(written, LoginWritten::NoSuchUser);
    assert_eq!(all_events(store).await.len(), 1);
}

/// Concurrent logins that obtain tokens under a cap store exactly the cap's
/// worth of tokens per user, one event for each, and every login's event.
pub async fn record_login_cap_is_atomic_under_concurrency<S: Store + Clone>(store: &S) {
    let users = four_users(store).await;
    let logins = users
        .iter()
        .flat_map(|&owner| (0..12).map(move |i| (owner, i)));
    let logins = spawn_all(store, logins, |store, (owner, i)| async move {
        store
            .record_login(login_write(owner, Some(&format!("t{i}")), Some(5)))
            .await
    })
    .await;
    let stored = logins
        .into_iter()
        .filter_map(|result| match result.expect("record_login") {
            LoginWritten::Recorded(record) => record,
            LoginWritten::NoSuchUser => panic!("every user exists"),
            LoginWritten::RecordedSession(_) => panic!("no session was asked for"),
        });
    assert_five_tokens_each_audited(store, &users, stored).await;
    for owner in users {
        let filter = filtered(Some(owner), Some(EventKind::LoginSucceeded), None);
        assert_eq!(audit_page(store, filter).await.count, 12, "user {owner}");
    }
}

/// `delete_token_audited` deletes the token and writes its event.
pub async fn delete_token_audited_deletes_the_token_and_writes_its_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let kept = token(store, new_token(alice.id, "kept")).await;
    let gone = token(store, new_token(alice.id, "gone")).await;
    let event = NewAuditEvent {
        detail: json!({"token_id": gone.id}),
        ..audited_event(EventKind::TokenRevoked, Some(alice.id), "alice")
    };
    let deleted = store
        .delete_token_audited(gone.id, Some(alice.id), event.clone())
        .await
        .expect("delete_token_audited");
    assert!(deleted);
    assert_eq!(store.token_by_id(gone.id).await.expect("token_by_id"), None);
    assert_eq!(
        store.token_by_id(kept.id).await.expect("token_by_id"),
        Some(kept)
    );
    only_event(store, event).await;
    let deleted = store
        .delete_token_audited(
            gone.id,
            None,
            audited_event(EventKind::TokenRevoked, None, ""),
        )
        .await
        .expect("delete_token_audited");
    assert!(!deleted, "deleted already");
    assert_eq!(all_events(store).await.len(), 1);
}

/// Nothing deleted (no such token, or another user's): `false`, the token
/// is kept, and no event.
pub async fn delete_token_audited_that_deletes_nothing_writes_no_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let record = token(store, new_token(alice.id, "mine")).await;
    let event = audited_event(EventKind::TokenRevoked, Some(bob.id), "bob");
    for (id, owner) in [(record.id, Some(bob.id)), (record.id + 1, None)] {
        let deleted = store
            .delete_token_audited(id, owner, event.clone())
            .await
            .expect("delete_token_audited");
        assert!(!deleted, "token {id}, owner {owner:?}");
    }
    assert_eq!(
        store.token_by_id(record.id).await.expect("token_by_id"),
        Some(record)
    );
    assert!(all_events(store).await.is_empty());
}

/// `delete_session_audited` deletes the session and writes its event.
pub async fn delete_session_audited_deletes_the_session_and_writes_its_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let kept = session(store, new_session(alice.id)).await;
    let gone = session(store, new_session(alice.id)).await;
    let event = audited_event(EventKind::SessionRevoked, Some(alice.id), "alice");
    let deleted = store
        .delete_session_audited(gone.id, Some(alice.id), event.clone())
        .await
        .expect("delete_session_audited");
    assert!(deleted);
    assert_eq!(session_ids(store, alice.id, T0).await, [kept.id]);
    only_event(store, event).await;
}

/// Nothing deleted (no such session, or another user's): `false`, the
/// session is kept, and no event.
pub async fn delete_session_audited_that_deletes_nothing_writes_no_event<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let record = session(store, new_session(alice.id)).await;
    let event = audited_event(EventKind::SessionRevoked, Some(bob.id), "bob");
    for (id, owner) in [(record.id, Some(bob.id)), (record.id + 1, None)] {
        let deleted = store
            .delete_session_audited(id, owner, event.clone())
            .await
            .expect("delete_session_audited");
        assert!(!deleted, "session {id}, owner {owner:?}");
    }
    assert_eq!(session_ids(store, alice.id, T0).await, [record.id]);
    assert!(all_events(store).await.is_empty());
}

/// `delete_user_credentials_audited` deletes the user's sessions and tokens,
/// dead ones too, but the exceptions, counts each, and writes its event;
/// other users' credentials are untouched.
pub async fn delete_user_credentials_audited_deletes_all_but_the_exceptions<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let current_session = session(store, new_session(alice.id)).await;
    session(store, new_session(alice.id)).await;
    let dead = NewSession {
        created: T0 - Duration::days(30),
        expires: T0 - Duration::days(16),
        ..new_session(alice.id)
    };
    session(store, dead).await;
    let current_token = token(store, new_token(alice.id, "current")).await;
    token(store, new_token(alice.id, "other")).await;
    let expired = NewToken {
        created: T0 - Duration::days(2),
        expires: Some(T0 - Duration::days(1)),
        ..new_token(alice.id, "expired")
    };
    token(store, expired).await;
    let bobs_session = session(store, new_session(bob.id)).await;
    let bobs_token = token(store, new_token(bob.id, "bob's")).await;

    let changed = audited_event(EventKind::PasswordChanged, Some(alice.id), "alice");
    let deleted = store
        .delete_user_credentials_audited(
            alice.id,
            Some(current_session.id),
            Some(current_token.id),
            changed.clone(),
        )
        .await
        .expect("delete_user_credentials_audited");
    assert_eq!(deleted, (2, 2));
    assert_eq!(session_ids(store, alice.id, T0).await, [current_session.id]);
    assert_eq!(token_names(store, alice.id, T0).await, ["current"]);
    assert_eq!(session_ids(store, bob.id, T0).await, [bobs_session.id]);
    assert_eq!(
        store.token_by_id(bobs_token.id).await.expect("token_by_id"),
        Some(bobs_token)
    );
    only_event(store, changed).await;

    let logout = audited_event(EventKind::Logout, Some(alice.id), "alice");
    let deleted = store
        .delete_user_credentials_audited(alice.id, None, None, logout)
        .await
        .expect("delete_user_credentials_audited");
    assert_eq!(deleted, (1, 1));
    assert!(session_ids(store, alice.id, T0).await.is_empty());
    assert!(token_names(store, alice.id, T0).await.is_empty());
    assert_eq!(session_ids(store, bob.id, T0).await, [bobs_session.id]);
    let kinds: Vec<EventKind> = all_events(store).await.iter().map(|e| e.event).collect();
    assert_eq!(kinds, [EventKind::PasswordChanged, EventKind::Logout]);
}

/// The event of `delete_user_credentials_audited` is written even when there
/// was nothing to delete.
pub async fn delete_user_credentials_audited_writes_its_event_when_nothing_is_deleted<S: Store>(
    store: &S,
) {
    let alice = user(store, "alice").await;
    let only = session(store, new_session(alice.id)).await;
    let event = audited_event(EventKind::Logout, Some(alice.id), "alice");
    let deleted = store
        .delete_user_credentials_audited(alice.id, Some(only.id), None, event.clone())
        .await
        .expect("delete_user_credentials_audited");
    assert_eq!(deleted, (0, 0));
    assert_eq!(session_ids(store, alice.id, T0).await, [only.id]);
    only_event(store, event).await;
}

/// `update_user_and_revoke_audited` applies the update, deletes every
/// session and token of the user but the exceptions (another user's stay),
/// and writes its event, all together; an unknown user changes nothing.
pub async fn update_user_and_revoke_audited_ends_the_users_credentials<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let kept_session = session(store, new_session(alice.id)).await;
    session(store, new_session(alice.id)).await;
    token(store, new_token(alice.id, "a")).await;
    let kept_token = token(store, new_token(alice.id, "kept")).await;
    let bobs_session = session(store, new_session(bob.id)).await;
    token(store, new_token(bob.id, "bob's")).await;
    let update = UserUpdate {
        password_hash: Some("argon2id$new".to_owned()),
        ..UserUpdate::default()
    };
    let event = audited_event(EventKind::PasswordChanged, Some(alice.id), "alice");
    let updated = store
        .update_user_and_revoke_audited(
            alice.id,
            update.clone(),
            Some(kept_session.id),
            Some(kept_token.id),
            event.clone(),
        )
        .await
        .expect("update_user_and_revoke_audited");
    assert_eq!(updated, Some(alice.clone()));
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials_by_username")
        .expect("alice exists");
    assert_eq!(credentials.password_hash, "argon2id$new");
    assert_eq!(session_ids(store, alice.id, T0).await, [kept_session.id]);
    assert_eq!(token_names(store, alice.id, T0).await, ["kept"]);
    assert_eq!(session_ids(store, bob.id, T0).await, [bobs_session.id]);
    assert_eq!(token_names(store, bob.id, T0).await, ["bob's"]);
    only_event(store, event).await;

    // No exceptions: everything of the user goes.
    let reset = audited_event(EventKind::UserUpdated, Some(alice.id), "alice");
    store
        .update_user_and_revoke_audited(alice.id, update.clone(), None, None, reset)
        .await
        .expect("update_user_and_revoke_audited");
    assert!(session_ids(store, alice.id, T0).await.is_empty());
    assert!(token_names(store, alice.id, T0).await.is_empty());

    // An unknown user: nothing written, nothing deleted.
    let ghost = audited_event(EventKind::UserUpdated, Some(9999), "ghost");
    let none = store
        .update_user_and_revoke_audited(9999, update, None, None, ghost)
        .await
        .expect("update_user_and_revoke_audited");
    assert_eq!(none, None);
    assert_eq!(all_events(store).await.len(), 2);
    assert_eq!(session_ids(store, bob.id, T0).await, [bobs_session.id]);
}

/// `session_owner` names the owner of a session, live or not, and nothing
/// for an unknown id.
pub async fn session_owner_names_the_owner<S: SessionSuite>(store: &S) {
    let alice = user(store, "alice").await;
    let live = session(store, new_session(alice.id)).await;
    let dead = NewSession {
        created: T0 - Duration::days(30),
        expires: T0 - Duration::days(16),
        ..new_session(alice.id)
    };
    let dead = session(store, dead).await;
    for id in [live.id, dead.id] {
        assert_eq!(
            store.session_owner(id).await.expect("session_owner"),
            Some(alice.id)
        );
    }
    assert_eq!(
        store.session_owner(9999).await.expect("session_owner"),
        None
    );
}

/// Audited events are sanitised as `append` sanitises them.
pub async fn audited_events_are_sanitized<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let record = session(store, new_session(alice.id)).await;
    let event = NewAuditEvent {
        username: "ü".repeat(MAX_USERNAME_CHARS + 10),
        user_agent: Some("a\0b".to_owned()),
        detail: json!({"reason": "x".repeat(MAX_DETAIL_BYTES)}),
        ..audited_event(EventKind::SessionRevoked, Some(alice.id), "")
    };
    let deleted = store
        .delete_session_audited(record.id, None, event.clone())
        .await
        .expect("delete_session_audited");
    assert!(deleted);
    let stored = only_event(store, event).await;
    assert_eq!(stored.username, "ü".repeat(MAX_USERNAME_CHARS));
    assert_eq!(stored.user_agent.as_deref(), Some("a\u{FFFD}b"));
    assert_eq!(stored.detail, json!({"truncated": true}));
    assert_eq!(stored.time, T0);
}

// ---------------------------------------------------------------- rotation families

/// An hour after [`T0`]: when the suite rotates.
const ROTATED_AT: OffsetDateTime = datetime!(2024-05-06 08:08:09.123456 UTC);
/// The end of the grace period of a key rotated at [`ROTATED_AT`].
const GRACE_END: OffsetDateTime = datetime!(2024-05-06 08:09:09.123456 UTC);

/// A rotation of `token_id` (alice's, `user_id`) at [`ROTATED_AT`] with
/// grace until [`GRACE_END`], under `cap`, to a fresh key.
fn rotation(token_id: i64, user_id: i64, cap: Option<u64>) -> TokenRotation {
    TokenRotation {
        token_id,
        user_id,
        digest: TokenKey::generate().digest(),
        created: ROTATED_AT,
        grace_until: GRACE_END,
        max_per_user: cap,
    }
}

/// Rotates and expects a new token.
async fn rotated<S: Store>(store: &S, rotation: TokenRotation) -> TokenRecord {
    let event = NewAuditEvent {
        detail: json!({"rotated_from": rotation.token_id}),
        ..audited_event(EventKind::TokenRotated, Some(rotation.user_id), "alice")
    };
    match store
        .rotate_token_audited(rotation, event)
        .await
        .expect("rotate_token_audited")
    {
        Rotated::Rotated(record) => record,
        other => panic!("not rotated: {other:?}"),
    }
}

/// The ids of a user's tokens that `list_tokens` gives at `now`.
async fn token_ids<S: TokenStore>(store: &S, user_id: i64, now: OffsetDateTime) -> Vec<i64> {
    store
        .list_tokens(user_id, now)
        .await
        .expect("list_tokens")
        .into_iter()
        .map(|t| t.id)
        .collect()
}

/// `rotate_token_audited` stores a new token that inherits the old one's
/// name, scopes, expiry and password proof and joins its family, marks the
/// old one rotated out until the grace end, and writes the event with the new
/// token's id. The old key is still found after its grace end, marked, so
/// that its reuse can be told; it is listed only until then.
pub async fn rotate_token_audited_inherits_and_marks_the_old_token<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let old_new = NewToken {
        expires: Some(T0 + Duration::days(1)),
        scopes: vec!["deploy".to_owned(), "read".to_owned()],
        authenticated_at: Some(T0),
        ..new_token(alice.id, "deploy")
    };
    let old_digest = old_new.digest;
    let old = token(store, old_new).await;
    assert_eq!((old.family, old.grace_until), (old.id, None));
    let rotation = rotation(old.id, alice.id, Some(5));
    let new_digest = rotation.digest;
    let event = NewAuditEvent {
        detail: json!({"rotated_from": old.id}),
        ..audited_event(EventKind::TokenRotated, Some(alice.id), "alice")
    };
    let Rotated::Rotated(new) = store
        .rotate_token_audited(rotation, event.clone())
        .await
        .expect("rotate_token_audited")
    else {
        panic!("not rotated");
    };
    assert_ne!(new.id, old.id);
    assert_eq!(new.user_id, alice.id);
    assert_eq!(new.name, "deploy");
    assert_eq!(new.scopes, old.scopes);
    assert_eq!(new.created, ROTATED_AT);
    assert_eq!(new.expires, old.expires, "rotation never lengthens a life");
    assert_eq!(new.authenticated_at, Some(T0));
    assert_eq!(new.last_used, None);
    assert_eq!((new.family, new.grace_until), (old.id, None));
    assert_eq!(
        store.token_by_id(new.id).await.expect("read"),
        Some(new.clone())
    );
    let marked = TokenRecord {
        grace_until: Some(GRACE_END),
        ..old.clone()
    };
    assert_eq!(
        store.token_by_id(old.id).await.expect("read"),
        Some(marked.clone())
    );
    only_event(
        store,
        NewAuditEvent {
            detail: json!({"rotated_from": old.id, "token_id": new.id}),
            ..event
        },
    )
    .await;

    let just_before = GRACE_END - Duration::microseconds(1);
    for at in [
        ROTATED_AT,
        just_before,
        GRACE_END,
        T0 + Duration::days(1) - Duration::microseconds(1),
    ] {
        let found = store.find_token(&old_digest, at).await.expect("find_token");
        assert_eq!(found.map(|(t, _)| t), Some(marked.clone()), "at {at}");
        let found = store.find_token(&new_digest, at).await.expect("find_token");
        assert_eq!(found.map(|(t, _)| t), Some(new.clone()), "at {at}");
    }
    assert!(!marked.is_rotated_out(just_before));
    assert!(marked.is_rotated_out(GRACE_END));
    // Both expire together, at the family's expiry.
    let expiry = T0 + Duration::days(1);
    assert_eq!(
        store
            .find_token(&old_digest, expiry)
            .await
            .expect("find")
            .map(|(t, _)| t.id),
        None
    );
    assert_eq!(
        store
            .find_token(&new_digest, expiry)
            .await
            .expect("find")
            .map(|(t, _)| t.id),
        None
    );
    assert_eq!(
        token_ids(store, alice.id, just_before).await,
        vec![old.id, new.id]
    );
    assert_eq!(token_ids(store, alice.id, GRACE_END).await, vec![new.id]);
}

/// A token rotated out is not rotated again (`AlreadyRotated`, with its
/// family, and nothing written); the newest key of a family rotates, and its
/// successor stays in the first token's family. An unknown, expired or
/// another user's token is `NoSuchToken`.
pub async fn rotate_token_audited_of_a_rotated_out_or_unknown_token_writes_nothing<S: Store>(
    store: &S,
) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let first = token(store, new_token(alice.id, "k1")).await;
    let second = rotated(store, rotation(first.id, alice.id, None)).await;
    let event = audited_event(EventKind::TokenRotated, Some(alice.id), "alice");
    for at in [ROTATED_AT, GRACE_END + Duration::days(3)] {
        let again = store
            .rotate_token_audited(
                TokenRotation {
                    created: at,
                    ..rotation(first.id, alice.id, None)
                },
                event.clone(),
            )
            .await
            .expect("rotate_token_audited");
        assert_eq!(again, Rotated::AlreadyRotated { family: first.id });
    }
    assert_eq!(all_events(store).await.len(), 1);
    assert_eq!(
        store
            .token_by_id(first.id)
            .await
            .expect("read")
            .and_then(|t| t.grace_until),
        Some(GRACE_END),
        "the grace end is not moved"
    );
    let third = rotated(
        store,
        TokenRotation {
            created: ROTATED_AT + Duration::seconds(1),
            grace_until: GRACE_END + Duration::seconds(1),
            ..rotation(second.id, alice.id, None)
        },
    )
    .await;
    assert_eq!(third.family, first.id);
    assert_eq!(
        store
            .rotate_token_audited(rotation(second.id, alice.id, None), event.clone())
            .await
            .expect("rotate"),
        Rotated::AlreadyRotated { family: first.id }
    );

    let expiring = token(
        store,
        NewToken {
            expires: Some(ROTATED_AT),
            ..new_token(alice.id, "expiring")
        },
    )
    .await;
    let bobs = token(store, new_token(bob.id, "bob's")).await;
    for (id, owner) in [
        (expiring.id, alice.id),
        (bobs.id, alice.id),
        (third.id + 1000, alice.id),
    ] {
        let outcome = store
            .rotate_token_audited(rotation(id, owner, None), event.clone())
            .await
            .expect("rotate_token_audited");
        assert_eq!(outcome, Rotated::NoSuchToken, "token {id}");
    }
    assert_eq!(all_events(store).await.len(), 2);
    assert_eq!(
        store
            .token_by_id(bobs.id)
            .await
            .expect("read")
            .and_then(|t| t.grace_until),
        None
    );
    assert_eq!(token_ids(store, bob.id, ROTATED_AT).await, vec![bobs.id]);
}

/// Rotation counts against the cap as a new token does, the old token (in
/// its grace period) counted: at the cap nothing is written, the old token
/// not even marked. Past its grace, a rotated-out token is not counted.
pub async fn rotate_token_audited_counts_against_the_cap<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let first = token(store, new_token(alice.id, "a")).await;
    let other = token(store, new_token(alice.id, "b")).await;
    let event = audited_event(EventKind::TokenRotated, Some(alice.id), "alice");
    let refused = store
        .rotate_token_audited(rotation(first.id, alice.id, Some(2)), event.clone())
        .await
        .expect("rotate_token_audited");
    assert_eq!(refused, Rotated::AtCap);
    assert_eq!(
        store.token_by_id(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        token_ids(store, alice.id, ROTATED_AT).await,
        vec![first.id, other.id]
    );
    assert!(all_events(store).await.is_empty());

    let new = rotated(store, rotation(first.id, alice.id, Some(3))).await;
    // In its grace period the old token counts: three live tokens.
    let held = store
        .create_token(
            NewToken {
                created: GRACE_END - Duration::microseconds(1),
                ..new_token(alice.id, "c")
            },
            Some(3),
        )
        .await
        .expect("create_token");
    assert_eq!(held, None);
    // Past it, it does not.
    let stored = store
        .create_token(
            NewToken {
                created: GRACE_END,
                ..new_token(alice.id, "c")
            },
            Some(3),
        )
        .await
        .expect("create_token");
    assert!(stored.is_some());
    assert_eq!(
        token_ids(store, alice.id, GRACE_END).await,
        vec![other.id, new.id, stored.map_or(0, |t| t.id)]
    );
}

/// Of concurrent rotations of one token, exactly one wins; the others are
/// `AlreadyRotated`, and one token and one event are written.
pub async fn rotate_token_audited_is_atomic_under_concurrency<S: Store + Clone>(store: &S) {
    let alice = user(store, "alice").await;
    let old = token(store, new_token(alice.id, "k")).await;
    for cap in [None, Some(100)] {
        let old = if cap.is_none() {
            old.clone()
        } else {
            token(store, new_token(alice.id, "k2")).await
        };
        let (old_id, alice_id) = (old.id, alice.id);
        let outcomes: Vec<Rotated> = spawn_all(store, 0..8, move |store, _| async move {
            store
                .rotate_token_audited(
                    rotation(old_id, alice_id, cap),
                    audited_event(EventKind::TokenRotated, Some(alice_id), "alice"),
                )
                .await
        })
        .await
        .into_iter()
        .map(|r| r.expect("rotate_token_audited"))
        .collect();
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, Rotated::Rotated(_)))
            .count();
        assert_eq!(won, 1, "{outcomes:?}");
        assert!(outcomes.iter().all(|o| match o {
            Rotated::Rotated(_) => true,
            Rotated::AlreadyRotated { family } => *family == old.id,
            _ => false,
        }));
    }
    assert_eq!(token_ids(store, alice.id, ROTATED_AT).await.len(), 4);
    assert_eq!(all_events(store).await.len(), 2);
}

/// `revoke_token_family_audited` deletes the family's every token, the first
/// and the newest included, and nothing else, with its event; a family with
/// nothing left to delete writes no event.
pub async fn revoke_token_family_audited_deletes_every_key_of_the_family<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let first = token(store, new_token(alice.id, "k1")).await;
    let second = rotated(store, rotation(first.id, alice.id, None)).await;
    let third = rotated(store, rotation(second.id, alice.id, None)).await;
    let unrelated = token(store, new_token(alice.id, "other")).await;
    let unrelated_next = rotated(store, rotation(unrelated.id, alice.id, None)).await;
    let before = all_events(store).await.len();
    let event = NewAuditEvent {
        detail: json!({"kind": "token_reuse", "token_id": first.id, "family": first.id}),
        ..audited_event(EventKind::SecurityAlert, Some(alice.id), "alice")
    };
    let revoked = store
        .revoke_token_family_audited(first.id, event.clone())
        .await
        .expect("revoke_token_family_audited");
    assert_eq!(revoked, 3);
    for gone in [first.id, second.id, third.id] {
        assert_eq!(store.token_by_id(gone).await.expect("read"), None);
    }
    assert_eq!(
        token_ids(store, alice.id, ROTATED_AT).await,
        vec![unrelated.id, unrelated_next.id]
    );
    let events = all_events(store).await;
    assert_eq!(events.len(), before + 1);
    let last = events.last().expect("the alert");
    assert_eq!(last.clone(), event.clone().sanitized().into_record(last.id));

    let again = store
        .revoke_token_family_audited(first.id, event)
        .await
        .expect("revoke_token_family_audited");
    assert_eq!(again, 0);
    assert_eq!(all_events(store).await.len(), before + 1);
}

/// `purge_expired_tokens` keeps a rotated-out token past its grace while its
/// family has a live token (its reuse must still be told), and deletes it
/// once the family has none; tokens in their grace period are kept.
pub async fn purge_keeps_rotated_out_tokens_while_their_family_lives<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let expires = Some(T0 + Duration::days(1));
    let first = token(
        store,
        NewToken {
            expires,
            ..new_token(alice.id, "k1")
        },
    )
    .await;
    let second = rotated(store, rotation(first.id, alice.id, None)).await;
    let lone = token(store, new_token(alice.id, "lone")).await;
    let lone_next = rotated(store, rotation(lone.id, alice.id, None)).await;

    let purged = store
        .purge_expired_tokens(GRACE_END - Duration::microseconds(1))
        .await
        .expect("purge");
    assert_eq!(purged, 0, "in the grace period");
    let purged = store.purge_expired_tokens(GRACE_END).await.expect("purge");
    assert_eq!(purged, 0, "past it, with live families");
    assert!(store.token_by_id(first.id).await.expect("read").is_some());

    // The family of `lone` loses its live token: the rotated-out one goes.
    assert!(store
        .delete_token(lone_next.id, None)
        .await
        .expect("delete"));
    let purged = store.purge_expired_tokens(GRACE_END).await.expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(store.token_by_id(lone.id).await.expect("read"), None);
    assert!(store.token_by_id(first.id).await.expect("read").is_some());

    // The other family expires whole.
    let purged = store
        .purge_expired_tokens(T0 + Duration::days(1))
        .await
        .expect("purge");
    assert_eq!(purged, 2);
    for gone in [first.id, second.id] {
        assert_eq!(store.token_by_id(gone).await.expect("read"), None);
    }
}

// ---------------------------------------------------------------- login unlocks

/// An unlock is found by its key, the latest replacing an earlier one, kept
/// to the microsecond, with its audit event written alongside.
pub async fn record_unlock_keeps_the_latest_per_key_with_its_event<S: UnlockSuite>(store: &S) {
    use tessera_core::throttle::login::username_key;
    let key = username_key("alice");
    assert_eq!(store.last_unlock(&key).await.unwrap(), None);
    let event = |at: OffsetDateTime| NewAuditEvent {
        username: "alice".to_owned(),
        detail: json!({"action": "unlock", "via": "cli"}),
        ..NewAuditEvent::new(at, EventKind::UserUpdated)
    };
    store.record_unlock(&key, T0, event(T0)).await.unwrap();
    assert_eq!(store.last_unlock(&key).await.unwrap(), Some(T0));
    let later = T0 + Duration::minutes(5);
    store
        .record_unlock(&key, later, event(later))
        .await
        .unwrap();
    assert_eq!(store.last_unlock(&key).await.unwrap(), Some(later));
    assert_eq!(
        store.last_unlock(&username_key("bob")).await.unwrap(),
        None,
        "other usernames are not unlocked"
    );
    let events = store.query(&AuditQuery::default()).await.unwrap().events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event, EventKind::UserUpdated);
    assert_eq!(events[0].time, later);
    assert_eq!(events[0].username, "alice");
    assert_eq!(events[0].detail, json!({"action": "unlock", "via": "cli"}));
}

// ---------------------------------------------------------------- health

/// `ping` answers on a working store.
pub async fn ping_answers<S: Health>(store: &S) {
    store.ping().await.expect("ping");
}

/// An imported Django user.
pub fn imported_user(django_id: i64, username: &str) -> ImportedUser {
    ImportedUser {
        django_id,
        username: username.to_owned(),
        email: format!("{username}@example.com"),
        first_name: "Ada".to_owned(),
        last_name: "Lovelace".to_owned(),
        password_hash: format!("pbkdf2_sha256$1000000$salt$hash-of-{username}"),
        is_active: true,
        is_staff: false,
        is_superuser: false,
        date_joined: Some(T0),
        last_login: Some(T0 + Duration::days(1)),
        groups: Vec::new(),
    }
}

fn import_batch() -> ImportBatch {
    ImportBatch {
        at: T0 + Duration::days(2),
        dry_run: false,
    }
}

async fn import_users<S: Store>(store: &S, users: &[ImportedUser]) -> Vec<Imported> {
    store
        .import_users(users, import_batch())
        .await
        .expect("import_users")
}

/// A first import creates each user with Django's fields, hash and
/// `last_login`, links it, and audits `user_created` with `"via":
/// "import-django"`; a second run leaves unchanged users alone, updates a
/// changed one (`user_updated`) and replaces the hash only when Django's
/// changed.
pub async fn import_users_creates_links_and_updates_on_a_second_run<S: Store>(store: &S) {
    let alice = imported_user(7, "alice");
    let bob = imported_user(9, "bob");
    let first = import_users(store, &[alice.clone(), bob.clone()]).await;
    let [Imported::Created(alice_id), Imported::Created(bob_id)] = first[..] else {
        panic!("both created: {first:?}");
    };
    assert_eq!(
        store.imported_user_id(7).await.expect("link"),
        Some(alice_id)
    );
    assert_eq!(store.imported_user_id(8).await.expect("link"), None);
    let stored = store
        .credentials_by_username("alice")
        .await
        .expect("credentials")
        .expect("alice");
    assert_eq!(stored.password_hash, alice.password_hash);
    assert_eq!(stored.user.id, alice_id);
    assert_eq!(stored.user.email, "alice@example.com");
    assert_eq!(stored.user.last_login, alice.last_login);
    assert_eq!(stored.user.date_joined, T0);
    let events = all_events(store).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event, EventKind::UserCreated);
    assert_eq!(events[0].user, Some(alice_id));
    assert_eq!(
        events[0].detail,
        json!({"django_id": 7, "via": "import-django"})
    );

    // Tessera upgraded alice's hash at a login; Django's is unchanged, so a
    // second run keeps the upgrade. Bob changed his e-mail and password in
    // Django meanwhile.
    let upgraded = UserUpdate {
        password_hash: Some("$argon2id$upgraded".to_owned()),
        ..UserUpdate::default()
    };
    store.update_user(alice_id, upgraded).await.expect("update");
    let bob_changed = ImportedUser {
        email: "bob@new.example".to_owned(),
        password_hash: "pbkdf2_sha256$1000000$salt$new-hash".to_owned(),
        ..bob
    };
    let second = import_users(store, &[alice.clone(), bob_changed.clone()]).await;
    assert_eq!(
        second,
        [Imported::Unchanged(alice_id), Imported::Updated(bob_id)]
    );
    assert_eq!(
        stored_hash(store, "alice").await.as_deref(),
        Some("$argon2id$upgraded")
    );
    assert_eq!(
        stored_hash(store, "bob").await,
        Some(bob_changed.password_hash.clone())
    );
    let bob_read = store.user_by_id(bob_id).await.expect("user_by_id");
    assert_eq!(
        bob_read.map(|u| u.email).as_deref(),
        Some("bob@new.example")
    );
    let events = all_events(store).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].event, EventKind::UserUpdated);
    assert_eq!(events[2].user, Some(bob_id));
    // A change of a field alone keeps the hash.
    let renamed = ImportedUser {
        first_name: "Robert".to_owned(),
        ..bob_changed.clone()
    };
    assert_eq!(
        import_users(store, &[renamed]).await,
        [Imported::Updated(bob_id)]
    );
    assert_eq!(
        stored_hash(store, "bob").await,
        Some(bob_changed.password_hash)
    );
    assert_eq!(usernames(store, None, 0, 10).await.0, 2);
}

/// A username another user holds, exactly or but for letter case, is
/// refused with its reason, within one batch too, and the rest is imported.
pub async fn import_users_refuses_a_username_taken_ignoring_case<S: Store>(store: &S) {
    user(store, "Carol").await;
    let outcomes = import_users(
        store,
        &[
            imported_user(1, "carol"),
            imported_user(2, "Alice"),
            imported_user(3, "alice"),
            imported_user(4, "dave"),
        ],
    )
    .await;
    assert_eq!(
        outcomes[0],
        Imported::Rejected(Rejection::UsernameTaken {
            username: "carol".to_owned(),
            existing: "Carol".to_owned(),
        })
    );
    assert!(matches!(outcomes[1], Imported::Created(_)));
    assert_eq!(
        outcomes[2],
        Imported::Rejected(Rejection::UsernameTaken {
            username: "alice".to_owned(),
            existing: "Alice".to_owned(),
        })
    );
    assert!(matches!(outcomes[3], Imported::Created(_)));
    assert_eq!(store.imported_user_id(1).await.expect("link"), None);
    assert_eq!(usernames(store, None, 0, 10).await.0, 3);
}

/// Tokens and sessions are stored by digest for the linked user, audited,
/// found again by a second run (unchanged, or moved and re-dated when Django
/// says so); one whose Django user was not imported is refused.
pub async fn import_credentials_need_an_imported_user_and_are_found_by_digest<S: Store>(store: &S) {
    let created = import_users(store, &[imported_user(7, "alice"), imported_user(8, "bob")]).await;
    let [Imported::Created(alice), Imported::Created(bob)] = created[..] else {
        panic!("{created:?}");
    };
    let key = TokenKey::generate();
    let drf = ImportedToken {
        kind: TokenKind::Drf,
        django_user_id: 7,
        digest: key.digest(),
        created: T0,
        expires: None,
    };
    let orphan = ImportedToken {
        django_user_id: 99,
        digest: TokenKey::generate().digest(),
        ..drf.clone()
    };
    let outcomes = store
        .import_tokens(&[drf.clone(), orphan], import_batch())
        .await
        .expect("import_tokens");
    let Imported::Created(token_id) = outcomes[0] else {
        panic!("{outcomes:?}");
    };
    assert_eq!(
        outcomes[1],
        Imported::Rejected(Rejection::NoSuchUser { django_user_id: 99 })
    );
    let (record, owner) = store
        .find_token(&key.digest(), T0 + Duration::days(3))
        .await
        .expect("find_token")
        .expect("the imported key is found");
    assert_eq!(
        (record.id, owner.id, record.expires),
        (token_id, alice, None)
    );
    assert_eq!(record.name, "drf");
    assert!(record.scopes.is_empty());
    let event = all_events(store).await.pop().expect("an event");
    assert_eq!(event.event, EventKind::TokenCreated);
    assert_eq!(
        event.detail,
        json!({"name": "drf", "kind": "drf", "token_id": token_id, "via": "import-django"})
    );
    let again = store
        .import_tokens(std::slice::from_ref(&drf), import_batch())
        .await
        .expect("import_tokens");
    assert_eq!(again, [Imported::Unchanged(token_id)]);
    let moved = ImportedToken {
        django_user_id: 8,
        expires: Some(T0 + Duration::days(30)),
        ..drf
    };
    let again = store
        .import_tokens(&[moved], import_batch())
        .await
        .expect("import_tokens");
    assert_eq!(again, [Imported::Updated(token_id)]);
    let (record, owner) = store
        .find_token(&key.digest(), T0 + Duration::days(3))
        .await
        .expect("find_token")
        .expect("found");
    assert_eq!(owner.id, bob);
    assert_eq!(record.expires, Some(T0 + Duration::days(30)));

    let session_key = SessionKey::generate();
    let session = ImportedSession {
        django_user_id: 7,
        digest: session_key.digest(),
        data: json!({"_csrftoken": "abc"}),
        expires: T0 + Duration::days(14),
    };
    let outcomes = store
        .import_sessions(std::slice::from_ref(&session), import_batch())
        .await
        .expect("import_sessions");
    let Imported::Created(session_id) = outcomes[0] else {
        panic!("{outcomes:?}");
    };
    let (record, owner) = store
        .find_session(
            &session_key.digest(),
            T0 + Duration::days(2) + Duration::hours(1),
            Duration::days(1),
        )
        .await
        .expect("find_session")
        .expect("the imported session is live");
    assert_eq!((record.id, owner.id), (session_id, alice));
    assert_eq!(record.data, json!({"_csrftoken": "abc"}));
    assert_eq!(record.expires, T0 + Duration::days(14));
    assert_eq!(record.last_seen, T0 + Duration::days(2));
    assert_eq!(record.authenticated_at, None);
    let event = all_events(store).await.pop().expect("an event");
    assert_eq!(event.event, EventKind::LoginSucceeded);
    assert_eq!(event.user, Some(alice));
    let again = store
        .import_sessions(&[session], import_batch())
        .await
        .expect("import_sessions");
    assert_eq!(again, [Imported::Unchanged(session_id)]);
}

/// A dry run answers as the import would and leaves the store as it was.
pub async fn import_dry_run_writes_nothing<S: Store>(store: &S) {
    let dry = ImportBatch {
        dry_run: true,
        ..import_batch()
    };
    let outcomes = store
        .import_users(&[imported_user(7, "alice")], dry)
        .await
        .expect("import_users");
    assert!(
        matches!(outcomes[..], [Imported::Created(_)]),
        "{outcomes:?}"
    );
    assert_eq!(store.imported_user_id(7).await.expect("link"), None);
    assert_eq!(usernames(store, None, 0, 10).await.0, 0);
    assert!(all_events(store).await.is_empty());
}

/// A batch larger than one multi-row statement: every user and token is
/// written once, with the right owner, and a second run finds them all.
pub async fn import_a_large_batch<S: Store>(store: &S) {
    let users: Vec<ImportedUser> = (1..=450)
        .map(|i| imported_user(i, &format!("user{i}")))
        .collect();
    let outcomes = import_users(store, &users).await;
    let ids: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            Imported::Created(id) => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    let keys: Vec<TokenKey> = (0..450).map(|_| TokenKey::generate()).collect();
    let tokens: Vec<ImportedToken> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| ImportedToken {
            kind: TokenKind::Drf,
            django_user_id: i64::try_from(i).unwrap() + 1,
            digest: key.digest(),
            created: T0,
            expires: None,
        })
        .collect();
    let outcomes = store
        .import_tokens(&tokens, import_batch())
        .await
        .expect("import_tokens");
    assert!(outcomes.iter().all(|o| matches!(o, Imported::Created(_))));
    for i in [0, 99, 100, 199, 200, 449] {
        let (_, owner) = store
            .find_token(&keys[i].digest(), T0)
            .await
            .expect("find_token")
            .expect("found");
        assert_eq!(owner.id, ids[i]);
        assert_eq!(owner.username, format!("user{}", i + 1));
    }
    assert_eq!(all_events(store).await.len(), 900);
    let again = import_users(store, &users).await;
    assert!(again.iter().all(|o| matches!(o, Imported::Unchanged(_))));
    let again = store
        .import_tokens(&tokens, import_batch())
        .await
        .expect("import_tokens");
    assert!(again.iter().all(|o| matches!(o, Imported::Unchanged(_))));
}

/// Groups are imported by name (created once, then found unchanged); an
/// imported user's membership becomes exactly Django's set on each run (a
/// change of groups alone makes the user updated, with its event), groups
/// named only by a membership are created, a dry run keeps nothing; a user
/// without `date_joined` joins at the import and keeps that date; and the
/// user's groups, sorted, come with the user from every read: by id, with
/// the credentials, with a token or a session, in a list, after an update.
pub async fn import_groups_and_memberships_are_kept_with_the_user<S: Store>(store: &S) {
    let names = |groups: &[&str]| groups.iter().map(|g| (*g).to_owned()).collect::<Vec<_>>();
    let first = store
        .import_groups(&names(&["editors", "readers", "editors"]), import_batch())
        .await
        .expect("import_groups");
    let [Imported::Created(editors), Imported::Created(readers), Imported::Unchanged(again)] =
        first[..]
    else {
        panic!("{first:?}");
    };
    assert_ne!(editors, readers);
    assert_eq!(again, editors);
    let dry = ImportBatch {
        dry_run: true,
        ..import_batch()
    };
    let second = store
        .import_groups(&names(&["readers", "ghosts"]), dry)
        .await
        .expect("import_groups");
    assert!(matches!(second[..], [Imported::Unchanged(r), Imported::Created(_)] if r == readers));
    let third = store
        .import_groups(&names(&["ghosts"]), import_batch())
        .await
        .expect("import_groups");
    assert!(matches!(third[..], [Imported::Created(_)]), "{third:?}");

    let alice = ImportedUser {
        groups: names(&["readers", "editors"]),
        ..imported_user(1, "alice")
    };
    let bob = imported_user(2, "bob");
    let [Imported::Created(alice_id), Imported::Created(bob_id)] =
        import_users(store, &[alice.clone(), bob.clone()]).await[..]
    else {
        panic!("not created");
    };
    let groups_of = |user: Option<User>| user.expect("user").groups;
    assert_eq!(
        groups_of(store.user_by_id(alice_id).await.expect("user_by_id")),
        ["editors", "readers"]
    );
    assert!(groups_of(store.user_by_id(bob_id).await.expect("user_by_id")).is_empty());
    let credentials = store
        .credentials_by_username("alice")
        .await
        .expect("credentials")
        .expect("alice");
    assert_eq!(credentials.user.groups, ["editors", "readers"]);
    assert_eq!(credentials.password_hash, alice.password_hash);
    let token = new_token(alice_id, "t");
    let digest = token.digest;
    store.create_token(token, None).await.expect("create_token");
    let (record, owner) = store
        .find_token(&digest, T0)
        .await
        .expect("find_token")
        .expect("found");
    assert_eq!(
        (record.user_id, owner.groups),
        (alice_id, names(&["editors", "readers"]))
    );
    let session = new_session(alice_id);
    let digest = session.digest;
    store.create_session(session).await.expect("create_session");
    let (_, owner) = store
        .find_session(&digest, T0, IDLE)
        .await
        .expect("find_session")
        .expect("found");
    assert_eq!(owner.groups, ["editors", "readers"]);
    assert_eq!(owner.username, "alice");
    let page = store.list_users(None, 0, 10).await.expect("list_users");
    let listed: Vec<(&str, Vec<String>)> = page
        .users
        .iter()
        .map(|u| (u.username.as_str(), u.groups.clone()))
        .collect();
    assert_eq!(
        listed,
        [("alice", names(&["editors", "readers"])), ("bob", vec![])]
    );
    assert_eq!(page.count, 2);
    let page = store
        .list_users(Some("ali"), 0, 1)
        .await
        .expect("list_users");
    assert_eq!(page.users.len(), 1);
    assert_eq!(page.users[0].groups, ["editors", "readers"]);
    let update = UserUpdate {
        email: Some("new@example.com".to_owned()),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(alice_id, update.clone())
        .await
        .expect("update_user")
        .expect("alice");
    assert_eq!(updated.groups, ["editors", "readers"]);
    let event = NewAuditEvent::new(T0, EventKind::UserUpdated);
    let updated = store
        .update_user_audited(alice_id, update, event)
        .await
        .expect("update_user_audited")
        .expect("alice");
    assert_eq!(updated.groups, ["editors", "readers"]);

    // Django's membership changed: alice left readers, bob joined a group
    // the store has not seen yet.
    let events_before = all_events(store).await.len();
    let alice = ImportedUser {
        groups: names(&["editors"]),
        email: "new@example.com".to_owned(),
        ..alice
    };
    let bob = ImportedUser {
        groups: names(&["ops", "ops"]),
        ..bob
    };
    assert_eq!(
        import_users(store, &[alice.clone(), bob.clone()]).await,
        [Imported::Updated(alice_id), Imported::Updated(bob_id)]
    );
    assert_eq!(
        groups_of(store.user_by_id(alice_id).await.expect("user")),
        ["editors"]
    );
    assert_eq!(
        groups_of(store.user_by_id(bob_id).await.expect("user")),
        ["ops"]
    );
    let events = all_events(store).await;
    assert_eq!(events.len(), events_before + 2);
    assert!(events
        .iter()
        .any(|e| e.event == EventKind::UserUpdated && e.user == Some(bob_id)));
    assert!(matches!(
        store
            .import_groups(&names(&["ops"]), import_batch())
            .await
            .expect("groups")[..],
        [Imported::Unchanged(_)]
    ));
    assert_eq!(
        import_users(store, &[alice.clone(), bob.clone()]).await,
        [Imported::Unchanged(alice_id), Imported::Unchanged(bob_id)]
    );
    // A dry run keeps nothing; then every group is left.
    let none = ImportedUser {
        groups: Vec::new(),
        ..alice.clone()
    };
    let outcomes = store
        .import_users(std::slice::from_ref(&none), dry)
        .await
        .expect("dry run");
    assert_eq!(outcomes, [Imported::Updated(alice_id)]);
    assert_eq!(
        groups_of(store.user_by_id(alice_id).await.expect("user")),
        ["editors"]
    );
    assert_eq!(
        import_users(store, &[none]).await,
        [Imported::Updated(alice_id)]
    );
    assert!(groups_of(store.user_by_id(alice_id).await.expect("user")).is_empty());

    // A custom user model without `date_joined`: joined at the import, and
    // left so by the next run.
    let carol = ImportedUser {
        date_joined: None,
        ..imported_user(3, "carol")
    };
    let [Imported::Created(carol_id)] = import_users(store, std::slice::from_ref(&carol)).await[..]
    else {
        panic!("carol not created");
    };
    let stored = store
        .user_by_id(carol_id)
        .await
        .expect("user")
        .expect("carol");
    assert_eq!(stored.date_joined, import_batch().at);
    let later = ImportBatch {
        at: T0 + Duration::days(9),
        ..import_batch()
    };
    let again = store.import_users(&[carol], later).await.expect("import");
    assert_eq!(again, [Imported::Unchanged(carol_id)]);
    let stored = store
        .user_by_id(carol_id)
        .await
        .expect("user")
        .expect("carol");
    assert_eq!(stored.date_joined, import_batch().at);
}

/// Users are counted by the scheme of their password hash, as
/// `scheme_name_of` names it.
pub async fn count_password_schemes_by_prefix<S: UserStore>(store: &S) {
    assert!(store
        .count_password_schemes()
        .await
        .expect("count")
        .is_empty());
    for (name, hash) in [
        ("a", "pbkdf2_sha256$1000000$salt$hash"),
        ("b", "pbkdf2_sha256$1500000$salt$hash"),
        ("c", "pbkdf2_sha1$1000000$salt$hash"),
        ("d", "argon2$argon2id$v=19$m=102400,t=2,p=8$s$h"),
        ("e", "bcrypt_sha256$$2b$12$x"),
        ("f", "bcrypt$$2b$12$x"),
        ("g", "scrypt$16384$salt$8$1$h"),
        ("h", "!unusable"),
        ("i", "$argon2id$v=19$m=19456,t=2,p=1$s$h"),
        ("j", "md5$salt$h"),
        ("k", "pbkdf2Xsha256$1$s$h"),
    ] {
        store
            .create_user(NewUser {
                password_hash: hash.to_owned(),
                ..new_user(name)
            })
            .await
            .expect("create_user");
    }
    let counts = store.count_password_schemes().await.expect("count");
    let expected: Vec<(&str, u64)> = vec![
        ("argon2", 1),
        ("bcrypt", 1),
        ("bcrypt_sha256", 1),
        ("other", 2),
        ("pbkdf2_sha1", 1),
        ("pbkdf2_sha256", 2),
        ("scrypt", 1),
        ("tessera", 1),
        ("unusable", 1),
    ];
    let got: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(got, expected);
}

/// `query_users`: each filter, their combination, paging and the count.
pub async fn query_users_filters_by_search_flags_and_ids<S: UserStore>(store: &S) {
    use tessera_core::store::UserQuery;
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let dave = user(store, "Dave_1").await;
    let staff = UserUpdate {
        is_staff: Some(true),
        ..UserUpdate::default()
    };
    store
        .update_user(bob.id, staff.clone())
        .await
        .expect("update");
    store.update_user(dave.id, staff).await.expect("update");
    let inactive = UserUpdate {
        is_active: Some(false),
        ..UserUpdate::default()
    };
    store.update_user(carol.id, inactive).await.expect("update");
    let page = |q: UserQuery| async move {
        let page = store.query_users(&q).await.expect("query_users");
        let names: Vec<String> = page.users.into_iter().map(|u| u.username).collect();
        (page.count, names)
    };
    let all = UserQuery {
        limit: 100,
        ..UserQuery::default()
    };
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        page(all.clone()).await,
        (4, names(&["alice", "bob", "carol", "Dave_1"]))
    );
    let staff_only = UserQuery {
        is_staff: Some(true),
        ..all.clone()
    };
    assert_eq!(page(staff_only).await, (2, names(&["bob", "Dave_1"])));
    let not_staff = UserQuery {
        is_staff: Some(false),
        ..all.clone()
    };
    assert_eq!(page(not_staff).await, (2, names(&["alice", "carol"])));
    let inactive_only = UserQuery {
        is_active: Some(false),
        ..all.clone()
    };
    assert_eq!(page(inactive_only).await, (1, names(&["carol"])));
    // Case-insensitive, `_` literal, combined with a flag.
    let search = UserQuery {
        search: Some("DAVE_".to_owned()),
        is_staff: Some(true),
        ..all.clone()
    };
    assert_eq!(page(search).await, (1, names(&["Dave_1"])));
    let wildcard = UserQuery {
        search: Some("_".to_owned()),
        ..all.clone()
    };
    assert_eq!(page(wildcard).await, (1, names(&["Dave_1"])));
    let by_email = UserQuery {
        search: Some("BOB@EXAMPLE".to_owned()),
        ..all.clone()
    };
    assert_eq!(page(by_email).await, (1, names(&["bob"])));
    let ids = UserQuery {
        ids: Some(vec![alice.id, dave.id, 999_999]),
        ..all.clone()
    };
    assert_eq!(page(ids).await, (2, names(&["alice", "Dave_1"])));
    let no_ids = UserQuery {
        ids: Some(vec![]),
        ..all.clone()
    };
    assert_eq!(page(no_ids).await, (0, vec![]));
    let second = UserQuery {
        offset: 1,
        limit: 2,
        ..all
    };
    assert_eq!(page(second).await, (4, names(&["bob", "carol"])));
}

/// `count_live_tokens` and `count_live_sessions` count every user's live ones.
pub async fn live_tokens_and_sessions_are_counted<S: Store>(store: &S) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    assert_eq!(store.count_live_tokens(T0).await.expect("count"), 0);
    assert_eq!(store.count_live_sessions(T0, IDLE).await.expect("count"), 0);
    token(store, new_token(alice.id, "a")).await;
    token(
        store,
        NewToken {
            expires: Some(T0 + Duration::hours(1)),
            ..new_token(bob.id, "b")
        },
    )
    .await;
    assert_eq!(store.count_live_tokens(T0).await.expect("count"), 2);
    let later = T0 + Duration::hours(1);
    assert_eq!(store.count_live_tokens(later).await.expect("count"), 1);
    session(store, new_session(alice.id)).await;
    session(store, new_session(bob.id)).await;
    assert_eq!(store.count_live_sessions(T0, IDLE).await.expect("count"), 2);
    // Idle past the timeout: not live.
    assert_eq!(
        store.count_live_sessions(later, IDLE).await.expect("count"),
        0
    );
}

/// The username, address and `until` (exclusive) filters.
pub async fn audit_query_filters_by_username_address_and_until<S: AuditSuite>(store: &S) {
    let failed = EventKind::LoginFailed;
    let e1 = append(store, new_event(T0, failed, None, "alice")).await;
    let e2 = append(
        store,
        NewAuditEvent {
            ip: Some("198.51.100.1".to_owned()),
            ..new_event(T0 + Duration::seconds(1), failed, None, "alice")
        },
    )
    .await;
    let e3 = append(
        store,
        new_event(T0 + Duration::seconds(2), failed, None, "Alice"),
    )
    .await;
    let q = |username: Option<&str>, ip: Option<&str>, until: Option<OffsetDateTime>| AuditQuery {
        username: username.map(str::to_owned),
        ip: ip.map(str::to_owned),
        until,
        ..AuditQuery::default()
    };
    assert_eq!(
        audit_ids(store, q(Some("alice"), None, None)).await,
        (2, vec![e2.id, e1.id])
    );
    assert_eq!(
        audit_ids(store, q(None, Some("203.0.113.7"), None)).await,
        (2, vec![e3.id, e1.id])
    );
    assert_eq!(
        audit_ids(store, q(None, None, Some(T0 + Duration::seconds(2)))).await,
        (2, vec![e2.id, e1.id])
    );
    assert_eq!(
        audit_ids(store, q(Some("alice"), Some("198.51.100.1"), None)).await,
        (1, vec![e2.id])
    );
    assert_eq!(audit_ids(store, q(None, None, Some(T0))).await, (0, vec![]));
}

/// `event_counts`: per kind and bucket from `since`, only the kinds asked
/// for, an aggregated row counting its count.
pub async fn event_counts_are_bucketed_by_kind_and_time<S: AuditSuite>(store: &S) {
    let hour = std::time::Duration::from_secs(3600);
    let ok = EventKind::LoginSucceeded;
    let failed = EventKind::LoginFailed;
    append(store, new_event(T0 - Duration::seconds(1), ok, None, "a")).await;
    append(store, new_event(T0, ok, None, "a")).await;
    append(store, new_event(T0 + Duration::minutes(59), ok, None, "a")).await;
    append(store, new_event(T0 + Duration::minutes(60), ok, None, "a")).await;
    append(store, new_event(T0 + Duration::hours(5), failed, None, "a")).await;
    append(store, new_event(T0, EventKind::Logout, None, "a")).await;
    let noise = NewAuditEvent {
        ip: Some("203.0.113.9".to_owned()),
        route: Some("/api/x".to_owned()),
        ..NewAuditEvent::new(T0 + Duration::hours(5), failed)
    };
    store
        .add_aggregated(vec![AggregatedEvents {
            count: 4,
            ..AggregatedEvents::new(noise, std::time::Duration::from_secs(60))
        }])
        .await
        .expect("add_aggregated");
    let mut counts: Vec<(EventKind, u64, u64)> = store
        .event_counts(&[ok, failed], T0, hour)
        .await
        .expect("event_counts")
        .into_iter()
        .map(|c| (c.event, c.bucket, c.count))
        .collect();
    counts.sort();
    assert_eq!(counts, vec![(ok, 0, 2), (ok, 1, 1), (failed, 5, 5)]);
    assert!(store
        .event_counts(&[], T0, hour)
        .await
        .expect("event_counts")
        .is_empty());
}
