//! Staff-only user administration: list (search, pages), create, update.

use crate::AppState;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{delete, get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_axum::accounts::{create_user, new_user_errors, password_errors, UserInput};
use tessera_axum::body::JsonObject;
use tessera_axum::fields::{CharField, Fields};
use tessera_axum::{ApiError, Policy, Rejection, Tessera};
use tessera_core::permission::IsStaff;
use tessera_core::secret::Secret;
use tessera_core::user::UserUpdate;
use tessera_core::User;

pub(super) fn routes(tessera: &Tessera) -> Router<AppState> {
    let staff = Policy::new().permission(IsStaff);
    Router::new()
        .route(
            "/admin/users",
            get(list_users).post(add_user).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/users/{id}",
            patch(update_user).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/users/{id}/sessions",
            get(user_sessions).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/sessions/{id}",
            delete(revoke_session).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/users/{id}/tokens",
            get(user_tokens).layer(staff.layer(tessera)),
        )
        .route(
            "/admin/tokens/{id}",
            delete(revoke_token).layer(staff.layer(tessera)),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    search: Option<String>,
    page: Option<String>,
}

/// DRF's `PageNumberPagination` message for a page that does not exist.
const INVALID_PAGE: &str = "Invalid page.";

async fn list_users(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let page_size = state.config.admin.page_size.max(1);
    let page: u64 = match query.page.as_deref() {
        None | Some("") => 1,
        Some(p) => p
            .parse()
            .ok()
            .filter(|&p| p >= 1)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", INVALID_PAGE))?,
    };
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let offset = (page - 1).saturating_mul(page_size);
    let result = state
        .tessera
        .stores()
        .users
        .list_users(search, offset, page_size)
        .await?;
    let pages = result.count.div_ceil(page_size).max(1);
    if page > pages {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            INVALID_PAGE,
        ));
    }
    let link = |p: u64| page_link(&headers, uri.path(), query.search.as_deref(), p);
    Ok(Json(json!({
        "count": result.count,
        "next": (page < pages).then(|| link(page + 1)),
        "previous": (page > 1).then(|| link(page - 1)),
        "results": result.users,
    })))
}

/// DRF's page links: absolute, `page` dropped for the first page.
fn page_link(headers: &HeaderMap, path: &str, search: Option<&str>, page: u64) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    if let Some(search) = search {
        query.append_pair("search", search);
    }
    let query = query.finish();
    if query.is_empty() {
        format!("http://{host}{path}")
    } else {
        format!("http://{host}{path}?{query}")
    }
}

async fn add_user(
    State(state): State<AppState>,
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
    let created = create_user(&state.tessera, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(with_extra(&created.user, created.extra)),
    ))
}

async fn update_user(
    State(state): State<AppState>,
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
    let user = tessera
        .stores()
        .users
        .update_user(id, update)
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
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    if state
        .tessera
        .stores()
        .sessions
        .delete_session(id, None)
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
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    if state.tessera.stores().tokens.delete_token(id, None).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
