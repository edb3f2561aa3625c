//! `tessera migrate`.

use crate::config::Config;

pub(super) async fn run(config: Config) -> anyhow::Result<()> {
    let store = super::open_store(&config).await?;
    println!("Migrations applied to the {} store.", store.backend());
    Ok(())
}
