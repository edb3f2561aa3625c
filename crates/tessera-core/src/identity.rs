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
    /// A credential recognised by an application's own authentication
    /// scheme (an API key, a signed request): DRF's `request.auth` of a
    /// custom `BaseAuthentication`. Tessera stores nothing of it, so the
    /// views that end or refresh the calling credential (`/auth/logout`,
    /// `/auth/reauth`) refuse it, and it never counts as a recent password
    /// proof.
    Custom {
        /// The scheme's name, as `/auth/me` reports it in `auth` (e.g.
        /// `"api-key"`).
        scheme: String,
        /// Its scopes, with a token's rule: empty means the owner's full
        /// rights, otherwise only the scopes listed.
        scopes: Vec<String>,
    },
}

impl Credential {
    /// `"token"`, `"session"`, or a custom scheme's name, as `/auth/me`
    /// reports it.
    pub fn kind(&self) -> &str {
        match self {
            Credential::Token { .. } => "token",
            Credential::Session { .. } => "session",
            Credential::Custom { scheme, .. } => scheme,
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
