//! `tessera changepassword USERNAME`, as Django's: asks twice for the new one.
//!
//! Like `/auth/password` and an administrator's reset, it ends every session
//! and token of the user, in the same transaction as the new hash, and
//! records `password_changed` (`"via": "changepassword"`): whoever held a
//! credential obtained with the old password keeps nothing.

use crate::config::Config;
use clap::Args;
use serde_json::json;
use tessera_axum::accounts::password_errors;
use tessera_axum::audit::RequestMeta;
use tessera_core::audit::EventKind;
use tessera_core::secret::Secret;
use tessera_core::user::UserUpdate;

/// Options of `changepassword`.
#[derive(Debug, Args)]
pub struct ChangePasswordArgs {
    /// Whose password.
    pub username: String,
}

pub(super) async fn run(config: Config, args: ChangePasswordArgs) -> anyhow::Result<()> {
    let state = super::open_state(config).await?;
    let tessera = &state.tessera;
    let user = super::user_named(tessera, &args.username).await?;
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
    let event = RequestMeta::default().user_event(
        tessera.clock().now(),
        EventKind::PasswordChanged,
        &user,
        json!({"via": "changepassword", "other_credentials_revoked": true}),
    );
    tessera
        .stores()
        .audited
        .update_user_and_revoke_audited(user.id, update, None, None, event)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {:?} does not exist", user.username))?;
    println!("Password changed successfully for user {:?}", user.username);
    println!("Every session and token of the user was revoked.");
    Ok(())
}
