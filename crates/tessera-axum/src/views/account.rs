//! `/auth/reauth`, `/auth/password` and `/auth/register`.

use super::events::audit_user;
use super::{op, Entry, Paths, ViewAuth, ViewReturns, ViewShape};
use crate::accounts::{create_user, new_user_errors, password_errors, UserInput};
use crate::audit::RequestMeta;
use crate::body::JsonObject;
use crate::fields::{CharField, Fields};
use crate::login::{verify_user_password, Via, LOGIN_FAILED};
use crate::throttling::Throttle;
use crate::{sessions, ApiError, AuthUser, Policy, Rejection, Tessera, ValidationErrors};
use axum::extract::State;
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};
use tessera_core::audit::EventKind;
use tessera_core::secret::Secret;
use tessera_core::user::UserUpdate;
use tessera_core::{scope, Credential};

/// Django's `PasswordChangeForm` message.
pub const OLD_PASSWORD_INCORRECT: &str =
    "Your old password was entered incorrectly. Please enter it again.";

pub(super) fn entries(paths: &Paths, registration: bool) -> Vec<Entry> {
    let mut entries = vec![
        Entry::guarded(
            paths.reauth,
            vec![op(Method::POST, "Confirm the password: the calling credential counts as recently authenticated", ViewAuth::Default, &["password"], &[204, 400, 401, 403, 429]).scope(scope::ACCOUNT)],
            Policy::new().throttle(super::token_auth::login_scope()),
            post(reauth),
        ),
        Entry::guarded(
            paths.password,
            vec![op(Method::POST, "Change the password (recent authentication needed); ends other sessions and tokens", ViewAuth::Default, &["old_password", "new_password"], &[204, 400, 401, 403]).scope(scope::ACCOUNT)],
            Policy::new().require_recent_auth(),
            post(change_password),
        ),
    ];
    if registration {
        entries.push(Entry::open(
            paths.register,
            vec![op(
                Method::POST,
                "Create an account",
                ViewAuth::None,
                &["username", "password", "email?"],
                &[201, 400, 429],
            )
            .returns(ViewReturns::Json(ViewShape::UserEnvelope))],
            Policy::allow_any()
                .authenticators([])
                .throttle(Throttle::Scoped("register".to_owned())),
            post(register),
        ));
    }
    entries
}

/// Marks the calling credential as recently authenticated; a session also gets
/// a new id (the old cookie dies).
async fn reauth(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
    JsonObject(data): JsonObject,
) -> Result<Response, Rejection> {
    let tessera = &tessera;
    let mut fields = Fields::new(&data);
    let password = fields.char("password", CharField::password());
    fields.finish()?;
    let password = Secret::new(password.ok_or_else(ApiError::internal)?);
    if let Credential::Custom { scheme, .. } = &me.credential {
        // Tessera stores nothing of an application's credential: nothing to mark.
        return Err(super::not_for_custom(scheme).into());
    }
    if !verify_user_password(tessera, &meta, Via::Reauth, &me.user, &password).await? {
        return Err(ValidationErrors::non_field(LOGIN_FAILED).into());
    }
    audit_user(
        tessera,
        &meta,
        EventKind::Reauthenticated,
        &me.user,
        json!({"via": me.credential.kind()}),
    )
    .await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    match me.credential {
        Credential::Token { id, .. } => {
            tessera
                .stores()
                .tokens
                .set_token_authenticated_at(id, tessera.clock().now())
                .await?;
        }
        Credential::Session { id, .. } => {
            response
                .headers_mut()
                .extend(sessions::cycle(tessera, id, true).await?);
        }
        Credential::Custom { .. } => {}
    }
    Ok(response)
}

/// Changes the password: checks the old one, validates the new one, rotates
/// the current session, and ends every other session and token of the user.
async fn change_password(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    AuthUser(me): AuthUser,
    JsonObject(data): JsonObject,
) -> Result<Response, Rejection> {
    let tessera = &tessera;
    let mut fields = Fields::new(&data);
    let old = fields.char("old_password", CharField::password());
    let new = fields.char("new_password", CharField::password());
    fields.finish()?;
    let (Some(old), Some(new)) = (old, new) else {
        return Err(ApiError::internal().into());
    };
    if !verify_user_password(
        tessera,
        &meta,
        Via::Other("password-change"),
        &me.user,
        &Secret::new(old),
    )
    .await?
    {
        return Err(ValidationErrors::single("old_password", OLD_PASSWORD_INCORRECT).into());
    }
    let new = Secret::new(new);
    let mut errors = ValidationErrors::new();
    for message in password_errors(tessera, &new, &me.user.username, &me.user.email) {
        errors.add("new_password", message);
    }
    errors.into_result()?;
    let hash = tessera.hasher().hash(&new).await?;
    let update = UserUpdate {
        password_hash: Some(hash),
        ..UserUpdate::default()
    };
    let (keep_session, keep_token) = match me.credential {
        Credential::Session { id, .. } => (Some(id), None),
        Credential::Token { id, .. } => (None, Some(id)),
        // Not Tessera's to keep: every stored session and token ends.
        Credential::Custom { .. } => (None, None),
    };
    let revoke = tessera.settings().revoke_on_password_change;
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::PasswordChanged,
        &me.user,
        json!({"other_credentials_revoked": revoke}),
    );
    // The new hash, the revocation and the event are one transaction.
    let audited = &tessera.stores().audited;
    if revoke {
        audited
            .update_user_and_revoke_audited(me.user.id, update, keep_session, keep_token, event)
            .await?;
    } else {
        audited
            .update_user_audited(me.user.id, update, event)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(id) = keep_session {
        // Django's `update_session_auth_hash` keeps the session, under a new id.
        response
            .headers_mut()
            .extend(sessions::cycle(tessera, id, true).await?);
    }
    Ok(response)
}

/// Self-service registration, when enabled; otherwise the route does not exist.
async fn register(
    State(tessera): State<Tessera>,
    meta: RequestMeta,
    JsonObject(data): JsonObject,
) -> Result<(StatusCode, Json<Value>), Rejection> {
    let mut fields = Fields::new(&data);
    let username = fields.char("username", CharField::required());
    let password = fields.char("password", CharField::password());
    let email = fields.email("email");
    if let (Some(u), Some(p)) = (&username, &password) {
        let errors = new_user_errors(
            &tessera,
            u,
            &Secret::new(p.clone()),
            email.as_deref().unwrap_or(""),
        );
        fields.merge(errors);
    }
    fields.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::internal().into());
    };
    let input = UserInput {
        username,
        email: email.unwrap_or_default(),
        password: Secret::new(password),
        is_active: true,
        is_staff: false,
        is_superuser: false,
    };
    let mut event = meta.event(tessera.clock().now(), EventKind::UserCreated);
    event.detail = json!({"via": "register"});
    let created = create_user(&tessera, input, event).await?;
    let mut body = json!({"user": created.user});
    if let Value::Object(map) = &mut body {
        map.extend(created.extra);
    }
    Ok((StatusCode::CREATED, Json(body)))
}
