//! Export runs and the outcome of every exported change, on PostgreSQL.

use std::collections::BTreeMap;

use super::{PgStore, json};
use crate::store::{ExportRow, ExportRunRecord, Result, to_json};

pub(super) fn begin_export_run(
    store: &mut PgStore,
    connector: &str,
    dry_run: bool,
    source: &str,
    at: &str,
) -> Result<i64> {
    let (connector, source, at) = (connector.to_owned(), source.to_owned(), at.to_owned());
    store.conn.call(move |s| {
        s.run("opening the export run", |c| {
            let row = c.query_one(
                "INSERT INTO export_runs (connector, dry_run, status, started_at, source) \
                 VALUES ($1, $2, 'running', $3, $4) RETURNING id",
                &[&connector, &dry_run, &at, &source],
            )?;
            Ok(row.try_get(0)?)
        })
    })
}

pub(super) fn record_exports(store: &mut PgStore, run_id: i64, rows: &[ExportRow]) -> Result<()> {
    let rows = rows.to_vec();
    store.conn.call(move |s| {
        s.run("storing export outcomes", |c| {
            let mut tx = c.transaction()?;
            let insert = tx.prepare(
                "INSERT INTO exports (run_id, line, key, change, outcome, assigned_id, \
                 error_kind, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )?;
            for row in &rows {
                tx.execute(
                    &insert,
                    &[
                        &run_id,
                        &row.line,
                        &row.key,
                        &to_json(&row.change),
                        &row.outcome,
                        &row.assigned_id,
                        &row.error_kind,
                        &row.error,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    })
}

pub(super) fn finish_export_run(
    store: &mut PgStore,
    run_id: i64,
    status: &str,
    counts: &BTreeMap<String, u64>,
    error: Option<&str>,
    at: &str,
) -> Result<()> {
    let (status, at) = (status.to_owned(), at.to_owned());
    let counts = to_json(counts);
    let error = error.map(str::to_owned);
    store.conn.call(move |s| {
        s.run("closing the export run", |c| {
            c.execute(
                "UPDATE export_runs SET status = $2, finished_at = $3, counts = $4, error = $5 \
                 WHERE id = $1",
                &[&run_id, &status, &at, &counts, &error],
            )?;
            Ok(())
        })
    })
}

pub(super) fn export_runs(
    store: &PgStore,
    connector: &str,
    limit: usize,
) -> Result<Vec<ExportRunRecord>> {
    let location = store.location_path().to_owned();
    let connector = connector.to_owned();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    store.conn.call(move |s| {
        s.run("listing export runs", |c| {
            c.query(
                "SELECT id, connector, dry_run, status, started_at, finished_at, source, counts, \
                 error FROM export_runs WHERE connector = $1 ORDER BY id DESC LIMIT $2",
                &[&connector, &limit],
            )?
            .iter()
            .map(|r| {
                Ok(ExportRunRecord {
                    id: r.try_get(0)?,
                    connector: r.try_get(1)?,
                    dry_run: r.try_get(2)?,
                    status: r.try_get(3)?,
                    started_at: r.try_get(4)?,
                    finished_at: r.try_get(5)?,
                    source: r.try_get(6)?,
                    counts: json(&location, "export_runs.counts", r.try_get(7)?)?,
                    error: r.try_get(8)?,
                })
            })
            .collect()
        })
    })
}

pub(super) fn exports(store: &PgStore, run_id: i64) -> Result<Vec<ExportRow>> {
    let location = store.location_path().to_owned();
    store.conn.call(move |s| {
        s.run("reading export outcomes", |c| {
            c.query(
                "SELECT line, key, change, outcome, assigned_id, error_kind, error FROM exports \
                 WHERE run_id = $1 ORDER BY line",
                &[&run_id],
            )?
            .iter()
            .map(|r| {
                Ok(ExportRow {
                    line: r.try_get(0)?,
                    key: r.try_get(1)?,
                    change: json(&location, "exports.change", r.try_get(2)?)?,
                    outcome: r.try_get(3)?,
                    assigned_id: r.try_get(4)?,
                    error_kind: r.try_get(5)?,
                    error: r.try_get(6)?,
                })
            })
            .collect()
        })
    })
}
