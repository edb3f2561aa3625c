//! `POST /api-token-auth/`: DRF's `obtain_auth_token`, minting a new key on each
//! success (only digests are stored, so an old key cannot be handed back).

use super::{op, Entry, ViewAuth, ViewReturns, ViewShape};
use crate::accounts::{issued_token, stored_or_refused, TokenRequest};
use crate::audit::RequestMeta;
use crate::body::FormObject;
use crate::fields::{CharField, Fields};
use crate::login::{check_password, Via, LOGIN_FAILED};
use crate::throttling::Throttle;
use crate::{Policy, Rejection, Tessera, ValidationErrors};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::Method;
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};
use tessera_core::audit::EventKind;
use tessera_core::secret::Secret;

/// The name given to keys obtained with a password.
pub const OBTAINED_TOKEN_NAME: &str = "api-token-auth";

/// The scoped throttle of the password views (`throttle_rates["login"]`).
pub(super) fn login_scope() -> Throttle {
    Throttle::Scoped("login".to_owned())
}

pub(super) fn entries(path: &'static str) -> Vec<Entry> {
    // DRF's ObtainAuthToken: the default authenticators still run (a bad
    // token header is refused), and anyone may call it.
    vec![Entry::guarded(
        path,
        vec![op(
            Method::POST,
            "Obtain a token with a username and password (JSON, form or multipart)",
            ViewAuth::Optional,
            &["username", "password"],
            &[200, 400, 401, 403, 413, 415, 429],
        )
        .no_scope()
        .forms()
        .returns(ViewReturns::Json(ViewShape::Key))],
        Policy::allow_any().throttle(login_scope()),
        post(obtain_token),
    )]
}

async fn obtain_token(
    State(tessera): State<Tessera>,
    parts: Parts,
    FormObject(data): FormObject,
) -> Result<Json<Value>, Rejection> {
    let meta = RequestMeta::of(&parts, tessera.settings().num_proxies);
    let mut fields = Fields::new(&data);
    let username = fields.char("username", CharField::required());
    let password = fields.char("password", CharField::password());
    fields.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ValidationErrors::non_field(LOGIN_FAILED).into());
    };
    let tessera = &tessera;
    let login = check_password(
        tessera,
        &meta,
        Via::ObtainToken,
        &username,
        &Secret::new(password),
    )
    .await?
    .ok_or_else(|| ValidationErrors::non_field(LOGIN_FAILED))?;
    let request = TokenRequest {
        name: OBTAINED_TOKEN_NAME.to_owned(),
        scopes: Vec::new(),
        lifetime: None,
        authenticated_at: Some(tessera.clock().now()),
    };
    let event = meta.user_event(
        tessera.clock().now(),
        EventKind::TokenCreated,
        login.user(),
        json!({"name": OBTAINED_TOKEN_NAME}),
    );
    let (key, token) = issued_token(tessera, login.user(), request, event)?;
    // The login and its key: one write to the store.
    let (_, stored) = login
        .record_with_token(tessera, token)
        .await?
        .ok_or_else(|| ValidationErrors::non_field(LOGIN_FAILED))?;
    let (key, _) = stored_or_refused(key, stored)?;
    Ok(Json(json!({"token": key.expose()})))
}
