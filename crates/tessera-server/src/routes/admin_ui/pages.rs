//! The pages that read: overview, users, a user, the audit log and its
//! export.

use super::views::{
    self, when, when_or_dash, yes_no, Chart, Choice, EventRow, Layout, Pager, SessionRow, TokenRow,
    UserRow,
};
use super::{csrf_token, error_page, not_found, render, staff, Admin, STYLE_PATH};
use crate::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_axum::ApiError;
use tessera_core::audit::{AuditQuery, AuditRecord, EventKind};
use tessera_core::store::UserQuery;
use time::OffsetDateTime;

/// The most events one export holds, newest first.
pub const EXPORT_LIMIT: u64 = 10_000;

/// The most recent events shown on a user's page.
const USER_EVENTS: u64 = 20;

/// The latest security alerts shown on the overview.
const ALERTS: u64 = 10;

/// The query string's pairs.
fn params(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// A parameter's trimmed value, when not blank.
fn param(params: &[(String, String)], name: &str) -> Option<String> {
    super::field(params, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The requested page number: a positive integer, else the first.
fn page_number(params: &[(String, String)]) -> u64 {
    param(params, "page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// `path?query` with `pairs` (blank ones left out) and `page`.
fn link(path: &str, pairs: &[(&str, String)], page: Option<u64>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(name, value);
    }
    if let Some(page) = page {
        query.append_pair("page", &page.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

fn pager(path: &str, pairs: &[(&str, String)], page: u64, size: u64, count: u64) -> Pager {
    let pages = count.div_ceil(size.max(1)).max(1);
    Pager {
        page,
        pages,
        count,
        prev: (page > 1).then(|| link(path, pairs, Some(page.min(pages + 1) - 1))),
        next: (page < pages).then(|| link(path, pairs, Some(page + 1))),
    }
}

/// The layout of a page for `admin`, and the headers its CSRF token needs.
pub(super) async fn layout(
    state: &AppState,
    parts: &Parts,
    admin: &Admin,
    section: &'static str,
) -> Result<(Layout, HeaderMap), ApiError> {
    let (csrf, headers) = csrf_token(&state.tessera, parts, &admin.session).await?;
    Ok((
        Layout {
            style: STYLE_PATH,
            username: admin.user.username.clone(),
            is_superuser: admin.user.is_superuser,
            csrf,
            section,
        },
        headers,
    ))
}

/// A rendered page with the layout's headers.
fn respond(status: StatusCode, page: &impl askama::Template, headers: HeaderMap) -> Response {
    let mut response = render(status, page);
    response.headers_mut().extend(headers);
    response
}

/// `GET /admin/ui/`: counts, the login charts and the latest alerts.
pub(super) async fn overview(State(state): State<AppState>, parts: Parts) -> Response {
    let admin = match staff(&state, &parts).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    match overview_page(&state, &parts, &admin).await {
        Ok(response) => response,
        Err(error) => error_page(&error),
    }
}

async fn overview_page(
    state: &AppState,
    parts: &Parts,
    admin: &Admin,
) -> Result<Response, ApiError> {
    let tessera = &state.tessera;
    let stores = tessera.stores();
    let now = tessera.clock().now();
    let idle = tessera_axum::authentication::session::idle_timeout(tessera);
    let users = stores.users.query_users(&UserQuery::default()).await?.count;
    let sessions = stores.sessions.count_live_sessions(now, idle).await?;
    let tokens = stores.tokens.count_live_tokens(now).await?;
    let locked = super::locked_usernames(tessera).await?.len() as u64;
    let kinds = [EventKind::LoginSucceeded, EventKind::LoginFailed];
    let hour = now.replace_minute(0).and_then(|t| t.replace_second(0));
    let hour = hour.and_then(|t| t.replace_nanosecond(0)).unwrap_or(now);
    let hours_since = hour - time::Duration::hours(23);
    let hourly = stores
        .audit
        .event_counts(&kinds, hours_since, std::time::Duration::from_secs(3600))
        .await?;
    let day = hour.replace_hour(0).unwrap_or(hour);
    let days_since = day - time::Duration::days(6);
    let daily = stores
        .audit
        .event_counts(&kinds, days_since, std::time::Duration::from_secs(86_400))
        .await?;
    let alerts = stores
        .audit
        .query(&AuditQuery {
            event: Some(EventKind::SecurityAlert),
            limit: ALERTS,
            ..AuditQuery::default()
        })
        .await?;
    let buckets =
        |counts: &[tessera_core::audit::EventCount], n: u64, label: &dyn Fn(u64) -> String| {
            (0..n)
                .map(|i| {
                    let of = |kind| {
                        counts
                            .iter()
                            .filter(|c| c.event == kind && c.bucket == i)
                            .map(|c| c.count)
                            .sum::<u64>()
                    };
                    (
                        label(i),
                        of(EventKind::LoginSucceeded),
                        of(EventKind::LoginFailed),
                    )
                })
                .collect::<Vec<_>>()
        };
    let hour_label = |i: u64| {
        let t = hours_since + time::Duration::hours(i64::try_from(i).unwrap_or(0));
        format!("{:02}:00", t.hour())
    };
    let day_label = |i: u64| {
        let t = days_since + time::Duration::days(i64::try_from(i).unwrap_or(0));
        format!("{:02}-{:02}", u8::from(t.month()), t.day())
    };
    let charts = vec![
        Chart::new(
            "hourly",
            "Logins per hour, last 24 hours (UTC)".to_owned(),
            buckets(&hourly, 24, &hour_label),
            3,
        ),
        Chart::new(
            "daily",
            "Logins per day, last 7 days (UTC)".to_owned(),
            buckets(&daily, 7, &day_label),
            1,
        ),
    ];
    let (layout, headers) = layout(state, parts, admin, "overview").await?;
    let page = views::Overview {
        layout,
        counts: vec![
            ("users", users, "/admin/ui/users".to_owned()),
            (
                "active sessions",
                sessions,
                "/admin/ui/audit?event=login_succeeded".to_owned(),
            ),
            (
                "live tokens",
                tokens,
                "/admin/ui/audit?event=token_created".to_owned(),
            ),
            (
                "locked usernames",
                locked,
                "/admin/ui/users?locked=1".to_owned(),
            ),
        ],
        charts,
        alerts: alerts.events.iter().map(EventRow::from).collect(),
    };
    Ok(respond(StatusCode::OK, &page, headers))
}

/// A yes / no / any filter's value.
fn flag(params: &[(String, String)], name: &str) -> Option<bool> {
    match param(params, name).as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    }
}

fn flag_choices(value: Option<bool>) -> Vec<Choice> {
    [
        ("", "Any", None),
        ("yes", "Yes", Some(true)),
        ("no", "No", Some(false)),
    ]
    .into_iter()
    .map(|(v, label, flag)| Choice {
        value: v.to_owned(),
        label: label.to_owned(),
        selected: flag == value,
    })
    .collect()
}

/// `GET /admin/ui/users`: search (`q`), filters (`staff`, `active`:
/// `yes`/`no`; `locked=1`), pages of the configured admin page size.
pub(super) async fn users(State(state): State<AppState>, parts: Parts) -> Response {
    let admin = match staff(&state, &parts).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    match users_page(&state, &parts, &admin).await {
        Ok(response) => response,
        Err(error) => error_page(&error),
    }
}

async fn users_page(state: &AppState, parts: &Parts, admin: &Admin) -> Result<Response, ApiError> {
    let tessera = &state.tessera;
    let params = params(parts);
    let search = param(&params, "q");
    let is_staff = flag(&params, "staff");
    let is_active = flag(&params, "active");
    let locked = param(&params, "locked").is_some();
    let page = page_number(&params);
    let size = state.config.admin.page_size.max(1);
    let ids = if locked {
        Some(
            super::locked_usernames(tessera)
                .await?
                .into_iter()
                .filter_map(|(_, id)| id)
                .collect(),
        )
    } else {
        None
    };
    let query = UserQuery {
        search: search.clone(),
        is_staff,
        is_active,
        ids,
        offset: (page - 1).saturating_mul(size),
        limit: size,
    };
    let result = tessera.stores().users.query_users(&query).await?;
    let yes_no_any = |v: Option<bool>| match v {
        Some(true) => "yes".to_owned(),
        Some(false) => "no".to_owned(),
        None => String::new(),
    };
    let pairs = [
        ("q", search.clone().unwrap_or_default()),
        ("staff", yes_no_any(is_staff)),
        ("active", yes_no_any(is_active)),
        (
            "locked",
            if locked {
                "1".to_owned()
            } else {
                String::new()
            },
        ),
    ];
    let (layout, headers) = layout(state, parts, admin, "users").await?;
    let rows = result
        .users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            is_staff: yes_no(u.is_staff),
            is_superuser: yes_no(u.is_superuser),
            is_active: yes_no(u.is_active),
            date_joined: when(u.date_joined),
            last_login: when_or_dash(u.last_login),
        })
        .collect();
    let page = views::Users {
        layout,
        search: search.unwrap_or_default(),
        staff: flag_choices(is_staff),
        active: flag_choices(is_active),
        locked,
        rows,
        pager: pager("/admin/ui/users", &pairs, page, size, result.count),
        errors: Vec::new(),
    };
    Ok(respond(StatusCode::OK, &page, headers))
}

/// The message shown after a completed action (`?done=`): only these.
fn flash(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "deactivate" => "The user was deactivated.",
        "reactivate" => "The user was reactivated.",
        "unlock" => "The username was unlocked.",
        "revoke_all" => "Every token and session of the user was revoked.",
        "revoke_token" => "The token was revoked.",
        "revoke_session" => "The session was revoked.",
        "reset_password" => {
            "The password was reset; every token and session of the user was revoked."
        }
        "make_staff" => "The user is now staff.",
        "remove_staff" => "The user is no longer staff.",
        "make_superuser" => "The user is now a superuser.",
        "remove_superuser" => "The user is no longer a superuser.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// `GET /admin/ui/users/{id}`.
pub(super) async fn user(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    parts: Parts,
) -> Response {
    let admin = match staff(&state, &parts).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let done = param(&params(&parts), "done");
    match user_page(&state, &parts, &admin, id, done.as_deref(), Vec::new()).await {
        Ok(response) => response,
        Err(error) => error_page(&error),
    }
}

/// A user's page, with `errors` (of a refused action) shown at the top.
pub(super) async fn user_page(
    state: &AppState,
    parts: &Parts,
    admin: &Admin,
    id: i64,
    done: Option<&str>,
    errors: Vec<String>,
) -> Result<Response, ApiError> {
    let tessera = &state.tessera;
    let stores = tessera.stores();
    let Some(user) = stores.users.user_by_id(id).await? else {
        return Ok(not_found());
    };
    let now = tessera.clock().now();
    let idle = tessera_axum::authentication::session::idle_timeout(tessera);
    let tokens = stores.tokens.list_tokens(id, now).await?;
    let sessions = stores.sessions.list_sessions(id, now, idle).await?;
    let events = stores
        .audit
        .query(&AuditQuery {
            user: Some(id),
            limit: USER_EVENTS,
            ..AuditQuery::default()
        })
        .await?;
    let locked = super::is_locked(tessera, &user.username).await?;
    let (layout, headers) = layout(state, parts, admin, "users").await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = views::UserPage {
        layout,
        id,
        action: format!("/admin/ui/users/{id}/action"),
        username: user.username.clone(),
        email: user.email.clone(),
        is_active: user.is_active,
        is_staff: user.is_staff,
        is_superuser: user.is_superuser,
        date_joined: when(user.date_joined),
        last_login: when_or_dash(user.last_login),
        groups: super::groups_of(&user),
        locked,
        tokens: tokens
            .iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name.clone(),
                scopes: if t.scopes.is_empty() {
                    "all".to_owned()
                } else {
                    t.scopes.join(", ")
                },
                created: when(t.created),
                expires: when_or_dash(t.grace_until.or(t.expires)),
                last_used: when_or_dash(t.last_used),
            })
            .collect(),
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                id: s.id,
                created: when(s.created),
                last_seen: when(s.last_seen),
                ip: s.ip.clone().unwrap_or_default(),
                user_agent: s.user_agent.clone().unwrap_or_default(),
                current: s.id == admin.session.id,
            })
            .collect(),
        events: events.events.iter().map(EventRow::from).collect(),
        audit_link: link(
            "/admin/ui/audit",
            &[("username", user.username.clone())],
            None,
        ),
        can_act: crate::routes::admin::may_act_on(&admin.user, &user),
        can_grant: admin.user.is_superuser,
        flash: flash(done),
        errors,
    };
    Ok(respond(status, &page, headers))
}

/// The audit page's filters, read from the query string.
struct AuditFilters {
    event: Option<EventKind>,
    username: String,
    ip: String,
    since: String,
    until: String,
    query: AuditQuery,
    errors: Vec<String>,
}

/// A `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`, taken as UTC) or an
/// RFC 3339 time.
fn parse_time(value: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(t);
    }
    let with_seconds = if value.len() == 16 {
        format!("{value}:00Z")
    } else {
        format!("{value}Z")
    };
    OffsetDateTime::parse(&with_seconds, &Rfc3339).ok()
}

fn audit_filters(params: &[(String, String)]) -> AuditFilters {
    let mut errors = Vec::new();
    let event = param(params, "event").and_then(|v| match v.parse::<EventKind>() {
        Ok(kind) => Some(kind),
        Err(_) => {
            errors.push(format!(
                "Select a valid choice. {v} is not one of the available choices."
            ));
            None
        }
    });
    let mut time_of = |name: &str, label: &str| {
        let raw = param(params, name).unwrap_or_default();
        let parsed = if raw.is_empty() {
            None
        } else {
            let parsed = parse_time(&raw);
            if parsed.is_none() {
                errors.push(format!("{label}: enter a valid date and time."));
            }
            parsed
        };
        (raw, parsed)
    };
    let (since, since_time) = time_of("since", "From");
    let (until, until_time) = time_of("until", "Until");
    let username = param(params, "username").unwrap_or_default();
    let ip = param(params, "ip").unwrap_or_default();
    let query = AuditQuery {
        event,
        since: since_time,
        until: until_time,
        username: (!username.is_empty()).then(|| username.clone()),
        ip: (!ip.is_empty()).then(|| ip.clone()),
        ..AuditQuery::default()
    };
    AuditFilters {
        event,
        username,
        ip,
        since,
        until,
        query,
        errors,
    }
}

impl AuditFilters {
    fn pairs(&self) -> [(&'static str, String); 5] {
        [
            (
                "event",
                self.event
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("username", self.username.clone()),
            ("ip", self.ip.clone()),
            ("since", self.since.clone()),
            ("until", self.until.clone()),
        ]
    }
}

/// `GET /admin/ui/audit`: the log, newest first, filtered by `event`,
/// `username`, `ip` and the time range `since` (inclusive) to `until`
/// (exclusive), both UTC; a page is one count and one page query.
pub(super) async fn audit(State(state): State<AppState>, parts: Parts) -> Response {
    let admin = match staff(&state, &parts).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    match audit_page(&state, &parts, &admin).await {
        Ok(response) => response,
        Err(error) => error_page(&error),
    }
}

async fn audit_page(state: &AppState, parts: &Parts, admin: &Admin) -> Result<Response, ApiError> {
    let params = params(parts);
    let filters = audit_filters(&params);
    let page = page_number(&params);
    let size = state.config.admin.page_size.max(1);
    let (rows, count) = if filters.errors.is_empty() {
        let query = AuditQuery {
            offset: (page - 1).saturating_mul(size),
            limit: size,
            ..filters.query.clone()
        };
        let result = state.tessera.stores().audit.query(&query).await?;
        (
            result.events.iter().map(EventRow::from).collect(),
            result.count,
        )
    } else {
        (Vec::new(), 0)
    };
    let pairs = filters.pairs();
    let export = |format: &str| {
        let mut with_format = pairs.to_vec();
        with_format.push(("format", format.to_owned()));
        link("/admin/ui/audit/export", &with_format, None)
    };
    let (layout, headers) = layout(state, parts, admin, "audit").await?;
    let mut events = vec![Choice {
        value: String::new(),
        label: "Any".to_owned(),
        selected: filters.event.is_none(),
    }];
    events.extend(EventKind::ALL.iter().map(|kind| Choice {
        value: kind.as_str().to_owned(),
        label: kind.as_str().to_owned(),
        selected: filters.event == Some(*kind),
    }));
    let status = if filters.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = views::Audit {
        layout,
        events,
        username: filters.username.clone(),
        ip: filters.ip.clone(),
        since: filters.since.clone(),
        until: filters.until.clone(),
        rows,
        pager: pager("/admin/ui/audit", &pairs, page, size, count),
        export_csv: export("csv"),
        export_jsonl: export("jsonl"),
        errors: filters.errors,
    };
    Ok(respond(status, &page, headers))
}

/// `GET /admin/ui/audit/export?format=csv|jsonl&<filters>`: the filtered
/// events, newest first, at most [`EXPORT_LIMIT`], as a download.
pub(super) async fn export(State(state): State<AppState>, parts: Parts) -> Response {
    if let Err(response) = staff(&state, &parts).await {
        return response;
    }
    let params = params(&parts);
    let filters = audit_filters(&params);
    if !filters.errors.is_empty() {
        return super::plain_page(
            StatusCode::BAD_REQUEST,
            "400 Bad Request",
            &filters.errors.join(" "),
        );
    }
    let csv = match param(&params, "format").as_deref() {
        Some("csv") | None => true,
        Some("jsonl") => false,
        Some(_) => {
            return super::plain_page(
                StatusCode::BAD_REQUEST,
                "400 Bad Request",
                "Unknown export format: use csv or jsonl.",
            )
        }
    };
    let query = AuditQuery {
        limit: EXPORT_LIMIT,
        ..filters.query
    };
    let events = match state.tessera.stores().audit.query(&query).await {
        Ok(page) => page.events,
        Err(error) => return error_page(&ApiError::from(error)),
    };
    let (body, content_type, name) = if csv {
        (to_csv(&events), "text/csv; charset=utf-8", "audit.csv")
    } else {
        (
            to_json_lines(&events),
            "application/x-ndjson; charset=utf-8",
            "audit.jsonl",
        )
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}

/// The CSV columns of an export.
pub const CSV_HEADER: &str = "id,time,event,user,username,ip,user_agent,request_id,detail";

/// Events as CSV (RFC 4180, CRLF line ends), `detail` as JSON. A cell a
/// spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, CR first)
/// is prefixed with `'` (OWASP's CSV injection advice): usernames and user
/// agents are the client's text.
pub fn to_csv(events: &[AuditRecord]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for e in events {
        let time = serde_json::to_value(e)
            .ok()
            .and_then(|v| v.get("time").and_then(|t| t.as_str().map(str::to_owned)))
            .unwrap_or_default();
        let cells = [
            e.id.to_string(),
            time,
            e.event.as_str().to_owned(),
            e.user.map(|u| u.to_string()).unwrap_or_default(),
            e.username.clone(),
            e.ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            serde_json::to_string(&e.detail).unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// Events as JSON Lines: one `/admin/audit` event object a line.
pub fn to_json_lines(events: &[AuditRecord]) -> String {
    let mut out = String::new();
    for e in events {
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("-1,2"), "\"'-1,2\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn datetime_local_values_are_utc() {
        let t = time::macros::datetime!(2026-01-02 03:04:00 UTC);
        assert_eq!(parse_time("2026-01-02T03:04"), Some(t));
        assert_eq!(parse_time("2026-01-02T03:04:00"), Some(t));
        assert_eq!(parse_time("2026-01-02T04:04:00+01:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }
}
