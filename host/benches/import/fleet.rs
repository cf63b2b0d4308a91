//! The fleet scenario: `--fleet-connectors` connectors, each against its own simulated org (one
//! `okta-sim` process per org, with its own rate-limit windows, as Okta's budgets are per org),
//! run by `host worker` processes sharing one PostgreSQL store (fsync on). For each
//! configuration (`--fleet-workers 1,2`: that many workers, each `--concurrency
//! --fleet-concurrency`) the wall time from the workers' start until every connector has one
//! successful run, against the sum of the connectors' rate-limit minima and against that sum
//! divided by the imports allowed at once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::measure::{self, Running};
use crate::pg::PgServer;
use crate::sim::{self, Sim};
use crate::{Error, Opts, Paths, workdir};

/// Keep this much memory available while starting simulators.
const MEMORY_HEADROOM_MIB: u64 = 3 * 1024;

/// The results of every configuration.
#[derive(Debug, Serialize)]
pub struct Fleet {
    pub connectors: usize,
    pub size: String,
    pub concurrency: usize,
    /// Every org is the same (seed 7), so every connector has the same minimum.
    pub minimum_per_connector_s: f64,
    /// Peak RSS of one simulator process after its import, MiB (max over the orgs).
    pub sim_rss_mib: f64,
    pub configs: Vec<FleetRun>,
    pub notes: Vec<String>,
}

/// One configuration's measurements.
#[derive(Debug, Serialize)]
pub struct FleetRun {
    pub workers: usize,
    /// Imports allowed at once, all workers together.
    pub slots: usize,
    /// From the workers' start to the last connector's first successful run finishing (or to
    /// the timeout, when not every connector succeeded: see `succeeded`).
    pub wall_s: f64,
    /// Every connector succeeded before `--fleet-timeout-s`.
    pub complete: bool,
    pub succeeded: usize,
    /// Runs that did not succeed (failed, cancelled, still running at the end).
    pub other_runs: u64,
    pub sum_minimum_s: f64,
    /// `sum_minimum_s / slots`.
    pub ideal_s: f64,
    /// Mean and longest wall time of one run (the store's started_at → finished_at).
    pub run_mean_s: f64,
    pub run_max_s: f64,
    pub requests: u64,
    pub throttled: u64,
    pub objects_stored: u64,
    pub worker_cpu_s: Vec<f64>,
    pub worker_rss_mib: Vec<f64>,
    pub server_cpu_s: f64,
    pub sim_cpu_s: f64,
    /// Peak connections to the store's database, per worker (by `application_name`).
    pub peak_connections: Vec<u64>,
    pub peak_connections_total: u64,
    pub store_mib: f64,
    /// `/proc/loadavg` before and after, and the 1-minute load's range while it ran.
    pub loadavg_before: String,
    pub loadavg_after: String,
    pub load_range: (f64, f64),
    pub mem_available_min_mib: u64,
}

/// Runs every configuration of `--fleet-workers`.
///
/// # Errors
/// A simulator, the store or a worker failed, or memory ran short while starting simulators.
pub fn run(opts: &Opts, paths: &Paths, pg: &PgServer) -> Result<Fleet, Error> {
    let size = opts.fleet_size;
    let dir = workdir(paths, &format!("fleet-{}", size.name()))?;
    let spec = crate::rate_spec(opts, size);
    eprintln!(
        "import-bench: fleet: starting {} okta-sim processes ({})",
        opts.fleet_connectors,
        spec.args().join(" ")
    );
    let mut sims = Vec::with_capacity(opts.fleet_connectors);
    for i in 0..opts.fleet_connectors {
        let available = mem_available_mib();
        if available < MEMORY_HEADROOM_MIB {
            return Err(format!(
                "fleet: only {available} MiB available after {i} simulators; run fewer \
                 (--fleet-connectors)"
            )
            .into());
        }
        let simdir = dir.join(format!("sim-{i}"));
        std::fs::create_dir_all(&simdir)?;
        sims.push(Sim::start(&paths.bin("okta-sim"), &spec, &simdir)?);
    }
    let bundle = ca_bundle(&dir, &sims)?;
    write_connectors(&dir, paths, opts, &sims)?;
    let mut configs = Vec::new();
    for &workers in &opts.fleet_workers {
        configs.push(one_config(opts, paths, pg, &dir, &bundle, &sims, workers)?);
    }
    let stats = sims.first().map(Sim::stats).transpose()?;
    let minimum_per_connector_s = stats.map_or(f64::NAN, |s| {
        crate::report::minimum(&crate::buckets(&s), opts.share, opts.time_scale).seconds
    });
    let sim_rss_mib = sims
        .iter()
        .map(|s| peak_rss_mib(s.pid()))
        .fold(0.0, f64::max);
    let notes = vec![format!(
        "fleet: {} connectors on {} orgs (one okta-sim each, {:.0} MiB peak RSS per simulator), \
         PostgreSQL fsync {}",
        opts.fleet_connectors,
        size.name(),
        sim_rss_mib,
        if pg.durable() { "on" } else { "off" }
    )];
    Ok(Fleet {
        connectors: opts.fleet_connectors,
        size: size.name().to_owned(),
        concurrency: opts.fleet_concurrency,
        minimum_per_connector_s,
        sim_rss_mib,
        configs,
        notes,
    })
}

/// Every simulator's CA in one PEM file, for `SSL_CERT_FILE` of the workers.
fn ca_bundle(dir: &Path, sims: &[Sim]) -> Result<Option<PathBuf>, Error> {
    let mut pem = String::new();
    for s in sims {
        if let Some(ca) = &s.ca {
            pem.push_str(&std::fs::read_to_string(ca)?);
        }
    }
    if pem.is_empty() {
        return Ok(None);
    }
    let path = dir.join("ca-bundle.pem");
    std::fs::write(&path, pem)?;
    Ok(Some(path))
}

/// `conf.d/cNNN.toml`: one connector per org, the rate-bound scenario's settings, scheduled
/// once a day (so each runs once: a full import, as it has never run).
fn write_connectors(dir: &Path, paths: &Paths, opts: &Opts, sims: &[Sim]) -> Result<(), Error> {
    let confd = dir.join("conf.d");
    std::fs::create_dir_all(&confd)?;
    let lib = paths.bin("libokta_connector.so");
    for (i, sim) in sims.iter().enumerate() {
        let text = format!(
            r#"[connectors.c{i:03}]
library = "{lib}"
config = {{ OrgDomain = "contoso.okta.com", ApiBaseUrl = "{base}", PageSize = 200, GroupPageSize = 1000, MemberPageSize = 1000, MaxConcurrency = {mc}, RateLimitShare = {share:?}, SimulatorTimeScale = {ts:?} }}
auth = {{ Mode = "ApiKey", ApiKey = "secret://bench/okta/token" }}
schedule = {{ every = "24h", full_every = "7d" }}
"#,
            lib = lib.display(),
            base = sim.base,
            mc = opts.max_concurrency,
            share = opts.share,
            ts = opts.time_scale,
        );
        std::fs::write(confd.join(format!("c{i:03}.toml")), text)?;
    }
    Ok(())
}

/// The workers of one configuration, and what the store and the machine showed meanwhile.
struct Watch {
    load: (f64, f64),
    peak: Vec<u64>,
    peak_total: u64,
    mem_min: u64,
    succeeded: usize,
}

fn one_config(
    opts: &Opts,
    paths: &Paths,
    pg: &PgServer,
    dir: &Path,
    bundle: &Option<PathBuf>,
    sims: &[Sim],
    workers: usize,
) -> Result<FleetRun, Error> {
    let db = format!("fleet_w{workers}");
    pg.fresh(&db)?;
    // Rate-limit windows of the previous configuration end; every org starts fresh.
    std::thread::sleep(Duration::from_secs_f64(61.0 / opts.time_scale));
    for s in sims {
        s.reset_stats()?;
    }
    let sim_cpu0: f64 = sims.iter().map(Sim::cpu_s).sum();
    let server_cpu0 = pg.cpu_s();
    let loadavg_before = loadavg();
    eprintln!(
        "import-bench: fleet: {} connectors, {workers} worker(s) × --concurrency {} (load {loadavg_before})",
        sims.len(),
        opts.fleet_concurrency
    );
    let mut running = Vec::new();
    let started = SystemTime::now();
    for w in 0..workers {
        running.push(start_worker(opts, paths, pg, dir, bundle, &db, w)?);
    }
    let watch = watch(opts, pg, &db, sims.len(), &running);
    for r in &running {
        r.signal(libc::SIGTERM);
    }
    let measured: Vec<measure::Measured> = running
        .into_iter()
        .map(Running::wait)
        .collect::<Result<_, _>>()?;
    let watch = watch?;
    let loadavg_after = loadavg();
    let server_cpu_s = pg.cpu_s() - server_cpu0;
    let sim_cpu_s = sims.iter().map(Sim::cpu_s).sum::<f64>() - sim_cpu0;
    let (mut sum_minimum_s, mut requests, mut throttled) = (0.0, 0, 0);
    for s in sims {
        let stats = s.stats()?;
        sum_minimum_s +=
            crate::report::minimum(&crate::buckets(&stats), opts.share, opts.time_scale).seconds;
        requests += stats["requests_total"].as_u64().unwrap_or(0);
        throttled += stats["rate_limited"].as_u64().unwrap_or(0)
            + stats["concurrency_limited"].as_u64().unwrap_or(0);
    }
    let q = |sql: &str| -> Result<String, Error> { Ok(pg.psql_in(&db, sql)?.trim().to_owned()) };
    let last_finish: f64 = q(
        "SELECT extract(epoch FROM max(finished_at::timestamptz)) FROM runs \
                              WHERE status = 'succeeded'",
    )?
    .parse()
    .unwrap_or(f64::NAN);
    let start_epoch = started
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs_f64();
    let runs = q(
        "SELECT round(avg(d)::numeric, 2) || '|' || round(max(d)::numeric, 2) FROM \
                  (SELECT extract(epoch FROM finished_at::timestamptz - started_at::timestamptz) \
                  AS d FROM runs WHERE status = 'succeeded') t",
    )?;
    let (mean, max) = runs.split_once('|').unwrap_or(("NaN", "NaN"));
    let other_runs = q("SELECT count(*) FROM runs WHERE status <> 'succeeded'")?
        .parse()
        .unwrap_or(0);
    let objects_stored = q("SELECT count(*) FROM objects")?.parse().unwrap_or(0);
    let store_mib = pg.database_mib(&db);
    pg.drop_database(&db)?;
    let slots = workers * opts.fleet_concurrency;
    let complete = watch.succeeded >= sims.len();
    let run = FleetRun {
        workers,
        slots,
        wall_s: if complete {
            last_finish - start_epoch
        } else {
            opts.fleet_timeout_s as f64
        },
        complete,
        succeeded: watch.succeeded,
        other_runs,
        sum_minimum_s,
        ideal_s: sum_minimum_s / slots as f64,
        run_mean_s: mean.parse().unwrap_or(f64::NAN),
        run_max_s: max.parse().unwrap_or(f64::NAN),
        requests,
        throttled,
        objects_stored,
        worker_cpu_s: measured.iter().map(|m| m.cpu_s).collect(),
        worker_rss_mib: measured.iter().map(measure::Measured::rss_mib).collect(),
        server_cpu_s,
        sim_cpu_s,
        peak_connections: watch.peak,
        peak_connections_total: watch.peak_total,
        store_mib,
        loadavg_before,
        loadavg_after,
        load_range: watch.load,
        mem_available_min_mib: watch.mem_min,
    };
    eprintln!("import-bench: fleet: {}", run.one_line());
    Ok(run)
}

/// Starts worker `w` with its own host.toml (its `application_name` tells its connections
/// apart) beside the shared `conf.d`.
fn start_worker(
    opts: &Opts,
    paths: &Paths,
    pg: &PgServer,
    dir: &Path,
    bundle: &Option<PathBuf>,
    db: &str,
    w: usize,
) -> Result<Running, Error> {
    let store = pg.target_as(db, &format!("worker{w}"));
    let config = dir.join(format!("host-{db}-{w}.toml"));
    std::fs::write(
        &config,
        format!(
            "{}\nconnectors_dir = \"conf.d\"\n\n[secrets]\nbackends = [\"env\"]\n\n[worker]\n\
             lease_ttl = \"30s\"\npoll = \"1s\"\nstop_timeout = \"30s\"\n",
            store.toml
        ),
    )?;
    let mut cmd = Command::new(paths.bin("host"));
    cmd.arg("--config")
        .arg(&config)
        .args(["-q", "worker", "--concurrency"])
        .arg(opts.fleet_concurrency.to_string())
        .current_dir(dir)
        .env("SECRET_BENCH_OKTA_TOKEN", sim::TOKEN)
        .envs(store.env.iter().map(|(k, v)| (k, v)))
        .env_remove("RUST_LOG");
    if let Some(ca) = bundle {
        cmd.env("SSL_CERT_FILE", ca);
    }
    Ok(measure::spawn(
        &mut cmd,
        &dir.join(format!("worker-{db}-{w}.stderr")),
    )?)
}

/// Polls the store every second until every connector has succeeded once (or the
/// timeout), sampling connections, load and memory.
fn watch(
    opts: &Opts,
    pg: &PgServer,
    db: &str,
    n: usize,
    running: &[Running],
) -> Result<Watch, Error> {
    let t0 = Instant::now();
    let mut w = Watch {
        load: (f64::INFINITY, f64::NEG_INFINITY),
        peak: vec![0; running.len()],
        peak_total: 0,
        mem_min: u64::MAX,
        succeeded: 0,
    };
    let count_sql = "SELECT count(DISTINCT connector) FROM runs WHERE status = 'succeeded'";
    let conns_sql = format!(
        "SELECT application_name || '|' || count(*) FROM pg_stat_activity WHERE datname = '{db}' \
         GROUP BY application_name"
    );
    while w.succeeded < n {
        if t0.elapsed() > Duration::from_secs(opts.fleet_timeout_s) {
            // Measured as far as it got: the table says how many succeeded in that time.
            eprintln!(
                "import-bench: fleet: {} of {n} connectors succeeded within {} s",
                w.succeeded, opts.fleet_timeout_s
            );
            break;
        }
        for r in running {
            if !measure::alive(r.pid()) {
                return Err("fleet: a worker exited early (see its stderr file)".into());
            }
        }
        std::thread::sleep(Duration::from_secs(1));
        // Before the first migration the table does not exist: nothing succeeded yet.
        w.succeeded = pg
            .psql_in(db, count_sql)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut total = 0;
        for line in pg.psql(&conns_sql)?.lines() {
            let Some((app, count)) = line.rsplit_once('|') else {
                continue;
            };
            let count: u64 = count.trim().parse().unwrap_or(0);
            total += count;
            if let Some(i) = app
                .strip_prefix("worker")
                .and_then(|i| i.parse::<usize>().ok())
                && let Some(p) = w.peak.get_mut(i)
            {
                *p = (*p).max(count);
            }
        }
        w.peak_total = w.peak_total.max(total);
        let l = measure::load1();
        w.load = (w.load.0.min(l), w.load.1.max(l));
        w.mem_min = w.mem_min.min(mem_available_mib());
    }
    Ok(w)
}

impl FleetRun {
    fn one_line(&self) -> String {
        format!(
            "{} worker(s), {} slots: {:.1} s wall for {} connectors ({:.2}× the sum of minima \
             {:.0} s, {:.2}× sum/slots {:.1} s), runs {:.1} s mean / {:.1} s max, {} other runs, \
             {} 429s, worker CPU {:?} s, server CPU {:.1} s, sims CPU {:.1} s, peak connections \
             {:?} (total {}), load {:.1}–{:.1}",
            self.workers,
            self.slots,
            self.wall_s,
            self.succeeded,
            self.wall_s / self.sum_minimum_s,
            self.sum_minimum_s,
            self.wall_s / self.ideal_s,
            self.ideal_s,
            self.run_mean_s,
            self.run_max_s,
            self.other_runs,
            self.throttled,
            self.worker_cpu_s,
            self.server_cpu_s,
            self.sim_cpu_s,
            self.peak_connections,
            self.peak_connections_total,
            self.load_range.0,
            self.load_range.1
        )
    }
}

impl Fleet {
    /// The fleet table.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "### Fleet: {} connectors on {}-sized orgs, `host worker --concurrency {}` on one \
             PostgreSQL store\n\nEvery org alike; one connector's rate-limit minimum {:.1} s. \
             Wall: from the workers' start to the last connector's first successful run.\n\n\
             | workers | slots | wall s | sum of minima s | wall ÷ sum | sum ÷ slots s | wall ÷ (sum ÷ slots) | run s mean / max | succeeded | other runs | 429s | worker CPU s | worker peak RSS MiB | server CPU s | sims CPU s | (worker + server) CPU ms per connector | peak connections per worker (total) | store MiB | load range | loadavg before → after |\n\
             |---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|---:|---:|---:|---|---:|---|---|\n",
            self.connectors, self.size, self.concurrency, self.minimum_per_connector_s
        );
        for r in &self.configs {
            let list = |v: &[f64], d: usize| {
                v.iter()
                    .map(|x| format!("{x:.d$}"))
                    .collect::<Vec<_>>()
                    .join(" + ")
            };
            let worker_cpu: f64 = r.worker_cpu_s.iter().sum();
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.0} | {:.3} | {:.1} | {:.2} | {:.1} / {:.1} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.0} | {} ({}) | {:.0} | {:.1}–{:.1} | {} → {} |",
                r.workers,
                r.slots,
                r.wall_s,
                r.sum_minimum_s,
                r.wall_s / r.sum_minimum_s,
                r.ideal_s,
                r.wall_s / r.ideal_s,
                r.run_mean_s,
                r.run_max_s,
                r.succeeded,
                r.other_runs,
                r.throttled,
                list(&r.worker_cpu_s, 1),
                list(&r.worker_rss_mib, 0),
                r.server_cpu_s,
                r.sim_cpu_s,
                (worker_cpu + r.server_cpu_s) * 1e3 / self.connectors.max(1) as f64,
                r.peak_connections
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" + "),
                r.peak_connections_total,
                r.store_mib,
                r.load_range.0,
                r.load_range.1,
                r.loadavg_before,
                r.loadavg_after
            );
        }
        s.push('\n');
        s
    }
}

/// `MemAvailable` from /proc/meminfo, MiB.
fn mem_available_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// The first three fields of /proc/loadavg (1, 5 and 15 minutes).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running process's peak RSS (`VmHWM`), MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
