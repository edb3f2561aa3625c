//! DRF's ready views, mounted with one line: `obtain_auth_token`
//! (`POST /api-token-auth/`) and the `/auth/*` views of API.md — CSRF token,
//! session login and logout, the signed-in user, re-authentication,
//! password change, the user's tokens and sessions, and (when enabled)
//! registration.
//!
//! ```no_run
//! use axum::Router;
//! use tessera_axum::{views, Tessera};
//!
//! fn app(tessera: &Tessera) -> Router {
//!     Router::new()
//!         // .route("/api/notes/", ...) and the rest of the application
//!         .merge(views::router(tessera))
//! }
//! ```
//!
//! [`Views`] chooses other paths ([`Paths`]) and turns registration on.
//! Each view carries its own policy (authenticators, permission, token
//! scope, throttle), as API.md describes it; [`Views::docs`] describes the
//! same views for an OpenAPI document.

mod account;
mod events;
mod me;
mod session;
mod token_auth;
mod tokens;

pub use account::OLD_PASSWORD_INCORRECT;
pub use events::audit_user;
pub use session::session_list;
pub use token_auth::OBTAINED_TOKEN_NAME;
pub use tokens::{token_list, MAX_EXPIRES_IN};

use crate::{Policy, Tessera};
use axum::routing::MethodRouter;
use axum::Router;
use http::Method;
use tessera_core::scope;

/// Where each view is served. [`Paths::default`] is API.md's; `{id}` is
/// the path parameter of the views that take one.
///
/// ```
/// use tessera_axum::views::{Paths, Views};
///
/// let views = Views::new().paths(Paths {
///     obtain_token: "/api/token/",
///     ..Paths::default()
/// });
/// assert_eq!(views.docs()[0].path, "/api/token/");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// DRF's `obtain_auth_token` (`/api-token-auth/`).
    pub obtain_token: &'static str,
    /// A CSRF token (`/auth/csrf`).
    pub csrf: &'static str,
    /// Session login (`/auth/login`).
    pub login: &'static str,
    /// End the calling credential (`/auth/logout`).
    pub logout: &'static str,
    /// End every credential of the user (`/auth/logout-all`).
    pub logout_all: &'static str,
    /// The signed-in user (`/auth/me`).
    pub me: &'static str,
    /// Re-authentication (`/auth/reauth`).
    pub reauth: &'static str,
    /// Password change (`/auth/password`).
    pub password: &'static str,
    /// Registration, when enabled (`/auth/register`).
    pub register: &'static str,
    /// The user's tokens (`/auth/tokens`).
    pub tokens: &'static str,
    /// One of them (`/auth/tokens/{id}`).
    pub token: &'static str,
    /// Rotation of the calling token (`/auth/tokens/rotate`).
    pub rotate_token: &'static str,
    /// The user's sessions (`/auth/sessions`).
    pub sessions: &'static str,
    /// One of them (`/auth/sessions/{id}`).
    pub session: &'static str,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            obtain_token: "/api-token-auth/",
            csrf: "/auth/csrf",
            login: "/auth/login",
            logout: "/auth/logout",
            logout_all: "/auth/logout-all",
            me: "/auth/me",
            reauth: "/auth/reauth",
            password: "/auth/password",
            register: "/auth/register",
            tokens: "/auth/tokens",
            token: "/auth/tokens/{id}",
            rotate_token: "/auth/tokens/rotate",
            sessions: "/auth/sessions",
            session: "/auth/sessions/{id}",
        }
    }
}

/// How a view authenticates, for its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewAuth {
    /// No credentials.
    None,
    /// The settings' default authenticators (token or session).
    Default,
    /// Only a token.
    Token,
    /// Only a session.
    Session,
    /// The default authenticators, but anyone may call it (DRF's `AllowAny`
    /// behind the default `authentication_classes`): a credential given is
    /// checked, none is fine.
    Optional,
}

/// What a view's success answers with, for its documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewReturns {
    /// No body (a `204`).
    Nothing,
    /// A JSON value of this shape.
    Json(ViewShape),
    /// A JSON list of this shape.
    List(ViewShape),
}

/// The JSON shapes the views answer with (API.md's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewShape {
    /// `{"user": User}`.
    UserEnvelope,
    /// `{"user": User, "auth": "token" | "session"}`.
    Me,
    /// API.md's `Token` (never a key).
    Token,
    /// A `Token` with its key, shown once.
    NewToken,
    /// `{"token": "<key>"}`.
    Key,
    /// A session of the user.
    Session,
    /// `{"csrfToken": "<masked>"}`.
    CsrfToken,
}

/// One documented operation of a view.
#[derive(Debug, Clone)]
pub struct ViewOp {
    /// The method.
    pub method: Method,
    /// What it does, in a line.
    pub summary: &'static str,
    /// How it authenticates.
    pub auth: ViewAuth,
    /// Body fields, if it reads a body (`name?` for an optional one).
    pub body: &'static [&'static str],
    /// Status codes it answers with, success first.
    pub responses: &'static [u16],
    /// The scope a scoped token needs, if any.
    pub scope: Option<&'static str>,
    /// The body of its success.
    pub returns: ViewReturns,
    /// Whether the body may also be a form (`application/x-www-form-urlencoded`
    /// or `multipart/form-data`), as DRF's login views take.
    pub forms: bool,
}

impl ViewOp {
    fn scope(mut self, scope: &'static str) -> Self {
        self.scope = Some(scope);
        self
    }

    fn no_scope(mut self) -> Self {
        self.scope = None;
        self
    }

    fn returns(mut self, returns: ViewReturns) -> Self {
        self.returns = returns;
        self
    }

    fn forms(mut self) -> Self {
        self.forms = true;
        self
    }
}

/// An operation needing `read` for a safe method and `write` for an unsafe
/// one, the rule of application routes.
fn op(
    method: Method,
    summary: &'static str,
    auth: ViewAuth,
    body: &'static [&'static str],
    responses: &'static [u16],
) -> ViewOp {
    let scope = match method {
        Method::GET | Method::HEAD | Method::OPTIONS => scope::READ,
        _ => scope::WRITE,
    };
    ViewOp {
        method,
        summary,
        auth,
        body,
        responses,
        scope: Some(scope),
        returns: ViewReturns::Nothing,
        forms: false,
    }
}

/// A documented view: its path and operations.
#[derive(Debug, Clone)]
pub struct ViewDoc {
    /// The path template.
    pub path: &'static str,
    /// Its operations.
    pub ops: Vec<ViewOp>,
}

/// A view: its documentation, its policy and its handler.
struct Entry {
    doc: ViewDoc,
    policy: Policy,
    /// Whether the operations' scopes are put on the policy (views that
    /// authenticate); open views have no caller to scope.
    scoped: bool,
    handler: MethodRouter<Tessera>,
}

impl Entry {
    fn guarded(
        path: &'static str,
        ops: Vec<ViewOp>,
        policy: Policy,
        handler: MethodRouter<Tessera>,
    ) -> Self {
        Entry {
            doc: ViewDoc { path, ops },
            policy,
            scoped: true,
            handler,
        }
    }

    fn open(
        path: &'static str,
        ops: Vec<ViewOp>,
        policy: Policy,
        handler: MethodRouter<Tessera>,
    ) -> Self {
        Entry {
            doc: ViewDoc { path, ops },
            policy,
            scoped: false,
            handler,
        }
    }

    /// The policy with each operation's scope put on it for its method; a
    /// method the view does not list needs the scope all the listed ones
    /// share, if they share one (`HEAD` is `GET`'s).
    fn policy(&self) -> Policy {
        if !self.scoped {
            return self.policy.clone();
        }
        let ops = &self.doc.ops;
        let mut policy = self
            .policy
            .clone()
            .serves(ops.iter().map(|op| op.method.clone()));
        if let Some(Some(shared)) = ops.first().map(|op| op.scope) {
            if ops.iter().all(|op| op.scope == Some(shared)) {
                policy = policy.scope(shared);
            }
        }
        for op in ops {
            policy = match op.scope {
                Some(name) => policy.method_scope(op.method.clone(), name),
                None => policy.method_without_scope(op.method.clone()),
            };
        }
        policy
    }
}

/// The views to mount: where, and whether registration is open.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Views {
    paths: Paths,
    registration: bool,
}

impl Views {
    /// API.md's paths, registration off.
    pub fn new() -> Self {
        Views::default()
    }

    /// Serves the views at `paths`.
    pub fn paths(mut self, paths: Paths) -> Self {
        self.paths = paths;
        self
    }

    /// Serves `POST` [`Paths::register`] (self-service sign-up, throttled
    /// by the `register` rate); off by default.
    pub fn registration(mut self, enabled: bool) -> Self {
        self.registration = enabled;
        self
    }

    fn entries(&self) -> Vec<Entry> {
        let paths = &self.paths;
        let mut entries = token_auth::entries(paths.obtain_token);
        entries.extend(me::entries(paths.me));
        entries.extend(session::entries(paths));
        entries.extend(tokens::entries(paths));
        entries.extend(account::entries(paths, self.registration));
        entries
    }

    /// The views as a router to merge into an application's.
    pub fn router<S>(&self, tessera: &Tessera) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let mut router = Router::new();
        for entry in self.entries() {
            let layer = entry.policy().layer(tessera);
            router = router.route(entry.doc.path, entry.handler.layer(layer));
        }
        router.with_state(tessera.clone())
    }

    /// What the views serve, for an OpenAPI description.
    pub fn docs(&self) -> Vec<ViewDoc> {
        self.entries().into_iter().map(|entry| entry.doc).collect()
    }
}

/// API.md's views at API.md's paths, registration off:
/// `Views::new().router(tessera)`.
pub fn router<S>(tessera: &Tessera) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Views::new().router(tessera)
}

/// The refusal of a view that ends or refreshes the calling credential
/// (`/auth/logout`, `/auth/reauth`) when that credential is an
/// application's own ([`Credential::Custom`]): Tessera stores nothing of it,
/// so there is nothing to end or mark; the application's scheme manages it.
///
/// [`Credential::Custom`]: tessera_core::Credential::Custom
fn not_for_custom(scheme: &str) -> crate::ApiError {
    crate::ApiError::new(
        http::StatusCode::FORBIDDEN,
        "permission_denied",
        format!("Not available for a credential of the \"{scheme}\" scheme."),
    )
}
