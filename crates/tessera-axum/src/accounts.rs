//! Account operations: creating users (with the user-created hooks, Django's
//! `post_save` signal), validating new passwords, issuing keys.

use crate::error::{ApiError, Rejection, ValidationErrors};
use crate::state::Tessera;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::sync::Arc;
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

/// Code run after a user is created (Django's `post_save` signal on the user
/// model). It may add fields to the creation's response, such as a key it
/// issued (`{"token": "tsr_..."}`): a key is shown once, when it is made.
pub type UserCreatedHook = Arc<
    dyn Fn(Tessera, User) -> BoxFuture<'static, Result<Map<String, Value>, Rejection>>
        + Send
        + Sync,
>;

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
/// on the pool, stores the user, then runs the user-created hooks.
pub async fn create_user(tessera: &Tessera, input: UserInput) -> Result<Created, Rejection> {
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
    let user = match tessera.stores().users.create_user(new).await {
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

/// Issues a key for `user`, within the per-user cap. The key is returned once
/// and only its digest is stored.
pub async fn issue_token(
    tessera: &Tessera,
    user: &User,
    request: TokenRequest,
) -> Result<(TokenKey, TokenRecord), Rejection> {
    let now = tessera.clock().now();
    let lifetime = request.lifetime.or(tessera.settings().token_lifetime);
    let expires = match lifetime {
        Some(d) => Some(expiry_after(now, d)?),
        None => None,
    };
    let cap = Some(tessera.settings().max_tokens_per_user);
    store_token(
        tessera,
        user.id,
        request.name,
        request.scopes,
        now,
        expires,
        request.authenticated_at,
        cap,
    )
    .await
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

/// Stores a freshly generated key with these attributes.
#[allow(clippy::too_many_arguments)]
pub async fn store_token(
    tessera: &Tessera,
    user_id: i64,
    name: String,
    scopes: Vec<String>,
    created: OffsetDateTime,
    expires: Option<OffsetDateTime>,
    authenticated_at: Option<OffsetDateTime>,
    cap: Option<u64>,
) -> Result<(TokenKey, TokenRecord), Rejection> {
    let key = TokenKey::generate();
    let new = NewToken {
        user_id,
        digest: key.digest(),
        name,
        scopes,
        created,
        expires,
        authenticated_at,
    };
    match tessera.stores().tokens.create_token(new, cap).await? {
        Some(record) => Ok((key, record)),
        None => Err(ValidationErrors::non_field(TOKEN_LIMIT).into()),
    }
}
