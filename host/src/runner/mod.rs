//! One import run, from the run record to the final transaction.
//!
//! 1. Choose the mode (`auto`: delta when a watermark is stored and the connector supports it),
//!    close runs a crashed host left `running`, count what is stored, open the run record.
//! 2. Run the connector's `import` with a [`ChangeSink`](connector_api::ChangeSink) that
//!    queues each batch's upserts for the store's writer thread (re-delivering them is
//!    harmless) and remembers explicit deletes and completed scopes for the end; once the
//!    connector returns, everything queued is stored, or the writer's error fails the run.
//! 3. If the connector fails or the run is cancelled: record the run with its error. The
//!    watermark is untouched and nothing is deleted, so the next run re-reads what this one
//!    missed.
//! 4. If it succeeds: in ONE transaction apply the explicit deletes, delete what each completed
//!    scope did not contain, evaluate the [mass-delete guard](crate::guard), and then either
//!    roll back (guard tripped: the run is recorded as failed, watermark kept) or store the new
//!    watermark and mark the run succeeded, and commit.
//!
//! Scope completion (see the `# Contract` of [`Connector`]): `ScopeComplete(Scope { type,
//! within: None })` deletes the stored objects of that type this run did not emit;
//! `within: Some(s)` does the same among the objects whose scope is `s`. The host also protects
//! itself from a connector that breaks the contract: a whole-type completion in a delta run, or
//! a completion of a scope the connector reported as skipped, is ignored and noted on the run.
//!
//! [`run_import`] opens the run (step 1), then hands over to two halves: `drive` runs the
//! connector (the change loop, the batches, cancellation; step 2) and `finish` classifies what
//! came back and records it (steps 3 and 4). Both write only through the store's import
//! operations (batches of upserts through the store's
//! [writer thread](crate::store::writer), then [`Store::finish_import`]).

mod drive;
mod finish;
mod lines;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_api::{
    CancellationToken, ChangeKind, Connector, ErrorKind, ImportMode, ImportRequest,
};
use serde::Serialize;

use crate::clock::{Clock, format_ts};
use crate::error::{ExitCode, HostError};
use crate::guard::{GuardPolicy, GuardTrip};
use crate::progress::Progress;
use crate::store::{RunKey, RunRecord, RunStatus, Store};

pub use finish::effective_scopes;

/// The error kind recorded when the guard stops a run.
pub const GUARD_ERROR_KIND: &str = "mass_delete_guard";

/// Which kind of run to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModeChoice {
    /// Read everything; completed scopes detect hard deletes.
    Full,
    /// Read what changed since the stored watermark.
    Delta,
    /// Delta when a watermark is stored and the connector supports it, else full.
    Auto,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Full, delta or auto.
    pub mode: ModeChoice,
    /// Commit deletes even when the guard trips (noted on the run).
    pub allow_mass_delete: bool,
    /// The guard's thresholds.
    pub guard: GuardPolicy,
    /// How long a cancelled connector may take to stop before the run is abandoned.
    pub cancel_grace: Duration,
    /// The lease holder a worker runs the connector under (`None` for a one-off run); see
    /// [`Backend::begin_run`](crate::store::Backend::begin_run).
    pub lease: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            mode: ModeChoice::Auto,
            allow_mass_delete: false,
            guard: GuardPolicy::default(),
            cancel_grace: Duration::from_secs(30),
            lease: None,
        }
    }
}

/// What to run against.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The connector's name in host.toml (and in the store).
    pub name: &'a str,
    /// The library it was loaded from, for the `connectors` table.
    pub library: &'a str,
    /// The instance.
    pub connector: &'a dyn Connector,
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

/// The outside world of a run: cancellation, progress display, time.
#[derive(Clone)]
pub struct RunEnv {
    /// Cancelled by Ctrl-C (or a test).
    pub cancel: CancellationToken,
    /// Bars, on a terminal.
    pub progress: Option<Arc<Progress>>,
    /// Timestamps.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RunEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEnv")
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

/// The result of a run that was recorded (whatever its outcome).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run as stored.
    pub run: RunRecord,
    /// Why the guard stopped it (or, with `--allow-mass-delete`, what it let through).
    pub guard: Vec<GuardTrip>,
    /// Wall time.
    pub elapsed_ms: u64,
    /// Objects stored for the connector after the run, per type.
    pub stored: BTreeMap<String, u64>,
    /// With `--mode auto`: why a delta run was replaced by this full run (the delta run is
    /// recorded as failed before it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fell_back_to_full: Option<String>,
}

impl RunReport {
    /// The process exit code for this outcome.
    pub fn exit_code(&self) -> ExitCode {
        match self.run.status {
            RunStatus::Succeeded => ExitCode::Success,
            RunStatus::Cancelled => ExitCode::Cancelled,
            RunStatus::Failed
                if self
                    .run
                    .error
                    .as_ref()
                    .is_some_and(|e| e.kind == GUARD_ERROR_KIND) =>
            {
                ExitCode::GuardTripped
            }
            RunStatus::Failed | RunStatus::Running => ExitCode::RunFailed,
        }
    }
}

/// The change kinds beyond connector-api 1.0's that this host stores (declared in every
/// [`ImportRequest`]).
pub const ACCEPTED_CHANGES: [ChangeKind; 1] = [ChangeKind::DeleteWhere];

/// Picks the mode and the watermark to hand the connector.
///
/// # Errors
/// [`HostError::Usage`] for a delta run without a watermark or against a connector without
/// delta support.
pub fn choose_mode(
    choice: ModeChoice,
    watermark: Option<&str>,
    supports_delta: bool,
    name: &str,
) -> Result<ImportRequest, HostError> {
    match choice {
        ModeChoice::Full => Ok(ImportRequest::full()),
        ModeChoice::Delta if !supports_delta => Err(HostError::Usage(format!(
            "connector `{name}` does not support delta runs; use --mode full"
        ))),
        ModeChoice::Delta => match watermark {
            Some(w) => Ok(ImportRequest::delta(connector_api::Watermark::new(w))),
            None => Err(HostError::Usage(format!(
                "connector `{name}` has no watermark yet: run a full import first (--mode full), \
                 or set one with `host watermark {name} --set …`"
            ))),
        },
        ModeChoice::Auto => match watermark {
            Some(w) if supports_delta => Ok(ImportRequest::delta(connector_api::Watermark::new(w))),
            _ => Ok(ImportRequest::full()),
        },
    }
}

/// Runs one import of `target` into `store` and records it.
///
/// Returns `Ok` once the run is recorded, whatever its outcome (see [`RunReport::exit_code`]);
/// `Err` only when the run could not be started or recorded at all.
///
/// # Errors
/// The mode cannot be honoured, or the store failed.
pub async fn run_import(
    store: &mut Store,
    target: Target<'_>,
    options: &RunOptions,
    env: &RunEnv,
) -> Result<RunReport, HostError> {
    let report = run_once(store, target, options, env).await?;
    let expired = report
        .run
        .error
        .as_ref()
        .filter(|e| e.kind == ErrorKind::WatermarkExpired.as_str());
    match expired {
        Some(error) if options.mode == ModeChoice::Auto && report.run.mode == "delta" => {
            let why = format!(
                "delta run {} could not continue from the stored watermark ({}); running a full import instead",
                report.run.id, error.message
            );
            tracing::warn!(connector = target.name, run = report.run.id, "{why}");
            let full = RunOptions {
                mode: ModeChoice::Full,
                ..options.clone()
            };
            let mut report = run_once(store, target, &full, env).await?;
            report.fell_back_to_full = Some(why);
            Ok(report)
        }
        _ => Ok(report),
    }
}

/// One run in the mode `options` asks for.
async fn run_once(
    store: &mut Store,
    target: Target<'_>,
    options: &RunOptions,
    env: &RunEnv,
) -> Result<RunReport, HostError> {
    let started = Instant::now();
    let (opened, request) = open_run(store, target, options, env.clock.as_ref())?;
    let driven = drive::drive(store, target, opened.run, request, options, env).await;
    let trips = finish::record(store, &opened, driven, options, env)?;
    let run_id = opened.run.run_id;
    let run = store.run(run_id)?.ok_or_else(|| {
        HostError::Io(format!(
            "run {run_id} disappeared from {}",
            store.location()
        ))
    })?;
    let stored = store.count_by_type(target.name)?;
    tracing::info!(connector = target.name, run = run_id, status = %run.status, "run finished");
    Ok(RunReport {
        run,
        guard: trips,
        elapsed_ms: started.elapsed().as_millis() as u64,
        stored,
        fell_back_to_full: None,
    })
}

/// A run record just opened, with what its end needs to know of its start.
#[derive(Debug)]
struct Opened<'a> {
    run: RunKey<'a>,
    mode: ImportMode,
    /// Objects stored per type before the run (the guard's base).
    stored_before: BTreeMap<String, u64>,
}

/// Step 1: records the connector, chooses the mode, counts what is stored, opens the run.
fn open_run<'a>(
    store: &mut Store,
    target: Target<'a>,
    options: &RunOptions,
    clock: &dyn Clock,
) -> Result<(Opened<'a>, ImportRequest), HostError> {
    let name = target.name;
    let descriptor = target.connector.descriptor();
    let now = format_ts(clock.now());
    store.ensure_connector(name, target.library, Some(&descriptor), &now)?;
    let stored_watermark = store.watermark(name)?.map(|w| w.value);
    let request = choose_mode(
        options.mode,
        stored_watermark.as_deref(),
        descriptor.capabilities.delta,
        name,
    )?
    .with_accepts(ACCEPTED_CHANGES);
    let mode = request.mode;
    let stored_before = store.count_by_type(name)?;
    let run_id = store.begin_run(
        name,
        mode,
        stored_watermark.as_deref(),
        &now,
        options.lease.as_deref(),
    )?;
    tracing::info!(connector = name, run = run_id, %mode, "run started");
    let run = RunKey {
        connector: name,
        run_id,
    };
    Ok((
        Opened {
            run,
            mode,
            stored_before,
        },
        request,
    ))
}
