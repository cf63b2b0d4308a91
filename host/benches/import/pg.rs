//! The store a measured host writes to: the SQLite file in the run's directory, or a fresh
//! database on a private PostgreSQL server (`fixtures::postgres::TempCluster`, started with
//! `fsync` on so that both stores are durable), and that server's CPU seconds.

use std::path::Path;

use clap::ValueEnum;
use fixtures::postgres::TempCluster;

use crate::measure;

type Error = Box<dyn std::error::Error>;

/// The environment variable the `env` secret backend reads for `secret://bench/postgres`.
pub const PASSWORD_VAR: &str = "SECRET_BENCH_POSTGRES";

/// Which store backend a run writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded SQLite file (`store = "store.db"`).
    Sqlite,
    /// A database on a private PostgreSQL server on this machine, `fsync` on.
    Postgres,
}

impl StoreKind {
    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// What host.toml says about the store, and what the host process needs besides.
#[derive(Debug, Clone)]
pub struct StoreTarget {
    pub kind: StoreKind,
    /// The `store = …` (and `store_password = …`) lines.
    pub toml: String,
    /// Environment for the host process (the password, from the `env` secret backend).
    pub env: Vec<(String, String)>,
    /// The database, for PostgreSQL.
    pub database: Option<String>,
}

impl StoreTarget {
    /// A SQLite file `store.db` in the run's directory.
    pub fn sqlite() -> StoreTarget {
        StoreTarget {
            kind: StoreKind::Sqlite,
            toml: "store = \"store.db\"".to_owned(),
            env: Vec::new(),
            database: None,
        }
    }
}

/// A private PostgreSQL server for the benchmarks; removed when dropped.
pub struct PgServer {
    cluster: TempCluster,
}

impl PgServer {
    /// Starts a durable throwaway cluster (`initdb` + `pg_ctl`, `fsync` on).
    ///
    /// # Errors
    /// The `postgresql` binaries are missing, or the server did not start.
    pub fn start() -> Result<PgServer, Error> {
        let cluster = TempCluster::start_durable()?;
        Ok(PgServer { cluster })
    }

    /// A new empty database `name` (dropped first if a previous run left it).
    ///
    /// # Errors
    /// `psql` failed.
    pub fn fresh(&self, name: &str) -> Result<StoreTarget, Error> {
        self.drop_database(name)?;
        let url = self.cluster.create_database(name)?;
        Ok(self.target(&url, name))
    }

    /// The store lines for database `name` with `application_name` set (to tell the processes
    /// that share it apart in `pg_stat_activity`).
    pub fn target_as(&self, name: &str, application: &str) -> StoreTarget {
        let url = format!(
            "{}?application_name={application}",
            self.cluster.database_url(name)
        );
        self.target(&url, name)
    }

    fn target(&self, url: &str, name: &str) -> StoreTarget {
        StoreTarget {
            kind: StoreKind::Postgres,
            toml: format!("store = \"{url}\"\nstore_password = \"secret://bench/postgres\""),
            env: vec![(PASSWORD_VAR.to_owned(), self.cluster.password().to_owned())],
            database: Some(name.to_owned()),
        }
    }

    /// Drops database `name` if it exists (stores of S are ~100 MiB; the disk is shared).
    ///
    /// # Errors
    /// `psql` failed.
    pub fn drop_database(&self, name: &str) -> Result<(), Error> {
        self.cluster
            .psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        Ok(())
    }

    /// Runs SQL as the superuser; its unaligned output.
    ///
    /// # Errors
    /// `psql` failed.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        Ok(self.cluster.psql(sql)?)
    }

    /// Runs SQL in database `db` as the superuser.
    ///
    /// # Errors
    /// `psql` failed.
    pub fn psql_in(&self, db: &str, sql: &str) -> Result<String, Error> {
        Ok(self.cluster.psql_in(db, sql)?)
    }

    /// The on-disk size of database `name`, MiB.
    pub fn database_mib(&self, name: &str) -> f64 {
        self.psql(&format!("SELECT pg_database_size('{name}')"))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map_or(f64::NAN, |b| b / (1024.0 * 1024.0))
    }

    /// CPU seconds the whole server has used so far: the postmaster, the backends and
    /// background processes alive now, and those that have exited (reaped by the postmaster,
    /// so in its children's times).
    pub fn cpu_s(&self) -> f64 {
        let Some(pid) = self.cluster.server_pid() else {
            return f64::NAN;
        };
        let own = measure::proc_times(pid).map_or(f64::NAN, |t| t.total());
        let children: f64 = measure::children(pid)
            .into_iter()
            .filter_map(measure::proc_times)
            .map(|t| t.total())
            .sum();
        own + children
    }

    /// Whether the server runs with `fsync` on.
    pub fn durable(&self) -> bool {
        self.cluster.durable()
    }
}

/// The size of a SQLite store (the file and its WAL), MiB.
pub fn sqlite_mib(dir: &Path) -> f64 {
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    (size("store.db") + size("store.db-wal")) as f64 / (1024.0 * 1024.0)
}
