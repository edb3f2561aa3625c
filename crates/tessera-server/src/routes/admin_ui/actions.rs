//! The pages' writes: `POST /admin/ui/users/{id}/action` and sign-out.
//!
//! An action goes through, in order: the session (anonymous: to the sign-in
//! page), the CSRF token of the form (Django's failure page), staff (`403`),
//! the action's rules (`403` for what the actor's rank does not allow, as
//! `/admin/*` answers), a confirmation page for the destructive ones, and a
//! recent password proof (a prompt, then the session is re-authenticated as
//! `/auth/reauth` does). Then the change is written with its audit event, as
//! `/admin/*` writes it, and the browser is sent back to the user's page.

use super::views::Confirm;
use super::{
    csrf_failure_page, error_page, field, forbidden, is_recent, login_redirect, not_found,
    read_form, redirect, render, staff, Admin,
};
use crate::routes::admin::may_act_on;
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_axum::audit::RequestMeta;
use tessera_axum::login::{unlock, verify_user_password, Via, LOGIN_FAILED};
use tessera_axum::views::audit_user;
use tessera_axum::{accounts::password_errors, csrf, sessions, ApiError};
use tessera_core::audit::EventKind;
use tessera_core::secret::Secret;
use tessera_core::user::UserUpdate;
use tessera_core::User;

/// Django's `SetPasswordForm` message.
pub const PASSWORDS_DIFFER: &str = "The two password fields didn’t match.";

/// What a form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Deactivate,
    Reactivate,
    Unlock,
    RevokeAll,
    RevokeToken,
    RevokeSession,
    ResetPassword,
    MakeStaff,
    RemoveStaff,
    MakeSuperuser,
    RemoveSuperuser,
}

impl Action {
    const ALL: [(Action, &'static str); 11] = [
        (Action::Deactivate, "deactivate"),
        (Action::Reactivate, "reactivate"),
        (Action::Unlock, "unlock"),
        (Action::RevokeAll, "revoke_all"),
        (Action::RevokeToken, "revoke_token"),
        (Action::RevokeSession, "revoke_session"),
        (Action::ResetPassword, "reset_password"),
        (Action::MakeStaff, "make_staff"),
        (Action::RemoveStaff, "remove_staff"),
        (Action::MakeSuperuser, "make_superuser"),
        (Action::RemoveSuperuser, "remove_superuser"),
    ];

    fn parse(name: &str) -> Option<Action> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(action, _)| *action)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("", |(_, n)| n)
    }

    /// Granting or removing a privilege: a superuser's act.
    fn superuser_only(self) -> bool {
        matches!(
            self,
            Action::MakeStaff
                | Action::RemoveStaff
                | Action::MakeSuperuser
                | Action::RemoveSuperuser
        )
    }

    /// Confirmed on a page of its own first.
    fn destructive(self) -> bool {
        matches!(self, Action::Deactivate | Action::RevokeAll)
    }
}

/// `POST /admin/ui/users/{id}/action`.
pub(super) async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let form = match read_form(body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let admin = match checked(&state, &parts, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    match perform(&state, &parts, &admin, id, &form).await {
        Ok(response) => response,
        Err(error) => error_page(&error),
    }
}

/// The session, its CSRF token in the form, and staff: the signed-in staff
/// member, or the refusal.
async fn checked(
    state: &AppState,
    parts: &Parts,
    form: &[(String, String)],
) -> Result<Admin, Response> {
    let tessera = &state.tessera;
    let Some((session, _)) = super::session_of(tessera, parts)
        .await
        .map_err(|e| error_page(&e))?
    else {
        return Err(login_redirect(parts));
    };
    let token = field(form, tessera_core::csrf::FORM_FIELD);
    if csrf::enforce_form_for_session(parts, tessera, &session, token)
        .await
        .is_err()
    {
        return Err(csrf_failure_page());
    }
    staff(state, parts).await
}

async fn perform(
    state: &AppState,
    parts: &Parts,
    admin: &Admin,
    id: i64,
    form: &[(String, String)],
) -> Result<Response, ApiError> {
    let tessera = &state.tessera;
    let Some(action) = field(form, "action").and_then(Action::parse) else {
        return Ok(super::plain_page(
            StatusCode::BAD_REQUEST,
            "400 Bad Request",
            "Unknown action.",
        ));
    };
    let Some(target) = tessera.stores().users.user_by_id(id).await? else {
        return Ok(not_found());
    };
    // Rank first: a refused actor learns nothing more, and is not asked for
    // a password.
    if !may_act_on(&admin.user, &target) || (action.superuser_only() && !admin.user.is_superuser) {
        return Ok(forbidden());
    }
    let credential = field(form, "target").and_then(|t| t.parse::<i64>().ok());
    if matches!(action, Action::RevokeToken | Action::RevokeSession) {
        let owner = match (action, credential) {
            (Action::RevokeToken, Some(t)) => tessera
                .stores()
                .tokens
                .token_by_id(t)
                .await?
                .map(|t| t.user_id),
            (Action::RevokeSession, Some(s)) => tessera.stores().sessions.session_owner(s).await?,
            _ => None,
        };
        if owner != Some(target.id) {
            return Ok(not_found());
        }
    }
    // The new password is checked before anything is asked of the actor.
    let new_password = if action == Action::ResetPassword {
        let one = field(form, "new_password1").unwrap_or("");
        let two = field(form, "new_password2").unwrap_or("");
        let mut errors = Vec::new();
        if one.is_empty() {
            errors.push("New password: This field is required.".to_owned());
        } else if one != two {
            errors.push(PASSWORDS_DIFFER.to_owned());
        } else {
            let secret = Secret::new(one.to_owned());
            errors.extend(
                password_errors(tessera, &secret, &target.username, &target.email)
                    .into_iter()
                    .map(|m| format!("New password: {m}")),
            );
        }
        if !errors.is_empty() {
            return super::pages::user_page(state, parts, admin, id, None, errors).await;
        }
        Some(Secret::new(one.to_owned()))
    } else {
        None
    };
    let confirmed = field(form, "confirmed") == Some("yes");
    let recent = is_recent(tessera, &admin.session);
    let given = field(form, "current_password").filter(|p| !p.is_empty());
    if (action.destructive() && !confirmed) || (!recent && given.is_none()) {
        return prompt(
            state, parts, admin, &target, action, credential, !recent, None,
        )
        .await;
    }
    let mut cookies = HeaderMap::new();
    if !recent {
        let meta = RequestMeta::of(parts, tessera.settings().num_proxies);
        let password = Secret::new(given.unwrap_or_default().to_owned());
        if !verify_user_password(tessera, &meta, Via::Reauth, &admin.user, &password).await? {
            return prompt(
                state,
                parts,
                admin,
                &target,
                action,
                credential,
                true,
                Some(LOGIN_FAILED),
            )
            .await;
        }
        audit_user(
            tessera,
            &meta,
            EventKind::Reauthenticated,
            &admin.user,
            json!({"via": "session"}),
        )
        .await;
        cookies = sessions::cycle(tessera, admin.session.id, true).await?;
    }
    let found = write(
        state,
        parts,
        admin,
        &target,
        action,
        credential,
        new_password,
    )
    .await?;
    if !found {
        return Ok(not_found());
    }
    let mut response = redirect(
        StatusCode::SEE_OTHER,
        &format!("/admin/ui/users/{id}?done={}", action.name()),
    );
    response.headers_mut().extend(cookies);
    Ok(response)
}

/// The confirmation page of a destructive action, or the password prompt
/// of one that needs a recent password proof (or both on one page), with a
/// fresh CSRF token; `error` after a wrong password.
#[allow(clippy::too_many_arguments)]
async fn prompt(
    state: &AppState,
    parts: &Parts,
    admin: &Admin,
    target: &User,
    action: Action,
    credential: Option<i64>,
    needs_password: bool,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let (layout, headers) = super::pages::layout(state, parts, admin, "users").await?;
    let name = &target.username;
    let (heading, text, button) = match action {
        Action::Deactivate => (
            "Are you sure?".to_owned(),
            format!("Deactivate {name}? Their password, tokens and sessions are refused until the account is reactivated; nothing is deleted."),
            "Yes, deactivate".to_owned(),
        ),
        Action::RevokeAll => (
            "Are you sure?".to_owned(),
            format!("Revoke every token and session of {name}? Each device and script signed in as {name} is signed out."),
            "Yes, revoke all".to_owned(),
        ),
        _ => (
            "Confirm your password".to_owned(),
            format!("{} for {name} needs a recent sign-in.", describe(action)),
            "Confirm and continue".to_owned(),
        ),
    };
    let mut hidden = vec![
        (
            tessera_core::csrf::FORM_FIELD.to_owned(),
            layout.csrf.clone(),
        ),
        ("action".to_owned(), action.name().to_owned()),
        ("confirmed".to_owned(), "yes".to_owned()),
    ];
    if let Some(credential) = credential {
        hidden.push(("target".to_owned(), credential.to_string()));
    }
    let page = Confirm {
        layout,
        heading,
        text,
        action: format!("/admin/ui/users/{}/action", target.id),
        hidden,
        needs_password,
        // A new password is never echoed into a page: asked again.
        new_password: action == Action::ResetPassword,
        button,
        back: format!("/admin/ui/users/{}", target.id),
        error: error.map(str::to_owned),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = render(status, &page);
    response.headers_mut().extend(headers);
    Ok(response)
}

fn describe(action: Action) -> &'static str {
    match action {
        Action::Deactivate => "Deactivating the account",
        Action::Reactivate => "Reactivating the account",
        Action::Unlock => "Unlocking the username",
        Action::RevokeAll => "Revoking every token and session",
        Action::RevokeToken => "Revoking a token",
        Action::RevokeSession => "Revoking a session",
        Action::ResetPassword => "Resetting the password",
        Action::MakeStaff => "Making the user staff",
        Action::RemoveStaff => "Removing staff status",
        Action::MakeSuperuser => "Making the user a superuser",
        Action::RemoveSuperuser => "Removing superuser status",
    }
}

/// Writes the action with its audit event, as `/admin/*` does. Whether the
/// thing acted on was still there.
async fn write(
    state: &AppState,
    parts: &Parts,
    admin: &Admin,
    target: &User,
    action: Action,
    credential: Option<i64>,
    new_password: Option<Secret>,
) -> Result<bool, ApiError> {
    let tessera = &state.tessera;
    let meta = RequestMeta::of(parts, tessera.settings().num_proxies);
    let now = tessera.clock().now();
    let audited = &tessera.stores().audited;
    let by = admin.user.id;
    let update_event = |fields: &[&str], revoked: bool| {
        meta.user_event(
            now,
            EventKind::UserUpdated,
            target,
            json!({"by": by, "fields": fields, "credentials_revoked": revoked, "via": "admin_ui"}),
        )
    };
    let flags = |active: Option<bool>, staff: Option<bool>, superuser: Option<bool>| UserUpdate {
        is_active: active,
        is_staff: staff,
        is_superuser: superuser,
        ..UserUpdate::default()
    };
    let updated = |update: UserUpdate, field: &'static str| {
        let event = update_event(&[field], false);
        async move {
            Ok::<bool, ApiError>(
                audited
                    .update_user_audited(target.id, update, event)
                    .await?
                    .is_some(),
            )
        }
    };
    match action {
        Action::Deactivate => updated(flags(Some(false), None, None), "is_active").await,
        Action::Reactivate => updated(flags(Some(true), None, None), "is_active").await,
        Action::MakeStaff => updated(flags(None, Some(true), None), "is_staff").await,
        Action::RemoveStaff => updated(flags(None, Some(false), None), "is_staff").await,
        Action::MakeSuperuser => updated(flags(None, None, Some(true)), "is_superuser").await,
        Action::RemoveSuperuser => updated(flags(None, None, Some(false)), "is_superuser").await,
        Action::Unlock => {
            let event = meta.user_event(
                now,
                EventKind::UserUpdated,
                target,
                json!({"action": "unlock", "by": by, "via": "admin_ui"}),
            );
            unlock(tessera, &target.username, event).await?;
            Ok(true)
        }
        Action::ResetPassword => {
            let Some(password) = new_password else {
                return Ok(false);
            };
            let update = UserUpdate {
                password_hash: Some(tessera.hasher().hash(&password).await?),
                ..UserUpdate::default()
            };
            let event = update_event(&["password"], true);
            Ok(audited
                .update_user_and_revoke_audited(target.id, update, None, None, event)
                .await?
                .is_some())
        }
        Action::RevokeAll => {
            let event = meta.user_event(
                now,
                EventKind::SessionRevoked,
                &admin.user,
                json!({"owner": target.id, "all": true, "by_staff": true, "via": "admin_ui"}),
            );
            audited
                .delete_user_credentials_audited(target.id, None, None, event)
                .await?;
            Ok(true)
        }
        Action::RevokeToken => {
            let Some(id) = credential else {
                return Ok(false);
            };
            let event = meta.user_event(
                now,
                EventKind::TokenRevoked,
                &admin.user,
                json!({"token_id": id, "owner": target.id, "by_staff": true, "via": "admin_ui"}),
            );
            Ok(audited
                .delete_token_audited(id, Some(target.id), event)
                .await?)
        }
        Action::RevokeSession => {
            let Some(id) = credential else {
                return Ok(false);
            };
            let event = meta.user_event(
                now,
                EventKind::SessionRevoked,
                &admin.user,
                json!({"session_id": id, "owner": target.id, "by_staff": true, "via": "admin_ui"}),
            );
            Ok(audited
                .delete_session_audited(id, Some(target.id), event)
                .await?)
        }
    }
}

/// `POST /admin/ui/logout`: ends the session (audited as `logout`), clears
/// its cookie and sends the browser to the sign-in page.
pub(super) async fn logout(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let form = match read_form(body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let tessera = &state.tessera;
    let (session, user) = match super::session_of(tessera, &parts).await {
        Ok(Some(found)) => found,
        Ok(None) => return redirect(StatusCode::SEE_OTHER, "/login"),
        Err(error) => return error_page(&error),
    };
    let token = field(&form, tessera_core::csrf::FORM_FIELD);
    if csrf::enforce_form_for_session(&parts, tessera, &session, token)
        .await
        .is_err()
    {
        return csrf_failure_page();
    }
    let meta = RequestMeta::of(&parts, tessera.settings().num_proxies);
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::Logout,
        &user,
        json!({"via": "session"}),
    );
    if let Err(error) = tessera
        .stores()
        .audited
        .delete_session_audited(session.id, None, event)
        .await
    {
        return error_page(&ApiError::from(error));
    }
    let mut response = redirect(StatusCode::SEE_OTHER, "/login");
    response
        .headers_mut()
        .extend(sessions::clear_cookie(tessera));
    response.headers_mut().insert(
        HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cookies\""),
    );
    response.into_response()
}
