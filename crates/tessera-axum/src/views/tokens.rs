//! The current user's tokens: list, create (recent authentication needed),
//! revoke, rotate.

use super::{op, Entry, Paths, ViewAuth, ViewReturns, ViewShape};
use crate::accounts::{expiry_after, store_token, TokenSpec, TOKEN_LIMIT};
use crate::audit::RequestMeta;
use crate::authentication::token::INVALID_TOKEN;
use crate::body::JsonObject;
use crate::fields::{CharField, Fields};
use crate::{
    ApiError, AuthUser, Authenticator, Caller, Policy, Rejection, Tessera, ValidationErrors,
};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::routing::{delete, get, post};
use axum::Json;
use serde_json::{json, Value};
use tessera_core::audit::EventKind;
use tessera_core::audited::{Rotated, TokenRotation};
use tessera_core::token::{TokenKey, TokenView};
use tessera_core::{scope, Credential};

pub(super) fn entries(paths: &Paths) -> Vec<Entry> {
    vec![
        Entry::guarded(
            paths.tokens,
            vec![
                op(Method::GET, "The user's tokens (never a key)", ViewAuth::Default, &[], &[200, 401, 403]).returns(ViewReturns::List(ViewShape::Token)),
                op(Method::POST, "Create a named, optionally scoped and expiring token (recent authentication needed); the key is shown once", ViewAuth::Default, &["name", "expires_in?", "scopes?"], &[201, 400, 401, 403]).scope(scope::ACCOUNT).returns(ViewReturns::Json(ViewShape::NewToken)),
            ],
            // Listing is open to any signed-in credential; minting a key
            // needs a recent password proof.
            Policy::new().require_recent_auth_for_writes(),
            get(list_tokens).post(create_token),
        ),
        Entry::guarded(
            paths.token,
            vec![op(Method::DELETE, "Revoke one of the user's tokens", ViewAuth::Default, &[], &[204, 401, 403, 404]).scope(scope::ACCOUNT)],
            Policy::new(),
            delete(revoke_token),
        ),
        Entry::guarded(
            paths.rotate_token,
            vec![op(Method::POST, "Issue a new key for the calling token, with its expiry and scopes; the old one works for the grace period, then is reuse", ViewAuth::Token, &[], &[200, 400, 401]).no_scope().returns(ViewReturns::Json(ViewShape::Key))],
            Policy::new().authenticators([Authenticator::Token]),
            post(rotate_token),
        ),
    ]
}

fn current_token(credential: &Credential) -> Option<i64> {
    match credential {
        Credential::Token { id, .. } => Some(*id),
        Credential::Session { .. } | Credential::Custom { .. } => None,
    }
}

/// A user's unexpired tokens as API.md's list, never a key (`current`
/// marks the calling one); the administrators' views list another user's
/// with `None`.
pub async fn token_list(
    tessera: &Tessera,
    user_id: i64,
    current: Option<i64>,
) -> Result<Value, ApiError> {
    let now = tessera.clock().now();
    let records = tessera.stores().tokens.list_tokens(user_id, now).await?;
    let views: Vec<TokenView> = records
        .iter()
        .map(|r| TokenView::of(r, Some(r.id) == current))
        .collect();
    Ok(serde_json::to_value(views).unwrap_or_default())
}

async fn list_tokens(
    State(tessera): State<Tessera>,
    AuthUser(me): AuthUser,
) -> Result<Json<Value>, ApiError> {
    let current = current_token(&me.credential);
    Ok(Json(token_list(&tessera, me.user.id, current).await?))
}

/// DRF's `IntegerField(min_value=1)` messages.
const NOT_AN_INTEGER: &str = "A valid integer is required.";
const NOT_POSITIVE: &str = "Ensure this value is greater than or equal to 1.";

/// The longest `expires_in`: 100 years (of 365.25 days). The contract sets no
/// bound; DRF's `IntegerField` would let a huge one overflow the date into a
/// server error, so a bound it is, with `max_value`'s message.
pub const MAX_EXPIRES_IN: u64 = 3_155_760_000;

fn too_long() -> String {
    format!("Ensure this value is less than or equal to {MAX_EXPIRES_IN}.")
}

/// Creates a token (the route's policy has checked the `account` scope and
/// the recent password proof).
async fn create_token(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    Caller(identity): Caller,
    AuthUser(me): AuthUser,
    JsonObject(data): JsonObject,
) -> Result<(StatusCode, Json<Value>), Rejection> {
    let tessera = &tessera;
    let mut fields = Fields::new(&data);
    let name = fields.char("name", CharField::required().max_length(100));
    let expires_in = match data.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => {
                fields.error("expires_in", NOT_POSITIVE);
                None
            }
            Some(secs) if secs > MAX_EXPIRES_IN => {
                fields.error("expires_in", too_long());
                None
            }
            Some(secs) => Some(secs),
            None if n.as_i64().is_some() => {
                fields.error("expires_in", NOT_POSITIVE);
                None
            }
            None => {
                fields.error("expires_in", NOT_AN_INTEGER);
                None
            }
        },
        Some(_) => {
            fields.error("expires_in", NOT_AN_INTEGER);
            None
        }
    };
    let scopes = match data.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut scopes = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) if scope::is_valid(s) => scopes.push(s.to_owned()),
                    _ => fields.error("scopes", scope::NAME_RULE),
                }
            }
            scopes.sort();
            scopes.dedup();
            scopes
        }
        Some(other) => {
            let kind = match other {
                Value::String(_) => "str",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                _ => "dict",
            };
            fields.error(
                "scopes",
                format!("Expected a list of items but got type \"{kind}\"."),
            );
            Vec::new()
        }
    };
    fields.finish()?;
    let name = name.ok_or_else(ApiError::internal)?;
    // A scoped token cannot mint a token with more rights than its own.
    if !scope::may_delegate(&identity, &scopes) {
        return Err(ApiError::permission_denied(Some(
            "A scoped token can only create tokens within its own scopes.",
        ))
        .into());
    }
    let now = tessera.clock().now();
    let expires = match expires_in {
        Some(secs) => Some(expiry_after(now, std::time::Duration::from_secs(secs))?),
        None => match tessera.settings().token_lifetime {
            Some(d) => Some(expiry_after(now, d)?),
            None => None,
        },
    };
    let cap = Some(tessera.settings().max_tokens_per_user);
    let event = meta.user_event(
        now,
        EventKind::TokenCreated,
        &me.user,
        json!({"name": name}),
    );
    let spec = TokenSpec {
        user_id: me.user.id,
        name,
        scopes,
        created: now,
        expires,
        authenticated_at: None,
    };
    let (key, record) = store_token(tessera, spec, cap, event).await?;
    let mut body = serde_json::to_value(TokenView::of(&record, false)).unwrap_or_default();
    if let Value::Object(map) = &mut body {
        map.insert("token".into(), json!(key.expose()));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

/// Revokes one of the user's own tokens; another user's id is 404.
async fn revoke_token(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let tessera = &tessera;
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::TokenRevoked,
        &me.user,
        json!({"token_id": id}),
    );
    let audited = &tessera.stores().audited;
    if audited
        .delete_token_audited(id, Some(me.user.id), event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Issues a new key for the calling token (API.md "Tokens of the current
/// user"). The new token inherits the old one's name, scopes, expiry and
/// password proof: rotation never lengthens a life. The old key works for
/// the grace period (`tokens.rotation_grace`), then presenting it is reuse.
/// Marking the old key, storing the new one (within the per-user cap, the
/// old key counted) and the `token_rotated` event are one atomic write.
///
/// Rotating a key that was already rotated out is reuse too (two holders of
/// one key rotating it: SECURITY.md T7): `401 Invalid token.`, the family
/// revoked and a `token_reuse` alert raised, as when such a key is presented
/// after its grace. Of two concurrent rotations of one key, exactly one wins.
async fn rotate_token(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
) -> Result<Json<Value>, Rejection> {
    let tessera = &tessera;
    let id = current_token(&me.credential).ok_or_else(ApiError::internal)?;
    let now = tessera.clock().now();
    let key = TokenKey::generate();
    let rotation = TokenRotation {
        token_id: id,
        user_id: me.user.id,
        digest: key.digest(),
        created: now,
        grace_until: expiry_after(now, tessera.settings().token_rotation_grace)?,
        max_per_user: Some(tessera.settings().max_tokens_per_user),
    };
    let event = meta.user_event(
        now,
        EventKind::TokenRotated,
        &me.user,
        json!({"rotated_from": id}),
    );
    let audited = &tessera.stores().audited;
    match audited.rotate_token_audited(rotation, event).await? {
        Rotated::Rotated(_) => Ok(Json(json!({"token": key.expose()}))),
        Rotated::AtCap => Err(ValidationErrors::non_field(TOKEN_LIMIT).into()),
        Rotated::AlreadyRotated { family } => {
            tessera
                .alerts()
                .token_reuse(&meta, &me.user, id, family, now)
                .await?;
            Err(invalid_token(tessera).into())
        }
        Rotated::NoSuchToken => Err(invalid_token(tessera).into()),
    }
}

/// `401 Invalid token.` with the token challenge, as the authenticator
/// refuses a key.
fn invalid_token(tessera: &Tessera) -> ApiError {
    let error = ApiError::authentication_failed(INVALID_TOKEN);
    match Authenticator::Token
        .authenticate_header(tessera)
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        Some(challenge) => error.with_header(header::WWW_AUTHENTICATE, challenge),
        None => error,
    }
}
