//! Tessera's user, token, session and audit stores on SQLite and PostgreSQL,
//! through sqlx.
//!
//! One [`SqlStore`] type serves both databases: the URL picks the backend, the
//! schema is the same (times as microseconds since the Unix epoch, scopes and
//! session data as JSON text, key and session digests as bytes under a unique
//! index), and every query is written once, with `$1`-style parameters that
//! both drivers accept. The migrations are embedded in the binary.
//!
//! ```no_run
//! use tessera_core::store::{Health, UserStore};
//! use tessera_store_sql::SqlStore;
//!
//! # async fn run() -> Result<(), tessera_core::StoreError> {
//! // The file and its directory are created when missing.
//! let store = SqlStore::connect("sqlite://tessera-data/tessera.sqlite3?mode=rwc").await?;
//! store.migrate().await?;
//! store.ping().await?;
//! assert_eq!(store.backend(), "sqlite");
//! let page = store.list_users(None, 0, 50).await?;
//! println!("{} users", page.count);
//! # Ok(())
//! # }
//! ```
//!
//! Each state change that is audited can be written together with its event,
//! in one transaction ([`tessera_core::audited::AuditedWrites`]).
//!
//! Failures keep the store contract of [`tessera_core::store`]: a database that
//! cannot be reached is [`StoreError::Unavailable`], a broken uniqueness rule is
//! [`StoreError::Conflict`], anything else [`StoreError::Other`].

mod audit;
mod audited;
mod counters;
mod error;
mod import;
mod private;
mod revocations;
mod rows;
mod sessions;
mod tokens;
mod touches;
mod unlocks;
mod users;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tessera_core::store::Health;
use tessera_core::StoreError;

pub use counters::{PgCounterStore, PURGE_EVERY};
pub(crate) use error::store_error;
pub use revocations::CHANNEL as REVOCATION_CHANNEL;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long SQLite waits for another connection's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Each SQLite connection's page cache (`PRAGMA cache_size`; negative: in
/// KiB): 512 KiB, not SQLite's default 2 MiB. Reads are point lookups by a
/// unique index, mostly answered by the credential cache in front; the
/// operating system caches the file's pages once for every connection. At
/// a million tokens the default cost 27 MiB of the server's memory (ten
/// connections' caches filled with random pages) and bought no speed: the
/// same checks a second on a miss, the same with the working set cached
/// (`bench/run scale`; bench/RESULTS.md).
const SQLITE_CACHE_SIZE: &str = "-512";
/// How long a request waits for a pooled connection before the store counts as
/// unavailable (a 503 rather than a request hanging on a dead database), unless
/// [`ConnectOptions::acquire_timeout`] says otherwise: short enough that a
/// client still waits for the answer during an outage, long enough for a new
/// connection to be made to a live server.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How [`SqlStore::connect_with`] sets up its connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long an operation waits for a connection (a free one from the
    /// pool, or a new one) before it fails with [`StoreError::Unavailable`]
    /// (default [`DEFAULT_ACQUIRE_TIMEOUT`]).
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds, so a query
/// is written once and compiled for both drivers.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Begins a transaction that writes. On SQLite that is `BEGIN IMMEDIATE`,
/// which takes the write lock up front: a deferred `BEGIN` that reads before
/// it writes pins its snapshot at the first read, and when another
/// connection commits in between, the write cannot upgrade and SQLite answers
/// `SQLITE_BUSY_SNAPSHOT` at once, whatever the busy timeout (two concurrent
/// logins, or an import beside the audit writer). Waiting for the lock is the
/// busy timeout's job. On PostgreSQL a plain `BEGIN`.
pub(crate) trait BeginWrite {
    /// The database.
    type Db: sqlx::Database;

    /// The transaction, begun for writing.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Users, tokens, sessions and the audit trail in SQLite or PostgreSQL. Cloning is cheap: clones share one
/// connection pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pool: Pool,
}

impl SqlStore {
    /// Connects to `url`: `sqlite://PATH[?mode=rwc]`, `sqlite::memory:`, or
    /// `postgres://...` (`postgresql://` too).
    ///
    /// A SQLite database file and its parent directory are created when
    /// missing, private to the service user: the directory `0700`, the file
    /// and its `-wal`/`-shm` companions `0600`; existing ones with looser
    /// modes are tightened, with one log line each (a shared directory such
    /// as `/tmp`, `/`, the working or the home directory is left alone).
    /// Connections use WAL journaling, `synchronous = NORMAL`, foreign keys and a
    /// five-second busy timeout. The schema is not touched: call
    /// [`SqlStore::migrate`].
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// [`SqlStore::connect`] with these pool options.
    pub async fn connect_with(url: &str, pool: ConnectOptions) -> Result<SqlStore, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(store_error)?;
            Self::connect_sqlite(options, pool).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(store_error)?;
            Self::connect_postgres(options, pool).await
        } else {
            // The URL itself is not echoed: it may carry a password.
            Err(StoreError::Other(
                "unsupported database URL: expected sqlite:// or postgres://".into(),
            ))
        }
    }

    /// Connects to the PostgreSQL database at `url` with every connection's
    /// `search_path` set to `schema`, so that tables are created and found
    /// there. Tests use it to give each test a schema of its own; a deployment
    /// can use it to share a database with other applications.
    pub async fn connect_postgres_schema(url: &str, schema: &str) -> Result<SqlStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(store_error)?
            .options([("search_path", schema)]);
        Self::connect_postgres(options, ConnectOptions::default()).await
    }

    /// Connects a SQLite pool with these options and Tessera's settings.
    async fn connect_sqlite(
        options: SqliteConnectOptions,
        pool: ConnectOptions,
    ) -> Result<SqlStore, StoreError> {
        let filename = options.get_filename().to_path_buf();
        let on_disk = create_parent_directory(&filename).await?;
        if on_disk {
            private::prepare_files(&filename).map_err(|e| StoreError::Other(Box::new(e)))?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .pragma("cache_size", SQLITE_CACHE_SIZE);
        // No ping when a connection is taken from the pool: a SQLite
        // connection lives in this process and cannot have been dropped by a
        // server, and the ping is a round trip to the connection's thread,
        // doubling the cost of a one-statement call. (sqlx still pings on
        // release, which catches a dead connection thread.)
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(store_error)?;
        if on_disk {
            // The WAL companions exist now; SQLite gave them the file's mode.
            private::tighten_files(&filename).map_err(|e| StoreError::Other(Box::new(e)))?;
        }
        Ok(SqlStore {
            pool: Pool::Sqlite(pool),
        })
    }

    /// Connects a PostgreSQL pool with these options.
    async fn connect_postgres(
        options: PgConnectOptions,
        pool: ConnectOptions,
    ) -> Result<SqlStore, StoreError> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(store_error)?;
        Ok(SqlStore {
            pool: Pool::Postgres(pool),
        })
    }

    /// Applies the embedded migrations that the database has not seen yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let applied = match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        applied.map_err(error::migrate_error)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, waiting for those in use to be returned. Later
    /// operations fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

/// Creates (or tightens) the directory a SQLite database file lives in;
/// whether the database is a file at all. In-memory databases (`:memory:`,
/// `file:` names) have none.
async fn create_parent_directory(filename: &Path) -> Result<bool, StoreError> {
    let name = filename.to_string_lossy();
    if name == ":memory:" || name.starts_with("file:") {
        return Ok(false);
    }
    match filename.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            let parent = parent.to_path_buf();
            tokio::task::spawn_blocking(move || private::prepare_directory(&parent))
                .await
                .map_err(|e| StoreError::Other(Box::new(e)))?
                .map_err(|e| StoreError::Other(Box::new(e)))?;
            Ok(true)
        }
        _ => Ok(true),
    }
}

/// Whether a new transaction on this PostgreSQL connection may write: not a
/// standby in recovery, and not read-only by default
/// (`default_transaction_read_only`, per database, role or server).
const PG_ACCEPTS_WRITES: &str = "SELECT NOT pg_is_in_recovery() \
     AND current_setting('default_transaction_read_only') = 'off' \
     AND current_setting('transaction_read_only') = 'off'";

/// Readiness: the database answers, and accepts writes. On PostgreSQL a
/// database that answers but refuses writes (a standby, or one set
/// `default_transaction_read_only = on`) is [`StoreError::Unavailable`]:
/// every login would fail, so the process is not ready. A SQLite database
/// answers `SELECT 1`.
#[async_trait::async_trait]
impl Health for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(drop)
                .map_err(store_error),
            Pool::Postgres(pool) => {
                let writable: bool = sqlx::query_scalar(PG_ACCEPTS_WRITES)
                    .fetch_one(pool)
                    .await
                    .map_err(store_error)?;
                if writable {
                    Ok(())
                } else {
                    Err(StoreError::Unavailable(
                        "the database is read-only: it refuses writes".into(),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_operation_that_gets_no_connection_fails_unavailable_after_the_acquire_timeout() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let options = ConnectOptions {
            acquire_timeout: Duration::from_millis(100),
        };
        let store = SqlStore::connect_with(&url, options)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("not SQLite");
        };
        assert_eq!(
            pool.options().get_acquire_timeout(),
            Duration::from_millis(100)
        );
        // Every connection taken, as by requests stuck on a dead server.
        let mut held = Vec::new();
        for _ in 0..pool.options().get_max_connections() {
            held.push(pool.acquire().await.unwrap_or_else(|e| panic!("{e}")));
        }
        let refused = store.ping().await;
        assert!(
            matches!(refused, Err(StoreError::Unavailable(_))),
            "{refused:?}"
        );
        drop(held);
        store.ping().await.unwrap_or_else(|e| panic!("{e}"));
    }
}
