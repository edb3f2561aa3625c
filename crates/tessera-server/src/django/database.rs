//! A Django project's own database, SQLite or PostgreSQL, read as Django's
//! migrations left it, one table after another in Django's order (users,
//! then tokens, then sessions), each as a stream of rows in id order: memory
//! stays flat whatever the table's size. The database is only read (SQLite
//! is opened read-only).
//!
//! The user table is `auth_user` by default; a custom user model that keeps
//! `AbstractUser`'s columns (`username`, `email`, `first_name`,
//! `last_name`, `password`, `is_active`, `is_staff`, `is_superuser`,
//! `date_joined`, `last_login`) is read with `--user-table`. Times are read
//! as UTC (Django's `USE_TZ = True`, the default).

use super::source::{parse_time, Row, SessionRow, TokenRow, UserRow};
use futures::TryStreamExt as _;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr as _;
use tessera_core::import::TokenKind;
use tokio::sync::mpsc::Sender;

/// A Django database.
pub enum Database {
    /// `sqlite:///path/db.sqlite3`.
    Sqlite(SqlitePool),
    /// `postgres://...`.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the database's pool.
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

/// The columns read, as one row type for both databases: times as text,
/// flags as integers.
#[derive(sqlx::FromRow)]
struct UserColumns {
    id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    password: String,
    is_active: i64,
    is_staff: i64,
    is_superuser: i64,
    date_joined: String,
    last_login: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TokenColumns {
    secret: String,
    user_id: i64,
    created: String,
    expires: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SessionColumns {
    session_key: String,
    session_data: String,
    expire_date: String,
}

impl Database {
    /// Opens `url` (`sqlite:///path/db.sqlite3` or `postgres://...`). The URL
    /// is never echoed: it may hold a password.
    pub async fn open(url: &str) -> Result<Database, String> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| format!("--from: not a SQLite URL: {e}"))?
                .read_only(true)
                .create_if_missing(false);
            let pool = SqlitePool::connect_with(options)
                .await
                .map_err(|e| format!("cannot open the Django SQLite database: {e}"))?;
            Ok(Database::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| format!("--from: not a PostgreSQL URL: {e}"))?;
            let pool = PgPool::connect_with(options)
                .await
                .map_err(|e| format!("cannot connect to the Django PostgreSQL database: {e}"))?;
            Ok(Database::Postgres(pool))
        } else {
            Err("--from must be sqlite:///path/db.sqlite3 or postgres://...".to_owned())
        }
    }

    /// A time column as text in the form [`parse_time`] reads, in UTC.
    fn time(&self, column: &str) -> String {
        match self {
            Database::Sqlite(_) => format!("CAST({column} AS TEXT)"),
            Database::Postgres(_) => {
                format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
            }
        }
    }

    /// A boolean column as an integer.
    fn flag(&self, column: &str) -> String {
        match self {
            Database::Sqlite(_) => format!("CAST({column} AS INTEGER)"),
            Database::Postgres(_) => {
                format!("CAST(CASE WHEN {column} THEN 1 ELSE 0 END AS BIGINT)")
            }
        }
    }

    async fn has_table(&self, table: &str) -> Result<bool, sqlx::Error> {
        match self {
            Database::Sqlite(pool) => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
                )
                .bind(table)
                .fetch_one(pool)
                .await?;
                Ok(n > 0)
            }
            Database::Postgres(pool) => {
                let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                    .bind(table)
                    .fetch_one(pool)
                    .await?;
                Ok(found.is_some())
            }
        }
    }

    /// Sends every row of the user table, then the DRF tokens, the knox
    /// tokens and the sessions (tables that are not there are noted). An
    /// error when the user table cannot be read at all; how many rows were
    /// read.
    pub async fn read(&self, user_table: &str, rows: &Sender<Row>) -> Result<u64, String> {
        if !is_identifier(user_table) {
            return Err(format!("--user-table {user_table:?} is not a table name"));
        }
        let missing = |e: sqlx::Error| format!("cannot read table {user_table}: {e}");
        if !self.has_table(user_table).await.map_err(missing)? {
            return Err(format!(
                "there is no table {user_table} in the Django database (a custom user model? see --user-table)"
            ));
        }
        let mut count = self.read_users(user_table, rows).await.map_err(missing)?;
        for (kind, table) in [
            (TokenKind::Drf, "authtoken_token"),
            (TokenKind::Knox, "knox_authtoken"),
        ] {
            count += self.read_tokens(kind, table, rows).await?;
        }
        count += self.read_sessions(rows).await?;
        Ok(count)
    }

    async fn read_users(&self, table: &str, rows: &Sender<Row>) -> Result<u64, sqlx::Error> {
        let sql = format!(
            "SELECT CAST(id AS BIGINT) AS id, username, email, first_name, last_name, password, \
             {} AS is_active, {} AS is_staff, {} AS is_superuser, \
             {} AS date_joined, {} AS last_login FROM {table} ORDER BY id",
            self.flag("is_active"),
            self.flag("is_staff"),
            self.flag("is_superuser"),
            self.time("date_joined"),
            self.time("last_login"),
        );
        let mut count = 0;
        with_db!(self, pool => {
            let mut stream = sqlx::query_as::<_, UserColumns>(&sql).fetch(pool);
            while let Some(c) = stream.try_next().await? {
                count += 1;
                let row = match (parse_time(&c.date_joined), c.last_login.as_deref().map(parse_time)) {
                    (Some(date_joined), None) | (Some(date_joined), Some(Some(_))) => {
                        let last_login = c.last_login.as_deref().and_then(parse_time);
                        Row::User(UserRow {
                            id: c.id,
                            username: c.username,
                            email: c.email,
                            first_name: c.first_name,
                            last_name: c.last_name,
                            password: c.password,
                            is_active: c.is_active != 0,
                            is_staff: c.is_staff != 0,
                            is_superuser: c.is_superuser != 0,
                            date_joined,
                            last_login,
                        })
                    }
                    _ => Row::Unreadable {
                        what: format!("{table} id {}", c.id),
                        reason: "date_joined or last_login is not a time".to_owned(),
                    },
                };
                if rows.send(row).await.is_err() {
                    break;
                }
            }
        });
        Ok(count)
    }

    async fn read_tokens(
        &self,
        kind: TokenKind,
        table: &str,
        rows: &Sender<Row>,
    ) -> Result<u64, String> {
        let failed = |e: sqlx::Error| format!("cannot read table {table}: {e}");
        if !self.has_table(table).await.map_err(failed)? {
            let _ = rows
                .send(Row::Note(format!(
                    "no table {table}: no {} tokens",
                    kind.name()
                )))
                .await;
            return Ok(0);
        }
        let sql = match kind {
            TokenKind::Drf => format!(
                "SELECT key AS secret, CAST(user_id AS BIGINT) AS user_id, {} AS created, \
                 NULL AS expires FROM {table} ORDER BY created",
                self.time("created")
            ),
            TokenKind::Knox => format!(
                "SELECT digest AS secret, CAST(user_id AS BIGINT) AS user_id, {} AS created, \
                 {} AS expires FROM {table} ORDER BY created",
                self.time("created"),
                self.time("expiry")
            ),
        };
        let mut count = 0;
        let read: Result<(), sqlx::Error> = with_db!(self, pool => {
            async {
                let mut stream = sqlx::query_as::<_, TokenColumns>(&sql).fetch(pool);
                while let Some(c) = stream.try_next().await? {
                    count += 1;
                    let expires = c.expires.as_deref().map(parse_time);
                    let row = match (parse_time(&c.created), expires) {
                        (Some(created), None | Some(Some(_))) => Row::Token(TokenRow {
                            kind,
                            secret: c.secret,
                            user_id: c.user_id,
                            created,
                            expires: c.expires.as_deref().and_then(parse_time),
                        }),
                        _ => Row::Unreadable {
                            what: format!("{table} row of user {}", c.user_id),
                            reason: "created or expiry is not a time".to_owned(),
                        },
                    };
                    if rows.send(row).await.is_err() {
                        break;
                    }
                }
                Ok(())
            }
            .await
        });
        read.map_err(failed)?;
        Ok(count)
    }

    async fn read_sessions(&self, rows: &Sender<Row>) -> Result<u64, String> {
        let table = "django_session";
        let failed = |e: sqlx::Error| format!("cannot read table {table}: {e}");
        if !self.has_table(table).await.map_err(failed)? {
            let _ = rows
                .send(Row::Note(format!("no table {table}: no database sessions")))
                .await;
            return Ok(0);
        }
        let sql = format!(
            "SELECT session_key, session_data, {} AS expire_date FROM {table} ORDER BY expire_date",
            self.time("expire_date")
        );
        let mut count = 0;
        let read: Result<(), sqlx::Error> = with_db!(self, pool => {
            async {
                let mut stream = sqlx::query_as::<_, SessionColumns>(&sql).fetch(pool);
                while let Some(c) = stream.try_next().await? {
                    count += 1;
                    let row = match parse_time(&c.expire_date) {
                        Some(expires) => Row::Session(SessionRow {
                            key: c.session_key,
                            data: c.session_data,
                            expires,
                        }),
                        None => Row::Unreadable {
                            what: table.to_owned(),
                            reason: "expire_date is not a time".to_owned(),
                        },
                    };
                    if rows.send(row).await.is_err() {
                        break;
                    }
                }
                Ok(())
            }
            .await
        });
        read.map_err(failed)?;
        Ok(count)
    }

    /// Closes the connections.
    pub async fn close(&self) {
        with_db!(self, pool => pool.close().await);
    }
}

/// A plain SQL identifier (it is put into the query text).
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}
