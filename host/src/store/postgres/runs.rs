//! Connectors and runs on PostgreSQL, with the rules of `begin_run` and the fencing of a run's
//! writes.

use std::path::Path;

use connector_api::{Descriptor, ImportMode};
use postgres::{GenericClient, Row};

use super::session::Step;
use super::{PgStore, json};
use crate::store::{
    ConnectorRow, Result, RunEnd, RunError, RunRecord, RunStatus, StoreError, to_json,
};

const RUN_COLUMNS: &str = "id, connector, mode, status, started_at, finished_at, watermark_before, \
     watermark_after, counts, stats, events, skipped, notes, error_kind, error_message, holder";

pub(super) fn ensure_connector(
    store: &mut PgStore,
    name: &str,
    library: &str,
    descriptor: Option<&Descriptor>,
    at: &str,
) -> Result<()> {
    let (name, library, at) = (name.to_owned(), library.to_owned(), at.to_owned());
    let d_name = descriptor.map(|d| d.name.clone());
    let d_version = descriptor.map(|d| d.version.clone());
    store.conn.call(move |s| {
        s.run("recording the connector", |c| {
            c.execute(
                "INSERT INTO connectors (name, library, descriptor_name, descriptor_version, \
                     first_seen_at, last_loaded_at) VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (name) DO UPDATE SET library = excluded.library, \
                     descriptor_name = coalesce(excluded.descriptor_name, connectors.descriptor_name), \
                     descriptor_version = coalesce(excluded.descriptor_version, connectors.descriptor_version), \
                     last_loaded_at = excluded.last_loaded_at",
                &[&name, &library, &d_name, &d_version, &at],
            )?;
            Ok(())
        })
    })
}

pub(super) fn connectors(store: &PgStore) -> Result<Vec<ConnectorRow>> {
    store.conn.call(|s| {
        s.run("listing connectors", |c| {
            c.query(
                "SELECT name, library, descriptor_name, descriptor_version, first_seen_at, \
                 last_loaded_at FROM connectors ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(ConnectorRow {
                    name: r.try_get(0)?,
                    library: r.try_get(1)?,
                    descriptor_name: r.try_get(2)?,
                    descriptor_version: r.try_get(3)?,
                    first_seen_at: r.try_get(4)?,
                    last_loaded_at: r.try_get(5)?,
                })
            })
            .collect()
        })
    })
}

pub(super) fn begin_run(
    store: &mut PgStore,
    connector: &str,
    mode: ImportMode,
    watermark_before: Option<&str>,
    at: &str,
    lease: Option<&str>,
) -> Result<i64> {
    let (connector, at) = (connector.to_owned(), at.to_owned());
    let mode = mode.to_string();
    let watermark_before = watermark_before.map(str::to_owned);
    let lease = lease.map(str::to_owned);
    store.conn.call(move |s| {
        s.run("opening the run record", |c| {
            let mut tx = c.transaction()?;
            // One begin_run per connector at a time, on every worker: the connector's row is
            // the lock (it exists: ensure_connector comes first, and runs reference it). NO KEY
            // UPDATE, so that a final transaction of the connector storing its watermark (a
            // foreign key check, KEY SHARE) does not wait for it while holding the run row this
            // transaction is about to close: that would be a deadlock.
            tx.execute(
                "SELECT 1 FROM connectors WHERE name = $1 FOR NO KEY UPDATE",
                &[&connector],
            )?;
            match &lease {
                Some(holder) => super::leases::check_held(&mut tx, &connector, holder)?,
                None => {
                    super::leases::check_free(&mut tx, &connector)?;
                    refuse_live_runs(&mut tx, &connector)?;
                }
            }
            close_interrupted(&mut tx, &connector, &at)?;
            let row = tx.query_one(
                "INSERT INTO runs (connector, mode, status, started_at, watermark_before, pid, \
                 hostname, holder) VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &connector,
                    &mode,
                    &at,
                    &watermark_before,
                    &i64::from(std::process::id()),
                    &crate::store::this_host(),
                    &lease,
                ],
            )?;
            let run_id: i64 = row.try_get(0)?;
            tx.commit()?;
            Ok(run_id)
        })
    })
}

pub(super) fn finish_run_unsuccessful(
    store: &mut PgStore,
    run_id: i64,
    status: RunStatus,
    end: &RunEnd,
    error: &RunError,
    at: &str,
) -> Result<()> {
    let end = end.clone();
    let error = error.clone();
    let at = at.to_owned();
    store.conn.call(move |s| {
        s.run("closing the run record", |c| {
            finish_run(c, run_id, status, &end, None, Some(&error), &at)
        })
    })
}

/// Closes a run (only if it is still `running`: a run closed by a takeover stays as it is).
pub(super) fn finish_run(
    c: &mut impl GenericClient,
    run_id: i64,
    status: RunStatus,
    end: &RunEnd,
    watermark_after: Option<&str>,
    error: Option<&RunError>,
    at: &str,
) -> Result<(), Step> {
    c.execute(
        "UPDATE runs SET status = $2, finished_at = $3, watermark_after = $4, counts = $5, \
         stats = $6, events = $7, skipped = $8, notes = $9, error_kind = $10, error_message = $11 \
         WHERE id = $1 AND status = 'running'",
        &[
            &run_id,
            &status.as_str(),
            &at,
            &watermark_after,
            &to_json(&end.counts),
            &to_json(&end.stats),
            &to_json(&end.events),
            &to_json(&end.skipped),
            &to_json(&end.notes),
            &error.map(|e| e.kind.as_str()),
            &error.map(|e| e.message.as_str()),
        ],
    )?;
    Ok(())
}

pub(super) fn run(store: &PgStore, run_id: i64) -> Result<Option<RunRecord>> {
    let location = store.location_path().to_owned();
    store.conn.call(move |s| {
        s.run("reading a run", |c| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
            c.query_opt(&sql, &[&run_id])?
                .map(|r| decode_run(&r, &location))
                .transpose()
        })
    })
}

pub(super) fn runs(store: &PgStore, connector: &str, limit: usize) -> Result<Vec<RunRecord>> {
    let location = store.location_path().to_owned();
    let connector = connector.to_owned();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    store.conn.call(move |s| {
        s.run("listing runs", |c| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE connector = $1 ORDER BY id DESC LIMIT $2"
            );
            c.query(&sql, &[&connector, &limit])?
                .iter()
                .map(|r| decode_run(r, &location))
                .collect()
        })
    })
}

pub(super) fn last_success_started(
    store: &PgStore,
    connector: &str,
    mode: ImportMode,
) -> Result<Option<String>> {
    let connector = connector.to_owned();
    let mode = mode.to_string();
    store.conn.call(move |s| {
        s.run("reading the last successful run", |c| {
            Ok(c.query_opt(
                "SELECT started_at FROM runs WHERE connector = $1 AND mode = $2 \
                 AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
                &[&connector, &mode],
            )?
            .map(|r| r.try_get(0))
            .transpose()?)
        })
    })
}

fn decode_run(r: &Row, location: &Path) -> Result<RunRecord, Step> {
    let text = |i: usize| r.try_get::<_, String>(i);
    let error_kind: Option<String> = r.try_get(13)?;
    let error_message: Option<String> = r.try_get(14)?;
    Ok(RunRecord {
        id: r.try_get(0)?,
        connector: text(1)?,
        mode: text(2)?,
        status: RunStatus::parse(&text(3)?),
        started_at: text(4)?,
        finished_at: r.try_get(5)?,
        watermark_before: r.try_get(6)?,
        watermark_after: r.try_get(7)?,
        counts: json(location, "runs.counts", &text(8)?)?,
        stats: json(location, "runs.stats", &text(9)?)?,
        events: json(location, "runs.events", &text(10)?)?,
        skipped: json(location, "runs.skipped", &text(11)?)?,
        notes: json(location, "runs.notes", &text(12)?)?,
        error: error_kind.map(|kind| RunError {
            kind,
            message: error_message.unwrap_or_default(),
        }),
        holder: r.try_get(15)?,
    })
}

/// Refuses a run while a run of `connector` is `running` in a live process of this machine.
fn refuse_live_runs(tx: &mut impl GenericClient, connector: &str) -> Result<(), Step> {
    let own = i64::from(std::process::id());
    let host = crate::store::this_host();
    let rows = tx.query(
        "SELECT id, pid, hostname FROM runs WHERE connector = $1 AND status = 'running'",
        &[&connector],
    )?;
    for r in rows {
        let run_id: i64 = r.try_get(0)?;
        let pid: Option<i64> = r.try_get(1)?;
        let hostname: Option<String> = r.try_get(2)?;
        let here = hostname.as_deref().is_none_or(|h| h == host);
        if let Some(pid) =
            pid.filter(|p| here && *p != own && super::super::runs::process_alive(*p))
        {
            return Err(StoreError::Busy {
                connector: connector.to_owned(),
                run_id,
                pid,
            }
            .into());
        }
    }
    Ok(())
}

/// Closes the runs of `connector` left `running` as failed (`interrupted`), keeping the
/// watermark. Waits for a write of such a run in progress (it holds the run row).
fn close_interrupted(tx: &mut impl GenericClient, connector: &str, at: &str) -> Result<(), Step> {
    let closed = tx.execute(
        "UPDATE runs SET status = 'failed', finished_at = $2, error_kind = 'interrupted', \
         error_message = 'the host process ended during the run, or lost its lease; the watermark was kept' \
         WHERE connector = $1 AND status = 'running'",
        &[&connector, &at],
    )?;
    if closed > 0 {
        tracing::warn!(
            connector,
            closed,
            "closed runs left `running` by a host that ended during them or lost its lease"
        );
    }
    Ok(())
}

/// Fencing: locks run `run_id`'s row (`FOR SHARE` for batches, `FOR UPDATE` for the final
/// transaction) and fails with [`StoreError::RunClosed`] unless it is still `running`. A
/// takeover closing the run waits for the lock, so either this transaction's writes commit
/// before the run is closed, or they are refused.
pub(super) fn ensure_running(
    tx: &mut impl GenericClient,
    run_id: i64,
    exclusive: bool,
) -> Result<(), Step> {
    let sql = if exclusive {
        "SELECT status FROM runs WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT status FROM runs WHERE id = $1 FOR SHARE"
    };
    let status: Option<String> = tx
        .query_opt(sql, &[&run_id])?
        .map(|r| r.try_get(0))
        .transpose()?;
    match status {
        Some(s) if s == "running" => Ok(()),
        other => Err(StoreError::RunClosed {
            run_id,
            status: other.unwrap_or_else(|| "missing".into()),
        }
        .into()),
    }
}
