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
use tessera_core::Principal;

/// One authentication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticator {
    /// DRF's `TokenAuthentication`: `Authorization: Token <key>`.
    Token,
    /// DRF's `SessionAuthentication`: the session cookie, with Django's CSRF
    /// check on unsafe methods.
    Session,
}

impl Authenticator {
    /// Authenticates the request, or says it is not this scheme's.
    pub async fn authenticate(
        &self,
        parts: &Parts,
        tessera: &Tessera,
    ) -> Result<Option<Principal>, ApiError> {
        match self {
            Authenticator::Token => token::authenticate(parts, tessera).await,
            Authenticator::Session => session::authenticate(parts, tessera).await,
        }
    }

    /// The `WWW-Authenticate` challenge of this scheme, if it has one (DRF's
    /// `authenticate_header`). Sessions have none, so their 401s become 403s.
    pub fn authenticate_header(&self, tessera: &Tessera) -> Option<String> {
        match self {
            Authenticator::Token => Some(tessera.settings().token_keyword.clone()),
            Authenticator::Session => None,
        }
    }

    /// The scheme's name in configuration: `"token"`.
    pub fn name(&self) -> &'static str {
        match self {
            Authenticator::Token => "token",
            Authenticator::Session => "session",
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
