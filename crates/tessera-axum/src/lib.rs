//! Tessera for axum: DRF's authentication, per route.
//!
//! A route declares its [`Policy`] — authenticators and a permission — as a DRF
//! view declares `authentication_classes` and `permission_classes`. The
//! policy's layer authenticates the request, checks the permission, and leaves
//! the caller's identity for the [`Caller`] and [`AuthUser`] extractors.
//! Refusals have DRF's status codes and bodies, with the 401-or-403 rule
//! decided by the route's first authenticator.
//!
//! An application depends on this crate and a store crate; [`prelude`]
//! holds what a route needs, [`views`] DRF's ready views (obtain a token,
//! session login, logout, the user's tokens and sessions), and [`serve`]
//! serves the application as the Tessera server is served. The whole of
//! `examples/quickstart`:
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use serde_json::{json, Value};
//! use tessera_axum::prelude::*;
//! use tessera_store_sql::SqlStore;
//!
//! async fn hello(AuthUser(me): AuthUser) -> Json<Value> {
//!     Json(json!({ "hello": me.user.username }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     let store = SqlStore::connect("sqlite://quickstart.db").await?;
//!     store.migrate().await?;
//!     // Plain HTTP on this machine: cookies without `Secure`.
//!     let settings = Settings { secure_cookies: false, ..Settings::default() };
//!     let tessera = Tessera::builder().store(store).settings(settings).build()?;
//!     let signed_in = Policy::new().permission(IsAuthenticated);
//!     let app = Router::new()
//!         .route("/hello", get(hello).layer(signed_in.layer(&tessera)))
//!         .merge(Views::new().registration(true).router(&tessera));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     tessera_axum::serve(listener, app, tessera).await?;
//!     Ok(())
//! }
//! ```
//!
//! Permissions combine with `&`, `|` and `!`, and a policy may name its
//! authenticators:
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use tessera_axum::prelude::*;
//!
//! async fn example(AuthUser(me): AuthUser) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "user": me.user.username }))
//! }
//!
//! fn routes(tessera: &Tessera) -> Router {
//!     let policy = Policy::new()
//!         .authenticators([Authenticator::Token])
//!         .permission(IsAuthenticated & !IsStaff);
//!     Router::new().route("/api/example/", get(example).layer(policy.layer(tessera)))
//! }
//! ```
//!
//! # The modules, by who needs them
//!
//! - **Every application:** [`prelude`] (one import for a route), [`views`]
//!   (DRF's ready views, mounted with one `merge`), [`serve`], and the
//!   crate-root types ([`Tessera`] and its builder, [`Policy`], [`Caller`],
//!   [`AuthUser`], [`ApiError`]).
//! - **Extending it:** [`authentication`] (the [`Authenticate`] trait for an
//!   authenticator of your own, see `examples/custom-auth`), [`throttling`]
//!   (named and scoped rates), [`openapi`] (your routes described beside the
//!   views, see `examples/notes`).
//! - **Building blocks the ready views are made of**, for a view of your own
//!   that does what one of them does (a login page, a token endpoint with
//!   another body): [`accounts`], [`login`], [`sessions`], [`cookies`],
//!   [`csrf`], [`audit`], [`touch`], [`fields`], [`body`], [`client`].
//! - **The machinery [`serve`] and the Tessera server wire up**, public so
//!   that a server of your own can wire it the same way: [`observability`]
//!   (request ids, the access log), [`metrics`], [`alerts`],
//!   [`address_counts`].
//!
//! Everything else (the policy layer's internals, the state, the settings'
//! module, the error types' module) is private and re-exported where a user
//! needs a name from it.
pub mod accounts;
pub mod address_counts;
pub mod alerts;
pub mod audit;
pub mod authentication;
pub mod body;
pub mod client;
pub mod cookies;
pub mod csrf;
mod error;
mod extract;
pub mod fields;
pub mod login;
pub mod metrics;
pub mod observability;
pub mod openapi;
mod policy;
mod serve;
pub mod sessions;
mod settings;
mod state;
pub mod throttling;
pub mod touch;
pub mod views;

/// Tessera's domain (users, tokens, sessions, permissions, the store
/// traits), re-exported so that an application depends on this crate and a
/// store crate only.
pub use tessera_core as core;

/// The attribute for an [`Authenticate`] implementation (async methods in a
/// trait used as `dyn`), re-exported so that it needs no dependency of its own.
pub use async_trait::async_trait;
pub use authentication::{Authenticate, Authenticator};
pub use error::{
    ApiError, Rejection, ValidationErrors, NON_FIELD_ERRORS, NOT_AUTHENTICATED, PERMISSION_DENIED,
};
pub use extract::{AuthUser, Caller};
pub use policy::{
    is_recent, reauthentication_required, scope_required, Policy, PolicyContext, PolicyLayer,
    PolicyService,
};
pub use serve::{serve, serve_until, shutdown_signal};
pub use state::{BuildError, Counters, Settings, Tessera, TesseraBuilder, PURGE_INTERVAL};

/// What a route needs, in one import: `use tessera_axum::prelude::*;`.
///
/// The state and its builder, policies with their authenticators,
/// permission classes and throttles, the identity extractors, DRF's errors
/// and the ready views.
pub mod prelude {
    pub use crate::authentication::{Authenticate, Authenticator};
    pub use crate::error::{ApiError, Rejection, ValidationErrors};
    pub use crate::extract::{AuthUser, Caller};
    pub use crate::policy::{Policy, PolicyContext};
    pub use crate::serve::serve;
    pub use crate::state::{BuildError, Counters, Settings, Tessera, TesseraBuilder};
    pub use crate::throttling::Throttle;
    pub use crate::views::{self, Paths, Views};
    pub use tessera_core::identity::{Credential, Identity, Principal};
    pub use tessera_core::password::{Argon2Params, PasswordHasher};
    pub use tessera_core::permission::{
        AllowAny, HasGroup, HasScope, IsAuthenticated, IsAuthenticatedOrReadOnly, IsStaff,
        Permission, RequestInfo,
    };
    pub use tessera_core::permission_ops;
    pub use tessera_core::User;
}
