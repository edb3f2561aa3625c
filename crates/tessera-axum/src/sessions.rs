//! Django's `login()` and `logout()` for sessions: a fresh session id at every
//! login (an id planted before login is never the one used after it), the
//! CSRF secret rotated with it, cookies set with the contract's attributes.

use crate::client::client_ip;
use crate::cookies::{self, CookieOptions};
use crate::csrf;
use crate::error::ApiError;
use crate::login::PasswordLogin;
use crate::state::Tessera;
use http::header::USER_AGENT;
use http::request::Parts;
use http::HeaderMap;
use tessera_core::session::{NewSession, SessionKey, SessionRecord};
use tessera_core::User;

/// The longest user agent kept with a session.
const MAX_USER_AGENT: usize = 512;

fn session_cookie_options(tessera: &Tessera) -> CookieOptions {
    let settings = tessera.settings();
    CookieOptions {
        secure: settings.secure_cookies,
        http_only: true,
        max_age: i64::try_from(settings.session_max_age.as_secs()).unwrap_or(i64::MAX),
    }
}

/// Starts a session for `user`, who has just proved the password. Ends the
/// session the request carried, if any, and returns the `Set-Cookie` headers
/// (session id and a rotated CSRF secret) for the response. The session is
/// written on its own: a password login opens its session with
/// [`login_with_password`], in the login's transaction.
pub async fn login(
    tessera: &Tessera,
    parts: &Parts,
    user: &User,
) -> Result<(SessionRecord, HeaderMap), ApiError> {
    end_old_session(tessera, parts).await?;
    let (key, new) = new_session(tessera, parts, user.id, tessera.clock().now());
    let record = tessera.stores().sessions.create_session(new).await?;
    Ok((record, login_cookies(tessera, parts, &key)))
}

/// Records a password login and opens its session in one write to the store
/// ([`PasswordLogin::record_with_session`]): either the session and its
/// `login_succeeded` event both exist, or neither does (a store that fails
/// mid-way leaves nothing, and the client gets no cookie). Ends the session
/// the request carried first, as [`login`] does. The user with the new
/// `last_login` and the `Set-Cookie` headers; `None` when the user was
/// deleted since the password was checked.
pub async fn login_with_password(
    tessera: &Tessera,
    parts: &Parts,
    login: PasswordLogin<'_>,
) -> Result<Option<(User, SessionRecord, HeaderMap)>, ApiError> {
    end_old_session(tessera, parts).await?;
    let (key, new) = new_session(tessera, parts, login.user().id, login.at());
    let Some((user, record)) = login.record_with_session(tessera, new).await? else {
        return Ok(None);
    };
    Ok(Some((user, record, login_cookies(tessera, parts, &key))))
}

/// Django's `login()` flushes or cycles the old session: its id must die.
async fn end_old_session(tessera: &Tessera, parts: &Parts) -> Result<(), ApiError> {
    let settings = tessera.settings();
    let sessions = &tessera.stores().sessions;
    if let Some(old) =
        cookies::read(&parts.headers, &settings.session_cookie).and_then(SessionKey::parse)
    {
        let now = tessera.clock().now();
        let idle = crate::authentication::session::idle_timeout(tessera);
        if let Some((record, _)) = sessions.find_session(&old.digest(), now, idle).await? {
            sessions.delete_session(record.id, None).await?;
        }
    }
    Ok(())
}

/// A new session id for `user_id` and the session to store for it.
fn new_session(
    tessera: &Tessera,
    parts: &Parts,
    user_id: i64,
    now: time::OffsetDateTime,
) -> (SessionKey, NewSession) {
    let settings = tessera.settings();
    let key = SessionKey::generate();
    let max_age = time::Duration::try_from(settings.session_max_age).unwrap_or(time::Duration::DAY);
    let user_agent = parts.headers.get(USER_AGENT).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(MAX_USER_AGENT)
            .collect()
    });
    let empty = serde_json::Value::Object(serde_json::Map::new());
    let new = NewSession {
        user_id,
        digest: key.digest(),
        // `CSRF_USE_SESSIONS`: Django's `rotate_token` writes the new secret
        // into the session, never into a cookie.
        data: if settings.csrf_use_sessions {
            csrf::data_with_new_secret(&empty)
        } else {
            empty
        },
        created: now,
        expires: now + max_age,
        ip: client_ip(parts, settings.num_proxies).map(crate::client::ip_text),
        user_agent,
        authenticated_at: Some(now),
    };
    (key, new)
}

/// The session cookie for `key` and the CSRF cookie's rotation.
fn login_cookies(tessera: &Tessera, parts: &Parts, key: &SessionKey) -> HeaderMap {
    let settings = tessera.settings();
    let mut headers = HeaderMap::new();
    cookies::append(
        &mut headers,
        cookies::set(
            &settings.session_cookie,
            key.expose(),
            session_cookie_options(tessera),
        ),
    );
    // Django's `rotate_token`: a CSRF token read before login is dead after it.
    if !settings.csrf_use_sessions {
        let mut csrf_state = csrf::cookie_state(&parts.headers, tessera);
        csrf_state.rotate();
        csrf::set_cookie(&mut headers, &csrf_state, tessera);
    } else if cookies::read(&parts.headers, &settings.csrf_cookie).is_some() {
        // The pre-login secret moved into the session: the cookie is dead.
        csrf::clear_cookie(&mut headers, tessera);
    }
    headers
}

/// Gives the session a new id (at re-authentication and password change) and
/// returns the `Set-Cookie` header for it.
pub async fn cycle(
    tessera: &Tessera,
    session_id: i64,
    reauthenticated: bool,
) -> Result<HeaderMap, ApiError> {
    let key = SessionKey::generate();
    let at = reauthenticated.then(|| tessera.clock().now());
    tessera
        .stores()
        .sessions
        .rotate_session(session_id, &key.digest(), at)
        .await?;
    let mut headers = HeaderMap::new();
    cookies::append(
        &mut headers,
        cookies::set(
            &tessera.settings().session_cookie,
            key.expose(),
            session_cookie_options(tessera),
        ),
    );
    Ok(headers)
}

/// The `Set-Cookie` header that deletes the session cookie.
pub fn clear_cookie(tessera: &Tessera) -> HeaderMap {
    let mut headers = HeaderMap::new();
    cookies::append(
        &mut headers,
        cookies::clear(
            &tessera.settings().session_cookie,
            session_cookie_options(tessera),
        ),
    );
    headers
}
