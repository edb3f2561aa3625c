//! `tessera clearsessions`, as Django's: deletes expired sessions (and expired
//! tokens, which the same background task purges).

use crate::config::Config;
use std::sync::Arc;
use tessera_core::SystemClock;

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let state = crate::state(config, store, Arc::new(SystemClock))?;
    let (tokens, sessions) = crate::purge_expired(&state.tessera).await?;
    println!("Deleted {sessions} expired sessions and {tokens} expired tokens.");
    Ok(())
}
