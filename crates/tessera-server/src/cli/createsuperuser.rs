//! `tessera createsuperuser`, as Django's: prompts for what is missing, or with
//! `--no-input` takes the password from `TESSERA_SUPERUSER_PASSWORD`.

use crate::config::Config;
use clap::Args;
use tessera_axum::accounts::{create_user, UserInput};

use tessera_axum::audit::RequestMeta;
use tessera_core::audit::EventKind;
use tessera_core::secret::Secret;

/// Options of `createsuperuser`.
#[derive(Debug, Args)]
pub struct CreateSuperuserArgs {
    /// The username.
    #[arg(long)]
    pub username: Option<String>,
    /// The e-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Do not prompt; the password comes from `TESSERA_SUPERUSER_PASSWORD`.
    #[arg(long)]
    pub no_input: bool,
}

/// Django's `DJANGO_SUPERUSER_PASSWORD`.
pub const PASSWORD_VARIABLE: &str = "TESSERA_SUPERUSER_PASSWORD";

pub(super) async fn run(config: Config, args: CreateSuperuserArgs) -> anyhow::Result<()> {
    let (username, email, password) = if args.no_input {
        let username = args
            .username
            .ok_or_else(|| anyhow::anyhow!("--username is required with --no-input"))?;
        let password = std::env::var(PASSWORD_VARIABLE)
            .map_err(|_| anyhow::anyhow!("{PASSWORD_VARIABLE} must be set with --no-input"))?;
        (username, args.email.unwrap_or_default(), password)
    } else {
        let username = match args.username {
            Some(u) => u,
            None => super::prompt_line("Username: ")?,
        };
        let email = match args.email {
            Some(e) => e,
            None => super::prompt_line("Email address: ")?,
        };
        (username, email, super::prompt_new_password()?)
    };
    if password.is_empty() {
        anyhow::bail!("the password may not be blank");
    }
    let state = super::open_state(config).await?;
    let input = UserInput {
        username,
        email,
        password: Secret::new(password),
        is_active: true,
        is_staff: true,
        is_superuser: true,
    };
    let mut event =
        RequestMeta::default().event(state.tessera.clock().now(), EventKind::UserCreated);
    event.detail = serde_json::json!({"via": "createsuperuser"});
    match create_user(&state.tessera, input, event).await {
        Ok(created) => {
            println!("Superuser {} created.", created.user.username);
            Ok(())
        }
        Err(rejection) => Err(super::create_token::explain(rejection)),
    }
}
