//! Coalesced `last_used` / `last_seen` writes: at most one a minute per
//! credential, made off the request path.
//!
//! A credential's stored time already tells whether it was written within the
//! minute; an in-process map of recent writes keeps concurrent requests from
//! all writing at once before the first write lands. The map is pruned of
//! entries older than the interval whenever it grows large, so it stays bounded
//! by the number of credentials used in one interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tessera_core::Stores;
use time::OffsetDateTime;

/// Writes are at most this often per credential.
pub const INTERVAL: time::Duration = time::Duration::seconds(60);

/// Prune the map when it holds more entries than this.
const PRUNE_AT: usize = 100_000;

/// Which credential was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Used {
    /// A token, by id.
    Token(i64),
    /// A session, by id.
    Session(i64),
}

/// Coalesces credential-use writes.
#[derive(Debug, Default)]
pub struct Toucher {
    recent: Mutex<HashMap<Used, OffsetDateTime>>,
    writes: AtomicU64,
}

impl Toucher {
    /// Records a use at `now` of a credential last written at `stored`,
    /// writing in the background when the stored time is a minute old.
    pub fn used(
        self: &Arc<Self>,
        stores: &Stores,
        what: Used,
        stored: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) {
        if stored.is_some_and(|t| now - t < INTERVAL) {
            return;
        }
        {
            let Ok(mut recent) = self.recent.lock() else {
                return;
            };
            if recent.get(&what).is_some_and(|t| now - *t < INTERVAL) {
                return;
            }
            if recent.len() >= PRUNE_AT {
                recent.retain(|_, t| now - *t < INTERVAL);
            }
            recent.insert(what, now);
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        let stores = stores.clone();
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let result = match what {
                Used::Token(id) => stores.tokens.touch_token(id, now).await,
                Used::Session(id) => stores.sessions.touch_session(id, now).await,
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "recording a credential's use failed");
            }
        }));
    }

    /// Writes started so far (for tests and metrics).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}
