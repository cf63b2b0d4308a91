//! The PostgreSQL schema and its migrations.
//!
//! The version is the highest row of `schema_migrations`. Each migration runs in a transaction
//! of its own that first takes a transaction-level advisory lock ([`MIGRATION_LOCK`]), then
//! reads the version: two workers starting together on a new database wait for each other, and
//! each migration is applied once. Migrations are append-only (never edit a released one); a
//! database written by a newer host is refused.
//!
//! Text columns that are keys or sort orders use the `C` collation, so `host objects` lists in
//! the same (byte) order as SQLite whatever the database's locale.

use postgres::Client;

/// The advisory lock key of migrations (an arbitrary constant: "host" in ASCII, then 18).
pub const MIGRATION_LOCK: i64 = 0x686f_7374_0000_0012;

/// Migrations in order; index `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: everything the SQLite store has at its version 5.
    r#"
    CREATE TABLE connectors (
        name               TEXT COLLATE "C" PRIMARY KEY,
        library            TEXT NOT NULL,
        descriptor_name    TEXT,
        descriptor_version TEXT,
        first_seen_at      TEXT NOT NULL,
        last_loaded_at     TEXT NOT NULL
    );

    CREATE TABLE runs (
        id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        connector        TEXT COLLATE "C" NOT NULL REFERENCES connectors(name),
        mode             TEXT NOT NULL CHECK (mode IN ('full', 'delta')),
        status           TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
        started_at       TEXT NOT NULL,
        finished_at      TEXT,
        watermark_before TEXT,
        watermark_after  TEXT,
        counts           TEXT NOT NULL DEFAULT '{}',
        stats            TEXT NOT NULL DEFAULT '{}',
        events           TEXT NOT NULL DEFAULT '{}',
        skipped          TEXT NOT NULL DEFAULT '[]',
        notes            TEXT NOT NULL DEFAULT '[]',
        error_kind       TEXT,
        error_message    TEXT,
        pid              BIGINT,
        hostname         TEXT,
        holder           TEXT
    );
    CREATE INDEX runs_by_connector ON runs (connector, id);
    CREATE INDEX runs_running ON runs (connector) WHERE status = 'running';

    CREATE TABLE watermarks (
        connector  TEXT COLLATE "C" PRIMARY KEY REFERENCES connectors(name),
        value      TEXT NOT NULL,
        run_id     BIGINT REFERENCES runs(id),
        set_by     TEXT NOT NULL CHECK (set_by IN ('run', 'operator')),
        updated_at TEXT NOT NULL
    );

    CREATE TABLE objects (
        connector      TEXT COLLATE "C" NOT NULL,
        type           TEXT COLLATE "C" NOT NULL,
        external_id    TEXT COLLATE "C" NOT NULL,
        scope          TEXT COLLATE "C",
        attributes     TEXT NOT NULL,              -- JSON object, keys sorted, as emitted
        first_seen_run BIGINT NOT NULL,
        last_seen_run  BIGINT NOT NULL,
        changed_run    BIGINT NOT NULL,
        changed_at     TEXT NOT NULL,
        PRIMARY KEY (connector, type, external_id)
    );
    CREATE INDEX objects_by_scope ON objects (connector, type, scope, last_seen_run);

    CREATE TABLE export_runs (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        connector   TEXT COLLATE "C" NOT NULL REFERENCES connectors(name),
        dry_run     BOOLEAN NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        source      TEXT NOT NULL,
        counts      TEXT NOT NULL DEFAULT '{}',
        error       TEXT
    );
    CREATE INDEX export_runs_by_connector ON export_runs (connector, id);

    CREATE TABLE exports (
        run_id      BIGINT NOT NULL REFERENCES export_runs(id),
        line        BIGINT NOT NULL,
        key         TEXT NOT NULL,
        change      TEXT NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'skipped', 'failed')),
        assigned_id TEXT,
        error_kind  TEXT,
        error       TEXT,
        PRIMARY KEY (run_id, line)
    );

    CREATE TABLE leases (
        connector   TEXT COLLATE "C" PRIMARY KEY,
        holder      TEXT NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL,
        renewed_at  TIMESTAMPTZ NOT NULL,
        expires_at  TIMESTAMPTZ NOT NULL
    );
    "#,
];

/// The schema version this host writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why the schema could not be brought up to date.
#[derive(Debug)]
pub enum MigrateError {
    /// The database was written by a newer host.
    TooNew {
        /// Its version.
        found: i64,
        /// The newest version this host knows.
        known: i64,
    },
    /// PostgreSQL failed.
    Postgres(postgres::Error),
}

impl From<postgres::Error> for MigrateError {
    fn from(e: postgres::Error) -> Self {
        MigrateError::Postgres(e)
    }
}

/// The schema version (0 for a database without the store's tables).
///
/// # Errors
/// PostgreSQL failed.
pub fn version(client: &mut Client) -> Result<i64, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_one(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        &[],
    )?;
    Ok(row.get(0))
}

/// Applies every migration the database has not seen yet; returns the resulting version. An
/// up-to-date database is only read; a behind one is migrated under the advisory lock.
///
/// # Errors
/// The database is newer than this host, or PostgreSQL failed (the failed migration is rolled
/// back as a whole).
pub fn migrate(client: &mut Client) -> Result<i64, MigrateError> {
    let known = latest_version();
    // Every store opened (two per running import) passes here: an up-to-date schema is read
    // without the lock, so workers never queue on it once migrated.
    let found = version(client)?;
    if found > known {
        return Err(MigrateError::TooNew { found, known });
    }
    if found == known {
        return Ok(known);
    }
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version    BIGINT PRIMARY KEY, \
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
        )?;
        let found: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )?
            .get(0);
        if found > known {
            return Err(MigrateError::TooNew { found, known });
        }
        if found == known {
            tx.commit()?;
            return Ok(known);
        }
        tx.batch_execute(MIGRATIONS[found as usize])?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(found + 1)],
        )?;
        tx.commit()?;
    }
}
