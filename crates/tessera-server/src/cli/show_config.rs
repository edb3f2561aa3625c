//! `tessera config`: the configuration in effect and where each value came
//! from; `tessera config --example` writes `tessera.example.toml`.

use crate::config::{keys, Config};
use clap::Args;
use std::collections::BTreeMap;

/// Options of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print every key with its default and documentation instead
    /// (the content of `tessera.example.toml`).
    #[arg(long)]
    pub example: bool,
}

pub(super) fn run(
    config: &Config,
    figment: &figment::Figment,
    overrides: &BTreeMap<String, String>,
    args: ConfigArgs,
) -> anyhow::Result<()> {
    if args.example {
        print!("{}", keys::example_toml());
    } else {
        crate::check(config)?;
        print!("{}", keys::explain(config, figment, overrides));
    }
    Ok(())
}
