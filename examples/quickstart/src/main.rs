//! The smallest Tessera application: DRF's token and session login (the
//! ready views), sign-up, and one route for signed-in users.

use axum::{routing::get, Json, Router};
use serde_json::{json, Value};
use tessera_axum::prelude::*;
use tessera_store_sql::SqlStore;

async fn hello(AuthUser(me): AuthUser) -> Json<Value> {
    Json(json!({ "hello": me.user.username }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store = SqlStore::connect("sqlite://quickstart.db").await?;
    store.migrate().await?;
    // Plain HTTP on this machine: cookies without `Secure`.
    let settings = Settings {
        secure_cookies: false,
        ..Settings::default()
    };
    let tessera = Tessera::builder().store(store).settings(settings).build()?;
    let signed_in = Policy::new().permission(IsAuthenticated);
    let app = Router::new()
        .route("/hello", get(hello).layer(signed_in.layer(&tessera)))
        .merge(Views::new().registration(true).router(&tessera));
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:8000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tessera_axum::serve(listener, app, tessera).await?;
    Ok(())
}
