//! The routes of API.md, and the contract's answers for unknown routes (404),
//! wrong methods (405 with `Allow`) and hardening headers on every response.

mod admin;
mod admin_ui;
pub(crate) mod cors;
mod front;
pub(crate) mod hosts;
mod login_page;
mod ops;
mod pagination;
mod unlock;

use crate::openapi::{op, Auth, Returns, RouteDoc, Routes, Shape};
use crate::AppState;
use axum::http::{header, HeaderMap, Method};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use axum::Router;
use std::sync::Arc;
use tessera_axum::views::Views;
use tessera_axum::ApiError;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;

/// The application of the public listener: every route, or, when
/// `server.admin_bind` is set, every route but `/admin/*` and `/metrics`
/// (which then answer `404` here and are served by [`admin_app`]).
pub fn app(state: AppState) -> Router {
    let tessera = &state.tessera;
    // API.md's `/api-token-auth/` and `/auth/*`: the library's views.
    let views = Views::new().registration(state.config.registration.enabled);
    let mut routes = Routes::new().views(tessera, &views);
    let private_here = state.config.server.admin_bind.is_none();
    if private_here {
        routes = routes
            .merge(admin::routes(tessera))
            .merge(unlock::routes(tessera))
            .merge(admin_ui::routes());
    }
    routes = routes.merge(ops::routes());
    if private_here {
        // The token was checked when the state was built.
        let token = crate::metrics_token(&state.config).unwrap_or(None);
        let open = crate::public_metrics_open(&state.config);
        routes = routes.merge(ops::metrics_routes(tessera, open, token));
    }
    routes = routes.merge(login_page::routes());
    if state.config.demo.enabled {
        let views = seed_views::router(tessera, &tessera.settings().default_authenticators);
        routes = routes.merge_router(views, demo_docs());
    }
    // Checked when the state was built.
    let cors = crate::cors(&state.config).unwrap_or(None);
    finish(state, routes, cors)
}

/// The application of the admin listener (`server.admin_bind`): `/admin/*`
/// with the same policies as on the public listener, and `/metrics` open to
/// whoever reaches the listener (bind it to a private address), with
/// `/healthz`, `/readyz` and its own `/openapi.json`. Same state, so same
/// stores, caches and metrics. No CORS here, whatever `[cors]` says: the
/// listener is for operators on a private address, and a page on an allowed
/// origin (or any, with `*`) that a staff member opens could otherwise read
/// its open `/metrics` through their browser.
pub fn admin_app(state: AppState) -> Router {
    let tessera = &state.tessera;
    let routes = Routes::new()
        .merge(admin::routes(tessera))
        .merge(unlock::routes(tessera))
        .merge(admin_ui::routes())
        .merge(ops::metrics_routes(tessera, true, None))
        .merge(ops::routes());
    finish(state, routes, None)
}

/// The contract's answers and headers around a listener's routes, with
/// `cors` (when CORS is on) right inside the host check.
fn finish(state: AppState, routes: Routes, cors: Option<CorsLayer>) -> Router {
    let tessera = &state.tessera;
    let (router, mut docs) = routes.into_parts();
    docs.push(RouteDoc {
        path: "/openapi.json",
        ops: vec![op(Method::GET, "This description", Auth::None, &[], &[200])
            .returns(Returns::Json(Shape::Description))],
    });
    docs.push(RouteDoc {
        path: "/",
        ops: vec![op(
            Method::GET,
            "The API root: the URL of every route without a parameter",
            Auth::None,
            &[],
            &[200],
        )
        .returns(Returns::Json(Shape::ApiRoot))],
    });
    let description = Arc::new(crate::openapi::document(&docs));
    let root = Arc::new(root_paths(&docs));
    let router = router
        .route(
            "/openapi.json",
            get(move || {
                let description = description.clone();
                async move { Json(description.as_ref().clone()) }
            }),
        )
        .route(
            "/",
            get(move |origin: hosts::RequestOrigin, headers: HeaderMap| {
                let root = root.clone();
                async move { api_root(&root, &origin, &headers) }
            }),
        );
    let hosts = hosts::HostCheck {
        allowed: crate::allowed_hosts(&state.config),
        own: state.config.server.bind.to_string(),
        vary: cors.as_ref().and_then(|_| cors::vary()),
    };
    let front = front::FrontLayer(Arc::new(front::Shared {
        tessera: tessera.clone(),
        hosts,
        body_limit: state.config.limits.body_bytes,
    }));
    // One `Router::layer` call, one service (front.rs): axum boxes every
    // route once per call, and each request clones every level of the chain
    // below it, so each separate layer costs a request a clone and a boxed
    // future. CORS, when on, sits inside the host check (a foreign host is
    // refused even for a preflight) and before authentication (a preflight
    // is answered there).
    router
        .fallback(not_found)
        .layer(ServiceBuilder::new().layer(front).option_layer(
            cors.map(|layer| middleware::from_fn_with_state(Arc::new(layer), cors::cors)),
        ))
        .with_state(state)
}

/// The seed's example views, documented here because they live in the
/// `seed-views` example crate.
fn demo_docs() -> Vec<RouteDoc> {
    let d = Auth::Default;
    let doc = |path, ops| RouteDoc { path, ops };
    vec![
        doc(
            "/api/example/",
            vec![
                op(
                    Method::GET,
                    "ExampleView: who is calling and how",
                    d,
                    &[],
                    &[200, 401],
                )
                .returns(Returns::Json(Shape::Caller)),
                op(
                    Method::POST,
                    "ExampleView: echo the body",
                    d,
                    &["*"],
                    &[200, 400, 401, 403],
                )
                .returns(Returns::Json(Shape::Echo)),
            ],
        ),
        doc(
            "/api/secure/",
            vec![op(
                Method::GET,
                "SecureAPIView (token only)",
                Auth::Token,
                &[],
                &[200, 401],
            )
            .returns(Returns::Json(Shape::Message))],
        ),
        doc(
            "/api/protected/",
            vec![op(
                Method::GET,
                "ProtectedView (token only)",
                Auth::Token,
                &[],
                &[200, 401],
            )
            .returns(Returns::Json(Shape::Message))],
        ),
        doc(
            "/api/session/",
            vec![op(
                Method::GET,
                "Session-only view",
                Auth::Session,
                &[],
                &[200, 403],
            )
            .returns(Returns::Json(Shape::Message))],
        ),
        doc(
            "/api/public/",
            vec![op(
                Method::GET,
                "Anyone; names the caller",
                Auth::Optional,
                &[],
                &[200, 401, 403],
            )
            .returns(Returns::Json(Shape::MaybeCaller))],
        ),
        doc(
            "/api/staff/",
            vec![op(Method::GET, "Staff only", d, &[], &[200, 401, 403])
                .returns(Returns::Json(Shape::Message))],
        ),
        doc(
            "/api/editors/",
            vec![op(
                Method::GET,
                "Members of the group \"editors\" only (HasGroup); names the caller's groups",
                d,
                &[],
                &[200, 401, 403],
            )
            .returns(Returns::Json(Shape::GroupMessage))],
        ),
    ]
}

/// The API root's entries, as DRF's `DefaultRouter` lists them: a name for
/// each route whose path has no parameter (`/auth/me` is `auth-me`), sorted.
fn root_paths(docs: &[RouteDoc]) -> Vec<(String, &'static str)> {
    let mut paths: Vec<(String, &'static str)> = docs
        .iter()
        .filter(|d| d.path != "/" && !d.path.contains('{'))
        .map(|d| (d.path.trim_matches('/').replace('/', "-"), d.path))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// `GET /`: DRF's API root, `{"<route name>": "<absolute URL>"}` built on the
/// request's checked host; a browser asking for HTML gets the same links as
/// a page that starts with the sign-in page.
fn api_root(
    paths: &[(String, &'static str)],
    origin: &hosts::RequestOrigin,
    headers: &HeaderMap,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        let mut page = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tessera</title></head>\n<body><h1>Tessera</h1>\n<p><a href=\"/login\">Sign in</a></p>\n<ul>\n",
        );
        for (name, path) in paths {
            page.push_str(&format!("<li><a href=\"{path}\">{name}</a></li>\n"));
        }
        page.push_str("</ul></body></html>\n");
        return axum::response::Html(page).into_response();
    }
    let map: serde_json::Map<String, serde_json::Value> = paths
        .iter()
        .map(|(name, path)| (name.clone(), format!("{}{path}", origin.0).into()))
        .collect();
    Json(map).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}
