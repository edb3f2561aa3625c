//! Account operations shared by the routes and the command line: creating
//! users and issuing keys.

use tessera_axum::{ApiError, Rejection, Tessera, ValidationErrors};
use tessera_core::password::MAX_PASSWORD_BYTES;
use tessera_core::secret::Secret;
use tessera_core::token::{NewToken, TokenKey, TokenRecord};
use tessera_core::user::{normalize_username, validate_username, NewUser};
use tessera_core::{StoreError, User};
use time::OffsetDateTime;

/// Django's message for a taken username.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// The refusal at the per-user token cap.
pub const TOKEN_LIMIT: &str =
    "Token limit reached: revoke one of your tokens before creating another.";

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

/// Checks a new password's length bounds (the full validators are applied by
/// the callers that set passwords).
pub fn password_errors(password: &Secret) -> Vec<String> {
    let mut errors = Vec::new();
    if password.expose().len() > MAX_PASSWORD_BYTES {
        errors.push(format!(
            "Ensure this field has no more than {MAX_PASSWORD_BYTES} bytes."
        ));
    }
    errors
}

/// Creates a user: validates the username, hashes the password on the pool.
pub async fn create_user(tessera: &Tessera, input: UserInput) -> Result<User, Rejection> {
    let username = normalize_username(&input.username);
    let mut errors = ValidationErrors::new();
    for message in validate_username(&username) {
        errors.add("username", message);
    }
    for message in password_errors(&input.password) {
        errors.add("password", message);
    }
    errors.into_result()?;
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
    match tessera.stores().users.create_user(new).await {
        Ok(user) => Ok(user),
        Err(StoreError::Conflict(_)) => {
            Err(ValidationErrors::single("username", USERNAME_TAKEN).into())
        }
        Err(e) => Err(e.into()),
    }
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
    let key = TokenKey::generate();
    let now = tessera.clock().now();
    let lifetime = request.lifetime.or(tessera.settings().token_lifetime);
    let expires = match lifetime {
        Some(d) => Some(
            time::Duration::try_from(d)
                .ok()
                .and_then(|d| now.checked_add(d))
                .ok_or_else(ApiError::internal)?,
        ),
        None => None,
    };
    let new = NewToken {
        user_id: user.id,
        digest: key.digest(),
        name: request.name,
        scopes: request.scopes,
        created: now,
        expires,
        authenticated_at: request.authenticated_at,
    };
    let cap = Some(tessera.settings().max_tokens_per_user);
    match tessera.stores().tokens.create_token(new, cap).await? {
        Some(record) => Ok((key, record)),
        None => Err(ValidationErrors::non_field(TOKEN_LIMIT).into()),
    }
}
