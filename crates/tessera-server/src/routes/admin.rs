//! Staff-only user administration: list (search, pages), create, update.
//!
//! A user is shown here as API.md's `User` plus `"groups"`: the names of the
//! user's groups (Django's, carried over by `tessera import-django`), sorted;
//! `[]` for none. The other routes' `User` (`/auth/me`, login answers) has
//! no `groups`.

use super::pagination::Page;
use crate::openapi::{op, Auth, Returns, Routes, Shape};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::http::StatusCode;
use axum::http::Uri;
use axum::routing::{delete, get, patch};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use tessera_axum::accounts::{create_user, new_user_errors, password_errors, UserInput};
use tessera_axum::audit::RequestMeta;
use tessera_axum::body::JsonObject;
use tessera_axum::fields::{CharField, Fields};
use tessera_axum::{ApiError, AuthUser, Policy, Rejection, Tessera, ValidationErrors};
use tessera_core::audit::{AuditQuery, EventKind};
use tessera_core::permission::IsStaff;
use tessera_core::scope;
use tessera_core::secret::Secret;
use tessera_core::user::UserUpdate;
use tessera_core::User;

pub(super) fn routes(tessera: &Tessera) -> Routes {
    // Staff only, a token scoped `admin` (or unscoped, or a session), and a
    // recent password proof for every write.
    let staff = Policy::new()
        .permission(IsStaff)
        .require_recent_auth_for_writes();
    let s = Auth::Default;
    let a = scope::ADMIN;
    Routes::new()
        .guarded(
            tessera,
            "/admin/users",
            vec![
                op(
                    Method::GET,
                    "Users, searched and paginated, each with its groups (staff)",
                    s,
                    &[],
                    &[200, 401, 403, 404],
                )
                .scope(a)
                .query(&["search?", "page?"])
                .returns(Returns::Page(Shape::AdminUser)),
                op(
                    Method::POST,
                    "Create a user (staff; a staff account only by a superuser)",
                    s,
                    &["username", "password", "email?", "is_staff?", "is_active?"],
                    &[201, 400, 401, 403],
                )
                .scope(a)
                .returns(Returns::Json(Shape::AdminUser)),
            ],
            staff.clone(),
            get(list_users).post(add_user),
        )
        .guarded(
            tessera,
            "/admin/users/{id}",
            vec![op(
                Method::PATCH,
                "Update a user: flags, e-mail, password reset (staff; privileges and staff accounts only by a superuser)",
                s,
                &[
                    "is_active?",
                    "is_staff?",
                    "is_superuser?",
                    "email?",
                    "password?",
                ],
                &[200, 400, 401, 403, 404],
            )
            .scope(a)
            .returns(Returns::Json(Shape::AdminUser))],
            staff.clone(),
            patch(update_user),
        )
        .guarded(
            tessera,
            "/admin/users/{id}/sessions",
            vec![op(
                Method::GET,
                "A user's sessions (staff)",
                s,
                &[],
                &[200, 400, 401, 403, 404],
            )
            .scope(a)
            .returns(Returns::List(Shape::Session))],
            staff.clone(),
            get(user_sessions),
        )
        .guarded(
            tessera,
            "/admin/sessions/{id}",
            vec![op(
                Method::DELETE,
                "Revoke a session (staff; a staff account's only by a superuser)",
                s,
                &[],
                &[204, 400, 401, 403, 404],
            )
            .scope(a)],
            staff.clone(),
            delete(revoke_session),
        )
        .guarded(
            tessera,
            "/admin/audit",
            vec![op(
                Method::GET,
                "The audit log, filtered by user, event and since, paginated (staff)",
                s,
                &[],
                &[200, 400, 401, 403, 404],
            )
            .scope(a)
            .query(&["user?", "event?", "since?", "page?"])
            .returns(Returns::Page(Shape::AuditEvent))],
            staff.clone(),
            get(list_audit),
        )
        .guarded(
            tessera,
            "/admin/users/{id}/tokens",
            vec![op(
                Method::GET,
                "A user's tokens (staff)",
                s,
                &[],
                &[200, 400, 401, 403, 404],
            )
            .scope(a)
            .returns(Returns::List(Shape::Token))],
            staff.clone(),
            get(user_tokens),
        )
        .guarded(
            tessera,
            "/admin/tokens/{id}",
            vec![op(
                Method::DELETE,
                "Revoke a token (staff; a staff account's only by a superuser)",
                s,
                &[],
                &[204, 400, 401, 403, 404],
            )
            .scope(a)],
            staff,
            delete(revoke_token),
        )
}

/// The administration's privilege rule: staff may act on accounts that are
/// neither staff nor superuser; only a superuser may act on a staff or
/// superuser account (its own included: a staff user changes its own e-mail
/// or password through `/auth/`, where the old password is asked for). A
/// staff user who could reset a superuser's password could log in as them.
pub(crate) fn may_act_on(actor: &User, target: &User) -> bool {
    actor.is_superuser || !(target.is_staff || target.is_superuser)
}

/// The `403` of an administrative action the actor's rank does not allow.
fn not_allowed() -> ApiError {
    ApiError::permission_denied(None)
}

/// A path id: an integer, else a `400` field error (`id`).
pub(crate) fn path_id(raw: &str) -> Result<i64, ValidationErrors> {
    raw.parse()
        .map_err(|_| ValidationErrors::single("id", "A valid integer is required."))
}

/// Refuses any field of `data` not in `allowed`: `400` with
/// `This field is read-only.` for the User's other fields, `Unknown field.`
/// for anything else. A body that tries to set `id` or `date_joined` changes
/// nothing rather than having those fields silently ignored.
fn only_fields(fields: &mut Fields<'_>, data: &serde_json::Map<String, Value>, allowed: &[&str]) {
    const USER_FIELDS: &[&str] = &[
        "id",
        "username",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "date_joined",
        "last_login",
    ];
    for name in data.keys().filter(|k| !allowed.contains(&k.as_str())) {
        let message = if USER_FIELDS.contains(&name.as_str()) {
            "This field is read-only."
        } else {
            "Unknown field."
        };
        fields.error(name, message);
    }
}

/// The query string's parameters, the last value of a repeated one winning
/// (Django's `QueryDict.get`). Never a rejection (axum's `Query` answers a
/// repeated name with a plain-text `400`): each value is validated on its own.
fn query_params(query: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

#[derive(Debug)]
struct ListQuery {
    search: Option<String>,
    page: Option<String>,
}

impl ListQuery {
    fn of(query: Option<&str>) -> Self {
        let mut params = query_params(query);
        ListQuery {
            search: params.remove("search"),
            page: params.remove("page"),
        }
    }
}

async fn list_users(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
    origin: super::hosts::RequestOrigin,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::of(query.as_deref());
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
    let results = Value::Array(result.users.iter().map(admin_view).collect());
    let params = [("search", query.search.as_deref())];
    Ok(Json(page.body(
        result.count,
        results,
        &origin,
        uri.path(),
        &params,
    )?))
}

#[derive(Debug)]
struct AuditQueryParams {
    user: Option<String>,
    event: Option<String>,
    since: Option<String>,
    page: Option<String>,
}

impl AuditQueryParams {
    fn of(query: Option<&str>) -> Self {
        let mut params = query_params(query);
        AuditQueryParams {
            user: params.remove("user"),
            event: params.remove("event"),
            since: params.remove("since"),
            page: params.remove("page"),
        }
    }
}

/// `GET /admin/audit`: the audit log, newest first, filtered by `user` (an
/// id), `event` and `since` (RFC 3339, inclusive).
async fn list_audit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    uri: Uri,
    origin: super::hosts::RequestOrigin,
) -> Result<Json<Value>, Rejection> {
    let query = AuditQueryParams::of(query.as_deref());
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
        ..AuditQuery::default()
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
        &origin,
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
    only_fields(
        &mut fields,
        &data,
        &["username", "password", "email", "is_staff", "is_active"],
    );
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
    // Granting a privilege is a superuser's act, even `is_staff: false`
    // spelled out by staff is refused: the field is not theirs to set.
    if data.contains_key("is_staff") && !staff.user.is_superuser {
        return Err(not_allowed().into());
    }
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

/// `PATCH /admin/users/{id}`. A password reset ends every session and token
/// of the user in the same transaction as the new hash (a thief holding a
/// key keeps nothing); a deactivation, as in DRF, refuses the credentials
/// while it lasts and revokes nothing.
async fn update_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
    JsonObject(data): JsonObject,
) -> Result<Json<Value>, Rejection> {
    let id = path_id(&id)?;
    let mut fields = Fields::new(&data);
    only_fields(
        &mut fields,
        &data,
        &["email", "is_active", "is_staff", "is_superuser", "password"],
    );
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
    // Rank before validation: a refused actor learns nothing of the body.
    let privileges = data.contains_key("is_staff") || data.contains_key("is_superuser");
    if !may_act_on(&staff.user, &existing) || (privileges && !staff.user.is_superuser) {
        return Err(not_allowed().into());
    }
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
    let reset = update.password_hash.is_some();
    let detail = json!({"by": staff.user.id, "fields": changed, "credentials_revoked": reset});
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::UserUpdated,
        &existing,
        detail,
    );
    let audited = &tessera.stores().audited;
    let user = if reset {
        audited
            .update_user_and_revoke_audited(id, update, None, None, event)
            .await?
    } else {
        audited.update_user_audited(id, update, event).await?
    };
    let user = user.ok_or_else(ApiError::not_found)?;
    Ok(Json(admin_view(&user)))
}

async fn user_sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Rejection> {
    let id = path_id(&id)?;
    let tessera = &state.tessera;
    if tessera.stores().users.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found().into());
    }
    Ok(Json(
        tessera_axum::views::session_list(tessera, id, None).await?,
    ))
}

/// Whether `actor` may revoke a credential of the user with id `owner`
/// (`None`: the credential does not exist, which the delete reports as 404).
async fn may_revoke_of(
    tessera: &Tessera,
    actor: &User,
    owner: Option<i64>,
) -> Result<(), ApiError> {
    let Some(owner) = owner else { return Ok(()) };
    match tessera.stores().users.user_by_id(owner).await? {
        Some(target) if !may_act_on(actor, &target) => Err(not_allowed()),
        _ => Ok(()),
    }
}

async fn revoke_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, Rejection> {
    let id = path_id(&id)?;
    let tessera = &state.tessera;
    let owner = tessera.stores().sessions.session_owner(id).await?;
    may_revoke_of(tessera, &staff.user, owner).await?;
    let detail = json!({"session_id": id, "owner": owner, "by_staff": true});
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::SessionRevoked,
        &staff.user,
        detail,
    );
    // Deleted only if still the same owner's (ids are never reused, but the
    // check and the delete are two steps).
    if tessera
        .stores()
        .audited
        .delete_session_audited(id, owner, event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found().into())
    }
}

/// A user as the administration shows it: API.md's `User` and `"groups"`,
/// the group names, sorted.
pub(crate) fn admin_view(user: &User) -> Value {
    let mut body = serde_json::to_value(user).unwrap_or_default();
    if let Value::Object(map) = &mut body {
        let mut groups = user.groups.clone();
        groups.sort_unstable();
        map.insert("groups".to_owned(), json!(groups));
    }
    body
}

/// A user's JSON as the administration shows it ([`admin_view`]) with the
/// fields the user-created hooks added.
pub(super) fn with_extra(user: &User, extra: serde_json::Map<String, Value>) -> Value {
    let mut body = admin_view(user);
    if let Value::Object(map) = &mut body {
        map.extend(extra);
    }
    body
}

async fn user_tokens(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Rejection> {
    let id = path_id(&id)?;
    let tessera = &state.tessera;
    if tessera.stores().users.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found().into());
    }
    Ok(Json(
        tessera_axum::views::token_list(tessera, id, None).await?,
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    AuthUser(staff): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, Rejection> {
    let id = path_id(&id)?;
    let tessera = &state.tessera;
    let owner = tessera
        .stores()
        .tokens
        .token_by_id(id)
        .await?
        .map(|t| t.user_id);
    may_revoke_of(tessera, &staff.user, owner).await?;
    let detail = json!({"token_id": id, "owner": owner, "by_staff": true});
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::TokenRevoked,
        &staff.user,
        detail,
    );
    if tessera
        .stores()
        .audited
        .delete_token_audited(id, owner, event)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found().into())
    }
}
