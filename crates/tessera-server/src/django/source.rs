//! What a Django source yields, row by row, whatever it is read from (the
//! database or `dumpdata` JSON): Django's columns as Django stores them,
//! before any check.

use tessera_core::import::TokenKind;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// One row read from a Django source.
pub enum Row {
    /// An `auth_group` row.
    Group(GroupRow),
    /// An `auth_user` row (or the custom user table's).
    User(UserRow),
    /// An `authtoken_token` or `knox_authtoken` row.
    Token(TokenRow),
    /// A `django_session` row.
    Session(SessionRow),
    /// A row, or the rest of the source, that could not be read: what it
    /// was, and why.
    Unreadable {
        /// Which table or file, and which row.
        what: String,
        /// Why.
        reason: String,
    },
    /// A note on the source (a table that is not there, objects of models
    /// that are not imported).
    Note(String),
}

/// An `auth_group` row.
pub struct GroupRow {
    /// `id`; `None` in `dumpdata --natural-primary` output.
    pub id: Option<i64>,
    /// `name`: unique in Django.
    pub name: String,
}

/// A group a user belongs to, as the source names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// By the group's id (the database; `dumpdata`).
    Id(i64),
    /// By the group's name (`dumpdata --natural-foreign`).
    Name(String),
}

impl std::fmt::Display for GroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::Id(id) => write!(f, "group id {id}"),
            GroupRef::Name(name) => write!(f, "group {name:?}"),
        }
    }
}

/// Django's `AbstractUser` columns (those a custom user model lacks have
/// their defaults, see [`super::columns`]).
pub struct UserRow {
    /// `id`.
    pub id: i64,
    /// `username`.
    pub username: String,
    /// `email`.
    pub email: String,
    /// `first_name`.
    pub first_name: String,
    /// `last_name`.
    pub last_name: String,
    /// `password`: the hash.
    pub password: String,
    /// `is_active`.
    pub is_active: bool,
    /// `is_staff`.
    pub is_staff: bool,
    /// `is_superuser`.
    pub is_superuser: bool,
    /// `date_joined`; `None` when the model has none.
    pub date_joined: Option<OffsetDateTime>,
    /// `last_login`.
    pub last_login: Option<OffsetDateTime>,
    /// The user's groups (`auth_user_groups`, or `groups` in `dumpdata`).
    pub groups: Vec<GroupRef>,
}

/// A token row: DRF's key (plain text in Django) or knox's digest.
pub struct TokenRow {
    /// Which app.
    pub kind: TokenKind,
    /// DRF's `key`, or knox's hexadecimal `digest`.
    pub secret: String,
    /// knox's `token_key`: the key's first characters (its prefix and 15
    /// characters since knox 5.0, 8 before).
    pub token_key: Option<String>,
    /// `user_id`.
    pub user_id: i64,
    /// `created`.
    pub created: OffsetDateTime,
    /// knox's `expiry`.
    pub expires: Option<OffsetDateTime>,
}

impl TokenRow {
    /// How the row is named in reports: never by its key.
    pub fn label(&self) -> String {
        match self.kind {
            TokenKind::Drf => format!("DRF token of user {}", self.user_id),
            TokenKind::Knox => format!("knox token of user {}", self.user_id),
        }
    }
}

/// A `django_session` row.
pub struct SessionRow {
    /// `session_key`: the cookie's value.
    pub key: String,
    /// `session_data`: signed, see [`super::signing`].
    pub data: String,
    /// `expire_date`.
    pub expires: OffsetDateTime,
}

/// Reads a time as Django's backends store it: `2024-05-06 07:08:09.123456`
/// (SQLite, and PostgreSQL through `to_char`), or as `dumpdata` writes it:
/// `2024-05-06T07:08:09.123Z`, with an offset, or naive. Naive times are UTC
/// (Django stores UTC when `USE_TZ = True`, the default).
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    let (body, offset) = split_offset(text)?;
    let body = body.replacen('T', " ", 1);
    let with_fraction =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let whole = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let primitive = PrimitiveDateTime::parse(&body, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(&body, whole))
        .ok()?;
    Some(primitive.assume_offset(offset).to_offset(UtcOffset::UTC))
}

/// `2024-05-06T07:08:09Z` → (`2024-05-06T07:08:09`, UTC); `...+02:00` → the
/// offset; none → UTC.
fn split_offset(text: &str) -> Option<(&str, UtcOffset)> {
    if let Some(body) = text.strip_suffix('Z') {
        return Some((body, UtcOffset::UTC));
    }
    // An offset is the last '+' or '-' after the time's start (the date has
    // '-' too, so look only past position 10).
    // `get`, not indexing: a hostile time may hold a multi-byte character there.
    if let Some(tail) = text.get(19..) {
        if let Some(at) = tail.rfind(['+', '-']).map(|i| i + 19) {
            let (body, offset) = text.split_at(at);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let digits: String = offset[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i8 = digits.get(..2)?.parse().ok()?;
            let minutes: i8 = digits.get(2..4).unwrap_or("0").parse().ok()?;
            let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
            return Some((body, offset));
        }
    }
    Some((text, UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn djangos_time_formats_are_read() {
        let t = datetime!(2024-05-06 07:08:09.123456 UTC);
        assert_eq!(parse_time("2024-05-06 07:08:09.123456"), Some(t));
        assert_eq!(
            parse_time("2024-05-06T07:08:09.123Z"),
            Some(datetime!(2024-05-06 07:08:09.123 UTC))
        );
        assert_eq!(
            parse_time("2024-05-06T09:08:09+02:00"),
            Some(datetime!(2024-05-06 07:08:09 UTC))
        );
        assert_eq!(
            parse_time("2024-05-06 07:08:09"),
            Some(datetime!(2024-05-06 07:08:09 UTC))
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01 00:00:00",
            "2024-05-06T07:08:09+xx",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
