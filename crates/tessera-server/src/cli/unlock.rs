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
use std::sync::Arc;
use tessera_axum::audit::RequestMeta;
use tessera_core::audit::EventKind;
use tessera_core::user::normalize_username;
use tessera_core::SystemClock;

/// Options of `unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Whose login protection to clear.
    pub username: String,
}

pub(super) async fn run(config: Config, args: UnlockArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let state = crate::state(config, store, Arc::new(SystemClock))?;
    let tessera = &state.tessera;
    let username = normalize_username(&args.username);
    let user = tessera
        .stores()
        .users
        .credentials_by_username(&username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {username:?} does not exist"))?
        .user;
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
