//! The store: connectors, runs, watermarks, leases and objects, behind one interface
//! ([`Backend`]) with two implementations — the embedded SQLite file ([`SqliteStore`], the
//! default) and PostgreSQL, shared by many workers.
//!
//! [`Store`] is what commands and the runner hold: an open backend plus the generic
//! conveniences. The runner writes only through the import operations: batches of upserts
//! through the [writer thread](writer) ([`ImportBackend::write_upserts`]), and one final
//! transaction per successful run ([`Backend::finish_import`]) that applies deletes, stores the
//! new watermark and marks the run succeeded at once.
//!
//! The store never holds credentials: connectors' settings are not stored at all, and objects
//! are what the connector emitted.

mod backend;
mod batch;
#[cfg(test)]
mod conformance;
mod delete_where;
mod exports;
mod import;
mod leases;
mod objects;
pub mod postgres;
mod runs;
pub mod schema;
mod sqlite;
mod watermarks;
pub mod writer;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

pub use backend::Backend;
pub use delete_where::DeleteWhere;
pub use exports::{ExportRow, ExportRunRecord};
pub use import::{Deletions, FinalDeletes, RunKey, Verdict};
pub use leases::LeaseRow;
pub use objects::{StoredObject, UpsertOutcome};
pub use postgres::PgStore;
pub use runs::{ConnectorRow, RunEnd, RunError, RunRecord, RunStatus, TypeCounts};
pub use sqlite::SqliteStore;
use sqlite::{Tx, sqlite};
pub use watermarks::{WatermarkRow, WatermarkSource};
pub use writer::ImportBackend;

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
    /// The run was closed by someone else (a worker that took its connector over after this
    /// process lost the lease): nothing more is written for it.
    #[error(
        "run {run_id} is no longer running in the store (it is {status}): another process took its connector over; nothing more is written for it"
    )]
    RunClosed {
        /// The run.
        run_id: i64,
        /// Its status in the store.
        status: String,
    },
    /// A run was asked for under a lease this process does not hold (it expired or was taken).
    #[error(
        "connector `{connector}`: this process does not hold its lease (it expired or another worker took it)"
    )]
    LeaseNotHeld {
        /// The connector.
        connector: String,
    },
    /// A worker holds the connector's lease, so a one-off run must not start.
    #[error(
        "connector `{connector}` is leased by worker {holder} until {expires_at}; one run per connector at a time: let the worker run it"
    )]
    Leased {
        /// The connector.
        connector: String,
        /// The lease holder.
        holder: String,
        /// When the lease expires unless renewed (RFC 3339).
        expires_at: String,
    },
    /// PostgreSQL failed, or its URL or TLS settings are wrong. The message says what the host
    /// was doing and the server's SQLSTATE and message: never a password or a stored value.
    #[error("store {location}: {what}: {message}{}", code.as_deref().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default())]
    Postgres {
        /// The URL without a password.
        location: String,
        /// What the host was doing.
        what: String,
        /// The server's SQLSTATE, when the server answered.
        code: Option<String>,
        /// The server's (or the client's) message.
        message: String,
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

/// An open store: one [`Backend`], reached through `Deref` for its operations.
pub struct Store {
    backend: Box<dyn Backend>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.backend.location())
            .finish()
    }
}

impl Store {
    /// Wraps an open backend.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Self { backend }
    }

    /// Opens (creating if needed) the SQLite store at `path`.
    ///
    /// # Errors
    /// See [`SqliteStore::open`].
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self::new(Box::new(SqliteStore::open(path)?)))
    }

    /// Opens an existing SQLite store; used by read-only commands so a typo creates nothing.
    ///
    /// # Errors
    /// See [`SqliteStore::open_existing`].
    pub fn open_existing(path: &Path) -> Result<Self> {
        Ok(Self::new(Box::new(SqliteStore::open_existing(path)?)))
    }

    /// A private in-memory SQLite store, for tests.
    ///
    /// # Errors
    /// SQLite failed to allocate it.
    pub fn open_in_memory() -> Result<Self> {
        Ok(Self::new(Box::new(SqliteStore::open_in_memory()?)))
    }

    /// [`Backend::finish_import`] with any closure.
    ///
    /// # Errors
    /// The backend failed; nothing of the transaction was committed.
    pub fn finish_import(
        &mut self,
        run: RunKey<'_>,
        deletes: FinalDeletes<'_>,
        at: &str,
        decide: impl FnOnce(&Deletions) -> Verdict,
    ) -> Result<()> {
        self.backend
            .finish_import(run, deletes, at, Box::new(decide))
    }

    /// [`Backend::for_each_object`] with any closure.
    ///
    /// # Errors
    /// The backend failed, or `each` did.
    pub fn for_each_object(
        &self,
        connector: &str,
        object_type: Option<&str>,
        limit: Option<usize>,
        mut each: impl FnMut(StoredObject) -> Result<()>,
    ) -> Result<()> {
        self.backend
            .for_each_object(connector, object_type, limit, &mut each)
    }
}

impl Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        self.backend.as_ref()
    }
}

impl DerefMut for Store {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.backend.as_mut()
    }
}

/// This machine's name, recorded on each run so that only runs of this machine are checked
/// for a live process.
pub(crate) fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
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
    fn a_store_reaches_its_backend_and_names_its_location() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.db");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.location(), path.display().to_string());
        store.ensure_connector("c", "/l.so", None, "t0").unwrap();
        assert_eq!(store.connectors().unwrap().len(), 1);
        assert!(format!("{store:?}").contains("mesh.db"));
    }
}
