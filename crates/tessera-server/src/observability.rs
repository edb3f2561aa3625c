//! Logs, request ids and metrics.
//!
//! - Logs go through `tracing` to stderr, as JSON lines by default or in a
//!   human-readable form with `TESSERA_LOG_FORMAT=text`; `RUST_LOG` filters
//!   them (default `info`). A request formats its line and appends it to a
//!   buffer that a thread of its own writes to stderr every 10 ms while
//!   lines come ([`LogThread`]): the request does not wait for the
//!   write, and a busy server makes one system call for hundreds of lines,
//!   not one a line.
//! - Request ids and the request log are the library's
//!   ([`tessera_axum::observability`]), re-exported here:
//!   every request gets an id: the client's `X-Request-Id` when it is sane (at
//!   most 64 characters of `[A-Za-z0-9._-]`), else a random one. It is put in
//!   the request's extensions as [`RequestId`](tessera_axum::audit::RequestId) (the audit log records it),
//!   in every line logged while the request is answered (its log scope,
//!   [`JsonLines`], or with the text format its span), in its log line and
//!   in the response's `X-Request-Id`.
//! - One log line per request: method, path (never the query string, which
//!   may hold secrets), matched route, status, latency and request id. No
//!   header is logged; `Authorization`, `Cookie` and `Set-Cookie` are marked
//!   sensitive besides, so that any debug output of them is redacted.
//! - `GET /metrics` answers the application's own Prometheus registry
//!   ([`tessera_axum::metrics`]).

use axum::extract::State;
use axum::http::Method;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tessera_axum::metrics::CONTENT_TYPE;
use tessera_axum::{ApiError, Tessera};
use tessera_core::log_scope;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

pub use tessera_axum::observability::{
    instrument, is_sane_request_id, logged_path, new_request_id, request_id, MAX_LOGGED_PATH,
    MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER,
};

/// The environment variable choosing the log format: `json` (default) or
/// `text`.
pub const LOG_FORMAT_VAR: &str = "TESSERA_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, the event's fields at the top level.
    Json,
    /// tracing-subscriber's human-readable lines.
    Text,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            other => Err(format!(
                "unknown {LOG_FORMAT_VAR} {other:?} (expected \"json\" or \"text\")"
            )),
        }
    }
}

/// Installs the process's log subscriber: stderr, filtered by `RUST_LOG`
/// (default `info`), in the format `TESSERA_LOG_FORMAT` names. An unknown
/// format falls back to JSON with a warning. Does nothing when a subscriber is
/// already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let requested = std::env::var(LOG_FORMAT_VAR).unwrap_or_default();
    let (format, problem) = match requested.parse::<LogFormat>() {
        Ok(format) => (format, None),
        Err(problem) => (LogFormat::Json, Some(problem)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter(LogThread::global()));
    let installed = match format {
        LogFormat::Json => builder
            .event_format(JsonLines::new())
            .fmt_fields(SpanFields)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() && format == LogFormat::Json {
        JSON_LINES.store(true, Ordering::Relaxed);
    }
    if let (Ok(()), Some(problem)) = (installed, problem) {
        tracing::warn!("{problem}; logging JSON");
    }
}

/// Whether a request's log lines are named by its log scope
/// ([`tessera_core::log_scope`], what [`JsonLines`] reads) rather than by a
/// `tracing` span: with the JSON lines [`init_logging`] installed.
pub(crate) fn request_scopes() -> bool {
    JSON_LINES.load(Ordering::Relaxed)
}

/// The JSON lines of [`init_logging`]: tracing-subscriber's JSON format
/// (the event's fields at the top level, then `target`, then the current
/// span as `"span"`), and for a line logged in a request's log scope
/// ([`tessera_core::log_scope`]) with no span current, the span a request's
/// line had when every request opened a `tracing` span:
/// `"span":{"request_id":"…","name":"request"}`, the line's last key. A
/// test compares both lines byte for byte.
#[derive(Debug)]
pub struct JsonLines<T = tracing_subscriber::fmt::time::SystemTime>(Format<Json, T>);

impl JsonLines {
    /// The format [`init_logging`] installs.
    pub fn new() -> Self {
        Self(
            tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        )
    }

    /// The same lines without their `timestamp`.
    pub fn without_time(self) -> JsonLines<()> {
        JsonLines(self.0.without_time())
    }
}

impl Default for JsonLines {
    fn default() -> Self {
        Self::new()
    }
}

impl<S, N, T> FormatEvent<S, N> for JsonLines<T>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        // A span of the event's own, or a current one, is shown as ever.
        let scope = match log_scope::current() {
            Some(scope) if event.parent().is_none() && ctx.lookup_current().is_none() => scope,
            _ => return self.0.format_event(ctx, writer, event),
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let Some(object) = line.strip_suffix("}\n") else {
            return writer.write_str(&line);
        };
        let mut span = Vec::with_capacity(64);
        json_string(&mut span, scope.request_id());
        writer.write_str(object)?;
        writer.write_str(",\"span\":{\"request_id\":")?;
        writer.write_str(std::str::from_utf8(&span).map_err(|_| fmt::Error)?)?;
        writer.write_str(",\"name\":\"request\"}}\n")
    }
}

/// The fields of a span as the JSON log lines show them (`"span":{...}`):
/// the same JSON object as tracing-subscriber's `JsonFields` (fields sorted
/// by name, the last value of a repeated name, the same values), written
/// straight into one buffer. `JsonFields` builds a map of `serde_json`
/// values and serialises it through a writer adaptor, a few thousand
/// instructions for the request span that every request opens (callgrind);
/// a test compares the two formatters' lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanFields;

impl<'writer> FormatFields<'writer> for SpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        writer.write_str(&FieldsVisitor::object_of(&fields))
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let added = FieldsVisitor::object_of(fields);
        if current.fields.is_empty() {
            current.fields = added;
            return Ok(());
        }
        // A field recorded after the span began (rare): merged as
        // `JsonFields` merges it, through a map.
        let mut map: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&current.fields).map_err(|_| fmt::Error)?;
        let added: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&added).map_err(|_| fmt::Error)?;
        map.extend(added);
        current.fields = serde_json::to_string(&map).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// The fields of [`SpanFields`], written as a JSON object in the order they
/// are recorded (`{"name":value,...`). That is the object itself when each
/// name came after the one before, as they mostly do (the request span has
/// one field); else the fields are recorded again with the place of each
/// value kept, and put in order from there.
#[derive(Debug)]
struct FieldsVisitor {
    out: Vec<u8>,
    last: Option<&'static str>,
    in_order: bool,
    /// Each field's name and the place of its value in `out`, when kept.
    places: Option<Vec<(&'static str, std::ops::Range<usize>)>>,
}

/// `value` as a JSON string, byte for byte as serde_json writes it (which
/// tracing-subscriber's JSON formatter uses): as is between quotes when
/// nothing in it needs escaping (serde_json escapes `"`, `\` and the
/// control characters below U+0020, nothing else), else through serde_json.
/// A request id, a method, a route and most paths need none, and serde_json
/// costs a few hundred instructions a string even then.
fn json_string(out: &mut Vec<u8>, value: &str) {
    if !needs_escape(value.as_bytes()) {
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

/// Whether `bytes` holds a byte serde_json escapes in a string: `"`, `\`
/// or one below 0x20. Sixteen bytes a step, as arrays the compiler checks
/// with vector instructions (a fold over the bytes one at a time is not
/// vectorised: about 130 instructions for a 32-byte request id); the last
/// sixteen bytes of a longer string are checked as one more such step,
/// overlapping the one before, and a shorter string is padded to sixteen.
fn needs_escape(bytes: &[u8]) -> bool {
    fn escaped(b: u8) -> bool {
        (b < 0x20) | (b == b'"') | (b == b'\\')
    }
    fn any_escaped(chunk: &[u8; 16]) -> bool {
        chunk.iter().fold(false, |found, &b| found | escaped(b))
    }
    if bytes.len() < 16 {
        // Padded with a byte that needs no escape: one step, not a loop of
        // seven instructions a byte.
        let mut padded = [b'a'; 16];
        padded[..bytes.len()].copy_from_slice(bytes);
        return any_escaped(&padded);
    }
    let mut found = false;
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        if let Ok(chunk) = <&[u8; 16]>::try_from(chunk) {
            found |= any_escaped(chunk);
        }
    }
    if !chunks.remainder().is_empty() {
        if let Ok(last) = <&[u8; 16]>::try_from(&bytes[bytes.len() - 16..]) {
            found |= any_escaped(last);
        }
    }
    found
}

impl FieldsVisitor {
    fn new(keep_places: bool) -> Self {
        let mut out = Vec::with_capacity(64);
        out.push(b'{');
        Self {
            out,
            last: None,
            in_order: true,
            places: keep_places.then(Vec::new),
        }
    }

    /// The JSON object of `fields`: names in order, the last value of a
    /// repeated name.
    fn object_of(fields: &impl RecordFields) -> String {
        let mut visitor = Self::new(false);
        fields.record(&mut visitor);
        if !visitor.in_order {
            visitor = Self::new(true);
            fields.record(&mut visitor);
        }
        visitor.object()
    }

    /// Writes `"name":` (after a comma but for the first); where its value
    /// starts.
    fn name(&mut self, name: &'static str) -> usize {
        if let Some(last) = self.last {
            self.in_order &= last < name;
            self.out.push(b',');
        }
        self.last = Some(name);
        json_string(&mut self.out, name);
        self.out.push(b':');
        self.out.len()
    }

    fn placed(&mut self, name: &'static str, start: usize) {
        let end = self.out.len();
        if let Some(places) = &mut self.places {
            places.push((name, start..end));
        }
    }

    fn push_str(&mut self, name: &'static str, value: &str) {
        let start = self.name(name);
        json_string(&mut self.out, value);
        self.placed(name, start);
    }

    fn push(&mut self, name: &'static str, value: &(impl serde::Serialize + ?Sized)) {
        let start = self.name(name);
        if serde_json::to_writer(&mut self.out, value).is_err() {
            self.out.truncate(start);
            self.out.extend_from_slice(b"null");
        }
        self.placed(name, start);
    }

    fn object(self) -> String {
        let out = match self.places {
            Some(mut places) if !self.in_order => {
                places.sort_by_key(|(name, _)| *name);
                let mut sorted = Vec::with_capacity(self.out.len() + 1);
                sorted.push(b'{');
                let mut first = true;
                for (at, (name, range)) in places.iter().enumerate() {
                    if places.get(at + 1).is_some_and(|(next, _)| next == name) {
                        continue;
                    }
                    if !first {
                        sorted.push(b',');
                    }
                    first = false;
                    json_string(&mut sorted, name);
                    sorted.push(b':');
                    sorted.extend_from_slice(&self.out[range.clone()]);
                }
                sorted.push(b'}');
                sorted
            }
            _ => {
                let mut out = self.out;
                out.push(b'}');
                out
            }
        };
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }
}

impl tracing::field::Visit for FieldsVisitor {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.push(field.name(), &value);
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.push(field.name(), &value);
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.push(field.name(), &value);
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.push(field.name(), &value);
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.push_str(field.name(), value);
    }

    fn record_bytes(&mut self, field: &tracing::field::Field, value: &[u8]) {
        self.push(field.name(), value);
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        // As `JsonFields`: `log.*` fields are the `log` crate's metadata,
        // already shown; a raw identifier loses its `r#`.
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.push_str(name, &format!("{value:?}"));
    }
}

/// Whether [`init_logging`] installed the JSON subscriber: the access log
/// then formats its lines itself ([`access_log`]).
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// The target of the access log's lines.
pub const ACCESS_TARGET: &str = "tessera::http";

/// A request's access-log line (target `tessera::http`, `INFO`, `WARN` for
/// a 5xx): method, path (never the query string, which may hold secrets;
/// at most 256 characters), matched route, status, latency and request id.
///
/// With the JSON format the line is formatted here, the same object
/// tracing-subscriber's JSON formatter writes for the `tracing` event the
/// library's [`instrument`] emits (same keys in the same order, the same
/// timestamp form), and appended to the log thread's buffer: formatting it
/// through `tracing`'s event machinery cost about 17,500 instructions a
/// request (callgrind), this about a tenth of that. `RUST_LOG` filters it as
/// any event (`RUST_LOG=warn` or `tessera::http=warn` turn it off). With the
/// text format, or without the log thread, it is a `tracing` event.
pub fn access_log(
    id: &str,
    method: &Method,
    path: &str,
    route: &str,
    status: u16,
    latency: Duration,
) {
    let server_error = status >= 500;
    let enabled = if server_error {
        tracing::enabled!(target: ACCESS_TARGET, tracing::Level::WARN)
    } else {
        tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO)
    };
    if !enabled {
        return;
    }
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let path = logged_path(path);
    let method = method.as_str();
    if let (true, Some(Some(thread))) = (JSON_LINES.load(Ordering::Relaxed), LOG_THREAD.get()) {
        let line = access_line(
            SystemTime::now(),
            server_error,
            id,
            method,
            path,
            route,
            status,
            latency_ms,
        );
        thread.append(&line);
    } else if server_error {
        tracing::warn!(target: ACCESS_TARGET, request_id = %id, method, path, route, status, latency_ms, "request");
    } else {
        tracing::info!(target: ACCESS_TARGET, request_id = %id, method, path, route, status, latency_ms, "request");
    }
}

/// The JSON access line, newline-terminated.
#[allow(clippy::too_many_arguments)]
fn access_line(
    now: SystemTime,
    server_error: bool,
    id: &str,
    method: &str,
    path: &str,
    route: &str,
    status: u16,
    latency_ms: f64,
) -> Vec<u8> {
    let mut line = Vec::with_capacity(256 + path.len() + route.len());
    line.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(&mut line, now);
    line.extend_from_slice(if server_error {
        b"\",\"level\":\"WARN\",\"message\":\"request\",\"request_id\":"
    } else {
        b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":"
    });
    // Escaped as the tracing formatter escapes them (serde_json's rules).
    json_string(&mut line, id);
    line.extend_from_slice(b",\"method\":");
    json_string(&mut line, method);
    line.extend_from_slice(b",\"path\":");
    json_string(&mut line, path);
    line.extend_from_slice(b",\"route\":");
    json_string(&mut line, route);
    line.extend_from_slice(b",\"status\":");
    let _ = serde_json::to_writer(&mut line, &status);
    line.extend_from_slice(b",\"latency_ms\":");
    let _ = serde_json::to_writer(&mut line, &latency_ms);
    line.extend_from_slice(b",\"target\":\"tessera::http\"}\n");
    line
}

/// `2026-12-06T15:04:05.123456Z`, as tracing-subscriber's default timer
/// writes it (UTC, microseconds). The date and time of day are formatted
/// once a second per thread.
fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    thread_local! {
        static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != seconds {
        text = civil(seconds);
        SECOND.set((seconds, text));
    }
    out.extend_from_slice(&text);
    let micros = since.subsec_micros();
    let mut fraction = *b".000000Z";
    let mut rest = micros;
    for digit in fraction[1..7].iter_mut().rev() {
        // `rest % 10` is below 10.
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&fraction);
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (UTC), by Howard Hinnant's
/// days-to-civil algorithm.
fn civil(unix_seconds: u64) -> [u8; 19] {
    let days = (unix_seconds / 86_400) as i64;
    let second_of_day = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, second_of_day / 3_600);
    put(14, 2, second_of_day / 60 % 60);
    put(17, 2, second_of_day % 60);
    text
}

/// Bytes of log lines waiting for the log thread at most; a request that
/// finds more waits until the thread has taken them (a line is never
/// dropped).
pub const LOG_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// How long the log thread lets lines gather before it writes them: a line
/// reaches stderr at most this late (plus the write).
pub const LOG_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// Log output written by a thread of its own (`tessera-log`; stderr for
/// the process's logs). A request appends its formatted line to a shared
/// buffer (a lock and a copy; no system call, no wake-up unless the thread
/// sleeps on an empty buffer); the thread takes the buffer every
/// [`LOG_FLUSH_INTERVAL`] while lines come and writes it in one call, so a
/// busy server makes one write for hundreds of lines, not one a line. Lines
/// keep their order. [`flush_logs`] writes out what is waiting (the binary
/// calls it before it exits).
pub struct LogThread {
    state: Mutex<LogBuffer>,
    /// Wakes the thread (lines came into an empty buffer) and writers
    /// waiting for room.
    changed: Condvar,
    /// The output, held while a batch is written, so that batches keep
    /// their order.
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for LogThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogThread").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct LogBuffer {
    lines: Vec<u8>,
    /// The thread waits for lines.
    idle: bool,
}

static LOG_THREAD: OnceLock<Option<&'static LogThread>> = OnceLock::new();

/// A poisoned lock (a panic while it was held) still guards a byte buffer
/// that is whole enough to write.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogThread {
    /// The process's log thread, writing stderr, started at the first call;
    /// `None` when the thread cannot be started (lines are then written by
    /// the caller).
    pub fn global() -> Option<&'static LogThread> {
        *LOG_THREAD.get_or_init(|| LogThread::start(Box::new(std::io::stderr())).ok())
    }

    /// Starts a thread writing to `out`. It lives as long as the process
    /// (the process's log output does).
    pub fn start(out: Box<dyn Write + Send>) -> std::io::Result<&'static LogThread> {
        let shared: &'static LogThread = Box::leak(Box::new(LogThread {
            state: Mutex::new(LogBuffer::default()),
            changed: Condvar::new(),
            out: Mutex::new(out),
        }));
        std::thread::Builder::new()
            .name("tessera-log".into())
            .spawn(move || shared.run())?;
        Ok(shared)
    }

    /// Appends `line` (one or more whole lines), waiting while
    /// [`LOG_BUFFER_BYTES`] are already waiting.
    pub fn append(&self, line: &[u8]) {
        let mut state = lock(&self.state);
        while state.lines.len() >= LOG_BUFFER_BYTES {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.lines.extend_from_slice(line);
        if state.idle {
            state.idle = false;
            self.changed.notify_all();
        }
    }

    /// Writes out what is waiting now, from the calling thread.
    pub fn flush(&self) {
        self.write_out(&mut Vec::new());
    }

    /// The thread: waits for lines, lets more gather, writes them at once.
    fn run(&self) {
        let mut batch = Vec::with_capacity(64 * 1024);
        loop {
            {
                let mut state = lock(&self.state);
                while state.lines.is_empty() {
                    state.idle = true;
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            std::thread::sleep(LOG_FLUSH_INTERVAL);
            self.write_out(&mut batch);
        }
    }

    /// Takes what is waiting and writes it.
    fn write_out(&self, batch: &mut Vec<u8>) {
        let mut out = lock(&self.out);
        {
            let mut state = lock(&self.state);
            std::mem::swap(&mut state.lines, batch);
            self.changed.notify_all();
        }
        if !batch.is_empty() {
            let _ = out.write_all(batch);
            let _ = out.flush();
            batch.clear();
        }
    }
}

/// Writes out the log lines waiting for the log thread (a no-op without
/// it).
pub fn flush_logs() {
    if let Some(Some(thread)) = LOG_THREAD.get() {
        thread.flush();
    }
}

/// The subscriber's writer: the log thread, or stderr itself without one.
#[derive(Debug, Clone, Copy)]
struct LogWriter(Option<&'static LogThread>);

/// One event's output: appended to the log thread's buffer, or written to
/// stderr.
#[derive(Debug)]
enum EventWriter {
    Queued(&'static LogThread),
    Direct(std::io::Stderr),
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        match self.0 {
            Some(thread) => EventWriter::Queued(thread),
            None => EventWriter::Direct(std::io::stderr()),
        }
    }
}

impl Write for EventWriter {
    // tracing-subscriber formats an event whole and writes it in one call,
    // so one line is appended at once and never split by another's.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            EventWriter::Queued(thread) => {
                thread.append(buf);
                Ok(buf.len())
            }
            EventWriter::Direct(stderr) => stderr.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            EventWriter::Queued(_) => Ok(()),
            EventWriter::Direct(stderr) => stderr.flush(),
        }
    }
}

/// `GET /metrics`: the application's metrics in Prometheus text format.
pub async fn metrics(State(tessera): State<Tessera>) -> Response {
    // Read from the store at scrape time; a store that cannot answer leaves
    // this family out rather than failing the scrape.
    let schemes = tessera.stores().users.count_password_schemes().await.ok();
    match tessera.metrics().encode() {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            with_password_schemes(text, schemes),
        )
            .into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}

/// Adds `tessera_users_password_scheme{scheme}` (users by the scheme of
/// their stored hash: Django's legacy ones count down as their users log
/// in and are upgraded) before the exposition's closing `# EOF`.
fn with_password_schemes(
    text: String,
    schemes: Option<std::collections::BTreeMap<String, u64>>,
) -> String {
    let Some(schemes) = schemes else {
        return text;
    };
    let body = text.strip_suffix("# EOF\n").unwrap_or(&text);
    let mut out = String::with_capacity(body.len() + 512);
    out.push_str(body);
    out.push_str(
        "# HELP tessera_users_password_scheme Users by the scheme of their stored password hash (Django's until their next login).\n",
    );
    out.push_str("# TYPE tessera_users_password_scheme gauge\n");
    for (scheme, count) in schemes {
        // Scheme names are the store's fixed labels, never user input.
        out.push_str(&format!(
            "tessera_users_password_scheme{{scheme=\"{scheme}\"}} {count}\n"
        ));
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An output the test can read.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What tracing-subscriber's JSON formatter, configured as
    /// [`init_logging`] configures it, writes for the library's access
    /// event.
    fn tracing_line(
        server_error: bool,
        id: &str,
        method: &str,
        path: &str,
        route: &str,
        status: u16,
        latency_ms: f64,
    ) -> String {
        let out = Shared::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            if server_error {
                tracing::warn!(target: ACCESS_TARGET, request_id = %id, method, path, route, status, latency_ms, "request");
            } else {
                tracing::info!(target: ACCESS_TARGET, request_id = %id, method, path, route, status, latency_ms, "request");
            }
        });
        let bytes = lock(&out.0).clone();
        String::from_utf8(bytes).unwrap()
    }

    /// tracing-subscriber's JSON format as [`init_logging`] configures it
    /// (what [`JsonLines`] wraps), without the time.
    fn tracing_json() -> Format<Json, ()> {
        JsonLines::new().without_time().0
    }

    /// The lines `emit` logs through `format` with `fields`.
    fn lines_of<E, N>(format: E, fields: N, emit: impl FnOnce()) -> String
    where
        E: FormatEvent<tracing_subscriber::Registry, N> + Send + Sync + 'static,
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let out = Shared::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .fmt_fields(fields)
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let lines = lock(&out.0).clone();
        String::from_utf8(lines).unwrap()
    }

    /// The lines `emit` logs through the JSON formatter as [`init_logging`]
    /// configures it (without the time), with tracing-subscriber's span
    /// fields and with [`SpanFields`].
    fn with_both_span_formatters(emit: impl Fn()) -> (String, String) {
        let theirs = lines_of(
            tracing_json(),
            tracing_subscriber::fmt::format::JsonFields::new(),
            &emit,
        );
        (theirs, lines_of(tracing_json(), SpanFields, &emit))
    }

    /// The lines `emit` logs through the JSON lines of [`init_logging`]
    /// (without the time): `emit(false)` logged in log scopes with
    /// [`JsonLines`], and `emit(true)`, the same with a `tracing` span for
    /// each scope, with tracing-subscriber's JSON format.
    fn with_scopes_and_with_spans(emit: impl Fn(bool)) -> (String, String) {
        let scopes = lines_of(JsonLines::new().without_time(), SpanFields, || emit(false));
        (scopes, lines_of(tracing_json(), SpanFields, || emit(true)))
    }

    /// Runs `f` as a request `id` runs it: in a span named `request` when
    /// `span`, else in its log scope.
    fn in_request(span: bool, id: &str, f: impl FnOnce()) {
        if span {
            tracing::info_span!("request", request_id = id).in_scope(f);
        } else {
            log_scope::in_scope(log_scope::RequestScope::new(id), f);
        }
    }

    #[test]
    fn a_scopes_lines_are_a_request_spans_lines() {
        let hostile = "a\"b\\c\u{1}\u{7f}\u{e9}\n}{\"forged\":1}";
        let (scopes, spans) = with_scopes_and_with_spans(|span| {
            in_request(span, "0f3a-._x", || tracing::info!(user = 7, "inside"));
            in_request(
                span,
                "w-1",
                || tracing::warn!(target: "tessera::csrf", reason = hostile, "CSRF check failed"),
            );
            in_request(span, "e", || tracing::error!(""));
            // A field named as the span's key.
            in_request(span, "s", || tracing::info!(span = "mine", "named span"));
            // A span of its own inside the request shows, not the request.
            in_request(span, "n", || {
                tracing::info_span!("inner", step = 2).in_scope(|| tracing::info!("nested"))
            });
            // So does an event's explicit parent.
            let parent = tracing::info_span!("parent", p = 1);
            in_request(span, "p", || tracing::info!(parent: &parent, "explicit"));
            // Outside any request: no span.
            tracing::info!("outside");
            // The longest id a request has.
            in_request(span, &"z".repeat(64), || tracing::info!("long id"));
        });
        assert_eq!(scopes, spans);
        let lines: Vec<&str> = scopes.lines().collect();
        assert_eq!(lines.len(), 8, "{scopes}");
        let target = module_path!();
        assert_eq!(
            lines[0],
            format!(
                r#"{{"level":"INFO","message":"inside","user":7,"target":"{target}","span":{{"request_id":"0f3a-._x","name":"request"}}}}"#
            )
        );
        assert!(lines[1].ends_with(r#","span":{"request_id":"w-1","name":"request"}}"#));
        assert!(lines[4].ends_with(r#","span":{"step":2,"name":"inner"}}"#));
        assert!(lines[5].ends_with(r#","span":{"p":1,"name":"parent"}}"#));
        assert!(!lines[6].contains("span"), "{}", lines[6]);
        for line in &lines {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }

    #[test]
    fn span_fields_are_the_json_formatters() {
        let (theirs, ours) = with_both_span_formatters(|| {
            // The request span, as `Front` opens it.
            let span = tracing::info_span!("request", request_id = "0f3a-._x");
            span.in_scope(|| tracing::info!(user = 7, "inside"));
            // Every kind of value, hostile text, names out of order, a raw
            // identifier, a repeated name.
            let hostile = "a\"b\\c\u{1}\u{7f}\u{e9}\n}{\"forged\":1}";
            let span = tracing::info_span!(
                "many",
                zeta = 2_u64,
                alpha = hostile,
                minus = -3_i64,
                flag = true,
                ratio = 1.5_f64,
                nan = f64::NAN,
                list = ?vec![1, 2],
                shown = %hostile,
                r#type = "t",
                alpha = "again",
            );
            span.in_scope(|| tracing::warn!("inside many"));
            // Fields recorded after the span began, into an empty set and
            // into a set that has some.
            let late = tracing::info_span!("late", first = tracing::field::Empty);
            late.record("first", "one");
            late.in_scope(|| tracing::info!("inside late"));
            let more = tracing::info_span!("more", a = 1, b = tracing::field::Empty);
            more.record("b", "two");
            more.record("a", 3);
            more.in_scope(|| tracing::info!("inside more"));
        });
        assert_eq!(ours, theirs);
        assert_eq!(ours.lines().count(), 4, "{ours}");
        assert!(
            ours.contains(r#""span":{"request_id":"0f3a-._x","name":"request"}"#),
            "{ours}"
        );
        assert!(
            ours.contains(r#""span":{"a":3,"b":"two","name":"more"}"#),
            "{ours}"
        );
    }

    #[test]
    fn the_access_line_is_the_tracing_formatters_line() {
        let hostile = "/a\"b\\c\u{1}\u{7f}é\n}{\"forged\":1}";
        let cases: [(bool, &str, &str, &str, &str, u16, f64); 4] = [
            (
                false,
                "abc",
                "GET",
                "/api/public/",
                "/api/public/",
                200,
                0.129578,
            ),
            (false, "x-1._Y", "DELETE", hostile, "(unmatched)", 405, 12.5),
            (
                true,
                "0123456789abcdef0123456789abcdef",
                "POST",
                "/",
                "/",
                503,
                1e-6,
            ),
            (
                false,
                "a",
                "PATCH",
                "/tokens/7",
                "/auth/tokens/{id}",
                404,
                1234567.891,
            ),
        ];
        for (server_error, id, method, path, route, status, latency_ms) in cases {
            let theirs = tracing_line(server_error, id, method, path, route, status, latency_ms);
            let now = SystemTime::now();
            let ours = access_line(
                now,
                server_error,
                id,
                method,
                path,
                route,
                status,
                latency_ms,
            );
            let ours = String::from_utf8(ours).unwrap();
            assert!(ours.ends_with('\n') && theirs.ends_with('\n'));
            // Equal but for the timestamp (read at different moments).
            let cut = |line: &str| line[line.find("\",\"level\"").unwrap()..].to_owned();
            assert_eq!(cut(&ours), cut(&theirs));
            let parsed: serde_json::Value = serde_json::from_str(&ours).unwrap();
            assert_eq!(parsed["path"], path);
            let stamp = parsed["timestamp"].as_str().unwrap();
            assert_eq!(stamp.len(), theirs[14..].find('"').unwrap());
            let parsed_time =
                time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            assert_eq!(SystemTime::from(parsed_time), {
                let micros = now.duration_since(UNIX_EPOCH).unwrap().as_micros();
                UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap())
            });
        }
    }

    #[test]
    fn json_strings_are_serde_jsons() {
        let mut cases: Vec<String> = (0u32..0x100)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        cases.extend(
            [
                "",
                "0123456789abcdef0123456789abcdef",
                "/api/users/{id}/",
                "\"",
                "\\",
                "\\\"",
                "\u{7f}\u{80}\u{2028}\u{2029}\u{fffd}é😀",
                "/a\"b\\c\u{1}\u{7f}é\n}{\"forged\":1}",
                "\u{1f}\u{20}\t\r\n\u{8}\u{c}",
            ]
            .map(String::from),
        );
        // Each escaped byte at every place of strings from 1 to 49 bytes:
        // the short path, whole 16-byte steps and the overlapping last one.
        for len in 1..50 {
            for at in 0..len {
                for escaped in ['"', '\\', '\n', '\u{1f}', '\u{0}'] {
                    let mut case = "a".repeat(len);
                    case.replace_range(at..=at, &escaped.to_string());
                    cases.push(case);
                }
            }
            cases.push("é".repeat(len));
        }
        for case in &cases {
            let mut ours = b"x".to_vec();
            json_string(&mut ours, case);
            let theirs = format!("x{}", serde_json::to_string(case).unwrap());
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{case:?}");
        }
    }

    #[test]
    fn timestamps_match_the_time_crate_over_four_centuries() {
        let mut seconds: u64 = 0;
        // Steps of a prime number of seconds (about 4.6 days) from 1970 to
        // past 2400: every month, leap days, century rules.
        while seconds < 13_600_000_000 {
            let expected =
                time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap())
                    .unwrap()
                    .format(&time::macros::format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second]"
                    ))
                    .unwrap();
            assert_eq!(
                std::str::from_utf8(&civil(seconds)).unwrap(),
                expected,
                "{seconds}"
            );
            seconds += 399_989;
        }
        let mut out = Vec::new();
        timestamp(&mut out, UNIX_EPOCH + Duration::new(951_782_400, 7_000));
        assert_eq!(out, b"2000-02-29T00:00:00.000007Z");
    }

    #[test]
    fn the_log_thread_writes_every_line_whole_and_in_order() {
        let out = Shared::default();
        let thread = LogThread::start(Box::new(out.clone())).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                std::thread::spawn(move || {
                    for n in 0..2_000 {
                        thread.append(
                            format!("writer {w} line {n} {}\n", "x".repeat(n % 300)).as_bytes(),
                        );
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        thread.flush();
        let text = String::from_utf8(lock(&out.0).clone()).unwrap();
        let mut next = [0usize; 4];
        let mut lines = 0;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 5, "a line was split or merged: {line:?}");
            let (w, n): (usize, usize) = (fields[1].parse().unwrap(), fields[3].parse().unwrap());
            assert_eq!(fields[4], "x".repeat(n % 300));
            assert_eq!(n, next[w], "writer {w}'s lines out of order");
            next[w] += 1;
            lines += 1;
        }
        assert_eq!(lines, 8_000);
        assert_eq!(next, [2_000; 4]);
    }

    #[test]
    fn the_log_thread_writes_without_a_flush() {
        let out = Shared::default();
        let thread = LogThread::start(Box::new(out.clone())).unwrap();
        thread.append(b"one\n");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lock(&out.0).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(lock(&out.0).as_slice(), b"one\n");
        // A second batch, after the thread went idle again.
        std::thread::sleep(LOG_FLUSH_INTERVAL * 3);
        thread.append(b"two\n");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lock(&out.0).len() < 8 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(lock(&out.0).as_slice(), b"one\ntwo\n");
    }

    #[test]
    fn log_formats() {
        assert_eq!("".parse(), Ok(LogFormat::Json));
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
