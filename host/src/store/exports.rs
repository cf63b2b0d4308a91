//! Export runs and the outcome of every exported change (`host export`, `host runs`).
//!
//! An export run is a row of `export_runs`; each change it sent is a row of `exports` with the
//! change's JSON (as on the ABI), its idempotency key, the outcome the connector reported and,
//! for a failure or a skip, the error kind and message (or the reason).

use std::collections::BTreeMap;

use connector_api::{ChangeOutcome, ExportChange, ExportStatus};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Result, SqliteStore, from_json, sqlite, to_json};

/// One row of `export_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRunRecord {
    /// Export run id (increasing; its own sequence, separate from import runs).
    pub id: i64,
    /// Connector name.
    pub connector: String,
    /// Whether the run only previewed the changes.
    pub dry_run: bool,
    /// `running`, `succeeded` (every change applied or unchanged), `failed` or `cancelled`.
    pub status: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
    /// The changes file.
    pub source: String,
    /// How many changes ended with each outcome (`applied`, `unchanged`, `skipped`, `failed`).
    pub counts: BTreeMap<String, u64>,
    /// Why the run as a whole failed, if it did (`kind: message`).
    pub error: Option<String>,
}

/// One exported change and its outcome, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRow {
    /// The change's 1-based line in the changes file.
    pub line: i64,
    /// The idempotency key sent with it.
    pub key: String,
    /// The change JSON.
    pub change: serde_json::Value,
    /// `applied`, `unchanged`, `skipped` or `failed`.
    pub outcome: String,
    /// The id the target assigned, if it reported one.
    pub assigned_id: Option<String>,
    /// The error kind of a failure.
    pub error_kind: Option<String>,
    /// The error (with remediation) of a failure, or the reason of a skip.
    pub error: Option<String>,
}

impl ExportRow {
    /// The row for `change` (on `line`) and what the connector answered.
    pub fn new(line: i64, change: &ExportChange, outcome: &ChangeOutcome) -> Self {
        let (assigned_id, error_kind, error) = match &outcome.status {
            ExportStatus::Applied { assigned_id } => (assigned_id.clone(), None, None),
            ExportStatus::Skipped { reason } => (None, None, Some(reason.clone())),
            ExportStatus::Failed { error } => (
                None,
                Some(error.kind().to_string()),
                Some(error.to_string()),
            ),
            _ => (None, None, None),
        };
        Self {
            line,
            key: change.key.clone(),
            change: serde_json::to_value(&change.change).unwrap_or_default(),
            outcome: outcome.status.as_str().to_owned(),
            assigned_id,
            error_kind,
            error,
        }
    }
}

const EXPORT_RUN_COLUMNS: &str =
    "id, connector, dry_run, status, started_at, finished_at, source, counts, error";

impl SqliteStore {
    /// Opens an export run of `connector` (which must have been recorded with
    /// [`ensure_connector`](SqliteStore::ensure_connector)).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn begin_export_run(
        &mut self,
        connector: &str,
        dry_run: bool,
        source: &str,
        at: &str,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO export_runs (connector, dry_run, status, started_at, source) \
                 VALUES (?1, ?2, 'running', ?3, ?4)",
                params![connector, dry_run, at, source],
            )
            .map_err(sqlite(&self.path, "opening the export run"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Stores the outcomes of one batch, in one transaction.
    ///
    /// # Errors
    /// SQLite failed; nothing of the batch was stored.
    pub fn record_exports(&mut self, run_id: i64, rows: &[ExportRow]) -> Result<()> {
        let path = self.path.clone();
        let tx = self.begin()?;
        for row in rows {
            tx.tx
                .execute(
                    "INSERT INTO exports (run_id, line, key, change, outcome, assigned_id, \
                     error_kind, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        run_id,
                        row.line,
                        row.key,
                        to_json(&row.change),
                        row.outcome,
                        row.assigned_id,
                        row.error_kind,
                        row.error
                    ],
                )
                .map_err(sqlite(&path, "storing export outcomes"))?;
        }
        tx.commit()
    }

    /// Closes an export run with its status, outcome counts and whole-run error.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn finish_export_run(
        &mut self,
        run_id: i64,
        status: &str,
        counts: &BTreeMap<String, u64>,
        error: Option<&str>,
        at: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE export_runs SET status = ?2, finished_at = ?3, counts = ?4, error = ?5 \
                 WHERE id = ?1",
                params![run_id, status, at, to_json(counts), error],
            )
            .map_err(sqlite(&self.path, "closing the export run"))?;
        Ok(())
    }

    /// The most recent export runs of `connector`, newest first.
    ///
    /// # Errors
    /// SQLite failed, or a stored row is unreadable.
    pub fn export_runs(&self, connector: &str, limit: usize) -> Result<Vec<ExportRunRecord>> {
        let sql = format!(
            "SELECT {EXPORT_RUN_COLUMNS} FROM export_runs WHERE connector = ?1 \
             ORDER BY id DESC LIMIT ?2"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(sqlite(&self.path, "listing export runs"))?;
        let rows = stmt
            .query_map(params![connector, limit as i64], |r| {
                Ok((
                    ExportRunRecord {
                        id: r.get(0)?,
                        connector: r.get(1)?,
                        dry_run: r.get(2)?,
                        status: r.get(3)?,
                        started_at: r.get(4)?,
                        finished_at: r.get(5)?,
                        source: r.get(6)?,
                        counts: BTreeMap::new(),
                        error: r.get(8)?,
                    },
                    r.get::<_, String>(7)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sqlite(&self.path, "listing export runs"))?;
        rows.into_iter()
            .map(|(mut run, counts)| {
                run.counts = from_json(&self.path, "export_runs.counts", &counts)?;
                Ok(run)
            })
            .collect()
    }

    /// The stored outcomes of export run `run_id`, in file order.
    ///
    /// # Errors
    /// SQLite failed, or a stored change is unreadable.
    pub fn exports(&self, run_id: i64) -> Result<Vec<ExportRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT line, key, change, outcome, assigned_id, error_kind, error FROM exports \
                 WHERE run_id = ?1 ORDER BY line",
            )
            .map_err(sqlite(&self.path, "reading export outcomes"))?;
        let rows = stmt
            .query_map([run_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sqlite(&self.path, "reading export outcomes"))?;
        rows.into_iter()
            .map(
                |(line, key, change, outcome, assigned_id, error_kind, error)| {
                    Ok(ExportRow {
                        line,
                        key,
                        change: from_json(&self.path, "exports.change", &change)?,
                        outcome,
                        assigned_id,
                        error_kind,
                        error,
                    })
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::{Change, ConnectorError, Object};

    #[test]
    fn export_runs_and_outcomes_round_trip() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.ensure_connector("dir", "/x.so", None, "t0").unwrap();
        let run = store
            .begin_export_run("dir", false, "f.jsonl", "t1")
            .unwrap();
        let change = ExportChange::new("k1", Change::Upsert(Object::new("Group", "g1")));
        let failed = ExportChange::new("k2", Change::delete("Group", "g2"));
        let rows = [
            ExportRow::new(1, &change, &ChangeOutcome::applied("k1")),
            ExportRow::new(
                2,
                &failed,
                &ChangeOutcome::failed("k2", ConnectorError::not_found("no g2")),
            ),
        ];
        store.record_exports(run, &rows).unwrap();
        let counts = BTreeMap::from([("applied".to_owned(), 1), ("failed".to_owned(), 1)]);
        store
            .finish_export_run(run, "failed", &counts, None, "t2")
            .unwrap();
        let runs = store.export_runs("dir", 10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "failed");
        assert_eq!(runs[0].counts, counts);
        assert!(!runs[0].dry_run);
        let back = store.exports(run).unwrap();
        assert_eq!(back, rows);
        assert_eq!(back[1].error_kind.as_deref(), Some("not_found"));
        assert_eq!(back[0].change["op"], "upsert");
    }
}
