//! The command line: one file per subcommand, as Django's management commands.

mod audit;
mod changepassword;
mod clearsessions;
mod create_token;
mod createsuperuser;
mod import_django;
mod migrate;
mod serve;
mod show_config;
mod unlock;

use crate::config::{keys, Config};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Tessera: Django REST Framework's authentication, as a service.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// A TOML configuration file; `TESSERA_SECTION__KEY` variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database (`sqlite://...` or `postgres://...`), overriding `database.url`.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The directory of the embedded SQLite database (`DIR/tessera.db`;
    /// `./tessera-data` by default), instead of `database.url`.
    #[arg(long, global = true, value_name = "DIR", env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Apply the database migrations.
    Migrate,
    /// Create a superuser (Django's `createsuperuser`).
    Createsuperuser(createsuperuser::CreateSuperuserArgs),
    /// Issue a token for a user and print it once (DRF's `drf_create_token`).
    CreateToken(create_token::CreateTokenArgs),
    /// Change a user's password (Django's `changepassword`); ends their sessions and tokens.
    Changepassword(changepassword::ChangePasswordArgs),
    /// Delete expired sessions and tokens (Django's `clearsessions`), and
    /// audit events past `audit.retention`.
    Clearsessions,
    /// Print the audit log, newest first.
    Audit(audit::AuditArgs),
    /// Clear login protection for a username, in running servers too.
    ///
    /// The unlock is recorded in the database (audited as `user_updated`);
    /// each running server applies it the next time it finds that username
    /// locked, without a restart.
    Unlock(unlock::UnlockArgs),
    /// Carry a Django project's users, passwords, DRF and knox tokens and
    /// database sessions over (README: "Moving from Django").
    ImportDjango(import_django::ImportDjangoArgs),
    /// Print the configuration in effect, with where each value came from
    /// (default, file, environment, command line); secrets redacted.
    Config(show_config::ConfigArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, figment) =
        Config::load_with_sources(cli.global.config.as_deref()).map_err(anyhow::Error::msg)?;
    let (config, overrides) = apply_global(config, &figment, &cli.global)?;
    match cli.command {
        Command::Serve(args) => serve::run(config, args).await,
        Command::Migrate => migrate::run(config).await,
        Command::Createsuperuser(args) => createsuperuser::run(config, args).await,
        Command::CreateToken(args) => create_token::run(config, args).await,
        Command::Changepassword(args) => changepassword::run(config, args).await,
        Command::Clearsessions => clearsessions::run(config).await,
        Command::Audit(args) => audit::run(config, args).await,
        Command::Unlock(args) => unlock::run(config, args).await,
        Command::ImportDjango(args) => import_django::run(config, args).await,
        Command::Config(args) => show_config::run(&config, &figment, &overrides, args),
    }
}

/// The options every command takes, over the loaded configuration; and
/// which keys they set, for `tessera config` (key path to source).
fn apply_global(
    mut config: Config,
    figment: &figment::Figment,
    global: &GlobalArgs,
) -> anyhow::Result<(Config, BTreeMap<String, String>)> {
    let mut overrides = BTreeMap::new();
    if let Some(url) = &global.database_url {
        config.database.url = url.clone();
        overrides.insert(
            "database.url".to_owned(),
            "command line --database-url".to_owned(),
        );
    }
    if let Some(dir) = &global.data_dir {
        let from_environment =
            std::env::var_os("TESSERA_DATA_DIR").is_some_and(|value| dir.as_os_str() == value);
        let given = if from_environment {
            "environment TESSERA_DATA_DIR"
        } else {
            "command line --data-dir"
        };
        let url_source = keys::source(figment, &overrides, "database.url");
        if url_source != "default" {
            anyhow::bail!(
                "{given} and database.url ({url_source}) both say where the data is: keep one"
            );
        }
        let dir = dir.to_string_lossy();
        if dir.contains('?') {
            anyhow::bail!("{given}: a directory name with '?' cannot be used");
        }
        config.database.url = format!("sqlite://{}/tessera.db", dir.trim_end_matches('/'));
        overrides.insert("database.url".to_owned(), given.to_owned());
    }
    Ok((config, overrides))
}

/// Opens the configured store, saying which on standard error.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<tessera_store_sql::SqlStore> {
    eprintln!(
        "tessera: data in {}",
        crate::banner::data_location(&config.database.url)
    );
    crate::open_store(config).await
}

/// The state a command works with: the configured store, the system clock.
/// With `sessions.store = "redis"`, Redis too: a password changed or a
/// user's sessions ended from the command line end the sessions kept there.
pub(crate) async fn open_state(config: Config) -> anyhow::Result<crate::AppState> {
    let store = open_store(&config).await?;
    let counters = if config.sessions.store == crate::config::SessionBackend::Redis {
        crate::open_counters(&config, &store).await?
    } else {
        crate::SharedCounters::for_store(&store)
    };
    crate::state_with_counters(
        config,
        store,
        std::sync::Arc::new(tessera_core::SystemClock),
        counters,
    )
}

/// The user with `username` (normalised as at login), or the one error
/// every command gives for a name that is not there.
pub(crate) async fn user_named(
    tessera: &tessera_axum::Tessera,
    username: &str,
) -> anyhow::Result<tessera_core::User> {
    let username = tessera_core::user::normalize_username(username);
    Ok(tessera
        .stores()
        .users
        .credentials_by_username(&username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {username:?} does not exist"))?
        .user)
}

/// A listening address on the command line: as `server.bind`, so
/// `localhost:8000` works.
pub(crate) fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    crate::config::socket_addr::parse(text)
}

/// Overrides `server.bind`.
pub(crate) fn with_bind(mut config: Config, bind: Option<SocketAddr>) -> Config {
    if let Some(bind) = bind {
        config.server.bind = bind;
    }
    config
}

/// Asks for a line on the terminal (or reads one from standard input).
pub(crate) fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        anyhow::bail!("no input: pass the value as an option, or use --no-input");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Asks for a password without echo on a terminal; reads a line from standard
/// input when it is not a terminal (scripts, tests).
pub(crate) fn prompt_password(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        Ok(rpassword::prompt_password(prompt)?)
    } else {
        prompt_line(prompt)
    }
}

/// Asks for a new password twice, as Django does, until both agree.
pub(crate) fn prompt_new_password() -> anyhow::Result<String> {
    for _ in 0..3 {
        let first = prompt_password("Password: ")?;
        let second = prompt_password("Password (again): ")?;
        if first != second {
            eprintln!("Error: Your passwords didn't match.");
            continue;
        }
        if first.is_empty() {
            eprintln!("Error: Blank passwords aren't allowed.");
            continue;
        }
        return Ok(first);
    }
    anyhow::bail!("too many attempts")
}
