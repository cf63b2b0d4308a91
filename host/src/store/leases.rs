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

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::ImportMode;

    const TTL: Duration = Duration::from_secs(30);

    #[test]
    fn one_holder_at_a_time_until_release() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        assert!(s.acquire_lease("okta", "w1", TTL).unwrap());
        assert!(!s.acquire_lease("okta", "w2", TTL).unwrap(), "held by w1");
        assert!(s.acquire_lease("okta", "w1", TTL).unwrap(), "w1 again");
        assert!(s.renew_lease("okta", "w1", TTL).unwrap());
        assert!(!s.renew_lease("okta", "w2", TTL).unwrap());
        let rows = s.leases().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].holder, "w1");
        assert!(!rows[0].expired);
        assert!(rows[0].expires_at.ends_with('Z'), "{rows:?}");
        assert!(!s.release_lease("okta", "w2").unwrap());
        assert!(s.release_lease("okta", "w1").unwrap());
        assert!(s.acquire_lease("okta", "w2", TTL).unwrap());
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_cannot_be_renewed() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        assert!(
            s.acquire_lease("okta", "w1", Duration::from_millis(1))
                .unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.leases().unwrap()[0].expired);
        assert!(!s.renew_lease("okta", "w1", TTL).unwrap(), "expired");
        assert!(s.acquire_lease("okta", "w2", TTL).unwrap(), "taken over");
        assert_eq!(s.leases().unwrap()[0].holder, "w2");
    }

    #[test]
    fn runs_start_only_under_the_rules_of_the_lease() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.ensure_connector("okta", "/l.so", None, "t0").unwrap();
        let err = s
            .begin_run("okta", ImportMode::Full, None, "t1", Some("w1"))
            .unwrap_err();
        assert!(matches!(err, StoreError::LeaseNotHeld { .. }), "{err}");
        assert!(s.acquire_lease("okta", "w1", TTL).unwrap());
        let first = s
            .begin_run("okta", ImportMode::Full, None, "t1", Some("w1"))
            .unwrap();
        let err = s
            .begin_run("okta", ImportMode::Full, None, "t2", None)
            .unwrap_err();
        assert!(matches!(err, StoreError::Leased { .. }), "{err}");
        assert!(err.to_string().contains("w1"), "{err}");
        // w1 dies; w2 takes over and its run closes w1's as interrupted.
        s.conn
            .execute("UPDATE leases SET expires_at = 0", [])
            .unwrap();
        assert!(s.acquire_lease("okta", "w2", TTL).unwrap());
        let second = s
            .begin_run("okta", ImportMode::Full, None, "t3", Some("w2"))
            .unwrap();
        let old = s.run(first).unwrap().unwrap();
        assert_eq!(old.status, super::super::RunStatus::Failed);
        assert_eq!(old.error.unwrap().kind.as_str(), "interrupted");
        assert_eq!(old.holder.as_deref(), Some("w1"));
        assert!(second > first);
    }

    #[test]
    fn a_run_taken_over_writes_nothing_more() {
        use super::super::writer::{ImportBackend, UpsertBatch};
        use super::super::{RunEnd, RunError, RunKey, RunStatus};

        let mut s = SqliteStore::open_in_memory().unwrap();
        s.ensure_connector("okta", "/l.so", None, "t0").unwrap();
        assert!(s.acquire_lease("okta", "w1", TTL).unwrap());
        let old = s
            .begin_run("okta", ImportMode::Full, None, "t1", Some("w1"))
            .unwrap();
        let mut old_writer = s.open_writer().unwrap();
        s.conn
            .execute("UPDATE leases SET expires_at = 0", [])
            .unwrap();
        assert!(s.acquire_lease("okta", "w2", TTL).unwrap());
        s.begin_run("okta", ImportMode::Full, None, "t2", Some("w2"))
            .unwrap();
        let batch = UpsertBatch {
            objects: vec![connector_api::Object::new("User", "u1")],
            at: "t3".into(),
        };
        let run = RunKey {
            connector: "okta",
            run_id: old,
        };
        let err = old_writer.write_upserts(run, &[batch]).unwrap_err();
        assert!(matches!(err, StoreError::RunClosed { .. }), "{err}");
        assert!(s.count_by_type("okta").unwrap().is_empty());
        let error = RunError {
            kind: "cancelled".into(),
            message: "lease lost".into(),
        };
        s.finish_run_unsuccessful(old, RunStatus::Cancelled, &RunEnd::default(), &error, "t4")
            .unwrap();
        let record = s.run(old).unwrap().unwrap();
        assert_eq!(
            record.error.unwrap().kind,
            "interrupted",
            "closed by the takeover"
        );
    }
}
