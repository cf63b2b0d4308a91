//! The one store interface: every operation commands, the runner and workers use, with the same
//! semantics on every backend (checked by the conformance suite, `conformance.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use connector_api::{Descriptor, ImportMode};

use super::{
    ConnectorRow, Deletions, ExportRow, ExportRunRecord, FinalDeletes, ImportBackend, LeaseRow,
    Result, RunEnd, RunError, RunKey, RunRecord, RunStatus, StoredObject, Verdict, WatermarkRow,
};

/// A store backend. Calls block until the backend answered; none of them panics on a closed
/// connection or a server that went away — they return the error.
///
/// Fencing: a run's writes ([`ImportBackend::write_upserts`] and [`Backend::finish_import`])
/// first check, inside their transaction, that the run is still `running`; a run closed by a
/// worker that took its connector over gets [`StoreError::RunClosed`](super::StoreError) and
/// writes nothing.
pub trait Backend: Send {
    /// Where the store is, for messages: a path, or a URL without its password.
    fn location(&self) -> String;

    /// A second connection for the [writer thread](super::writer) of an import run.
    ///
    /// # Errors
    /// The store cannot be opened again.
    fn open_writer(&self) -> Result<Box<dyn ImportBackend>>;

    /// Records that connector `name` was loaded from `library` (creating its row if needed).
    ///
    /// # Errors
    /// The backend failed.
    fn ensure_connector(
        &mut self,
        name: &str,
        library: &str,
        descriptor: Option<&Descriptor>,
        at: &str,
    ) -> Result<()>;

    /// Every connector the store has seen, by name.
    ///
    /// # Errors
    /// The backend failed.
    fn connectors(&self) -> Result<Vec<ConnectorRow>>;

    /// Opens a run record (committed at once, so a crash leaves a trace) and returns its id.
    ///
    /// Runs of `connector` still marked `running` are examined in the same transaction:
    /// * with `lease` (the holder of the connector's lease, i.e. a worker): the caller must hold
    ///   an unexpired lease ([`StoreError::LeaseNotHeld`](super::StoreError) otherwise), and every
    ///   such run is closed as failed (`interrupted`), keeping the watermark;
    /// * without: an unexpired lease held by anyone refuses the run
    ///   ([`StoreError::Leased`](super::StoreError)); a run whose process is alive on this
    ///   machine refuses it ([`StoreError::Busy`](super::StoreError)); the others are closed as
    ///   interrupted.
    ///
    /// # Errors
    /// Refused as above, or the backend failed.
    fn begin_run(
        &mut self,
        connector: &str,
        mode: ImportMode,
        watermark_before: Option<&str>,
        at: &str,
        lease: Option<&str>,
    ) -> Result<i64>;

    /// Closes a run that did not succeed (failed or cancelled), in its own transaction. A run
    /// that is no longer `running` (closed by a takeover) is left as it is.
    ///
    /// # Errors
    /// The backend failed.
    fn finish_run_unsuccessful(
        &mut self,
        run_id: i64,
        status: RunStatus,
        end: &RunEnd,
        error: &RunError,
        at: &str,
    ) -> Result<()>;

    /// The final transaction of a successful run: applies `deletes`, asks `decide` how to end
    /// given what they deleted, then either stores the watermark and marks the run succeeded
    /// and commits — all at once — or rolls back and closes the run as failed, keeping the
    /// watermark.
    ///
    /// # Errors
    /// The run was closed by a takeover, or the backend failed; nothing was committed.
    fn finish_import(
        &mut self,
        run: RunKey<'_>,
        deletes: FinalDeletes<'_>,
        at: &str,
        decide: Box<dyn FnOnce(&Deletions) -> Verdict + '_>,
    ) -> Result<()>;

    /// One run.
    ///
    /// # Errors
    /// The backend failed.
    fn run(&self, run_id: i64) -> Result<Option<RunRecord>>;

    /// The most recent runs of `connector`, newest first.
    ///
    /// # Errors
    /// The backend failed.
    fn runs(&self, connector: &str, limit: usize) -> Result<Vec<RunRecord>>;

    /// The start time of the last successful run of `connector` in `mode`, if any.
    ///
    /// # Errors
    /// The backend failed.
    fn last_success_started(&self, connector: &str, mode: ImportMode) -> Result<Option<String>>;

    /// Stored objects of `connector`, per type.
    ///
    /// # Errors
    /// The backend failed.
    fn count_by_type(&self, connector: &str) -> Result<BTreeMap<String, u64>>;

    /// One stored object.
    ///
    /// # Errors
    /// The backend failed.
    fn object(
        &self,
        connector: &str,
        object_type: &str,
        external_id: &str,
    ) -> Result<Option<StoredObject>>;

    /// Calls `each` for the stored objects of `connector` (of one type, or all), ordered by type
    /// and external id, up to `limit`.
    ///
    /// # Errors
    /// The backend failed, or `each` did (its error is returned as is).
    fn for_each_object(
        &self,
        connector: &str,
        object_type: Option<&str>,
        limit: Option<usize>,
        each: &mut dyn FnMut(StoredObject) -> Result<()>,
    ) -> Result<()>;

    /// The stored watermark of `connector`.
    ///
    /// # Errors
    /// The backend failed.
    fn watermark(&self, connector: &str) -> Result<Option<WatermarkRow>>;

    /// Sets the watermark by hand (`host watermark set`).
    ///
    /// # Errors
    /// The backend failed.
    fn set_watermark_by_operator(&mut self, connector: &str, value: &str, at: &str) -> Result<()>;

    /// Removes the watermark (the next `auto` run is full); whether there was one.
    ///
    /// # Errors
    /// The backend failed.
    fn clear_watermark(&mut self, connector: &str) -> Result<bool>;

    /// Opens an export run record and returns its id.
    ///
    /// # Errors
    /// The backend failed.
    fn begin_export_run(
        &mut self,
        connector: &str,
        dry_run: bool,
        source: &str,
        at: &str,
    ) -> Result<i64>;

    /// Stores the outcome of each change of an export run, at once.
    ///
    /// # Errors
    /// The backend failed; none of `rows` is stored.
    fn record_exports(&mut self, run_id: i64, rows: &[ExportRow]) -> Result<()>;

    /// Closes an export run.
    ///
    /// # Errors
    /// The backend failed.
    fn finish_export_run(
        &mut self,
        run_id: i64,
        status: &str,
        counts: &BTreeMap<String, u64>,
        error: Option<&str>,
        at: &str,
    ) -> Result<()>;

    /// The most recent export runs of `connector`, newest first.
    ///
    /// # Errors
    /// The backend failed.
    fn export_runs(&self, connector: &str, limit: usize) -> Result<Vec<ExportRunRecord>>;

    /// The outcomes of one export run, by line.
    ///
    /// # Errors
    /// The backend failed.
    fn exports(&self, run_id: i64) -> Result<Vec<ExportRow>>;

    /// Takes the lease of `connector` for `holder` for `ttl` (by the store's clock) when it is
    /// free, expired, or already `holder`'s; whether `holder` holds it now.
    ///
    /// # Errors
    /// The backend failed.
    fn acquire_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Extends `holder`'s unexpired lease of `connector` to `ttl` from now; `false` when the
    /// lease expired or is someone else's (the holder must stop the connector's run).
    ///
    /// # Errors
    /// The backend failed.
    fn renew_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Gives up `holder`'s lease of `connector`; whether it held one.
    ///
    /// # Errors
    /// The backend failed.
    fn release_lease(&mut self, connector: &str, holder: &str) -> Result<bool>;

    /// Every lease row (expired ones included), by connector.
    ///
    /// # Errors
    /// The backend failed.
    fn leases(&self) -> Result<Vec<LeaseRow>>;
}
