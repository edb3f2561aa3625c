//! Users, as Django's `AbstractUser` has them, and Django's username rules.

use serde::Serialize;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

/// A user, serialised as API.md's `User`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Unique, NFKC-normalised username.
    pub username: String,
    /// E-mail address, possibly empty (Django's default).
    pub email: String,
    /// Inactive users cannot authenticate (Django's `is_active`).
    pub is_active: bool,
    /// May use the administration routes (Django's `is_staff`).
    pub is_staff: bool,
    /// Has every permission (Django's `is_superuser`).
    pub is_superuser: bool,
    /// When the account was created.
    #[serde(with = "crate::clock::serde_rfc3339")]
    pub date_joined: OffsetDateTime,
    /// The last successful password login, if any.
    #[serde(with = "crate::clock::serde_rfc3339::option")]
    pub last_login: Option<OffsetDateTime>,
    /// The names of the groups the user belongs to, sorted (Django's
    /// `groups`, carried over by `tessera import-django`), for
    /// [`HasGroup`](crate::permission::HasGroup). Loaded with the user
    /// wherever it is authenticated. Not part of API.md's `User` (so not
    /// serialised here): the administration routes add it to their own
    /// representation.
    #[serde(skip)]
    pub groups: Vec<String>,
}

/// A user to create. The password arrives already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Validated with [`validate_username`].
    pub username: String,
    /// E-mail address, possibly empty.
    pub email: String,
    /// PHC or Django-format password hash; `!` alone marks an unusable password.
    pub password_hash: String,
    /// Django's `is_active`.
    pub is_active: bool,
    /// Django's `is_staff`.
    pub is_staff: bool,
    /// Django's `is_superuser`.
    pub is_superuser: bool,
    /// Creation time.
    pub date_joined: OffsetDateTime,
}

/// A partial update of a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New e-mail address.
    pub email: Option<String>,
    /// New `is_active`.
    pub is_active: Option<bool>,
    /// New `is_staff`.
    pub is_staff: Option<bool>,
    /// New `is_superuser`.
    pub is_superuser: Option<bool>,
    /// New password hash.
    pub password_hash: Option<String>,
}

/// Django's `AbstractBaseUser.normalize_username`: Unicode NFKC.
pub fn normalize_username(raw: &str) -> String {
    raw.nfkc().collect()
}

/// The longest username Django's `AbstractUser` accepts.
pub const USERNAME_MAX_CHARS: usize = 150;

/// Django's `UnicodeUsernameValidator` message.
pub const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

/// Checks a normalised username as Django's `AbstractUser.username` field does,
/// returning every failing rule's message (DRF reports them all).
pub fn validate_username(username: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let chars = username.chars().count();
    if chars > USERNAME_MAX_CHARS {
        errors.push(format!(
            "Ensure this field has no more than {USERNAME_MAX_CHARS} characters."
        ));
    }
    // `^[\w.@+-]+\Z` with Python's Unicode `\w`: letters, digits, underscore.
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-'))
    {
        errors.push(INVALID_USERNAME.to_owned());
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_validator() {
        assert!(validate_username("alice.b+c@d-e_f").is_empty());
        assert!(validate_username("Zoë_名前").is_empty());
        assert_eq!(validate_username("has space"), vec![INVALID_USERNAME]);
        assert_eq!(validate_username("semi;colon"), vec![INVALID_USERNAME]);
        assert!(validate_username(&"a".repeat(150)).is_empty());
        assert_eq!(
            validate_username(&"a".repeat(151)),
            vec!["Ensure this field has no more than 150 characters."]
        );
    }

    #[test]
    fn usernames_are_nfkc_normalised() {
        // U+FB01 LATIN SMALL LIGATURE FI and a full-width A.
        assert_eq!(normalize_username("\u{FB01}le\u{FF21}"), "fileA");
        // NFD "é" composes.
        assert_eq!(normalize_username("e\u{301}"), "\u{e9}");
    }
}
