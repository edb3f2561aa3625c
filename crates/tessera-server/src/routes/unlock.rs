//! `POST /admin/users/{id}/unlock`: clears login protection for a user's
//! username (API.md, Administration), as `tessera unlock USERNAME` does.
//!
//! Staff only (a scoped token needs `admin`), with recent authentication,
//! like every administrative write; only a superuser may unlock a staff or superuser account (`403
//! permission_denied`), so that a staff account cannot reopen a more
//! privileged account to guessing. `204` also when nothing was locked: the
//! answer does not tell whether anyone was guessing. Audited as
//! `user_updated` with `{"action": "unlock", "by": <staff id>}`.

use crate::openapi::{op, Auth, Routes};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::post;
use serde_json::json;
use tessera_axum::audit::RequestMeta;
use tessera_axum::login::unlock;
use tessera_axum::{ApiError, AuthUser, Policy, Rejection, Tessera};
use tessera_core::audit::EventKind;
use tessera_core::permission::IsStaff;
use tessera_core::scope;

pub(super) fn routes(tessera: &Tessera) -> Routes {
    let policy = Policy::new().permission(IsStaff).require_recent_auth();
    Routes::new().guarded(
        tessera,
        "/admin/users/{id}/unlock",
        vec![op(
            Method::POST,
            "Clear login protection for a user's username (staff, recent authentication)",
            Auth::Default,
            &[],
            &[204, 400, 401, 403, 404],
        )
        .scope(scope::ADMIN)],
        policy,
        post(unlock_user),
    )
}

async fn unlock_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, Rejection> {
    let id = super::admin::path_id(&id)?;
    let tessera = &state.tessera;
    let user = tessera
        .stores()
        .users
        .user_by_id(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !super::admin::may_act_on(&staff.user, &user) {
        return Err(ApiError::permission_denied(None).into());
    }
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::UserUpdated,
        &user,
        json!({"action": "unlock", "by": staff.user.id}),
    );
    unlock(tessera, &user.username, event).await?;
    Ok(StatusCode::NO_CONTENT)
}
