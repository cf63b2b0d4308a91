//! The embedded SQLite store: connectors, runs, watermarks and objects.
//!
//! One file (plus SQLite's `-wal`/`-shm` while open) in WAL mode, so a crash never leaves a
//! half-written batch and readers (`host objects`) do not block a running import. The runner
//! writes each batch of changes in its own transaction and ends a successful run with one
//! transaction that applies deletes, stores the new watermark and marks the run succeeded
//! (both in `import.rs`, the runner's only way to write; all SQL stays in this module).
//!
//! The store never holds credentials: connectors' settings are not stored at all, and objects
//! are what the connector emitted.

mod exports;
mod import;
mod objects;
mod runs;
pub mod schema;
mod watermarks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use exports::{ExportRow, ExportRunRecord};
pub use import::{Deletions, FinalDeletes, RunKey, Verdict};
pub use objects::{StoredObject, UpsertOutcome};
pub use runs::{ConnectorRow, RunEnd, RunError, RunRecord, RunStatus, TypeCounts};
pub use watermarks::{WatermarkRow, WatermarkSource};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store {path}: {what}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the host was doing.
        what: String,
        /// SQLite's error (never contains values: every query uses parameters).
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer host.
    #[error(
        "store {path}: schema version {found} is newer than this host understands (up to {known}); use a newer host"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The store's schema version.
        found: i64,
        /// The newest version this host knows.
        known: i64,
    },
    /// A read-only command was pointed at a store that does not exist.
    #[error(
        "no store at {path}: run an import first, or point `store` in host.toml (or --store) at an existing one"
    )]
    Missing {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The file system failed around the database file.
    #[error("store {path}: {message}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Another live process is running the same connector.
    #[error(
        "connector `{connector}` is already running in process {pid} (run {run_id}); one run per connector at a time: wait for it to finish, or stop that process"
    )]
    Busy {
        /// The connector.
        connector: String,
        /// The run in progress.
        run_id: i64,
        /// The process running it.
        pid: i64,
    },
    /// A JSON column could not be read back.
    #[error("store {path}: column {column} holds invalid JSON: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// serde_json's message.
        message: String,
    },
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// The file cannot be opened or created, or was written by a newer host.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
                path: path.to_owned(),
                message: format!("creating directory {}: {e}", dir.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(sqlite(path, "opening"))?;
        Self::setup(conn, path)
    }

    /// Opens an existing store; used by read-only commands so a typo does not create a file.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when there is no file at `path`.
    pub fn open_existing(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(path, "opening"))?;
        Self::setup(conn, path)
    }

    /// An in-memory store, for tests.
    ///
    /// # Errors
    /// SQLite failed to allocate it.
    pub fn open_in_memory() -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(sqlite(&path, "opening"))?;
        Self::setup(conn, &path)
    }

    fn setup(mut conn: Connection, path: &Path) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sqlite(path, "setting the busy timeout"))?;
        // WAL: a crash never loses a committed batch, and readers don't block the writer.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sqlite(path, "enabling WAL"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite(path, "setting synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite(path, "enabling foreign keys"))?;
        // Deleted pages are zeroed, so removed objects do not linger in the file.
        conn.pragma_update(None, "secure_delete", true)
            .map_err(sqlite(path, "enabling secure_delete"))?;
        schema::migrate(&mut conn).map_err(|e| match e {
            schema::MigrateError::TooNew { found, known } => StoreError::TooNew {
                path: path.to_owned(),
                found,
                known,
            },
            schema::MigrateError::Sqlite(source) => StoreError::Sqlite {
                path: path.to_owned(),
                what: "migrating the schema".into(),
                source,
            },
        })?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal mode SQLite reports (`wal` for file stores).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn journal_mode(&self) -> Result<String> {
        self.conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(sqlite(&self.path, "reading the journal mode"))
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`, so it never fails half-way on a lock).
    /// Private to the store: callers use the operations of [`import`] and the other modules.
    ///
    /// # Errors
    /// SQLite failed, or another writer held the store longer than the busy timeout.
    fn begin(&mut self) -> Result<Tx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite(&self.path, "starting a transaction"))?;
        Ok(Tx {
            tx,
            path: &self.path,
        })
    }
}

/// A write transaction; dropped without [`commit`](Tx::commit) it rolls back.
struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: &'a Path,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("path", &self.path).finish()
    }
}

impl Tx<'_> {
    /// Commits.
    ///
    /// # Errors
    /// SQLite failed; nothing was written.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.tx.commit().map_err(sqlite(path, "committing"))
    }

    /// Rolls back explicitly.
    ///
    /// # Errors
    /// SQLite failed (the transaction is rolled back anyway when dropped).
    pub fn rollback(self) -> Result<()> {
        let path = self.path;
        self.tx.rollback().map_err(sqlite(path, "rolling back"))
    }
}

pub(crate) fn sqlite(path: &Path, what: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    let what = what.to_owned();
    move |source| StoreError::Sqlite { path, what, source }
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    column: &'static str,
    text: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        column,
        message: e.to_string(),
    })
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing maps of strings and numbers cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_uses_wal_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mesh.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.journal_mode().unwrap(), "wal");
        drop(store);
        let store = Store::open_existing(&path).unwrap();
        assert_eq!(
            schema::version(&store.conn).unwrap(),
            schema::latest_version()
        );
    }

    #[test]
    fn open_existing_refuses_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open_existing(&dir.path().join("nope.db")).unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }));
        assert!(err.to_string().contains("nope.db"), "{err}");
        assert!(!dir.path().join("nope.db").exists());
    }
}
