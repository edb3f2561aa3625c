//! Checking a username and password, as Django's `authenticate()` with the
//! `ModelBackend`, hardened.
//!
//! Every failure looks the same to the caller: an unknown user, a wrong
//! password, an inactive user and an unusable password all answer `None`, and
//! all but an over-long password cost one full argon2id verification (Django's
//! dummy hash, #20760), so response times do not tell who exists. Every
//! outcome is audited.
//!
//! Login protection ([`tessera_core::throttle::login`]) runs before the
//! password is checked. Past `max_lockout`, a username's lock lets the right
//! password through from an address that has not failed for that username
//! (without resetting the username's count); a wrong one from there is
//! counted and answered with the lock's `429`, as any other attempt on the
//! locked username is. [`unlock`] is an administrator's way out.

use crate::audit::RequestMeta;
use crate::error::ApiError;
use crate::metrics::{LoginTimer, Outcome};
use crate::state::Tessera;
use crate::throttling::throttled;
use serde_json::json;
use std::net::IpAddr;
use tessera_core::audit::{EventKind, NewAuditEvent};
use tessera_core::audited::{LoginWrite, LoginWritten, Rehash, TokenWrite};
use tessera_core::clock::truncate_to_micros;
use tessera_core::password::{Verification, MAX_PASSWORD_BYTES};
use tessera_core::secret::Secret;
use tessera_core::session::{NewSession, SessionRecord};
use tessera_core::throttle::login::username_key;
use tessera_core::throttle::{Admission, Attempt};
use tessera_core::token::TokenRecord;
use tessera_core::user::normalize_username;
use tessera_core::User;
use time::OffsetDateTime;

/// DRF's `AuthTokenSerializer` message for any failed login.
pub const LOGIN_FAILED: &str = "Unable to log in with provided credentials.";

/// Where a password was checked, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /api-token-auth/`.
    ObtainToken,
    /// `POST /auth/login`.
    Session,
    /// `POST /auth/reauth`.
    Reauth,
    /// Another route of an application.
    Other(&'static str),
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::ObtainToken => "api-token-auth",
            Via::Session => "login",
            Via::Reauth => "reauth",
            Via::Other(name) => name,
        }
    }
}

struct Checked {
    user: Option<User>,
    known: Option<i64>,
    rehash: Option<Rehash>,
}

async fn check(tessera: &Tessera, username: &str, password: &Secret) -> Result<Checked, ApiError> {
    // An over-long password is refused before hashing (a megabyte password
    // would cost seconds of CPU); its length says nothing about the account.
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Ok(Checked {
            user: None,
            known: None,
            rehash: None,
        });
    }
    let stored = tessera
        .stores()
        .users
        .credentials_by_username(username)
        .await?;
    let verification = tessera
        .hasher()
        .verify(password, stored.as_ref().map(|c| c.password_hash.as_str()))
        .await?;
    let known = stored.as_ref().map(|c| c.user.id);
    Ok(match (stored, verification) {
        // Django's `user_can_authenticate`: inactive users are refused after
        // the hash was checked, so they take as long as everyone else.
        (Some(c), Verification::Valid { rehash }) if c.user.is_active => Checked {
            rehash: rehash.map(|to| Rehash {
                from: c.password_hash,
                to,
            }),
            user: Some(c.user),
            known,
        },
        _ => Checked {
            user: None,
            known,
            rehash: None,
        },
    })
}

/// The client's address, if known: an unknown one is counted nowhere (never
/// as one address shared by every such client).
fn client_ip(meta: &RequestMeta) -> Option<IpAddr> {
    meta.ip.as_deref().and_then(|ip| ip.parse().ok())
}

/// Login protection, before any password is checked: a username or address
/// in its back-off is refused with the throttled 429, whether the username
/// exists or not, and the attempt is not counted. Otherwise how the attempt
/// was admitted ([`Admission::Allowed`] or [`Admission::IfRight`]), and
/// whether the username had failures counted.
async fn guard(tessera: &Tessera, meta: &RequestMeta, username: &str) -> Result<Attempt, ApiError> {
    let now = tessera.clock().now();
    let decision = tessera
        .login_guard()
        .check_attempt(username, client_ip(meta), now)
        .await?;
    match decision.admission.retry_after_secs() {
        None => Ok(decision),
        Some(wait) => {
            let mut event = meta.event(now, EventKind::Throttled);
            event.username = username.to_owned();
            event.detail = json!({"scope": "login", "wait": wait});
            tessera.auditor().record(event).await;
            tessera.metrics().record_throttled("login");
            Err(throttled(wait))
        }
    }
}

async fn failure(
    tessera: &Tessera,
    meta: &RequestMeta,
    via: Via,
    username: &str,
    known: Option<i64>,
) -> Result<(), ApiError> {
    let now = tessera.clock().now();
    let mut event = meta.event(now, EventKind::LoginFailed);
    event.user = known;
    event.username = username.to_owned();
    event.detail = json!({"via": via.name()});
    tessera.auditor().record(event).await;
    let started = tessera
        .login_guard()
        .record_failure(username, client_ip(meta), now)
        .await?;
    if let Some(started) = started {
        let mut event = meta.event(now, EventKind::Lockout);
        event.user = known;
        event.username = username.to_owned();
        event.detail = json!({
            "username_locked_for": started.username.map(|l| l.duration.as_secs()),
            "address_locked_for": started.address.map(|l| l.duration.as_secs()),
        });
        tessera.auditor().record(event).await;
        tessera.metrics().record_lockout();
    }
    tessera.alerts().failure(meta, username, now).await;
    Ok(())
}

/// After a wrong password admitted past a username's lock
/// ([`Admission::IfRight`]), now counted: refused with the lock's 429, as any
/// other attempt on the locked username is (the failure has just marked this
/// address, so the guard refuses it). Should the lock have ended meanwhile,
/// the usual failure.
async fn refuse_past_lock(
    tessera: &Tessera,
    meta: &RequestMeta,
    username: &str,
) -> Result<(), ApiError> {
    guard(tessera, meta, username).await.map(drop)
}

/// The `login_succeeded` detail: where, and whether the login was let
/// through a username's lock.
fn success_detail(via: Via, admission: Admission) -> serde_json::Value {
    match admission {
        Admission::IfRight { .. } => json!({"via": via.name(), "past_lock": true}),
        _ => json!({"via": via.name()}),
    }
}

/// An administrator's unlock of `username` (`POST /admin/users/{id}/unlock`,
/// `tessera unlock`): clears its login protection. The unlock is recorded in
/// the store with `event` (one transaction), where every server process
/// finds it the next time it sees that username locked, then this process's
/// counters are cleared at once. Failures of the addresses that guessed are
/// not forgotten: an address's own count is left as it is.
pub async fn unlock(
    tessera: &Tessera,
    username: &str,
    event: NewAuditEvent,
) -> Result<(), ApiError> {
    let key = username_key(username);
    tessera
        .stores()
        .unlocks
        .record_unlock(&key, event.time, event)
        .await?;
    tessera.login_guard().unlock_username(username).await?;
    Ok(())
}

/// A password just proved right for an active user, whose login is not yet
/// recorded: [`record`](PasswordLogin::record) writes it (`last_login` and
/// the `login_succeeded` event), [`record_with_token`](PasswordLogin::record_with_token)
/// writes it with a token in the same transaction.
#[must_use = "a login is recorded by record() or record_with_token()"]
pub struct PasswordLogin<'a> {
    user: User,
    at: OffsetDateTime,
    event: NewAuditEvent,
    /// A weaker stored hash's replacement (an imported Django hash), written
    /// with the login in its transaction, as Django's `check_password`
    /// upgrades it.
    rehash: Option<Rehash>,
    /// Times the login, check and write (`tessera_login_duration_seconds`).
    timer: LoginTimer<'a>,
}

impl std::fmt::Debug for PasswordLogin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordLogin")
            .field("user", &self.user)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// Checks a username and password, as Django's `authenticate()`: the user
/// they belong to, if they are right and the user is active, with the login
/// still to record (which upgrades a weaker stored hash); audits a failure.
#[tracing::instrument(skip_all)]
pub async fn check_password<'a>(
    tessera: &'a Tessera,
    meta: &RequestMeta,
    via: Via,
    username: &str,
    password: &Secret,
) -> Result<Option<PasswordLogin<'a>>, ApiError> {
    // metrics: login duration, until the login is written (or refused here)
    let timer = tessera.metrics().login_timer();
    let username = normalize_username(username);
    let attempt = guard(tessera, meta, &username).await?;
    let admission = attempt.admission;
    let checked = check(tessera, &username, password).await?;
    let Some(user) = checked.user else {
        failure(tessera, meta, via, &username, checked.known).await?;
        tessera.metrics().record_password(Outcome::Failure);
        if !admission.is_allowed() {
            refuse_past_lock(tessera, meta, &username).await?;
        }
        return Ok(None);
    };
    // A login let through a username's lock leaves the count of the
    // failures made elsewhere as it is; a username with none counted has
    // nothing to forget.
    if admission.is_allowed() && attempt.counted {
        tessera.login_guard().record_success(&username).await?;
    }
    let at = tessera.clock().now();
    let mut event = meta.event(at, EventKind::LoginSucceeded);
    event.user = Some(user.id);
    event.username = user.username.clone();
    event.detail = success_detail(via, admission);
    Ok(Some(PasswordLogin {
        user,
        at,
        event,
        rehash: checked.rehash,
        timer,
    }))
}

impl PasswordLogin<'_> {
    /// The user.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The time of the login (the `login_succeeded` event's).
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    /// Records the login and opens `session` with it, in one transaction:
    /// the session exists exactly when its `login_succeeded` event does. The
    /// user with its new `last_login` and the session as stored; `None` when
    /// the user was deleted since the password was checked (nothing written).
    pub async fn record_with_session(
        self,
        tessera: &Tessera,
        session: NewSession,
    ) -> Result<Option<(User, SessionRecord)>, ApiError> {
        match self.write_login(tessera, None, Some(session)).await? {
            None => Ok(None),
            Some((user, LoginWritten::RecordedSession(session))) => Ok(Some((user, session))),
            Some(_) => {
                // A store that ignored the session: no cookie can name it.
                tracing::error!("the store recorded a session login without its session");
                Err(ApiError::internal())
            }
        }
    }

    /// Records the login: `last_login` and the `login_succeeded` event, in
    /// one transaction. The user with its new `last_login`, or `None` when
    /// the user was deleted since the password was checked.
    pub async fn record(self, tessera: &Tessera) -> Result<Option<User>, ApiError> {
        Ok(self.write(tessera, None).await?.map(|(user, _)| user))
    }

    /// Records the login and stores `token` with it, in one transaction (one
    /// write to the store for a login that obtains a key). The user with its
    /// new `last_login` and the token as stored, `None` inside when the cap
    /// refused it (the login is recorded all the same); `None` when the user
    /// was deleted since the password was checked.
    pub async fn record_with_token(
        self,
        tessera: &Tessera,
        token: TokenWrite,
    ) -> Result<Option<(User, Option<TokenRecord>)>, ApiError> {
        self.write(tessera, Some(token)).await
    }

    async fn write(
        self,
        tessera: &Tessera,
        token: Option<TokenWrite>,
    ) -> Result<Option<(User, Option<TokenRecord>)>, ApiError> {
        let written = self.write_login(tessera, token, None).await?;
        Ok(written.map(|(user, written)| match written {
            LoginWritten::Recorded(record) => (user, record),
            _ => (user, None),
        }))
    }

    async fn write_login(
        self,
        tessera: &Tessera,
        token: Option<TokenWrite>,
        session: Option<NewSession>,
    ) -> Result<Option<(User, LoginWritten)>, ApiError> {
        let PasswordLogin {
            user,
            at,
            event,
            rehash,
            timer,
        } = self;
        let login = LoginWrite {
            user_id: user.id,
            at,
            event,
            token,
            rehash,
            session,
        };
        let written = tessera.stores().audited.record_login(login).await;
        drop(timer);
        // A success is counted once the login is kept, not when the password
        // checked out: a login the store could not record failed.
        match written? {
            LoginWritten::NoSuchUser => {
                tessera.metrics().record_password(Outcome::Failure);
                Ok(None)
            }
            written => {
                tessera.metrics().record_password(Outcome::Success);
                let user = User {
                    last_login: Some(truncate_to_micros(at)),
                    ..user
                };
                Ok(Some((user, written)))
            }
        }
    }
}

/// The user these credentials belong to, if they are right and the user is
/// active: [`check_password`], then [`PasswordLogin::record`].
pub async fn authenticate_password(
    tessera: &Tessera,
    meta: &RequestMeta,
    via: Via,
    username: &str,
    password: &Secret,
) -> Result<Option<User>, ApiError> {
    match check_password(tessera, meta, via, username, password).await? {
        Some(login) => login.record(tessera).await,
        None => Ok(None),
    }
}

/// Checks the password of a signed-in user (re-authentication, password
/// change). A failure is audited as a failed login.
pub async fn verify_user_password(
    tessera: &Tessera,
    meta: &RequestMeta,
    via: Via,
    user: &User,
    password: &Secret,
) -> Result<bool, ApiError> {
    let attempt = guard(tessera, meta, &user.username).await?;
    let admission = attempt.admission;
    let checked = check(tessera, &user.username, password).await?;
    let ok = checked.user.is_some_and(|u| u.id == user.id);
    if !ok {
        failure(tessera, meta, via, &user.username, Some(user.id)).await?;
        if !admission.is_allowed() {
            refuse_past_lock(tessera, meta, &user.username).await?;
        }
    } else if admission.is_allowed() && attempt.counted {
        tessera.login_guard().record_success(&user.username).await?;
    }
    Ok(ok)
}
