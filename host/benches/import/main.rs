//! Import benchmarks: the host + Okta connector against the simulator, next to the rate-limit
//! minimum and to the tools people use today. Not part of `cargo test`.
//!
//! ```sh
//! bench/run.sh                                   # cargo build --release, then everything
//! bench/run.sh --sizes s --scenarios rate,cpu    # options go to this harness
//! bench/run.sh --baseline 88b677b --sizes s,l    # and that revision's host, side by side
//! cargo bench -p host --bench import -- --help   # (needs the release binaries built)
//! ```
//!
//! Every tool runs as its own process (`target/release/host`, `python …`), measured with
//! `wait4(2)` (wall time, CPU seconds, peak RSS), against a simulator that is a separate process
//! too (`target/release/okta-sim`); request counts and 429s come from the simulator's
//! `/_sim/stats`, reset before every run. Results go to `bench-out/results.{md,json}`;
//! `docs/benchmarks.md` explains the settings and the figures.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod churn;
mod compare;
mod delta_sources;
mod fleet;
mod measure;
mod peers;
mod pg;
mod report;
mod sim;
mod stores;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Parser, ValueEnum};
use serde_json::Value;

use crate::measure::Measured;
use crate::pg::{PgServer, StoreKind, StoreTarget};
use crate::report::Row;
use crate::sim::{Sim, SimSpec};

type Error = Box<dyn std::error::Error>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Size {
    /// 10k users, 1k groups, 100k memberships (+ Everyone).
    S,
    /// 100k users, 10k groups, 1M memberships (+ Everyone).
    L,
    /// 1k users, 100 groups, 10k memberships: a smoke test of the harness.
    Xs,
}

impl Size {
    fn name(self) -> &'static str {
        match self {
            Size::S => "S",
            Size::L => "L",
            Size::Xs => "XS",
        }
    }

    fn counts(self) -> (usize, usize, usize) {
        match self {
            Size::S => (10_000, 1_000, 100_000),
            Size::L => (100_000, 10_000, 1_000_000),
            Size::Xs => (1_000, 100, 10_000),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Full import under Enterprise rate limits and latency, against the minimum.
    Rate,
    /// Full import with rate limits and latency off: objects per second.
    Cpu,
    /// 1% churn after the rate-bound full run, then a delta run.
    Delta,
    /// After `delta`: users created and hard-deleted and the largest groups changed, then a
    /// delta run per `DeltaSource` and one with nothing changed (`delta_sources.rs`).
    Sources,
    /// The Okta Python SDK and Airbyte's source-okta on the rate-bound simulator.
    Peers,
    /// `--fleet-connectors` connectors, each against its own rate-bound simulated org of
    /// `--fleet-size`, run by `host worker` processes on one PostgreSQL store (`fleet.rs`).
    Fleet,
}

/// Import benchmarks (see docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(name = "import-bench")]
struct Opts {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Org sizes.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["s", "l"])]
    sizes: Vec<Size>,
    /// Scenarios.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["rate", "cpu", "delta", "sources", "peers"])]
    scenarios: Vec<Scenario>,
    /// Sizes the rate-bound scenarios (rate, delta, peers) run on; default: every size.
    #[arg(long, value_enum, value_delimiter = ',')]
    rate_sizes: Option<Vec<Size>>,
    /// Sizes the peers run on (they take ~10× longer than the host; L costs about an hour).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["s"])]
    peer_sizes: Vec<Size>,
    /// Which peers.
    #[arg(long, value_delimiter = ',', default_values = ["okta-sdk", "airbyte"])]
    peers: Vec<String>,
    /// Simulator time scale for the rate-bound runs (sim seconds per real second).
    #[arg(long, default_value_t = 10.0)]
    time_scale: f64,
    /// Latency per API response, real ms.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// Latency per object in a list page, real µs.
    #[arg(long, default_value_t = 400)]
    latency_per_object_us: u64,
    /// The connector's MaxConcurrency.
    #[arg(long, default_value_t = 16)]
    max_concurrency: u32,
    /// The connector's RateLimitShare.
    #[arg(long, default_value_t = 0.5)]
    share: f64,
    /// CPU-bound runs per size (the best and the median are reported).
    #[arg(long, default_value_t = 3)]
    cpu_repeats: u32,
    /// Also record a `perf` profile of one CPU-bound host run per size.
    #[arg(long)]
    perf: bool,
    /// Serve the CPU-bound runs over https too (default: plain http).
    #[arg(long)]
    cpu_tls: bool,
    /// The stores the full imports (rate- and CPU-bound) write to, interleaved; PostgreSQL is
    /// a private server on this machine started with fsync on.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["sqlite"])]
    stores: Vec<StoreKind>,
    /// Fleet: connectors, each against its own simulated org (one okta-sim process each).
    #[arg(long, default_value_t = 100)]
    fleet_connectors: usize,
    /// Fleet: the org size of every connector.
    #[arg(long, value_enum, default_value = "s")]
    fleet_size: Size,
    /// Fleet: the configurations to run, as numbers of `host worker` processes.
    #[arg(long, value_delimiter = ',', default_values = ["1", "2"])]
    fleet_workers: Vec<usize>,
    /// Fleet: `--concurrency` of every worker.
    #[arg(long, default_value_t = 8)]
    fleet_concurrency: usize,
    /// Fleet: stop a configuration after this many seconds (and report how many connectors
    /// succeeded by then).
    #[arg(long, default_value_t = 900)]
    fleet_timeout_s: u64,
    /// Output directory.
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// A baseline build to run side by side with the current one: a directory holding its
    /// `host` and `libokta_connector.so` (`bench/run.sh --baseline <revision>` builds it). Its
    /// full imports run interleaved with the current ones (baseline, current, baseline, …)
    /// against the same simulator.
    #[arg(long)]
    baseline_bins: Option<PathBuf>,
    /// What to call the baseline in the tables (e.g. its revision).
    #[arg(long, default_value = "baseline")]
    baseline_label: String,
}

/// One build of the host and the connector under test.
#[derive(Debug, Clone)]
struct Tool {
    /// The tool column of the tables: `host`, or the baseline's label.
    label: String,
    /// The directory with its `host` and `libokta_connector.so`.
    bins: PathBuf,
}

impl Tool {
    fn is_current(&self) -> bool {
        self.label == CURRENT
    }
}

/// The tool label of the build under test.
const CURRENT: &str = "host";

/// Where things are.
#[derive(Debug)]
struct Paths {
    repo: PathBuf,
    bins: PathBuf,
    out: PathBuf,
    /// The builds under test: the baseline (if any) first, then the current one.
    tools: Vec<Tool>,
}

impl Paths {
    fn bin(&self, name: &str) -> PathBuf {
        self.bins.join(name)
    }
}

fn main() -> std::process::ExitCode {
    let opts = Opts::parse();
    match run(&opts) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("import-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(opts: &Opts) -> Result<(), Error> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace root")?
        .to_path_buf();
    // target/<profile>/deps/import-<hash> → target/<profile>
    let exe = std::env::current_exe()?;
    let bins = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?
        .to_path_buf();
    let out = if opts.out.is_absolute() {
        opts.out.clone()
    } else {
        repo.join(&opts.out)
    };
    std::fs::create_dir_all(&out)?;
    let mut tools = Vec::new();
    if let Some(dir) = &opts.baseline_bins {
        check_binaries(dir, &["host", "libokta_connector.so"])?;
        tools.push(Tool {
            label: opts.baseline_label.clone(),
            bins: dir.clone(),
        });
    }
    tools.push(Tool {
        label: CURRENT.to_owned(),
        bins: bins.clone(),
    });
    let paths = Paths {
        repo,
        bins,
        out,
        tools,
    };

    check_binaries(&paths.bins, &["host", "okta-sim", "libokta_connector.so"])?;
    let want = |s: Scenario| opts.scenarios.contains(&s);
    if want(Scenario::Peers) {
        for peer in &opts.peers {
            peers::setup_venv(&paths.repo, peer)?;
        }
    }

    let pg = if opts.stores.contains(&StoreKind::Postgres) || want(Scenario::Fleet) {
        eprintln!("import-bench: starting a private PostgreSQL (fsync on)");
        Some(PgServer::start()?)
    } else {
        None
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let baseline = opts
        .baseline_bins
        .as_ref()
        .map(|_| opts.baseline_label.as_str());
    for &size in &opts.sizes {
        let rate_size = opts.rate_sizes.as_ref().is_none_or(|s| s.contains(&size));
        if rate_size && (want(Scenario::Rate) || want(Scenario::Delta) || want(Scenario::Peers)) {
            rate_bound(opts, &paths, pg.as_ref(), size, &mut rows, &mut notes)?;
        }
        if want(Scenario::Cpu) {
            cpu_bound(opts, &paths, pg.as_ref(), size, &mut rows, &mut notes)?;
        }
        // After every size, so that a failure later keeps what was measured.
        report::write(
            &paths.out,
            &rows,
            &notes,
            &machine(),
            &settings(opts),
            baseline,
        )?;
    }
    if let (true, Some(pg)) = (want(Scenario::Fleet), pg.as_ref()) {
        let fleet = fleet::run(opts, &paths, pg)?;
        notes.extend(fleet.notes.iter().cloned());
        report::write_fleet(&paths.out, &fleet)?;
        println!("{}", fleet.markdown());
    }
    println!("{}", report::markdown(&rows, &notes, baseline));
    println!(
        "results: {} and {}",
        paths.out.join("results.md").display(),
        paths.out.join("results.json").display()
    );
    Ok(())
}

/// The release binaries the runs use (`bench/run.sh` builds them first).
fn check_binaries(dir: &Path, names: &[&str]) -> Result<(), Error> {
    for b in names {
        if !dir.join(b).exists() {
            return Err(format!(
                "{} is missing: run bench/run.sh, or `cargo build --release -p host -p fixtures -p okta-connector` first",
                dir.join(b).display()
            )
            .into());
        }
    }
    Ok(())
}

fn settings(opts: &Opts) -> Value {
    serde_json::json!({
        "time_scale": opts.time_scale,
        "latency_ms": opts.latency_ms,
        "latency_per_object_us": opts.latency_per_object_us,
        "max_concurrency": opts.max_concurrency,
        "rate_limit_share": opts.share,
        "cpu_repeats": opts.cpu_repeats,
        "stores": opts.stores.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "baseline": opts.baseline_bins.as_ref().map(|_| &opts.baseline_label),
    })
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    serde_json::json!({
        "cpu_model": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    })
}

/// The work directory suffix of a run into `kind` (none for SQLite, as before stores).
fn suffix(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::Sqlite => "",
        StoreKind::Postgres => "-pg",
    }
}

/// A fresh working directory for one run.
fn workdir(paths: &Paths, name: &str) -> Result<PathBuf, Error> {
    let d = paths.out.join("runs").join(name);
    if d.exists() {
        std::fs::remove_dir_all(&d)?;
    }
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// The connector settings of a benchmark run.
#[derive(Clone)]
struct HostSetup<'a> {
    sim: &'a Sim,
    time_scale: f64,
    max_concurrency: u32,
    share: f64,
    store: StoreTarget,
}

/// Writes `host.toml` for `setup` into `dir`.
fn host_toml(tool: &Tool, dir: &Path, setup: &HostSetup<'_>) -> Result<PathBuf, Error> {
    let lib = tool.bins.join("libokta_connector.so");
    let toml = format!(
        r#"{store}

[secrets]
backends = ["env"]

[connectors.okta]
library = "{lib}"
config = {{ OrgDomain = "contoso.okta.com", ApiBaseUrl = "{base}", PageSize = 200, GroupPageSize = 1000, MemberPageSize = 1000, MaxConcurrency = {mc}, RateLimitShare = {share:?}, SimulatorTimeScale = {ts:?} }}
auth = {{ Mode = "ApiKey", ApiKey = "secret://bench/okta/token" }}
"#,
        store = setup.store.toml,
        lib = lib.display(),
        base = setup.sim.base,
        mc = setup.max_concurrency,
        share = setup.share,
        ts = setup.time_scale,
    );
    let path = dir.join("host.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// One `host import` run, measured.
struct HostRun {
    m: Measured,
    report: Value,
    /// Objects the connector emitted (upserts and deletes of every type).
    objects: u64,
}

fn run_host(
    tool: &Tool,
    dir: &Path,
    setup: &HostSetup<'_>,
    mode: &str,
    prefix: &[&str],
) -> Result<HostRun, Error> {
    let config = dir.join("host.toml");
    if !config.exists() {
        host_toml(tool, dir, setup)?;
    }
    let host = tool.bins.join("host");
    let mut cmd = if let Some((first, rest)) = prefix.split_first() {
        let mut c = Command::new(first);
        c.args(rest).arg(&host);
        c
    } else {
        Command::new(&host)
    };
    cmd.arg("--config")
        .arg(&config)
        .args(["--json", "-q", "import", "okta", "--mode", mode])
        .current_dir(dir)
        .env("SECRET_BENCH_OKTA_TOKEN", sim::TOKEN)
        .envs(setup.store.env.iter().map(|(k, v)| (k, v)))
        .env_remove("RUST_LOG");
    if let Some(ca) = &setup.sim.ca {
        // This process only: the connector's platform verifier reads the trust store from here.
        cmd.env("SSL_CERT_FILE", ca);
    }
    let m = measure::run(&mut cmd, &dir.join(format!("host-{mode}.stderr")))?;
    let report: Value = serde_json::from_str(&m.stdout).map_err(|e| {
        format!(
            "host import ({mode}) printed no JSON report (exit {:?}, see {}): {e}",
            m.code,
            dir.display()
        )
    })?;
    let status = report["run"]["status"].as_str().unwrap_or("?");
    if status != "succeeded" {
        return Err(format!(
            "host import ({mode}) did not succeed: {status}: {}",
            report["run"]["error"]
        )
        .into());
    }
    let objects = report["run"]["stats"]
        .as_object()
        .map(|s| {
            s.iter()
                .filter(|(k, _)| k.ends_with(".upserts") || k.ends_with(".deletes"))
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
        .unwrap_or(0);
    Ok(HostRun { m, report, objects })
}

/// One measured full import by one build, against the setup's simulator, into its store.
struct FullRun<'a> {
    tool: &'a Tool,
    setup: &'a HostSetup<'a>,
    size: Size,
    scenario: &'a str,
    /// The PostgreSQL server, when the setup's store is on it (its CPU is measured).
    pg: Option<&'a PgServer>,
}

impl FullRun<'_> {
    /// Runs it in `dir` (`note` is added to the progress line); returns its row (with the
    /// simulator's CPU, and the store's) and the host's JSON report.
    fn measure(&self, dir: &Path, note: &str) -> Result<(Row, Value), Error> {
        let sim = self.setup.sim;
        let store = &self.setup.store;
        let pg = self.pg.filter(|_| store.kind == StoreKind::Postgres);
        let sim_cpu0 = sim.cpu_s();
        let pg_cpu0 = pg.map(PgServer::cpu_s);
        eprintln!(
            "import-bench: {}: {} {} into {}{note}",
            self.size.name(),
            self.tool.label,
            self.scenario,
            store.kind.name()
        );
        let run = run_host(self.tool, dir, self.setup, "full", &[])?;
        let stats = sim.stats()?;
        let server_cpu = pg.zip(pg_cpu0).map(|(pg, c0)| pg.cpu_s() - c0);
        let size_mib = match (pg, &store.database) {
            (Some(pg), Some(db)) => pg.database_mib(db),
            _ => pg::sqlite_mib(dir),
        };
        let row = Row::new(
            self.size.name(),
            self.scenario,
            &self.tool.label,
            &run.m,
            &stats,
            run.objects,
        )
        .with_sim_cpu(sim.cpu_s() - sim_cpu0)
        .with_store(store.kind.name(), server_cpu, size_mib);
        Ok((row, run.report))
    }
}

/// The store targets of one run of every `--stores` kind, interleaved by the callers; a
/// PostgreSQL target is a fresh database named after `run`.
fn store_targets(opts: &Opts, pg: Option<&PgServer>, run: &str) -> Result<Vec<StoreTarget>, Error> {
    let mut targets = Vec::new();
    for kind in &opts.stores {
        match (kind, pg) {
            (StoreKind::Sqlite, _) => targets.push(StoreTarget::sqlite()),
            (StoreKind::Postgres, Some(pg)) => {
                let name: String = run
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                targets.push(pg.fresh(&format!("bench_{name}"))?);
            }
            (StoreKind::Postgres, None) => return Err("no PostgreSQL server was started".into()),
        }
    }
    Ok(targets)
}

/// Drops a run's PostgreSQL database (S is about 100 MiB; the disk is shared).
fn drop_store(pg: Option<&PgServer>, store: &StoreTarget) -> Result<(), Error> {
    if let (Some(pg), Some(db)) = (pg, &store.database) {
        pg.drop_database(db)?;
    }
    Ok(())
}

fn rate_spec(opts: &Opts, size: Size) -> SimSpec {
    let (users, groups, memberships) = size.counts();
    SimSpec {
        users,
        groups,
        memberships,
        limits: true,
        time_scale: opts.time_scale,
        latency_ms: opts.latency_ms,
        latency_per_object_us: opts.latency_per_object_us,
        tls: true,
    }
}

fn rate_bound(
    opts: &Opts,
    paths: &Paths,
    pg: Option<&PgServer>,
    size: Size,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let want = |s: Scenario| opts.scenarios.contains(&s);
    let spec = rate_spec(opts, size);
    let simdir = workdir(paths, &format!("{}-sim-rate", size.name()))?;
    eprintln!(
        "import-bench: {}: starting okta-sim {}",
        size.name(),
        spec.args().join(" ")
    );
    let sim = Sim::start(&paths.bin("okta-sim"), &spec, &simdir)?;
    let setup = HostSetup {
        sim: &sim,
        time_scale: opts.time_scale,
        max_concurrency: opts.max_concurrency,
        share: opts.share,
        store: StoreTarget::sqlite(),
    };

    // 1. The host's full run (the baseline's first, when there is one), into every store.
    let mut current = None;
    for tool in &paths.tools {
        for store in store_targets(opts, pg, &format!("{}_{}_rate", size.name(), tool.label))? {
            let kind = store.kind;
            let dir = workdir(
                paths,
                &format!("{}-{}-rate{}", size.name(), tool.label, suffix(kind)),
            )?;
            sim.quiesce()?;
            let setup = HostSetup {
                store: store.clone(),
                ..setup.clone()
            };
            let run = FullRun {
                tool,
                setup: &setup,
                size,
                scenario: "rate-bound full",
                pg,
            };
            let (row, _) = run.measure(&dir, "")?;
            let row = row.with_minimum(&sim.stats()?, opts.share, opts.time_scale);
            eprintln!("import-bench: {}", row.one_line());
            drop_store(pg, &store)?;
            if tool.is_current() && kind == StoreKind::Sqlite {
                current = Some((dir, row.requests, row.wall_s, row.objects));
            }
            rows.push(row);
        }
    }
    let Some((dir, full_requests, full_wall, full_objects)) = current else {
        if want(Scenario::Delta) || want(Scenario::Peers) {
            return Err("the delta and peers scenarios need sqlite in --stores".into());
        }
        return Ok(());
    };

    // 2. Peers on the same simulator, the same org (before the churn) and the same limits.
    if want(Scenario::Peers) && opts.peer_sizes.contains(&size) {
        for peer in &opts.peers {
            let pdir = workdir(paths, &format!("{}-{peer}", size.name()))?;
            sim.quiesce()?;
            let sim_cpu0 = sim.cpu_s();
            eprintln!("import-bench: {}: peer {peer}", size.name());
            let (m, objects) = peers::run(peer, &paths.repo, &sim, &pdir)?;
            let stats = sim.stats()?;
            let row = Row::new(size.name(), "rate-bound full", peer, &m, &stats, objects)
                .with_sim_cpu(sim.cpu_s() - sim_cpu0)
                // Peers keep no headroom for other integrations: their minimum is at share 1.
                .with_minimum(&stats, 1.0, opts.time_scale)
                .versus(full_wall);
            eprintln!("import-bench: {}", row.one_line());
            if row.objects != full_objects {
                notes.push(format!(
                    "{}: {peer} read {} objects, the host {full_objects}: not the same org",
                    size.name(),
                    row.objects
                ));
            }
            rows.push(row);
        }
    }

    // 3. 1% churn, then a delta run from the full run's watermark.
    if want(Scenario::Delta) {
        let churned = churn::apply(&sim, &dir.join("store.db"), 0.01)?;
        notes.push(format!(
            "{}: churn before the delta run: {churned}",
            size.name()
        ));
        sim.quiesce()?;
        let sim_cpu0 = sim.cpu_s();
        eprintln!("import-bench: {}: host delta import", size.name());
        let current = paths.tools.last().ok_or("no current build")?;
        let delta = run_host(current, &dir, &setup, "delta", &[])?;
        let stats = sim.stats()?;
        let row = Row::new(
            size.name(),
            "delta (1% churn)",
            "host",
            &delta.m,
            &stats,
            delta.objects,
        )
        .with_sim_cpu(sim.cpu_s() - sim_cpu0)
        .with_minimum(&stats, opts.share, opts.time_scale)
        .share_of_full(full_requests, full_wall);
        eprintln!("import-bench: {}", row.one_line());
        rows.push(row);
    }
    // 4. Both delta sources after users created and hard-deleted (needs the delta's store).
    if want(Scenario::Delta) && want(Scenario::Sources) {
        let full = (full_requests, full_wall);
        delta_sources::run(paths, &dir, &setup, size, full, rows, notes)?;
    }
    Ok(())
}

fn cpu_bound(
    opts: &Opts,
    paths: &Paths,
    pg: Option<&PgServer>,
    size: Size,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let (users, groups, memberships) = size.counts();
    let spec = SimSpec {
        users,
        groups,
        memberships,
        limits: false,
        time_scale: 1.0,
        latency_ms: 0,
        latency_per_object_us: 0,
        tls: opts.cpu_tls,
    };
    let simdir = workdir(paths, &format!("{}-sim-cpu", size.name()))?;
    eprintln!(
        "import-bench: {}: starting okta-sim {}",
        size.name(),
        spec.args().join(" ")
    );
    let sim = Sim::start(&paths.bin("okta-sim"), &spec, &simdir)?;
    let setup = HostSetup {
        sim: &sim,
        time_scale: 1.0,
        max_concurrency: opts.max_concurrency,
        share: opts.share,
        store: StoreTarget::sqlite(),
    };
    // Interleaved (baseline, current, baseline, …; every store in turn) so that the machine's
    // noise hits all of them.
    for i in 0..opts.cpu_repeats.max(1) {
        for tool in &paths.tools {
            let run_name = format!("{}_{}_cpu_{i}", size.name(), tool.label);
            for store in store_targets(opts, pg, &run_name)? {
                let kind = store.kind;
                let dir = workdir(
                    paths,
                    &format!("{}-{}-cpu-{i}{}", size.name(), tool.label, suffix(kind)),
                )?;
                sim.reset_stats()?;
                let setup = HostSetup {
                    store: store.clone(),
                    ..setup.clone()
                };
                let run = FullRun {
                    tool,
                    setup: &setup,
                    size,
                    scenario: "cpu-bound full",
                    pg,
                };
                let repeat = format!(" ({}/{})", i + 1, opts.cpu_repeats);
                let (row, report) = run.measure(&dir, &repeat)?;
                let row = row.with_breakdown(&report);
                eprintln!("import-bench: {}", row.one_line());
                rows.push(row);
                drop_store(pg, &store)?;
                // Keep only the last store of each build: L stores are large.
                if i + 1 < opts.cpu_repeats {
                    std::fs::remove_dir_all(&dir)?;
                }
            }
        }
    }
    for tool in &paths.tools {
        let mut walls: Vec<f64> = rows
            .iter()
            .filter(|r| r.size == size.name() && r.scenario == "cpu-bound full")
            .filter(|r| r.tool == tool.label && r.store == "sqlite")
            .map(|r| r.wall_s)
            .collect();
        walls.sort_by(f64::total_cmp);
        notes.push(format!(
            "{} cpu-bound, {} (sqlite): {} runs, wall best {:.2} s, median {:.2} s",
            size.name(),
            tool.label,
            walls.len(),
            walls.first().copied().unwrap_or(f64::NAN),
            walls.get(walls.len() / 2).copied().unwrap_or(f64::NAN),
        ));
    }

    if opts.perf {
        let dir = workdir(paths, &format!("{}-host-perf", size.name()))?;
        let data = dir.join("perf.data");
        let data_s = data.display().to_string();
        sim.reset_stats()?;
        eprintln!(
            "import-bench: {}: perf record of a CPU-bound run",
            size.name()
        );
        let current = paths.tools.last().ok_or("no current build")?;
        let run = run_host(
            current,
            &dir,
            &setup,
            "full",
            &["perf", "record", "-F", "999", "-g", "-o", &data_s, "--"],
        );
        match run {
            Ok(_) => {
                let report = Command::new("perf")
                    .args([
                        "report",
                        "--stdio",
                        "--no-children",
                        "--sort",
                        "dso,sym",
                        "-i",
                    ])
                    .arg(&data)
                    .args(["--percent-limit", "0.5"])
                    .output()?;
                let text = String::from_utf8_lossy(&report.stdout).to_string();
                std::fs::write(paths.out.join(format!("perf-{}.txt", size.name())), &text)?;
                for (sort, file) in [
                    ("dso", "dso"),
                    ("comm", "threads"),
                    ("comm,dso", "threads-dso"),
                ] {
                    let by = Command::new("perf")
                        .args(["report", "--stdio", "--no-children", "--sort", sort, "-i"])
                        .arg(&data)
                        .output()?;
                    std::fs::write(
                        paths.out.join(format!("perf-{}-{file}.txt", size.name())),
                        &by.stdout,
                    )?;
                }
                notes.push(format!(
                    "{}: perf profile of the host process in bench-out/perf-{}.txt (by symbol), perf-{}-dso.txt (by library), perf-{}-threads.txt (by thread)",
                    size.name(),
                    size.name(),
                    size.name(),
                    size.name()
                ));
                std::fs::remove_file(&data).ok();
            }
            Err(e) => notes.push(format!("{}: perf run failed: {e}", size.name())),
        }
    }
    Ok(())
}

/// Requests per bucket from `/_sim/stats`.
pub fn buckets(stats: &Value) -> BTreeMap<String, u64> {
    stats["requests_by_bucket"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}
