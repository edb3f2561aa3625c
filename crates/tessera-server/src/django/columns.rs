//! Which column (or `dumpdata` field) of a custom user model holds each
//! field Tessera keeps: `--user-column FIELD=COLUMN`, repeatable, over
//! `AbstractUser`'s names. A field the model does not have is mapped to `-`
//! and gets a default:
//!
//! | field | default column | when `-` |
//! |---|---|---|
//! | `id` | `id` | required |
//! | `username` | `username` | required |
//! | `password` | `password` | required |
//! | `email` | `email` | `""` |
//! | `first_name` | `first_name` | `""` |
//! | `last_name` | `last_name` | `""` |
//! | `is_active` | `is_active` | `true` |
//! | `is_staff` | `is_staff` | `false` |
//! | `is_superuser` | `is_superuser` | `false` |
//! | `date_joined` | `date_joined` | the import's time for a new user; an imported user keeps its date |
//! | `last_login` | `last_login` | none |
//!
//! A column name is a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, at
//! most 63 characters), put into the query quoted; nothing else is accepted.

use std::collections::BTreeMap;

/// The fields, in the order `--help` and errors list them.
pub const FIELDS: [&str; 11] = [
    "id",
    "username",
    "password",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "last_login",
];

/// Fields that cannot be mapped to `-`.
const REQUIRED: [&str; 3] = ["id", "username", "password"];

/// The mapping: each field to its column, or `None` when the model lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserColumns(BTreeMap<&'static str, Option<String>>);

impl Default for UserColumns {
    /// `AbstractUser`'s columns.
    fn default() -> Self {
        UserColumns(FIELDS.iter().map(|f| (*f, Some((*f).to_owned()))).collect())
    }
}

impl UserColumns {
    /// `AbstractUser`'s columns with each `FIELD=COLUMN` (or `FIELD=-`) of
    /// `specs` applied; a field given twice, an unknown field, a required
    /// field mapped to `-` or a column that is not a plain identifier is an
    /// error naming it.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<UserColumns, String> {
        let mut columns = UserColumns::default();
        let mut seen = Vec::new();
        for spec in specs {
            let spec = spec.as_ref();
            let Some((field, column)) = spec.split_once('=') else {
                return Err(format!(
                    "--user-column {spec:?}: expected FIELD=COLUMN (or FIELD=- for a field the model lacks)"
                ));
            };
            let (field, column) = (field.trim(), column.trim());
            let Some(field) = FIELDS.iter().copied().find(|f| *f == field) else {
                return Err(format!(
                    "--user-column {spec:?}: unknown field {field:?}; the fields are {}",
                    FIELDS.join(", ")
                ));
            };
            if seen.contains(&field) {
                return Err(format!("--user-column: field {field:?} is given twice"));
            }
            seen.push(field);
            let column = if column == "-" {
                if REQUIRED.contains(&field) {
                    return Err(format!(
                        "--user-column {spec:?}: {field} is required and cannot be left out"
                    ));
                }
                None
            } else if is_identifier(column) {
                Some(column.to_owned())
            } else {
                return Err(format!(
                    "--user-column {spec:?}: {column:?} is not a column name (letters, digits and _, not starting with a digit)"
                ));
            };
            columns.0.insert(field, column);
        }
        Ok(columns)
    }

    /// The column of `field`, `None` when the model lacks it (or `field` is
    /// not one of [`FIELDS`]).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(|c| c.as_deref())
    }

    /// The column of `field` as a quoted SQL identifier.
    pub fn quoted(&self, field: &str) -> Option<String> {
        self.get(field).map(quote)
    }
}

/// A plain SQL identifier: `[A-Za-z_][A-Za-z0-9_]*`, at most 63 characters
/// (PostgreSQL's limit).
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 63
}

/// `name` quoted for SQL; call only with an [`is_identifier`] name (which
/// holds no quote).
pub fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_users_columns_by_default() {
        let columns = UserColumns::parse::<&str>(&[]).unwrap_or_default();
        for field in FIELDS {
            assert_eq!(columns.get(field), Some(field));
        }
        assert_eq!(columns.quoted("email").as_deref(), Some("\"email\""));
        assert_eq!(columns.get("groups"), None);
    }

    #[test]
    fn a_mapping_renames_or_leaves_out() {
        let columns = UserColumns::parse(&[
            "username=email",
            "email = email",
            "is_staff=-",
            "date_joined=-",
            "password=Pass_Word9",
        ])
        .unwrap_or_default();
        assert_eq!(columns.get("username"), Some("email"));
        assert_eq!(columns.get("email"), Some("email"));
        assert_eq!(columns.get("is_staff"), None);
        assert_eq!(columns.get("date_joined"), None);
        assert_eq!(columns.get("password"), Some("Pass_Word9"));
        assert_eq!(columns.get("is_superuser"), Some("is_superuser"));
    }

    #[test]
    fn bad_mappings_are_refused_with_a_reason() {
        for (spec, says) in [
            ("username", "expected FIELD=COLUMN"),
            ("groups=x", "unknown field \"groups\""),
            ("username=-", "username is required"),
            ("password=-", "password is required"),
            ("id=-", "id is required"),
            ("email=e\"mail", "not a column name"),
            ("email=e; DROP TABLE auth_user", "not a column name"),
            ("email=1email", "not a column name"),
            ("email=", "not a column name"),
            ("email=é", "not a column name"),
        ] {
            let error = UserColumns::parse(&[spec]).err().unwrap_or_default();
            assert!(error.contains(says), "{spec}: {error}");
        }
        let twice = UserColumns::parse(&["email=a", "email=b"]).err();
        assert_eq!(
            twice.as_deref(),
            Some("--user-column: field \"email\" is given twice")
        );
        assert!(!is_identifier(&"a".repeat(64)));
        assert!(is_identifier(&"a".repeat(63)));
    }
}
