//! The audit log's writer: events that accompany a state change are written
//! before the response (awaited), the rest go through a bounded queue that a
//! background task writes in batches and that is flushed on shutdown.
//!
//! Nothing secret is ever put in an event: callers pass usernames, ids,
//! addresses and reasons, never a password, key, session id or CSRF secret.

use crate::client::client_ip;
use http::request::Parts;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tessera_core::audit::{AuditStore, EventKind, NewAuditEvent};
use tokio::sync::{mpsc, oneshot};

/// Events waiting to be written; past this, an event is written directly.
pub const QUEUE_CAPACITY: usize = 4096;
/// Most events written in one batch.
const BATCH: usize = 256;

/// Who did it, from where: what every event records of its request.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Client address (the socket peer, or per the trusted proxies).
    pub ip: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id (`X-Request-Id`).
    pub request_id: Option<String>,
}

/// The id of a request, put in its extensions by the server's request-id layer.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestMeta {
    /// Reads the request's address, user agent and id.
    pub fn of(parts: &Parts, num_proxies: usize) -> Self {
        RequestMeta {
            ip: client_ip(parts, num_proxies).map(|ip| ip.to_string()),
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
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

    /// An event of this request.
    pub fn event(&self, time: time::OffsetDateTime, kind: EventKind) -> NewAuditEvent {
        NewAuditEvent {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            ..NewAuditEvent::new(time, kind)
        }
    }
}

enum Message {
    Event(Box<NewAuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// Writes audit events.
pub struct Auditor {
    store: Arc<dyn AuditStore>,
    queue: mpsc::Sender<Message>,
    failures: AtomicU64,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl Auditor {
    /// A writer over `store`, with its background task. Needs a Tokio runtime.
    pub fn new(store: Arc<dyn AuditStore>) -> Arc<Self> {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let auditor = Arc::new(Auditor {
            store: store.clone(),
            queue,
            failures: AtomicU64::new(0),
        });
        tokio::spawn(run(store, receiver, Arc::downgrade(&auditor)));
        auditor
    }

    /// Writes an event now (for events that accompany a state change).
    pub async fn record_now(&self, event: NewAuditEvent) {
        if let Err(e) = self.store.append(event).await {
            self.failed(&e);
        }
    }

    /// Queues an event; when the queue is full it is written directly in the
    /// background rather than lost.
    pub fn record(&self, event: NewAuditEvent) {
        match self.queue.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Message::Event(event)))
            | Err(mpsc::error::TrySendError::Closed(Message::Event(event))) => {
                let store = self.store.clone();
                tokio::spawn(async move {
                    if let Err(e) = store.append(*event).await {
                        tracing::error!(error = %e, "writing an audit event failed");
                    }
                });
            }
            Err(_) => {}
        }
    }

    /// Waits until every event queued so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes that failed (for metrics).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn failed(&self, error: &tessera_core::StoreError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %error, "writing an audit event failed");
    }
}

async fn run(
    store: Arc<dyn AuditStore>,
    mut receiver: mpsc::Receiver<Message>,
    owner: std::sync::Weak<Auditor>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(event) => batch.push(*event),
                Message::Flush(done) => waiting.push(done),
            }
            if batch.len() < BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let events = std::mem::take(&mut batch);
            if let Err(e) = store.append_many(events).await {
                match owner.upgrade() {
                    Some(auditor) => auditor.failed(&e),
                    None => tracing::error!(error = %e, "writing audit events failed"),
                }
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

impl<S> axum::extract::FromRequestParts<S> for RequestMeta
where
    crate::state::Tessera: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRef;
        let tessera = crate::state::Tessera::from_ref(state);
        Ok(RequestMeta::of(parts, tessera.settings().num_proxies))
    }
}
