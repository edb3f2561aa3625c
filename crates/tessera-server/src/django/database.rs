//! A Django project's own database, SQLite or PostgreSQL, read as Django's
//! migrations left it, one table after another in Django's order (users,
//! then tokens, then sessions), each as a stream of rows in id order: memory
//! stays flat whatever the table's size. The database is only read (SQLite
//! is opened read-only).
//!
//! The groups (`auth_group`) come first, then the users, each with the ids
//! of its groups (from the membership table, `auth_user_groups`), so that a
//! user's membership is always read whole.
//!
//! The user table is `auth_user` by default; a custom user model's table is
//! read with `--user-table`, its columns mapped with `--user-column`
//! ([`super::columns`]), its membership table with `--user-groups-table`
//! (Django's name for it by default: `<user table>_groups`, whose column for
//! the user is found as the one `..._id` column besides `group_id`). Times
//! are read as UTC (Django's `USE_TZ = True`, the default).

use super::columns::{is_identifier, quote, UserColumns, FIELDS};
use super::source::{parse_time, GroupRef, GroupRow, Row, SessionRow, TokenRow, UserRow};
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

/// The user columns read, as one row type for both databases: times as text,
/// flags as integers.
#[derive(sqlx::FromRow)]
struct UserFields {
    id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    password: String,
    is_active: i64,
    is_staff: i64,
    is_superuser: i64,
    date_joined: Option<String>,
    last_login: Option<String>,
    groups: Option<String>,
}

/// What to read the users from.
#[derive(Debug, Clone)]
pub struct UserSource {
    /// The user table.
    pub table: String,
    /// Its columns.
    pub columns: UserColumns,
    /// The membership table; `None` for Django's name
    /// ([`UserSource::groups_table`]).
    pub groups_table: Option<String>,
}

impl UserSource {
    /// The membership table: as given, or as Django names it
    /// (`auth_user_groups` for `auth_user`, `<table>_groups` otherwise).
    pub fn groups_table(&self) -> String {
        self.groups_table
            .clone()
            .unwrap_or_else(|| format!("{}_groups", self.table))
    }
}

#[derive(sqlx::FromRow)]
struct TokenColumns {
    secret: String,
    token_key: Option<String>,
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
                // Quoted, as the queries name it: exactly this name.
                let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                    .bind(quote(table))
                    .fetch_one(pool)
                    .await?;
                Ok(found.is_some())
            }
        }
    }

    /// The columns of `table`, in order.
    async fn columns(&self, table: &str) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Database::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(pool)
                    .await
            }
            Database::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_name = $1 AND table_schema = ANY (current_schemas(false)) \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(pool)
                .await
            }
        }
    }

    /// Sends the groups, every row of the user table with its groups, then
    /// the DRF tokens, the knox tokens and the sessions (tables that are not
    /// there are noted). An error when the user table cannot be read at all;
    /// how many rows were read.
    pub async fn read(&self, users: &UserSource, rows: &Sender<Row>) -> Result<u64, String> {
        let user_table = users.table.as_str();
        if !is_identifier(user_table) {
            return Err(format!("--user-table {user_table:?} is not a table name"));
        }
        let groups_table = users.groups_table();
        if !is_identifier(&groups_table) {
            return Err(format!(
                "--user-groups-table {groups_table:?} is not a table name"
            ));
        }
        let missing = |e: sqlx::Error| format!("cannot read table {user_table}: {e}");
        if !self.has_table(user_table).await.map_err(missing)? {
            return Err(format!(
                "there is no table {user_table} in the Django database (a custom user model? see --user-table)"
            ));
        }
        let present = self.columns(user_table).await.map_err(missing)?;
        for field in FIELDS {
            if let Some(column) = users.columns.get(field) {
                if !present.iter().any(|c| c == column) {
                    let hint = if matches!(field, "id" | "username" | "password") {
                        format!("map it with --user-column {field}=COLUMN")
                    } else {
                        format!("map it with --user-column {field}=COLUMN, or {field}=- if the model has none")
                    };
                    return Err(format!(
                        "table {user_table} has no column {column:?} for the user's {field}: {hint}"
                    ));
                }
            }
        }
        let mut count = self.read_groups(rows).await?;
        let membership = self.membership(&groups_table, rows).await?;
        count += self
            .read_users(users, membership.as_ref(), rows)
            .await
            .map_err(missing)?;
        for (kind, table) in [
            (TokenKind::Drf, "authtoken_token"),
            (TokenKind::Knox, "knox_authtoken"),
        ] {
            count += self.read_tokens(kind, table, rows).await?;
        }
        count += self.read_sessions(rows).await?;
        Ok(count)
    }

    /// Sends the rows of `auth_group`, or notes that there is none.
    async fn read_groups(&self, rows: &Sender<Row>) -> Result<u64, String> {
        let table = "auth_group";
        let failed = |e: sqlx::Error| format!("cannot read table {table}: {e}");
        if !self.has_table(table).await.map_err(failed)? {
            let _ = rows
                .send(Row::Note(format!("no table {table}: no groups")))
                .await;
            return Ok(0);
        }
        let mut count = 0;
        let sql = "SELECT CAST(id AS BIGINT), CAST(name AS TEXT) FROM auth_group ORDER BY id";
        let read: Result<(), sqlx::Error> = with_db!(self, pool => {
            async {
                let mut stream = sqlx::query_as::<_, (i64, String)>(sql).fetch(pool);
                while let Some((id, name)) = stream.try_next().await? {
                    count += 1;
                    let row = Row::Group(GroupRow { id: Some(id), name });
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

    /// The membership table and its column for the user, when there is one
    /// (noted when not).
    async fn membership(
        &self,
        table: &str,
        rows: &Sender<Row>,
    ) -> Result<Option<(String, String)>, String> {
        let failed = |e: sqlx::Error| format!("cannot read table {table}: {e}");
        if !self.has_table(table).await.map_err(failed)? {
            let _ = rows
                .send(Row::Note(format!(
                    "no table {table}: no group memberships (see --user-groups-table)"
                )))
                .await;
            return Ok(None);
        }
        let columns = self.columns(table).await.map_err(failed)?;
        let users: Vec<&String> = columns
            .iter()
            .filter(|c| c.ends_with("_id") && *c != "group_id" && is_identifier(c))
            .collect();
        match (columns.iter().any(|c| c == "group_id"), &users[..]) {
            (true, [user]) => Ok(Some((table.to_owned(), (*user).clone()))),
            _ => Err(format!(
                "table {table} is not a Django membership table (a group_id column and one other ..._id column)"
            )),
        }
    }

    async fn read_users(
        &self,
        users: &UserSource,
        membership: Option<&(String, String)>,
        rows: &Sender<Row>,
    ) -> Result<u64, sqlx::Error> {
        let table = users.table.as_str();
        let c = &users.columns;
        let required = |field: &str| c.quoted(field).unwrap_or_else(|| quote(field));
        let id = required("id");
        let text = |field: &str| match c.quoted(field) {
            Some(column) => format!("COALESCE(CAST(u.{column} AS TEXT), '')"),
            None => "CAST('' AS TEXT)".to_owned(),
        };
        let flag = |field: &str, default: u8| match c.quoted(field) {
            Some(column) => self.flag(&format!("u.{column}")),
            None => format!("CAST({default} AS BIGINT)"),
        };
        let time = |field: &str| match c.quoted(field) {
            Some(column) => self.time(&format!("u.{column}")),
            None => "CAST(NULL AS TEXT)".to_owned(),
        };
        let groups = match membership {
            Some((members, user)) => {
                let (members, user) = (quote(members), quote(user));
                let list = match self {
                    Database::Sqlite(_) => "group_concat(CAST(m.group_id AS TEXT), ',')",
                    Database::Postgres(_) => "string_agg(CAST(m.group_id AS TEXT), ',')",
                };
                format!("(SELECT {list} FROM {members} m WHERE m.{user} = u.{id})")
            }
            None => "CAST(NULL AS TEXT)".to_owned(),
        };
        let sql = format!(
            "SELECT CAST(u.{id} AS BIGINT) AS id, CAST(u.{} AS TEXT) AS username, \
             {} AS email, {} AS first_name, {} AS last_name, CAST(u.{} AS TEXT) AS password, \
             {} AS is_active, {} AS is_staff, {} AS is_superuser, \
             {} AS date_joined, {} AS last_login, {groups} AS groups \
             FROM {} u ORDER BY u.{id}",
            required("username"),
            text("email"),
            text("first_name"),
            text("last_name"),
            required("password"),
            flag("is_active", 1),
            flag("is_staff", 0),
            flag("is_superuser", 0),
            time("date_joined"),
            time("last_login"),
            quote(table),
        );
        let mut count = 0;
        with_db!(self, pool => {
            let mut stream = sqlx::query_as::<_, UserFields>(&sql).fetch(pool);
            while let Some(c) = stream.try_next().await? {
                count += 1;
                let date_joined = c.date_joined.as_deref().map(parse_time);
                let last_login = c.last_login.as_deref().map(parse_time);
                let groups: Option<Vec<GroupRef>> = c
                    .groups
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|id| !id.is_empty())
                    .map(|id| id.trim().parse().ok().map(GroupRef::Id))
                    .collect();
                let row = match (date_joined, last_login, groups) {
                    (None | Some(Some(_)), None | Some(Some(_)), Some(groups)) => Row::User(UserRow {
                        id: c.id,
                        username: c.username,
                        email: c.email,
                        first_name: c.first_name,
                        last_name: c.last_name,
                        password: c.password,
                        is_active: c.is_active != 0,
                        is_staff: c.is_staff != 0,
                        is_superuser: c.is_superuser != 0,
                        date_joined: date_joined.flatten(),
                        last_login: last_login.flatten(),
                        groups,
                    }),
                    (_, _, None) => Row::Unreadable {
                        what: format!("{table} id {}", c.id),
                        reason: "a group id of its memberships is not a number".to_owned(),
                    },
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
                "SELECT key AS secret, CAST(NULL AS TEXT) AS token_key, \
                 CAST(user_id AS BIGINT) AS user_id, {} AS created, \
                 NULL AS expires FROM {table} ORDER BY created",
                self.time("created")
            ),
            // knox before 3.x had no token_key: such tokens are reported.
            TokenKind::Knox
                if !self
                    .columns(table)
                    .await
                    .map_err(failed)?
                    .iter()
                    .any(|c| c == "token_key") =>
            {
                format!(
                    "SELECT digest AS secret, CAST(NULL AS TEXT) AS token_key, \
                 CAST(user_id AS BIGINT) AS user_id, {} AS created, \
                 {} AS expires FROM {table} ORDER BY created",
                    self.time("created"),
                    self.time("expiry")
                )
            }
            TokenKind::Knox => format!(
                "SELECT digest AS secret, CAST(token_key AS TEXT) AS token_key, \
                 CAST(user_id AS BIGINT) AS user_id, {} AS created, \
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
                            token_key: c.token_key,
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
