//! `host worker`: two worker processes sharing one store run several connectors (each against
//! its own simulated org) under leases; one is killed mid-run and the other takes its
//! connectors over; SIGTERM stops a worker in order.
//!
//! The scenarios are functions of the store lines of host.toml, so each runs against every
//! store backend: the SQLite file (shared by two processes on one machine) here, PostgreSQL
//! with one more call.
//!
//! "Mid-run" is made certain as in `process.rs`: some orgs answer member listings only after a
//! delay, so their runs are known to be in progress once the store shows them `running` with
//! objects already written.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fixtures::postgres::TempCluster;
use fixtures::{FaultKind, OrgSpec, Simulator, Trigger};
use host::clock::SystemClock;
use host::commands::App;
use host::config::Config;
use host::store::{RunRecord, RunStatus, Store};
use serde_json::json;

use crate::fast::{Key, fast_extra, fast_simulator, org_keys};
use crate::support::{TOKEN_REF, TOKEN_VAR, connector_json, host, library};

const TOKEN: &str = "worker-token";
/// `[worker]` of every scenario: a short lease so a takeover is quick (renewals every 1.7 s and
/// the watchdog at 3.3 s leave room for a loaded machine).
const LEASE_TTL: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_secs(1);
/// How long the slow orgs take to answer a member listing.
const SLOW: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_connectors_in_a_sqlite_file() {
    two_workers_share_connectors("store = \"mesh.db\"", &[], 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_stops_a_worker_in_order_with_a_sqlite_file() {
    sigterm_cancels_and_releases("store = \"mesh.db\"", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_connectors_in_postgresql() {
    let (pg, _secrets, store_toml) = postgres_store().await;
    two_workers_share_connectors(&store_toml, &[], 20).await;
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_stops_a_worker_in_order_with_postgresql() {
    let (pg, _secrets, store_toml) = postgres_store().await;
    sigterm_cancels_and_releases(&store_toml, &[]).await;
    drop(pg);
}

/// PostgreSQL stopped for two seconds while two runs are in progress: those runs end failed
/// or cancelled (never succeeded, no watermark), the worker keeps going, and the next runs of
/// the same connectors succeed with stores equal to the orgs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgresql_restart_mid_run_fails_those_runs_cleanly_and_the_next_ones_succeed() {
    let (mut pg, _secrets, store_toml) = postgres_store().await;
    let fleet = Fleet::new(&store_toml, &[], 3, 2).await;
    drop(fleet.store());
    let mut worker = fleet.worker("w", 3, free_port());
    fleet.wait_for(Duration::from_secs(40), "c0, c1 mid-run; c2 done", |runs| {
        let store = fleet.store();
        runs.iter().all(|(name, r)| match r.first() {
            Some(latest) if name != "c2" => {
                latest.status == RunStatus::Running && !stored_keys(&store, name).is_empty()
            }
            Some(latest) => latest.status == RunStatus::Succeeded,
            None => false,
        })
    });
    let affected: BTreeMap<String, i64> = ["c0", "c1"]
        .into_iter()
        .map(|name| (name.to_owned(), fleet.store().runs(name, 1).unwrap()[0].id))
        .collect();
    let pg_back = tokio::task::spawn_blocking(move || {
        pg.stop().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        pg.start_again().unwrap();
        pg
    })
    .await
    .unwrap();
    for sim in fleet.sims.values() {
        sim.faults().clear();
    }
    let next_succeeded = |runs: &BTreeMap<String, Vec<RunRecord>>| {
        affected.iter().all(|(name, id)| {
            runs[name]
                .iter()
                .any(|r| r.id > *id && r.status == RunStatus::Succeeded)
        })
    };
    let start = Instant::now();
    while !next_succeeded(&all_runs(&fleet.store(), &fleet.sims)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the next runs succeed within 60 s; the worker's log:\n{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let store = fleet.store();
    for (name, id) in &affected {
        let run = store.run(*id).unwrap().unwrap();
        assert!(
            matches!(run.status, RunStatus::Failed | RunStatus::Cancelled),
            "{name}: {run:?}"
        );
        assert_eq!(run.watermark_after, None, "{name}");
    }
    for (name, sim) in &fleet.sims {
        assert_eq!(
            stored_keys(&store, name),
            org_keys(sim),
            "{name}: store = org"
        );
        let latest = store.runs(name, 1).unwrap().remove(0);
        assert_eq!(latest.status, RunStatus::Succeeded, "{name}");
        let w = store.watermark(name).unwrap().expect("a watermark");
        assert_eq!(w.run_id, Some(latest.id), "{name}");
    }
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker kept going"
    );
    worker.signal(libc::SIGTERM);
    assert_eq!(
        worker.wait(Duration::from_secs(15)),
        Some(0),
        "{}",
        worker.log()
    );
    drop(pg_back);
}

/// A private PostgreSQL and the host.toml lines that select it; its password is a secret
/// reference resolved from a file under the returned directory (by the workers and the test
/// alike), so it is never in the environment or the file.
pub(crate) async fn postgres_store() -> (TempCluster, tempfile::TempDir, String) {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    let pg = tokio::task::spawn_blocking(TempCluster::start)
        .await
        .unwrap()
        .unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let dir = secrets.path().join("e2e");
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("postgres"))
        .unwrap();
    file.write_all(pg.password().as_bytes()).unwrap();
    let store_toml = format!(
        "store = \"{}\"\nstore_password = \"secret://e2e/postgres\"\n\
         secrets = {{ backends = [\"env\", \"file\"], dir = \"{}\" }}",
        pg.url(),
        secrets.path().display()
    );
    (pg, secrets, store_toml)
}

/// Simulated orgs, one connector each in `conf.d/`, a host.toml with `store_toml`.
struct Fleet {
    dir: tempfile::TempDir,
    config: PathBuf,
    sims: BTreeMap<String, Simulator>,
    /// More environment for the worker processes (e.g. the store password's secret).
    env: Vec<(String, String)>,
}

impl Fleet {
    /// `n` connectors `c0`… ; the first `slow` of them answer member listings slowly.
    async fn new(store_toml: &str, env: &[(&str, &str)], n: usize, slow: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let confd = dir.path().join("conf.d");
        std::fs::create_dir(&confd).unwrap();
        let mut sims = BTreeMap::new();
        for i in 0..n {
            let name = format!("c{i}");
            let sim = fast_simulator(OrgSpec::tiny(), TOKEN, |_| {}).await;
            if i < slow {
                sim.faults()
                    .inject(FaultKind::Slow(SLOW), "/api/v1/groups/", Trigger::Always);
            }
            let config = connector_json(&sim, fast_extra(&sim, json!({})));
            let inline: Vec<String> = config
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            let text = format!(
                "[connectors.{name}]\nlibrary = {:?}\nconfig = {{ {} }}\n\
                 auth = {{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}\n\
                 schedule = {{ every = \"1h\", full_every = \"7d\" }}\n",
                library().display().to_string(),
                inline.join(", ")
            );
            std::fs::write(confd.join(format!("{name}.toml")), text).unwrap();
            sims.insert(name, sim);
        }
        let config = dir.path().join("host.toml");
        std::fs::write(
            &config,
            format!(
                "{store_toml}\nconnectors_dir = \"conf.d\"\n[worker]\nlease_ttl = \"{}s\"\n\
                 poll = \"{}s\"\nstop_timeout = \"20s\"\n",
                LEASE_TTL.as_secs(),
                POLL.as_secs()
            ),
        )
        .unwrap();
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self {
            dir,
            config,
            sims,
            env,
        }
    }

    /// Opens the store the workers share, as a host command would.
    fn store(&self) -> Store {
        let app = App {
            config: Config::load(&self.config, true).unwrap(),
            store_override: None,
            json: false,
            progress: false,
            clock: Arc::new(SystemClock),
        };
        app.open_store().unwrap()
    }

    /// Starts `host worker`, its output in a file of the temporary directory.
    fn worker(&self, label: &str, concurrency: u32, metrics: u16) -> Worker {
        let log = self.dir.path().join(format!("{label}.log"));
        let out = File::create(&log).unwrap();
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&self.config)
            .args(["-v", "worker", "--concurrency", &concurrency.to_string()])
            .args(["--metrics", &format!("127.0.0.1:{metrics}")])
            .env(TOKEN_VAR, TOKEN)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        Worker {
            child: cmd.spawn().unwrap(),
            log,
            metrics,
        }
    }

    /// Waits up to `limit` for `done` to hold of the store's runs (by connector, newest first).
    fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        mut done: impl FnMut(&BTreeMap<String, Vec<RunRecord>>) -> bool,
    ) {
        let store = self.store();
        let start = Instant::now();
        loop {
            let runs = all_runs(&store, &self.sims);
            if done(&runs) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{what} within {limit:?}: {runs:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `host worker` process.
struct Worker {
    child: Child,
    log: PathBuf,
    metrics: u16,
}

impl Worker {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        let rc = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.pid());
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("the worker did not exit within {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GET `path` of the metrics server.
    fn get(&self, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free local port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn all_runs(store: &Store, sims: &BTreeMap<String, Simulator>) -> BTreeMap<String, Vec<RunRecord>> {
    sims.keys()
        .map(|name| (name.clone(), store.runs(name, 100).unwrap()))
        .collect()
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn pid_of(holder: &str) -> u32 {
    holder.split(':').nth(1).unwrap().parse().unwrap()
}

/// Stored keys of connector `name`.
fn stored_keys(store: &Store, name: &str) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    store
        .for_each_object(name, None, None, |o| {
            keys.insert((o.object_type, o.external_id));
            Ok(())
        })
        .unwrap();
    keys
}

/// Samples every connector's watermark until stopped; returns the moves back it saw.
fn watch_watermarks(
    store: Store,
    names: Vec<String>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let mut last: BTreeMap<String, (i64, String)> = BTreeMap::new();
        let (mut samples, mut back) = (0, Vec::new());
        while !stop.load(Ordering::Relaxed) {
            for name in &names {
                let Some(w) = store.watermark(name).unwrap() else {
                    if last.contains_key(name) {
                        back.push(format!("{name}: the watermark disappeared"));
                    }
                    continue;
                };
                let now = (w.run_id.unwrap_or(0), w.value);
                if let Some(before) = last.get(name)
                    && (now.0 < before.0 || (now.0 == before.0 && now.1 != before.1))
                {
                    back.push(format!("{name}: {before:?} -> {now:?}"));
                }
                last.insert(name.clone(), now);
                samples += 1;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (samples, back)
    })
}

/// Checks that no two runs of a connector overlap in time.
fn assert_no_overlap(runs: &BTreeMap<String, Vec<RunRecord>>) {
    for (name, runs) in runs {
        let mut runs = runs.clone();
        runs.sort_by_key(|r| r.id);
        for pair in runs.windows(2) {
            let finished = pair[0]
                .finished_at
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: run {} never finished", pair[0].id));
            assert!(
                ts(finished) <= ts(&pair[1].started_at),
                "{name}: run {} (until {finished}) overlaps run {} (from {})",
                pair[0].id,
                pair[1].id,
                pair[1].started_at
            );
        }
    }
}

/// Checks that no worker ran more than `k` imports at once (from the run records).
fn assert_concurrency_at_most(runs: &BTreeMap<String, Vec<RunRecord>>, k: usize) {
    let mut by_holder: BTreeMap<&str, Vec<(DateTime<Utc>, i32)>> = BTreeMap::new();
    for r in runs.values().flatten() {
        let (Some(holder), Some(end)) = (r.holder.as_deref(), r.finished_at.as_deref()) else {
            continue;
        };
        let events = by_holder.entry(holder).or_default();
        events.push((ts(&r.started_at), 1));
        events.push((ts(end), -1));
    }
    for (holder, mut events) in by_holder {
        events.sort(); // an end (-1) sorts before a start at the same instant
        let mut now = 0;
        for (_, step) in events {
            now += step;
            assert!(
                now <= k as i32,
                "{holder} ran {now} imports at once (limit {k})"
            );
        }
    }
}

/// The value of the metric line starting with `prefix` (`name{labels}`).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
}

/// Two workers, `n` connectors (three of them slow), one worker killed mid-run; `env` is
/// more environment for the worker processes.
pub async fn two_workers_share_connectors(store_toml: &str, env: &[(&str, &str)], n: usize) {
    let fleet = Fleet::new(store_toml, env, n, 3).await;
    let slow = ["c0", "c1", "c2"];
    let names: Vec<String> = fleet.sims.keys().cloned().collect();
    drop(fleet.store()); // creates the store before two processes migrate it
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = watch_watermarks(fleet.store(), names.clone(), Arc::clone(&stop_watch));
    let mut workers = vec![
        fleet.worker("a", 3, free_port()),
        fleet.worker("b", 3, free_port()),
    ];

    // The slow connectors are mid-run, the others done.
    fleet.wait_for(
        Duration::from_secs(40),
        "slow runs mid-run, the others done",
        |runs| {
            let store = fleet.store();
            runs.iter().all(|(name, r)| match r.first() {
                Some(latest) if slow.contains(&name.as_str()) => {
                    latest.status == RunStatus::Running && !stored_keys(&store, name).is_empty()
                }
                Some(latest) => latest.status == RunStatus::Succeeded,
                None => false,
            })
        },
    );
    let store = fleet.store();
    let leases = store.leases().unwrap();
    let victim_pid = pid_of(&leases.iter().find(|l| l.connector == "c0").unwrap().holder);
    let victim = workers.iter().position(|w| w.pid() == victim_pid).unwrap();
    let killed: BTreeMap<String, i64> = all_runs(&store, &fleet.sims)
        .into_iter()
        .filter_map(|(name, r)| {
            let latest = r.into_iter().next()?;
            let holder = latest.holder.clone()?;
            (latest.status == RunStatus::Running && pid_of(&holder) == victim_pid)
                .then_some((name, latest.id))
        })
        .collect();
    assert!(killed.contains_key("c0"), "{killed:?}");
    workers[victim].signal(libc::SIGKILL);
    let killed_at = Utc::now();
    workers[victim].wait(Duration::from_secs(5));
    for sim in fleet.sims.values() {
        sim.faults().clear();
    }
    let survivor = workers.remove(1 - victim);

    fleet.wait_for(
        Duration::from_secs(40),
        "every connector imported",
        |runs| {
            runs.values()
                .all(|r| r.first().is_some_and(|l| l.status == RunStatus::Succeeded))
        },
    );
    stop_watch.store(true, Ordering::Relaxed);
    let (samples, moved_back) = watcher.join().unwrap();
    assert!(samples > 0);
    assert!(
        moved_back.is_empty(),
        "watermarks moved back: {moved_back:?}"
    );

    let runs = all_runs(&store, &fleet.sims);
    assert_no_overlap(&runs);
    assert_concurrency_at_most(&runs, 3);
    let mut takeovers = Vec::new();
    for (name, killed_run) in &killed {
        let dead = store.run(*killed_run).unwrap().unwrap();
        assert_eq!(dead.status, RunStatus::Failed, "{name}: {dead:?}");
        assert_eq!(dead.error.as_ref().unwrap().kind, "interrupted", "{name}");
        assert_eq!(dead.watermark_after, None, "{name}");
        let next = runs[name]
            .iter()
            .rev()
            .find(|r| r.id > *killed_run)
            .unwrap();
        assert_ne!(pid_of(next.holder.as_deref().unwrap()), victim_pid);
        let delay = (ts(&next.started_at) - killed_at)
            .to_std()
            .unwrap_or_default();
        takeovers.push((name.clone(), delay));
        assert!(
            delay <= LEASE_TTL + POLL + Duration::from_millis(500),
            "{name}: taken over {delay:?} after the kill (lease_ttl {LEASE_TTL:?} + poll {POLL:?})"
        );
    }
    #[allow(clippy::print_stderr)] // the measured figures, shown with --nocapture
    {
        eprintln!("takeovers after the kill: {takeovers:?}");
    }
    for (name, sim) in &fleet.sims {
        assert_eq!(
            stored_keys(&store, name),
            org_keys(sim),
            "{name}: store = org"
        );
        let w = store.watermark(name).unwrap().expect("a watermark");
        assert_eq!(
            w.run_id,
            Some(runs[name][0].id),
            "{name}: the last run's watermark"
        );
    }

    check_survivor_metrics(&survivor, &runs);
    survivor.signal(libc::SIGTERM);
    let mut survivor = survivor;
    assert_eq!(
        survivor.wait(Duration::from_secs(10)),
        Some(0),
        "{}",
        survivor.log()
    );
    assert!(store.leases().unwrap().is_empty(), "leases released");
}

/// The survivor's /metrics agree with the run records it wrote.
fn check_survivor_metrics(survivor: &Worker, runs: &BTreeMap<String, Vec<RunRecord>>) {
    let health = survivor.get("/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // Its leases are released once a run ends; the gauge follows within a poll.
    std::thread::sleep(POLL * 2);
    let text = survivor.get("/metrics");
    assert_eq!(
        metric(&text, "host_worker_leases_held"),
        Some(0.0),
        "{text}"
    );
    for (name, runs) in runs {
        let mine: Vec<&RunRecord> = runs
            .iter()
            .filter(|r| {
                r.holder
                    .as_deref()
                    .is_some_and(|h| pid_of(h) == survivor.pid())
            })
            .filter(|r| r.status == RunStatus::Succeeded)
            .collect();
        let labels = format!("{{connector=\"{name}\"}}");
        let succeeded =
            format!("host_worker_runs_total{{connector=\"{name}\",outcome=\"succeeded\"}}");
        let sum = |k: &str| {
            mine.iter()
                .map(|r| r.stats.get(k).copied().unwrap_or(0))
                .sum::<u64>()
        };
        if mine.is_empty() {
            assert_eq!(metric(&text, &succeeded), None, "{name}\n{text}");
        } else {
            assert_eq!(
                metric(&text, &succeeded),
                Some(mine.len() as f64),
                "{name}\n{text}"
            );
            let requests = metric(&text, &format!("host_worker_requests_total{labels}"));
            assert_eq!(requests, Some(sum("requests") as f64), "{name}\n{text}");
            assert!(sum("requests") > 0);
            let waits = metric(
                &text,
                &format!("host_worker_rate_limit_waits_total{labels}"),
            );
            assert_eq!(waits, Some(sum("rate_limit_waits") as f64), "{name}");
            let written = metric(&text, &format!("host_worker_objects_written_total{labels}"));
            assert!(written.is_some_and(|w| w > 0.0), "{name}\n{text}");
        }
        // Every connector's last success is known, whoever ran it.
        let age = metric(
            &text,
            &format!("host_worker_seconds_since_last_success{labels}"),
        );
        assert!(
            age.is_some_and(|a| (0.0..120.0).contains(&a)),
            "{name}: {age:?}\n{text}"
        );
    }
}

/// One worker mid-run gets SIGTERM: exit 0, the run recorded as cancelled, no lease left.
pub async fn sigterm_cancels_and_releases(store_toml: &str, env: &[(&str, &str)]) {
    let fleet = Fleet::new(store_toml, env, 2, 1).await;
    let mut worker = fleet.worker("w", 2, free_port());
    fleet.wait_for(Duration::from_secs(30), "c0 mid-run, c1 done", |runs| {
        let c0 = runs["c0"]
            .first()
            .is_some_and(|r| r.status == RunStatus::Running);
        let c1 = runs["c1"]
            .first()
            .is_some_and(|r| r.status == RunStatus::Succeeded);
        // c1's lease is given back just after its run is recorded.
        let store = fleet.store();
        c0 && c1 && !stored_keys(&store, "c0").is_empty() && store.leases().unwrap().len() == 1
    });
    let store = fleet.store();
    let leases = store.leases().unwrap();
    assert_eq!(leases[0].connector, "c0", "c0's lease is held: {leases:?}");
    let started = Instant::now();
    worker.signal(libc::SIGTERM);
    let code = worker.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", worker.log());
    assert!(
        started.elapsed() < SLOW,
        "stopped without waiting for the slow request"
    );
    let run = store.runs("c0", 1).unwrap().remove(0);
    assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
    assert!(run.finished_at.is_some());
    assert_eq!(
        store.watermark("c0").unwrap(),
        None,
        "no watermark from a cancelled run"
    );
    assert!(store.leases().unwrap().is_empty(), "leases released");
    let log = worker.log();
    assert!(log.contains("SIGTERM"), "{log}");
}
