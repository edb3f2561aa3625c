//! The audit log's writer: events that accompany a state change are written
//! before the response (awaited, [`Auditor::record_now`]), the rest go
//! through a bounded queue ([`Auditor::record`]) that a background task
//! writes in batches and that is flushed on shutdown.
//!
//! Nothing is dropped and memory stays bounded: when the queue is full,
//! [`Auditor::record`] waits for room (the request waits; no task is spawned
//! per event), so a slow store slows the requests that audit instead of
//! growing a backlog; and each queued event is already cut to the sizes a
//! store keeps ([`NewAuditEvent::sanitized`]). `/metrics` shows the queue's depth
//! (`tessera_audit_queue_depth`).
//!
//! Anonymous noise is aggregated by the writer, not by the call sites: an
//! event of kind `throttled`, `csrf_failed`, `permission_denied` or
//! `login_failed` (a failed token check) with neither a user nor an attempted
//! username ([`NewAuditEvent::is_aggregated`]) is counted in memory under
//! (kind, client address, route, window) (by the request itself when that
//! row is pending already, without the queue; else by the writer, which
//! makes the row) and the counts are added to their
//! rows ([`AuditStore::add_aggregated`]) at least every
//! [`AuditSettings::flush_interval`] (one second), so that an event shows in
//! its row's count within API.md's five seconds. The map holds at most
//! [`AuditSettings::max_pending_rows`] keys: a flood from many addresses
//! makes the writer write early, never grow. Windows are fixed and aligned on
//! the Unix epoch ([`tessera_core::audit::window_start`]); a row is made of
//! its window's first event, with `"route"` and `"count"` in its `detail`.
//!
//! The route of an event ([`RequestMeta::route`]) is the matched path
//! template (`/auth/tokens/{id}`) when the router matched one, else the
//! request's path; never the query string, so that parameters cannot split
//! (or smuggle text into) a row.
//!
//! Nothing secret is ever put in an event: callers pass usernames, ids,
//! addresses and reasons, never a password, key, session id or CSRF secret.

use crate::client::client_ip;
use axum::extract::MatchedPath;
use http::request::Parts;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_core::audit::{AggregatedEvents, AuditStore, EventKind, NewAuditEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Events the queue holds by default ([`AuditSettings::queue_capacity`]).
pub const QUEUE_CAPACITY: usize = 4096;
/// The aggregation window by default: API.md's 60 seconds.
pub const DEFAULT_AGGREGATE_WINDOW: Duration = Duration::from_secs(60);
/// Most events written in one batch.
const BATCH: usize = 256;

/// How the writer queues and aggregates. `Default` is API.md's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditSettings {
    /// Events the queue holds at most (4096); a request that finds it full
    /// waits for room.
    pub queue_capacity: usize,
    /// The aggregation window (60 s; the server's `audit.aggregate_window`).
    pub aggregate_window: Duration,
    /// How often pending counts are written at the latest (1 s): an
    /// aggregated event shows in its row's count within this, plus the write.
    pub flush_interval: Duration,
    /// Aggregated rows held in memory at most (1024); a new key past this
    /// makes the writer write the pending counts first.
    pub max_pending_rows: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            queue_capacity: QUEUE_CAPACITY,
            aggregate_window: DEFAULT_AGGREGATE_WINDOW,
            flush_interval: Duration::from_secs(1),
            max_pending_rows: 1024,
        }
    }
}

/// Who did it, from where: what every event records of its request.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Client address (the socket peer, or per the trusted proxies).
    pub ip: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id (`X-Request-Id`).
    pub request_id: Option<String>,
    /// The route: the matched path template (such as `/auth/tokens/{id}`)
    /// where the router matched one, else the path; never the query string.
    /// `None` outside a request (commands).
    pub route: Option<String>,
}

/// The id of a request, put in its extensions by the server's request-id layer.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestMeta {
    /// Reads the request's address, user agent, id and route.
    pub fn of(parts: &Parts, num_proxies: usize) -> Self {
        RequestMeta {
            ip: client_ip(parts, num_proxies).map(crate::client::ip_text),
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            route: Some(match parts.extensions.get::<MatchedPath>() {
                Some(matched) => matched.as_str().to_owned(),
                None => parts.uri.path().to_owned(),
            }),
        }
    }

    /// An event of this request about `user`, with `detail`.
    pub fn user_event(
        &self,
        time: time::OffsetDateTime,
        kind: EventKind,
        user: &tessera_core::User,
        detail: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            user: Some(user.id),
            username: user.username.clone(),
            detail,
            ..self.event(time, kind)
        }
    }

    /// An event of this request, taking the request's details rather than
    /// copying them.
    pub fn into_event(self, time: time::OffsetDateTime, kind: EventKind) -> NewAuditEvent {
        NewAuditEvent {
            ip: self.ip,
            user_agent: self.user_agent,
            request_id: self.request_id,
            route: self.route,
            ..NewAuditEvent::new(time, kind)
        }
    }

    /// An event of this request.
    pub fn event(&self, time: time::OffsetDateTime, kind: EventKind) -> NewAuditEvent {
        NewAuditEvent {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            route: self.route.clone(),
            ..NewAuditEvent::new(time, kind)
        }
    }
}

enum Message {
    Event(Box<NewAuditEvent>),
    Flush(oneshot::Sender<()>),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

/// What the writer and the [`Auditor`] both update, for metrics.
#[derive(Debug, Default)]
struct Counters {
    failures: AtomicU64,
    lost: AtomicU64,
    pending_rows: AtomicUsize,
}

impl Counters {
    fn failed(&self, error: &tessera_core::StoreError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %error, "writing audit events failed");
    }
}

/// Writes audit events.
///
/// Making one touches no runtime: its background writer is spawned by
/// [`Auditor::start`] (which `Tessera::start_background` calls) or, failing
/// that, on the runtime of the first event queued or the first flush.
pub struct Auditor {
    store: Arc<dyn AuditStore>,
    queue: mpsc::Sender<Message>,
    /// The writer's pending aggregated rows.
    pending: PendingRows,
    settings: AuditSettings,
    counters: Arc<Counters>,
    /// The writer and its queue's receiving end, until spawned.
    unstarted: std::sync::Mutex<Option<(Writer, mpsc::Receiver<Message>)>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// A writer over `store` with the default [`AuditSettings`]. Its
    /// background task starts with [`Auditor::start`] or on first use.
    pub fn new(store: Arc<dyn AuditStore>) -> Arc<Self> {
        Self::with_settings(store, AuditSettings::default())
    }

    /// A writer over `store` with `settings` (a capacity or a number of
    /// rows of 0 is taken as 1). Its background task starts with
    /// [`Auditor::start`] or on first use.
    pub fn with_settings(store: Arc<dyn AuditStore>, settings: AuditSettings) -> Arc<Self> {
        let settings = AuditSettings {
            queue_capacity: settings.queue_capacity.max(1),
            max_pending_rows: settings.max_pending_rows.max(1),
            ..settings
        };
        let (queue, receiver) = mpsc::channel(settings.queue_capacity);
        let counters = Arc::new(Counters::default());
        let pending = PendingRows::default();
        let writer = Writer {
            store: store.clone(),
            settings,
            counters: counters.clone(),
            batch: Vec::with_capacity(BATCH),
            pending: pending.clone(),
            due: None,
        };
        Arc::new(Auditor {
            store,
            queue,
            pending,
            settings,
            counters,
            unstarted: std::sync::Mutex::new(Some((writer, receiver))),
        })
    }

    /// Spawns the background writer on `runtime`, unless it runs already.
    pub fn start(&self, runtime: &tokio::runtime::Handle) {
        let unstarted = match self.unstarted.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some((writer, receiver)) = unstarted {
            runtime.spawn(writer.run(receiver));
        }
    }

    /// Whether the background writer has been spawned.
    pub fn is_started(&self) -> bool {
        match self.unstarted.lock() {
            Ok(slot) => slot.is_none(),
            Err(poisoned) => poisoned.into_inner().is_none(),
        }
    }

    /// Starts the writer on the current runtime if nothing started it.
    fn start_here(&self) {
        if !self.is_started() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                self.start(&runtime);
            }
        }
    }

    /// The settings the writer runs with.
    pub fn settings(&self) -> AuditSettings {
        self.settings
    }

    /// Writes an event now (for events that accompany a state change).
    pub async fn record_now(&self, event: NewAuditEvent) {
        if let Err(e) = self.store.append(event).await {
            self.counters.failed(&e);
        }
    }

    /// Queues an event for the writer, which aggregates anonymous noise
    /// ([`NewAuditEvent::is_aggregated`]) and writes the rest as they come.
    /// When the queue is full this waits for room, first come first served:
    /// nothing is dropped and nothing is spawned.
    ///
    /// Should the caller be cancelled while waiting (its client went away),
    /// the event is queued if there is room by then; otherwise it is lost,
    /// logged and counted (`tessera_audit_events_lost_total`): holding it
    /// anywhere else would be the unbounded backlog this queue exists to
    /// prevent.
    pub async fn record(&self, event: NewAuditEvent) {
        // Cut to the stored sizes now, so that the queue and the writer's
        // map hold bounded events, whatever the size of a client's headers.
        self.start_here();
        let event = event.sanitized();
        if event.is_aggregated() && self.count_in_pending_row(&event) {
            return;
        }
        let mut pending = Pending {
            auditor: self,
            event: Some(Box::new(event)),
        };
        match self.queue.reserve().await {
            Ok(permit) => {
                if let Some(event) = pending.event.take() {
                    permit.send(Message::Event(event));
                }
            }
            // The writer is gone (the runtime is shutting down): write here.
            Err(_) => {
                if let Some(event) = pending.event.take() {
                    self.write_directly(*event).await;
                }
            }
        }
    }

    /// Adds an aggregated event to its row if the writer holds that row
    /// already (the writer writes it within a flush interval); `false` when
    /// it does not, and the event goes through the queue.
    fn count_in_pending_row(&self, event: &NewAuditEvent) -> bool {
        let key = RowKey {
            event: event.event,
            ip: event.ip.clone(),
            route: event.route.clone(),
            window: tessera_core::audit::window_start_micros(
                event.time,
                self.settings.aggregate_window,
            ),
        };
        let mut rows = lock_rows(&self.pending);
        match rows.get_mut(&key) {
            Some(row) => {
                if event.time < row.first.time {
                    row.first = event.clone();
                }
                row.count = row.count.saturating_add(1);
                true
            }
            None => false,
        }
    }

    async fn write_directly(&self, event: NewAuditEvent) {
        let written = if event.is_aggregated() {
            let entry = AggregatedEvents::new(event, self.settings.aggregate_window);
            self.store.add_aggregated(vec![entry]).await
        } else {
            self.store.append(event).await.map(drop)
        };
        if let Err(e) = written {
            self.counters.failed(&e);
        }
    }

    /// Waits until every event queued so far is written, aggregated counts
    /// included.
    pub async fn flush(&self) {
        self.start_here();
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes that failed (for metrics).
    pub fn failures(&self) -> u64 {
        self.counters.failures.load(Ordering::Relaxed)
    }

    /// Events lost because their request was cancelled while the queue was
    /// full (see [`record`](Auditor::record)).
    pub fn lost(&self) -> u64 {
        self.counters.lost.load(Ordering::Relaxed)
    }

    /// Events in the queue now, waiting for the writer (at most
    /// [`AuditSettings::queue_capacity`]).
    pub fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Aggregated rows whose counts the writer holds, not yet written.
    pub fn pending_rows(&self) -> usize {
        self.counters.pending_rows.load(Ordering::Relaxed)
    }
}

/// An event on its way into the queue: queued on drop if the wait for room
/// was cancelled.
struct Pending<'a> {
    auditor: &'a Auditor,
    event: Option<Box<NewAuditEvent>>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let Some(event) = self.event.take() else {
            return;
        };
        let kind = event.event;
        if self.auditor.queue.try_send(Message::Event(event)).is_err() {
            self.auditor.counters.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                event = %kind,
                "an audit event was lost: its request was cancelled while the audit queue was full"
            );
        }
    }
}

/// What identifies an aggregated row in the writer's map. The window's
/// start is kept in microseconds: a time is several fields to hash, and
/// [`Auditor::record`] looks a row up for every anonymous denial.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RowKey {
    event: EventKind,
    ip: Option<String>,
    route: Option<String>,
    window: i64,
}

/// Aggregated counts not yet written, by row. The writer adds new rows;
/// [`Auditor::record`] adds an event to a row already there itself, without
/// the queue (a flood of one kind from one address is one lock and one
/// lookup a request).
type PendingRows = Arc<std::sync::Mutex<HashMap<RowKey, AggregatedEvents>>>;

fn lock_rows(rows: &PendingRows) -> std::sync::MutexGuard<'_, HashMap<RowKey, AggregatedEvents>> {
    rows.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The background task's state.
struct Writer {
    store: Arc<dyn AuditStore>,
    settings: AuditSettings,
    counters: Arc<Counters>,
    batch: Vec<NewAuditEvent>,
    pending: PendingRows,
    /// When the pending counts must be written at the latest.
    due: Option<Instant>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        loop {
            let message = match self.due {
                Some(due) => tokio::select! {
                    message = receiver.recv() => message,
                    () = tokio::time::sleep_until(due) => {
                        self.write_pending().await;
                        continue;
                    }
                },
                None => receiver.recv().await,
            };
            let Some(message) = message else {
                break;
            };
            let mut waiting = Vec::new();
            let mut next = Some(message);
            let mut taken = 0;
            while let Some(message) = next.take() {
                match message {
                    Message::Event(event) => self.take(*event).await,
                    Message::Flush(done) => waiting.push(done),
                }
                taken += 1;
                if taken < BATCH && self.batch.len() < BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            self.write_batch().await;
            // A steady stream of messages must not postpone the counts.
            if !waiting.is_empty() || self.due.is_some_and(|due| due <= Instant::now()) {
                self.write_pending().await;
            }
            for done in waiting {
                let _ = done.send(());
            }
        }
        // Every sender is gone: write what is left.
        self.write_batch().await;
        self.write_pending().await;
    }

    /// Counts an aggregated event, or adds any other to the batch.
    async fn take(&mut self, event: NewAuditEvent) {
        if !event.is_aggregated() {
            self.batch.push(event);
            return;
        }
        let entry = AggregatedEvents::new(event, self.settings.aggregate_window);
        let key = RowKey {
            event: entry.first.event,
            ip: entry.first.ip.clone(),
            route: entry.first.route.clone(),
            window: tessera_core::clock::to_micros(entry.window),
        };
        let full = {
            let mut rows = lock_rows(&self.pending);
            if let Some(existing) = rows.get_mut(&key) {
                existing.merge(entry);
                return;
            }
            rows.len() >= self.settings.max_pending_rows
        };
        if full {
            self.write_pending().await;
        }
        let rows = {
            let mut rows = lock_rows(&self.pending);
            match rows.get_mut(&key) {
                Some(existing) => existing.merge(entry),
                None => {
                    rows.insert(key, entry);
                }
            }
            rows.len()
        };
        self.counters.pending_rows.store(rows, Ordering::Relaxed);
        if self.due.is_none() {
            self.due = Some(Instant::now() + self.settings.flush_interval);
        }
    }

    async fn write_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let events = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Err(e) = self.store.append_many(events).await {
            self.counters.failed(&e);
        }
    }

    async fn write_pending(&mut self) {
        self.due = None;
        let entries: Vec<AggregatedEvents> = {
            let mut rows = lock_rows(&self.pending);
            rows.drain().map(|(_, e)| e).collect()
        };
        if entries.is_empty() {
            return;
        }
        self.counters.pending_rows.store(0, Ordering::Relaxed);
        if let Err(e) = self.store.add_aggregated(entries).await {
            self.counters.failed(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::audit::EventKind;
    use time::macros::datetime;

    fn denied(ip: &str, seconds: i64) -> NewAuditEvent {
        NewAuditEvent {
            ip: Some(ip.to_owned()),
            route: Some("/api/example/".to_owned()),
            ..NewAuditEvent::new(
                datetime!(2024-05-06 07:08:00 UTC) + time::Duration::seconds(seconds),
                EventKind::PermissionDenied,
            )
        }
    }

    /// A request counts its anonymous denial in the row the writer made
    /// for the first one (one lock, no queue): both must make the same key.
    #[tokio::test]
    async fn a_row_the_writer_holds_is_found_by_the_request_path() {
        let auditor = Auditor::new(Arc::new(tessera_testkit::MemoryStore::new()));
        auditor.record(denied("10.0.0.7", 1)).await;
        for _ in 0..500 {
            if auditor.pending_rows() == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_eq!(auditor.pending_rows(), 1);
        // Same address, route and minute: found; another of any: not.
        assert!(auditor.count_in_pending_row(&denied("10.0.0.7", 59).sanitized()));
        assert!(!auditor.count_in_pending_row(&denied("10.0.0.8", 1).sanitized()));
        assert!(!auditor.count_in_pending_row(&denied("10.0.0.7", 60).sanitized()));
        let other_route = NewAuditEvent {
            route: Some("/api/public/".to_owned()),
            ..denied("10.0.0.7", 1)
        };
        assert!(!auditor.count_in_pending_row(&other_route.sanitized()));
    }
}
