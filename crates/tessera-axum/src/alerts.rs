//! Attack-pattern alerts: many failed logins from one address across many
//! usernames (credential stuffing, password spraying), or against one username
//! from many addresses (a distributed guess). Crossing a threshold within the
//! window raises one `security_alert` event, and hands it to the configured
//! [`AlertSink`] (the server's posts it to a webhook). The reuse of a
//! rotated-out token ([`Alerts::token_reuse`]) raises one too.
//!
//! The windows are kept in an [`AlertWindowStore`]: this process's memory by
//! default (at most 50,000 keys, each with a bounded set of distinct values,
//! so a flood cannot grow it without limit), or a store several processes
//! share, so that failures spread over them add up.
//!
//! The tracker holds its own handles (the audit writer, the audited
//! writes of the store) rather than the [`Tessera`](crate::Tessera) state
//! that holds it, so this module depends on no state.

use crate::audit::{Auditor, RequestMeta};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tessera_core::audit::EventKind;
use tessera_core::audited::AuditedWrites;
use tessera_core::throttle::AlertWindowStore;
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

/// The failure tracker.
pub struct Alerts {
    policy: AlertPolicy,
    windows: Arc<dyn AlertWindowStore>,
    sink: Option<Arc<dyn AlertSink>>,
    /// Where an alert's `security_alert` event is queued.
    auditor: Arc<Auditor>,
    /// Where a token reuse revokes the family with its event.
    audited: Arc<dyn AuditedWrites>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("policy", &self.policy)
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl Alerts {
    /// A tracker counting in `windows` (this process's memory, or a store
    /// several processes share, PostgreSQL or Redis, so that their failures
    /// add up to one alert), writing its events through `auditor` and
    /// `audited`.
    pub(crate) fn new(
        policy: AlertPolicy,
        sink: Option<Arc<dyn AlertSink>>,
        windows: Arc<dyn AlertWindowStore>,
        auditor: Arc<Auditor>,
        audited: Arc<dyn AuditedWrites>,
    ) -> Self {
        Alerts {
            policy,
            windows,
            sink,
            auditor,
            audited,
        }
    }

    /// Notes a failed login; raises an alert when a threshold is crossed.
    pub async fn failure(&self, meta: &RequestMeta, username: &str, now: OffsetDateTime) {
        let address = meta.ip.clone().unwrap_or_else(|| "unknown".to_owned());
        let username_key = username.trim().to_lowercase();
        if let Some(count) = self
            .note(
                &format!("alert:a:{address}"),
                &username_key,
                self.policy.usernames_per_address,
                now,
            )
            .await
        {
            self.raise(
                meta,
                now,
                json!({"kind": "many_usernames_from_one_address", "address": address, "usernames": count}),
            )
            .await;
        }
        if let Some(count) = self
            .note(
                &format!("alert:u:{username_key}"),
                &address,
                self.policy.addresses_per_username,
                now,
            )
            .await
        {
            self.raise(
                meta,
                now,
                json!({"kind": "many_addresses_for_one_username", "username": username, "addresses": count}),
            )
            .await;
        }
    }

    /// Notes `value` in `key`'s window; a store that fails is logged and
    /// raises nothing (the login itself has been answered by then).
    async fn note(
        &self,
        key: &str,
        value: &str,
        threshold: usize,
        now: OffsetDateTime,
    ) -> Option<u32> {
        let threshold = u32::try_from(threshold).unwrap_or(u32::MAX);
        match self
            .windows
            .note(key, value, threshold, self.policy.window, now)
            .await
        {
            Ok(count) => count,
            Err(e) => {
                tracing::warn!(error = %e, "security-alert window unavailable");
                None
            }
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
        let revoked = self
            .audited
            .revoke_token_family_audited(family, event)
            .await?;
        if revoked > 0 {
            tracing::warn!(alert = %detail, user = user.id, revoked, "security alert");
            self.notify(now, detail);
        }
        Ok(revoked)
    }

    async fn raise(&self, meta: &RequestMeta, now: OffsetDateTime, detail: Value) {
        tracing::warn!(alert = %detail, "security alert");
        let mut event = meta.event(now, EventKind::SecurityAlert);
        event.detail = detail.clone();
        self.auditor.record(event).await;
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
