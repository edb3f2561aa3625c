//! The admin pages, `/admin/ui/`: server-rendered HTML over the same stores
//! and the same rules as the JSON administration (`/admin/*`).
//!
//! - **Who**: a session of an active staff user. An anonymous visit is sent
//!   to the sign-in page with `?next=` (`302`, Django's `redirect_to_login`);
//!   a signed-in user who is not staff gets `403`. Tokens are not read: these
//!   are browser pages.
//! - **What**: staff may act on accounts that are neither staff nor superuser,
//!   a superuser on any ([`may_act_on`](super::admin::may_act_on)); only a
//!   superuser grants or removes staff and superuser status. A forged form for
//!   an action the actor may not take is `403`.
//! - **Writes** are HTML forms with Django's `csrfmiddlewaretoken`; a post
//!   without a good token gets Django's CSRF failure page (`403`). Every write
//!   needs a recent password proof, as `/admin/*` writes do: without one the
//!   page asks for the password, re-authenticates the session (as
//!   `/auth/reauth`) and completes the action. Deactivating an account and
//!   revoking all of its credentials are confirmed on a page of their own.
//! - **Pages** load one style sheet and no script; the policy is
//!   [`CONTENT_SECURITY_POLICY`]. Each page makes a fixed number of store
//!   queries whatever its size.

mod actions;
mod pages;
mod views;

use crate::openapi::Routes;
use crate::AppState;
use askama::Template;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::net::{IpAddr, Ipv4Addr};
use tessera_axum::{cookies, csrf, ApiError, Tessera};
use tessera_core::session::{SessionKey, SessionRecord};
use tessera_core::User;

/// The pages' policy: their own style sheet, images inline (`data:`) at
/// most, no script at all, forms posted only here, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self'; \
    img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The style sheet, served at [`STYLE_PATH`].
const STYLE: &str = include_str!("../../../assets/admin.css");
/// Where the style sheet is served; cached for a day.
pub const STYLE_PATH: &str = "/admin/ui/static/admin.css";

/// The most bytes of a posted form.
const FORM_LIMIT: usize = 16 * 1024;

/// The admin pages' routes. They are HTML, not API: not in `/openapi.json`.
pub(super) fn routes() -> Routes {
    let router = Router::new()
        .route(
            "/admin/ui",
            get(|| async { redirect(StatusCode::MOVED_PERMANENTLY, "/admin/ui/") }),
        )
        .route("/admin/ui/", get(pages::overview))
        .route("/admin/ui/users", get(pages::users))
        .route("/admin/ui/users/{id}", get(pages::user))
        .route("/admin/ui/users/{id}/action", post(actions::act))
        .route("/admin/ui/audit", get(pages::audit))
        .route("/admin/ui/audit/export", get(pages::export))
        .route("/admin/ui/logout", post(actions::logout))
        .route(STYLE_PATH, get(style));
    Routes::new().merge_router(router, Vec::new())
}

async fn style() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        STYLE,
    )
        .into_response()
}

/// The signed-in staff member of a request, with the session.
pub(crate) struct Admin {
    pub user: User,
    pub session: SessionRecord,
}

/// The session of the request's cookie and its user, when the session is
/// live and the user active (one store query). Not a CSRF check.
async fn session_of(
    tessera: &Tessera,
    parts: &Parts,
) -> Result<Option<(SessionRecord, User)>, ApiError> {
    let settings = tessera.settings();
    let Some(key) =
        cookies::read(&parts.headers, &settings.session_cookie).and_then(SessionKey::parse)
    else {
        return Ok(None);
    };
    let now = tessera.clock().now();
    let idle = tessera_axum::authentication::session::idle_timeout(tessera);
    let found = tessera
        .stores()
        .sessions
        .find_session(&key.digest(), now, idle)
        .await?;
    Ok(found
        .filter(|(_, user)| user.is_active)
        .inspect(|(session, _)| {
            tessera.toucher().used(
                tessera_axum::touch::Used::Session(session.id),
                Some(session.last_seen),
                now,
            );
        }))
}

/// The staff member signed in, or the response to give instead: the sign-in
/// page for the anonymous, `403` for others.
pub(crate) async fn staff(state: &AppState, parts: &Parts) -> Result<Admin, Response> {
    let tessera = &state.tessera;
    match session_of(tessera, parts).await {
        Err(error) => Err(error_page(&error)),
        Ok(None) => Err(login_redirect(parts)),
        Ok(Some((_, user))) if !user.is_staff => {
            let meta = tessera_axum::audit::RequestMeta::of(parts, tessera.settings().num_proxies);
            let event = meta.user_event(
                tessera.clock().now(),
                tessera_core::audit::EventKind::PermissionDenied,
                &user,
                serde_json::json!({"method": parts.method.as_str(), "path": parts.uri.path()}),
            );
            tessera.auditor().record(event).await;
            Err(forbidden())
        }
        Ok(Some((session, user))) => Ok(Admin { user, session }),
    }
}

/// `302` to the sign-in page, with the page asked for as `next`.
fn login_redirect(parts: &Parts) -> Response {
    let asked = parts
        .uri
        .path_and_query()
        .map_or("/admin/ui/", |p| p.as_str());
    let next = if parts.method == axum::http::Method::GET && safe_next(asked).is_some() {
        asked
    } else {
        "/admin/ui/"
    };
    redirect(
        StatusCode::FOUND,
        &format!("/login?next={}", encode_next(next)),
    )
}

/// `next` when it is a path on this server: it starts with one `/` (not
/// `//` or `/\`, which browsers take for another host) and holds no
/// control character or backslash. The sign-in page's script applies the
/// same rule before it follows `next`.
pub fn safe_next(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let ok = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

/// Percent-encodes `next` for a query string, keeping `/` as Django's
/// `redirect_to_login` does.
fn encode_next(next: &str) -> String {
    let mut out = String::with_capacity(next.len());
    for byte in next.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A redirect to `location` (a path of this server).
fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A page: HTML with the pages' headers.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
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
        body,
    )
        .into_response()
}

/// Renders `template` as a page with `status`.
fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => html(status, body),
        Err(error) => {
            tracing::error!(%error, "an admin page failed to render");
            plain_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server Error (500)",
                "A server error occurred.",
            )
        }
    }
}

/// A page of a title and one message, outside the layout.
fn plain_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = views::Message {
        title: title.to_owned(),
        message: message.to_owned(),
        style: STYLE_PATH,
    };
    match page.render() {
        Ok(body) => html(status, body),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

/// `403` for a signed-in user the page or the action is not for; the text
/// of DRF's `PermissionDenied`.
fn forbidden() -> Response {
    plain_page(
        StatusCode::FORBIDDEN,
        "403 Forbidden",
        "You do not have permission to perform this action.",
    )
}

/// `404` for an unknown user, token or session.
fn not_found() -> Response {
    plain_page(StatusCode::NOT_FOUND, "Not Found", "Not found.")
}

/// An [`ApiError`] as a page: its status and its `detail`.
fn error_page(error: &ApiError) -> Response {
    let title = format!(
        "{} {}",
        error.status.as_u16(),
        error.status.canonical_reason().unwrap_or("Error")
    );
    let mut response = plain_page(error.status, &title, &error.detail);
    for (name, value) in &error.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Django's CSRF failure page (`django.views.csrf.csrf_failure` with
/// `DEBUG = False`): `403`, and the reason only in the logs and the audit.
fn csrf_failure_page() -> Response {
    let page = views::CsrfFailure { style: STYLE_PATH };
    render(StatusCode::FORBIDDEN, &page)
}

/// A masked CSRF token for the forms of a page, and the `Set-Cookie` the
/// response needs (Django's `get_token`): from the session's secret under
/// `CSRF_USE_SESSIONS`, else from the `csrftoken` cookie.
async fn csrf_token(
    tessera: &Tessera,
    parts: &Parts,
    session: &SessionRecord,
) -> Result<(String, HeaderMap), ApiError> {
    let mut headers = HeaderMap::new();
    if tessera.settings().csrf_use_sessions {
        return Ok((csrf::session_token(tessera, session).await?, headers));
    }
    let mut state = csrf::cookie_state(&parts.headers, tessera);
    let token = state.get_token();
    csrf::set_cookie(&mut headers, &state, tessera);
    Ok((token, headers))
}

/// Whether the session proved the password within the re-authentication
/// window (what `/admin/*` writes need).
fn is_recent(tessera: &Tessera, session: &SessionRecord) -> bool {
    let window =
        time::Duration::try_from(tessera.settings().reauth_window).unwrap_or(time::Duration::ZERO);
    session
        .authenticated_at
        .is_some_and(|at| tessera.clock().now() - at < window)
}

/// Whether `username` is locked by login protection now. Read-only: the
/// guard's own check, from an address that never fails.
async fn is_locked(tessera: &Tessera, username: &str) -> Result<bool, ApiError> {
    let admission = tessera
        .login_guard()
        .check(
            username,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tessera.clock().now(),
        )
        .await?;
    Ok(!admission.is_allowed())
}

/// The usernames locked now, with their users' ids where known: the
/// `lockout` events of the longest possible lock (one audit query, at most
/// [`LOCK_CANDIDATES`] usernames), each confirmed with the guard.
async fn locked_usernames(tessera: &Tessera) -> Result<Vec<(String, Option<i64>)>, ApiError> {
    let longest = time::Duration::try_from(tessera.settings().login_policy.max_backoff)
        .unwrap_or(time::Duration::DAY);
    let query = tessera_core::audit::AuditQuery {
        event: Some(tessera_core::audit::EventKind::Lockout),
        since: Some(tessera.clock().now() - longest),
        limit: LOCK_CANDIDATES,
        ..Default::default()
    };
    let events = tessera.stores().audit.query(&query).await?.events;
    let mut seen: Vec<(String, Option<i64>)> = Vec::new();
    for event in events {
        if event.username.is_empty() || seen.iter().any(|(name, _)| *name == event.username) {
            continue;
        }
        seen.push((event.username, event.user));
    }
    let mut locked = Vec::new();
    for (username, user) in seen {
        if is_locked(tessera, &username).await? {
            locked.push((username, user));
        }
    }
    Ok(locked)
}

/// The most `lockout` events [`locked_usernames`] reads.
const LOCK_CANDIDATES: u64 = 500;

/// The groups of a user, for the user page: Django's groups, carried over
/// by `tessera import-django`, loaded with the user and sorted.
fn groups_of(user: &User) -> Vec<String> {
    let mut groups = user.groups.clone();
    groups.sort_unstable();
    groups
}

/// Reads a posted `application/x-www-form-urlencoded` body.
async fn read_form(body: Body) -> Result<Vec<(String, String)>, Response> {
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
        plain_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413 Payload Too Large",
            "Request body too large.",
        )
    })?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// The first value of `name` in a form.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_safe_next() {
        for good in ["/", "/admin/ui/", "/admin/ui/users?q=a%20b&page=2", "/a//b"] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "admin/ui/",
            "//evil.example",
            "//evil.example/admin/ui/",
            "/\\evil.example",
            "/admin\\..\\x",
            "https://evil.example",
            "javascript:alert(1)",
            " /admin/ui/",
            "/admin/ui/\r\nSet-Cookie: x=y",
            "/\t/evil.example",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn next_is_encoded_as_django_does() {
        assert_eq!(
            encode_next("/admin/ui/users?q=a b&page=2"),
            "/admin/ui/users%3Fq%3Da%20b%26page%3D2"
        );
        assert_eq!(encode_next("/admin/ui/"), "/admin/ui/");
    }
}
