//! Audit events of the account routes.

use crate::audit::RequestMeta;
use crate::Tessera;
use tessera_core::audit::EventKind;
use tessera_core::User;

/// Records an event about `user`, written before the response (it accompanies
/// a state change).
pub async fn audit_user(
    tessera: &Tessera,
    meta: &RequestMeta,
    kind: EventKind,
    user: &User,
    detail: serde_json::Value,
) {
    let mut event = meta.event(tessera.clock().now(), kind);
    event.user = Some(user.id);
    event.username = user.username.clone();
    event.detail = detail;
    tessera.auditor().record_now(event).await;
}
