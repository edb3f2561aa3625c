//! A route's policy: its authenticators and its permission, declared once, as a
//! DRF view declares `authentication_classes` and `permission_classes`.
//!
//! The layer runs DRF's order: authenticate (the first authenticator that
//! recognises the request decides), then the permission, then the handler. It
//! leaves the [`Identity`] and the policy's [`PolicyContext`] in the request's
//! extensions for the extractors.

use crate::audit::RequestMeta;
use crate::authentication::Authenticator;
use crate::error::ApiError;
use crate::state::Tessera;
use crate::throttling::{self, Throttle};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::{header, HeaderValue};
use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tessera_core::audit::EventKind;
use tessera_core::permission::{grants_object, AllowAny, Perm, Permission, RequestInfo};
use tessera_core::Identity;
use tower::{Layer, Service};

/// A route's authenticators and permission.
#[derive(Debug, Clone)]
pub struct Policy {
    authenticators: Option<Vec<Authenticator>>,
    permission: Perm,
    recent_auth: bool,
    throttles: Option<Vec<Throttle>>,
    extra_throttles: Vec<Throttle>,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// The server's default authenticators and `IsAuthenticated`: a route that
    /// declares nothing is closed (deny by default, unlike DRF's `AllowAny`).
    pub fn new() -> Self {
        Policy {
            authenticators: None,
            permission: Perm::new(tessera_core::permission::IsAuthenticated),
            recent_auth: false,
            throttles: None,
            extra_throttles: Vec::new(),
        }
    }

    /// A route anyone may call, still authenticated with the defaults (as
    /// DRF's `ObtainAuthToken`: a bad token header is still refused).
    pub fn allow_any() -> Self {
        Self::new().permission(AllowAny)
    }

    /// The authenticators, in order (DRF's `authentication_classes`).
    pub fn authenticators(
        mut self,
        authenticators: impl IntoIterator<Item = Authenticator>,
    ) -> Self {
        self.authenticators = Some(authenticators.into_iter().collect());
        self
    }

    /// The permission (DRF's `permission_classes`, composed with `&`, `|`, `!`).
    pub fn permission(mut self, permission: impl Permission) -> Self {
        self.permission = Perm::new(permission);
        self
    }

    /// The throttles (DRF's `throttle_classes`), replacing the defaults.
    pub fn throttles(mut self, throttles: impl IntoIterator<Item = Throttle>) -> Self {
        self.throttles = Some(throttles.into_iter().collect());
        self
    }

    /// Adds a throttle on top of the defaults (or of those named with
    /// [`throttles`](Policy::throttles)), e.g. a scoped rate.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.extra_throttles.push(throttle);
        self
    }

    /// Requires a recent password proof ("sudo mode"): the credential was
    /// issued with the password, or re-authenticated at `/auth/reauth`, within
    /// the configured window; otherwise `403 reauthentication_required`.
    pub fn require_recent_auth(mut self) -> Self {
        self.recent_auth = true;
        self
    }

    /// The layer that enforces this policy on a route.
    pub fn layer(&self, tessera: &Tessera) -> PolicyLayer {
        let authenticators = self
            .authenticators
            .clone()
            .unwrap_or_else(|| tessera.settings().default_authenticators.clone());
        PolicyLayer {
            context: Arc::new(ContextInner {
                tessera: tessera.clone(),
                authenticators,
                permission: self.permission.clone(),
                recent_auth: self.recent_auth,
                throttles: {
                    let mut all = self
                        .throttles
                        .clone()
                        .unwrap_or_else(|| tessera.settings().default_throttles.clone());
                    all.extend(self.extra_throttles.iter().cloned());
                    all
                },
            }),
        }
    }
}

/// What a handler may ask of the policy that admitted its request.
#[derive(Debug, Clone)]
pub struct PolicyContext(Arc<ContextInner>);

#[derive(Debug)]
struct ContextInner {
    tessera: Tessera,
    authenticators: Vec<Authenticator>,
    permission: Perm,
    recent_auth: bool,
    throttles: Vec<Throttle>,
}

/// The refusal of a request that needs a recent password proof.
pub fn reauthentication_required() -> ApiError {
    ApiError::new(
        http::StatusCode::FORBIDDEN,
        "reauthentication_required",
        "Recent authentication required: confirm your password at /auth/reauth.",
    )
}

/// Whether a credential's password proof is within the re-authentication window.
pub fn is_recent(tessera: &Tessera, identity: &Identity) -> bool {
    let Some(at) = identity.credential().and_then(|c| match c {
        tessera_core::Credential::Token {
            authenticated_at, ..
        }
        | tessera_core::Credential::Session {
            authenticated_at, ..
        } => *authenticated_at,
    }) else {
        return false;
    };
    let window =
        time::Duration::try_from(tessera.settings().reauth_window).unwrap_or(time::Duration::ZERO);
    tessera.clock().now() - at < window
}

impl PolicyContext {
    /// Turns an authentication error into the response DRF gives: 401 with
    /// the first authenticator's `WWW-Authenticate`, or 403 when it has none.
    pub fn finish_auth_error(&self, mut error: ApiError) -> ApiError {
        if !error.is_authentication_error() {
            return error;
        }
        let challenge = self
            .0
            .authenticators
            .first()
            .and_then(|a| a.authenticate_header(&self.0.tessera));
        match challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            Some(value) => {
                error.status = http::StatusCode::UNAUTHORIZED;
                error.headers.push((header::WWW_AUTHENTICATE, value));
            }
            None => error.status = http::StatusCode::FORBIDDEN,
        }
        error
    }

    /// The refusal for an identity the permission does not admit: DRF's
    /// `permission_denied` (not authenticated, or forbidden).
    pub fn refuse(&self, identity: &Identity, message: Option<&str>) -> ApiError {
        if !self.0.authenticators.is_empty() && !identity.is_authenticated() {
            self.finish_auth_error(ApiError::not_authenticated())
        } else {
            ApiError::permission_denied(message)
        }
    }

    /// DRF's `check_object_permissions`: whether the route's permission grants
    /// `object` to this request, else the refusal to return.
    pub fn check_object(
        &self,
        request: &RequestInfo,
        identity: &Identity,
        object: &dyn Any,
    ) -> Result<(), ApiError> {
        let permission = &self.0.permission;
        if grants_object(permission, request, identity, object) {
            Ok(())
        } else {
            Err(self.refuse(identity, permission.message()))
        }
    }

    /// The route's authenticators.
    pub fn authenticators(&self) -> &[Authenticator] {
        &self.0.authenticators
    }
}

/// The tower layer of a [`Policy`].
#[derive(Debug, Clone)]
pub struct PolicyLayer {
    context: Arc<ContextInner>,
}

impl<S> Layer<S> for PolicyLayer {
    type Service = PolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            context: self.context.clone(),
        }
    }
}

/// The service of [`PolicyLayer`].
#[derive(Debug, Clone)]
pub struct PolicyService<S> {
    inner: S,
    context: Arc<ContextInner>,
}

impl<S> Service<Request> for PolicyService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this call (tower's guidance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let context = PolicyContext(self.context.clone());
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let identity = match authenticate(&context, &parts).await {
                Ok(identity) => identity,
                Err(error) => return Ok(context.finish_auth_error(error).into_response()),
            };
            let info = RequestInfo::new(parts.method.clone());
            let permission = &context.0.permission;
            if !permission.has_permission(&info, &identity) {
                audit_denied(&context.0.tessera, &parts, identity.user()).await;
                return Ok(context
                    .refuse(&identity, permission.message())
                    .into_response());
            }
            if context.0.recent_auth
                && identity.is_authenticated()
                && !is_recent(&context.0.tessera, &identity)
            {
                return Ok(reauthentication_required().into_response());
            }
            // DRF's order: throttles after authentication and permissions.
            if !context.0.throttles.is_empty() {
                let meta = RequestMeta::of(&parts, context.0.tessera.settings().num_proxies);
                let checked =
                    throttling::check(&context.0.tessera, &context.0.throttles, &identity, &meta)
                        .await;
                if let Err(error) = checked {
                    return Ok(error.into_response());
                }
            }
            parts.extensions.insert(identity);
            parts.extensions.insert(context);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

/// Records a refused request (ASVS 16.3.2): an authenticated user's denial
/// in a row of its own, an anonymous caller's (the 401 of DRF's
/// `NotAuthenticated`, or a 403) counted per client address and route (the
/// writer aggregates events with no user).
async fn audit_denied(
    tessera: &Tessera,
    parts: &http::request::Parts,
    user: Option<&tessera_core::User>,
) {
    let meta = RequestMeta::of(parts, tessera.settings().num_proxies);
    let mut event = meta.event(tessera.clock().now(), EventKind::PermissionDenied);
    if let Some(user) = user {
        event.user = Some(user.id);
        event.username = user.username.clone();
    }
    event.detail = serde_json::json!({"method": parts.method.as_str(), "path": parts.uri.path()});
    tessera.auditor().record(event).await;
}

async fn authenticate(
    context: &PolicyContext,
    parts: &http::request::Parts,
) -> Result<Identity, ApiError> {
    for authenticator in &context.0.authenticators {
        if let Some(principal) = authenticator
            .authenticate(parts, &context.0.tessera)
            .await?
        {
            return Ok(Identity::Authenticated(principal));
        }
    }
    Ok(Identity::Anonymous)
}
