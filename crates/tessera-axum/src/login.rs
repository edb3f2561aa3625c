//! Checking a username and password, as Django's `authenticate()` with the
//! `ModelBackend`, hardened.
//!
//! Every failure looks the same to the caller: an unknown user, a wrong
//! password, an inactive user and an unusable password all answer `None`, and
//! all but an over-long password cost one full argon2id verification (Django's
//! dummy hash, #20760), so response times do not tell who exists.

use crate::error::ApiError;
use crate::state::Tessera;
use tessera_core::password::{Verification, MAX_PASSWORD_BYTES};
use tessera_core::secret::Secret;
use tessera_core::user::{normalize_username, UserUpdate};
use tessera_core::User;

/// DRF's `AuthTokenSerializer` message for any failed login.
pub const LOGIN_FAILED: &str = "Unable to log in with provided credentials.";

/// The user these credentials belong to, if they are right and the user is
/// active. Upgrades a weaker stored hash, and records the login time.
#[tracing::instrument(skip_all)]
pub async fn authenticate_password(
    tessera: &Tessera,
    username: &str,
    password: &Secret,
) -> Result<Option<User>, ApiError> {
    // An over-long password is refused before hashing (a megabyte password
    // would cost seconds of CPU); its length says nothing about the account.
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Ok(None);
    }
    let username = normalize_username(username);
    let stored = tessera
        .stores()
        .users
        .credentials_by_username(&username)
        .await?;
    let verification = tessera
        .hasher()
        .verify(password, stored.as_ref().map(|c| c.password_hash.as_str()))
        .await?;
    let (Some(credentials), Verification::Valid { rehash }) = (stored, verification) else {
        return Ok(None);
    };
    // Django's `user_can_authenticate`: inactive users are refused after the
    // hash was checked, so they take as long as everyone else.
    if !credentials.user.is_active {
        return Ok(None);
    }
    let users = &tessera.stores().users;
    if let Some(new_hash) = rehash {
        let update = UserUpdate {
            password_hash: Some(new_hash),
            ..UserUpdate::default()
        };
        users.update_user(credentials.user.id, update).await?;
    }
    let now = tessera.clock().now();
    users.set_last_login(credentials.user.id, now).await?;
    Ok(Some(User {
        last_login: Some(now),
        ..credentials.user
    }))
}
