//! The security-alert windows: distinct values (usernames, addresses) seen
//! per key within a window, and whether the window has raised its alert.

use crate::error::StoreError;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;

/// Distinct values noted per key, in a window opened by the key's first
/// value and `window` long: the counts behind the security alerts (distinct
/// usernames failing from one address, distinct addresses failing for one
/// username).
///
/// Contract, kept by every implementation (and checked by the counter-store
/// suite): [`note`](Self::note) is atomic; it answers `Some(count)` exactly
/// once per window, for the note that brings the key's set to `threshold`
/// (zero is taken as one) distinct values, however many processes note at
/// once; a window that has ended counts as absent; a store that cannot be
/// reached is [`StoreError::Unavailable`].
#[async_trait]
pub trait AlertWindowStore: Send + Sync + 'static {
    /// Adds `value` to `key`'s set; `Some(count)` when this note raises the
    /// window's alert.
    async fn note(
        &self,
        key: &str,
        value: &str,
        threshold: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError>;
}

/// Keys an in-process store tracks at most; past this, windows that have
/// ended are dropped, and if none have, the whole map is cleared (alerts may
/// then be late, never lost memory).
const MAX_KEYS: usize = 50_000;

#[derive(Debug)]
struct Track {
    started: OffsetDateTime,
    seen: HashSet<String>,
    alerted: bool,
}

/// The in-process [`AlertWindowStore`]: at most 50,000 keys, each holding at
/// most `threshold + 1` values. For one process.
#[derive(Debug, Default)]
pub struct MemoryAlertWindowStore {
    map: Mutex<HashMap<String, Track>>,
}

impl MemoryAlertWindowStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryAlertWindowStore::default()
    }
}

#[async_trait]
impl AlertWindowStore for MemoryAlertWindowStore {
    async fn note(
        &self,
        key: &str,
        value: &str,
        threshold: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, StoreError> {
        let window = time::Duration::try_from(window).unwrap_or(time::Duration::MINUTE);
        let threshold = usize::try_from(threshold.max(1)).unwrap_or(usize::MAX);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, t| now - t.started < window);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let track = map.entry(key.to_owned()).or_insert_with(|| Track {
            started: now,
            seen: HashSet::new(),
            alerted: false,
        });
        if now - track.started >= window {
            *track = Track {
                started: now,
                seen: HashSet::new(),
                alerted: false,
            };
        }
        if track.seen.len() <= threshold {
            track.seen.insert(value.to_owned());
        }
        if !track.alerted && track.seen.len() >= threshold {
            track.alerted = true;
            return Ok(Some(u32::try_from(track.seen.len()).unwrap_or(u32::MAX)));
        }
        Ok(None)
    }
}
