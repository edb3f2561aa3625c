//! Account operations: creating users (with the user-created hooks, Django's
//! `post_save` signal), validating new passwords, issuing keys.

use crate::error::{ApiError, Rejection, ValidationErrors};
use crate::state::Tessera;
use serde_json::{Map, Value};
use tessera_core::audit::NewAuditEvent;
use tessera_core::audited::TokenWrite;
use tessera_core::secret::Secret;
use tessera_core::token::{NewToken, TokenKey, TokenRecord};
use tessera_core::user::{normalize_username, validate_username, NewUser};
use tessera_core::validation::validate_password;
use tessera_core::{StoreError, User};
use time::OffsetDateTime;

/// Django's message for a taken username.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// The refusal at the per-user token cap.
pub const TOKEN_LIMIT: &str =
    "Token limit reached: revoke one of your tokens before creating another.";

pub use crate::state::UserCreatedHook;

/// A user to create, as received.
#[derive(Debug)]
pub struct UserInput {
    /// Username as typed; normalised and validated here.
    pub username: String,
    /// E-mail address, possibly empty.
    pub email: String,
    /// Password.
    pub password: Secret,
    /// `is_active`.
    pub is_active: bool,
    /// `is_staff`.
    pub is_staff: bool,
    /// `is_superuser`.
    pub is_superuser: bool,
}

/// A created user and what the hooks added for the response.
#[derive(Debug)]
pub struct Created {
    /// The user.
    pub user: User,
    /// Fields the hooks added (`token`, ...).
    pub extra: Map<String, Value>,
}

/// Every rule a new password breaks, in Django's words and order (Django's
/// four default validators and Tessera's maximum length).
pub fn password_errors(
    tessera: &Tessera,
    password: &Secret,
    username: &str,
    email: &str,
) -> Vec<String> {
    validate_password(
        &tessera.settings().password_policy,
        password.expose(),
        username,
        email,
    )
}

/// The username and password rules a new user breaks, per field.
pub fn new_user_errors(
    tessera: &Tessera,
    username: &str,
    password: &Secret,
    email: &str,
) -> ValidationErrors {
    let username = normalize_username(username);
    let mut errors = ValidationErrors::new();
    for message in validate_username(&username) {
        errors.add("username", message);
    }
    for message in password_errors(tessera, password, &username, email) {
        errors.add("password", message);
    }
    errors
}

/// Creates a user: validates the username and password, hashes the password
/// on the pool, stores the user with its `user_created` audit `event` in one
/// transaction, then runs the user-created hooks.
pub async fn create_user(
    tessera: &Tessera,
    input: UserInput,
    event: NewAuditEvent,
) -> Result<Created, Rejection> {
    new_user_errors(tessera, &input.username, &input.password, &input.email).into_result()?;
    let username = normalize_username(&input.username);
    let password_hash = tessera.hasher().hash(&input.password).await?;
    let new = NewUser {
        username,
        email: input.email,
        password_hash,
        is_active: input.is_active,
        is_staff: input.is_staff,
        is_superuser: input.is_superuser,
        date_joined: tessera.clock().now(),
    };
    let event = NewAuditEvent {
        username: new.username.clone(),
        ..event
    };
    let user = match tessera
        .stores()
        .audited
        .create_user_audited(new, event)
        .await
    {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => {
            return Err(ValidationErrors::single("username", USERNAME_TAKEN).into())
        }
        Err(e) => return Err(e.into()),
    };
    let mut extra = Map::new();
    for hook in tessera.user_created_hooks() {
        extra.extend(hook(tessera.clone(), user.clone()).await?);
    }
    Ok(Created { user, extra })
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Label.
    pub name: String,
    /// Scopes; empty for the owner's full rights.
    pub scopes: Vec<String>,
    /// Lifetime; `None` for the configured default.
    pub lifetime: Option<std::time::Duration>,
    /// When the password was proved for it, if it was.
    pub authenticated_at: Option<OffsetDateTime>,
}

/// Issues a key for `user`, within the per-user cap, writing its audit
/// `event` in the same transaction. The key is returned once and only its
/// digest is stored.
pub async fn issue_token(
    tessera: &Tessera,
    user: &User,
    request: TokenRequest,
    event: NewAuditEvent,
) -> Result<(TokenKey, TokenRecord), Rejection> {
    let (key, write) = issued_token(tessera, user, request, event)?;
    store(tessera, key, write).await
}

/// The key [`issue_token`] would issue for `user`, and what storing it takes
/// (the token, the per-user cap, the audit `event`), without storing it: for
/// a write that stores it with something else, such as
/// [`PasswordLogin::record_with_token`](crate::login::PasswordLogin::record_with_token).
pub fn issued_token(
    tessera: &Tessera,
    user: &User,
    request: TokenRequest,
    event: NewAuditEvent,
) -> Result<(TokenKey, TokenWrite), ApiError> {
    let now = tessera.clock().now();
    let lifetime = request.lifetime.or(tessera.settings().token_lifetime);
    let expires = match lifetime {
        Some(d) => Some(expiry_after(now, d)?),
        None => None,
    };
    let spec = TokenSpec {
        user_id: user.id,
        name: request.name,
        scopes: request.scopes,
        created: now,
        expires,
        authenticated_at: request.authenticated_at,
    };
    let cap = Some(tessera.settings().max_tokens_per_user);
    Ok(token_write(spec, cap, event))
}

/// The token a stored key gives, or the cap's refusal ([`TOKEN_LIMIT`]).
pub fn stored_or_refused(
    key: TokenKey,
    stored: Option<TokenRecord>,
) -> Result<(TokenKey, TokenRecord), Rejection> {
    match stored {
        Some(record) => Ok((key, record)),
        None => Err(ValidationErrors::non_field(TOKEN_LIMIT).into()),
    }
}

/// A fresh key, and its token as `spec` describes it, to store under `cap`
/// with `event`.
fn token_write(spec: TokenSpec, cap: Option<u64>, event: NewAuditEvent) -> (TokenKey, TokenWrite) {
    let key = TokenKey::generate();
    let new = NewToken {
        user_id: spec.user_id,
        digest: key.digest(),
        name: spec.name,
        scopes: spec.scopes,
        created: spec.created,
        expires: spec.expires,
        authenticated_at: spec.authenticated_at,
    };
    let write = TokenWrite {
        new,
        max_per_user: cap,
        event,
    };
    (key, write)
}

/// A token to store, but for its key.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Owner.
    pub user_id: i64,
    /// Label.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Issue time.
    pub created: OffsetDateTime,
    /// Expiry.
    pub expires: Option<OffsetDateTime>,
    /// When the password was proved for it.
    pub authenticated_at: Option<OffsetDateTime>,
}

/// `now + lifetime`, or a 500 when that overflows the calendar.
pub fn expiry_after(
    now: OffsetDateTime,
    lifetime: std::time::Duration,
) -> Result<OffsetDateTime, ApiError> {
    time::Duration::try_from(lifetime)
        .ok()
        .and_then(|d| now.checked_add(d))
        .ok_or_else(ApiError::internal)
}

/// Stores a freshly generated key with these attributes, and its audit
/// `event` (whose `detail` gets the token's id) in the same transaction.
pub async fn store_token(
    tessera: &Tessera,
    spec: TokenSpec,
    cap: Option<u64>,
    event: NewAuditEvent,
) -> Result<(TokenKey, TokenRecord), Rejection> {
    let (key, write) = token_write(spec, cap, event);
    store(tessera, key, write).await
}

async fn store(
    tessera: &Tessera,
    key: TokenKey,
    write: TokenWrite,
) -> Result<(TokenKey, TokenRecord), Rejection> {
    let stored = tessera
        .stores()
        .audited
        .create_token_audited(write.new, write.max_per_user, write.event)
        .await?;
    stored_or_refused(key, stored)
}
