//! Authenticators, as DRF's `authentication_classes`.
//!
//! Each answers one of DRF's three answers: not my scheme (`Ok(None)`, ask the
//! next one), this user (`Ok(Some(principal))`), or credentials present but bad
//! (`Err`, the request fails with 401, or 403 when the route's first
//! authenticator has no `WWW-Authenticate` challenge).

pub mod session;
pub mod token;

use crate::error::ApiError;
use crate::state::Tessera;
use http::request::Parts;
use std::fmt::Debug;
use std::sync::Arc;
use tessera_core::Principal;

/// An authentication scheme of the application's own, as a subclass of
/// DRF's `BaseAuthentication`: an API key, a signed request, a header set by
/// a trusted gateway. Put it on a route with
/// [`Authenticator::custom`]; the policy calls it in its turn, with DRF's
/// three answers:
///
/// - `Ok(None)`: not this scheme's request (no header of its own); the next
///   authenticator is asked, and the request is anonymous when none
///   recognises it.
/// - `Ok(Some(principal))`: this user, with a [`Credential::Custom`]
///   naming the scheme (and the scopes it carries, if any).
/// - `Err(ApiError::authentication_failed(..))`: credentials present but
///   bad. The request fails at once: `401` with the route's first
///   authenticator's [`authenticate_header`](Authenticate::authenticate_header)
///   as `WWW-Authenticate`, or `403` when that authenticator has none
///   (DRF's rule).
///
/// [`Credential::Custom`]: tessera_core::Credential::Custom
///
/// ```
/// use http::request::Parts;
/// use tessera_axum::prelude::*;
/// use tessera_axum::async_trait;
///
/// /// `X-Gateway-User: <username>`, set by a gateway that authenticated the
/// /// caller (trust it only behind that gateway).
/// #[derive(Debug)]
/// struct Gateway;
///
/// #[async_trait]
/// impl Authenticate for Gateway {
///     async fn authenticate(
///         &self,
///         parts: &Parts,
///         tessera: &Tessera,
///     ) -> Result<Option<Principal>, ApiError> {
///         let Some(name) = parts.headers.get("x-gateway-user") else {
///             return Ok(None); // not ours: ask the next authenticator
///         };
///         let name = name
///             .to_str()
///             .map_err(|_| ApiError::authentication_failed("Invalid gateway header."))?;
///         let found = tessera.stores().users.credentials_by_username(name).await?;
///         match found.map(|c| c.user) {
///             Some(user) if user.is_active => Ok(Some(Principal {
///                 user,
///                 credential: Credential::Custom { scheme: "gateway".into(), scopes: vec![] },
///             })),
///             _ => Err(ApiError::authentication_failed("Unknown user.")),
///         }
///     }
///
///     fn name(&self) -> &str {
///         "gateway"
///     }
/// }
///
/// let policy = Policy::new().authenticators([Authenticator::custom(Gateway)]);
/// # let _ = policy;
/// ```
#[async_trait::async_trait]
pub trait Authenticate: Send + Sync + Debug + 'static {
    /// Authenticates the request, or says it is not this scheme's.
    async fn authenticate(
        &self,
        parts: &Parts,
        tessera: &Tessera,
    ) -> Result<Option<Principal>, ApiError>;

    /// The `WWW-Authenticate` challenge of this scheme (DRF's
    /// `authenticate_header`), e.g. `"Api-Key"`. `None`, the default, turns
    /// the route's 401s into 403s when this scheme is the route's first.
    fn authenticate_header(&self, tessera: &Tessera) -> Option<String> {
        let _ = tessera;
        None
    }

    /// The scheme's name, for logs and the route's description.
    fn name(&self) -> &str;
}

/// One authentication scheme.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// DRF's `TokenAuthentication`: `Authorization: Token <key>`.
    Token,
    /// DRF's `SessionAuthentication`: the session cookie, with Django's CSRF
    /// check on unsafe methods.
    Session,
    /// An application's own scheme (see [`Authenticate`]).
    Custom(Arc<dyn Authenticate>),
}

/// Two authenticators are the same when they are the same built-in scheme,
/// or the very same custom scheme (one `Arc`).
impl PartialEq for Authenticator {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Authenticator::Token, Authenticator::Token)
            | (Authenticator::Session, Authenticator::Session) => true,
            (Authenticator::Custom(a), Authenticator::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Authenticator {}

impl Authenticator {
    /// An application's own scheme, to list among a policy's
    /// authenticators (or in [`Settings::default_authenticators`]).
    ///
    /// [`Settings::default_authenticators`]: crate::Settings::default_authenticators
    pub fn custom(scheme: impl Authenticate) -> Self {
        Authenticator::Custom(Arc::new(scheme))
    }

    /// Authenticates the request, or says it is not this scheme's.
    pub async fn authenticate(
        &self,
        parts: &Parts,
        tessera: &Tessera,
    ) -> Result<Option<Principal>, ApiError> {
        match self {
            Authenticator::Token => token::authenticate(parts, tessera).await,
            Authenticator::Session => session::authenticate(parts, tessera).await,
            Authenticator::Custom(scheme) => scheme.authenticate(parts, tessera).await,
        }
    }

    /// The `WWW-Authenticate` challenge of this scheme, if it has one (DRF's
    /// `authenticate_header`). Sessions have none, so their 401s become 403s.
    pub fn authenticate_header(&self, tessera: &Tessera) -> Option<String> {
        match self {
            Authenticator::Token => Some(tessera.settings().token_keyword.clone()),
            Authenticator::Session => None,
            Authenticator::Custom(scheme) => scheme.authenticate_header(tessera),
        }
    }

    /// The scheme's name in configuration: `"token"`, `"session"`, or the
    /// custom scheme's own.
    pub fn name(&self) -> &str {
        match self {
            Authenticator::Token => "token",
            Authenticator::Session => "session",
            Authenticator::Custom(scheme) => scheme.name(),
        }
    }
}

impl std::str::FromStr for Authenticator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "token" => Ok(Authenticator::Token),
            "session" => Ok(Authenticator::Session),
            other => Err(format!(
                "unknown authenticator {other:?} (expected \"token\" or \"session\")"
            )),
        }
    }
}
