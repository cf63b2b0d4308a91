//! `host schedule <name> --every 15m --full-every 7d`: periodic delta runs plus a periodic full
//! run, until Ctrl-C.
//!
//! Each run loads the connector afresh and resolves its secrets again (so a rotated token is
//! picked up, and plaintext never outlives a run). Ctrl-C while waiting stops at once (exit 0);
//! Ctrl-C during a run cancels it, records it as cancelled, and stops (exit 130). A failed run
//! (including a tripped mass-delete guard) is recorded and the schedule goes on: the failure is
//! logged as an error for monitoring, and `host runs` shows it.

use std::ops::ControlFlow;

use chrono::DateTime;
use connector_api::{CancellationToken, ImportMode};

use super::{App, Outcome, cancel_on_ctrl_c};
use crate::config::ConnectorConfig;
use crate::error::{ExitCode, HostError};
use crate::output;
use crate::plugin;
use crate::runner::ModeChoice;
use crate::scheduler::{self, History, Schedule};
use crate::store::Store;

/// Arguments of `schedule`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name in host.toml.
    pub name: String,
    /// Time between runs (e.g. 90s, 15m, 1h).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub every: chrono::Duration,
    /// Run a full import (hard-delete detection) once the last successful one is this old.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub full_every: chrono::Duration,
    /// Stop after this many runs (for tests and one-off catch-ups).
    #[arg(long)]
    pub max_runs: Option<u64>,
}

fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    scheduler::parse_duration(s)
}

/// Runs `schedule`.
///
/// # Errors
/// Configuration or the store failed; connector failures are recorded and do not stop it.
pub async fn run(app: &App, args: Args) -> Outcome {
    let config = app.config.connector(&args.name)?;
    app.warn_literal_credentials();
    let schedule = Schedule {
        every: args.every,
        full_every: args.full_every,
    };
    let mut store = app.open_store()?;
    let cancel = CancellationToken::new();
    let _ctrl_c = cancel_on_ctrl_c(cancel.clone());
    let mut runs = 0u64;
    let mut last_code = ExitCode::Success;
    tracing::info!(
        connector = %args.name,
        every = %args.every,
        full_every = %args.full_every,
        "schedule started; Ctrl-C stops it"
    );
    loop {
        if args.max_runs.is_some_and(|max| runs >= max) {
            return Ok(last_code);
        }
        let now = app.clock.now();
        let slot = scheduler::next_slot(&schedule, &history(&store, &args.name)?, now);
        tracing::info!(connector = %args.name, "next: {slot}");
        let wait = (slot.at - now).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => {
                tracing::info!("schedule stopped");
                return Ok(ExitCode::Success);
            }
        }
        runs += 1;
        match run_slot(app, config, &mut store, slot.mode, &cancel, schedule.every).await? {
            ControlFlow::Continue(code) => last_code = code,
            ControlFlow::Break(code) => return Ok(code),
        }
    }
}

/// Loads the connector afresh and runs one import. `Break` ends the schedule with its code;
/// `Continue` carries the code of a run that was recorded or could not start.
async fn run_slot(
    app: &App,
    config: &ConnectorConfig,
    store: &mut Store,
    mode: ModeChoice,
    cancel: &CancellationToken,
    every: chrono::Duration,
) -> Result<ControlFlow<ExitCode, ExitCode>, HostError> {
    let loaded = match plugin::load(config, &app.config.secrets.chain()) {
        Ok(l) => l,
        Err(e @ (HostError::Secret(_) | HostError::Connector { .. })) => {
            // Transient for a schedule (a keyring not unlocked yet, a library being
            // replaced): log, wait for the next slot.
            tracing::error!("cannot start the run: {e}");
            sleep_or_stop(cancel, every).await;
            if cancel.is_cancelled() {
                return Ok(ControlFlow::Break(ExitCode::Success));
            }
            return Ok(ControlFlow::Continue(e.exit_code()));
        }
        Err(e) => return Err(e),
    };
    let options = app.run_options(mode, false);
    let report = app
        .import(store, &config.name, &loaded, &options, cancel)
        .await;
    // The connector (and the only copy of its resolved secrets) goes away with the run.
    drop(loaded);
    let report = report?;
    if app.json {
        output::json_line(&report);
    } else {
        output::print(&output::run_report(&report));
    }
    let code = report.exit_code();
    if code == ExitCode::Cancelled {
        return Ok(ControlFlow::Break(ExitCode::Cancelled));
    }
    if code != ExitCode::Success {
        tracing::error!(
            connector = %config.name,
            run = report.run.id,
            "scheduled run did not succeed: {}",
            report.run.error.as_ref().map(|e| e.message.as_str()).unwrap_or("unknown")
        );
    }
    Ok(ControlFlow::Continue(code))
}

async fn sleep_or_stop(cancel: &CancellationToken, every: chrono::Duration) {
    tokio::select! {
        () = tokio::time::sleep(every.to_std().unwrap_or_default()) => {}
        () = cancel.cancelled() => {}
    }
}

fn history(store: &Store, name: &str) -> Result<History, HostError> {
    let parse = |s: Option<String>| {
        s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.to_utc())
    };
    let last_run_started = parse(
        store
            .runs(name, 1)?
            .into_iter()
            .next()
            .map(|r| r.started_at),
    );
    let last_full_success = parse(store.last_success_started(name, ImportMode::Full)?);
    Ok(History {
        last_run_started,
        last_full_success,
    })
}
