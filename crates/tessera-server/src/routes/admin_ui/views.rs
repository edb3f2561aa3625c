//! The pages' templates (`templates/admin/`, compiled in) and what they show.
//! Everything a template prints is escaped as HTML; values are prepared
//! here as text, so that the templates stay free of logic.

use askama::Template;
use tessera_core::audit::AuditRecord;
use time::OffsetDateTime;

/// What every page of the layout shows: who is signed in, the navigation,
/// the sign-out form's token.
pub(crate) struct Layout {
    pub style: &'static str,
    pub username: String,
    pub is_superuser: bool,
    pub csrf: String,
    /// `overview`, `users` or `audit`: the current section.
    pub section: &'static str,
}

/// A time as the pages show it: UTC, to the second.
pub(crate) fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An optional time, or a dash.
pub(crate) fn when_or_dash(t: Option<OffsetDateTime>) -> String {
    t.map_or_else(|| "—".to_owned(), when)
}

/// A yes/no flag as text.
pub(crate) fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

/// One audit event, as text.
pub(crate) struct EventRow {
    pub id: i64,
    pub time: String,
    pub event: &'static str,
    pub username: String,
    pub user: String,
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
    pub detail: String,
    /// Whether the event calls for attention (failures, alerts, lockouts).
    pub alert: bool,
}

impl From<&AuditRecord> for EventRow {
    fn from(record: &AuditRecord) -> Self {
        use tessera_core::audit::EventKind as K;
        EventRow {
            id: record.id,
            time: when(record.time),
            event: record.event.as_str(),
            username: record.username.clone(),
            user: record.user.map(|id| id.to_string()).unwrap_or_default(),
            ip: record.ip.clone().unwrap_or_default(),
            user_agent: record.user_agent.clone().unwrap_or_default(),
            request_id: record.request_id.clone().unwrap_or_default(),
            detail: serde_json::to_string_pretty(&record.detail).unwrap_or_default(),
            alert: matches!(
                record.event,
                K::LoginFailed | K::Lockout | K::SecurityAlert | K::CsrfFailed
            ),
        }
    }
}

/// One bar group of a chart: a bucket's logins and failed logins.
pub(crate) struct Bar {
    pub label: String,
    pub ok: u64,
    pub failed: u64,
    pub x_ok: u32,
    pub x_failed: u32,
    pub y_ok: u32,
    pub h_ok: u32,
    pub y_failed: u32,
    pub h_failed: u32,
    pub label_x: u32,
    /// Whether the label is drawn under the bar (every few bars).
    pub show_label: bool,
}

/// A bar chart of logins and failed logins, drawn as inline SVG, with the
/// same numbers in a table under it.
pub(crate) struct Chart {
    pub id: &'static str,
    pub title: String,
    pub width: u32,
    pub bars: Vec<Bar>,
    pub max: u64,
    pub total_ok: u64,
    pub total_failed: u64,
}

/// The chart's drawing area.
pub(crate) const CHART_HEIGHT: u32 = 120;
const BAR_WIDTH: u32 = 8;
const GROUP_WIDTH: u32 = 2 * BAR_WIDTH + 6;
/// Room left and right for the labels, which are centred on their bars.
const MARGIN: u32 = 16;

impl Chart {
    /// A chart of `buckets`: `(label, logins, failed logins)`, a label drawn
    /// every `label_every` bars.
    pub(crate) fn new(
        id: &'static str,
        title: String,
        buckets: Vec<(String, u64, u64)>,
        label_every: usize,
    ) -> Chart {
        let max = buckets
            .iter()
            .map(|(_, ok, failed)| (*ok).max(*failed))
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = |n: u64| -> u32 {
            let h = n.saturating_mul(u64::from(CHART_HEIGHT)) / max;
            u32::try_from(h).unwrap_or(CHART_HEIGHT)
        };
        let (mut total_ok, mut total_failed) = (0, 0);
        let bars = buckets
            .into_iter()
            .enumerate()
            .map(|(i, (label, ok, failed))| {
                total_ok += ok;
                total_failed += failed;
                let x = u32::try_from(i).unwrap_or(0) * GROUP_WIDTH + MARGIN;
                let (h_ok, h_failed) = (scale(ok), scale(failed));
                Bar {
                    label,
                    ok,
                    failed,
                    x_ok: x,
                    x_failed: x + BAR_WIDTH,
                    y_ok: CHART_HEIGHT - h_ok,
                    h_ok,
                    y_failed: CHART_HEIGHT - h_failed,
                    h_failed,
                    label_x: x + BAR_WIDTH,
                    show_label: label_every > 0 && i % label_every == 0,
                }
            })
            .collect::<Vec<_>>();
        let width = u32::try_from(bars.len()).unwrap_or(0) * GROUP_WIDTH + 2 * MARGIN;
        Chart {
            id,
            title,
            width,
            bars,
            max,
            total_ok,
            total_failed,
        }
    }

    /// The SVG's height: the bars and a line of labels.
    pub(crate) fn height(&self) -> u32 {
        CHART_HEIGHT + 18
    }

    /// The baseline of the labels.
    pub(crate) fn label_y(&self) -> u32 {
        CHART_HEIGHT + 14
    }
}

/// `/admin/ui/`.
#[derive(Template)]
#[template(path = "admin/overview.html")]
pub(crate) struct Overview {
    pub layout: Layout,
    pub counts: Vec<(&'static str, u64, String)>,
    /// The last 24 hours, then the last 7 days.
    pub charts: Vec<Chart>,
    pub alerts: Vec<EventRow>,
}

/// One user in the list.
pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_staff: &'static str,
    pub is_superuser: &'static str,
    pub is_active: &'static str,
    pub date_joined: String,
    pub last_login: String,
}

/// A choice of a select: value, label, whether selected.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Previous and next page links, and where we are.
pub(crate) struct Pager {
    pub page: u64,
    pub pages: u64,
    pub count: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// `/admin/ui/users`.
#[derive(Template)]
#[template(path = "admin/users.html")]
pub(crate) struct Users {
    pub layout: Layout,
    pub search: String,
    pub staff: Vec<Choice>,
    pub active: Vec<Choice>,
    pub locked: bool,
    pub rows: Vec<UserRow>,
    pub pager: Pager,
    pub errors: Vec<String>,
}

/// One token of a user.
pub(crate) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
}

/// One session of a user.
pub(crate) struct SessionRow {
    pub id: i64,
    pub created: String,
    pub last_seen: String,
    pub ip: String,
    pub user_agent: String,
    /// The session of the page's viewer.
    pub current: bool,
}

/// `/admin/ui/users/{id}`.
#[derive(Template)]
#[template(path = "admin/user.html")]
pub(crate) struct UserPage {
    pub layout: Layout,
    pub id: i64,
    pub action: String,
    pub username: String,
    pub email: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: String,
    pub last_login: String,
    pub groups: Vec<String>,
    pub locked: bool,
    pub tokens: Vec<TokenRow>,
    pub sessions: Vec<SessionRow>,
    pub events: Vec<EventRow>,
    pub audit_link: String,
    /// Whether the viewer may act on this account at all.
    pub can_act: bool,
    /// Whether the viewer is a superuser (grants and removes privileges).
    pub can_grant: bool,
    pub flash: Option<String>,
    pub errors: Vec<String>,
}

/// `/admin/ui/audit`.
#[derive(Template)]
#[template(path = "admin/audit.html")]
pub(crate) struct Audit {
    pub layout: Layout,
    pub events: Vec<Choice>,
    pub username: String,
    pub ip: String,
    pub since: String,
    pub until: String,
    pub rows: Vec<EventRow>,
    pub pager: Pager,
    pub export_csv: String,
    pub export_jsonl: String,
    pub errors: Vec<String>,
}

/// The confirmation of an action, and the password prompt of one that
/// needs a recent password proof: the action's fields carried in hidden
/// inputs with a fresh CSRF token.
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub(crate) struct Confirm {
    pub layout: Layout,
    pub heading: String,
    pub text: String,
    pub action: String,
    pub hidden: Vec<(String, String)>,
    pub needs_password: bool,
    pub new_password: bool,
    pub button: String,
    pub back: String,
    pub error: Option<String>,
}

/// A page of one message, outside the layout (errors).
#[derive(Template)]
#[template(path = "admin/message.html")]
pub(crate) struct Message {
    pub title: String,
    pub message: String,
    pub style: &'static str,
}

/// Django's CSRF failure page.
#[derive(Template)]
#[template(path = "admin/csrf_failure.html")]
pub(crate) struct CsrfFailure {
    pub style: &'static str,
}
