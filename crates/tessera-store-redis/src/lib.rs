//! Tessera's shared counters in Redis: the throttles' windows
//! ([`ThrottleStore`]), login protection's failure records
//! ([`LoginAttemptStore`]) and the security-alert windows
//! ([`AlertWindowStore`]), for any number of server processes to share.
//!
//! - Each check is one Lua script ([`redis::Script`]: `EVALSHA`, then `EVAL`
//!   when the server does not have it yet), which Redis runs atomically: the
//!   script applies [`ThrottleWindow::hit`] or [`LoginRecord::fail`] to the
//!   key's hash with the caller's `now`, so concurrent checks from every
//!   process count exactly.
//! - Every key is written with a TTL, the time until its window ends (plus a
//!   second), so Redis forgets dead counters by itself.
//! - Keys are `<prefix>t:` (throttle) or `<prefix>l:` (login) and the
//!   unpadded base64url SHA-256 of the counter's key: a fixed size, and no
//!   username or submitted string in Redis. The prefix (`tessera:` by
//!   default) lets several deployments, or test runs, share one server.
//! - The connection is redis-rs's [`ConnectionManager`]: one multiplexed
//!   connection that pipelines the commands of every concurrent request and
//!   reconnects by itself when it breaks (a pool of such connections would
//!   add nothing but sockets). Each command waits at most
//!   [`RedisOptions::response_timeout`].
//! - Any failure, an unreachable server, a timeout, or an answer of an
//!   unexpected type (a key holding something else), is
//!   [`StoreError::Unavailable`]: the caller refuses the request with `503`
//!   (fail closed), never a made-up count.
//!
//! Redis keeps the counters across restarts of the server processes (and of
//! Redis itself, as far as its persistence settings go), so a lockout
//! survives a restart of every Tessera process.
//!
//! Also here: [`WithFallback`], the counters in Redis falling back to other
//! counter stores (PostgreSQL's) while Redis is down, and back when it
//! answers; and [`RedisSessionStore`] with [`RedisSessionWrites`], sessions
//! kept in Redis by digest, each expiring at its idle timeout capped by its
//! absolute end.

mod fallback;
mod sessions;

pub use fallback::{is_outage, Fallback, WithFallback, RETRY_EVERY};
pub use sessions::{RedisSessionStore, RedisSessionWrites};

use async_trait::async_trait;
use base64::Engine as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tessera_core::clock::{from_micros, to_micros};
use tessera_core::store::{Health, StoreError};
use tessera_core::throttle::{
    AlertWindowStore, Decision, FailureLimit, Lockout, LoginAttemptStore, LoginRecord, Rate,
    ThrottleStore, ThrottleWindow,
};
use time::OffsetDateTime;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "tessera:";

/// One throttle hit. `KEYS[1]` the window's hash (`count`, `ends`); `ARGV`:
/// now, the period (microseconds), the requests allowed (at least one).
/// Returns `{allowed, ends}`.
const HIT: &str = r"
local function int(x) return string.format('%d', x) end
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'count', 'ends')
local count, ends = tonumber(v[1]), tonumber(v[2])
if count == nil or ends == nil or ends <= now then
  ends = now + period
  redis.call('HSET', KEYS[1], 'count', 1, 'ends', int(ends))
  redis.call('PEXPIRE', KEYS[1], int(math.ceil(period / 1000) + 1000))
  return {1, ends}
end
if count < limit then
  redis.call('HINCRBY', KEYS[1], 'count', 1)
  return {1, ends}
end
return {0, ends}
";

/// One login failure: `LoginRecord::fail`. `KEYS[1]` the record's hash;
/// `ARGV`: now, the failures that lock (at least one), the window, the first
/// back-off, the longest (microseconds). Returns `{began, failures, locks,
/// locked_until}`.
const FAIL: &str = r"
local function int(x) return string.format('%d', x) end
local now = tonumber(ARGV[1])
local max_failures = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local first = tonumber(ARGV[4])
local longest = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'failures', 'locks', 'window_ends', 'locked_until', 'since')
local f, l, we, lu, s = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), tonumber(v[4]), tonumber(v[5])
if f == nil or l == nil or we == nil or lu == nil or s == nil or we <= now then
  f, l, we, lu, s = 0, 0, now + window, 0, now
end
f = f + 1
local began = 0
if f >= max_failures then
  local d = math.min(longest, first * (2 ^ math.min(l, 62)))
  if now >= lu then began = 1 end
  l = l + 1
  lu = math.max(now + d, lu)
  we = math.max(we, lu + window)
end
redis.call('HSET', KEYS[1], 'failures', int(f), 'locks', int(l), 'window_ends', int(we),
  'locked_until', int(lu), 'since', int(s))
redis.call('PEXPIRE', KEYS[1], int(math.ceil((we - now) / 1000) + 1000))
return {began, f, l, lu}
";

/// One note in a security-alert window. `KEYS[1]` the window's hash (`ends`,
/// `alerted`), `KEYS[2]` its set of members; `ARGV`: now, the window
/// (microseconds), the member, the threshold (at least one). Returns the
/// count when this note raises the alert, else -1.
const NOTE: &str = r"
local function int(x) return string.format('%d', x) end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local threshold = tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'ends', 'alerted')
local ends = tonumber(v[1])
if ends == nil or ends <= now then
  ends = now + window
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'ends', int(ends), 'alerted', 0)
elseif v[2] == '1' then
  return -1
end
local ttl = int(math.ceil((ends - now) / 1000) + 1000)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
local count = redis.call('SCARD', KEYS[2])
if count >= threshold then
  redis.call('HSET', KEYS[1], 'alerted', 1)
  return count
end
return -1
";

/// How [`RedisCounterStore::connect`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prefix of every key ([`DEFAULT_PREFIX`]).
    pub prefix: String,
    /// How long a connection attempt may take (2 s).
    pub connection_timeout: Duration,
    /// How long a command may take before it fails as unavailable (2 s).
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: DEFAULT_PREFIX.to_owned(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
        }
    }
}

/// The shared counters in Redis (see the [crate docs](crate)). Cloning is
/// cheap: clones share the connection.
#[derive(Clone)]
pub struct RedisCounterStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    hit: Arc<Script>,
    fail: Arc<Script>,
    note: Arc<Script>,
}

impl std::fmt::Debug for RedisCounterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounterStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Why [`RedisCounterStore::connect`] failed. The messages never repeat the
/// URL, which may carry a password.
#[derive(Debug)]
pub enum ConnectError {
    /// The URL is not a Redis URL (`redis://`, `rediss://`, `unix://`).
    Malformed(String),
    /// The server could not be reached, or did not answer `PING`.
    Unreachable(String),
}

impl std::error::Error for ConnectError {}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Malformed(why) => write!(f, "not a Redis URL: {why}"),
            ConnectError::Unreachable(why) => write!(f, "cannot reach Redis: {why}"),
        }
    }
}

impl RedisCounterStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host[:port][/db]`,
    /// `rediss://` for TLS is not built in) and checks it answers `PING`.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
        let client =
            redis::Client::open(url).map_err(|e| ConnectError::Malformed(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(options.connection_timeout)
            .set_response_timeout(options.response_timeout)
            .set_number_of_retries(1)
            .set_max_delay(1_000);
        let connect = ConnectionManager::new_with_config(client, config);
        let connection = tokio::time::timeout(2 * options.connection_timeout, connect)
            .await
            .map_err(|_| ConnectError::Unreachable("connection timed out".to_owned()))?
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let store = RedisCounterStore {
            connection,
            prefix: options.prefix.into(),
            hit: Arc::new(Script::new(HIT)),
            fail: Arc::new(Script::new(FAIL)),
            note: Arc::new(Script::new(NOTE)),
        };
        store
            .ping()
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        Ok(store)
    }

    /// The Redis key of a throttle key: the prefix, `t:`, and the key's digest.
    pub fn throttle_key(&self, key: &str) -> String {
        self.redis_key("t:", key)
    }

    /// The Redis key of a login-protection key: the prefix, `l:`, and the
    /// key's digest.
    pub fn login_key(&self, key: &str) -> String {
        self.redis_key("l:", key)
    }

    /// The Redis keys of a security-alert window: its hash and its set of
    /// members (the prefix, `a:`, the key's digest in braces so that both
    /// land in one Redis Cluster slot, and `:m` for the set).
    pub fn alert_keys(&self, key: &str) -> (String, String) {
        let digest = self.redis_key("", key);
        let digest = &digest[self.prefix.len()..];
        let window = format!("{}a:{{{digest}}}", self.prefix);
        let members = format!("{window}:m");
        (window, members)
    }

    fn redis_key(&self, kind: &str, key: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + kind.len() + 43);
        out.push_str(&self.prefix);
        out.push_str(kind);
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_string(Sha256::digest(key.as_bytes()), &mut out);
        out
    }
}

/// Every Redis failure is the store being unavailable: the caller fails
/// closed with `503`.
pub(crate) fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

/// Microseconds of a duration, saturating.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Health for RedisCounterStore {
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
impl ThrottleStore for RedisCounterStore {
    async fn hit(
        &self,
        key: &str,
        rate: Rate,
        now: OffsetDateTime,
    ) -> Result<Decision, StoreError> {
        if rate.num_requests() == 0 {
            // Refused with the whole period, nothing stored.
            return Ok(ThrottleWindow::hit(None, rate, now).0);
        }
        let mut connection = self.connection.clone();
        let (allowed, ends): (i64, i64) = self
            .hit
            .key(self.throttle_key(key))
            .arg(to_micros(now))
            .arg(micros(rate.duration()))
            .arg(rate.num_requests())
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(if allowed == 1 {
            Decision::Allowed
        } else {
            Decision::refused_until(ends, now)
        })
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(self.throttle_key(key))
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }
}

/// A login record's hash fields, as `HMGET` reads them.
const RECORD_FIELDS: [&str; 5] = ["failures", "locks", "window_ends", "locked_until", "since"];

type RecordFields = (
    Option<u32>,
    Option<u32>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The record in `fields`, when it is whole and live at `now`.
fn live(fields: RecordFields, now: OffsetDateTime) -> Option<LoginRecord> {
    let (Some(failures), Some(locks), Some(window_ends), Some(locked_until), Some(since)) = fields
    else {
        return None;
    };
    let record = LoginRecord {
        failures,
        locks,
        window_ends,
        locked_until,
        since,
    };
    record.is_live(now).then_some(record)
}

#[async_trait]
impl LoginAttemptStore for RedisCounterStore {
    async fn live_record(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let fields: RecordFields = redis::cmd("HMGET")
            .arg(self.login_key(key))
            .arg(&RECORD_FIELDS)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(live(fields, now))
    }

    /// One pipeline of `HMGET`s: one round trip.
    async fn live_records(
        &self,
        keys: &[&str],
        now: OffsetDateTime,
    ) -> Result<Vec<Option<LoginRecord>>, StoreError> {
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HMGET")
                .arg(self.login_key(key))
                .arg(&RECORD_FIELDS);
        }
        let rows: Vec<RecordFields> = pipe
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(|fields| live(fields, now)).collect())
    }

    async fn record_failure(
        &self,
        key: &str,
        limit: FailureLimit,
        now: OffsetDateTime,
    ) -> Result<Option<Lockout>, StoreError> {
        let mut connection = self.connection.clone();
        let (began, failures, locks, locked_until): (i64, u32, u32, i64) = self
            .fail
            .key(self.login_key(key))
            .arg(to_micros(now))
            .arg(limit.max_failures.max(1))
            .arg(micros(limit.window))
            .arg(micros(limit.first_backoff))
            .arg(micros(limit.max_backoff))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok((began == 1).then(|| Lockout {
            failures,
            duration: limit.backoff(locks.saturating_sub(1)),
            until: from_micros(locked_until),
        }))
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(self.login_key(key))
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }
}

#[async_trait]
impl AlertWindowStore for RedisCounterStore {
    async fn note(
        &self,
        key: &str,
        value: &str,
        threshold: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError> {
        let (window_key, members_key) = self.alert_keys(key);
        // Members are kept as digests too: a username stays out of Redis.
        let member = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(value.as_bytes()));
        let mut connection = self.connection.clone();
        let count: i64 = self
            .note
            .key(window_key)
            .key(members_key)
            .arg(to_micros(now))
            .arg(micros(window))
            .arg(member)
            .arg(threshold.max(1))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(u32::try_from(count).ok())
    }
}
