//! An authentication scheme of one's own: API keys, written against
//! `tessera-axum`'s public [`Authenticate`] trait, as a DRF project writes a
//! `BaseAuthentication` subclass.
//!
//! A key is `<prefix>.<secret>` (16 and 64 hex digits), sent as
//! `Authorization: Api-Key <key>`. The application keeps, per prefix, the
//! SHA-256 digest of the secret, never the secret: the prefix finds the
//! record, and the digests are compared in constant time. The scheme gives
//! DRF's three answers: no `Api-Key` header is not its request (the next
//! authenticator is asked); a good key is its user, with a
//! [`Credential::Custom`] named `api-key` carrying the key's scopes; a bad
//! one fails the request with `401` and `WWW-Authenticate: Api-Key` when
//! the scheme is the route's first authenticator, `403` when the first has
//! no challenge (a session).
//!
//! | Route | Authenticators | |
//! |---|---|---|
//! | `POST /api-keys` | token, session | a new key for the caller (recent authentication) |
//! | `GET /whoami` | api-key, token | who is calling, and how |
//! | `GET /reports` | session, api-key | scope `reports:read` |
//!
//! See `README.md` for a walk through the code.

use axum::routing::{get, post};
use axum::{Json, Router};
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::StatusCode;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use subtle::ConstantTimeEq;
use tessera_axum::async_trait;
use tessera_axum::body::JsonObject;
use tessera_axum::prelude::*;

/// The scheme's keyword in `Authorization` and `WWW-Authenticate`.
pub const KEYWORD: &str = "Api-Key";
/// The scheme's name, as `/auth/me` and the handlers report it.
pub const SCHEME: &str = "api-key";
/// The refusal of an unknown, wrong or malformed key.
pub const INVALID_KEY: &str = "Invalid API key.";
/// The refusal of `Api-Key` with nothing after it.
pub const NO_CREDENTIALS: &str = "Invalid API key header. No credentials provided.";
/// The refusal of `Api-Key a b`.
pub const CONTAINS_SPACES: &str = "Invalid API key header. Key string should not contain spaces.";
/// The refusal of the key of a user since deactivated or deleted (DRF's words).
pub const USER_INACTIVE: &str = "User inactive or deleted.";

/// What is kept of a key: never its secret.
#[derive(Clone)]
struct KeyRecord {
    user: i64,
    digest: [u8; 32],
    scopes: Vec<String>,
}

/// The application's API keys, and its authentication scheme: clone it
/// freely (the clones share the keys).
#[derive(Clone, Default)]
pub struct ApiKeys(Arc<Mutex<HashMap<String, KeyRecord>>>);

/// Shows how many keys there are, nothing of them.
impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("ApiKeys").field("keys", &count).finish()
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ApiKeys {
    /// Issues a key for `user` with `scopes` (empty: the user's full
    /// rights); the key is shown this once.
    pub fn issue(&self, user: &User, scopes: Vec<String>) -> String {
        let mut prefix = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let (prefix, secret) = (hex::encode(prefix), hex::encode(secret));
        let record = KeyRecord {
            user: user.id,
            digest: digest(&secret),
            scopes,
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(prefix.clone(), record);
        format!("{prefix}.{secret}")
    }

    /// The record of a well-formed key whose secret matches, compared in
    /// constant time (a timing difference tells nothing of the secret).
    fn check(&self, key: &str) -> Option<KeyRecord> {
        let (prefix, secret) = key.split_once('.')?;
        if !is_hex(prefix, 16) || !is_hex(secret, 64) {
            return None;
        }
        let keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let record = keys.get(prefix)?;
        bool::from(record.digest.ct_eq(&digest(secret))).then(|| record.clone())
    }
}

/// DRF's `BaseAuthentication`, for `Authorization: Api-Key <key>`.
#[async_trait]
impl Authenticate for ApiKeys {
    async fn authenticate(
        &self,
        parts: &Parts,
        tessera: &Tessera,
    ) -> Result<Option<Principal>, ApiError> {
        // The header as DRF's TokenAuthentication reads it: the keyword,
        // case-insensitively, then exactly one word.
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Ok(None);
        };
        let words: Vec<&[u8]> = header
            .as_bytes()
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
            .collect();
        match words.first() {
            Some(keyword) if keyword.eq_ignore_ascii_case(KEYWORD.as_bytes()) => {}
            // Another scheme's header (`Token ...`): ask the next authenticator.
            _ => return Ok(None),
        }
        let key = match words.as_slice() {
            [_] => return Err(ApiError::authentication_failed(NO_CREDENTIALS)),
            [_, key] => std::str::from_utf8(key).unwrap_or_default(),
            _ => return Err(ApiError::authentication_failed(CONTAINS_SPACES)),
        };
        let Some(record) = self.check(key) else {
            return Err(ApiError::authentication_failed(INVALID_KEY));
        };
        match tessera.stores().users.user_by_id(record.user).await? {
            Some(user) if user.is_active => Ok(Some(Principal {
                user,
                credential: Credential::Custom {
                    scheme: SCHEME.to_owned(),
                    scopes: record.scopes,
                },
            })),
            _ => Err(ApiError::authentication_failed(USER_INACTIVE)),
        }
    }

    /// The challenge: a route whose first authenticator is this one answers
    /// `401` with `WWW-Authenticate: Api-Key`.
    fn authenticate_header(&self, _: &Tessera) -> Option<String> {
        Some(KEYWORD.to_owned())
    }

    fn name(&self) -> &str {
        SCHEME
    }
}

/// The application: the three routes above and Tessera's ready views.
pub fn app(tessera: &Tessera, keys: ApiKeys) -> Router {
    let api_key = Authenticator::custom(keys.clone());
    // Keys are made by a user who proved the password recently.
    let issuing = Policy::new()
        .authenticators([Authenticator::Token, Authenticator::Session])
        .require_recent_auth();
    let whoami_policy = Policy::new().authenticators([api_key.clone(), Authenticator::Token]);
    let reports_policy = Policy::new()
        .authenticators([Authenticator::Session, api_key])
        .scope("reports:read");
    Router::new()
        .route(
            "/api-keys",
            post(issue).layer(issuing.layer(tessera)).with_state(keys),
        )
        .route("/whoami", get(whoami).layer(whoami_policy.layer(tessera)))
        .route(
            "/reports",
            get(reports).layer(reports_policy.layer(tessera)),
        )
        .merge(Views::new().router(tessera))
}

/// `POST /api-keys` `{"scopes": [...]}`: a key for the caller, shown once.
async fn issue(
    axum::extract::State(keys): axum::extract::State<ApiKeys>,
    AuthUser(me): AuthUser,
    JsonObject(data): JsonObject,
) -> Result<(StatusCode, Json<Value>), Rejection> {
    let scopes = match data.get("scopes") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ValidationErrors::single("scopes", "Expected a list of strings."))?,
        Some(_) => {
            return Err(ValidationErrors::single("scopes", "Expected a list of strings.").into())
        }
    };
    let key = keys.issue(&me.user, scopes.clone());
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": key, "scopes": scopes})),
    ))
}

/// `GET /whoami`: the user and the scheme that recognised them.
async fn whoami(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"user": me.user.username, "auth": me.credential.kind()}))
}

/// `GET /reports`: for a session, or a key with `reports:read`.
async fn reports(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({"reports": [], "for": me.user.username}))
}
