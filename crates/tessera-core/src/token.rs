//! API keys: how a key is made, recognised and digested.
//!
//! A key is `tsr_`, then 43 base62 characters from the OS CSPRNG (256 bits),
//! then the base62 CRC32 of those 43 characters in 6 characters, zero-padded.
//! The prefix lets secret scanners find leaked keys; the checksum lets a typo or
//! a guessed key be refused before any store lookup. Keys imported from DRF's
//! `authtoken` (40 hexadecimal characters) are recognised too. The store keeps
//! only [`TokenKey::digest`], SHA-256 of the key: a stolen database yields no
//! usable key.

use crate::secret::Secret;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::fmt;
use time::OffsetDateTime;

/// The prefix of every key Tessera issues.
pub const PREFIX: &str = "tsr_";
/// Random base62 characters in a key: 43 × log2(62) ≈ 256.03 bits.
pub const RANDOM_CHARS: usize = 43;
/// Base62 characters of the CRC32 checksum (62^6 > 2^32).
pub const CHECKSUM_CHARS: usize = 6;
/// Total length of a key Tessera issues.
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
/// Length of a DRF `authtoken` key (`binascii.hexlify(os.urandom(20))`).
pub const DRF_KEY_LEN: usize = 40;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-256 of a key, the only form in which a store keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not a secret, but there is no reason to print it whole.
        write!(f, "KeyDigest({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// A well-formed API key. `Debug` is redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenKey(Secret);

impl TokenKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let random = Alphanumeric.sample_string(&mut rand::rngs::OsRng, RANDOM_CHARS);
        let mut key = String::with_capacity(KEY_LEN);
        key.push_str(PREFIX);
        key.push_str(&random);
        key.push_str(&checksum(random.as_bytes()));
        TokenKey(Secret::new(key))
    }

    /// Recognises a key by its form alone: a Tessera key whose checksum holds,
    /// or a 40-hex DRF key. Anything else is `None`, without a store lookup.
    pub fn parse(candidate: &str) -> Option<Self> {
        is_well_formed(candidate).then(|| TokenKey(Secret::new(candidate)))
    }

    /// The key, to show once to its owner.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// SHA-256 of the key.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.expose().as_bytes()).into())
    }
}

fn is_well_formed(candidate: &str) -> bool {
    let bytes = candidate.as_bytes();
    if bytes.len() == DRF_KEY_LEN {
        return bytes.iter().all(u8::is_ascii_hexdigit);
    }
    if bytes.len() != KEY_LEN || !candidate.starts_with(PREFIX) {
        return false;
    }
    let body = &bytes[PREFIX.len()..];
    if !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_CHARS);
    // Not a secret comparison: the checksum is public information.
    checksum(random).as_bytes() == sum
}

/// Base62 of CRC32(`data`), zero-padded to six characters.
pub fn checksum(data: &[u8]) -> String {
    let mut n = crc32fast::hash(data);
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// A stored token, never with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// A label its owner chose.
    pub name: String,
    /// Scopes the key is limited to; empty means the owner's full rights.
    pub scopes: Vec<String>,
    /// Issue time.
    pub created: OffsetDateTime,
    /// After this the key is refused; `None` never expires.
    pub expires: Option<OffsetDateTime>,
    /// Last authenticated use (coalesced).
    pub last_used: Option<OffsetDateTime>,
    /// When its holder last proved the password (issue with the password, or
    /// re-authentication); `None` if never.
    pub authenticated_at: Option<OffsetDateTime>,
}

impl TokenRecord {
    /// Whether the key is past its expiry at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// API.md's `Token` object.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// Primary key.
    pub id: i64,
    /// Label.
    pub name: String,
    /// Issue time.
    #[serde(with = "crate::clock::serde_rfc3339")]
    pub created: OffsetDateTime,
    /// Expiry.
    #[serde(with = "crate::clock::serde_rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    /// Last use.
    #[serde(with = "crate::clock::serde_rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Whether this is the token that made the request.
    pub current: bool,
}

impl TokenView {
    /// The public view of a record.
    pub fn of(record: &TokenRecord, current: bool) -> Self {
        TokenView {
            id: record.id,
            name: record.name.clone(),
            created: record.created,
            expires: record.expires,
            last_used: record.last_used,
            scopes: record.scopes.clone(),
            current,
        }
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Owner.
    pub user_id: i64,
    /// Digest of the key; the key itself is never stored.
    pub digest: KeyDigest,
    /// Label.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Issue time.
    pub created: OffsetDateTime,
    /// Expiry.
    pub expires: Option<OffsetDateTime>,
    /// When the password was last proved for it.
    pub authenticated_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_keys_have_the_documented_form() {
        let key = TokenKey::generate();
        let k = key.expose();
        assert_eq!(k.len(), KEY_LEN);
        assert!(k.starts_with("tsr_"));
        assert!(k[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(&k[4 + 43..], checksum(&k.as_bytes()[4..4 + 43]));
        assert_eq!(TokenKey::parse(k), Some(key.clone()));
    }

    #[test]
    fn keys_are_distinct() {
        let keys: HashSet<String> = (0..10_000)
            .map(|_| TokenKey::generate().expose().to_owned())
            .collect();
        assert_eq!(keys.len(), 10_000);
    }

    #[test]
    fn checksum_is_base62_crc32_zero_padded() {
        // CRC32("") = 0.
        assert_eq!(checksum(b""), "000000");
        // CRC32("123456789") = 0xCBF43926 = 3421780262 = base62 "3jZRME" (computed independently in Python).
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum(b"123456789"), "3jZRME");
    }

    #[test]
    fn one_flipped_character_is_refused() {
        let key = TokenKey::generate();
        let k = key.expose();
        for i in 4..k.len() {
            let mut bytes = k.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let flipped = String::from_utf8(bytes).unwrap_or_default();
            assert!(TokenKey::parse(&flipped).is_none(), "position {i}");
        }
    }

    #[test]
    fn drf_keys_are_recognised() {
        let drf = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
        assert!(TokenKey::parse(drf).is_some());
        assert!(TokenKey::parse(&drf[1..]).is_none());
        assert!(TokenKey::parse("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4g").is_none());
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "tsr_", "abc", "tsr_!!", &"x".repeat(KEY_LEN)] {
            assert!(TokenKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn digest_is_sha256_of_the_key() {
        let key = TokenKey::parse("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b");
        let digest = key.map(|k| k.digest().0);
        let expected: [u8; 32] = Sha256::digest(b"9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b").into();
        assert_eq!(digest, Some(expected));
    }
}
