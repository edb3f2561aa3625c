//! The audit trail: every authentication outcome, as an event with its time,
//! user, client address, user agent and request id (API.md, "Audit events").
//!
//! An event never carries a password, a key or a session id: `detail` is for
//! small structured facts such as `{"reason": "bad_password"}`.
//!
//! Text fields are sanitised on the way into a store
//! ([`NewAuditEvent::sanitized`], which every [`AuditStore`] applies): they are
//! cut to a bounded number of characters, and NUL (which PostgreSQL cannot keep
//! in text) becomes U+FFFD. Other control characters are kept as they came, so
//! that the trail shows what the client really sent: the JSON of
//! `/admin/audit` escapes them, and a log line that writes an event must escape
//! them too (`{:?}` or [`str::escape_debug`]), or a crafted username or user
//! agent could forge log lines.
//!
//! ```
//! use tessera_core::audit::{EventKind, NewAuditEvent};
//! use time::macros::datetime;
//!
//! let event = NewAuditEvent {
//!     username: "alice".repeat(100),
//!     ..NewAuditEvent::new(datetime!(2024-05-06 07:08:09 UTC), EventKind::LoginFailed)
//! }
//! .sanitized();
//! assert_eq!(event.username.chars().count(), 256);
//! assert_eq!(event.event.as_str(), "login_failed");
//! assert_eq!("login_failed".parse(), Ok(EventKind::LoginFailed));
//! ```
//!
//! ## Aggregated events
//!
//! Anonymous noise is counted rather than written one row each (API.md,
//! "Audit events"): a request event ([`NewAuditEvent::route`] set) of kind
//! `throttled`, `csrf_failed`, `permission_denied` or `login_failed` (a failed
//! token check) with neither a user nor an attempted username
//! ([`NewAuditEvent::is_aggregated`]) goes into at most one row per (kind,
//! client address, route, window). Windows are fixed, aligned on the Unix
//! epoch ([`window_start`]), so that every process sharing a database counts
//! into the same row; the row is made of the window's first event and its
//! `detail` holds `"route"` and `"count"` ([`AggregatedEvents`]). Other kinds
//! without a user, such as a `security_alert` about an address, are always
//! written whole: merging two alerts would lose the second one's facts.
//!
//! ```
//! use std::time::Duration;
//! use tessera_core::audit::{window_start, AggregatedEvents, EventKind, NewAuditEvent};
//! use time::macros::datetime;
//!
//! let event = NewAuditEvent {
//!     ip: Some("203.0.113.7".to_owned()),
//!     route: Some("/api/example/".to_owned()),
//!     ..NewAuditEvent::new(datetime!(2024-05-06 07:08:09 UTC), EventKind::Throttled)
//! };
//! assert!(event.is_aggregated());
//! let row = AggregatedEvents::new(event, Duration::from_secs(60));
//! assert_eq!(row.window, datetime!(2024-05-06 07:08:00 UTC));
//! assert_eq!(row.row().detail, serde_json::json!({"route": "/api/example/"}));
//! assert_eq!(window_start(datetime!(2024-05-06 07:08:59.999999 UTC), Duration::from_secs(60)), row.window);
//! ```

use crate::clock::{from_micros, to_micros, truncate_to_micros};
use crate::error::StoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// The most characters of a username an event keeps.
pub const MAX_USERNAME_CHARS: usize = 256;
/// The most characters of a user agent an event keeps.
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// The most characters of a client address an event keeps (an IPv6 address
/// with a zone is well under this).
pub const MAX_IP_CHARS: usize = 64;
/// The most characters of a request id an event keeps (it may come from the
/// client's `X-Request-Id`).
pub const MAX_REQUEST_ID_CHARS: usize = 128;
/// The most characters of a route an event keeps (a route template is far
/// shorter; a raw path is cut).
pub const MAX_ROUTE_CHARS: usize = 256;
/// The most bytes of `detail`, as JSON text, an event keeps. Larger details are
/// replaced by `{"truncated": true}`: cutting JSON would not leave JSON.
pub const MAX_DETAIL_BYTES: usize = 4096;

/// What happened. Serialized, stored and filtered by its snake_case name
/// ([`EventKind::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A login with a password succeeded.
    LoginSucceeded,
    /// A login failed (unknown user, wrong password, inactive user).
    LoginFailed,
    /// A session or token was ended by its holder.
    Logout,
    /// An API token was created.
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// An API token was rotated.
    TokenRotated,
    /// A session was revoked.
    SessionRevoked,
    /// A password was changed or reset.
    PasswordChanged,
    /// A session or token proved the password again.
    Reauthenticated,
    /// A request was refused by a throttle.
    Throttled,
    /// An account or client was locked out after repeated failures.
    Lockout,
    /// A request failed the CSRF check.
    CsrfFailed,
    /// An authenticated request was refused by a permission.
    PermissionDenied,
    /// A user was created.
    UserCreated,
    /// A user was changed (flags, e-mail, activation).
    UserUpdated,
    /// Something that calls for attention, such as a reused rotated token.
    SecurityAlert,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 16] = [
        EventKind::LoginSucceeded,
        EventKind::LoginFailed,
        EventKind::Logout,
        EventKind::TokenCreated,
        EventKind::TokenRevoked,
        EventKind::TokenRotated,
        EventKind::SessionRevoked,
        EventKind::PasswordChanged,
        EventKind::Reauthenticated,
        EventKind::Throttled,
        EventKind::Lockout,
        EventKind::CsrfFailed,
        EventKind::PermissionDenied,
        EventKind::UserCreated,
        EventKind::UserUpdated,
        EventKind::SecurityAlert,
    ];

    /// The name API.md gives the kind, such as `"login_failed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::Logout => "logout",
            EventKind::TokenCreated => "token_created",
            EventKind::TokenRevoked => "token_revoked",
            EventKind::TokenRotated => "token_rotated",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::PasswordChanged => "password_changed",
            EventKind::Reauthenticated => "reauthenticated",
            EventKind::Throttled => "throttled",
            EventKind::Lockout => "lockout",
            EventKind::CsrfFailed => "csrf_failed",
            EventKind::PermissionDenied => "permission_denied",
            EventKind::UserCreated => "user_created",
            EventKind::UserUpdated => "user_updated",
            EventKind::SecurityAlert => "security_alert",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit event kind")]
pub struct UnknownEventKind;

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    /// The kind with exactly this name (case-sensitive).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or(UnknownEventKind)
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When it happened (stores keep whole microseconds).
    pub time: OffsetDateTime,
    /// What happened.
    pub event: EventKind,
    /// The user's id, when known. It need not name an existing user: events
    /// outlive the users they are about.
    pub user: Option<i64>,
    /// The username: the actual one, or the one attempted (for failures);
    /// empty when there is none.
    pub username: String,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's id, to find its log lines.
    pub request_id: Option<String>,
    /// Small structured facts, such as `{"reason": "bad_password"}`; never a
    /// secret. `Value::Null` when there are none.
    pub detail: serde_json::Value,
    /// The route of the request: its matched path template (such as
    /// `/auth/tokens/{id}`) where the router matched one, else its path; never
    /// a query string. `None` outside a request. Not a column of its own: it
    /// is the third part of an aggregated row's key and shows in that row's
    /// `detail` as `"route"` (see [`is_aggregated`](NewAuditEvent::is_aggregated)).
    pub route: Option<String>,
}

impl NewAuditEvent {
    /// An event of `event` at `time`, with no user, empty username and no
    /// request facts.
    pub fn new(time: OffsetDateTime, event: EventKind) -> Self {
        NewAuditEvent {
            time,
            event,
            user: None,
            username: String::new(),
            ip: None,
            user_agent: None,
            request_id: None,
            detail: serde_json::Value::Null,
            route: None,
        }
    }

    /// Whether the event is anonymous noise, counted into an aggregated row
    /// ([`AggregatedEvents`]) instead of written as a row of its own: an event
    /// of a request (a route is set) of kind `throttled`, `csrf_failed`,
    /// `permission_denied` or `login_failed` (a failed token check), with
    /// neither a user nor an attempted username. Every other event is written
    /// whole (see the [module](self) docs).
    pub fn is_aggregated(&self) -> bool {
        matches!(
            self.event,
            EventKind::Throttled
                | EventKind::CsrfFailed
                | EventKind::PermissionDenied
                | EventKind::LoginFailed
        ) && self.user.is_none()
            && self.username.is_empty()
            && self.route.is_some()
    }

    /// The event as a store keeps it: time truncated to microseconds, text
    /// cut to [`MAX_USERNAME_CHARS`], [`MAX_USER_AGENT_CHARS`], [`MAX_IP_CHARS`]
    /// and [`MAX_REQUEST_ID_CHARS`] characters with NUL replaced by U+FFFD, and
    /// a `detail` over [`MAX_DETAIL_BYTES`] replaced by `{"truncated": true}`.
    /// Other control characters are kept (see the [module](self) docs).
    pub fn sanitized(self) -> Self {
        let detail_too_big = json_len(&self.detail).is_none_or(|len| len > MAX_DETAIL_BYTES);
        NewAuditEvent {
            time: truncate_to_micros(self.time),
            event: self.event,
            user: self.user,
            username: clean(self.username, MAX_USERNAME_CHARS),
            ip: self.ip.map(|ip| clean(ip, MAX_IP_CHARS)),
            user_agent: self.user_agent.map(|ua| clean(ua, MAX_USER_AGENT_CHARS)),
            request_id: self.request_id.map(|id| clean(id, MAX_REQUEST_ID_CHARS)),
            detail: if detail_too_big {
                serde_json::json!({"truncated": true})
            } else {
                self.detail
            },
            route: self.route.map(|route| clean(route, MAX_ROUTE_CHARS)),
        }
    }

    /// The stored event with id `id`, as given: a store sanitises first. The
    /// route is not kept (see [`NewAuditEvent::route`]).
    pub fn into_record(self, id: i64) -> AuditRecord {
        AuditRecord {
            id,
            time: self.time,
            event: self.event,
            user: self.user,
            username: self.username,
            ip: self.ip,
            user_agent: self.user_agent,
            request_id: self.request_id,
            detail: self.detail,
        }
    }
}

/// At most `max` characters of `text`, with NUL replaced by U+FFFD.
/// The length of `value` as JSON, counted without building the text; `None`
/// if it cannot be serialised.
fn json_len(value: &serde_json::Value) -> Option<usize> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).ok()?;
    Some(count.0)
}

/// `text` cut to `max` characters, NULs replaced (PostgreSQL refuses them in
/// text). Most texts need neither, and are kept as they are.
fn clean(text: String, max: usize) -> String {
    // At most `max` bytes is at most `max` characters.
    if text.len() <= max && !text.as_bytes().contains(&0) {
        return text;
    }
    text.chars()
        .take(max)
        .map(|c| {
            if c == '\0' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// The start of the aggregation window of length `window` that `time` falls
/// in: windows are aligned on the Unix epoch (a 60 s window starts on a whole
/// minute), so that every process sharing a store agrees on them. A zero
/// window is taken as one microsecond.
pub fn window_start(time: OffsetDateTime, window: std::time::Duration) -> OffsetDateTime {
    from_micros(window_start_micros(time, window))
}

/// [`window_start`] in microseconds since the Unix epoch (a row's key,
/// without making the time).
pub fn window_start_micros(time: OffsetDateTime, window: std::time::Duration) -> i64 {
    let length = i64::try_from(window.as_micros()).unwrap_or(i64::MAX).max(1);
    to_micros(time).div_euclid(length) * length
}

/// The key of an aggregated row's `detail` that holds its count.
pub const COUNT_FIELD: &str = "count";
/// The key of an aggregated row's `detail` that holds its route.
pub const ROUTE_FIELD: &str = "route";

/// Aggregated events of one (kind, client address, route, window), to be
/// added to their row ([`AuditStore::add_aggregated`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatedEvents {
    /// The first of them: a new row is made of it ([`row`](Self::row)); a row
    /// that exists keeps its own time, user agent, request id and detail.
    pub first: NewAuditEvent,
    /// The start of their window ([`window_start`]).
    pub window: OffsetDateTime,
    /// How many they are (at least one).
    pub count: u64,
}

impl AggregatedEvents {
    /// `first` alone, in its window of length `window`.
    pub fn new(first: NewAuditEvent, window: std::time::Duration) -> Self {
        AggregatedEvents {
            window: window_start(first.time, window),
            first,
            count: 1,
        }
    }

    /// The row's key: the kind, the client address and the route (as a
    /// store keeps them, sanitised) and the window's start, as the hex
    /// SHA-256 of their length-prefixed concatenation (one fixed-length
    /// column for a unique index, whatever the route's length).
    pub fn key(&self) -> String {
        let first = self.first.clone().sanitized();
        let mut hash = Sha256::new();
        for part in [
            first.event.as_str(),
            first.ip.as_deref().unwrap_or(""),
            first.route.as_deref().unwrap_or(""),
            &to_micros(self.window).to_string(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        hash.finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The event a new row is made of: the first, sanitised, with the route
    /// added to its `detail` as `"route"` (a `detail` that is not an object
    /// is kept under `"detail"`). The count is not in it: stores keep it
    /// apart and show it as `"count"` ([`with_count`]).
    pub fn row(&self) -> NewAuditEvent {
        let mut event = self.first.clone().sanitized();
        let route = serde_json::Value::from(event.route.clone().unwrap_or_default());
        let mut detail = match std::mem::take(&mut event.detail) {
            serde_json::Value::Object(map) => map,
            serde_json::Value::Null => serde_json::Map::new(),
            other => serde_json::Map::from_iter([("detail".to_owned(), other)]),
        };
        detail.insert(ROUTE_FIELD.to_owned(), route);
        event.detail = serde_json::Value::Object(detail);
        event
    }

    /// Folds `other` (of the same key) into these: the earlier first event
    /// stays, the counts add up.
    pub fn merge(&mut self, other: AggregatedEvents) {
        if other.first.time < self.first.time {
            self.first = other.first;
        }
        self.count = self.count.saturating_add(other.count);
    }
}

/// `detail` of an aggregated row as it is listed: the stored detail with
/// `"count"` set to `count`.
pub fn with_count(detail: serde_json::Value, count: u64) -> serde_json::Value {
    let mut map = match detail {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("detail".to_owned(), other)]),
    };
    map.insert(COUNT_FIELD.to_owned(), serde_json::Value::from(count));
    serde_json::Value::Object(map)
}

/// A stored event. Serializes as `/admin/audit` lists it: `{"id", "time"
/// (RFC 3339 UTC), "event", "user" (id or null), "username", "ip",
/// "user_agent", "request_id", "detail"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Primary key, increasing in the order events were stored.
    pub id: i64,
    /// When it happened.
    #[serde(with = "crate::clock::serde_rfc3339")]
    pub time: OffsetDateTime,
    /// What happened.
    pub event: EventKind,
    /// The user's id, when known (the user may since have been deleted).
    pub user: Option<i64>,
    /// The actual or attempted username; may be empty.
    pub username: String,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// Small structured facts.
    pub detail: serde_json::Value,
}

/// Which events to list, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this user's events.
    pub user: Option<i64>,
    /// Only events of this kind.
    pub event: Option<EventKind>,
    /// Only events at or after this time (inclusive).
    pub since: Option<OffsetDateTime>,
    /// Only events before this time (exclusive).
    pub until: Option<OffsetDateTime>,
    /// Only events with exactly this username (actual or attempted).
    pub username: Option<String>,
    /// Only events from exactly this client address.
    pub ip: Option<String>,
    /// Events to skip, newest first.
    pub offset: u64,
    /// The most events to return.
    pub limit: u64,
}

impl Default for AuditQuery {
    /// Every event: no filter, no offset, no limit.
    fn default() -> Self {
        AuditQuery {
            user: None,
            event: None,
            since: None,
            until: None,
            username: None,
            ip: None,
            offset: 0,
            limit: u64::MAX,
        }
    }
}

impl AuditQuery {
    /// Whether `record` passes the filters (not the paging).
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.user.is_none_or(|user| record.user == Some(user))
            && self.event.is_none_or(|event| record.event == event)
            && self.since.is_none_or(|since| record.time >= since)
            && self.until.is_none_or(|until| record.time < until)
            && self
                .username
                .as_deref()
                .is_none_or(|name| record.username == name)
            && self
                .ip
                .as_deref()
                .is_none_or(|ip| record.ip.as_deref() == Some(ip))
    }
}

/// One page of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// How many events match, over all pages.
    pub count: u64,
    /// This page's events, newest first (time descending, then id descending).
    pub events: Vec<AuditRecord>,
}

/// How many events of one kind fell in one bucket of time
/// ([`AuditStore::event_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCount {
    /// The kind.
    pub event: EventKind,
    /// The bucket's number: `0` starts at the query's `since`, each is one
    /// `bucket` long.
    pub bucket: u64,
    /// How many events: an aggregated row counts its count.
    pub count: u64,
}

/// The audit trail. Append-only: events are never changed, except that an
/// aggregated row's count grows ([`add_aggregated`](AuditStore::add_aggregated)),
/// and they are deleted only past the retention
/// ([`delete_events_before`](AuditStore::delete_events_before)).
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Stores `event.sanitized()` and returns it with its id.
    async fn append(&self, event: NewAuditEvent) -> Result<AuditRecord, StoreError>;
    /// Stores every event, sanitised, in one transaction: all or none. For
    /// the batched flush of a bounded queue; an empty batch does nothing.
    async fn append_many(&self, events: Vec<NewAuditEvent>) -> Result<(), StoreError>;
    /// The events that match `q`'s filters, newest first (time descending, then
    /// id descending), `q.limit` from `q.offset`, with how many match. An
    /// aggregated row lists its count in `detail` as `"count"`
    /// ([`with_count`]).
    async fn query(&self, q: &AuditQuery) -> Result<AuditPage, StoreError>;
    /// How many events of each of `kinds` happened in each `bucket`-long
    /// stretch of time from `since` (inclusive) on, an aggregated row counting
    /// its count; buckets without events are left out. One query, for the
    /// admin overview's charts.
    async fn event_counts(
        &self,
        kinds: &[EventKind],
        since: OffsetDateTime,
        bucket: std::time::Duration,
    ) -> Result<Vec<EventCount>, StoreError>;
    /// Adds each entry's count to its aggregated row ([`AggregatedEvents::key`]),
    /// inserting the row ([`AggregatedEvents::row`]) when there is none yet;
    /// all in one transaction. Entries of one key are summed, and writers
    /// (several processes) adding to one key at once make one row with the
    /// sum: the key is unique in the store. An empty list does nothing.
    async fn add_aggregated(&self, entries: Vec<AggregatedEvents>) -> Result<(), StoreError>;
    /// Deletes every event whose time is before `before` (the retention);
    /// how many. Events at `before` or later are kept.
    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// `entries` with those of one key merged ([`AggregatedEvents::merge`]), each
/// with its key, in the order of their keys' first entries: what a store's
/// [`AuditStore::add_aggregated`] writes.
pub fn merge_by_key(entries: Vec<AggregatedEvents>) -> Vec<(String, AggregatedEvents)> {
    let mut merged: Vec<(String, AggregatedEvents)> = Vec::with_capacity(entries.len());
    let mut index: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(entries.len());
    for entry in entries {
        let key = entry.key();
        match index.get(&key) {
            Some(&at) => {
                if let Some((_, existing)) = merged.get_mut(at) {
                    existing.merge(entry);
                }
            }
            None => {
                index.insert(key.clone(), merged.len());
                merged.push((key, entry));
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use time::macros::datetime;

    #[test]
    fn kinds_round_trip_through_their_names() {
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
        for bad in ["", "LOGIN_FAILED", "login failed", "login_failed "] {
            assert_eq!(bad.parse::<EventKind>(), Err(UnknownEventKind));
        }
    }

    #[test]
    fn kinds_are_the_ones_api_md_lists() {
        let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "login_succeeded",
                "login_failed",
                "logout",
                "token_created",
                "token_revoked",
                "token_rotated",
                "session_revoked",
                "password_changed",
                "reauthenticated",
                "throttled",
                "lockout",
                "csrf_failed",
                "permission_denied",
                "user_created",
                "user_updated",
                "security_alert",
            ]
        );
    }

    #[test]
    fn a_record_serializes_as_api_md_lists_it() {
        let record = AuditRecord {
            id: 7,
            time: datetime!(2024-05-06 07:08:09.123456 UTC),
            event: EventKind::LoginFailed,
            user: None,
            username: "mallory".to_owned(),
            ip: Some("203.0.113.7".to_owned()),
            user_agent: None,
            request_id: Some("req-1".to_owned()),
            detail: json!({"reason": "bad_password"}),
        };
        let value = serde_json::to_value(&record).ok();
        assert_eq!(
            value,
            Some(json!({
                "id": 7,
                "time": "2024-05-06T07:08:09.123456Z",
                "event": "login_failed",
                "user": null,
                "username": "mallory",
                "ip": "203.0.113.7",
                "user_agent": null,
                "request_id": "req-1",
                "detail": {"reason": "bad_password"},
            }))
        );
        let back: Option<AuditRecord> = value.and_then(|v| serde_json::from_value(v).ok());
        assert_eq!(back, Some(record));
    }

    #[test]
    fn sanitizing_cuts_characters_not_bytes_and_replaces_nul() {
        let event = NewAuditEvent {
            time: datetime!(2024-05-06 07:08:09.123456789 UTC),
            username: "ü".repeat(300),
            ip: Some("1".repeat(100)),
            user_agent: Some(format!("a\0b\r\nc\u{1b}[31m{}", "x".repeat(600))),
            request_id: Some("r".repeat(200)),
            ..NewAuditEvent::new(T0, EventKind::LoginFailed)
        }
        .sanitized();
        assert_eq!(event.time, datetime!(2024-05-06 07:08:09.123456 UTC));
        assert_eq!(event.username, "ü".repeat(MAX_USERNAME_CHARS));
        assert_eq!(event.ip.map(|s| s.len()), Some(MAX_IP_CHARS));
        let ua = event.user_agent.unwrap_or_default();
        assert_eq!(ua.chars().count(), MAX_USER_AGENT_CHARS);
        assert!(ua.starts_with("a\u{FFFD}b\r\nc\u{1b}[31mx"), "{ua:?}");
        assert_eq!(
            event.request_id.map(|s| s.len()),
            Some(MAX_REQUEST_ID_CHARS)
        );
    }

    const T0: OffsetDateTime = datetime!(2024-05-06 07:08:09 UTC);

    #[test]
    fn sanitizing_keeps_short_fields_and_small_details() {
        let event = NewAuditEvent {
            user: Some(3),
            username: "alice".to_owned(),
            ip: Some("::1".to_owned()),
            user_agent: Some("curl/8".to_owned()),
            request_id: Some("abc".to_owned()),
            detail: json!({"reason": "x".repeat(MAX_DETAIL_BYTES - 20)}),
            ..NewAuditEvent::new(T0, EventKind::LoginSucceeded)
        };
        assert_eq!(event.clone().sanitized(), event);
    }

    #[test]
    fn a_big_detail_is_replaced() {
        let event = NewAuditEvent {
            detail: json!({"reason": "x".repeat(MAX_DETAIL_BYTES)}),
            ..NewAuditEvent::new(T0, EventKind::SecurityAlert)
        }
        .sanitized();
        assert_eq!(event.detail, json!({"truncated": true}));
    }

    fn noise(time: OffsetDateTime, ip: &str, route: &str) -> NewAuditEvent {
        NewAuditEvent {
            ip: Some(ip.to_owned()),
            route: Some(route.to_owned()),
            detail: json!({"scope": "anon"}),
            ..NewAuditEvent::new(time, EventKind::Throttled)
        }
    }

    #[test]
    fn only_anonymous_request_noise_is_aggregated() {
        let anonymous = noise(T0, "203.0.113.7", "/r");
        assert!(anonymous.is_aggregated());
        for kind in EventKind::ALL {
            let event = NewAuditEvent {
                event: kind,
                ..anonymous.clone()
            };
            let noisy = matches!(
                kind,
                EventKind::Throttled
                    | EventKind::CsrfFailed
                    | EventKind::PermissionDenied
                    | EventKind::LoginFailed
            );
            assert_eq!(event.is_aggregated(), noisy, "{kind}");
        }
        let with_user = NewAuditEvent {
            user: Some(1),
            ..anonymous.clone()
        };
        let with_username = NewAuditEvent {
            username: "alice".to_owned(),
            ..anonymous.clone()
        };
        let outside_a_request = NewAuditEvent {
            route: None,
            ..anonymous
        };
        for event in [with_user, with_username, outside_a_request] {
            assert!(!event.is_aggregated(), "{event:?}");
        }
    }

    #[test]
    fn windows_are_aligned_on_the_epoch() {
        let minute = std::time::Duration::from_secs(60);
        assert_eq!(window_start(T0, minute), datetime!(2024-05-06 07:08:00 UTC));
        assert_eq!(
            window_start(datetime!(2024-05-06 07:08:00 UTC), minute),
            datetime!(2024-05-06 07:08:00 UTC)
        );
        assert_eq!(
            window_start(datetime!(2024-05-06 07:07:59.999999 UTC), minute),
            datetime!(2024-05-06 07:07:00 UTC)
        );
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(window_start(T0, hour), datetime!(2024-05-06 07:00 UTC));
        // The key's microseconds are the window's start (a row counted by
        // `Auditor::record` and one the writer made must have one key).
        for (time, window) in [
            (T0, minute),
            (T0, hour),
            (OffsetDateTime::UNIX_EPOCH, minute),
        ] {
            assert_eq!(
                window_start_micros(time, window),
                crate::clock::to_micros(window_start(time, window))
            );
        }
        assert_eq!(window_start_micros(T0, minute), 1_714_979_280_000_000);
        let before_epoch = OffsetDateTime::UNIX_EPOCH - time::Duration::seconds(1);
        assert_eq!(
            window_start(before_epoch, minute),
            OffsetDateTime::UNIX_EPOCH - time::Duration::MINUTE
        );
        assert_eq!(window_start(T0, std::time::Duration::ZERO), T0);
    }

    #[test]
    fn keys_differ_by_kind_address_route_and_window_only() {
        let minute = std::time::Duration::from_secs(60);
        let key = |event: NewAuditEvent| AggregatedEvents::new(event, minute).key();
        let base = key(noise(T0, "203.0.113.7", "/r"));
        assert_eq!(base.len(), 64);
        assert!(base.bytes().all(|b| b.is_ascii_hexdigit()));
        // Same window, other request facts: same row.
        let same = NewAuditEvent {
            time: T0 + time::Duration::seconds(50),
            user_agent: Some("other".to_owned()),
            request_id: Some("r2".to_owned()),
            detail: json!({"scope": "user"}),
            ..noise(T0, "203.0.113.7", "/r")
        };
        assert_eq!(key(same), base);
        let csrf = NewAuditEvent {
            event: EventKind::CsrfFailed,
            ..noise(T0, "203.0.113.7", "/r")
        };
        let others = [
            key(csrf),
            key(noise(T0, "203.0.113.8", "/r")),
            key(noise(T0, "203.0.113.7", "/s")),
            key(noise(T0 + time::Duration::MINUTE, "203.0.113.7", "/r")),
            // Length prefixes: moving text between parts is another key.
            key(noise(T0, "203.0.113.7/", "r")),
        ];
        for other in &others {
            assert_ne!(other, &base);
        }
    }

    #[test]
    fn merging_keeps_the_first_event_and_adds_counts() {
        let minute = std::time::Duration::from_secs(60);
        let early = noise(T0, "203.0.113.7", "/r");
        let late = NewAuditEvent {
            request_id: Some("late".to_owned()),
            ..noise(T0 + time::Duration::seconds(5), "203.0.113.7", "/r")
        };
        let entries = vec![
            AggregatedEvents {
                count: 2,
                ..AggregatedEvents::new(late.clone(), minute)
            },
            AggregatedEvents::new(noise(T0, "198.51.100.1", "/r"), minute),
            AggregatedEvents {
                count: 3,
                ..AggregatedEvents::new(early.clone(), minute)
            },
        ];
        let merged = merge_by_key(entries);
        assert_eq!(merged.len(), 2);
        let (key, first) = &merged[0];
        assert_eq!(key, &AggregatedEvents::new(early.clone(), minute).key());
        assert_eq!((first.count, &first.first), (5, &early));
        assert_eq!(merged[1].1.count, 1);
        assert_eq!(first.row().detail, json!({"scope": "anon", "route": "/r"}));
        assert_eq!(
            with_count(first.row().detail, 5),
            json!({"scope": "anon", "route": "/r", "count": 5})
        );
        assert_eq!(with_count(Value::Null, 1), json!({"count": 1}));
        assert_eq!(
            with_count(json!([1]), 2),
            json!({"detail": [1], "count": 2})
        );
    }

    #[test]
    fn query_filters_are_inclusive_of_since() {
        let record = NewAuditEvent {
            user: Some(1),
            ..NewAuditEvent::new(T0, EventKind::Logout)
        }
        .into_record(1);
        let q = |user, event, since| AuditQuery {
            user,
            event,
            since,
            ..AuditQuery::default()
        };
        assert!(q(None, None, None).matches(&record));
        assert!(q(Some(1), Some(EventKind::Logout), Some(T0)).matches(&record));
        assert!(!q(Some(2), None, None).matches(&record));
        assert!(!q(None, Some(EventKind::LoginFailed), None).matches(&record));
        assert!(!q(None, None, Some(T0 + time::Duration::nanoseconds(1))).matches(&record));
        let anonymous = NewAuditEvent::new(T0, EventKind::Logout).into_record(2);
        assert!(!q(Some(1), None, None).matches(&anonymous));
    }
}
