//! The API-key application on 127.0.0.1:8000 (or `$ADDR`), SQLite in
//! `custom-auth.db`. See `README.md`.

use custom_auth::{app, ApiKeys};
use tessera_axum::prelude::*;
use tessera_store_sql::SqlStore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store = SqlStore::connect("sqlite://custom-auth.db").await?;
    store.migrate().await?;
    // Plain HTTP on this machine: cookies without `Secure`.
    let settings = Settings {
        secure_cookies: false,
        ..Settings::default()
    };
    let tessera = Tessera::builder().store(store).settings(settings).build()?;
    let app = app(&tessera, ApiKeys::default());
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:8000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tessera_axum::serve(listener, app, tessera).await?;
    Ok(())
}
