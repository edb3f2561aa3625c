//! A SQLite database is private to the service user: its directory `0700`,
//! the database file and its `-wal` and `-shm` companions `0600` (SECURITY
//! K5). They hold password hashes, token digests and the audit log, which
//! another local account must not read.
//!
//! New ones are created so; existing ones with looser modes are tightened at
//! connect, with one log line each. A directory that is not the data
//! directory's own is left alone: one with the sticky bit (`/tmp`), the
//! filesystem root, the working directory and the home directory (a
//! database written as `sqlite://tessera.db` or `sqlite:///tmp/x.db` does
//! not close them to everyone else).

use std::io;
use std::path::Path;

/// The mode of the data directory.
pub(crate) const DIR_MODE: u32 = 0o700;
/// The mode of the database files.
pub(crate) const FILE_MODE: u32 = 0o600;

/// The database's files: the file itself, then SQLite's WAL companions.
pub(crate) fn database_files(db: &Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// Creates `dir` (and missing parents) `0700`, or tightens it when it exists
/// and is the data directory's own (see the module docs).
#[cfg(unix)]
pub(crate) fn prepare_directory(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir),
        Err(e) => Err(e),
        Ok(meta) => {
            let mode = meta.permissions().mode();
            if mode & 0o077 == 0 || mode & 0o1000 != 0 || is_shared(dir) {
                return Ok(());
            }
            tighten(dir, mode, DIR_MODE)
        }
    }
}

/// Creates `dir` and its missing parents (no modes off Unix).
#[cfg(not(unix))]
pub(crate) fn prepare_directory(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates the database file `0600` when missing (SQLite gives its `-wal`
/// and `-shm` files the database file's mode), and tightens the database's
/// existing files.
#[cfg(unix)]
pub(crate) fn prepare_files(db: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    tighten_files(db)
}

/// Nothing to do off Unix: SQLite creates the file.
#[cfg(not(unix))]
pub(crate) fn prepare_files(_db: &Path) -> io::Result<()> {
    Ok(())
}

/// Tightens those of the database's files that exist and are looser than
/// `0600`.
#[cfg(unix)]
pub(crate) fn tighten_files(db: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for file in database_files(db) {
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                tighten(&file, meta.permissions().mode(), FILE_MODE)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Nothing to do off Unix.
#[cfg(not(unix))]
pub(crate) fn tighten_files(_db: &Path) -> io::Result<()> {
    Ok(())
}

/// Sets `mode` on `path`, with the one log line saying so.
#[cfg(unix)]
fn tighten(path: &Path, old: u32, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot make {} private (mode {:04o}): {e}",
                path.display(),
                mode
            ),
        )
    })?;
    // The absolute path, so that the operator knows which one.
    let shown = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    tracing::warn!(
        path = %shown.display(),
        "tightened {} from mode {:04o} to {:04o}: it holds password hashes and the audit log",
        shown.display(),
        old & 0o7777,
        mode
    );
    Ok(())
}

/// The root, the working directory and the home directory are not a data
/// directory to close.
fn is_shared(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return true;
    };
    if dir.parent().is_none() {
        return true;
    }
    let same = |other: Option<std::path::PathBuf>| {
        other
            .and_then(|p| p.canonicalize().ok())
            .is_some_and(|p| p == dir)
    };
    same(std::env::current_dir().ok()) || same(std::env::var_os("HOME").map(Into::into))
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn new_directories_and_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        prepare_directory(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("t.db");
        prepare_files(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    #[test]
    fn open_ones_are_tightened_and_shared_ones_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = dir.join("t.db");
        for file in database_files(&db) {
            std::fs::write(&file, b"").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        prepare_directory(&dir).unwrap();
        prepare_files(&db).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for file in database_files(&db) {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }

        let sticky = tmp.path().join("shared");
        std::fs::create_dir(&sticky).unwrap();
        std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
        prepare_directory(&sticky).unwrap();
        assert_eq!(mode(&sticky), 0o1777);
        assert!(is_shared(Path::new("/")));
        assert!(is_shared(&std::env::current_dir().unwrap()));
    }
}
