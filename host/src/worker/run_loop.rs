//! The worker loop: due connectors → leases → imports, and the orderly stop.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use connector_api::{CancellationToken, ImportMode};

use super::decide::{self, Candidate, Decision, Seen};
use super::job::{self, Job, Libraries};
use super::lease::{LeaseKeeper, SharedStore, lock};
use super::metrics::Metrics;
use super::{Event, Settings};
use crate::error::HostError;
use crate::runner::{ModeChoice, RunOptions};
use crate::scheduler::History;
use crate::store::{LeaseRow, RunStatus};

/// The longest time a cancelled connector gets to stop before its run is abandoned.
const MAX_CANCEL_GRACE: Duration = Duration::from_secs(30);

/// A running worker (see the [module docs](super)).
pub struct Worker {
    settings: Settings,
    store: SharedStore,
    keeper: LeaseKeeper,
    libraries: Libraries,
    metrics: Arc<Metrics>,
    /// Imports running here, by connector.
    running: BTreeMap<String, CancellationToken>,
    /// Connectors not due before this time (no need to read their history until then).
    next_check: HashMap<String, DateTime<Utc>>,
    events: Receiver<Event>,
    sender: Sender<Event>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .field("running", &self.running.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn parse_ts(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.to_utc())
}

impl Worker {
    /// Opens the loop's store connection and starts the lease keeper on another.
    ///
    /// # Errors
    /// The store cannot be opened.
    pub fn new(settings: Settings, metrics: Arc<Metrics>) -> Result<Self, HostError> {
        let store: SharedStore = Arc::new(Mutex::new((settings.open_store)()?));
        // The keeper has a connection of its own: a renewal never waits behind the loop's
        // reads (which grow with the number of connectors).
        let keeper_store: SharedStore = Arc::new(Mutex::new((settings.open_store)()?));
        let keeper = LeaseKeeper::start(keeper_store, &settings.holder, settings.worker.lease_ttl);
        let (sender, events) = channel();
        Ok(Self {
            settings,
            store,
            keeper,
            libraries: Libraries::default(),
            metrics,
            running: BTreeMap::new(),
            next_check: HashMap::new(),
            events,
            sender,
        })
    }

    /// Where to send [`Event::Stop`].
    pub fn sender(&self) -> Sender<Event> {
        self.sender.clone()
    }

    /// Runs until [`Event::Stop`], then stops in order (blocking: call it on its own thread).
    pub fn run(mut self) {
        tracing::info!(
            holder = %self.settings.holder,
            connectors = self.settings.connectors.len(),
            concurrency = self.settings.concurrency,
            "worker started; SIGTERM or Ctrl-C stops it"
        );
        let mut next_tick = Instant::now();
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(wait) {
                Ok(Event::Finished { name, result }) => self.finished(&name, *result),
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.tick();
                    next_tick = Instant::now() + self.settings.worker.poll;
                }
            }
        }
        self.shutdown();
    }

    /// One look for due connectors; starts as many as there are free slots.
    fn tick(&mut self) {
        self.metrics.set_leases_held(self.keeper.count());
        if self.running.len() >= self.settings.concurrency {
            return; // no free slot: nothing to read
        }
        let now = self.settings.clock.now();
        let leases: HashMap<String, LeaseRow> = match lock(&self.store).leases() {
            Ok(rows) => rows.into_iter().map(|l| (l.connector.clone(), l)).collect(),
            Err(e) => {
                tracing::warn!("cannot read the leases, trying again at the next poll: {e}");
                return;
            }
        };
        let mut due = Vec::new();
        let names: Vec<String> = self.settings.connectors.keys().cloned().collect();
        for name in names {
            if self.running.contains_key(&name)
                || self.next_check.get(&name).is_some_and(|t| *t > now)
                || decide::leased_elsewhere(leases.get(&name), &self.settings.holder)
            {
                continue;
            }
            if let Some(c) = self.consider(&name, now) {
                due.push(c);
            }
        }
        let count = due.len();
        for candidate in decide::pick(due, count) {
            if self.running.len() >= self.settings.concurrency {
                break;
            }
            self.try_start(&candidate.name);
        }
        self.metrics.set_leases_held(self.keeper.count());
    }

    /// Reads `name`'s history: a candidate when it is due, else remembers when to look again.
    fn consider(&mut self, name: &str, now: DateTime<Utc>) -> Option<Candidate> {
        let schedule = self.settings.connectors[name].1;
        let seen = match self.seen(name) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(connector = name, "cannot read the run history: {e}");
                return None;
            }
        };
        match decide::decide(&schedule, &seen, now) {
            Decision::Wait { until } => {
                self.next_check.insert(name.to_owned(), until);
                None
            }
            Decision::Due(_) => Some(Candidate {
                name: name.to_owned(),
                due_since: decide::due_since(&schedule, &seen.history),
            }),
        }
    }

    /// What the store says about `name` (and its last success, for the metrics).
    fn seen(&self, name: &str) -> crate::store::Result<Seen> {
        let store = lock(&self.store);
        let last = store.runs(name, 1)?.into_iter().next();
        let full = parse_ts(store.last_success_started(name, ImportMode::Full)?);
        let delta = parse_ts(store.last_success_started(name, ImportMode::Delta)?);
        drop(store);
        self.metrics.saw_success(name, full.max(delta));
        let orphaned = last
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Running && r.holder.is_some());
        Ok(Seen {
            history: History {
                last_run_started: parse_ts(last.map(|r| r.started_at)),
                last_full_success: full,
            },
            orphaned,
        })
    }

    /// Takes `name`'s lease and starts its import if it is still due; whether it started.
    fn try_start(&mut self, name: &str) -> bool {
        let (ttl, holder) = (self.settings.worker.lease_ttl, &self.settings.holder);
        let sent = Instant::now();
        match lock(&self.store).acquire_lease(name, holder, ttl) {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(connector = name, "cannot take the lease: {e}");
                return false;
            }
        }
        // Another worker may have run it between the look and the lease.
        let schedule = self.settings.connectors[name].1;
        let now = self.settings.clock.now();
        let mode = match self.seen(name).map(|s| decide::decide(&schedule, &s, now)) {
            Ok(Decision::Due(mode)) => mode,
            Ok(Decision::Wait { until }) => {
                self.next_check.insert(name.to_owned(), until);
                self.release(name);
                return false;
            }
            Err(e) => {
                tracing::warn!(connector = name, "cannot read the run history: {e}");
                self.release(name);
                return false;
            }
        };
        let cancel = CancellationToken::new();
        self.keeper.hold(name, cancel.clone(), sent);
        match self.start(name, mode, cancel.clone()) {
            Ok(()) => {
                self.running.insert(name.to_owned(), cancel);
                true
            }
            Err(e) => {
                tracing::error!(connector = name, "cannot start the run: {e}");
                self.metrics.count_outcome(name, "not_started");
                self.retry_later(name);
                self.release(name);
                false
            }
        }
    }

    /// Starts the import of `name` on its own thread.
    fn start(
        &self,
        name: &str,
        mode: ModeChoice,
        cancel: CancellationToken,
    ) -> Result<(), HostError> {
        let (config, _) = &self.settings.connectors[name];
        let factory = self.libraries.factory(config)?;
        let options = RunOptions {
            mode,
            allow_mass_delete: false,
            guard: self.settings.guard,
            cancel_grace: self.settings.worker.stop_timeout.min(MAX_CANCEL_GRACE),
            lease: Some(self.settings.holder.clone()),
        };
        tracing::info!(connector = name, ?mode, "starting a scheduled run");
        let job = Job {
            config: config.clone(),
            factory,
            secrets: self.settings.secrets.chain(),
            options,
            cancel,
            clock: Arc::clone(&self.settings.clock),
            open_store: Arc::clone(&self.settings.open_store),
        };
        job::spawn(job, self.sender.clone())
    }

    /// An import ended: give the lease up and count it.
    fn finished(&mut self, name: &str, result: Result<crate::runner::RunReport, HostError>) {
        self.running.remove(name);
        self.release(name);
        match result {
            Ok(report) => {
                self.next_check.remove(name);
                self.metrics.record_run(&report.run);
                let run = &report.run;
                if run.status == RunStatus::Succeeded {
                    tracing::info!(connector = name, run = run.id, "scheduled run succeeded");
                } else {
                    let why = run.error.as_ref().map_or("unknown", |e| e.message.as_str());
                    tracing::error!(connector = name, run = run.id, status = %run.status, "scheduled run did not succeed: {why}");
                }
            }
            Err(e) => {
                tracing::error!(
                    connector = name,
                    "the run could not be started or recorded: {e}"
                );
                // Creating the instance (secrets, settings) comes before the run record.
                let not_started = matches!(e, HostError::Secret(_) | HostError::Connector { .. });
                if not_started {
                    self.metrics.count_outcome(name, "not_started");
                    self.retry_later(name);
                } else {
                    // The store failed (e.g. PostgreSQL restarted): the run may be left
                    // `running`; look again at the next poll, which takes it over once the
                    // store answers.
                    self.metrics.count_outcome(name, "not_recorded");
                    self.next_check.remove(name);
                }
            }
        }
        self.metrics.set_leases_held(self.keeper.count());
    }

    /// After a run that could not start: wait one `every` (a missing secret, a bad library).
    fn retry_later(&mut self, name: &str) {
        let every = self.settings.connectors[name].1.every;
        let at = self.settings.clock.now() + every;
        self.next_check.insert(name.to_owned(), at);
    }

    fn release(&self, name: &str) {
        if let Err(e) = self.keeper.release(name) {
            tracing::warn!(
                connector = name,
                "cannot release the lease (it expires by itself): {e}"
            );
        }
    }

    /// Cancels the running imports, waits up to `stop_timeout` for them, releases the leases.
    fn shutdown(mut self) {
        tracing::info!(
            running = self.running.len(),
            "stopping: taking no more work, cancelling the running imports"
        );
        for cancel in self.running.values() {
            cancel.cancel();
        }
        let deadline = Instant::now() + self.settings.worker.stop_timeout;
        while !self.running.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Finished { name, result }) => self.finished(&name, *result),
                Ok(Event::Stop) => {}
                Err(_) => break,
            }
        }
        if !self.running.is_empty() {
            tracing::warn!(
                connectors = ?self.running.keys().collect::<Vec<_>>(),
                "imports did not stop within stop_timeout; their runs stay `running` until the \
                 next worker closes them as interrupted"
            );
        }
        for name in self.keeper.connectors() {
            self.release(&name);
        }
        self.keeper.stop();
        tracing::info!("worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::clock::SystemClock;
    use crate::config::{ConnectorConfig, SecretsConfig, WorkerConfig};
    use crate::scheduler::Schedule;
    use crate::store::{RunEnd, RunError, SqliteStore, Store};

    const TTL: Duration = Duration::from_secs(30);

    fn connector(name: &str) -> (String, (ConnectorConfig, Schedule)) {
        let config = ConnectorConfig {
            name: name.to_owned(),
            library: PathBuf::from("/nonexistent/libnothing.so"),
            config: serde_json::json!({}),
            auth: serde_json::json!({}),
        };
        let schedule = Schedule {
            every: chrono::Duration::hours(1),
            full_every: chrono::Duration::days(7),
        };
        (name.to_owned(), (config, schedule))
    }

    /// A worker over an in-memory store prepared by `prepare`.
    fn worker(prepare: impl FnOnce(&mut Store)) -> Worker {
        // Every connection the worker opens reaches the same in-memory database.
        let root = SqliteStore::open_in_memory().unwrap();
        let mut first = Store::new(Box::new(root.open_writer().unwrap()));
        prepare(&mut first);
        drop(first);
        let root = Mutex::new(root);
        let settings = Settings {
            holder: "me".into(),
            concurrency: 2,
            worker: WorkerConfig {
                lease_ttl: TTL,
                ..WorkerConfig::default()
            },
            connectors: ["busy", "later", "broken"]
                .map(connector)
                .into_iter()
                .collect(),
            guard: crate::guard::GuardPolicy::default(),
            secrets: SecretsConfig::defaults(std::path::Path::new("/nonexistent")),
            clock: Arc::new(SystemClock),
            open_store: Arc::new(move || Ok(Store::new(Box::new(lock(&root).open_writer()?)))),
        };
        Worker::new(settings, Arc::new(Metrics::new(Arc::new(SystemClock)))).unwrap()
    }

    #[test]
    fn a_tick_skips_leased_and_not_due_connectors_and_gives_back_what_cannot_start() {
        let mut w = worker(|s| {
            // `busy` runs on another worker; `later` ran a minute ago.
            assert!(s.acquire_lease("busy", "w2", TTL).unwrap());
            s.ensure_connector("later", "/l.so", None, "t").unwrap();
            assert!(s.acquire_lease("later", "w0", TTL).unwrap());
            let at = crate::clock::format_ts(Utc::now() - chrono::Duration::minutes(1));
            let run = s
                .begin_run("later", ImportMode::Full, None, &at, Some("w0"))
                .unwrap();
            let error = RunError {
                kind: "x".into(),
                message: "x".into(),
            };
            s.finish_run_unsuccessful(run, RunStatus::Failed, &RunEnd::default(), &error, &at)
                .unwrap();
            assert!(s.release_lease("later", "w0").unwrap());
        });
        w.tick();
        assert!(w.running.is_empty());
        let leases = lock(&w.store).leases().unwrap();
        assert_eq!(leases.len(), 1, "{leases:?}");
        assert_eq!(
            leases[0].holder, "w2",
            "`busy` untouched; `broken` given back"
        );
        let later = w.next_check["later"];
        let in_an_hour = Utc::now() + chrono::Duration::minutes(59);
        assert!(later > Utc::now() && later <= in_an_hour, "{later}");
        assert!(w.next_check["broken"] > Utc::now(), "retried after `every`");
        assert!(
            !w.next_check.contains_key("busy"),
            "looked at again next poll"
        );
        let text = w.metrics.encode();
        assert!(
            text.contains("host_worker_runs_total{connector=\"broken\",outcome=\"not_started\"} 1"),
            "{text}"
        );
        // Nothing is due at the next tick: the library is not loaded again.
        w.tick();
        assert!(!w.metrics.encode().contains("outcome=\"not_started\"} 2"));
        w.shutdown();
    }

    #[test]
    fn an_orphaned_run_of_a_dead_worker_is_due_at_once_once_its_lease_expired() {
        let mut w = worker(|s| {
            s.ensure_connector("later", "/l.so", None, "t").unwrap();
            assert!(
                s.acquire_lease("later", "dead", Duration::from_millis(300))
                    .unwrap()
            );
            let at = crate::clock::format_ts(Utc::now());
            s.begin_run("later", ImportMode::Full, None, &at, Some("dead"))
                .unwrap();
        });
        std::thread::sleep(Duration::from_millis(400)); // the dead worker's lease expires
        let c = w.consider("later", Utc::now());
        assert_eq!(
            c.map(|c| c.name).as_deref(),
            Some("later"),
            "due although its slot is an hour away"
        );
        assert!(!w.try_start("later"), "the library does not exist");
        let text = w.metrics.encode();
        assert!(
            text.contains("host_worker_runs_total{connector=\"later\",outcome=\"not_started\"} 1"),
            "it took the lease and tried: {text}"
        );
        assert!(lock(&w.store).leases().unwrap().is_empty(), "given back");
        w.shutdown();
    }
}
