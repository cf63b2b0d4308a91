//! `host`: the reference engine's command line. See `docs/host.md`.

#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use host::clock::SystemClock;
use host::commands::{self, App};
use host::config::{Config, DEFAULT_CONFIG};
use host::error::ExitCode;
use host::logging::{self, LogOptions};
use host::progress;

const AFTER_HELP: &str = "\
Examples:
  host demo                                    simulator + Okta connector, no account needed
  printf %s \"$TOKEN\" | host secret set secret://okta/contoso/apitoken
  host check okta                              token and connectivity
  host import okta                             delta if a watermark is stored, else full
  host import okta --mode full                 full run: detects hard deletes
  host runs okta                               history, outcomes, errors
  host objects okta --type User --format jsonl
  host schedule okta --every 15m --full-every 7d
  host worker --concurrency 8 --metrics 127.0.0.1:9464   every connector's schedule, leased
  host snapshot okta --out backup/2026-11-23     IGA objects as JSON files + manifest

Exit codes: 0 ok · 1 failure · 2 usage · 3 configuration or secret · 4 run failed ·
5 mass-delete guard tripped · 130 cancelled. Logs go to stderr (RUST_LOG=debug for more);
results to stdout. Reference: docs/host.md";

/// Runs identity connectors: imports into a local SQLite store, with watermarks, hard-delete
/// detection, mass-delete guards and secrets kept out of files.
#[derive(Debug, Parser)]
#[command(name = "host", version, after_help = AFTER_HELP, max_term_width = 100)]
struct Cli {
    /// Configuration file [default: ./host.toml; missing is fine for commands that need no connector]
    #[arg(long, global = true, value_name = "FILE", env = "HOST_CONFIG")]
    config: Option<PathBuf>,
    /// Use this store instead of `store` from the configuration
    #[arg(long, global = true, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Machine-readable output on stdout (JSON; JSON lines for `objects`)
    #[arg(long, global = true)]
    json: bool,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Warnings and errors only
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Logs as JSON lines on stderr (for log shippers)
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one import into the store (Ctrl-C cancels it and records it as cancelled)
    Import(commands::import::Args),
    /// Test that a connector can reach its source with its credentials
    Check(commands::check::Args),
    /// List connectors with their last run and watermark
    Connectors(commands::connectors::Args),
    /// Show the run history of a connector
    Runs(commands::runs::Args),
    /// List stored objects
    Objects(commands::objects::Args),
    /// Show, set (validated by the connector) or clear a connector's watermark
    Watermark(commands::watermark::Args),
    /// Store a secret from stdin, or check where a reference resolves from
    #[command(subcommand)]
    Secret(commands::secret::Command),
    /// Run imports periodically: deltas, plus a full run when the last one is old enough
    Schedule(commands::schedule::Args),
    /// Simulated Okta org + the Okta connector: full, changes, delta, full — in seconds
    Demo(commands::demo::Args),
    /// Write an Okta connector's Identity Governance objects to JSON files (read-only)
    Snapshot(commands::snapshot::Args),
    /// Run the schedules of every connector in host.toml under leases, until SIGTERM
    Worker(commands::worker::Args),
    /// Send changes (a JSON-lines file) to a connector that can write back; per-change outcomes
    Export(commands::export::Args),
}

fn main() {
    let cli = Cli::parse();
    logging::init(LogOptions {
        verbose: cli.verbose,
        quiet: cli.quiet,
        json: cli.log_json,
        terse: matches!(cli.command, Command::Demo(_)),
    });
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!("command failed: {e:?}");
            progress::suspended(|| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "error: {e}");
            });
            e.exit_code()
        }
    };
    std::process::exit(code.code());
}

fn run(cli: Cli) -> Result<ExitCode, host::HostError> {
    let (config_path, required) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let config = Config::load(&config_path, required)?;
    let app = App {
        config,
        store_override: cli.store,
        json: cli.json,
        progress: progress::wanted(cli.json, cli.quiet),
        clock: Arc::new(SystemClock),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| host::HostError::Io(format!("starting the async runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Import(args) => commands::import::run(&app, args).await,
            Command::Check(args) => commands::check::run(&app, args).await,
            Command::Connectors(args) => commands::connectors::run(&app, args).await,
            Command::Runs(args) => commands::runs::run(&app, args).await,
            Command::Objects(args) => commands::objects::run(&app, args).await,
            Command::Watermark(args) => commands::watermark::run(&app, args).await,
            Command::Secret(command) => commands::secret::run(&app, command).await,
            Command::Schedule(args) => commands::schedule::run(&app, args).await,
            Command::Demo(args) => commands::demo::run(&app, args).await,
            Command::Snapshot(args) => commands::snapshot::run(&app, args).await,
            Command::Export(args) => commands::export::run(&app, args).await,
            Command::Worker(args) => commands::worker::run(&app, args).await,
        }
    })
}
