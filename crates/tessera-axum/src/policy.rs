//! A route's policy: its authenticators and its permission, declared once, as a
//! DRF view declares `authentication_classes` and `permission_classes`.
//!
//! The layer runs DRF's order: authenticate (the first authenticator that
//! recognises the request decides), then the permission, then the route's
//! token scope, then the recent-authentication requirement, then the
//! throttles, then the handler. It leaves the [`Identity`] and the policy's
//! [`PolicyContext`] in the request's extensions for the extractors.
//!
//! A route declares the scope a scoped token needs on its policy, for every
//! method or per method, rather than checking it by hand in the handler:
//!
//! ```
//! use http::Method;
//! use tessera_axum::Policy;
//!
//! // Reading notes needs `notes:read`; changing them, `notes:write`.
//! let notes = Policy::new().scopes("notes:read", "notes:write");
//! // Exporting needs `notes:export` whatever the method, and recent authentication.
//! let export = Policy::new().scope("notes:export").require_recent_auth();
//! // Only DELETE needs its own scope; other methods need none.
//! let purge = Policy::new().method_scope(Method::DELETE, "notes:purge");
//! # let _ = (notes, export, purge);
//! ```
//!
//! A session, or a token without scopes, carries its owner's full rights and
//! passes every scope check ([`tessera_core::scope`]); a scoped token that
//! lacks the route's scope gets `403` `Token scope "<scope>" required.`, even
//! when its owner is a superuser.

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
use tessera_core::scope;
use tessera_core::Identity;
use tower::{Layer, Service};

/// A route's authenticators and permission.
#[derive(Debug, Clone)]
pub struct Policy {
    authenticators: Option<Vec<Authenticator>>,
    permission: Perm,
    recent_auth: RecentAuth,
    scopes: Scopes,
    served: Option<Vec<http::Method>>,
    throttles: Option<Vec<Throttle>>,
    extra_throttles: Vec<Throttle>,
}

/// Which methods of a route need a recent password proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecentAuth {
    Never,
    Always,
    UnsafeMethods,
}

impl RecentAuth {
    fn applies_to(self, request: &RequestInfo) -> bool {
        match self {
            RecentAuth::Never => false,
            RecentAuth::Always => true,
            RecentAuth::UnsafeMethods => !request.is_safe_method(),
        }
    }
}

/// The scope a scoped token needs, by method: an entry for the method wins,
/// then the safe/unsafe rule, then the rule for every method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Scopes {
    by_method: Vec<(http::Method, Option<String>)>,
    safe: Option<String>,
    unsafe_: Option<String>,
    all: Option<String>,
}

impl Scopes {
    fn required(&self, request: &RequestInfo) -> Option<&str> {
        // axum serves `HEAD` with the `GET` handler: it needs what `GET` needs.
        let entry = |method: &http::Method| self.by_method.iter().find(|(m, _)| m == method);
        let found = match entry(&request.method) {
            None if request.method == http::Method::HEAD => entry(&http::Method::GET),
            found => found,
        };
        if let Some((_, scope)) = found {
            return scope.as_deref();
        }
        let by_safety = if request.is_safe_method() {
            &self.safe
        } else {
            &self.unsafe_
        };
        by_safety.as_deref().or(self.all.as_deref())
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.by_method
            .iter()
            .filter_map(|(_, s)| s.as_deref())
            .chain(self.safe.as_deref())
            .chain(self.unsafe_.as_deref())
            .chain(self.all.as_deref())
    }
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
            recent_auth: RecentAuth::Never,
            scopes: Scopes::default(),
            served: None,
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
        self.recent_auth = RecentAuth::Always;
        self
    }

    /// Requires a recent password proof for unsafe methods only (`POST`,
    /// `PUT`, `PATCH`, `DELETE`): reading stays open, every write needs
    /// "sudo mode", as the administration routes do.
    pub fn require_recent_auth_for_writes(mut self) -> Self {
        self.recent_auth = RecentAuth::UnsafeMethods;
        self
    }

    /// The scope a scoped token needs for every method of the route
    /// (`HasScope` stays for custom logic inside a permission expression).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.all = Some(scope.into());
        self
    }

    /// The scope a scoped token needs for safe methods (`GET`, `HEAD`,
    /// `OPTIONS`) and the one it needs for the others.
    pub fn scopes(mut self, read: impl Into<String>, write: impl Into<String>) -> Self {
        self.scopes.safe = Some(read.into());
        self.scopes.unsafe_ = Some(write.into());
        self
    }

    /// The scope a scoped token needs for `method`, overriding the other
    /// rules for it.
    pub fn method_scope(self, method: http::Method, scope: impl Into<String>) -> Self {
        self.set_method_scope(method, Some(scope.into()))
    }

    /// Declares that `method` needs no scope, overriding the other rules for
    /// it (a scoped token may, say, log itself out whatever its scopes).
    pub fn method_without_scope(self, method: http::Method) -> Self {
        self.set_method_scope(method, None)
    }

    fn set_method_scope(mut self, method: http::Method, scope: Option<String>) -> Self {
        self.scopes.by_method.retain(|(m, _)| *m != method);
        self.scopes.by_method.push((method, scope));
        self
    }

    /// The methods the route serves, when the policy is on a whole
    /// `MethodRouter`: the scope and recent-authentication rules apply to
    /// these only, so that another method still gets the router's `405`
    /// (after authentication and the permission, DRF's order) rather than a
    /// `403` for a rule of a method that does not exist. `HEAD` goes with `GET`.
    pub fn serves(mut self, methods: impl IntoIterator<Item = http::Method>) -> Self {
        self.served = Some(methods.into_iter().collect());
        self
    }

    /// The scope a scoped token needs for a request with `method`, if any.
    pub fn required_scope(&self, method: &http::Method) -> Option<&str> {
        self.scopes.required(&RequestInfo::new(method.clone()))
    }

    /// The layer that enforces this policy on a route.
    pub fn layer(&self, tessera: &Tessera) -> PolicyLayer {
        let authenticators = self
            .authenticators
            .clone()
            .unwrap_or_else(|| tessera.settings().default_authenticators.clone());
        for name in self.scopes.names().filter(|name| !scope::is_valid(name)) {
            // No token can hold an invalid name, so the route refuses every
            // scoped token: a typo fails closed, and says so once.
            tracing::warn!(scope = %name, "a route declares a scope name no token can hold");
        }
        PolicyLayer {
            context: Arc::new(ContextInner {
                tessera: tessera.clone(),
                authenticators,
                permission: self.permission.clone(),
                recent_auth: self.recent_auth,
                scopes: self.scopes.clone(),
                served: self.served.clone(),
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
    recent_auth: RecentAuth,
    scopes: Scopes,
    served: Option<Vec<http::Method>>,
    throttles: Vec<Throttle>,
}

impl ContextInner {
    /// Whether the route serves this request's method (see [`Policy::serves`]).
    fn serves(&self, request: &RequestInfo) -> bool {
        self.served.as_ref().is_none_or(|methods| {
            methods.contains(&request.method)
                || (request.method == http::Method::HEAD && methods.contains(&http::Method::GET))
        })
    }
}

/// The refusal of a request that needs a recent password proof.
pub fn reauthentication_required() -> ApiError {
    ApiError::new(
        http::StatusCode::FORBIDDEN,
        "reauthentication_required",
        "Recent authentication required: confirm your password at /auth/reauth.",
    )
}

/// The refusal of a scoped token that lacks the route's `scope`.
pub fn scope_required(scope: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::FORBIDDEN,
        "permission_denied",
        scope::required_message(scope),
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
        tessera_core::Credential::Custom { .. } => None,
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
            let num_proxies = context.0.tessera.settings().num_proxies;
            if crate::client::client_ip(&parts, num_proxies).is_none() {
                crate::client::warn_unknown_address();
            }
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
            let served = context.0.serves(&info);
            if let Some(scope) = context.0.scopes.required(&info).filter(|_| served) {
                if identity.is_authenticated() && !scope::grants(&identity, scope) {
                    audit_denied(&context.0.tessera, &parts, identity.user()).await;
                    return Ok(scope_required(scope).into_response());
                }
            }
            if served
                && context.0.recent_auth.applies_to(&info)
                && identity.is_authenticated()
                && !is_recent(&context.0.tessera, &identity)
            {
                return Ok(reauthentication_required().into_response());
            }
            // DRF's order: throttles after authentication and permissions.
            // Only when a throttle has a rate: the request's metadata costs
            // a handful of allocations, and `check` skips a throttle without one.
            let rates = &context.0.tessera.settings().throttle_rates;
            if context
                .0
                .throttles
                .iter()
                .any(|throttle| rates.contains_key(throttle.scope()))
            {
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
    let mut event = meta.into_event(tessera.clock().now(), EventKind::PermissionDenied);
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
