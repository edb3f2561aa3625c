//! Staff-only user administration: list (search, pages), create, update.

use super::pagination::Page;
use crate::openapi::{op, Auth, Routes};
use crate::AppState;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, patch};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_axum::accounts::{create_user, new_user_errors, password_errors, UserInput};
use tessera_axum::audit::RequestMeta;
use tessera_axum::body::JsonObject;
use tessera_axum::fields::{CharField, Fields};
use tessera_axum::{ApiError, AuthUser, Policy, Rejection, Tessera, ValidationErrors};
use tessera_core::audit::{AuditQuery, EventKind};
use tessera_core::permission::IsStaff;
use tessera_core::secret::Secret;
use tessera_core::user::UserUpdate;
use tessera_core::User;

pub(super) fn routes(tessera: &Tessera) -> Routes {
    let staff = Policy::new().permission(IsStaff);
    let s = Auth::Default;
    Routes::new()
        .route(
            "/admin/users",
            vec![
                op(
                    Method::GET,
                    "Users, searched and paginated (staff)",
                    s,
                    &[],
                    &[200, 401, 403, 404],
                ),
                op(
                    Method::POST,
                    "Create a user (staff)",
                    s,
                    &["username", "password", "email?", "is_staff?", "is_active?"],
                    &[201, 400, 401, 403],
                ),
            ],
            get(list_users).post(add_user).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/users/{id}",
            vec![op(
                Method::PATCH,
                "Update a user: flags, e-mail, password reset (staff)",
                s,
                &[
                    "is_active?",
                    "is_staff?",
                    "is_superuser?",
                    "email?",
                    "password?",
                ],
                &[200, 400, 401, 403, 404],
            )],
            patch(update_user).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/users/{id}/sessions",
            vec![op(
                Method::GET,
                "A user's sessions (staff)",
                s,
                &[],
                &[200, 401, 403, 404],
            )],
            get(user_sessions).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/sessions/{id}",
            vec![op(
                Method::DELETE,
                "Revoke a session (staff)",
                s,
                &[],
                &[204, 401, 403, 404],
            )],
            delete(revoke_session).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/audit",
            vec![op(
                Method::GET,
                "The audit log, filtered by user, event and since, paginated (staff)",
                s,
                &[],
                &[200, 400, 401, 403, 404],
            )],
            get(list_audit).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/users/{id}/tokens",
            vec![op(
                Method::GET,
                "A user's tokens (staff)",
                s,
                &[],
                &[200, 401, 403, 404],
            )],
            get(user_tokens).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/tokens/{id}",
            vec![op(
                Method::DELETE,
                "Revoke a token (staff)",
                s,
                &[],
                &[204, 401, 403, 404],
            )],
            delete(revoke_token).layer(staff.layer(tessera)),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    search: Option<String>,
    page: Option<String>,
}

async fn list_users(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let page = Page::requested(query.page.as_deref(), state.config.admin.page_size)?;
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let result = state
        .tessera
        .stores()
        .users
        .list_users(search, page.offset(), page.size())
        .await?;
    let results = serde_json::to_value(result.users).unwrap_or_default();
    let params = [("search", query.search.as_deref())];
    Ok(Json(page.body(
        result.count,
        results,
        &headers,
        uri.path(),
        &params,
    )?))
}

#[derive(Debug, Deserialize)]
struct AuditQueryParams {
    user: Option<String>,
    event: Option<String>,
    since: Option<String>,
    page: Option<String>,
}

/// `GET /admin/audit`: the audit log, newest first, filtered by `user` (an
/// id), `event` and `since` (RFC 3339, inclusive).
async fn list_audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQueryParams>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Json<Value>, Rejection> {
    let page = Page::requested(query.page.as_deref(), state.config.admin.page_size)?;
    let mut errors = ValidationErrors::new();
    let nonblank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let user = match nonblank(&query.user) {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("user", "A valid integer is required.");
                None
            }
        },
    };
    let event = match nonblank(&query.event) {
        None => None,
        Some(v) => match v.parse::<EventKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                errors.add(
                    "event",
                    format!("Select a valid choice. {v} is not one of the available choices."),
                );
                None
            }
        },
    };
    let since = match nonblank(&query.since) {
        None => None,
        Some(v) => {
            match time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339) {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.add(
                    "since",
                    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
                );
                    None
                }
            }
        }
    };
    errors.into_result()?;
    let audit_query = AuditQuery {
        user,
        event,
        since,
        offset: page.offset(),
        limit: page.size(),
    };
    let result = state.tessera.stores().audit.query(&audit_query).await?;
    let results = serde_json::to_value(result.events).unwrap_or_default();
    let params = [
        ("user", query.user.as_deref()),
        ("event", query.event.as_deref()),
        ("since", query.since.as_deref()),
    ];
    Ok(Json(page.body(
        result.count,
        results,
        &headers,
        uri.path(),
        &params,
    )?))
}

async fn add_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    JsonObject(data): JsonObject,
) -> Result<(StatusCode, Json<Value>), Rejection> {
    let mut fields = Fields::new(&data);
    let username = fields.char("username", CharField::required());
    let password = fields.char("password", CharField::password());
    let email = fields.email("email");
    let is_staff = fields.boolean("is_staff", false);
    let is_active = fields.boolean("is_active", false);
    if let (Some(u), Some(p)) = (&username, &password) {
        let errors = new_user_errors(
            &state.tessera,
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
        is_active: is_active.unwrap_or(true),
        is_staff: is_staff.unwrap_or(false),
        is_superuser: false,
    };
    let mut event = meta.event(state.tessera.clock().now(), EventKind::UserCreated);
    event.detail = json!({"via": "admin", "by": staff.user.id});
    let created = create_user(&state.tessera, input, event).await?;
    Ok((
        StatusCode::CREATED,
        Json(with_extra(&created.user, created.extra)),
    ))
}

async fn update_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
    JsonObject(data): JsonObject,
) -> Result<Json<User>, Rejection> {
    // A non-numeric id matches no user, as Django's `<int:pk>` would not route it.
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let mut fields = Fields::new(&data);
    let mut update = UserUpdate {
        email: fields.email("email"),
        is_active: fields.boolean("is_active", false),
        is_staff: fields.boolean("is_staff", false),
        is_superuser: fields.boolean("is_superuser", false),
        password_hash: None,
    };
    let password = fields.char("password", CharField::password().optional_password());
    let tessera = &state.tessera;
    let existing = tessera
        .stores()
        .users
        .user_by_id(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Some(password) = &password {
        let email = update.email.as_deref().unwrap_or(&existing.email);
        for message in password_errors(
            tessera,
            &Secret::new(password.clone()),
            &existing.username,
            email,
        ) {
            fields.error("password", message);
        }
    }
    fields.finish()?;
    if let Some(password) = password {
        update.password_hash = Some(tessera.hasher().hash(&Secret::new(password)).await?);
    }
    let mut changed: Vec<&str> = ["email", "is_active", "is_staff", "is_superuser", "password"]
        .into_iter()
        .filter(|f| data.contains_key(*f))
        .collect();
    changed.sort_unstable();
    let detail = json!({"by": staff.user.id, "fields": changed});
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::UserUpdated,
        &existing,
        detail,
    );
    let user = tessera
        .stores()
        .audited
        .update_user_audited(id, update, event)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(user))
}

async fn user_sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let tessera = &state.tessera;
    if tessera.stores().users.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Json(
        super::session::session_views(tessera, id, None).await?,
    ))
}

async fn revoke_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let tessera = &state.tessera;
    let detail = json!({"session_id": id, "by_staff": true});
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::SessionRevoked,
        &staff.user,
        detail,
    );
    if tessera
        .stores()
        .audited
        .delete_session_audited(id, None, event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// A user's JSON with the fields the user-created hooks added.
pub(super) fn with_extra(user: &User, extra: serde_json::Map<String, Value>) -> Value {
    let mut body = serde_json::to_value(user).unwrap_or_default();
    if let Value::Object(map) = &mut body {
        map.extend(extra);
    }
    body
}

async fn user_tokens(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let tessera = &state.tessera;
    if tessera.stores().users.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Json(super::tokens::token_views(tessera, id, None).await?))
}

async fn revoke_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let tessera = &state.tessera;
    let detail = json!({"token_id": id, "by_staff": true});
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::TokenRevoked,
        &staff.user,
        detail,
    );
    if tessera
        .stores()
        .audited
        .delete_token_audited(id, None, event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
