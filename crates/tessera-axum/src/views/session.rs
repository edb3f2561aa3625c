//! Session login and the account's credentials: `/auth/csrf`, `/auth/login`,
//! `/auth/logout`, `/auth/logout-all`, `/auth/sessions`.

use super::{op, Entry, Paths, ViewAuth, ViewReturns, ViewShape};
use crate::audit::RequestMeta;
use crate::body::FormObject;
use crate::fields::{CharField, Fields};
use crate::login::{check_password, Via, LOGIN_FAILED};
use crate::{csrf, sessions, ApiError, AuthUser, Policy, Rejection, Tessera, ValidationErrors};
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Json;
use serde_json::{json, Value};
use tessera_core::audit::EventKind;
use tessera_core::secret::Secret;
use tessera_core::session::SessionView;
use tessera_core::{scope, Credential};

pub(super) fn entries(paths: &Paths) -> Vec<Entry> {
    let open = Policy::allow_any().authenticators([]);
    let signed_in = Policy::new();
    vec![
        Entry::open(
            paths.csrf,
            vec![op(
                Method::GET,
                "A masked CSRF token; sets the csrftoken cookie",
                ViewAuth::None,
                &[],
                &[200],
            )
            .returns(ViewReturns::Json(ViewShape::CsrfToken))],
            open.clone(),
            get(csrf_token),
        ),
        Entry::open(
            paths.login,
            vec![op(
                Method::POST,
                "Session login (CSRF-checked); sets sessionid and rotates csrftoken",
                ViewAuth::None,
                &["username", "password"],
                &[200, 400, 403, 429],
            )
            .forms()
            .returns(ViewReturns::Json(ViewShape::UserEnvelope))],
            open.throttle(super::token_auth::login_scope()),
            post(login),
        ),
        Entry::guarded(
            paths.logout,
            vec![op(
                Method::POST,
                "End the calling session or revoke the calling token",
                ViewAuth::Default,
                &[],
                &[204, 401, 403],
            )
            .no_scope()],
            signed_in.clone(),
            post(logout),
        ),
        Entry::guarded(
            paths.logout_all,
            vec![op(
                Method::POST,
                "End every session and token of the user",
                ViewAuth::Default,
                &[],
                &[204, 401, 403],
            )
            .scope(scope::ACCOUNT)],
            signed_in.clone(),
            post(logout_all),
        ),
        Entry::guarded(
            paths.sessions,
            vec![op(
                Method::GET,
                "The user's live sessions",
                ViewAuth::Default,
                &[],
                &[200, 401, 403],
            )
            .returns(ViewReturns::List(ViewShape::Session))],
            signed_in.clone(),
            get(list_sessions),
        ),
        Entry::guarded(
            paths.session,
            vec![op(
                Method::DELETE,
                "End one of the user's sessions",
                ViewAuth::Default,
                &[],
                &[204, 401, 403, 404],
            )
            .scope(scope::ACCOUNT)],
            signed_in,
            delete(delete_session),
        ),
    ]
}

/// Django's `get_token`: a masked token, and the cookie set or renewed.
/// Under `csrf.use_sessions` a signed-in client's token is masked from its
/// session's secret and no cookie is set.
async fn csrf_token(
    State(tessera): State<Tessera>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tessera = &tessera;
    if tessera.settings().csrf_use_sessions {
        if let Some(session) = live_session(tessera, &headers).await? {
            let token = csrf::session_token(tessera, &session).await?;
            return Ok(Json(json!({"csrfToken": token})).into_response());
        }
    }
    let mut cookie = csrf::cookie_state(&headers, tessera);
    let token = cookie.get_token();
    let mut response = Json(json!({"csrfToken": token})).into_response();
    csrf::set_cookie(response.headers_mut(), &cookie, tessera);
    Ok(response)
}

/// The live session of an active user the request's cookie names, if any.
async fn live_session(
    tessera: &Tessera,
    headers: &HeaderMap,
) -> Result<Option<tessera_core::session::SessionRecord>, ApiError> {
    let Some(key) = crate::cookies::read(headers, &tessera.settings().session_cookie)
        .and_then(tessera_core::session::SessionKey::parse)
    else {
        return Ok(None);
    };
    let now = tessera.clock().now();
    let idle = crate::authentication::session::idle_timeout(tessera);
    let found = tessera
        .stores()
        .sessions
        .find_session(&key.digest(), now, idle)
        .await?;
    Ok(found
        .filter(|(_, user)| user.is_active)
        .map(|(session, _)| session))
}

/// `POST /auth/login`: CSRF-checked even for the anonymous (DRF leaves login
/// views open to login CSRF), then the password, then a fresh session.
async fn login(
    State(tessera): State<Tessera>,
    parts: Parts,
    FormObject(data): FormObject,
) -> Result<Response, Rejection> {
    let tessera = &tessera;
    csrf::enforce(&parts, tessera).await?;
    let mut fields = Fields::new(&data);
    let username = fields.char("username", CharField::required());
    let password = fields.char("password", CharField::password());
    fields.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ValidationErrors::non_field(LOGIN_FAILED).into());
    };
    let meta = RequestMeta::of(&parts, tessera.settings().num_proxies);
    let login = check_password(
        tessera,
        &meta,
        Via::Session,
        &username,
        &Secret::new(password),
    )
    .await?
    .ok_or_else(|| ValidationErrors::non_field(LOGIN_FAILED))?;
    // The login, its event and the session: one write to the store.
    let (user, _, cookies) = sessions::login_with_password(tessera, &parts, login)
        .await?
        .ok_or_else(|| ValidationErrors::non_field(LOGIN_FAILED))?;
    let mut response = Json(json!({"user": user})).into_response();
    response.headers_mut().extend(cookies);
    Ok(response)
}

/// Ends the calling credential: a session is deleted and its cookie cleared,
/// a token is revoked; the `logout` event is written with the change.
async fn logout(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
) -> Result<Response, ApiError> {
    let tessera = &tessera;
    if let Credential::Custom { scheme, .. } = &me.credential {
        // Tessera stores nothing of an application's credential: nothing to end.
        return Err(super::not_for_custom(scheme));
    }
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::Logout,
        &me.user,
        json!({"via": me.credential.kind()}),
    );
    let audited = &tessera.stores().audited;
    let mut response = StatusCode::NO_CONTENT.into_response();
    // Browsers drop every cookie of this origin (the session's, the CSRF
    // secret, and any a page or a sibling planted), over HTTPS and on
    // localhost: a logout that leaves nothing behind for the next user.
    response.headers_mut().insert(
        HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cookies\""),
    );
    match me.credential {
        Credential::Session { id, .. } => {
            audited.delete_session_audited(id, None, event).await?;
            response
                .headers_mut()
                .extend(sessions::clear_cookie(tessera));
        }
        Credential::Token { id, .. } => {
            audited.delete_token_audited(id, None, event).await?;
        }
        Credential::Custom { .. } => {}
    }
    Ok(response)
}

/// Ends every session and token of the user.
async fn logout_all(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
) -> Result<Response, ApiError> {
    let tessera = &tessera;
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::Logout,
        &me.user,
        json!({"via": me.credential.kind(), "all": true}),
    );
    tessera
        .stores()
        .audited
        .delete_user_credentials_audited(me.user.id, None, None, event)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if matches!(me.credential, Credential::Session { .. }) {
        response
            .headers_mut()
            .extend(sessions::clear_cookie(tessera));
    }
    Ok(response)
}

async fn list_sessions(
    State(tessera): State<Tessera>,
    AuthUser(me): AuthUser,
) -> Result<Json<Value>, ApiError> {
    let current = match me.credential {
        Credential::Session { id, .. } => Some(id),
        Credential::Token { .. } | Credential::Custom { .. } => None,
    };
    let views = session_list(&tessera, me.user.id, current).await?;
    Ok(Json(views))
}

/// A user's live sessions as API.md's list (`current` marks the calling
/// one); the administrators' views list another user's with `None`.
pub async fn session_list(
    tessera: &Tessera,
    user_id: i64,
    current: Option<i64>,
) -> Result<Value, ApiError> {
    let now = tessera.clock().now();
    let idle = crate::authentication::session::idle_timeout(tessera);
    let records = tessera
        .stores()
        .sessions
        .list_sessions(user_id, now, idle)
        .await?;
    let views: Vec<SessionView> = records
        .iter()
        .map(|r| SessionView::of(r, Some(r.id) == current))
        .collect();
    Ok(serde_json::to_value(views).unwrap_or_default())
}

/// Ends one of the user's own sessions; another user's id is 404, as is an
/// unknown one (no hint that it exists).
async fn delete_session(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let tessera = &tessera;
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::SessionRevoked,
        &me.user,
        json!({"session_id": id}),
    );
    let audited = &tessera.stores().audited;
    if audited
        .delete_session_audited(id, Some(me.user.id), event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
