//! Extractors: [`Caller`] (the [`Identity`], possibly anonymous) for any
//! request a policy admitted, [`AuthUser`] for one that must be authenticated,
//! and [`PolicyContext`] for object-level checks.

use crate::error::ApiError;
use crate::policy::PolicyContext;
use axum::extract::FromRequestParts;
use http::request::Parts;
use tessera_core::identity::Principal;
use tessera_core::Identity;

/// The request's [`Identity`], anonymous or not (DRF's `request.user` and
/// `request.auth`). Needs the route's [`Policy`](crate::Policy) layer.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

const MISSING_LAYER: &str =
    "tessera: no Identity in the request; add `Policy::layer(&tessera)` to this route";

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        identity_of(parts).map(Caller)
    }
}

fn identity_of(parts: &Parts) -> Result<Identity, ApiError> {
    parts.extensions.get::<Identity>().cloned().ok_or_else(|| {
        tracing::error!("{MISSING_LAYER}");
        ApiError::internal()
    })
}

/// The authenticated principal; a request without one is refused as the
/// route's policy refuses the unauthenticated (401 or 403).
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match identity_of(parts)? {
            Identity::Authenticated(principal) => Ok(AuthUser(principal)),
            Identity::Anonymous => {
                let context = context_of(parts)?;
                Err(context.refuse(&Identity::Anonymous, None))
            }
        }
    }
}

fn context_of(parts: &Parts) -> Result<PolicyContext, ApiError> {
    parts
        .extensions
        .get::<PolicyContext>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("{MISSING_LAYER}");
            ApiError::internal()
        })
}

/// `PolicyContext` is itself an extractor, for object-level checks:
/// `ctx.check_object(&RequestInfo::new(method), &identity, &note)?`.
impl<S: Send + Sync> FromRequestParts<S> for PolicyContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context_of(parts)
    }
}

/// The request's audit details, with the client address as the trusted
/// proxies (`Settings::num_proxies`) of the app's [`Tessera`](crate::Tessera) say.
impl<S> axum::extract::FromRequestParts<S> for crate::audit::RequestMeta
where
    crate::state::Tessera: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRef;
        let tessera = crate::state::Tessera::from_ref(state);
        Ok(crate::audit::RequestMeta::of(
            parts,
            tessera.settings().num_proxies,
        ))
    }
}
