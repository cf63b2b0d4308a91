//! The store's schema and its migrations.
//!
//! Each entry of [`MIGRATIONS`] upgrades the schema by one version; the version lives in SQLite's
//! `PRAGMA user_version`, so no bookkeeping table is needed. Migrations run in one transaction
//! each, are append-only (never edit a released one) and a store written by a newer host is
//! refused rather than guessed at.

use rusqlite::Connection;

/// Migrations in order; index `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: connectors, runs, watermarks, objects.
    r#"
    CREATE TABLE connectors (
        name               TEXT PRIMARY KEY NOT NULL,  -- the name in host.toml
        library            TEXT NOT NULL,              -- the library last loaded for it
        descriptor_name    TEXT,                       -- what the library says it is
        descriptor_version TEXT,
        first_seen_at      TEXT NOT NULL,
        last_loaded_at     TEXT NOT NULL
    );

    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        connector        TEXT NOT NULL REFERENCES connectors(name),
        mode             TEXT NOT NULL CHECK (mode IN ('full', 'delta')),
        status           TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
        started_at       TEXT NOT NULL,
        finished_at      TEXT,
        watermark_before TEXT,
        watermark_after  TEXT,                      -- set only when the run succeeded
        counts           TEXT NOT NULL DEFAULT '{}', -- JSON: per type, what the run did
        stats            TEXT NOT NULL DEFAULT '{}', -- JSON: the connector's counters
        events           TEXT NOT NULL DEFAULT '{}', -- JSON: connector log events seen, by name
        skipped          TEXT NOT NULL DEFAULT '[]', -- JSON: scopes the connector skipped
        notes            TEXT NOT NULL DEFAULT '[]', -- JSON: host remarks (ignored scopes, overrides)
        error_kind       TEXT,
        error_message    TEXT
    );
    CREATE INDEX runs_by_connector ON runs (connector, id);

    CREATE TABLE watermarks (
        connector  TEXT PRIMARY KEY NOT NULL REFERENCES connectors(name),
        value      TEXT NOT NULL,
        run_id     INTEGER REFERENCES runs(id),     -- NULL when an operator set it
        set_by     TEXT NOT NULL CHECK (set_by IN ('run', 'operator')),
        updated_at TEXT NOT NULL
    );

    CREATE TABLE objects (
        connector      TEXT NOT NULL,
        type           TEXT NOT NULL,
        external_id    TEXT NOT NULL,
        scope          TEXT,                        -- sub-scope (e.g. the group of a membership)
        attributes     TEXT NOT NULL,               -- JSON object, keys sorted
        first_seen_run INTEGER NOT NULL,
        last_seen_run  INTEGER NOT NULL,            -- the last run that emitted it
        changed_run    INTEGER NOT NULL,            -- the last run that changed its attributes
        changed_at     TEXT NOT NULL,
        PRIMARY KEY (connector, type, external_id)
    ) WITHOUT ROWID;
    -- Scope completion deletes `last_seen_run < <this run>` within a type or a sub-scope.
    CREATE INDEX objects_by_scope ON objects (connector, type, scope, last_seen_run);
    CREATE INDEX objects_by_last_seen ON objects (connector, type, last_seen_run);
    "#,
    // v2: the process running a run, so a second host process refuses to run the same
    // connector at the same time instead of racing it for the watermark.
    r#"
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    "#,
    // v3: export runs (`host export`) and the outcome of every change they sent.
    r#"
    CREATE TABLE export_runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        connector   TEXT NOT NULL REFERENCES connectors(name),
        dry_run     INTEGER NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        source      TEXT NOT NULL,                -- the changes file
        counts      TEXT NOT NULL DEFAULT '{}',   -- JSON: changes per outcome
        error       TEXT                          -- why the run as a whole failed
    );
    CREATE INDEX export_runs_by_connector ON export_runs (connector, id);

    CREATE TABLE exports (
        run_id      INTEGER NOT NULL REFERENCES export_runs(id),
        line        INTEGER NOT NULL,             -- 1-based line in the changes file
        key         TEXT NOT NULL,                -- the idempotency key sent
        change      TEXT NOT NULL,                -- the Change JSON
        outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'skipped', 'failed')),
        assigned_id TEXT,
        error_kind  TEXT,
        error       TEXT,                         -- the failure (with remediation) or skip reason
        PRIMARY KEY (run_id, line)
    ) WITHOUT ROWID;
    "#,
    // v4: one index fewer to maintain on every write. A whole-type completion (once per type
    // and full run) searches `objects_by_scope` by (connector, type) and checks `last_seen_run`
    // in the index (objects.rs), instead of every upsert updating a second index.
    r#"
    DROP INDEX objects_by_last_seen;
    "#,
    // v5: workers. A lease per connector (holder and expiry by the store's clock, in Unix
    // seconds), and on each run the machine and the lease holder that ran it.
    r#"
    CREATE TABLE leases (
        connector   TEXT PRIMARY KEY NOT NULL,
        holder      TEXT NOT NULL,
        acquired_at REAL NOT NULL,
        renewed_at  REAL NOT NULL,
        expires_at  REAL NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN hostname TEXT;
    ALTER TABLE runs ADD COLUMN holder TEXT;
    "#,
];

/// The schema version this host writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why the schema could not be brought up to date.
#[derive(Debug)]
pub enum MigrateError {
    /// The store was written by a newer host.
    TooNew {
        /// The store's version.
        found: i64,
        /// The newest version this host knows.
        known: i64,
    },
    /// SQLite failed.
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Reads the schema version.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies every migration the store has not seen yet; returns the resulting version.
///
/// The version is read inside each migration's write transaction, so two processes opening a
/// new store at the same time never apply the same migration twice.
pub fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    let known = latest_version();
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        if found > known {
            return Err(MigrateError::TooNew { found, known });
        }
        if found == known {
            tx.commit()?;
            return Ok(known);
        }
        tx.execute_batch(MIGRATIONS[found as usize])?;
        // `user_version` is transactional: a failed migration leaves the old version.
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn fresh_store_migrates_to_latest() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(version(&conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn).unwrap(), latest_version());
        assert_eq!(version(&conn).unwrap(), latest_version());
        let t = tables(&conn);
        for want in ["connectors", "objects", "runs", "watermarks"] {
            assert!(t.iter().any(|n| n == want), "missing table {want}: {t:?}");
        }
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO connectors (name, library, first_seen_at, last_loaded_at) \
             VALUES ('okta', '/x.so', 't', 't')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM connectors", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "a second migrate must not recreate tables");
    }

    #[test]
    fn newer_store_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        match migrate(&mut conn) {
            Err(MigrateError::TooNew { found, known }) => {
                assert_eq!(found, latest_version() + 1);
                assert_eq!(known, latest_version());
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn failed_migration_keeps_old_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A table the v1 migration wants to create already exists: v1 must fail as a whole.
        conn.execute_batch("CREATE TABLE objects (x)").unwrap();
        assert!(matches!(migrate(&mut conn), Err(MigrateError::Sqlite(_))));
        assert_eq!(version(&conn).unwrap(), 0);
        assert!(
            !tables(&conn).iter().any(|t| t == "runs"),
            "partial v1 rolled back"
        );
    }
}
