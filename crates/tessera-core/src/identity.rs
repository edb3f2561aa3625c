//! Who made a request: DRF's `request.user` and `request.auth`.

use crate::user::User;
use time::OffsetDateTime;

/// The credential that authenticated a request (DRF's `request.auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key from the `Authorization` header.
    Token {
        /// The token's id.
        id: i64,
        /// Its scopes; empty means the owner's full rights.
        scopes: Vec<String>,
        /// When its holder last proved the password.
        authenticated_at: Option<OffsetDateTime>,
    },
    /// A server-side session from the session cookie.
    Session {
        /// The session's id (not its secret cookie value).
        id: i64,
        /// When its holder last proved the password.
        authenticated_at: Option<OffsetDateTime>,
    },
}

impl Credential {
    /// `"token"` or `"session"`, as `/auth/me` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Token { .. } => "token",
            Credential::Session { .. } => "session",
        }
    }
}

/// An authenticated user and the credential they used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user, as loaded when the request was authenticated.
    pub user: User,
    /// How they authenticated.
    pub credential: Credential,
}

/// The outcome of authentication: a principal, or nobody.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Identity {
    /// No authenticator recognised the request.
    #[default]
    Anonymous,
    /// An authenticator recognised the request and its credential is good.
    Authenticated(Principal),
}

impl Identity {
    /// The user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Identity::Anonymous => None,
            Identity::Authenticated(p) => Some(&p.user),
        }
    }

    /// The credential, if any.
    pub fn credential(&self) -> Option<&Credential> {
        match self {
            Identity::Anonymous => None,
            Identity::Authenticated(p) => Some(&p.credential),
        }
    }

    /// DRF's `request.user.is_authenticated`.
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Identity::Authenticated(_))
    }
}
