//! Attack-pattern alerts: many failed logins from one address across many
//! usernames (credential stuffing, password spraying), or against one username
//! from many addresses (a distributed guess). Crossing a threshold within the
//! window raises one `security_alert` event, and hands it to the configured
//! [`AlertSink`] (the server's posts it to a webhook). The reuse of a
//! rotated-out token ([`Alerts::token_reuse`]) raises one too.
//!
//! The tracker keeps at most a bounded number of keys, each with a bounded set
//! of distinct values, so a flood cannot grow it without limit.

use crate::audit::RequestMeta;
use crate::state::Tessera;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_core::audit::EventKind;
use tessera_core::{StoreError, User};
use time::OffsetDateTime;

/// Where alerts go besides the audit log.
pub trait AlertSink: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers an alert (in the background; it must not block).
    fn send(&self, alert: Value);
}

/// Thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Distinct usernames failing from one address within `window`.
    pub usernames_per_address: usize,
    /// Distinct addresses failing for one username within `window`.
    pub addresses_per_username: usize,
    /// The window.
    pub window: Duration,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            usernames_per_address: 10,
            addresses_per_username: 10,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Keys tracked at most; past this, windows that have ended are dropped, and
/// if none have, the whole map is cleared (alerts may then be late, never lost
/// memory).
const MAX_KEYS: usize = 50_000;

#[derive(Debug)]
struct Track {
    started: OffsetDateTime,
    seen: HashSet<String>,
    alerted: bool,
}

/// The failure tracker.
#[derive(Debug, Default)]
pub struct Alerts {
    policy: AlertPolicy,
    by_address: Mutex<HashMap<String, Track>>,
    by_username: Mutex<HashMap<String, Track>>,
    sink: Option<Arc<dyn AlertSink>>,
}

impl Alerts {
    /// A tracker with these thresholds and an optional sink.
    pub fn new(policy: AlertPolicy, sink: Option<Arc<dyn AlertSink>>) -> Self {
        Alerts {
            policy,
            sink,
            ..Alerts::default()
        }
    }

    /// Notes a failed login; raises an alert when a threshold is crossed.
    pub async fn failure(
        &self,
        tessera: &Tessera,
        meta: &RequestMeta,
        username: &str,
        now: OffsetDateTime,
    ) {
        let window = time::Duration::try_from(self.policy.window).unwrap_or(time::Duration::MINUTE);
        let address = meta.ip.clone().unwrap_or_else(|| "unknown".to_owned());
        let username_key = username.trim().to_lowercase();
        if let Some(count) = note(
            &self.by_address,
            &address,
            &username_key,
            self.policy.usernames_per_address,
            now,
            window,
        ) {
            self.raise(
                tessera,
                meta,
                now,
                json!({"kind": "many_usernames_from_one_address", "address": address, "usernames": count}),
            )
            .await;
        }
        if let Some(count) = note(
            &self.by_username,
            &username_key,
            &address,
            self.policy.addresses_per_username,
            now,
            window,
        ) {
            self.raise(
                tessera,
                meta,
                now,
                json!({"kind": "many_addresses_for_one_username", "username": username, "addresses": count}),
            )
            .await;
        }
    }

    /// Reuse of `user`'s rotated-out key `token_id` (presented after its
    /// grace period, or rotated a second time): revokes the key's whole
    /// rotation `family`, the newest key included, and records a
    /// `security_alert` with `"kind": "token_reuse"` in the same transaction
    /// ([`AuditedWrites::revoke_token_family_audited`]), then hands the alert
    /// to the sink. Two parties held the key, and which is the thief cannot
    /// be told, so neither keeps a key (SuperTokens' refresh-token theft
    /// detection; OWASP's `authn_token_reuse`).
    ///
    /// When the family was already revoked (a concurrent request presenting
    /// the same key did it), nothing is written or sent: one reuse, one
    /// alert. Returns how many keys were revoked.
    ///
    /// [`AuditedWrites::revoke_token_family_audited`]: tessera_core::audited::AuditedWrites::revoke_token_family_audited
    pub async fn token_reuse(
        &self,
        tessera: &Tessera,
        meta: &RequestMeta,
        user: &User,
        token_id: i64,
        family: i64,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let detail = json!({
            "kind": "token_reuse",
            "username": user.username,
            "token_id": token_id,
            "family": family,
        });
        let event = meta.user_event(now, EventKind::SecurityAlert, user, detail.clone());
        let revoked = tessera
            .stores()
            .audited
            .revoke_token_family_audited(family, event)
            .await?;
        if revoked > 0 {
            tracing::warn!(alert = %detail, user = user.id, revoked, "security alert");
            self.notify(now, detail);
        }
        Ok(revoked)
    }

    async fn raise(
        &self,
        tessera: &Tessera,
        meta: &RequestMeta,
        now: OffsetDateTime,
        detail: Value,
    ) {
        tracing::warn!(alert = %detail, "security alert");
        let mut event = meta.event(now, EventKind::SecurityAlert);
        event.detail = detail.clone();
        tessera.auditor().record(event).await;
        self.notify(now, detail);
    }

    /// Hands an alert to the sink, if there is one.
    fn notify(&self, now: OffsetDateTime, detail: Value) {
        if let Some(sink) = &self.sink {
            sink.send(json!({
                "event": "security_alert",
                "time": tessera_core::clock::rfc3339(now),
                "detail": detail,
            }));
        }
    }
}

/// Adds `value` to `key`'s set; `Some(count)` the first time the set reaches
/// `threshold` within one window.
fn note(
    map: &Mutex<HashMap<String, Track>>,
    key: &str,
    value: &str,
    threshold: usize,
    now: OffsetDateTime,
    window: time::Duration,
) -> Option<usize> {
    let Ok(mut map) = map.lock() else {
        return None;
    };
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
    if !track.alerted && track.seen.len() >= threshold.max(1) {
        track.alerted = true;
        return Some(track.seen.len());
    }
    None
}
