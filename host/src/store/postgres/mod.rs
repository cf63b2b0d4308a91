//! The PostgreSQL backend: one database shared by many workers on many machines.
//!
//! Each [`PgStore`] owns one connection on a thread of its own (`session.rs`); its operations
//! live beside it by concern (`runs.rs`, `objects.rs`, `import.rs`, `watermarks.rs`,
//! `exports.rs`, `leases.rs`), with the same semantics as the SQLite backend (checked by the
//! conformance suite). Writes use PostgreSQL's own transactions; every write of a run first
//! locks its run row (`SELECT … FOR SHARE`/`FOR UPDATE`) and checks it is still `running`, so
//! a run closed by a takeover writes nothing more; leases are kept by the database's clock
//! (`clock_timestamp()`).

mod connect;
mod exports;
mod import;
mod leases;
mod objects;
mod runs;
pub mod schema;
mod session;
#[cfg(test)]
mod tests;
mod watermarks;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use connector_api::{Descriptor, ImportMode};
use secrecy::SecretString;

use connect::PgTarget;
pub use connect::is_postgres_url;
use session::{Conn, Step};

use super::{
    Backend, ConnectorRow, Deletions, ExportRow, ExportRunRecord, FinalDeletes, ImportBackend,
    LeaseRow, Result, RunEnd, RunError, RunKey, RunRecord, RunStatus, StoreError, StoredObject,
    Verdict, WatermarkRow,
};

/// An open PostgreSQL store.
pub struct PgStore {
    conn: Conn,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.conn.target().location())
            .finish()
    }
}

impl PgStore {
    /// Connects to the database at `url` (password: `password`, else `PGPASSWORD`, else
    /// `~/.pgpass`) and brings its schema up to date.
    ///
    /// # Errors
    /// The URL is invalid, the server cannot be reached or refused the login, or the schema is
    /// newer than this host.
    pub fn open(url: &str, password: Option<SecretString>) -> Result<Self> {
        let store = Self::connect(url, password)?;
        store.migrate()?;
        Ok(store)
    }

    /// Like [`PgStore::open`], for read-only commands: a database without the store's tables
    /// is [`StoreError::Missing`] rather than set up.
    ///
    /// # Errors
    /// As [`PgStore::open`], or the database holds no store.
    pub fn open_existing(url: &str, password: Option<SecretString>) -> Result<Self> {
        let store = Self::connect(url, password)?;
        if store.schema_version()? == 0 {
            return Err(StoreError::Missing {
                path: store.location().into(),
            });
        }
        store.migrate()?;
        Ok(store)
    }

    fn connect(url: &str, password: Option<SecretString>) -> Result<Self> {
        let target = Arc::new(PgTarget::parse(url, password)?);
        Ok(Self {
            conn: Conn::open(target)?,
        })
    }

    /// The schema version of the database (0 when it holds no store).
    ///
    /// # Errors
    /// PostgreSQL failed.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .call(|s| s.run("reading the schema version", |c| Ok(schema::version(c)?)))
    }

    fn migrate(&self) -> Result<i64> {
        self.conn.call(|s| {
            let location = s.target().location().to_owned();
            let client = s.client()?;
            schema::migrate(client).map_err(|e| match e {
                schema::MigrateError::TooNew { found, known } => StoreError::TooNew {
                    path: location.into(),
                    found,
                    known,
                },
                schema::MigrateError::Postgres(e) => {
                    session::pg(s.target(), "migrating the schema")(e)
                }
            })
        })
    }

    /// A second connection to the same database (no migration: this one did it).
    ///
    /// # Errors
    /// The connection failed.
    pub fn reconnect(&self) -> Result<Self> {
        Ok(Self {
            conn: Conn::open(Arc::clone(self.conn.target()))?,
        })
    }

    /// Runs SQL on the store directly: tests use it to reach into the database.
    #[cfg(test)]
    pub(crate) fn execute_for_tests(&self, sql: &str) -> Result<()> {
        let sql = sql.to_owned();
        self.conn
            .call(move |s| s.run("running test SQL", |c| Ok(c.batch_execute(&sql)?)))
    }

    fn location_path(&self) -> &Path {
        Path::new(self.conn.target().location())
    }
}

impl Backend for PgStore {
    fn location(&self) -> String {
        self.conn.target().location().to_owned()
    }

    fn open_writer(&self) -> Result<Box<dyn ImportBackend>> {
        Ok(Box::new(self.reconnect()?))
    }

    fn ensure_connector(
        &mut self,
        name: &str,
        library: &str,
        descriptor: Option<&Descriptor>,
        at: &str,
    ) -> Result<()> {
        runs::ensure_connector(self, name, library, descriptor, at)
    }

    fn connectors(&self) -> Result<Vec<ConnectorRow>> {
        runs::connectors(self)
    }

    fn begin_run(
        &mut self,
        connector: &str,
        mode: ImportMode,
        watermark_before: Option<&str>,
        at: &str,
        lease: Option<&str>,
    ) -> Result<i64> {
        runs::begin_run(self, connector, mode, watermark_before, at, lease)
    }

    fn finish_run_unsuccessful(
        &mut self,
        run_id: i64,
        status: RunStatus,
        end: &RunEnd,
        error: &RunError,
        at: &str,
    ) -> Result<()> {
        runs::finish_run_unsuccessful(self, run_id, status, end, error, at)
    }

    fn finish_import(
        &mut self,
        run: RunKey<'_>,
        deletes: FinalDeletes<'_>,
        at: &str,
        decide: Box<dyn FnOnce(&Deletions) -> Verdict + '_>,
    ) -> Result<()> {
        import::finish_import(self, run, deletes, at, decide)
    }

    fn run(&self, run_id: i64) -> Result<Option<RunRecord>> {
        runs::run(self, run_id)
    }

    fn runs(&self, connector: &str, limit: usize) -> Result<Vec<RunRecord>> {
        runs::runs(self, connector, limit)
    }

    fn last_success_started(&self, connector: &str, mode: ImportMode) -> Result<Option<String>> {
        runs::last_success_started(self, connector, mode)
    }

    fn count_by_type(&self, connector: &str) -> Result<BTreeMap<String, u64>> {
        objects::count_by_type(self, connector)
    }

    fn object(
        &self,
        connector: &str,
        object_type: &str,
        external_id: &str,
    ) -> Result<Option<StoredObject>> {
        objects::object(self, connector, object_type, external_id)
    }

    fn for_each_object(
        &self,
        connector: &str,
        object_type: Option<&str>,
        limit: Option<usize>,
        each: &mut dyn FnMut(StoredObject) -> Result<()>,
    ) -> Result<()> {
        objects::for_each_object(self, connector, object_type, limit, each)
    }

    fn watermark(&self, connector: &str) -> Result<Option<WatermarkRow>> {
        watermarks::watermark(self, connector)
    }

    fn set_watermark_by_operator(&mut self, connector: &str, value: &str, at: &str) -> Result<()> {
        watermarks::set_by_operator(self, connector, value, at)
    }

    fn clear_watermark(&mut self, connector: &str) -> Result<bool> {
        watermarks::clear(self, connector)
    }

    fn begin_export_run(
        &mut self,
        connector: &str,
        dry_run: bool,
        source: &str,
        at: &str,
    ) -> Result<i64> {
        exports::begin_export_run(self, connector, dry_run, source, at)
    }

    fn record_exports(&mut self, run_id: i64, rows: &[ExportRow]) -> Result<()> {
        exports::record_exports(self, run_id, rows)
    }

    fn finish_export_run(
        &mut self,
        run_id: i64,
        status: &str,
        counts: &BTreeMap<String, u64>,
        error: Option<&str>,
        at: &str,
    ) -> Result<()> {
        exports::finish_export_run(self, run_id, status, counts, error, at)
    }

    fn export_runs(&self, connector: &str, limit: usize) -> Result<Vec<ExportRunRecord>> {
        exports::export_runs(self, connector, limit)
    }

    fn exports(&self, run_id: i64) -> Result<Vec<ExportRow>> {
        exports::exports(self, run_id)
    }

    fn acquire_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool> {
        leases::acquire(self, connector, holder, ttl)
    }

    fn renew_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool> {
        leases::renew(self, connector, holder, ttl)
    }

    fn release_lease(&mut self, connector: &str, holder: &str) -> Result<bool> {
        leases::release(self, connector, holder)
    }

    fn leases(&self) -> Result<Vec<LeaseRow>> {
        leases::leases(self)
    }
}

/// A JSON column read back, as the SQLite backend reads it.
fn json<T: serde::de::DeserializeOwned>(
    location: &Path,
    column: &'static str,
    text: &str,
) -> Result<T, Step> {
    Ok(super::from_json(location, column, text)?)
}
