//! `tessera unlock USERNAME`: clears login protection for a username, as
//! `POST /admin/users/{id}/unlock` does.
//!
//! The server keeps its login counters in memory, in its own process; this
//! command reaches it through the database: it records the unlock in
//! `tessera_login_unlocks` (with its `user_updated` audit event, `"via":
//! "cli"`), and every running server applies it the next time it finds that
//! username locked, or is about to lock it (see
//! [`tessera_core::throttle::login`], "Unlocks from other processes"). No
//! restart, and nothing on the login path until a username is locked.

use crate::config::Config;
use clap::Args;
use serde_json::json;
use tessera_axum::audit::RequestMeta;
use tessera_core::audit::EventKind;

/// Options of `unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Whose login protection to clear.
    pub username: String,
}

pub(super) async fn run(config: Config, args: UnlockArgs) -> anyhow::Result<()> {
    let state = super::open_state(config).await?;
    let tessera = &state.tessera;
    let user = super::user_named(tessera, &args.username).await?;
    let event = RequestMeta::default().user_event(
        tessera.clock().now(),
        EventKind::UserUpdated,
        &user,
        json!({"action": "unlock", "via": "cli"}),
    );
    tessera_axum::login::unlock(tessera, &user.username, event)
        .await
        .map_err(|e| anyhow::anyhow!("cannot record the unlock: {}", e.detail))?;
    println!("Login protection cleared for user {:?}", user.username);
    Ok(())
}
