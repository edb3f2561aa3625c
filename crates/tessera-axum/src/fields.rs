//! DRF's serializer fields over a parsed body: the same checks, the same
//! messages, every field's errors reported at once.

use crate::error::ValidationErrors;
use serde_json::{Map, Value};

/// DRF's messages.
pub mod messages {
    /// A missing required field.
    pub const REQUIRED: &str = "This field is required.";
    /// `null` where not allowed.
    pub const NULL: &str = "This field may not be null.";
    /// An empty string where not allowed.
    pub const BLANK: &str = "This field may not be blank.";
    /// Not a string.
    pub const NOT_A_STRING: &str = "Not a valid string.";
    /// A NUL character (DRF's `ProhibitNullCharactersValidator`).
    pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";
    /// Not a boolean.
    pub const NOT_A_BOOLEAN: &str = "Must be a valid boolean.";
    /// Not an e-mail address.
    pub const INVALID_EMAIL: &str = "Enter a valid email address.";
}

/// Options of a DRF `CharField`.
#[derive(Debug, Clone, Copy)]
pub struct CharField {
    /// `required=True`.
    pub required: bool,
    /// `trim_whitespace=True` (passwords set it to false).
    pub trim: bool,
    /// `allow_blank=False` by default.
    pub allow_blank: bool,
    /// `max_length`.
    pub max_length: Option<usize>,
}

impl CharField {
    /// A required, trimmed, non-blank field.
    pub const fn required() -> Self {
        CharField {
            required: true,
            trim: true,
            allow_blank: false,
            max_length: None,
        }
    }

    /// An optional field.
    pub const fn optional() -> Self {
        CharField {
            required: false,
            ..Self::required()
        }
    }

    /// A password: required, never trimmed.
    pub const fn password() -> Self {
        CharField {
            trim: false,
            ..Self::required()
        }
    }

    /// The same field, not required (a password that may be omitted).
    pub const fn optional_password(self) -> Self {
        CharField {
            required: false,
            ..self
        }
    }

    /// With `allow_blank=True`.
    pub const fn allow_blank(self) -> Self {
        CharField {
            allow_blank: true,
            ..self
        }
    }

    /// With a `max_length`.
    pub const fn max_length(self, n: usize) -> Self {
        CharField {
            max_length: Some(n),
            ..self
        }
    }
}

/// Reads fields from a body, collecting errors as DRF's `is_valid` does.
#[derive(Debug)]
pub struct Fields<'a> {
    data: &'a Map<String, Value>,
    errors: ValidationErrors,
}

impl<'a> Fields<'a> {
    /// Starts reading `data`.
    pub fn new(data: &'a Map<String, Value>) -> Self {
        Fields {
            data,
            errors: ValidationErrors::new(),
        }
    }

    /// Whether the body has this field at all.
    pub fn has(&self, name: &str) -> bool {
        self.data.contains_key(name)
    }

    /// A `CharField`. DRF turns numbers into strings; so does this.
    pub fn char(&mut self, name: &str, field: CharField) -> Option<String> {
        let value = match self.data.get(name) {
            None => {
                if field.required {
                    self.errors.add(name, messages::REQUIRED);
                }
                return None;
            }
            Some(Value::Null) => {
                self.errors.add(name, messages::NULL);
                return None;
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                self.errors.add(name, messages::NOT_A_STRING);
                return None;
            }
        };
        let value = if field.trim {
            value.trim().to_owned()
        } else {
            value
        };
        if value.is_empty() && !field.allow_blank {
            self.errors.add(name, messages::BLANK);
            return None;
        }
        let mut ok = true;
        if let Some(max) = field.max_length {
            if value.chars().count() > max {
                self.errors.add(
                    name,
                    format!("Ensure this field has no more than {max} characters."),
                );
                ok = false;
            }
        }
        if value.contains('\0') {
            self.errors.add(name, messages::NULL_CHARACTERS);
            ok = false;
        }
        ok.then_some(value)
    }

    /// A `BooleanField`, accepting DRF's spellings (`true`, `"true"`, `1`, `"on"`, ...).
    pub fn boolean(&mut self, name: &str, required: bool) -> Option<bool> {
        let value = match self.data.get(name) {
            None => {
                if required {
                    self.errors.add(name, messages::REQUIRED);
                }
                return None;
            }
            Some(v) => v,
        };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => n.as_f64().and_then(|x| {
                    if x == 1.0 {
                        Some(true)
                    } else if x == 0.0 {
                        Some(false)
                    } else {
                        None
                    }
                }),
            },
            Value::String(s) => match s.as_str() {
                "true" | "True" | "TRUE" | "1" | "on" | "On" | "ON" | "y" | "Y" | "yes" | "Yes"
                | "YES" | "t" | "T" => Some(true),
                "false" | "False" | "FALSE" | "0" | "off" | "Off" | "OFF" | "n" | "N" | "no"
                | "No" | "NO" | "f" | "F" => Some(false),
                _ => None,
            },
            Value::Null => {
                self.errors.add(name, messages::NULL);
                return None;
            }
            _ => None,
        };
        if parsed.is_none() {
            self.errors.add(name, messages::NOT_A_BOOLEAN);
        }
        parsed
    }

    /// An `EmailField` (blank allowed, as Django's `AbstractUser.email`).
    pub fn email(&mut self, name: &str) -> Option<String> {
        let value = self.char(name, CharField::optional().allow_blank().max_length(254))?;
        if value.is_empty() || is_valid_email(&value) {
            Some(value)
        } else {
            self.errors.add(name, messages::INVALID_EMAIL);
            None
        }
    }

    /// Adds an error of the caller's own.
    pub fn error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.add(name, message);
    }

    /// Adds the errors of another check.
    pub fn merge(&mut self, errors: ValidationErrors) {
        for (field, messages) in errors.0 {
            for message in messages {
                self.errors.add(&field, message);
            }
        }
    }

    /// The errors so far, if any.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        self.errors.into_result()
    }
}

/// Django's `EmailValidator`, in its essentials: one `@`, a user part of
/// printable non-space characters, a domain of dot-separated labels.
pub fn is_valid_email(value: &str) -> bool {
    let Some((user, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let user_ok = !user.is_empty()
        && !user.starts_with('.')
        && !user.ends_with('.')
        && !user.contains("..")
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    user_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn char_fields_follow_drf() {
        let data =
            map(json!({"a": " x ", "b": "", "c": null, "d": ["x"], "e": 12, "f": "a\u{0}b"}));
        let mut f = Fields::new(&data);
        assert_eq!(f.char("a", CharField::required()), Some("x".into()));
        assert_eq!(f.char("a", CharField::password()), Some(" x ".into()));
        assert_eq!(f.char("b", CharField::required()), None);
        assert_eq!(f.char("c", CharField::required()), None);
        assert_eq!(f.char("d", CharField::required()), None);
        assert_eq!(f.char("e", CharField::required()), Some("12".into()));
        assert_eq!(f.char("f", CharField::required()), None);
        assert_eq!(f.char("missing", CharField::required()), None);
        assert_eq!(f.char("missing2", CharField::optional()), None);
        let errors = f.finish().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(errors["b"], vec![messages::BLANK]);
        assert_eq!(errors["c"], vec![messages::NULL]);
        assert_eq!(errors["d"], vec![messages::NOT_A_STRING]);
        assert_eq!(errors["f"], vec![messages::NULL_CHARACTERS]);
        assert_eq!(errors["missing"], vec![messages::REQUIRED]);
        assert!(!errors.contains_key("missing2"));
    }

    #[test]
    fn booleans_and_emails() {
        let data = map(json!({"t": "true", "f": 0, "x": "maybe", "e": "a@b.co", "bad": "a@b"}));
        let mut f = Fields::new(&data);
        assert_eq!(f.boolean("t", false), Some(true));
        assert_eq!(f.boolean("f", false), Some(false));
        assert_eq!(f.boolean("x", false), None);
        assert_eq!(f.email("e"), Some("a@b.co".into()));
        assert_eq!(f.email("bad"), None);
        let errors = f.finish().err().map(|e| e.0).unwrap_or_default();
        assert_eq!(errors["x"], vec![messages::NOT_A_BOOLEAN]);
        assert_eq!(errors["bad"], vec![messages::INVALID_EMAIL]);
    }
}
