//! Token scopes: what a scoped token may do.
//!
//! A token without scopes (every key from `/api-token-auth/`, every imported
//! DRF key) carries its owner's full rights, and so does a session: scopes
//! only ever narrow a credential, they never widen what its owner may do. A
//! scoped token holds exactly the scopes it lists; a route that needs a scope
//! refuses it otherwise.
//!
//! Scope names are 1-64 characters of `a-z`, `0-9`, `:`, `.`, `_` and `-`
//! (`read`, `notes:write`, `billing.export`). A name outside that set can
//! never be held by a token (tokens are created only with valid names), so a
//! route that declares one refuses every scoped token: a typo fails closed.
//!
//! ```
//! use tessera_core::scope;
//!
//! assert!(scope::is_valid("notes:write"));
//! assert!(!scope::is_valid("Notes"));
//! assert!(!scope::is_valid(""));
//! ```

use crate::identity::{Credential, Identity};

/// The longest scope name.
pub const MAX_LEN: usize = 64;

/// What a valid scope name is, as a field error says it.
pub const NAME_RULE: &str =
    "Each scope must be 1-64 characters of a-z, 0-9, ':', '.', '_' and '-'.";

/// The scope of safe methods of application routes.
pub const READ: &str = "read";
/// The scope of unsafe methods of application routes.
pub const WRITE: &str = "write";
/// The scope of managing credentials (tokens, password, sessions).
pub const ACCOUNT: &str = "account";
/// The scope of the administration routes (on top of the staff flag).
pub const ADMIN: &str = "admin";

/// Whether `name` is a valid scope name.
pub fn is_valid(name: &str) -> bool {
    (1..=MAX_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b':' | b'.' | b'_' | b'-'))
}

/// Whether the credential of `identity` carries `scope`: a session or a token
/// without scopes carries every scope; a scoped token only those it lists;
/// nobody carries any.
pub fn grants(identity: &Identity, scope: &str) -> bool {
    match identity.credential() {
        None => false,
        Some(Credential::Session { .. }) => true,
        Some(Credential::Token { scopes, .. } | Credential::Custom { scopes, .. }) => {
            scopes.is_empty() || scopes.iter().any(|s| s == scope)
        }
    }
}

/// Whether `identity` may create a token with `requested` scopes: a
/// credential that carries full rights may ask for any; a scoped token only
/// for a non-empty subset of its own (an empty list would mean full rights).
pub fn may_delegate(identity: &Identity, requested: &[String]) -> bool {
    match identity.credential() {
        None => false,
        Some(Credential::Session { .. }) => true,
        Some(Credential::Token { scopes: own, .. } | Credential::Custom { scopes: own, .. }) => {
            own.is_empty() || (!requested.is_empty() && requested.iter().all(|s| own.contains(s)))
        }
    }
}

/// The detail of the `403` for a credential that lacks `scope`.
pub fn required_message(scope: &str) -> String {
    format!("Token scope \"{scope}\" required.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Principal;
    use crate::user::User;
    use time::OffsetDateTime;

    fn token(scopes: &[&str]) -> Identity {
        Identity::Authenticated(Principal {
            user: User {
                id: 1,
                username: "u".into(),
                email: String::new(),
                is_active: true,
                is_staff: true,
                is_superuser: true,
                date_joined: OffsetDateTime::UNIX_EPOCH,
                last_login: None,
                groups: Vec::new(),
            },
            credential: Credential::Token {
                id: 1,
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                authenticated_at: None,
            },
        })
    }

    #[test]
    fn names() {
        for good in ["read", "a", "notes:write", "x.y_z-0", &"a".repeat(64)] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "Read",
            "notes write",
            "é",
            "a/b",
            "*",
            &"a".repeat(65),
            "read\n",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_scoped_token_holds_only_its_scopes_even_for_a_superuser() {
        let read = token(&["read"]);
        assert!(grants(&read, READ));
        assert!(!grants(&read, WRITE));
        assert!(!grants(&read, ADMIN));
        assert!(grants(&token(&[]), ADMIN));
        assert!(!grants(&Identity::Anonymous, READ));
    }

    #[test]
    fn a_custom_credential_follows_the_token_rule() {
        let custom = |scopes: &[&str]| {
            let mut identity = token(&[]);
            if let Identity::Authenticated(p) = &mut identity {
                p.credential = Credential::Custom {
                    scheme: "api-key".into(),
                    scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                };
            }
            identity
        };
        assert!(grants(&custom(&[]), ADMIN));
        assert!(grants(&custom(&["read"]), READ));
        assert!(!grants(&custom(&["read"]), WRITE));
        assert!(may_delegate(&custom(&["read", "write"]), &["read".into()]));
        assert!(!may_delegate(&custom(&["read"]), &["write".into()]));
        assert!(!may_delegate(&custom(&["read"]), &[]));
        assert_eq!(
            custom(&[]).credential().map(Credential::kind),
            Some("api-key")
        );
    }

    #[test]
    fn delegation_never_widens() {
        let read = token(&["read", "write"]);
        assert!(may_delegate(&read, &["read".into()]));
        assert!(may_delegate(&read, &["read".into(), "write".into()]));
        assert!(!may_delegate(&read, &["account".into()]));
        assert!(!may_delegate(&read, &[]), "an empty list is full rights");
        assert!(may_delegate(&token(&[]), &[]));
        assert!(may_delegate(&token(&[]), &["admin".into()]));
        assert!(!may_delegate(&Identity::Anonymous, &[]));
    }
}
