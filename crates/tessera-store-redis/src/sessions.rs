//! Sessions in Redis ([`RedisSessionStore`]) and the audited writes that
//! touch them ([`RedisSessionWrites`]), for deployments that want the
//! database off the session path (`sessions.store = "redis"`).
//!
//! Keys (the prefix is [`RedisOptions::prefix`](crate::RedisOptions)):
//!
//! - `<prefix>s:i:<id>`: the session, a hash (`user_id`, `digest`, `data`,
//!   `created`, `last_seen`, `expires`, `ip`, `ua`, `auth_at`; times in
//!   microseconds);
//! - `<prefix>s:d:<digest>`: the session's id, found by the unpadded
//!   base64url SHA-256 of the session id the cookie carries (the id itself
//!   is never stored);
//! - `<prefix>s:u:<user id>`: the ids of a user's sessions, a set;
//! - `<prefix>s:next`: the last id given out.
//!
//! The session's two keys expire when it would end: at the idle timeout
//! after its last use, capped by its absolute end (`expires`); every touch
//! moves the deadline. The times to live are durations from the session's
//! own times (Redis's clock need not agree with the server's), plus a
//! second's grace (`TTL_GRACE_MS`): a key's expiry only frees memory, and
//! without the grace a session touched a millisecond before its end could
//! vanish between two reads of one request. A user's set lives as long as
//! the user's longest-lived session.
//! Liveness is checked again on every read with the caller's idle timeout,
//! so a session is never answered past its end, whatever Redis still holds.
//! The user of a session is read from the user store on every find (users
//! stay in the database).

use crate::{unavailable, RedisCounterStore};
use async_trait::async_trait;
use base64::Engine as _;
use redis::aio::ConnectionManager;
use redis::Script;
use std::sync::Arc;
use tessera_core::audit::{AuditStore, NewAuditEvent};
use tessera_core::audited::{AuditedWrites, LoginWrite, LoginWritten, Rotated, TokenRotation};
use tessera_core::clock::{from_micros, to_micros, truncate_to_micros};
use tessera_core::session::{NewSession, SessionRecord};
use tessera_core::store::{Health, SessionStore, StoreError, UserStore};
use tessera_core::token::{KeyDigest, NewToken, TokenRecord};
use tessera_core::user::{NewUser, UserUpdate};
use tessera_core::User;
use time::{Duration, OffsetDateTime};

/// Milliseconds a session's keys outlive its end in Redis. Liveness is
/// decided on every read from the stored times, so the grace never serves
/// an ended session; it keeps one alive in Redis across the reads of a
/// request made just before its end.
const TTL_GRACE_MS: i64 = 1_000;

/// Creates a session. `KEYS`: the digest key, the session's hash, the
/// user's set. `ARGV`: id, user id, digest, data, created, expires, ip, ua,
/// auth_at (`""` for none), the session's time to live and the user set's
/// (milliseconds). Returns 0 when the digest is taken (nothing written),
/// else 1.
const CREATE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[10]) == false then
  return 0
end
redis.call('HSET', KEYS[2], 'user_id', ARGV[2], 'digest', ARGV[3], 'data', ARGV[4],
  'created', ARGV[5], 'last_seen', ARGV[5], 'expires', ARGV[6], 'ip', ARGV[7], 'ua', ARGV[8],
  'auth_at', ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[10])
redis.call('SADD', KEYS[3], ARGV[1])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[11]) then
  redis.call('PEXPIRE', KEYS[3], ARGV[11])
end
return 1
";

/// Deletes a session. `KEYS[1]` its hash; `ARGV`: the prefix, the id, the
/// owner required (`""` for any). Returns 1 when deleted.
const DELETE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'user_id', 'digest')
if v[1] == false then return 0 end
if ARGV[3] ~= '' and ARGV[3] ~= v[1] then return 0 end
redis.call('DEL', KEYS[1], ARGV[1] .. 's:d:' .. v[2])
redis.call('SREM', ARGV[1] .. 's:u:' .. v[1], ARGV[2])
return 1
";

/// Records a use. `KEYS[1]` the hash; `ARGV`: the prefix, last_seen
/// (micros), the idle timeout (micros). The keys live on for
/// `min(last_seen + idle, expires) - last_seen` (at least a millisecond),
/// plus the grace (`ARGV[4]`, milliseconds). Returns 1 when the session
/// exists.
const TOUCH: &str = r"
local v = redis.call('HMGET', KEYS[1], 'digest', 'expires')
if v[1] == false then return 0 end
local seen = tonumber(ARGV[2])
local deadline = math.min(seen + tonumber(ARGV[3]), tonumber(v[2]))
local ms = string.format('%d', math.max(1, math.ceil((deadline - seen) / 1000)) + tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ms)
redis.call('PEXPIRE', ARGV[1] .. 's:d:' .. v[1], ms)
return 1
";

/// Gives a session a new digest. `KEYS[1]` the hash; `ARGV`: the prefix,
/// the id, the new digest, auth_at (`""`: unchanged). Returns 1 when the
/// session exists, 0 when it does not, -1 when the new digest is taken
/// (nothing changed).
const ROTATE: &str = r"
local v = redis.call('HGET', KEYS[1], 'digest')
if v == false then return 0 end
if redis.call('EXISTS', ARGV[1] .. 's:d:' .. ARGV[3]) == 1 then return -1 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', ARGV[1] .. 's:d:' .. v)
if ttl > 0 then
  redis.call('SET', ARGV[1] .. 's:d:' .. ARGV[3], ARGV[2], 'PX', ttl)
else
  redis.call('SET', ARGV[1] .. 's:d:' .. ARGV[3], ARGV[2])
end
redis.call('HSET', KEYS[1], 'digest', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'auth_at', ARGV[4]) end
return 1
";

/// Sets a field of an existing hash. `KEYS[1]` the hash; `ARGV`: field,
/// value. Returns 1 when it exists.
const SET_IF_EXISTS: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// The fields of a session's hash, in [`FIELDS`] order.
const FIELDS: [&str; 9] = [
    "user_id",
    "digest",
    "data",
    "created",
    "last_seen",
    "expires",
    "ip",
    "ua",
    "auth_at",
];

type Row = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Sessions in Redis, for `sessions.store = "redis"`. Cloning is cheap.
///
/// Keys (the prefix is [`RedisOptions::prefix`](crate::RedisOptions)):
///
/// - `<prefix>s:i:<id>`: the session, a hash (`user_id`, `digest`, `data`,
///   `created`, `last_seen`, `expires`, `ip`, `ua`, `auth_at`; times in
///   microseconds);
/// - `<prefix>s:d:<digest>`: the session's id, found by the unpadded
///   base64url SHA-256 of the session id the cookie carries (the id itself
///   is never stored);
/// - `<prefix>s:u:<user id>`: the ids of a user's sessions, a set;
/// - `<prefix>s:next`: the last id given out.
///
/// The session's two keys expire when it would end: at the idle timeout
/// after its last use, capped by its absolute end (`expires`); every touch
/// moves the deadline. The times to live are durations from the session's
/// own times (Redis's clock need not agree with the server's). A user's set
/// lives as long as the user's longest-lived session.
/// Liveness is checked again on every read with the caller's idle timeout,
/// so a session is never answered past its end, whatever Redis still holds.
/// The user of a session is read from the user store on every find (users
/// stay in the database).
#[derive(Clone)]
pub struct RedisSessionStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    users: Arc<dyn UserStore>,
    idle_timeout: Duration,
    create: Arc<Script>,
    delete: Arc<Script>,
    touch: Arc<Script>,
    rotate: Arc<Script>,
    set_if_exists: Arc<Script>,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

fn digest_text(digest: &KeyDigest) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.0)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("a session in Redis is malformed: {what}").into())
}

fn row_to_record(id: i64, row: Row) -> Result<Option<SessionRecord>, StoreError> {
    let (user_id, _, data, created, last_seen, expires, ip, ua, auth_at) = row;
    let (Some(user_id), Some(data), Some(created), Some(last_seen), Some(expires)) =
        (user_id, data, created, last_seen, expires)
    else {
        return Ok(None);
    };
    let data = serde_json::from_str(&data).map_err(|_| corrupt("data"))?;
    let auth_at = match auth_at.as_deref() {
        None | Some("") => None,
        Some(text) => Some(from_micros(text.parse().map_err(|_| corrupt("auth_at"))?)),
    };
    let text = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(Some(SessionRecord {
        id,
        user_id,
        data,
        created: from_micros(created),
        last_seen: from_micros(last_seen),
        expires: from_micros(expires),
        ip: text(ip),
        user_agent: text(ua),
        authenticated_at: auth_at,
    }))
}

impl RedisSessionStore {
    /// Sessions on `counters`' Redis connection and prefix, their users read
    /// from `users`; keys expire `idle_timeout` after the last use (capped
    /// by each session's end).
    pub fn new(
        counters: &RedisCounterStore,
        users: Arc<dyn UserStore>,
        idle_timeout: std::time::Duration,
    ) -> Self {
        RedisSessionStore {
            connection: counters.connection.clone(),
            prefix: counters.prefix.clone(),
            users,
            idle_timeout: Duration::try_from(idle_timeout).unwrap_or(Duration::DAY),
            create: Arc::new(Script::new(CREATE)),
            delete: Arc::new(Script::new(DELETE)),
            touch: Arc::new(Script::new(TOUCH)),
            rotate: Arc::new(Script::new(ROTATE)),
            set_if_exists: Arc::new(Script::new(SET_IF_EXISTS)),
        }
    }

    fn session_key(&self, id: i64) -> String {
        format!("{}s:i:{id}", self.prefix)
    }

    fn digest_key(&self, digest: &KeyDigest) -> String {
        format!("{}s:d:{}", self.prefix, digest_text(digest))
    }

    fn user_key(&self, user_id: i64) -> String {
        format!("{}s:u:{user_id}", self.prefix)
    }

    async fn read(&self, id: i64) -> Result<Option<SessionRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let row: Row = redis::cmd("HMGET")
            .arg(self.session_key(id))
            .arg(&FIELDS[..])
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        row_to_record(id, row)
    }

    async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<i64> = redis::cmd("SMEMBERS")
            .arg(self.user_key(user_id))
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let mut sessions = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(record) = self.read(id).await? {
                sessions.push(record);
            }
        }
        sessions.sort_by_key(|s| (s.created, s.id));
        Ok(sessions)
    }

    /// Every session id in Redis, by `SCAN` (an admin count or a purge).
    async fn all_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut connection = self.connection.clone();
        let pattern = format!("{}s:i:*", self.prefix);
        let mut cursor: u64 = 0;
        let mut ids = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            let start = pattern.len() - 1;
            ids.extend(
                keys.iter()
                    .filter_map(|k| k.get(start..)?.parse::<i64>().ok()),
            );
            if next == 0 {
                return Ok(ids);
            }
            cursor = next;
        }
    }
}

#[async_trait]
impl Health for RedisSessionStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let pong: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                format!("PING answered {pong:?}").into(),
            ))
        }
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create_session(&self, new: NewSession) -> Result<SessionRecord, StoreError> {
        if self.users.user_by_id(new.user_id).await?.is_none() {
            return Err(StoreError::Other(
                format!("no user with id {}", new.user_id).into(),
            ));
        }
        let mut connection = self.connection.clone();
        let id: i64 = redis::cmd("INCR")
            .arg(format!("{}s:next", self.prefix))
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let created = truncate_to_micros(new.created);
        let expires = truncate_to_micros(new.expires);
        // Lifetimes, not instants: Redis's clock and the caller's need not agree.
        let ms = |d: Duration| {
            i64::try_from(d.whole_milliseconds())
                .unwrap_or(i64::MAX)
                .max(1)
                .saturating_add(TTL_GRACE_MS)
        };
        let ttl = ms(self.idle_timeout.min(expires - created));
        let user_ttl = ms(expires - created);
        let data = serde_json::to_string(&new.data).map_err(|e| StoreError::Other(Box::new(e)))?;
        let created_now: i64 = self
            .create
            .key(self.digest_key(&new.digest))
            .key(self.session_key(id))
            .key(self.user_key(new.user_id))
            .arg(id)
            .arg(new.user_id)
            .arg(digest_text(&new.digest))
            .arg(data)
            .arg(to_micros(created))
            .arg(to_micros(expires))
            .arg(new.ip.as_deref().unwrap_or(""))
            .arg(new.user_agent.as_deref().unwrap_or(""))
            .arg(
                new.authenticated_at
                    .map(|t| to_micros(t).to_string())
                    .unwrap_or_default(),
            )
            .arg(ttl)
            .arg(user_ttl)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if created_now == 0 {
            return Err(StoreError::Conflict(
                "the session digest is taken".to_owned(),
            ));
        }
        Ok(SessionRecord {
            id,
            user_id: new.user_id,
            data: new.data,
            created,
            last_seen: created,
            expires,
            ip: new.ip,
            user_agent: new.user_agent,
            authenticated_at: new.authenticated_at.map(truncate_to_micros),
        })
    }

    async fn find_session(
        &self,
        digest: &KeyDigest,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let mut connection = self.connection.clone();
        let id: Option<i64> = redis::cmd("GET")
            .arg(self.digest_key(digest))
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let Some(id) = id else {
            return Ok(None);
        };
        let Some(record) = self.read(id).await? else {
            return Ok(None);
        };
        if !record.is_live(now, idle_timeout) {
            return Ok(None);
        }
        let Some(user) = self.users.user_by_id(record.user_id).await? else {
            return Ok(None);
        };
        Ok(Some((record, user)))
    }

    async fn list_sessions(
        &self,
        user_id: i64,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut sessions = self.user_sessions(user_id).await?;
        sessions.retain(|s| s.is_live(now, idle_timeout));
        Ok(sessions)
    }

    async fn count_live_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<u64, StoreError> {
        let mut count = 0;
        for id in self.all_ids().await? {
            if self
                .read(id)
                .await?
                .is_some_and(|s| s.is_live(now, idle_timeout))
            {
                count += 1;
            }
        }
        Ok(count)
    }

    async fn rotate_session(
        &self,
        id: i64,
        new_digest: &KeyDigest,
        authenticated_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let done: i64 = self
            .rotate
            .key(self.session_key(id))
            .arg(&*self.prefix)
            .arg(id)
            .arg(digest_text(new_digest))
            .arg(
                authenticated_at
                    .map(|t| to_micros(t).to_string())
                    .unwrap_or_default(),
            )
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if done == -1 {
            return Err(StoreError::Conflict(
                "the session digest is taken".to_owned(),
            ));
        }
        Ok(done == 1)
    }

    async fn set_session_data(&self, id: i64, data: serde_json::Value) -> Result<(), StoreError> {
        let data = serde_json::to_string(&data).map_err(|e| StoreError::Other(Box::new(e)))?;
        let mut connection = self.connection.clone();
        self.set_if_exists
            .key(self.session_key(id))
            .arg("data")
            .arg(data)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn touch_session(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let idle = i64::try_from(self.idle_timeout.whole_microseconds()).unwrap_or(i64::MAX);
        self.touch
            .key(self.session_key(id))
            .arg(&*self.prefix)
            .arg(to_micros(at))
            .arg(idle)
            .arg(TTL_GRACE_MS)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn session_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("HGET")
            .arg(self.session_key(id))
            .arg("user_id")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn delete_session(&self, id: i64, owner: Option<i64>) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let deleted: i64 = self
            .delete
            .key(self.session_key(id))
            .arg(&*self.prefix)
            .arg(id)
            .arg(owner.map(|o| o.to_string()).unwrap_or_default())
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(deleted == 1)
    }

    async fn delete_user_sessions(
        &self,
        user_id: i64,
        except: Option<i64>,
    ) -> Result<u64, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<i64> = redis::cmd("SMEMBERS")
            .arg(self.user_key(user_id))
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let mut deleted = 0;
        for id in ids.into_iter().filter(|id| Some(*id) != except) {
            if self.delete_session(id, Some(user_id)).await? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn purge_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Result<u64, StoreError> {
        // Redis forgets ended sessions by their TTL; this catches those that
        // a shorter idle timeout than the store's ends early.
        let mut deleted = 0;
        for id in self.all_ids().await? {
            let ended = self
                .read(id)
                .await?
                .is_some_and(|s| !s.is_live(now, idle_timeout));
            if ended && self.delete_session(id, None).await? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// The audited writes with sessions in Redis: everything else is written by
/// `inner` (the database's, in one transaction with its event, as without
/// Redis); what touches a session writes Redis first, then the database.
///
/// What gives way, since Redis and the database share no transaction:
///
/// - A session login ([`AuditedWrites::record_login`] with a session):
///   the session is stored in Redis first, under a digest whose id only this
///   request knows; then the login, its `last_login` and its
///   `login_succeeded` event in one database transaction. When that fails,
///   the session is deleted again and the client gets no cookie. If the
///   deletion fails too (Redis went down in between), the session is left
///   in Redis with no event, but nobody holds its id, so nobody can use it,
///   and it expires at the idle timeout. A login answered `200` always has
///   its event; a login answered `503` never has a usable session.
/// - Ending sessions (logout, revocation, a password change): the sessions
///   are deleted in Redis first, then the change and its event are written
///   to the database. If the database then fails, the sessions are ended
///   without their event (or before a password change that did not happen):
///   the safe direction, a user signs in again, never a session that
///   outlives its revocation.
#[derive(Clone)]
pub struct RedisSessionWrites {
    sessions: RedisSessionStore,
    inner: Arc<dyn AuditedWrites>,
    audit: Arc<dyn AuditStore>,
}

impl std::fmt::Debug for RedisSessionWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionWrites")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl RedisSessionWrites {
    /// `inner`'s writes, with sessions in `sessions`; events appended alone
    /// go to `audit`.
    pub fn new(
        sessions: RedisSessionStore,
        inner: Arc<dyn AuditedWrites>,
        audit: Arc<dyn AuditStore>,
    ) -> Self {
        RedisSessionWrites {
            sessions,
            inner,
            audit,
        }
    }
}

#[async_trait]
impl AuditedWrites for RedisSessionWrites {
    async fn create_user_audited(
        &self,
        new: NewUser,
        event: NewAuditEvent,
    ) -> Result<User, StoreError> {
        self.inner.create_user_audited(new, event).await
    }

    async fn update_user_audited(
        &self,
        id: i64,
        update: UserUpdate,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        self.inner.update_user_audited(id, update, event).await
    }

    async fn update_user_and_revoke_audited(
        &self,
        id: i64,
        update: UserUpdate,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<Option<User>, StoreError> {
        if self.sessions.users.user_by_id(id).await?.is_none() {
            return Ok(None);
        }
        self.sessions
            .delete_user_sessions(id, except_session)
            .await?;
        self.inner
            .update_user_and_revoke_audited(id, update, except_session, except_token, event)
            .await
    }

    async fn create_token_audited(
        &self,
        new: NewToken,
        max_per_user: Option<u64>,
        event: NewAuditEvent,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.inner
            .create_token_audited(new, max_per_user, event)
            .await
    }

    async fn delete_token_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        self.inner.delete_token_audited(id, owner, event).await
    }

    async fn delete_session_audited(
        &self,
        id: i64,
        owner: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        if !self.sessions.delete_session(id, owner).await? {
            return Ok(false);
        }
        self.audit.append(event).await?;
        Ok(true)
    }

    async fn delete_user_credentials_audited(
        &self,
        user_id: i64,
        except_session: Option<i64>,
        except_token: Option<i64>,
        event: NewAuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        let sessions = self
            .sessions
            .delete_user_sessions(user_id, except_session)
            .await?;
        let (_, tokens) = self
            .inner
            .delete_user_credentials_audited(user_id, except_session, except_token, event)
            .await?;
        Ok((sessions, tokens))
    }

    async fn record_login(&self, mut login: LoginWrite) -> Result<LoginWritten, StoreError> {
        let Some(new) = login.session.take() else {
            return self.inner.record_login(login).await;
        };
        if login.token.is_some() {
            return Err(StoreError::Other(
                "a login stores a token or a session, not both".into(),
            ));
        }
        let session = self.sessions.create_session(new).await?;
        let written = self.inner.record_login(login).await;
        match written {
            Ok(LoginWritten::Recorded(_)) => Ok(LoginWritten::RecordedSession(session)),
            other => {
                if let Err(e) = self.sessions.delete_session(session.id, None).await {
                    tracing::warn!(
                        error = %e,
                        "a session login failed and its session stays in Redis until its idle \
                         timeout: nobody holds its id"
                    );
                }
                other
            }
        }
    }

    async fn rotate_token_audited(
        &self,
        rotation: TokenRotation,
        event: NewAuditEvent,
    ) -> Result<Rotated, StoreError> {
        self.inner.rotate_token_audited(rotation, event).await
    }

    async fn revoke_token_family_audited(
        &self,
        family: i64,
        event: NewAuditEvent,
    ) -> Result<u64, StoreError> {
        self.inner.revoke_token_family_audited(family, event).await
    }
}
