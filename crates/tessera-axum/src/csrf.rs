//! Django's CSRF check at the HTTP layer: reads what the check needs from the
//! request and turns a failure into DRF's `403 CSRF Failed: <reason>`.

use crate::audit::RequestMeta;
use crate::client::is_secure;
use crate::cookies::{self, CookieOptions};
use crate::error::ApiError;
use crate::state::Tessera;
use http::header::{HOST, ORIGIN, REFERER};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use tessera_core::audit::EventKind;
use tessera_core::csrf::{check, CookieState, CsrfRequest};

/// `X-CSRFToken`.
pub const HEADER: &str = "x-csrftoken";

/// Django's `CSRF_COOKIE_AGE`: one year.
pub const COOKIE_AGE: i64 = 31_449_600;

/// The 403 of a CSRF failure, with Django's reason.
pub fn failure(reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        format!("CSRF Failed: {reason}"),
    )
}

/// Checks the request as Django's `CsrfViewMiddleware.process_view` would.
/// Safe methods pass. A failure is audited (`csrf_failed`, aggregated per
/// client address and route: it carries no user) before the 403.
pub async fn enforce(parts: &Parts, tessera: &Tessera) -> Result<(), ApiError> {
    let settings = tessera.settings();
    let cookie = cookies::read(&parts.headers, &settings.csrf_cookie);
    let request = CsrfRequest {
        method: parts.method.clone(),
        is_secure: is_secure(parts, settings.num_proxies),
        host: parts.headers.get(HOST).map(|v| v.as_bytes()),
        origin: parts.headers.get(ORIGIN).map(|v| v.as_bytes()),
        referer: parts.headers.get(REFERER).map(|v| v.as_bytes()),
        cookie: cookie.as_deref(),
        header_token: parts.headers.get(HEADER).map(|v| v.as_bytes()),
        form_token: None,
    };
    let Err(failure_) = check(&request, &settings.csrf) else {
        return Ok(());
    };
    let reason = failure_.reason();
    tracing::info!(%reason, "CSRF check failed");
    let meta = RequestMeta::of(parts, settings.num_proxies);
    let mut event = meta.event(tessera.clock().now(), EventKind::CsrfFailed);
    event.detail = serde_json::json!({"reason": reason, "path": parts.uri.path()});
    tessera.auditor().record(event).await;
    tessera.metrics().record_csrf_failure();
    Err(failure(&reason))
}

/// The request's CSRF cookie state (Django's `process_request`).
pub fn cookie_state(headers: &HeaderMap, tessera: &Tessera) -> CookieState {
    let cookie = cookies::read(headers, &tessera.settings().csrf_cookie);
    CookieState::from_cookie(cookie.as_deref())
}

/// Sets the CSRF cookie on a response when the state says it must be set.
pub fn set_cookie(headers: &mut HeaderMap, state: &CookieState, tessera: &Tessera) {
    if let Some(secret) = state.cookie_to_set() {
        let settings = tessera.settings();
        let options = CookieOptions {
            secure: settings.secure_cookies,
            http_only: false,
            max_age: COOKIE_AGE,
        };
        cookies::append(
            headers,
            cookies::set(&settings.csrf_cookie, secret.expose(), options),
        );
        headers.append(http::header::VARY, http::HeaderValue::from_static("Cookie"));
    }
}
