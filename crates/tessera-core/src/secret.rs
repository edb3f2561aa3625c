//! Secrets are types: their `Debug` prints `[redacted]`, so a secret cannot end
//! up in a log line by way of `{:?}`; their memory is wiped when they are
//! dropped; and they have no `==`, only a comparison in constant time.

use std::fmt;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

/// A secret string: a password, an API key, a session id.
///
/// Its bytes are overwritten with zeros when it is dropped (`zeroize`), and
/// it can be compared only in constant time:
///
/// ```
/// use subtle::ConstantTimeEq;
/// use tessera_core::secret::Secret;
///
/// let (a, b) = (Secret::new("hunter2"), Secret::new("hunter2"));
/// assert!(bool::from(a.ct_eq(&b)));
/// assert!(!bool::from(a.ct_eq(&Secret::new("hunter3"))));
/// assert_eq!(format!("{a:?}"), "[redacted]");
/// ```
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret (taking the `String`, which is wiped with the secret).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret itself. Call sites are few and easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl ConstantTimeEq for Secret {
    /// Equal bytes, compared in time that depends only on the lengths.
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn compared_in_constant_time_only() {
        let s = Secret::new("hunter2");
        assert!(bool::from(s.ct_eq(&s.clone())));
        assert!(!bool::from(s.ct_eq(&Secret::new("hunter"))));
        assert!(!bool::from(s.ct_eq(&Secret::new("hunter3"))));
    }
}
