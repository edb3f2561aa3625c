//! `GET /login`: a small sign-in page for session authentication, with its
//! script and style sheet. No front-end build: the assets are compiled in.
//! The page reads no identity, so the routes carry no authentication layer;
//! its script talks to `/auth/csrf`, `/auth/login`, `/auth/me`,
//! `/auth/logout` and `/api/example/`.

use crate::openapi::{op, Auth, Returns, Routes};
use axum::http::Method;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;

const HTML: &str = include_str!("../../assets/login.html");
const SCRIPT: &str = include_str!("../../assets/login.js");
const STYLE: &str = include_str!("../../assets/login.css");

/// The page's policy: its own script, style and fetches only; no inline
/// script, no framing, forms posted only to this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    connect-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

pub(super) fn routes() -> Routes {
    Routes::new()
        .route(
            "/login",
            vec![op(
                Method::GET,
                "The sign-in page (HTML)",
                Auth::None,
                &[],
                &[200],
            )
            .returns(Returns::Text("text/html"))],
            get(page),
        )
        .route(
            "/login.js",
            vec![op(
                Method::GET,
                "The sign-in page's script",
                Auth::None,
                &[],
                &[200],
            )
            .returns(Returns::Text("text/javascript"))],
            get(script),
        )
        .route(
            "/login.css",
            vec![op(
                Method::GET,
                "The sign-in page's style sheet",
                Auth::None,
                &[],
                &[200],
            )
            .returns(Returns::Text("text/css"))],
            get(style),
        )
}

async fn page() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        HTML,
    )
}

async fn script() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        STYLE,
    )
}
