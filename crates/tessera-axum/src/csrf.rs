//! Django's CSRF check at the HTTP layer: reads what the check needs from the
//! request and turns a failure into DRF's `403 CSRF Failed: <reason>`.
//!
//! Two things go beyond Django:
//!
//! - **`Sec-Fetch-Site: cross-site`** on an unsafe request is refused before
//!   any other check ([`CROSS_SITE`]), unless its `Origin` is one of
//!   `CSRF_TRUSTED_ORIGINS` (a cross-site front end the operator named).
//!   Browsers send the header themselves and a page cannot forge it, so a
//!   form or `fetch` from another site fails even where a planted or leaked
//!   token would have matched. `same-origin`, `same-site`, `none` (typed in
//!   the address bar) and its absence (older browsers, non-browser clients)
//!   go on to Django's checks unchanged.
//! - **Where the secret lives** follows Django's `CSRF_USE_SESSIONS`
//!   ([`Settings::csrf_use_sessions`](crate::Settings::csrf_use_sessions)): in
//!   the session's server-side data under [`SESSION_KEY`] for
//!   session-authenticated requests, so the `csrftoken` cookie is never read
//!   for them and a planted one is useless. Tessera has no anonymous
//!   sessions, so before login (`GET /auth/csrf` then `POST /auth/login`) the
//!   secret is still the cookie's; login moves it into the new session and
//!   deletes the cookie, and the `Origin` and `Sec-Fetch-Site` checks guard the
//!   login itself.

use crate::audit::RequestMeta;
use crate::client::is_secure;
use crate::cookies::{self, CookieOptions};
use crate::error::ApiError;
use crate::state::Tessera;
use http::header::{HOST, ORIGIN, REFERER};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use tessera_core::audit::EventKind;
use tessera_core::csrf::{
    check, generate_secret, is_safe_method, mask, origin_verified, CookieState, CsrfRequest,
    CsrfSecret,
};
use tessera_core::session::SessionRecord;

/// `X-CSRFToken`.
pub const HEADER: &str = "x-csrftoken";

/// Django's `CSRF_COOKIE_AGE`: one year.
pub const COOKIE_AGE: i64 = 31_449_600;

/// The key of the CSRF secret in a session's data under `CSRF_USE_SESSIONS`
/// (Django's `CSRF_SESSION_KEY`).
pub const SESSION_KEY: &str = "_csrftoken";

/// The reason given to an unsafe request a browser marked `Sec-Fetch-Site:
/// cross-site` (not one of Django's reasons: Django does not read the header).
pub const CROSS_SITE: &str = "Cross-site request refused (Sec-Fetch-Site: cross-site).";

/// The CSRF secret kept in a session's data, if any.
pub fn session_secret(session: &SessionRecord) -> Option<CsrfSecret> {
    session
        .data
        .get(SESSION_KEY)
        .and_then(|v| v.as_str())
        .and_then(CsrfSecret::parse)
}

/// Session data holding a fresh CSRF secret (Django's `rotate_token` under
/// `CSRF_USE_SESSIONS`), the rest of `data` kept.
pub fn data_with_new_secret(data: &serde_json::Value) -> serde_json::Value {
    let mut map = data.as_object().cloned().unwrap_or_default();
    map.insert(
        SESSION_KEY.to_owned(),
        serde_json::Value::from(generate_secret().expose()),
    );
    serde_json::Value::Object(map)
}

/// Django's `get_token` under `CSRF_USE_SESSIONS`: a masked token of the
/// session's secret, which is created and saved when the session has none.
pub async fn session_token(tessera: &Tessera, session: &SessionRecord) -> Result<String, ApiError> {
    if let Some(secret) = session_secret(session) {
        return Ok(mask(&secret));
    }
    let data = data_with_new_secret(&session.data);
    tessera
        .stores()
        .sessions
        .set_session_data(session.id, data.clone())
        .await?;
    let secret = data
        .get(SESSION_KEY)
        .and_then(|v| v.as_str())
        .and_then(CsrfSecret::parse)
        .unwrap_or_else(generate_secret);
    Ok(mask(&secret))
}

/// The 403 of a CSRF failure, with Django's reason.
pub fn failure(reason: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        format!("CSRF Failed: {reason}"),
    )
}

/// Checks a request that carries no session (the session login) as
/// Django's `CsrfViewMiddleware.process_view` would, after the
/// `Sec-Fetch-Site` check: the secret is the `csrftoken` cookie's. Safe
/// methods pass before anything is read, as in Django. A failure is audited
/// (`csrf_failed`, aggregated per client address and route: it carries no
/// user) before the 403.
pub async fn enforce(parts: &Parts, tessera: &Tessera) -> Result<(), ApiError> {
    if is_safe_method(&parts.method) {
        return Ok(());
    }
    let cookie = cookies::read(&parts.headers, &tessera.settings().csrf_cookie);
    enforce_with(parts, tessera, cookie, None).await
}

/// [`enforce`] for a request authenticated by `session`: under
/// `CSRF_USE_SESSIONS` the secret is the session's, and the cookie is not
/// read.
pub async fn enforce_for_session(
    parts: &Parts,
    tessera: &Tessera,
    session: &SessionRecord,
) -> Result<(), ApiError> {
    if is_safe_method(&parts.method) {
        return Ok(());
    }
    if !tessera.settings().csrf_use_sessions {
        return enforce(parts, tessera).await;
    }
    let secret = session_secret(session);
    enforce_with(
        parts,
        tessera,
        secret.as_ref().map(CsrfSecret::expose),
        None,
    )
    .await
}

/// [`enforce_for_session`] for an HTML form post: the token may come in the
/// form's `csrfmiddlewaretoken` field (`form_token`), as Django reads
/// `request.POST` before the `X-CSRFToken` header.
pub async fn enforce_form_for_session(
    parts: &Parts,
    tessera: &Tessera,
    session: &SessionRecord,
    form_token: Option<&str>,
) -> Result<(), ApiError> {
    if is_safe_method(&parts.method) {
        return Ok(());
    }
    let from_session;
    let secret = if tessera.settings().csrf_use_sessions {
        from_session = session_secret(session);
        from_session.as_ref().map(CsrfSecret::expose)
    } else {
        cookies::read(&parts.headers, &tessera.settings().csrf_cookie)
    };
    enforce_with(parts, tessera, secret, form_token).await
}

/// Whether a browser marked the request as coming from another site.
fn is_cross_site(parts: &Parts) -> bool {
    parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

/// The `Sec-Fetch-Site` refusal, then Django's check against `secret`, for
/// an unsafe method (the callers let safe ones pass first).
async fn enforce_with(
    parts: &Parts,
    tessera: &Tessera,
    secret: Option<&str>,
    form_token: Option<&str>,
) -> Result<(), ApiError> {
    let settings = tessera.settings();
    let request = CsrfRequest {
        method: parts.method.clone(),
        is_secure: is_secure(parts, settings.num_proxies),
        host: parts.headers.get(HOST).map(|v| v.as_bytes()),
        origin: parts.headers.get(ORIGIN).map(|v| v.as_bytes()),
        referer: parts.headers.get(REFERER).map(|v| v.as_bytes()),
        // The cookie's value, or the session's secret under `CSRF_USE_SESSIONS`
        // (Django passes either to the same `_check_token`).
        cookie: secret,
        header_token: parts.headers.get(HEADER).map(|v| v.as_bytes()),
        form_token,
    };
    // Only an `Origin` among the trusted origins excuses it (the request's
    // own origin is not asked: without a host, Django's check compares the
    // `Origin` with the trusted ones alone).
    let trusted_origin = request.origin.is_some()
        && origin_verified(
            &CsrfRequest {
                host: None,
                ..request.clone()
            },
            &settings.csrf,
        );
    let cross_site = is_cross_site(parts) && !trusted_origin;
    let reason = if cross_site {
        CROSS_SITE.to_owned()
    } else {
        match check(&request, &settings.csrf) {
            Ok(()) => return Ok(()),
            Err(failure_) => failure_.reason(),
        }
    };
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
    CookieState::from_cookie(cookies::read(headers, &tessera.settings().csrf_cookie))
}

/// Deletes the CSRF cookie (at login under `CSRF_USE_SESSIONS`, when the
/// secret moves into the session), so that no script reads a dead secret.
pub fn clear_cookie(headers: &mut HeaderMap, tessera: &Tessera) {
    let settings = tessera.settings();
    let options = CookieOptions {
        secure: settings.secure_cookies,
        http_only: false,
        max_age: 0,
    };
    cookies::append(headers, cookies::clear(&settings.csrf_cookie, options));
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
