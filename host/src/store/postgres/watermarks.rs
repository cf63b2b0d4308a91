//! Watermarks on PostgreSQL: one per connector, written by successful runs and by operators.

use postgres::GenericClient;

use super::PgStore;
use super::session::Step;
use crate::store::{Result, WatermarkRow, WatermarkSource};

pub(super) fn watermark(store: &PgStore, connector: &str) -> Result<Option<WatermarkRow>> {
    let connector = connector.to_owned();
    store.conn.call(move |s| {
        s.run("reading the watermark", |c| {
            let Some(r) = c.query_opt(
                "SELECT value, run_id, set_by, updated_at FROM watermarks WHERE connector = $1",
                &[&connector],
            )?
            else {
                return Ok(None);
            };
            let set_by: String = r.try_get(2)?;
            Ok(Some(WatermarkRow {
                value: r.try_get(0)?,
                run_id: r.try_get(1)?,
                set_by: if set_by == "operator" {
                    WatermarkSource::Operator
                } else {
                    WatermarkSource::Run
                },
                updated_at: r.try_get(3)?,
            }))
        })
    })
}

pub(super) fn set_by_operator(
    store: &mut PgStore,
    connector: &str,
    value: &str,
    at: &str,
) -> Result<()> {
    let (connector, value, at) = (connector.to_owned(), value.to_owned(), at.to_owned());
    store.conn.call(move |s| {
        s.run("storing the watermark", |c| {
            c.execute(
                "INSERT INTO watermarks (connector, value, run_id, set_by, updated_at) \
                 VALUES ($1, $2, NULL, 'operator', $3) \
                 ON CONFLICT (connector) DO UPDATE SET value = excluded.value, run_id = NULL, \
                 set_by = 'operator', updated_at = excluded.updated_at",
                &[&connector, &value, &at],
            )?;
            Ok(())
        })
    })
}

pub(super) fn clear(store: &mut PgStore, connector: &str) -> Result<bool> {
    let connector = connector.to_owned();
    store.conn.call(move |s| {
        s.run("clearing the watermark", |c| {
            let n = c.execute("DELETE FROM watermarks WHERE connector = $1", &[&connector])?;
            Ok(n > 0)
        })
    })
}

/// Inside the final transaction: stores the watermark a successful run returned (`None`
/// removes a stored one).
pub(super) fn set_from_run(
    tx: &mut impl GenericClient,
    connector: &str,
    value: Option<&str>,
    run_id: i64,
    at: &str,
) -> Result<(), Step> {
    match value {
        Some(value) => tx.execute(
            "INSERT INTO watermarks (connector, value, run_id, set_by, updated_at) \
             VALUES ($1, $2, $3, 'run', $4) \
             ON CONFLICT (connector) DO UPDATE SET value = excluded.value, \
             run_id = excluded.run_id, set_by = 'run', updated_at = excluded.updated_at",
            &[&connector, &value, &run_id, &at],
        ),
        None => tx.execute("DELETE FROM watermarks WHERE connector = $1", &[&connector]),
    }?;
    Ok(())
}
