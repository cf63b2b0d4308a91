//! Leases on PostgreSQL, by the database's clock (`clock_timestamp()`, which moves within a
//! transaction, unlike `now()`). Taking a lease is one `INSERT … ON CONFLICT DO UPDATE … WHERE`,
//! atomic under concurrent workers.

use std::time::Duration;

use postgres::GenericClient;

use super::PgStore;
use super::session::Step;
use crate::store::{LeaseRow, Result, StoreError};

/// A timestamp column as RFC 3339 (UTC, milliseconds), in SQL.
fn rfc3339(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
}

pub(super) fn acquire(
    store: &mut PgStore,
    connector: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool> {
    let (connector, holder) = (connector.to_owned(), holder.to_owned());
    store.conn.call(move |s| {
        s.run("taking a lease", |c| {
            let n = c.execute(
                "INSERT INTO leases (connector, holder, acquired_at, renewed_at, expires_at) \
                 VALUES ($1, $2, clock_timestamp(), clock_timestamp(), \
                         clock_timestamp() + make_interval(secs => $3)) \
                 ON CONFLICT (connector) DO UPDATE SET \
                     acquired_at = CASE WHEN leases.holder = excluded.holder \
                                   THEN leases.acquired_at ELSE excluded.acquired_at END, \
                     holder = excluded.holder, renewed_at = excluded.renewed_at, \
                     expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= excluded.acquired_at",
                &[&connector, &holder, &ttl.as_secs_f64()],
            )?;
            Ok(n == 1)
        })
    })
}

pub(super) fn renew(
    store: &mut PgStore,
    connector: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool> {
    let (connector, holder) = (connector.to_owned(), holder.to_owned());
    store.conn.call(move |s| {
        s.run("renewing a lease", |c| {
            let n = c.execute(
                "UPDATE leases SET renewed_at = clock_timestamp(), \
                     expires_at = clock_timestamp() + make_interval(secs => $3) \
                 WHERE connector = $1 AND holder = $2 AND expires_at > clock_timestamp()",
                &[&connector, &holder, &ttl.as_secs_f64()],
            )?;
            Ok(n == 1)
        })
    })
}

pub(super) fn release(store: &mut PgStore, connector: &str, holder: &str) -> Result<bool> {
    let (connector, holder) = (connector.to_owned(), holder.to_owned());
    store.conn.call(move |s| {
        s.run("releasing a lease", |c| {
            let n = c.execute(
                "DELETE FROM leases WHERE connector = $1 AND holder = $2",
                &[&connector, &holder],
            )?;
            Ok(n == 1)
        })
    })
}

pub(super) fn leases(store: &PgStore) -> Result<Vec<LeaseRow>> {
    store.conn.call(|s| {
        s.run("listing leases", |c| {
            let sql = format!(
                "SELECT connector, holder, {}, {}, {}, expires_at <= clock_timestamp() \
                 FROM leases ORDER BY connector",
                rfc3339("acquired_at"),
                rfc3339("renewed_at"),
                rfc3339("expires_at"),
            );
            c.query(&sql, &[])?
                .iter()
                .map(|r| {
                    Ok(LeaseRow {
                        connector: r.try_get(0)?,
                        holder: r.try_get(1)?,
                        acquired_at: r.try_get(2)?,
                        renewed_at: r.try_get(3)?,
                        expires_at: r.try_get(4)?,
                        expired: r.try_get(5)?,
                    })
                })
                .collect()
        })
    })
}

/// Inside `begin_run`: fails unless `holder` holds an unexpired lease of `connector`.
pub(super) fn check_held(
    tx: &mut impl GenericClient,
    connector: &str,
    holder: &str,
) -> Result<(), Step> {
    let held = tx.query_opt(
        "SELECT 1 FROM leases WHERE connector = $1 AND holder = $2 \
         AND expires_at > clock_timestamp()",
        &[&connector, &holder],
    )?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::LeaseNotHeld {
            connector: connector.to_owned(),
        }
        .into()),
    }
}

/// Inside `begin_run` without a lease: fails while anyone holds an unexpired lease.
pub(super) fn check_free(tx: &mut impl GenericClient, connector: &str) -> Result<(), Step> {
    let sql = format!(
        "SELECT holder, {} FROM leases WHERE connector = $1 AND expires_at > clock_timestamp()",
        rfc3339("expires_at")
    );
    match tx.query_opt(&sql, &[&connector])? {
        None => Ok(()),
        Some(r) => Err(StoreError::Leased {
            connector: connector.to_owned(),
            holder: r.try_get(0)?,
            expires_at: r.try_get(1)?,
        }
        .into()),
    }
}
