//! `tessera import-django`: a Django project's users, groups, DRF and knox
//! tokens and database sessions, carried over (see [`crate::django`]).
//!
//! Every rejected row is printed with its reason as the import goes on, then
//! a summary by reason. The exit status is non-zero only when nothing could
//! be read (no such database or file, not dumpdata JSON, no user table).

use crate::config::Config;
use crate::django::columns::UserColumns;
use crate::django::database::{Database, UserSource};
use crate::django::import::{Importer, Options, Progress, Summary, KINDS};
use crate::django::signing::SecretKeys;
use crate::django::source::Row;
use clap::Args;
use std::io::IsTerminal as _;
use std::path::PathBuf;

/// Options of `import-django`.
#[derive(Debug, Args)]
pub struct ImportDjangoArgs {
    /// The Django database: `sqlite:///path/db.sqlite3` or `postgres://...`
    /// (only read).
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "dumpdata",
        required_unless_present = "dumpdata"
    )]
    pub from: Option<String>,
    /// A `manage.py dumpdata auth.group auth.user authtoken.token knox
    /// sessions` JSON file (without `--natural-primary`), read as a stream.
    /// Users' groups may be natural keys (`--natural-foreign`); the tokens'
    /// users must be ids.
    #[arg(long, value_name = "FILE")]
    pub dumpdata: Option<PathBuf>,
    /// Django's `SECRET_KEY`, to carry database sessions over (without it,
    /// sessions are skipped). Prefer the environment variable: a command
    /// line is visible to other users of the machine.
    #[arg(
        long,
        value_name = "KEY",
        env = "DJANGO_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// One of Django's `SECRET_KEY_FALLBACKS`, tried after `--secret-key`
    /// (repeat for each).
    #[arg(long, value_name = "KEY")]
    pub secret_key_fallback: Vec<String>,
    /// The user table of a custom user model (with `--from`).
    #[arg(long, value_name = "TABLE", default_value = "auth_user")]
    pub user_table: String,
    /// The user model's label in `--dumpdata` (`app_label.model`).
    #[arg(long, value_name = "APP.MODEL", default_value = "auth.user")]
    pub user_model: String,
    /// Where a custom user model keeps one of Tessera's user fields:
    /// `FIELD=COLUMN` (a column of `--user-table`, or a field name of
    /// `--user-model` in `--dumpdata`), or `FIELD=-` for a field the model
    /// lacks (then `email`, `first_name`, `last_name` are empty, `is_active`
    /// true, `is_staff` and `is_superuser` false, `date_joined` the import's
    /// time, `last_login` none). Repeat for each field; the others keep
    /// `AbstractUser`'s names. FIELD is one of id, username, password,
    /// email, first_name, last_name, is_active, is_staff, is_superuser,
    /// date_joined, last_login (id, username and password are required).
    #[arg(long, value_name = "FIELD=COLUMN")]
    pub user_column: Vec<String>,
    /// The custom user model's group membership table (with `--from`); by
    /// default Django's name for it, `<user table>_groups`.
    #[arg(long, value_name = "TABLE")]
    pub user_groups_table: Option<String>,
    /// Rows written per transaction: an interrupted import keeps what it
    /// committed, and is re-run.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub batch_size: usize,
    /// Print what would be imported and skipped; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) async fn run(config: Config, args: ImportDjangoArgs) -> anyhow::Result<()> {
    let columns = UserColumns::parse(&args.user_column).map_err(anyhow::Error::msg)?;
    let store = super::open_store(&config).await?;
    let mut keys = Vec::new();
    keys.extend(args.secret_key.clone());
    keys.extend(args.secret_key_fallback.clone());
    let options = Options {
        batch_size: args.batch_size,
        dry_run: args.dry_run,
        keys: SecretKeys::new(keys),
        now: time::OffsetDateTime::now_utc(),
    };
    let (rows, mut received) = tokio::sync::mpsc::channel::<Row>(args.batch_size.clamp(1, 10_000));
    let reader = match (&args.from, &args.dumpdata) {
        (Some(url), _) => {
            let database = Database::open(url).await.map_err(anyhow::Error::msg)?;
            let users = UserSource {
                table: args.user_table.clone(),
                columns,
                groups_table: args.user_groups_table.clone(),
            };
            tokio::spawn(async move {
                let read = database.read(&users, &rows).await;
                database.close().await;
                read
            })
        }
        (None, Some(path)) => {
            let (path, model) = (path.clone(), args.user_model.clone());
            tokio::task::spawn_blocking(move || {
                crate::django::dumpdata::read(&path, &model, &columns, &rows)
            })
        }
        (None, None) => anyhow::bail!("give --from URL or --dumpdata FILE"),
    };
    let mut out = Output::new();
    let mut report = |p: Progress<'_>| out.show(p);
    let mut importer = Importer::new(&store, options, &mut report);
    while let Some(row) = received.recv().await {
        importer.push(row).await?;
    }
    let read = reader.await?;
    let summary = importer.finish().await?;
    Output::end_progress();
    match read {
        Err(reason) if summary.read == 0 => anyhow::bail!("nothing could be read: {reason}"),
        Err(reason) => println!("skipped source: {reason}"),
        Ok(_) => {}
    }
    print_summary(&summary, args.dry_run);
    Ok(())
}

/// Lines as the import goes: skipped rows and notes on standard output,
/// progress on standard error (one line rewritten on a terminal, a line per
/// batch otherwise).
struct Output {
    terminal: bool,
}

impl Output {
    fn new() -> Self {
        Output {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, progress: Progress<'_>) {
        match progress {
            Progress::Skipped { kind, what, reason } => {
                if self.terminal {
                    eprint!("\r\x1b[K");
                }
                println!("skipped {kind}: {what}: {reason}");
            }
            Progress::Note(note) => println!("note: {note}"),
            Progress::Batch(summary) => {
                let skipped: u64 = summary.counts.values().map(|c| c.skipped_total()).sum();
                let line = format!(
                    "{} rows read, {} imported, {} skipped",
                    summary.read,
                    summary.imported(),
                    skipped
                );
                if self.terminal {
                    eprint!("\r\x1b[K{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        }
    }

    fn end_progress() {
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
}

fn print_summary(summary: &Summary, dry_run: bool) {
    if dry_run {
        println!("Dry run: nothing was written. The import would give:");
    } else {
        println!("Imported from Django:");
    }
    for kind in KINDS {
        let counts = summary.counts.get(kind).cloned().unwrap_or_default();
        let reasons: Vec<String> = counts
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        };
        if kind == "memberships" {
            println!(
                "  {kind}: {} set, {} skipped{reasons}",
                counts.created,
                counts.skipped_total()
            );
            continue;
        }
        println!(
            "  {kind}: {} created, {} updated, {} unchanged, {} skipped{reasons}",
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.skipped_total()
        );
    }
    if summary.unreadable > 0 {
        println!("  unreadable: {}", summary.unreadable);
    }
}
