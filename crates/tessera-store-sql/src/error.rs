//! sqlx errors in the store contract's three kinds.

use sqlx::error::DatabaseError;
use sqlx::migrate::MigrateError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;
use tessera_core::StoreError;

/// `Unavailable` when the database cannot be reached or is too busy to answer
/// (callers answer 503 and fail closed), `Conflict` for a unique violation,
/// `Other` for the rest.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    let unavailable = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_owned());
            }
            database_is_unavailable(db.as_ref())
        }
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Other(Box::new(error))
    }
}

/// Errors the database reports about itself rather than about the statement.
fn database_is_unavailable(db: &dyn DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        let code = pg.code();
        // Class 08: connection exception. 57P01-57P03: the server is shutting
        // down or starting up. 53300: too many connections. 25006: a write
        // refused by a read-only database (a standby, or
        // `default_transaction_read_only`): the database cannot take writes
        // now, which is an outage for the request, not a bug in it.
        return code.starts_with("08")
            || code.starts_with("57P0")
            || code == "53300"
            || code == "25006";
    }
    if let Some(sqlite) = db.try_downcast_ref::<SqliteError>() {
        // The primary result code is the low byte of the extended one.
        let primary = sqlite
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff);
        // SQLITE_IOERR (10), SQLITE_BUSY (5, still locked after the busy
        // timeout), SQLITE_LOCKED (6), SQLITE_CANTOPEN (14).
        return matches!(primary, Some(5 | 6 | 10 | 14));
    }
    false
}

/// Migration failures: the database's own errors keep their kind.
pub(crate) fn migrate_error(error: MigrateError) -> StoreError {
    match error {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => store_error(e),
        other => StoreError::Other(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for error in [
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Tls("handshake failed".into()),
        ] {
            assert!(matches!(store_error(error), StoreError::Unavailable(_)));
        }
    }

    #[test]
    fn other_failures_are_other() {
        for error in [
            sqlx::Error::RowNotFound,
            sqlx::Error::ColumnNotFound("x".into()),
            sqlx::Error::Protocol("bad".into()),
        ] {
            assert!(matches!(store_error(error), StoreError::Other(_)));
        }
    }
}
