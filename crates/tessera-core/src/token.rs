//! API keys: how a key is made, recognised and digested.
//!
//! A key is `tsr_`, then 43 base62 characters from the OS CSPRNG (256 bits),
//! then the base62 CRC32 of those 43 characters in 6 characters, zero-padded.
//! The prefix lets secret scanners find leaked keys; the checksum lets a typo or
//! a guessed key be refused before any store lookup. Keys imported from DRF's
//! `authtoken` (40 hexadecimal characters) are recognised too, and so are
//! django-rest-knox's (64 hexadecimal characters after an optional prefix of
//! at most 10). The store keeps only [`TokenKey::digest`], SHA-256 of the key
//! (of knox's own SHA-512 digest of it, for a knox key, since that is all an
//! import from knox has): a stolen database yields no usable key.
//!
//! # Rotation families
//!
//! Rotating a key (`POST /auth/tokens/rotate`) must not let a thief keep a
//! stolen key alive (SECURITY.md T7: the refresh-token reuse detection of
//! SuperTokens and of RFC 9700, OWASP's `authn_token_reuse`). So:
//!
//! - The new token inherits the old one's expiry, scopes, name and password
//!   proof: rotation never lengthens a life or widens a scope.
//! - The old row is not deleted nor re-dated: it is marked rotated out with
//!   [`TokenRecord::grace_until`], the end of its grace period. Until then the
//!   key still works (a client that rotated may have requests in flight);
//!   afterwards the store still finds it, so that presenting it is recognised
//!   as *reuse* rather than looking like an unknown key. Reuse means two
//!   parties held the key, so every token of its [`TokenRecord::family`] (the
//!   id of the family's first token, shared by every key rotated from it) is
//!   revoked, the newest included, and a `security_alert` with
//!   `"kind": "token_reuse"` is recorded. Rotating a key that is already
//!   rotated out is reuse too: of two concurrent rotations exactly one wins.
//! - Recognising reuse costs nothing on the path of a valid key: the one
//!   indexed read that finds a key returns its `grace_until` with it.
//! - A rotated-out row is kept while its family has a live key, even past its
//!   grace period (purging it would let reuse go unnoticed); it is purged once
//!   the family has none (all expired or revoked).

use crate::secret::Secret;
use serde::Serialize;
use sha2::{Digest as _, Sha256, Sha512};
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
/// Hexadecimal characters of a django-rest-knox key
/// (`AUTH_TOKEN_CHARACTER_LENGTH`), after its `TOKEN_PREFIX`.
pub const KNOX_KEY_HEX: usize = 64;
/// The longest knox `TOKEN_PREFIX` (`MAXIMUM_TOKEN_PREFIX_LENGTH`).
pub const KNOX_MAX_PREFIX: usize = 10;

/// The base62 digits: the checksum's, and the alphabet of every random
/// string Tessera draws (`crate::random`).
pub(crate) const BASE62: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

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
#[derive(Clone, Debug)]
pub struct TokenKey(Secret);

/// No `==`: keys compare in constant time only.
impl subtle::ConstantTimeEq for TokenKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl TokenKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut key = String::with_capacity(KEY_LEN);
        key.push_str(PREFIX);
        crate::random::push_alphanumeric(&mut key, RANDOM_CHARS);
        let sum = checksum_bytes(&key.as_bytes()[PREFIX.len()..]);
        key.extend(sum.iter().map(|&b| char::from(b)));
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

    /// SHA-256 of the key; for a knox key, SHA-256 of knox's SHA-512 digest
    /// of it ([`KeyDigest::of_knox_digest`]).
    pub fn digest(&self) -> KeyDigest {
        let key = self.expose();
        if is_knox(key.as_bytes()) {
            // knox 5's hash_token: SHA-512 of the key's UTF-8 bytes.
            return KeyDigest::of_knox_digest(&Sha512::digest(key.as_bytes()).into());
        }
        KeyDigest(Sha256::digest(key.as_bytes()).into())
    }
}

impl KeyDigest {
    /// The digest under which a django-rest-knox key is kept: SHA-256 of
    /// knox's SHA-512 digest of the key (the `digest` column of
    /// `knox_authtoken`, which is all an import has).
    pub fn of_knox_digest(sha512: &[u8; 64]) -> KeyDigest {
        KeyDigest(Sha256::digest(sha512).into())
    }

    /// [`KeyDigest::of_knox_digest`] of knox's hexadecimal `digest` column;
    /// `None` when it is not 128 hexadecimal characters.
    pub fn of_knox_hex(hex_digest: &str) -> Option<KeyDigest> {
        let mut sha512 = [0u8; 64];
        hex::decode_to_slice(hex_digest, &mut sha512).ok()?;
        Some(KeyDigest::of_knox_digest(&sha512))
    }
}

/// A knox key: 64 hexadecimal characters after a prefix of at most 10 of
/// `A-Za-z0-9_-` (knox's `TOKEN_PREFIX`, empty by default).
fn is_knox(bytes: &[u8]) -> bool {
    let Some(prefix_len) = bytes.len().checked_sub(KNOX_KEY_HEX) else {
        return false;
    };
    let (prefix, key) = bytes.split_at(prefix_len);
    prefix_len <= KNOX_MAX_PREFIX
        && key.iter().all(u8::is_ascii_hexdigit)
        && prefix
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_well_formed(candidate: &str) -> bool {
    let bytes = candidate.as_bytes();
    if bytes.len() == DRF_KEY_LEN {
        return all_of(bytes, hex_digit);
    }
    if is_knox(bytes) {
        return true;
    }
    if bytes.len() != KEY_LEN || !candidate.starts_with(PREFIX) {
        return false;
    }
    let body = &bytes[PREFIX.len()..];
    if !all_of(body, alphanumeric) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_CHARS);
    // Not a secret comparison: the checksum is public information.
    checksum_bytes(random) == sum
}

/// [`u8::is_ascii_alphanumeric`], as comparisons the compiler can run on
/// sixteen bytes at once.
#[inline(always)]
fn alphanumeric(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26)
}

/// [`u8::is_ascii_hexdigit`], as [`alphanumeric`].
#[inline(always)]
fn hex_digit(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 6)
}

/// Whether `class` holds for every byte of `bytes`. Sixteen bytes a step,
/// as arrays the compiler checks with vector instructions (one byte at a
/// time cost about 7 instructions a byte on every token check); the last
/// sixteen bytes are checked as one more such step, overlapping the one
/// before. Fewer than sixteen (no key here) are checked one by one.
#[inline(always)]
fn all_of(bytes: &[u8], class: impl Fn(u8) -> bool + Copy) -> bool {
    if bytes.len() < 16 {
        return bytes.iter().all(|&b| class(b));
    }
    let step = |chunk: &[u8; 16]| chunk.iter().fold(true, |ok, &b| ok & class(b));
    let (chunks, _) = bytes.as_chunks::<16>();
    chunks.iter().all(step) && bytes.last_chunk::<16>().is_some_and(step)
}

/// Base62 of CRC32(`data`), zero-padded to six characters.
pub fn checksum(data: &[u8]) -> String {
    checksum_bytes(data)
        .iter()
        .map(|&b| char::from(b))
        .collect()
}

/// [`checksum`] without the allocation (every token check computes one).
fn checksum_bytes(data: &[u8]) -> [u8; CHECKSUM_CHARS] {
    let mut n = crc32fast::hash(data);
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
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
    /// The rotation family: the id of the token this one was rotated from,
    /// directly or through other rotations (the family's first token); a
    /// token never rotated from another is its own family (`family == id`).
    pub family: i64,
    /// Set when the key was rotated out: it works until this instant (the
    /// grace period), and presenting it afterwards is reuse. `None` for a key
    /// that has not been rotated.
    pub grace_until: Option<OffsetDateTime>,
}

impl TokenRecord {
    /// Whether the key is past its expiry at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }

    /// Whether the key was rotated out and its grace period has ended at
    /// `now`: presenting it is reuse of a key its holder gave up, the sign
    /// that one of two parties holding it is a thief.
    pub fn is_rotated_out(&self, now: OffsetDateTime) -> bool {
        self.grace_until.is_some_and(|g| g <= now)
    }

    /// Whether the key has gone unused for `idle_timeout` at `now`, counting
    /// from its last recorded use, or from its issue when it was never used.
    ///
    /// `last_used` is written at most once a minute per token, so an idle
    /// expiry is exact to that minute: a key used within the last minute of
    /// its idle window may still be refused by up to a minute early (an idle
    /// timeout is meant in hours or days).
    pub fn is_idle(&self, now: OffsetDateTime, idle_timeout: time::Duration) -> bool {
        now - self.last_used.unwrap_or(self.created) >= idle_timeout
    }

    /// Whether the key is live at `now`: unexpired, and not rotated out past
    /// its grace period (idle expiry, a setting, is the caller's to check).
    /// Only live keys are listed and counted against the per-user cap.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        !self.is_expired(now) && !self.is_rotated_out(now)
    }

    /// When the key stops working by itself: its expiry, or the end of its
    /// grace period when that comes first; `None` never.
    pub fn ends(&self) -> Option<OffsetDateTime> {
        match (self.expires, self.grace_until) {
            (Some(e), Some(g)) => Some(e.min(g)),
            (e, g) => e.or(g),
        }
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
    /// When the key stops working by itself ([`TokenRecord::ends`]): its
    /// expiry, or for a rotated-out key the end of its grace period.
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
            // A rotated-out key is shown ending with its grace period.
            expires: record.ends(),
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
        assert_eq!(
            TokenKey::parse(k).map(|p| p.expose().to_owned()),
            Some(k.to_owned())
        );
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
    fn knox_keys_are_recognised_and_digested_as_knox_does() {
        // knox 5: digest = sha512(token.encode()).hexdigest(), prefix included.
        let key = "a3f1c0de".repeat(8);
        let parsed = TokenKey::parse(&key).unwrap_or_else(|| panic!("a knox key"));
        let knox_hex = hex::encode(Sha512::digest(key.as_bytes()));
        assert_eq!(KeyDigest::of_knox_hex(&knox_hex), Some(parsed.digest()));
        let prefixed = format!("acme_{key}");
        let parsed = TokenKey::parse(&prefixed).unwrap_or_else(|| panic!("a prefixed key"));
        let knox_hex = hex::encode(Sha512::digest(prefixed.as_bytes()));
        assert_eq!(KeyDigest::of_knox_hex(&knox_hex), Some(parsed.digest()));
        for bad in [
            format!("{}g", &key[1..]),
            format!("prefix-too-long{key}"),
            format!("sp ce{key}"),
            key[1..].to_owned(),
        ] {
            assert!(TokenKey::parse(&bad).is_none(), "{bad}");
        }
        assert_eq!(KeyDigest::of_knox_hex("abc"), None);
    }

    #[test]
    fn the_byte_classes_are_the_standard_ones() {
        for b in 0..=u8::MAX {
            assert_eq!(alphanumeric(b), b.is_ascii_alphanumeric(), "{b:#04x}");
            assert_eq!(hex_digit(b), b.is_ascii_hexdigit(), "{b:#04x}");
        }
    }

    #[test]
    fn one_byte_out_of_class_anywhere_is_found() {
        // Every length up to 64 and every place: the chunks, the
        // overlapping last step and the bytes only that step sees.
        assert!(all_of(b"", alphanumeric));
        for len in 1..=64 {
            let key = vec![b'7'; len];
            assert!(all_of(&key, alphanumeric) && all_of(&key, hex_digit));
            for at in 0..len {
                for bad in [b'-', b'/', b':', b'@', b'[', b'`', b'{', 0x00, 0x80, 0xff] {
                    let mut key = key.clone();
                    key[at] = bad;
                    assert!(!all_of(&key, alphanumeric), "{len} {at} {bad:#04x}");
                    assert!(!all_of(&key, hex_digit), "{len} {at} {bad:#04x}");
                }
                let mut key = key.clone();
                key[at] = b'g';
                assert!(all_of(&key, alphanumeric));
                assert!(!all_of(&key, hex_digit), "{len} {at} g");
            }
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "tsr_", "abc", "tsr_!!", &"x".repeat(KEY_LEN)] {
            assert!(TokenKey::parse(bad).is_none(), "{bad}");
        }
    }

    fn record(expires: Option<OffsetDateTime>, grace_until: Option<OffsetDateTime>) -> TokenRecord {
        let created = time::macros::datetime!(2026-01-01 00:00 UTC);
        TokenRecord {
            id: 2,
            user_id: 1,
            name: "t".into(),
            scopes: vec![],
            created,
            expires,
            last_used: None,
            authenticated_at: None,
            family: 1,
            grace_until,
        }
    }

    #[test]
    fn a_rotated_out_key_ends_with_its_grace_and_is_then_reuse() {
        let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
        let grace = t0 + time::Duration::minutes(1);
        let expires = t0 + time::Duration::days(1);
        let rotated = record(Some(expires), Some(grace));
        assert_eq!(rotated.ends(), Some(grace));
        assert!(rotated.is_live(grace - time::Duration::microseconds(1)));
        assert!(!rotated.is_rotated_out(grace - time::Duration::microseconds(1)));
        assert!(rotated.is_rotated_out(grace));
        assert!(!rotated.is_live(grace));
        assert!(!rotated.is_expired(grace), "reuse, not expiry");
        // A grace period past the expiry does not lengthen the key's life.
        let late = record(Some(grace), Some(expires));
        assert_eq!(late.ends(), Some(grace));
        assert!(!late.is_live(grace));
        assert_eq!(record(None, Some(grace)).ends(), Some(grace));
        assert_eq!(record(Some(expires), None).ends(), Some(expires));
        assert_eq!(record(None, None).ends(), None);
        assert!(record(None, None).is_live(t0 + time::Duration::days(9999)));
    }

    #[test]
    fn idleness_counts_from_the_last_use_or_else_the_issue() {
        let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
        let idle = time::Duration::hours(1);
        let mut token = record(None, None);
        assert!(!token.is_idle(t0 + idle - time::Duration::microseconds(1), idle));
        assert!(token.is_idle(t0 + idle, idle));
        token.last_used = Some(t0 + time::Duration::minutes(30));
        assert!(!token.is_idle(t0 + idle, idle));
        assert!(token.is_idle(t0 + time::Duration::minutes(90), idle));
    }

    #[test]
    fn the_view_of_a_rotated_out_key_shows_its_grace_end() {
        let t0 = time::macros::datetime!(2026-01-01 00:00 UTC);
        let grace = t0 + time::Duration::minutes(1);
        let view = TokenView::of(
            &record(Some(t0 + time::Duration::days(1)), Some(grace)),
            false,
        );
        assert_eq!(view.expires, Some(grace));
    }

    #[test]
    fn digest_is_sha256_of_the_key() {
        let key = TokenKey::parse("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b");
        let digest = key.map(|k| k.digest().0);
        let expected: [u8; 32] = Sha256::digest(b"9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b").into();
        assert_eq!(digest, Some(expected));
    }
}
