//! Audit events of the account routes.

use serde_json::json;
use tessera_axum::audit::RequestMeta;
use tessera_axum::Tessera;
use tessera_core::audit::EventKind;
use tessera_core::User;

/// Records an event about `user`, written before the response (it accompanies
/// a state change).
pub(crate) async fn audit_user(
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

/// Records a token's creation, revocation or rotation.
pub(crate) async fn audit_token(
    tessera: &Tessera,
    meta: &RequestMeta,
    kind: EventKind,
    user: &User,
    token_id: i64,
    name: &str,
) {
    audit_user(
        tessera,
        meta,
        kind,
        user,
        json!({"token_id": token_id, "name": name}),
    )
    .await;
}
