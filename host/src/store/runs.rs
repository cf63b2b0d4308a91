//! Connectors and runs: the history `host runs` and `host connectors` show.

use std::collections::BTreeMap;
use std::fmt;

use connector_api::{Descriptor, ImportMode, Skipped};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Result, SqliteStore, StoreError, Tx, from_json, sqlite, to_json};

/// What a run did to one object type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// Upserts received from the connector.
    pub upserts: u64,
    /// Objects stored for the first time.
    pub created: u64,
    /// Stored objects whose attributes or scope changed.
    pub updated: u64,
    /// Upserts identical to what was stored.
    pub unchanged: u64,
    /// Explicit deletes received from the connector.
    pub deletes: u64,
    /// Stored objects removed by explicit deletes.
    pub deleted: u64,
    /// Stored objects removed because a completed scope did not contain them (hard deletes).
    pub removed: u64,
}

impl TypeCounts {
    /// Whether the run touched the type at all.
    pub fn is_empty(&self) -> bool {
        *self == TypeCounts::default()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going, or the host process ended during it.
    Running,
    /// Changes, deletes and the new watermark were committed.
    Succeeded,
    /// The connector or a guard failed the run; the watermark was kept.
    Failed,
    /// Cancelled (Ctrl-C); the watermark was kept.
    Cancelled,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => RunStatus::Running,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error a run ended with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// The category: a connector [`ErrorKind`](connector_api::ErrorKind) name, or a host one
    /// (`mass_delete_guard`, `store`, `interrupted`).
    pub kind: String,
    /// The full message, with remediation.
    pub message: String,
}

/// One row of `runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id (increasing).
    pub id: i64,
    /// Connector name.
    pub connector: String,
    /// `full` or `delta`.
    pub mode: String,
    /// Outcome.
    pub status: RunStatus,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
    /// The watermark the run started from.
    pub watermark_before: Option<String>,
    /// The watermark the run stored (successful runs only).
    pub watermark_after: Option<String>,
    /// Per object type.
    pub counts: BTreeMap<String, TypeCounts>,
    /// The connector's counters (requests, waits, …), from a successful run.
    pub stats: BTreeMap<String, u64>,
    /// How many connector log events of each name the run produced.
    pub events: BTreeMap<String, u64>,
    /// Scopes the connector skipped.
    pub skipped: Vec<Skipped>,
    /// Host remarks.
    pub notes: Vec<String>,
    /// Why it failed or was cancelled.
    pub error: Option<RunError>,
    /// The worker that ran it under its lease (`None` for a one-off run).
    #[serde(default)]
    pub holder: Option<String>,
}

/// The end of a run, as written to its row.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// Per object type.
    pub counts: BTreeMap<String, TypeCounts>,
    /// Connector counters.
    pub stats: BTreeMap<String, u64>,
    /// Log events seen.
    pub events: BTreeMap<String, u64>,
    /// Skipped scopes.
    pub skipped: Vec<Skipped>,
    /// Host remarks.
    pub notes: Vec<String>,
}

/// One row of `connectors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorRow {
    /// Name in host.toml.
    pub name: String,
    /// Library last loaded.
    pub library: String,
    /// Descriptor name.
    pub descriptor_name: Option<String>,
    /// Descriptor version.
    pub descriptor_version: Option<String>,
    /// When it was first used.
    pub first_seen_at: String,
    /// When it was last loaded.
    pub last_loaded_at: String,
}

const RUN_COLUMNS: &str = "id, connector, mode, status, started_at, finished_at, watermark_before, \
     watermark_after, counts, stats, events, skipped, notes, error_kind, error_message, holder";

impl SqliteStore {
    /// Records that connector `name` was loaded from `library` (creating its row if needed).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn ensure_connector(
        &mut self,
        name: &str,
        library: &str,
        descriptor: Option<&Descriptor>,
        at: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO connectors (name, library, descriptor_name, descriptor_version, \
                     first_seen_at, last_loaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
                 ON CONFLICT (name) DO UPDATE SET library = excluded.library, \
                     descriptor_name = coalesce(excluded.descriptor_name, descriptor_name), \
                     descriptor_version = coalesce(excluded.descriptor_version, descriptor_version), \
                     last_loaded_at = excluded.last_loaded_at",
                params![
                    name,
                    library,
                    descriptor.map(|d| d.name.as_str()),
                    descriptor.map(|d| d.version.as_str()),
                    at
                ],
            )
            .map_err(sqlite(&self.path, "recording the connector"))?;
        Ok(())
    }

    /// Every connector the store has seen.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn connectors(&self) -> Result<Vec<ConnectorRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, library, descriptor_name, descriptor_version, first_seen_at, \
                 last_loaded_at FROM connectors ORDER BY name",
            )
            .map_err(sqlite(&self.path, "listing connectors"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ConnectorRow {
                    name: r.get(0)?,
                    library: r.get(1)?,
                    descriptor_name: r.get(2)?,
                    descriptor_version: r.get(3)?,
                    first_seen_at: r.get(4)?,
                    last_loaded_at: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sqlite(&self.path, "listing connectors"))?;
        Ok(rows)
    }

    /// See [`Backend::begin_run`](super::Backend::begin_run).
    ///
    /// # Errors
    /// Another process or a worker's lease holds the connector, or SQLite failed.
    pub fn begin_run(
        &mut self,
        connector: &str,
        mode: ImportMode,
        watermark_before: Option<&str>,
        at: &str,
        lease: Option<&str>,
    ) -> Result<i64> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "opening the run record"))?;
        match lease {
            Some(holder) => super::leases::check_held(&tx, &path, connector, holder)?,
            None => {
                super::leases::check_free(&tx, &path, connector)?;
                refuse_live_runs(&tx, &path, connector)?;
            }
        }
        close_interrupted(&tx, &path, connector, at)?;
        tx.execute(
            "INSERT INTO runs (connector, mode, status, started_at, watermark_before, pid, \
             hostname, holder) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7)",
            params![
                connector,
                mode.to_string(),
                at,
                watermark_before,
                i64::from(std::process::id()),
                super::this_host(),
                lease
            ],
        )
        .map_err(sqlite(&path, "opening the run record"))?;
        let run_id = tx.last_insert_rowid();
        tx.commit()
            .map_err(sqlite(&path, "opening the run record"))?;
        Ok(run_id)
    }

    /// Closes a run that did not succeed (failed or cancelled), in its own transaction.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn finish_run_unsuccessful(
        &mut self,
        run_id: i64,
        status: RunStatus,
        end: &RunEnd,
        error: &RunError,
        at: &str,
    ) -> Result<()> {
        finish_run(
            &self.conn,
            &self.path,
            run_id,
            status,
            end,
            None,
            Some(error),
            at,
        )
    }

    /// One run.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn run(&self, run_id: i64) -> Result<Option<RunRecord>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        let raw = self
            .conn
            .query_row(&sql, [run_id], raw_run)
            .optional()
            .map_err(sqlite(&self.path, "reading a run"))?;
        raw.map(|r| r.decode(&self.path)).transpose()
    }

    /// The most recent runs of `connector`, newest first.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn runs(&self, connector: &str, limit: usize) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE connector = ?1 ORDER BY id DESC LIMIT ?2"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(sqlite(&self.path, "listing runs"))?;
        let raws = stmt
            .query_map(params![connector, limit as i64], raw_run)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sqlite(&self.path, "listing runs"))?;
        raws.into_iter().map(|r| r.decode(&self.path)).collect()
    }

    /// The start time of the last successful run of `connector` in `mode`, if any.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn last_success_started(
        &self,
        connector: &str,
        mode: ImportMode,
    ) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT started_at FROM runs WHERE connector = ?1 AND mode = ?2 \
                 AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
                params![connector, mode.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite(&self.path, "reading the last successful run"))
    }
}

impl Tx<'_> {
    /// Closes a run as succeeded, inside the run's final transaction.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn finish_run_succeeded(
        &self,
        run_id: i64,
        end: &RunEnd,
        watermark_after: Option<&str>,
        at: &str,
    ) -> Result<()> {
        finish_run(
            &self.tx,
            self.path,
            run_id,
            RunStatus::Succeeded,
            end,
            watermark_after,
            None,
            at,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_run(
    conn: &Connection,
    path: &std::path::Path,
    run_id: i64,
    status: RunStatus,
    end: &RunEnd,
    watermark_after: Option<&str>,
    error: Option<&RunError>,
    at: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE runs SET status = ?2, finished_at = ?3, watermark_after = ?4, counts = ?5, \
         stats = ?6, events = ?7, skipped = ?8, notes = ?9, error_kind = ?10, error_message = ?11 \
         WHERE id = ?1 AND status = 'running'",
        params![
            run_id,
            status.as_str(),
            at,
            watermark_after,
            to_json(&end.counts),
            to_json(&end.stats),
            to_json(&end.events),
            to_json(&end.skipped),
            to_json(&end.notes),
            error.map(|e| e.kind.as_str()),
            error.map(|e| e.message.as_str()),
        ],
    )
    .map_err(sqlite(path, "closing the run record"))?;
    Ok(())
}

struct RawRun {
    id: i64,
    connector: String,
    mode: String,
    status: String,
    started_at: String,
    finished_at: Option<String>,
    watermark_before: Option<String>,
    watermark_after: Option<String>,
    counts: String,
    stats: String,
    events: String,
    skipped: String,
    notes: String,
    error_kind: Option<String>,
    error_message: Option<String>,
    holder: Option<String>,
}

fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: r.get(0)?,
        connector: r.get(1)?,
        mode: r.get(2)?,
        status: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        watermark_before: r.get(6)?,
        watermark_after: r.get(7)?,
        counts: r.get(8)?,
        stats: r.get(9)?,
        events: r.get(10)?,
        skipped: r.get(11)?,
        notes: r.get(12)?,
        error_kind: r.get(13)?,
        error_message: r.get(14)?,
        holder: r.get(15)?,
    })
}

impl RawRun {
    fn decode(self, path: &std::path::Path) -> Result<RunRecord> {
        Ok(RunRecord {
            id: self.id,
            connector: self.connector,
            mode: self.mode,
            status: RunStatus::parse(&self.status),
            started_at: self.started_at,
            finished_at: self.finished_at,
            watermark_before: self.watermark_before,
            watermark_after: self.watermark_after,
            counts: from_json(path, "runs.counts", &self.counts)?,
            stats: from_json(path, "runs.stats", &self.stats)?,
            events: from_json(path, "runs.events", &self.events)?,
            skipped: from_json(path, "runs.skipped", &self.skipped)?,
            notes: from_json(path, "runs.notes", &self.notes)?,
            error: match (self.error_kind, self.error_message) {
                (Some(kind), message) => Some(RunError {
                    kind,
                    message: message.unwrap_or_default(),
                }),
                (None, _) => None,
            },
            holder: self.holder,
        })
    }
}

/// Refuses a run while a run of `connector` is `running` in a live process of this machine.
fn refuse_live_runs(tx: &Connection, path: &std::path::Path, connector: &str) -> Result<()> {
    let own = i64::from(std::process::id());
    let host = super::this_host();
    let running: Vec<(i64, Option<i64>, Option<String>)> = tx
        .prepare("SELECT id, pid, hostname FROM runs WHERE connector = ?1 AND status = 'running'")
        .and_then(|mut s| {
            s.query_map([connector], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sqlite(path, "looking for runs in progress"))?;
    for (run_id, pid, hostname) in running {
        let here = hostname.as_deref().is_none_or(|h| h == host);
        if let Some(pid) = pid.filter(|p| here && *p != own && process_alive(*p)) {
            return Err(StoreError::Busy {
                connector: connector.to_owned(),
                run_id,
                pid,
            });
        }
    }
    Ok(())
}

/// Closes the runs of `connector` left `running` as failed (`interrupted`), keeping the
/// watermark.
fn close_interrupted(
    tx: &Connection,
    path: &std::path::Path,
    connector: &str,
    at: &str,
) -> Result<()> {
    let closed = tx
        .execute(
            "UPDATE runs SET status = 'failed', finished_at = ?2, error_kind = 'interrupted', \
             error_message = 'the host process ended during the run, or lost its lease; the watermark was kept' \
             WHERE connector = ?1 AND status = 'running'",
            params![connector, at],
        )
        .map_err(sqlite(path, "closing interrupted runs"))?;
    if closed > 0 {
        tracing::warn!(
            connector,
            closed,
            "closed runs left `running` by a host that ended during them or lost its lease"
        );
    }
    Ok(())
}

/// Fencing: fails with [`StoreError::RunClosed`] unless run `run_id` is still `running` (a
/// worker that took its connector over closed it). Called first in every write transaction of
/// a run, so a process that lost its lease writes nothing more.
pub(super) fn ensure_running(tx: &Connection, path: &std::path::Path, run_id: i64) -> Result<()> {
    let status: Option<String> = tx
        .query_row("SELECT status FROM runs WHERE id = ?1", [run_id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sqlite(path, "checking the run is still running"))?;
    match status {
        Some(s) if s == "running" => Ok(()),
        other => Err(StoreError::RunClosed {
            run_id,
            status: other.unwrap_or_else(|| "missing".into()),
        }),
    }
}

/// Whether process `pid` exists on this machine (Linux `/proc`).
pub(super) fn process_alive(pid: i64) -> bool {
    pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SqliteStore {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.ensure_connector("okta", "/l.so", None, "t0").unwrap();
        s
    }

    #[test]
    fn a_run_left_running_by_a_dead_process_is_closed_as_interrupted() {
        let mut s = store();
        let old = s
            .begin_run("okta", ImportMode::Full, None, "t1", None)
            .unwrap();
        // Pretend a process that no longer exists ran it.
        s.conn
            .execute(
                "UPDATE runs SET pid = ?1 WHERE id = ?2",
                params![i64::MAX, old],
            )
            .unwrap();
        let new = s
            .begin_run("okta", ImportMode::Full, None, "t2", None)
            .unwrap();
        assert!(new > old);
        let closed = s.run(old).unwrap().unwrap();
        assert_eq!(closed.status, RunStatus::Failed);
        assert_eq!(closed.error.unwrap().kind, "interrupted");
        assert_eq!(s.run(new).unwrap().unwrap().status, RunStatus::Running);
    }

    #[test]
    fn a_run_of_a_live_process_makes_a_second_run_wait() {
        let mut s = store();
        let first = s
            .begin_run("okta", ImportMode::Full, None, "t1", None)
            .unwrap();
        // PID 1 is always alive and never this test.
        s.conn
            .execute("UPDATE runs SET pid = 1 WHERE id = ?1", [first])
            .unwrap();
        let err = s
            .begin_run("okta", ImportMode::Delta, None, "t2", None)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Busy { run_id, pid: 1, .. } if run_id == first),
            "{err}"
        );
        assert!(err.to_string().contains("already running in process 1"));
        // Other connectors are not affected.
        s.ensure_connector("other", "/o.so", None, "t2").unwrap();
        assert!(
            s.begin_run("other", ImportMode::Full, None, "t2", None)
                .is_ok()
        );
    }
}
