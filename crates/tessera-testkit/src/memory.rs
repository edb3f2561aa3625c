//! A store in memory: the reference the shared suite is checked against, and a
//! quick store for tests of code above the stores.

use async_trait::async_trait;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tessera_core::audit::EventKind;
use tessera_core::audit::{
    merge_by_key, with_count, AggregatedEvents, AuditPage, AuditQuery, AuditRecord, AuditStore,
    EventCount, NewAuditEvent,
};
use tessera_core::audited::{
    event_for_new_token, event_for_new_user, AuditedWrites, LoginWrite, LoginWritten, Rotated,
    TokenRotation,
};
use tessera_core::clock::truncate_to_micros;
use tessera_core::import::{
    event, ImportBatch, ImportStore, Imported, ImportedSession, ImportedToken, ImportedUser,
    Rejection,
};
use tessera_core::session::{NewSession, SessionRecord};
use tessera_core::store::{
    Health, SessionStore, StoreError, TokenStore, UserCredentials, UserPage, UserQuery, UserStore,
};
use tessera_core::throttle::LoginUnlockStore;
use tessera_core::token::{KeyDigest, NewToken, TokenRecord};
use tessera_core::user::{NewUser, UserUpdate};
use tessera_core::User;
use time::OffsetDateTime;

/// Users, tokens, sessions and the audit trail in memory, keeping every contract of the store traits.
/// Clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default, Clone)]
struct State {
    next_user_id: i64,
    next_token_id: i64,
    next_session_id: i64,
    next_audit_id: i64,
    users: BTreeMap<i64, (User, String)>,
    tokens: BTreeMap<i64, (KeyDigest, TokenRecord)>,
    sessions: BTreeMap<i64, (KeyDigest, SessionRecord)>,
    /// In id order, which is the order of appending.
    audit: Vec<AuditRecord>,
    /// Username key to the latest unlock.
    unlocks: BTreeMap<String, OffsetDateTime>,
    /// Aggregated rows: key to (id, stored detail without the count, count).
    aggregates: HashMap<String, (i64, serde_json::Value, u64)>,
    /// Django's first and last names of imported users.
    names: BTreeMap<i64, (String, String)>,
    /// Imported Django user id to (user id, digest of the imported hash).
    django_links: BTreeMap<i64, (i64, [u8; 32])>,
    /// Group names to ids (memberships are kept in [`User::groups`]).
    groups: BTreeMap<String, i64>,
    next_group_id: i64,
}

/// The writes, on the locked state: the plain methods and the audited ones
/// share them, so that an audited change and its event happen under one lock.
impl State {
    fn append(&mut self, event: NewAuditEvent) -> AuditRecord {
        self.next_audit_id += 1;
        let record = event.sanitized().into_record(self.next_audit_id);
        self.audit.push(record.clone());
        record
    }

    fn create_user(&mut self, new: NewUser) -> Result<User, StoreError> {
        if self.users.values().any(|(u, _)| u.username == new.username) {
            return Err(StoreError::Conflict(
                "A user with that username already exists.".to_owned(),
            ));
        }
        self.next_user_id += 1;
        let user = User {
            id: self.next_user_id,
            username: new.username,
            email: new.email,
            is_active: new.is_active,
            is_staff: new.is_staff,
            is_superuser: new.is_superuser,
            date_joined: truncate_to_micros(new.date_joined),
            last_login: None,
            groups: Vec::new(),
        };
        self.users
            .insert(user.id, (user.clone(), new.password_hash));
        Ok(user)
    }

    fn update_user(&mut self, id: i64, update: UserUpdate) -> Option<User> {
        let (user, hash) = self.users.get_mut(&id)?;
        if let Some(email) = update.email {
            user.email = email;
        }
        if let Some(is_active) = update.is_active {
            user.is_active = is_active;
        }
        if let Some(is_staff) = update.is_staff {
            user.is_staff = is_staff;
        }
        if let Some(is_superuser) = update.is_superuser {
            user.is_superuser = is_superuser;
        }
        if let Some(password_hash) = update.password_hash {
            *hash = password_hash;
        }
        Some(user.clone())
    }

    fn create_token(
        &mut self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        if !self.users.contains_key(&new.user_id) {
            return Err(StoreError::Other(
                format!("no user with id {}", new.user_id).into(),
            ));
        }
        if self.tokens.values().any(|(d, _)| *d == new.digest) {
            return Err(StoreError::Conflict("the key digest is taken".to_owned()));
        }
        let created = truncate_to_micros(new.created);
        if self.at_cap(new.user_id, created, max_per_user) {
            return Ok(None);
        }
        self.next_token_id += 1;
        let record = TokenRecord {
            id: self.next_token_id,
            user_id: new.user_id,
            name: new.name,
            scopes: new.scopes,
            created,
            expires: new.expires.map(truncate_to_micros),
            last_used: None,
            authenticated_at: new.authenticated_at.map(truncate_to_micros),
            family: self.next_token_id,
            grace_until: None,
        };
        self.tokens.insert(record.id, (new.digest, record.clone()));
        Ok(Some(record))
    }

    /// Whether `user_id` holds `max_per_user` live tokens at `now`.
    fn at_cap(&self, user_id: i64, now: OffsetDateTime, max_per_user: Option<u64>) -> bool {
        max_per_user.is_some_and(|max| {
            let held = self
                .tokens
                .values()
                .filter(|(_, t)| t.user_id == user_id && t.is_live(now))
                .count() as u64;
            held >= max
        })
    }

    /// [`AuditedWrites::rotate_token_audited`] without the event.
    fn rotate_token(&mut self, rotation: &TokenRotation) -> Result<Rotated, StoreError> {
        let created = truncate_to_micros(rotation.created);
        let old = match self.tokens.get(&rotation.token_id) {
            Some((_, t)) if t.user_id == rotation.user_id => t.clone(),
            _ => return Ok(Rotated::NoSuchToken),
        };
        if old.grace_until.is_some() {
            return Ok(Rotated::AlreadyRotated { family: old.family });
        }
        if old.is_expired(created) {
            return Ok(Rotated::NoSuchToken);
        }
        if self.tokens.values().any(|(d, _)| *d == rotation.digest) {
            return Err(StoreError::Conflict("the key digest is taken".to_owned()));
        }
        // The old token, in its grace period, is counted.
        if self.at_cap(rotation.user_id, created, rotation.max_per_user) {
            return Ok(Rotated::AtCap);
        }
        if let Some((_, t)) = self.tokens.get_mut(&old.id) {
            t.grace_until = Some(truncate_to_micros(rotation.grace_until));
        }
        self.next_token_id += 1;
        let record = TokenRecord {
            id: self.next_token_id,
            created,
            last_used: None,
            grace_until: None,
            ..old
        };
        self.tokens
            .insert(record.id, (rotation.digest, record.clone()));
        Ok(Rotated::Rotated(record))
    }

    /// Deletes every token of `family`; how many.
    fn delete_family(&mut self, family: i64) -> u64 {
        let before = self.tokens.len();
        self.tokens.retain(|_, (_, t)| t.family != family);
        (before - self.tokens.len()) as u64
    }

    fn delete_token(&mut self, id: i64, owner: Option<i64>) -> bool {
        let owned = self
            .tokens
            .get(&id)
            .is_some_and(|(_, t)| owner.is_none_or(|o| o == t.user_id));
        if owned {
            self.tokens.remove(&id);
        }
        owned
    }

    fn delete_user_tokens(&mut self, user_id: i64, except: Option<i64>) -> u64 {
        let before = self.tokens.len();
        self.tokens
            .retain(|&id, (_, t)| t.user_id != user_id || Some(id) == except);
        (before - self.tokens.len()) as u64
    }

    fn delete_session(&mut self, id: i64, owner: Option<i64>) -> bool {
        let owned = self
            .sessions
            .get(&id)
            .is_some_and(|(_, s)| owner.is_none_or(|o| o == s.user_id));
        if owned {
            self.sessions.remove(&id);
        }
        owned
    }

    fn create_session(&mut self, new: NewSession) -> Result<SessionRecord, StoreError> {
        if !self.users.contains_key(&new.user_id) {
            return Err(StoreError::Other(
                format!("no user with id {}", new.user_id).into(),
            ));
        }
        if self.sessions.values().any(|(d, _)| *d == new.digest) {
            return Err(StoreError::Conflict(
                "the session digest is taken".to_owned(),
            ));
        }
        self.next_session_id += 1;
        let created = truncate_to_micros(new.created);
        let record = SessionRecord {
            id: self.next_session_id,
            user_id: new.user_id,
            data: new.data,
            created,
            last_seen: created,
            expires: truncate_to_micros(new.expires),
            ip: new.ip,
            user_agent: new.user_agent,
            authenticated_at: new.authenticated_at.map(truncate_to_micros),
        };
        self.sessions
            .insert(record.id, (new.digest, record.clone()));
        Ok(record)
    }

    fn delete_user_sessions(&mut self, user_id: i64, except: Option<i64>) -> u64 {
        let before = self.sessions.len();
        self.sessions
            .retain(|&id, (_, s)| s.user_id != user_id || Some(id) == except);
        (before - self.sessions.len()) as u64
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unexpired(record: &TokenRecord, now: OffsetDateTime) -> bool {
    !record.is_expired(now)
}

/// Whether `purge_expired_tokens` keeps `record` at `now`: unexpired, and if
/// rotated out past its grace, with a live token left in its family.
fn kept(record: &TokenRecord, now: OffsetDateTime, live_families: &[i64]) -> bool {
    unexpired(record, now)
        && (!record.is_rotated_out(now) || live_families.contains(&record.family))
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.lock().create_user(new)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(&id).map(|(u, _)| u.clone()))
    }

    async fn credentials_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|(u, _)| u.username == username)
            .map(|(user, hash)| UserCredentials {
                user: user.clone(),
                password_hash: hash.clone(),
            }))
    }

    async fn update_user(&self, id: i64, update: UserUpdate) -> Result<Option<User>, StoreError> {
        Ok(self.lock().update_user(id, update))
    }

    async fn set_last_login(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        if let Some((user, _)) = self.lock().users.get_mut(&id) {
            user.last_login = Some(truncate_to_micros(at));
        }
        Ok(())
    }

    async fn count_password_schemes(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        for (_, hash) in self.lock().users.values() {
            *counts
                .entry(tessera_core::password::django::scheme_name_of(hash).to_owned())
                .or_insert(0) += 1;
        }
        Ok(counts)
    }

    async fn query_users(&self, q: &UserQuery) -> Result<UserPage, StoreError> {
        let state = self.lock();
        let matching: Vec<&User> = state
            .users
            .values()
            .map(|(u, _)| u)
            .filter(|u| q.matches(u))
            .collect();
        let skip = usize::try_from(q.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(q.limit).unwrap_or(usize::MAX);
        Ok(UserPage {
            count: matching.len() as u64,
            users: matching
                .into_iter()
                .skip(skip)
                .take(take)
                .cloned()
                .collect(),
        })
    }

    async fn list_users(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<UserPage, StoreError> {
        let needle = search.map(str::to_lowercase);
        let state = self.lock();
        let matching: Vec<&User> = state
            .users
            .values()
            .map(|(u, _)| u)
            .filter(|u| match &needle {
                None => true,
                Some(n) => {
                    u.username.to_lowercase().contains(n) || u.email.to_lowercase().contains(n)
                }
            })
            .collect();
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(UserPage {
            count: matching.len() as u64,
            users: matching
                .into_iter()
                .skip(skip)
                .take(take)
                .cloned()
                .collect(),
        })
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn create_token(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.lock().create_token(new, max_per_user)
    }

    async fn find_token(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        let state = self.lock();
        let found = state
            .tokens
            .values()
            .find(|(d, t)| d == digest && unexpired(t, now))
            .and_then(|(_, t)| {
                let (user, _) = state.users.get(&t.user_id)?;
                Some((t.clone(), user.clone()))
            });
        Ok(found)
    }

    async fn list_tokens(
        &self,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let mut tokens: Vec<TokenRecord> = self
            .lock()
            .tokens
            .values()
            .map(|(_, t)| t)
            .filter(|t| t.user_id == user_id && t.is_live(now))
            .cloned()
            .collect();
        tokens.sort_by_key(|t| (t.created, t.id));
        Ok(tokens)
    }

    async fn count_live_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let state = self.lock();
        Ok(state
            .tokens
            .values()
            .filter(|(_, t)| t.is_live(now))
            .count() as u64)
    }

    async fn delete_token(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        Ok(self.lock().delete_token(id, owner))
    }

    async fn delete_user_tokens(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().delete_user_tokens(user_id, except))
    }

    async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.lock().tokens.get(&id).map(|(_, t)| t.clone()))
    }

    async fn set_token_expiry(
        &self,
        id: i64,
        expires: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        Ok(match self.lock().tokens.get_mut(&id) {
            Some((_, t)) => {
                t.expires = expires.map(truncate_to_micros);
                true
            }
            None => false,
        })
    }

    async fn set_token_authenticated_at(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(match self.lock().tokens.get_mut(&id) {
            Some((_, t)) => {
                t.authenticated_at = Some(truncate_to_micros(at));
                true
            }
            None => false,
        })
    }

    async fn touch_token(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        if let Some((_, t)) = self.lock().tokens.get_mut(&id) {
            t.last_used = Some(truncate_to_micros(at));
        }
        Ok(())
    }

    async fn purge_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let live_families: Vec<i64> = state
            .tokens
            .values()
            .filter(|(_, t)| t.is_live(now))
            .map(|(_, t)| t.family)
            .collect();
        let before = state.tokens.len();
        state
            .tokens
            .retain(|_, (_, t)| kept(t, now, &live_families));
        Ok((before - state.tokens.len()) as u64)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        self.lock().create_session(new)
    }

    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let state = self.lock();
        let found = state
            .sessions
            .values()
            .find(|(d, s)| d == digest && s.is_live(now, idle_timeout))
            .and_then(|(_, s)| {
                let (user, _) = state.users.get(&s.user_id)?;
                Some((s.clone(), user.clone()))
            });
        Ok(found)
    }

    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut sessions: Vec<SessionRecord> = self
            .lock()
            .sessions
            .values()
            .map(|(_, s)| s)
            .filter(|s| s.user_id == user_id && s.is_live(now, idle_timeout))
            .cloned()
            .collect();
        sessions.sort_by_key(|s| (s.created, s.id));
        Ok(sessions)
    }

    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError> {
        let state = self.lock();
        Ok(state
            .sessions
            .values()
            .filter(|(_, s)| s.is_live(now, idle_timeout))
            .count() as u64)
    }

    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        authenticated_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state
            .sessions
            .iter()
            .any(|(&other, (d, _))| other != id && d == new_digest)
        {
            return Err(StoreError::Conflict(
                "the session digest is taken".to_owned(),
            ));
        }
        let Some((digest, session)) = state.sessions.get_mut(&id) else {
            return Ok(false);
        };
        *digest = *new_digest;
        if let Some(at) = authenticated_at {
            session.authenticated_at = Some(truncate_to_micros(at));
        }
        Ok(true)
    }

    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        if let Some((_, s)) = self.lock().sessions.get_mut(&id) {
            s.data = data;
        }
        Ok(())
    }

    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        if let Some((_, s)) = self.lock().sessions.get_mut(&id) {
            s.last_seen = truncate_to_micros(at);
        }
        Ok(())
    }

    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.lock().sessions.get(&id).map(|(_, s)| s.user_id))
    }

    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        Ok(self.lock().delete_session(id, owner))
    }

    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().delete_user_sessions(user_id, except))
    }

    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: time::Duration,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let before = state.sessions.len();
        state
            .sessions
            .retain(|_, (_, s)| s.is_live(now, idle_timeout));
        Ok((before - state.sessions.len()) as u64)
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append(&self, event: NewAuditEvent) -> Result<AuditRecord, StoreError> {
        Ok(self.lock().append(event))
    }

    /// All at once, under one lock.
    async fn append_many(&self, events: Vec<NewAuditEvent>) -> Result<(), StoreError> {
        let mut state = self.lock();
        for event in events {
            state.append(event);
        }
        Ok(())
    }

    /// All at once, under one lock; a row's listed detail is rewritten with
    /// its new count.
    async fn add_aggregated(&self, entries: Vec<AggregatedEvents>) -> Result<(), StoreError> {
        let mut state = self.lock();
        for (key, entry) in merge_by_key(entries) {
            let (id, detail, count) = match state.aggregates.get(&key) {
                Some((id, detail, count)) => (*id, detail.clone(), count + entry.count),
                None => {
                    let record = state.append(entry.row());
                    (record.id, record.detail, entry.count)
                }
            };
            if let Some(record) = state.audit.iter_mut().find(|r| r.id == id) {
                record.detail = with_count(detail.clone(), count);
            }
            state.aggregates.insert(key, (id, detail, count));
        }
        Ok(())
    }

    async fn event_counts(
        &self,
        kinds: &[EventKind],
        since: OffsetDateTime,
        bucket: std::time::Duration,
    ) -> Result<Vec<EventCount>, StoreError> {
        let state = self.lock();
        let length = i128::try_from(bucket.as_nanos())
            .unwrap_or(i128::MAX)
            .max(1_000);
        let mut counts: BTreeMap<(EventKind, u64), u64> = BTreeMap::new();
        for record in state
            .audit
            .iter()
            .filter(|r| r.time >= since && kinds.contains(&r.event))
        {
            let n = (record.time - since).whole_nanoseconds() / length;
            let count = record
                .detail
                .get("count")
                .and_then(serde_json::Value::as_u64)
                .filter(|_| state.aggregates.values().any(|(id, _, _)| *id == record.id))
                .unwrap_or(1);
            *counts
                .entry((record.event, u64::try_from(n).unwrap_or(0)))
                .or_default() += count;
        }
        Ok(counts
            .into_iter()
            .map(|((event, bucket), count)| EventCount {
                event,
                bucket,
                count,
            })
            .collect())
    }

    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let count = state.audit.len();
        state.audit.retain(|r| r.time >= before);
        let kept: std::collections::HashSet<i64> = state.audit.iter().map(|r| r.id).collect();
        state.aggregates.retain(|_, (id, _, _)| kept.contains(id));
        Ok((count - state.audit.len()) as u64)
    }

    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        let state = self.lock();
        let mut matching: Vec<&AuditRecord> = state.audit.iter().filter(|r| q.matches(r)).collect();
        matching.sort_by_key(|r| std::cmp::Reverse((r.time, r.id)));
        let skip = usize::try_from(q.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(q.limit).unwrap_or(usize::MAX);
        Ok(AuditPage {
            count: matching.len() as u64,
            events: matching
                .into_iter()
                .skip(skip)
                .take(take)
                .cloned()
                .collect(),
        })
    }
}

/// Each change and its event under one lock: no other operation sees the
/// change without the event.
#[async_trait]
impl AuditedWrites for MemoryStore {
    async fn create_user_audited(
        &self,
        new: NewUser,
        event: NewAuditEvent,
    ) -> Result<User, StoreError> {
        let mut state = self.lock();
        let user = state.create_user(new)?;
        state.append(event_for_new_user(event, user.id));
        Ok(user)
    }

    async fn update_user_audited(
        &self,
        id: i64,
        update: UserUpdate,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let mut state = self.lock();
        let user = state.update_user(id, update);
        if user.is_some() {
            state.append(event);
        }
        Ok(user)
    }

    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let mut state = self.lock();
        let record = state.create_token(new, max_per_user)?;
        if let Some(record) = &record {
            state.append(event_for_new_token(event, record.id));
        }
        Ok(record)
    }

    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let deleted = state.delete_token(id, owner);
        if deleted {
            state.append(event);
        }
        Ok(deleted)
    }

    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let deleted = state.delete_session(id, owner);
        if deleted {
            state.append(event);
        }
        Ok(deleted)
    }

    async fn update_user_and_revoke_audited(
        &self,
        id: i64,
        update: UserUpdate,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let mut state = self.lock();
        let user = state.update_user(id, update);
        if user.is_some() {
            state.delete_user_sessions(id, except_session);
            state.delete_user_tokens(id, except_token);
            state.append(event);
        }
        Ok(user)
    }

    async fn delete_user_credentials_audited(
        &self,
        user_id: i64,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        let mut state = self.lock();
        let sessions = state.delete_user_sessions(user_id, except_session);
        let tokens = state.delete_user_tokens(user_id, except_token);
        state.append(event);
        Ok((sessions, tokens))
    }

    async fn record_login(&self, login: LoginWrite) -> Result<LoginWritten, StoreError> {
        let mut state = self.lock();
        if !state.users.contains_key(&login.user_id) {
            return Ok(LoginWritten::NoSuchUser);
        }
        if login.token.is_some() && login.session.is_some() {
            return Err(StoreError::Other(
                "a login stores a token or a session, not both".into(),
            ));
        }
        // The session or the token first: the only steps that can fail, and
        // they fail before changing anything.
        let opened = match login.session {
            Some(session) => Some(state.create_session(session)?),
            None => None,
        };
        let (record, token_event) = match login.token {
            Some(token) => (
                state.create_token(token.new, token.max_per_user)?,
                Some(token.event),
            ),
            None => (None, None),
        };
        if let Some((user, hash)) = state.users.get_mut(&login.user_id) {
            user.last_login = Some(truncate_to_micros(login.at));
            if let Some(rehash) = login.rehash {
                if *hash == rehash.from {
                    *hash = rehash.to;
                }
            }
        }
        state.append(login.event);
        if let (Some(event), Some(record)) = (token_event, &record) {
            state.append(event_for_new_token(event, record.id));
        }
        Ok(match opened {
            Some(session) => LoginWritten::RecordedSession(session),
            None => LoginWritten::Recorded(record),
        })
    }

    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError> {
        let mut state = self.lock();
        let rotated = state.rotate_token(&rotation)?;
        if let Rotated::Rotated(record) = &rotated {
            state.append(event_for_new_token(event, record.id));
        }
        Ok(rotated)
    }

    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let deleted = state.delete_family(family);
        if deleted > 0 {
            state.append(event);
        }
        Ok(deleted)
    }
}

/// The unlock and its event under one lock.
#[async_trait]
impl LoginUnlockStore for MemoryStore {
    async fn last_unlock(&self, key: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self.lock().unlocks.get(key).copied())
    }

    async fn record_unlock(
        &self,
        key: &str,
        at: OffsetDateTime,
        event: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.unlocks.insert(key.to_owned(), truncate_to_micros(at));
        state.append(event);
        Ok(())
    }
}

/// The import, on the locked state: a batch is written on a copy that
/// replaces the state at the end, unless it is a dry run (a transaction).
impl State {
    fn import_user(&mut self, user: &ImportedUser, at: OffsetDateTime) -> Imported {
        let digest = user.password_digest();
        let linked = self.django_links.get(&user.django_id).copied();
        let own_id = linked.map_or(-1, |(id, _)| id);
        let lower = user.username.to_ascii_lowercase();
        if let Some((existing, _)) = self
            .users
            .values()
            .find(|(u, _)| u.id != own_id && u.username.to_ascii_lowercase() == lower)
        {
            return Imported::Rejected(Rejection::UsernameTaken {
                username: user.username.clone(),
                existing: existing.username.clone(),
            });
        }
        let detail = json!({"django_id": user.django_id});
        let names = (user.first_name.clone(), user.last_name.clone());
        let mut groups = user.groups.clone();
        groups.sort_unstable();
        groups.dedup();
        for group in &groups {
            self.group_id(group);
        }
        let fields = |id: i64, date_joined, last_login| User {
            groups: groups.clone(),
            id,
            username: user.username.clone(),
            email: user.email.clone(),
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            date_joined,
            last_login,
        };
        match linked {
            Some((id, old_digest)) => {
                let password_changed = old_digest != digest;
                let kept = self.users.get(&id).map_or(at, |(u, _)| u.date_joined);
                let date_joined = truncate_to_micros(user.date_joined.unwrap_or(kept));
                let wanted = fields(id, date_joined, user.last_login.map(truncate_to_micros));
                let Some((current, hash)) = self.users.get_mut(&id) else {
                    return Imported::Rejected(Rejection::NoSuchUser {
                        django_user_id: user.django_id,
                    });
                };
                let same =
                    *current == wanted && !password_changed && self.names.get(&id) == Some(&names);
                if same {
                    return Imported::Unchanged(id);
                }
                *current = wanted;
                if password_changed {
                    hash.clone_from(&user.password_hash);
                }
                self.names.insert(id, names);
                self.django_links.insert(user.django_id, (id, digest));
                let mut e = event(at, EventKind::UserUpdated, &user.username, detail);
                e.user = Some(id);
                self.append(e);
                Imported::Updated(id)
            }
            None => {
                self.next_user_id += 1;
                let id = self.next_user_id;
                let date_joined = truncate_to_micros(user.date_joined.unwrap_or(at));
                let created = fields(id, date_joined, user.last_login.map(truncate_to_micros));
                self.users.insert(id, (created, user.password_hash.clone()));
                self.names.insert(id, names);
                self.django_links.insert(user.django_id, (id, digest));
                let mut e = event(at, EventKind::UserCreated, &user.username, detail);
                e.user = Some(id);
                self.append(e);
                Imported::Created(id)
            }
        }
    }

    /// The group's id, the group created when missing: whether it was.
    fn group_id(&mut self, name: &str) -> (i64, bool) {
        if let Some(id) = self.groups.get(name) {
            return (*id, false);
        }
        self.next_group_id += 1;
        self.groups.insert(name.to_owned(), self.next_group_id);
        (self.next_group_id, true)
    }

    fn import_group(&mut self, name: &str) -> Imported {
        match self.group_id(name) {
            (id, true) => Imported::Created(id),
            (id, false) => Imported::Unchanged(id),
        }
    }

    fn linked_user(&self, django_id: i64) -> Option<(i64, String)> {
        let (id, _) = self.django_links.get(&django_id)?;
        self.users.get(id).map(|(u, _)| (*id, u.username.clone()))
    }

    fn import_token(&mut self, token: &ImportedToken, at: OffsetDateTime) -> Imported {
        let Some((user_id, username)) = self.linked_user(token.django_user_id) else {
            return Imported::Rejected(Rejection::NoSuchUser {
                django_user_id: token.django_user_id,
            });
        };
        let expires = token.expires.map(truncate_to_micros);
        if let Some((_, record)) = self.tokens.values_mut().find(|(d, _)| *d == token.digest) {
            if record.user_id == user_id && record.expires == expires {
                return Imported::Unchanged(record.id);
            }
            record.user_id = user_id;
            record.expires = expires;
            return Imported::Updated(record.id);
        }
        self.next_token_id += 1;
        let id = self.next_token_id;
        let record = TokenRecord {
            id,
            user_id,
            name: token.name().to_owned(),
            scopes: Vec::new(),
            created: truncate_to_micros(token.created),
            expires,
            last_used: None,
            authenticated_at: None,
            family: id,
            grace_until: None,
        };
        self.tokens.insert(id, (token.digest, record));
        let detail = json!({"name": token.name(), "kind": token.kind.name(), "token_id": id});
        let mut e = event(at, EventKind::TokenCreated, &username, detail);
        e.user = Some(user_id);
        self.append(e);
        Imported::Created(id)
    }

    fn import_session(&mut self, session: &ImportedSession, at: OffsetDateTime) -> Imported {
        let Some((user_id, username)) = self.linked_user(session.django_user_id) else {
            return Imported::Rejected(Rejection::NoSuchUser {
                django_user_id: session.django_user_id,
            });
        };
        let expires = truncate_to_micros(session.expires);
        if let Some((_, record)) = self
            .sessions
            .values_mut()
            .find(|(d, _)| *d == session.digest)
        {
            if record.user_id == user_id && record.expires == expires {
                return Imported::Unchanged(record.id);
            }
            record.user_id = user_id;
            record.expires = expires;
            return Imported::Updated(record.id);
        }
        self.next_session_id += 1;
        let id = self.next_session_id;
        let at = truncate_to_micros(at);
        let record = SessionRecord {
            id,
            user_id,
            data: session.data.clone(),
            created: at,
            last_seen: at,
            expires,
            ip: None,
            user_agent: None,
            authenticated_at: None,
        };
        self.sessions.insert(id, (session.digest, record));
        let mut e = event(
            at,
            EventKind::LoginSucceeded,
            &username,
            json!({"session_id": id}),
        );
        e.user = Some(user_id);
        self.append(e);
        Imported::Created(id)
    }
}

impl MemoryStore {
    /// Runs `write` over each row on a copy of the state, which replaces the
    /// state unless the batch is a dry run.
    fn import<T>(
        &self,
        rows: &[T],
        batch: ImportBatch,
        write: impl Fn(&mut State, &T, OffsetDateTime) -> Imported,
    ) -> Vec<Imported> {
        let mut state = self.lock();
        let mut copy = state.clone();
        let outcomes = rows
            .iter()
            .map(|row| write(&mut copy, row, batch.at))
            .collect();
        if !batch.dry_run {
            *state = copy;
        }
        outcomes
    }
}

#[async_trait]
impl ImportStore for MemoryStore {
    async fn import_groups(
        &self,
        names: &[String],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        Ok(self.import(names, batch, |state, name, _| state.import_group(name)))
    }

    async fn import_users(
        &self,
        users: &[ImportedUser],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        Ok(self.import(users, batch, State::import_user))
    }

    async fn import_tokens(
        &self,
        tokens: &[ImportedToken],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        Ok(self.import(tokens, batch, State::import_token))
    }

    async fn import_sessions(
        &self,
        sessions: &[ImportedSession],
        batch: ImportBatch,
    ) -> Result<Vec<Imported>, StoreError> {
        Ok(self.import(sessions, batch, State::import_session))
    }

    async fn imported_user_id(&self, django_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(self.lock().django_links.get(&django_id).map(|(id, _)| *id))
    }
}

#[async_trait]
impl Health for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
