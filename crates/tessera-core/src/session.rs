//! Server-side sessions: the secret id in the cookie, its digest in the store.
//!
//! A session id is 43 base62 characters from the OS CSPRNG (256 bits). The
//! store keeps only its SHA-256, so a stolen database yields no usable cookie.
//! A session ends at the first of: its idle timeout since `last_seen`, its
//! absolute lifetime since `created`, logout, or revocation.

use crate::secret::Secret;
use crate::token::KeyDigest;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// Characters of a session id.
pub const SESSION_KEY_LEN: usize = 43;
/// Characters of a Django session key (`a-z0-9`), as imported with its
/// session from Django's database (`tessera import-django`).
pub const DJANGO_SESSION_KEY_LEN: usize = 32;

/// A session id as the cookie carries it. `Debug` is redacted.
#[derive(Clone, Debug)]
pub struct SessionKey(Secret);

/// No `==`: keys compare in constant time only.
impl subtle::ConstantTimeEq for SessionKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl SessionKey {
    /// A fresh id from the OS CSPRNG.
    pub fn generate() -> Self {
        SessionKey(Secret::new(crate::random::alphanumeric(SESSION_KEY_LEN)))
    }

    /// Recognises an id by its form, Tessera's or an imported Django
    /// session's key; anything else is no session at all.
    pub fn parse(candidate: &str) -> Option<Self> {
        let bytes = candidate.as_bytes();
        let tessera = bytes.len() == SESSION_KEY_LEN && bytes.iter().all(u8::is_ascii_alphanumeric);
        let django = bytes.len() == DJANGO_SESSION_KEY_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        (tessera || django).then(|| SessionKey(Secret::new(candidate)))
    }

    /// The id, for the cookie.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// SHA-256 of the id, the only form the store keeps.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.expose().as_bytes()).into())
    }
}

/// A stored session, never with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Primary key (public: it names the session in lists and revocations).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Application data (Django's session dictionary).
    pub data: serde_json::Value,
    /// Creation (login) time.
    pub created: OffsetDateTime,
    /// Last authenticated use (coalesced).
    pub last_seen: OffsetDateTime,
    /// The absolute end of the session: `created` plus the maximum age.
    pub expires: OffsetDateTime,
    /// Client address at login.
    pub ip: Option<String>,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// When its holder last proved the password.
    pub authenticated_at: Option<OffsetDateTime>,
}

impl SessionRecord {
    /// Whether the session is still alive at `now` with this idle timeout.
    pub fn is_live(&self, now: OffsetDateTime, idle_timeout: time::Duration) -> bool {
        now < self.expires && now < self.last_seen + idle_timeout
    }
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Owner.
    pub user_id: i64,
    /// Digest of the id.
    pub digest: KeyDigest,
    /// Application data.
    pub data: serde_json::Value,
    /// Creation time (also the first `last_seen`).
    pub created: OffsetDateTime,
    /// Absolute end.
    pub expires: OffsetDateTime,
    /// Client address.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// When the password was proved (login time).
    pub authenticated_at: Option<OffsetDateTime>,
}

/// API.md's session object.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Primary key.
    pub id: i64,
    /// Creation time.
    #[serde(with = "crate::clock::serde_rfc3339")]
    pub created: OffsetDateTime,
    /// Last use.
    #[serde(with = "crate::clock::serde_rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Client address at login.
    pub ip: Option<String>,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// Whether this is the session that made the request.
    pub current: bool,
}

impl SessionView {
    /// The public view of a record.
    pub fn of(record: &SessionRecord, current: bool) -> Self {
        SessionView {
            id: record.id,
            created: record.created,
            last_seen: record.last_seen,
            ip: record.ip.clone(),
            user_agent: record.user_agent.clone(),
            current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_and_parse() {
        let a = SessionKey::generate();
        let b = SessionKey::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert_eq!(
            SessionKey::parse(a.expose()).map(|k| k.expose().to_owned()),
            Some(a.expose().to_owned())
        );
        assert!(SessionKey::parse(&a.expose()[1..]).is_none());
        assert!(SessionKey::parse(&format!("{}!", &a.expose()[1..])).is_none());
        assert!(SessionKey::parse("").is_none());
        // Django's session keys (get_random_string(32, a-z0-9)) are read too.
        let django = "q8x0ryb3ws0o0w9f7k1jv3m2ahx2lq4e";
        assert!(SessionKey::parse(django).is_some());
        assert!(SessionKey::parse(&django.to_uppercase()).is_none());
        assert!(SessionKey::parse(&django[1..]).is_none());
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn liveness_ends_at_idle_or_absolute_expiry() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let record = SessionRecord {
            id: 1,
            user_id: 1,
            data: serde_json::Value::Null,
            created: t0,
            last_seen: t0,
            expires: t0 + time::Duration::days(14),
            ip: None,
            user_agent: None,
            authenticated_at: Some(t0),
        };
        let idle = time::Duration::days(1);
        assert!(record.is_live(t0 + time::Duration::hours(23), idle));
        assert!(!record.is_live(t0 + idle, idle));
        let busy = SessionRecord {
            last_seen: t0 + time::Duration::days(14) - time::Duration::seconds(1),
            ..record
        };
        assert!(busy.is_live(
            t0 + time::Duration::days(14) - time::Duration::milliseconds(1),
            idle
        ));
        assert!(!busy.is_live(t0 + time::Duration::days(14), idle));
    }
}
