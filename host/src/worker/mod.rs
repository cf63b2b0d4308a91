//! `host worker`: runs the schedules of every connector in `host.toml`, up to K imports at
//! once, under a lease per connector in the store, so that any number of workers on any
//! number of machines sharing one store never run the same connector at once.
//!
//! * [`run_loop`] — every `poll`: the connectors that are due ([`decide`]: from the store's
//!   run history, or at once when a dead worker's run was left `running`) and not running
//!   here, while fewer than K run: take the lease, check again that the run is still due,
//!   start the import in the mode the schedule says, under the lease. When it ends: give the
//!   lease up. On [`Event::Stop`] (SIGTERM, Ctrl-C): take no more work, cancel the running
//!   imports, wait up to `stop_timeout` for them to record their runs, release the leases.
//! * [`lease`] — the keeper renews each held lease every `lease_ttl / 3` and cancels the run
//!   whose lease is lost, or not renewed for two thirds of `lease_ttl`.
//! * [`job`] — each import runs on its own OS thread with a current-thread tokio runtime and
//!   its own store connection: `run_import`'s future holds `&mut Store`, and a store
//!   connection is `Send` but not `Sync`, so imports cannot share one, and a thread each keeps
//!   a slow or blocking import from stalling the others or the loop. Libraries are loaded once
//!   per process; secrets are resolved for each run.
//! * [`metrics`] — the Prometheus text on `/metrics` and `/healthz` (`--metrics ADDR`).
//!
//! The loop itself is a blocking thread with its own store connection (shared with the
//! keeper: one short call at a time); events (a run ended, stop) reach it on a channel.

pub mod decide;
pub mod job;
pub mod lease;
pub mod metrics;
pub mod run_loop;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{ConnectorConfig, SecretsConfig, WorkerConfig};
use crate::error::HostError;
use crate::guard::GuardPolicy;
use crate::runner::RunReport;
use crate::scheduler::Schedule;

pub use job::OpenStore;
pub use run_loop::Worker;

/// What reaches the loop.
#[derive(Debug)]
pub enum Event {
    /// An import ended (recorded, or not: the error).
    Finished {
        /// The connector.
        name: String,
        /// Its report, or why there is none.
        result: Box<Result<RunReport, HostError>>,
    },
    /// Stop taking work, cancel the running imports, release the leases, return.
    Stop,
}

/// Everything a worker needs, taken from `host.toml` and the command line.
pub struct Settings {
    /// This worker's lease holder id ([`holder_id`]).
    pub holder: String,
    /// At most this many imports at once.
    pub concurrency: usize,
    /// `[worker]`.
    pub worker: WorkerConfig,
    /// The connectors with a schedule.
    pub connectors: BTreeMap<String, (ConnectorConfig, Schedule)>,
    /// The mass-delete guard.
    pub guard: GuardPolicy,
    /// Secret resolution.
    pub secrets: SecretsConfig,
    /// Time for schedules and run records.
    pub clock: Arc<dyn Clock>,
    /// Opens a store connection.
    pub open_store: OpenStore,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("holder", &self.holder)
            .field("concurrency", &self.concurrency)
            .field("worker", &self.worker)
            .field("connectors", &self.connectors.len())
            .finish_non_exhaustive()
    }
}

/// A lease holder id unique to this process: `<hostname>:<pid>:<random>`.
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_ids_name_the_host_and_process_and_differ() {
        let a = holder_id();
        let b = holder_id();
        let parts: Vec<&str> = a.split(':').collect();
        assert_eq!(parts.len(), 3, "{a}");
        assert!(!parts[0].is_empty());
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[2].len(), 8);
        assert_ne!(a, b, "a random part per worker");
    }
}
