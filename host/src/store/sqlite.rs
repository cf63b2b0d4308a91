//! The embedded SQLite backend: one file (plus SQLite's `-wal`/`-shm` while open) in WAL mode,
//! so a crash never leaves a half-written batch and readers (`host objects`) do not block a
//! running import. Its operations live beside it by concern (`runs.rs`, `objects.rs`,
//! `watermarks.rs`, `exports.rs`, `import.rs`, `leases.rs`); all its SQL stays in those files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use std::collections::BTreeMap;

use connector_api::{Descriptor, ImportMode};

use super::{
    Backend, ConnectorRow, Deletions, ExportRow, ExportRunRecord, FinalDeletes, ImportBackend,
    LeaseRow, Result, RunEnd, RunError, RunKey, RunRecord, RunStatus, StoreError, StoredObject,
    Verdict, WatermarkRow, schema,
};

/// The writer's checkpoint interval in pages (of 4 KiB): at most about 40 MiB of log.
const WRITER_CHECKPOINT_PAGES: i64 = 10_000;

/// The page cache of an import's writer connection, in KiB: 8 MiB gives S (a 47 MB store) most of
/// what 16 MiB gives (wall 1.48 s with 2 MiB, 1.29 s with 8, 1.25 s with 16), while L, whose store
/// no cache of this size holds, peaks at 86 MiB (83 MiB with 2 MiB, 104 MiB with 16).
const WRITER_CACHE_KIB: i64 = 8 * 1024;

/// An open store.
pub struct SqliteStore {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    /// For an in-memory store: the URI of its shared-cache database, so that
    /// [`SqliteStore::open_writer`] can open a second connection to the same data.
    memory_uri: Option<String>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
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

    /// An in-memory store, for tests. It is a named shared-cache database, private to this
    /// store and the writers it opens, and gone when the last of them is closed.
    ///
    /// # Errors
    /// SQLite failed to allocate it.
    pub fn open_in_memory() -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uri = format!(
            "file:host-memory-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        let mut store = Self::open_memory_uri(&uri)?;
        store.memory_uri = Some(uri);
        Ok(store)
    }

    fn open_memory_uri(uri: &str) -> Result<Self> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_with_flags(uri, OpenFlags::default())
            .map_err(sqlite(&path, "opening"))?;
        Self::setup(conn, &path)
    }

    /// A second connection to this store, for the [writer thread](writer) of an import run.
    ///
    /// # Errors
    /// The store cannot be opened again.
    pub fn open_writer(&self) -> Result<Self> {
        let writer = match &self.memory_uri {
            Some(uri) => Self::open_memory_uri(uri)?,
            None => Self::open_existing(&self.path)?,
        };
        // Checkpoint every WRITER_CHECKPOINT_PAGES pages of log instead of SQLite's 1000: an
        // import rewrites the same B-tree pages many times, and each checkpoint copies them
        // into the database file (and syncs it) once more.
        writer
            .conn
            .pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
            .map_err(sqlite(&self.path, "setting the checkpoint interval"))?;
        // A page cache of WRITER_CACHE_KIB instead of SQLite's 2 MiB: an import's transaction
        // touches far more pages than 2 MiB hold, and every miss is a read from the file.
        writer
            .conn
            .pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(sqlite(&self.path, "setting the page cache size"))?;

        Ok(writer)
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
            memory_uri: None,
        })
    }

    /// Runs `sql` on the store directly: tests use it to make a later write fail.
    #[cfg(test)]
    pub(crate) fn execute_batch_for_tests(&self, sql: &str) {
        self.conn.execute_batch(sql).unwrap();
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
    pub(super) fn begin(&mut self) -> Result<Tx<'_>> {
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
pub(super) struct Tx<'a> {
    pub(super) tx: rusqlite::Transaction<'a>,
    pub(super) path: &'a Path,
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

impl Backend for SqliteStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn open_writer(&self) -> Result<Box<dyn ImportBackend>> {
        Ok(Box::new(SqliteStore::open_writer(self)?))
    }

    fn ensure_connector(
        &mut self,
        name: &str,
        library: &str,
        descriptor: Option<&Descriptor>,
        at: &str,
    ) -> Result<()> {
        SqliteStore::ensure_connector(self, name, library, descriptor, at)
    }

    fn connectors(&self) -> Result<Vec<ConnectorRow>> {
        SqliteStore::connectors(self)
    }

    fn begin_run(
        &mut self,
        connector: &str,
        mode: ImportMode,
        watermark_before: Option<&str>,
        at: &str,
        lease: Option<&str>,
    ) -> Result<i64> {
        SqliteStore::begin_run(self, connector, mode, watermark_before, at, lease)
    }

    fn finish_run_unsuccessful(
        &mut self,
        run_id: i64,
        status: RunStatus,
        end: &RunEnd,
        error: &RunError,
        at: &str,
    ) -> Result<()> {
        SqliteStore::finish_run_unsuccessful(self, run_id, status, end, error, at)
    }

    fn finish_import(
        &mut self,
        run: RunKey<'_>,
        deletes: FinalDeletes<'_>,
        at: &str,
        decide: Box<dyn FnOnce(&Deletions) -> Verdict + '_>,
    ) -> Result<()> {
        SqliteStore::finish_import(self, run, deletes, at, decide)
    }

    fn run(&self, run_id: i64) -> Result<Option<RunRecord>> {
        SqliteStore::run(self, run_id)
    }

    fn runs(&self, connector: &str, limit: usize) -> Result<Vec<RunRecord>> {
        SqliteStore::runs(self, connector, limit)
    }

    fn last_success_started(&self, connector: &str, mode: ImportMode) -> Result<Option<String>> {
        SqliteStore::last_success_started(self, connector, mode)
    }

    fn count_by_type(&self, connector: &str) -> Result<BTreeMap<String, u64>> {
        SqliteStore::count_by_type(self, connector)
    }

    fn object(
        &self,
        connector: &str,
        object_type: &str,
        external_id: &str,
    ) -> Result<Option<StoredObject>> {
        SqliteStore::object(self, connector, object_type, external_id)
    }

    fn for_each_object(
        &self,
        connector: &str,
        object_type: Option<&str>,
        limit: Option<usize>,
        each: &mut dyn FnMut(StoredObject) -> Result<()>,
    ) -> Result<()> {
        SqliteStore::for_each_object(self, connector, object_type, limit, each)
    }

    fn watermark(&self, connector: &str) -> Result<Option<WatermarkRow>> {
        SqliteStore::watermark(self, connector)
    }

    fn set_watermark_by_operator(&mut self, connector: &str, value: &str, at: &str) -> Result<()> {
        SqliteStore::set_watermark_by_operator(self, connector, value, at)
    }

    fn clear_watermark(&mut self, connector: &str) -> Result<bool> {
        SqliteStore::clear_watermark(self, connector)
    }

    fn begin_export_run(
        &mut self,
        connector: &str,
        dry_run: bool,
        source: &str,
        at: &str,
    ) -> Result<i64> {
        SqliteStore::begin_export_run(self, connector, dry_run, source, at)
    }

    fn record_exports(&mut self, run_id: i64, rows: &[ExportRow]) -> Result<()> {
        SqliteStore::record_exports(self, run_id, rows)
    }

    fn finish_export_run(
        &mut self,
        run_id: i64,
        status: &str,
        counts: &BTreeMap<String, u64>,
        error: Option<&str>,
        at: &str,
    ) -> Result<()> {
        SqliteStore::finish_export_run(self, run_id, status, counts, error, at)
    }

    fn export_runs(&self, connector: &str, limit: usize) -> Result<Vec<ExportRunRecord>> {
        SqliteStore::export_runs(self, connector, limit)
    }

    fn exports(&self, run_id: i64) -> Result<Vec<ExportRow>> {
        SqliteStore::exports(self, run_id)
    }

    fn acquire_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool> {
        SqliteStore::acquire_lease(self, connector, holder, ttl)
    }

    fn renew_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool> {
        SqliteStore::renew_lease(self, connector, holder, ttl)
    }

    fn release_lease(&mut self, connector: &str, holder: &str) -> Result<bool> {
        SqliteStore::release_lease(self, connector, holder)
    }

    fn leases(&self) -> Result<Vec<LeaseRow>> {
        SqliteStore::leases(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_uses_wal_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mesh.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.journal_mode().unwrap(), "wal");
        drop(store);
        let store = SqliteStore::open_existing(&path).unwrap();
        assert_eq!(
            schema::version(&store.conn).unwrap(),
            schema::latest_version()
        );
    }

    #[test]
    fn a_writer_is_a_second_connection_to_the_same_store() {
        use super::super::writer::{ImportBackend, UpsertBatch};
        use connector_api::{ImportMode, Object};

        let dir = tempfile::tempdir().unwrap();
        let memory = SqliteStore::open_in_memory().unwrap();
        let file = SqliteStore::open(&dir.path().join("mesh.db")).unwrap();
        for mut store in [memory, file] {
            store.ensure_connector("c", "/l.so", None, "t0").unwrap();
            let run_id = store
                .begin_run("c", ImportMode::Full, None, "t1", None)
                .unwrap();
            let mut writer = store.open_writer().unwrap();
            let interval: i64 = writer
                .conn
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
                .unwrap();
            assert_eq!(interval, WRITER_CHECKPOINT_PAGES);
            let cache: i64 = writer
                .conn
                .pragma_query_value(None, "cache_size", |r| r.get(0))
                .unwrap();
            assert_eq!(cache, -WRITER_CACHE_KIB);
            let batch = UpsertBatch::from_objects(&[Object::new("User", "u1")], "t1");
            let run = RunKey {
                connector: "c",
                run_id,
            };
            writer.write_upserts(run, &[batch]).unwrap();
            drop(writer);
            assert_eq!(store.count_by_type("c").unwrap()["User"], 1, "{store:?}");
        }
    }

    #[test]
    fn open_existing_refuses_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteStore::open_existing(&dir.path().join("nope.db")).unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }));
        assert!(err.to_string().contains("nope.db"), "{err}");
        assert!(!dir.path().join("nope.db").exists());
    }
}
