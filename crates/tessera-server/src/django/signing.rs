//! Django's signed session data (`django.core.signing`, Django 5.2), read
//! to carry database sessions over: the session's user, and whether the
//! user's password changed since the login.
//!
//! `SessionBase.encode` is `signing.dumps(data, salt=key_salt,
//! compress=True)`: JSON, zlib-compressed when that is shorter (marked by a
//! leading `.`), URL-safe base64 without padding, then `:` and a base62
//! timestamp, then `:` and the signature: URL-safe base64 (unpadded) of
//! HMAC-SHA256 over the rest, keyed with `SHA-256(salt + "signer" +
//! SECRET_KEY)` (`salted_hmac`), where the salt is
//! `"django.contrib.sessions.SessionStore"` for the database backends. The
//! signature is checked (in constant time) against each key given, the
//! current `SECRET_KEY` first and then `SECRET_KEY_FALLBACKS`, as Django's
//! `Signer.unsign` does; the timestamp is not (Django does not check it
//! for sessions either).
//!
//! A logged-in session holds `_auth_user_id`, `_auth_user_backend` and
//! `_auth_user_hash`, `salted_hmac("django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
//! password_hash, SECRET_KEY, "sha256")` in hexadecimal: Django logs a
//! session out when the user's password hash no longer gives that value
//! ([`session_auth_hashes`]).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use std::io::Read as _;
use subtle::ConstantTimeEq;

/// The salt of `SessionBase.key_salt` for `django.contrib.sessions.backends.db`
/// and `cached_db` (both classes are named `SessionStore`).
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// `AbstractBaseUser._get_session_auth_hash`'s key salt.
const SESSION_AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// The most a compressed session may inflate to (a zip bomb in a hostile
/// database must not exhaust memory); Django's own sessions are far smaller.
const MAX_SESSION_BYTES: u64 = 1 << 20;

/// Django's `SECRET_KEY` and then its `SECRET_KEY_FALLBACKS`. `Debug` is
/// redacted.
#[derive(Clone, Default)]
pub struct SecretKeys(Vec<String>);

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKeys([{} redacted])", self.0.len())
    }
}

impl SecretKeys {
    /// The current key first, then the fallbacks.
    pub fn new(keys: Vec<String>) -> Self {
        SecretKeys(keys.into_iter().filter(|k| !k.is_empty()).collect())
    }

    /// Whether no key was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a session's data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not `data:timestamp:signature`.
    #[error("the session data is not signed data")]
    Malformed,
    /// No key gives its signature: a wrong `--secret-key`, or tampered data.
    #[error("the signature does not match the secret key")]
    BadSignature,
    /// Signed, but not base64, zlib or JSON as Django writes it.
    #[error("the signed session data does not decode")]
    Undecodable,
}

/// `salted_hmac(salt, value, secret, algorithm="sha256")`.
fn salted_hmac(salt: &str, value: &[u8], secret: &str) -> [u8; 32] {
    let mut key = Sha256::new();
    key.update(salt.as_bytes());
    key.update(secret.as_bytes());
    let key = key.finalize();
    // HMAC takes a key of any length: this one is 32 bytes.
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    mac.update(value);
    mac.finalize().into_bytes().into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a session's `session_data` as Django's `SessionBase.decode` does,
/// checking its signature with each key in turn.
pub fn decode_session(
    session_data: &str,
    keys: &SecretKeys,
) -> Result<serde_json::Map<String, serde_json::Value>, SessionError> {
    let (value, signature) = session_data
        .rsplit_once(':')
        .ok_or(SessionError::Malformed)?;
    let signed = keys.0.iter().any(|key| {
        let expected = b64(&salted_hmac(
            &format!("{SESSION_SALT}signer"),
            value.as_bytes(),
            key,
        ));
        bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    });
    if !signed {
        return Err(SessionError::BadSignature);
    }
    // TimestampSigner: "data:timestamp".
    let (data, _timestamp) = value.rsplit_once(':').ok_or(SessionError::Malformed)?;
    let (compressed, data) = match data.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, data),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .map_err(|_| SessionError::Undecodable)?;
    let json = if compressed {
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(&bytes[..])
            .take(MAX_SESSION_BYTES + 1)
            .read_to_end(&mut inflated)
            .map_err(|_| SessionError::Undecodable)?;
        if inflated.len() as u64 > MAX_SESSION_BYTES {
            return Err(SessionError::Undecodable);
        }
        inflated
    } else {
        bytes
    };
    // JSONSerializer.loads: latin-1 text of JSON (ASCII in practice: json.dumps
    // escapes everything else).
    let text: String = json.iter().map(|&b| char::from(b)).collect();
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(SessionError::Undecodable),
    }
}

/// The `_auth_user_hash` values a session of a user with this password hash
/// may hold: one per key, the current key's first (Django's
/// `get_session_auth_hash`, then `get_session_auth_fallback_hash`).
pub fn session_auth_hashes(password_hash: &str, keys: &SecretKeys) -> Vec<[u8; 32]> {
    keys.0
        .iter()
        .map(|key| salted_hmac(SESSION_AUTH_HASH_SALT, password_hash.as_bytes(), key))
        .collect()
}

/// Whether a session's `_auth_user_hash` (hexadecimal) is one of `expected`,
/// compared in constant time.
pub fn session_hash_matches(hash_hex: &str, expected: &[[u8; 32]]) -> bool {
    let mut given = [0u8; 32];
    if hex::decode_to_slice(hash_hex, &mut given).is_err() {
        return false;
    }
    expected
        .iter()
        .fold(false, |found, e| found | bool::from(e.ct_eq(&given)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Django 5.2 (`SessionStore().encode(...)`,
    /// `get_session_auth_hash()`), by `scripts/django-fixtures`.
    fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/data/django_sessions.json"))
            .unwrap_or_default()
    }

    fn keys() -> SecretKeys {
        let key = vectors()["secret_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        SecretKeys::new(vec![key])
    }

    fn sessions() -> Vec<(String, serde_json::Value)> {
        let all = vectors();
        let list = all["sessions"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 3);
        list.iter()
            .map(|v| {
                let data = v["session_data"].as_str().unwrap_or_default().to_owned();
                (data, v["decoded"].clone())
            })
            .collect()
    }

    #[test]
    fn djangos_sessions_decode_with_the_right_key_only() {
        for (data, expected) in sessions() {
            let decoded = decode_session(&data, &keys()).map(serde_json::Value::Object);
            assert_eq!(decoded, Ok(expected), "{data}");
            let wrong = SecretKeys::new(vec!["another-key".into()]);
            assert_eq!(
                decode_session(&data, &wrong),
                Err(SessionError::BadSignature)
            );
            // A fallback key is tried after the current one.
            let mut rotated = vec!["new-key".to_owned()];
            rotated.extend(keys().0);
            assert!(decode_session(&data, &SecretKeys::new(rotated)).is_ok());
        }
    }

    #[test]
    fn the_session_auth_hash_is_djangos() {
        let all = vectors();
        let password = all["auth_hash"]["password_hash"]
            .as_str()
            .unwrap_or_default();
        let hash = all["auth_hash"]["session_auth_hash"]
            .as_str()
            .unwrap_or_default();
        let expected = session_auth_hashes(password, &keys());
        assert!(session_hash_matches(hash, &expected));
        assert!(!session_hash_matches(
            hash,
            &session_auth_hashes("other", &keys())
        ));
        assert!(!session_hash_matches("zz", &expected));
    }

    #[test]
    fn tampered_or_malformed_data_is_refused() {
        let (data, _) = sessions().remove(0);
        let mut tampered = data.clone();
        tampered.insert(1, 'A');
        assert_eq!(
            decode_session(&tampered, &keys()),
            Err(SessionError::BadSignature)
        );
        assert_eq!(
            decode_session("nocolon", &keys()),
            Err(SessionError::Malformed)
        );
        assert_eq!(decode_session("", &keys()), Err(SessionError::Malformed));
        // Signed but not JSON.
        let value = format!("{}:1abc", b64(b"not json"));
        let signature = b64(&salted_hmac(
            &format!("{SESSION_SALT}signer"),
            value.as_bytes(),
            "django-insecure-vectors",
        ));
        assert_eq!(keys().0, ["django-insecure-vectors"]);
        assert_eq!(
            decode_session(&format!("{value}:{signature}"), &keys()),
            Err(SessionError::Undecodable)
        );
    }
}
