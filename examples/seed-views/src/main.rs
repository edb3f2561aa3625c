//! The seed's views on their own: `cargo run -p seed-views`, then
//! `curl -H "Authorization: Token <key>" http://127.0.0.1:8001/api/example/`.
//! It prints a user's key at start-up. SQLite in a temporary directory.

use tessera_axum::{Authenticator, Settings, Tessera};
use tessera_core::password::{hash_now, Argon2Params, PasswordHasher};
use tessera_core::secret::Secret;
use tessera_core::token::{NewToken, TokenKey};
use tessera_core::user::NewUser;
use tessera_core::{Clock, Stores, SystemClock};
use tessera_store_sql::SqlStore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("seed-views-{}", std::process::id()));
    let url = format!("sqlite://{}/db.sqlite", dir.display());
    let store = SqlStore::connect(&url).await?;
    store.migrate().await?;
    let stores = Stores::from_one(store);
    let params = Argon2Params::default();
    let hasher = PasswordHasher::with_defaults(params).map_err(anyhow::Error::msg)?;
    let now = SystemClock.now();
    let user = stores
        .users
        .create_user(NewUser {
            username: "demo".into(),
            email: String::new(),
            password_hash: hash_now(&params, &Secret::new("demo-password"))?,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: now,
        })
        .await?;
    let key = TokenKey::generate();
    let new = NewToken {
        user_id: user.id,
        digest: key.digest(),
        name: "seed".into(),
        scopes: vec![],
        created: now,
        expires: None,
        authenticated_at: None,
    };
    stores.tokens.create_token(new, None).await?;
    println!("user demo, token {}", key.expose());
    let tessera = Tessera::builder()
        .stores(stores)
        .hasher(hasher)
        .settings(Settings::default())
        .build()?;
    let app = seed_views::router(&tessera, &[Authenticator::Token]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8001").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
