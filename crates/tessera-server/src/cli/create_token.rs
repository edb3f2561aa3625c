//! `tessera create-token USERNAME`: DRF's `drf_create_token`, printing the key
//! once (only its digest is stored).

use crate::config::Config;
use clap::Args;
use tessera_axum::accounts::{issue_token, TokenRequest};
use tessera_axum::audit::RequestMeta;
use tessera_axum::Rejection;
use tessera_core::audit::EventKind;

/// Options of `create-token`.
#[derive(Debug, Args)]
pub struct CreateTokenArgs {
    /// Whose token.
    pub username: String,
    /// The token's name.
    #[arg(long, default_value = "cli")]
    pub name: String,
}

pub(super) async fn run(config: Config, args: CreateTokenArgs) -> anyhow::Result<()> {
    let state = super::open_state(config).await?;
    let tessera = &state.tessera;
    let user = super::user_named(tessera, &args.username).await?;
    let request = TokenRequest {
        name: args.name,
        scopes: Vec::new(),
        lifetime: None,
        authenticated_at: None,
    };
    let event = RequestMeta::default().user_event(
        tessera.clock().now(),
        EventKind::TokenCreated,
        &user,
        serde_json::json!({"name": request.name, "via": "cli"}),
    );
    let (key, record) = issue_token(tessera, &user, request, event)
        .await
        .map_err(explain)?;
    println!(
        "Generated token {} for user {}",
        key.expose(),
        user.username
    );
    // DRF's keys never expire; say when this one does.
    match record.expires {
        Some(expires) => eprintln!(
            "It expires at {} (tokens.default_lifetime = {}; unlike DRF's, Tessera's keys expire).",
            tessera_core::clock::rfc3339(expires),
            crate::config::duration_text::format((expires - record.created).unsigned_abs())
        ),
        None => eprintln!("It never expires (tokens.default_lifetime = none)."),
    }
    Ok(())
}

/// A refusal as one line of text.
pub(crate) fn explain(rejection: Rejection) -> anyhow::Error {
    match rejection {
        Rejection::Api(e) => anyhow::anyhow!("{}", e.detail),
        Rejection::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .0
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}
