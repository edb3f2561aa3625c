//! DRF's `TokenAuthentication`, with Tessera's digests and expiry.
//!
//! The header is read as DRF reads it: the raw bytes split on ASCII white
//! space, the keyword compared case-insensitively, the key decoded as UTF-8.
//! A key that is not of Tessera's form (or DRF's 40-hex form) is refused as
//! `Invalid token.` without touching the store.
//!
//! Two refusals beyond DRF's, both answered `Invalid token.` exactly as an
//! unknown key is (SECURITY.md T6, T7):
//!
//! - A rotated-out key presented after its grace period is reuse: the whole
//!   rotation family is revoked and a `security_alert` recorded
//!   ([`Alerts::token_reuse`](crate::alerts::Alerts::token_reuse)). The one
//!   read that finds a key tells whether it was rotated out, so a valid key
//!   costs no further read.
//! - With an idle timeout configured ([`Settings::token_idle_timeout`]), a
//!   key unused for that long (from its coalesced `last_used`, or its issue
//!   when never used) is refused, as knox's and Django sessions' idle expiry
//!   would. A key that looks idle is read once more from the store before it
//!   is refused, since a cached entry may carry an older `last_used`.
//!
//! [`Settings::token_idle_timeout`]: crate::Settings::token_idle_timeout
//!
//! Every refusal is an authentication outcome, so it is audited, as a
//! `login_failed` event with `{"via": "token", "reason": ...}` (`malformed_header`,
//! `invalid_token` for an unknown, expired, revoked or malformed key,
//! `token_reuse`, `idle`, `user_inactive`), and counted per client address in `/metrics`
//! (`tessera_token_auth_failures_by_address`). A wrong key names no user, so
//! its events are aggregated per client address and route (see
//! [`crate::audit`]): a key-guessing flood adds a row a minute, not a row a
//! request. The key of an inactive user names its user, whose event is
//! written whole.

use crate::audit::RequestMeta;
use crate::error::ApiError;
use crate::metrics::{AuthMethod, Outcome};
use crate::state::Tessera;
use crate::touch::Used;
use http::header::AUTHORIZATION;
use http::request::Parts;
use tessera_core::audit::EventKind;
use tessera_core::identity::{Credential, Principal};
use tessera_core::token::TokenKey;
use tessera_core::User;

/// DRF's message for `Token` with nothing after it.
pub const NO_CREDENTIALS: &str = "Invalid token header. No credentials provided.";
/// DRF's message for `Token a b`.
pub const CONTAINS_SPACES: &str = "Invalid token header. Token string should not contain spaces.";
/// DRF's message for a key that is not UTF-8.
pub const INVALID_CHARACTERS: &str =
    "Invalid token header. Token string should not contain invalid characters.";
/// DRF's message for an unknown, revoked or expired key.
pub const INVALID_TOKEN: &str = "Invalid token.";
/// DRF's message for the key of an inactive user.
pub const USER_INACTIVE: &str = "User inactive or deleted.";

/// What the `Authorization` header says to the token authenticator.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenHeader<'a> {
    /// No header, or another scheme's: not ours.
    Absent,
    /// A candidate key, borrowed from the header.
    Key(&'a str),
    /// Our keyword with a malformed rest: the message to refuse it with.
    Malformed(&'static str),
}

/// Parses an `Authorization` header value as DRF's `TokenAuthentication` does.
///
/// `keywords` are the schemes that are ours (`Token`, and `Bearer` when it is
/// accepted), compared case-insensitively. Nothing is allocated: this runs
/// on every request that carries the header.
pub fn parse_header<'a>(value: Option<&'a [u8]>, keywords: &[&str]) -> TokenHeader<'a> {
    let Some(value) = value else {
        return TokenHeader::Absent;
    };
    // Python's bytes.split(): runs of ASCII white space, none at the ends.
    let mut parts = value
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .filter(|p| !p.is_empty());
    let Some(scheme) = parts.next() else {
        return TokenHeader::Absent;
    };
    if !keywords
        .iter()
        .any(|k| scheme.eq_ignore_ascii_case(k.as_bytes()))
    {
        return TokenHeader::Absent;
    }
    match (parts.next(), parts.next()) {
        (None, _) => TokenHeader::Malformed(NO_CREDENTIALS),
        (Some(key), None) => match std::str::from_utf8(key) {
            Ok(key) => TokenHeader::Key(key),
            Err(_) => TokenHeader::Malformed(INVALID_CHARACTERS),
        },
        (Some(_), Some(_)) => TokenHeader::Malformed(CONTAINS_SPACES),
    }
}

/// Authenticates a request by its `Authorization` header.
pub async fn authenticate(parts: &Parts, tessera: &Tessera) -> Result<Option<Principal>, ApiError> {
    let settings = tessera.settings();
    let keywords = [settings.token_keyword.as_str(), "Bearer"];
    let keywords = if settings.accept_bearer {
        &keywords[..]
    } else {
        &keywords[..1]
    };
    let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let candidate = match parse_header(header, keywords) {
        TokenHeader::Absent => return Ok(None),
        TokenHeader::Malformed(message) => {
            return Err(failed(tessera, parts, message, "malformed_header", None).await)
        }
        TokenHeader::Key(candidate) => candidate,
    };
    let Some(key) = TokenKey::parse(candidate) else {
        return Err(failed(tessera, parts, INVALID_TOKEN, "invalid_token", None).await);
    };
    let now = tessera.clock().now();
    // Only a well-formed key reaches the store (SECURITY T4).
    tessera.metrics().record_token_db_lookup();
    let found = tessera
        .stores()
        .tokens
        .find_token(&key.digest(), now)
        .await?;
    let Some((token, user)) = found else {
        return Err(failed(tessera, parts, INVALID_TOKEN, "invalid_token", None).await);
    };
    if token.is_rotated_out(now) {
        let meta = RequestMeta::of(parts, settings.num_proxies);
        tessera
            .alerts()
            .token_reuse(&meta, &user, token.id, token.family, now)
            .await?;
        return Err(failed(tessera, parts, INVALID_TOKEN, "token_reuse", Some(&user)).await);
    }
    if let Some(idle) = idle_timeout(tessera) {
        if token.is_idle(now, idle) && still_idle(tessera, token.id, now, idle).await? {
            return Err(failed(tessera, parts, INVALID_TOKEN, "idle", Some(&user)).await);
        }
    }
    if !user.is_active {
        return Err(failed(tessera, parts, USER_INACTIVE, "user_inactive", Some(&user)).await);
    }
    tessera
        .metrics()
        .record_auth(AuthMethod::Token, Outcome::Success);
    tessera
        .toucher()
        .used(Used::Token(token.id), token.last_used, now);
    Ok(Some(Principal {
        user,
        credential: Credential::Token {
            id: token.id,
            scopes: token.scopes,
            authenticated_at: token.authenticated_at,
        },
    }))
}

/// The configured idle timeout of tokens, if any.
fn idle_timeout(tessera: &Tessera) -> Option<time::Duration> {
    let idle = tessera.settings().token_idle_timeout?;
    Some(time::Duration::try_from(idle).unwrap_or(time::Duration::MAX))
}

/// Whether the token, read from the store itself (not a cache, whose entry
/// may predate a recorded use), is idle at `now`; a token gone is.
async fn still_idle(
    tessera: &Tessera,
    id: i64,
    now: time::OffsetDateTime,
    idle: time::Duration,
) -> Result<bool, ApiError> {
    let fresh = tessera.stores().tokens.token_by_id(id).await?;
    Ok(fresh.is_none_or(|t| t.is_idle(now, idle)))
}

/// The refusal with `message`, counted as a failed token authentication
/// (also per client address) and audited with `reason` (and the key's
/// `user`, when it named one).
async fn failed(
    tessera: &Tessera,
    parts: &Parts,
    message: &'static str,
    reason: &'static str,
    user: Option<&User>,
) -> ApiError {
    let meta = RequestMeta::of(parts, tessera.settings().num_proxies);
    let metrics = tessera.metrics();
    metrics.record_auth(AuthMethod::Token, Outcome::Failure);
    metrics.record_token_failure(meta.ip.as_deref());
    let mut event = meta.event(tessera.clock().now(), EventKind::LoginFailed);
    if let Some(user) = user {
        event.user = Some(user.id);
        event.username = user.username.clone();
    }
    event.detail = serde_json::json!({"via": "token", "reason": reason});
    tessera.auditor().record(event).await;
    ApiError::authentication_failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[u8]) -> TokenHeader<'_> {
        parse_header(Some(v), &["Token"])
    }

    #[test]
    fn header_forms_match_drf() {
        assert_eq!(parse_header(None, &["Token"]), TokenHeader::Absent);
        assert_eq!(parse(b""), TokenHeader::Absent);
        assert_eq!(parse(b"   "), TokenHeader::Absent);
        assert_eq!(parse(b"Basic abc"), TokenHeader::Absent);
        assert_eq!(parse(b"Bearer abc"), TokenHeader::Absent);
        assert_eq!(parse(b"Tokens abc"), TokenHeader::Absent);
        assert_eq!(parse(b"Token"), TokenHeader::Malformed(NO_CREDENTIALS));
        assert_eq!(parse(b"Token   "), TokenHeader::Malformed(NO_CREDENTIALS));
        assert_eq!(parse(b"Token a b"), TokenHeader::Malformed(CONTAINS_SPACES));
        assert_eq!(
            parse(b"Token a\tb"),
            TokenHeader::Malformed(CONTAINS_SPACES)
        );
        assert_eq!(
            parse(b"Token \xff\xfe"),
            TokenHeader::Malformed(INVALID_CHARACTERS)
        );
        assert_eq!(parse(b"Token abc"), TokenHeader::Key("abc"));
        assert_eq!(parse(b"token abc"), TokenHeader::Key("abc"));
        assert_eq!(parse(b"TOKEN  abc "), TokenHeader::Key("abc"));
        assert_eq!(parse("Token é".as_bytes()), TokenHeader::Key("é"));
    }

    #[test]
    fn bearer_only_when_enabled() {
        assert_eq!(
            parse_header(Some(b"bearer k"), &["Token", "Bearer"]),
            TokenHeader::Key("k")
        );
    }
}
