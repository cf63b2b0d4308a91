//! Leases: one row per connector saying which worker runs it until when, by the store's clock
//! (so the workers' clocks never matter). A worker takes a free or expired lease, renews it
//! while it runs the connector, and gives it up when done; one that dies loses it after its
//! time-to-live, and the next worker to take it closes the dead run as interrupted (see
//! [`Backend::begin_run`](super::Backend::begin_run)).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Result, SqliteStore, StoreError, sqlite};

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseRow {
    /// The connector.
    pub connector: String,
    /// Who holds it (a worker's `host:pid:nonce`).
    pub holder: String,
    /// When the holder took it (RFC 3339, store clock).
    pub acquired_at: String,
    /// When it was last renewed.
    pub renewed_at: String,
    /// When it expires unless renewed.
    pub expires_at: String,
    /// Whether it had expired when read.
    pub expired: bool,
}

/// The store's clock, in Unix seconds with a fraction.
const NOW: &str = "unixepoch('subsec')";

/// Unix seconds (store clock) as RFC 3339, in SQL.
fn rfc3339(column: &str) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%fZ', {column}, 'unixepoch')")
}

impl SqliteStore {
    /// See [`Backend::acquire_lease`](super::Backend::acquire_lease).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn acquire_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let sql = format!(
            "INSERT INTO leases (connector, holder, acquired_at, renewed_at, expires_at) \
             VALUES (?1, ?2, {NOW}, {NOW}, {NOW} + ?3) \
             ON CONFLICT (connector) DO UPDATE SET \
                 acquired_at = CASE WHEN holder = excluded.holder THEN acquired_at \
                               ELSE excluded.acquired_at END, \
                 holder = excluded.holder, renewed_at = excluded.renewed_at, \
                 expires_at = excluded.expires_at \
             WHERE holder = excluded.holder OR expires_at <= excluded.acquired_at"
        );
        let n = self
            .conn
            .execute(&sql, params![connector, holder, ttl.as_secs_f64()])
            .map_err(sqlite(&self.path, "taking a lease"))?;
        Ok(n == 1)
    }

    /// See [`Backend::renew_lease`](super::Backend::renew_lease).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn renew_lease(&mut self, connector: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let sql = format!(
            "UPDATE leases SET renewed_at = {NOW}, expires_at = {NOW} + ?3 \
             WHERE connector = ?1 AND holder = ?2 AND expires_at > {NOW}"
        );
        let n = self
            .conn
            .execute(&sql, params![connector, holder, ttl.as_secs_f64()])
            .map_err(sqlite(&self.path, "renewing a lease"))?;
        Ok(n == 1)
    }

    /// See [`Backend::release_lease`](super::Backend::release_lease).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn release_lease(&mut self, connector: &str, holder: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM leases WHERE connector = ?1 AND holder = ?2",
                params![connector, holder],
            )
            .map_err(sqlite(&self.path, "releasing a lease"))?;
        Ok(n == 1)
    }

    /// See [`Backend::leases`](super::Backend::leases).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn leases(&self) -> Result<Vec<LeaseRow>> {
        let sql = format!(
            "SELECT connector, holder, {}, {}, {}, expires_at <= {NOW} FROM leases \
             ORDER BY connector",
            rfc3339("acquired_at"),
            rfc3339("renewed_at"),
            rfc3339("expires_at"),
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(sqlite(&self.path, "listing leases"))?;
        stmt.query_map([], |r| {
            Ok(LeaseRow {
                connector: r.get(0)?,
                holder: r.get(1)?,
                acquired_at: r.get(2)?,
                renewed_at: r.get(3)?,
                expires_at: r.get(4)?,
                expired: r.get(5)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sqlite(&self.path, "listing leases"))
    }
}

/// Inside `begin_run`: fails unless `holder` holds an unexpired lease of `connector`.
pub(super) fn check_held(
    tx: &Connection,
    path: &Path,
    connector: &str,
    holder: &str,
) -> Result<()> {
    let sql =
        format!("SELECT 1 FROM leases WHERE connector = ?1 AND holder = ?2 AND expires_at > {NOW}");
    let held: Option<i64> = tx
        .query_row(&sql, params![connector, holder], |r| r.get(0))
        .optional()
        .map_err(sqlite(path, "checking the lease"))?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::LeaseNotHeld {
            connector: connector.to_owned(),
        }),
    }
}

/// Inside `begin_run` without a lease: fails while anyone holds an unexpired lease.
pub(super) fn check_free(tx: &Connection, path: &Path, connector: &str) -> Result<()> {
    let sql = format!(
        "SELECT holder, {} FROM leases WHERE connector = ?1 AND expires_at > {NOW}",
        rfc3339("expires_at")
    );
    let leased: Option<(String, String)> = tx
        .query_row(&sql, [connector], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sqlite(path, "checking the lease"))?;
    match leased {
        None => Ok(()),
        Some((holder, expires_at)) => Err(StoreError::Leased {
            connector: connector.to_owned(),
            holder,
            expires_at,
        }),
    }
}

// Tested on both backends by the conformance suite (`conformance.rs`): leases held, renewed,
// released and expired; `begin_run`'s lease rules; fencing after a takeover.
