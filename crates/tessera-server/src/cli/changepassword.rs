//! `tessera changepassword USERNAME`, as Django's: asks twice for the new one.

use crate::config::Config;
use clap::Args;
use std::sync::Arc;
use tessera_axum::accounts::password_errors;
use tessera_core::secret::Secret;
use tessera_core::user::{normalize_username, UserUpdate};
use tessera_core::SystemClock;

/// Options of `changepassword`.
#[derive(Debug, Args)]
pub struct ChangePasswordArgs {
    /// Whose password.
    pub username: String,
}

pub(super) async fn run(config: Config, args: ChangePasswordArgs) -> anyhow::Result<()> {
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
    eprintln!("Changing password for user {:?}", user.username);
    let password = Secret::new(super::prompt_new_password()?);
    let problems = password_errors(tessera, &password, &user.username, &user.email);
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join(" "));
    }
    let hash = tessera.hasher().hash(&password).await?;
    let update = UserUpdate {
        password_hash: Some(hash),
        ..UserUpdate::default()
    };
    tessera.stores().users.update_user(user.id, update).await?;
    println!("Password changed successfully for user {:?}", user.username);
    Ok(())
}
