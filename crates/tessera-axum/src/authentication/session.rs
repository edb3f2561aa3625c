//! DRF's `SessionAuthentication`: the session cookie names a server-side
//! session; unsafe methods must pass Django's CSRF check.
//!
//! A missing, garbled, forged, expired or revoked session cookie makes the
//! request anonymous (DRF returns `None`), never an error: the cookie is not a
//! credential the client chose to present the way a token header is.

use crate::cookies;
use crate::csrf;
use crate::error::ApiError;
use crate::metrics::{AuthMethod, Outcome};
use crate::state::Tessera;
use crate::touch::Used;
use http::request::Parts;
use tessera_core::identity::{Credential, Principal};
use tessera_core::session::SessionKey;

/// Authenticates a request by its session cookie.
pub async fn authenticate(parts: &Parts, tessera: &Tessera) -> Result<Option<Principal>, ApiError> {
    let settings = tessera.settings();
    let Some(value) = cookies::read(&parts.headers, &settings.session_cookie) else {
        return Ok(None);
    };
    let Some(key) = SessionKey::parse(value) else {
        return Ok(failed(tessera));
    };
    let now = tessera.clock().now();
    let idle = idle_timeout(tessera);
    let found = tessera
        .stores()
        .sessions
        .find_session(&key.digest(), now, idle)
        .await?;
    let Some((session, user)) = found else {
        return Ok(failed(tessera));
    };
    if !user.is_active {
        return Ok(failed(tessera));
    }
    // DRF's `enforce_csrf`: only once the session has authenticated a user.
    csrf::enforce_for_session(parts, tessera, &session)
        .await
        .inspect_err(|_| {
            failed(tessera);
        })?;
    tessera
        .metrics()
        .record_auth(AuthMethod::Session, Outcome::Success);
    tessera
        .toucher()
        .used(Used::Session(session.id), Some(session.last_seen), now);
    Ok(Some(Principal {
        user,
        credential: Credential::Session {
            id: session.id,
            authenticated_at: session.authenticated_at,
        },
    }))
}

/// Anonymous, counted as a failed session authentication (a cookie was
/// presented and not accepted).
fn failed(tessera: &Tessera) -> Option<Principal> {
    tessera
        .metrics()
        .record_auth(AuthMethod::Session, Outcome::Failure);
    None
}

/// The configured idle timeout as a `time::Duration`.
pub fn idle_timeout(tessera: &Tessera) -> time::Duration {
    tessera.settings().session_idle()
}
