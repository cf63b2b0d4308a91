//! One import run, from the run record to the final transaction.
//!
//! 1. Choose the mode (`auto`: delta when a watermark is stored and the connector supports it),
//!    close runs a crashed host left `running`, count what is stored, open the run record.
//! 2. Run the connector's `import` with a [`ChangeSink`] that writes each batch in its own
//!    transaction: upserts are applied at once (re-delivering them is harmless), explicit
//!    deletes and completed scopes are remembered for the end.
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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_api::{
    CancellationToken, Change, ChangeSink, Connector, ConnectorError, Context, ErrorKind,
    ImportMode, ImportOutcome, ImportRequest, Scope, Skipped,
};
use serde::Serialize;

use crate::clock::{Clock, format_ts};
use crate::error::{ExitCode, HostError};
use crate::guard::{self, GuardInput, GuardPolicy, GuardTrip};
use crate::logging::ConnectorLogger;
use crate::progress::Progress;
use crate::store::{
    RunEnd, RunError, RunRecord, RunStatus, Store, StoreError, TypeCounts, UpsertOutcome,
};

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
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            mode: ModeChoice::Auto,
            allow_mass_delete: false,
            guard: GuardPolicy::default(),
            cancel_grace: Duration::from_secs(30),
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
    let started = Instant::now();
    let name = target.name;
    let clock = env.clock.as_ref();
    let descriptor = target.connector.descriptor();
    let now = format_ts(clock.now());
    store.ensure_connector(name, target.library, Some(&descriptor), &now)?;
    let stored_watermark = store.watermark(name)?.map(|w| w.value);
    let request = choose_mode(
        options.mode,
        stored_watermark.as_deref(),
        descriptor.capabilities.delta,
        name,
    )?;
    let mode = request.mode;
    let stored_before = store.count_by_type(name)?;
    let run_id = store.begin_run(name, mode, stored_watermark.as_deref(), &now)?;
    tracing::info!(connector = name, run = run_id, %mode, "run started");

    let logger = ConnectorLogger::new(name, env.progress.clone());
    let ctx = Context::new(env.cancel.clone(), Arc::new(logger.clone()));
    let mut sink = StoreSink {
        store,
        connector: name,
        run_id,
        clock,
        cancel: env.cancel.clone(),
        progress: env.progress.clone(),
        counts: BTreeMap::new(),
        pending_deletes: BTreeSet::new(),
        completed: BTreeSet::new(),
        failure: None,
        rejected: false,
    };

    let grace = options.cancel_grace;
    let result = {
        let import = target.connector.import(&ctx, request, &mut sink);
        let watchdog = async {
            env.cancel.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = import => result,
            () = watchdog => Err(ConnectorError::cancelled(format!(
                "the connector did not stop within {} s of cancellation; the run was abandoned",
                grace.as_secs()
            ))),
        }
    };

    let StoreSink {
        store,
        counts,
        pending_deletes,
        completed,
        failure,
        rejected,
        ..
    } = sink;
    let mut end = RunEnd {
        counts,
        events: logger.event_counts(),
        ..RunEnd::default()
    };

    let outcome = match (result, failure) {
        (_, Some(store_error)) => Err(RunError {
            kind: "store".into(),
            message: format!("the host could not store a batch: {store_error}"),
        }),
        (Ok(_), None) if rejected => Err(RunError {
            kind: ErrorKind::Internal.as_str().into(),
            message: "the connector reported success after the host rejected a batch; nothing \
                      was deleted and the watermark was kept"
                .into(),
        }),
        (Ok(outcome), None) => Ok(outcome),
        (Err(e), None) => Err(RunError {
            kind: e.kind().as_str().into(),
            message: e.to_string(),
        }),
    };

    let mut trips = Vec::new();
    match outcome {
        Err(error) => {
            let status = if env.cancel.is_cancelled() || error.kind == ErrorKind::Cancelled.as_str()
            {
                RunStatus::Cancelled
            } else {
                RunStatus::Failed
            };
            let at = format_ts(clock.now());
            store.finish_run_unsuccessful(run_id, status, &end, &error, &at)?;
            tracing::warn!(connector = name, run = run_id, %status, error = %error.message, "run did not succeed; the watermark was kept");
        }
        Ok(outcome) => {
            trips = finish_success(
                store,
                FinishInput {
                    name,
                    run_id,
                    mode,
                    outcome,
                    pending_deletes,
                    completed,
                    stored_before,
                    options,
                    clock,
                },
                &mut end,
            )?;
        }
    }

    let run = store.run(run_id)?.ok_or_else(|| {
        HostError::Io(format!(
            "run {run_id} disappeared from {}",
            store.path().display()
        ))
    })?;
    let stored = store.count_by_type(name)?;
    tracing::info!(connector = name, run = run_id, status = %run.status, "run finished");
    Ok(RunReport {
        run,
        guard: trips,
        elapsed_ms: started.elapsed().as_millis() as u64,
        stored,
    })
}

struct FinishInput<'a> {
    name: &'a str,
    run_id: i64,
    mode: ImportMode,
    outcome: ImportOutcome,
    pending_deletes: BTreeSet<(String, String)>,
    completed: BTreeSet<Scope>,
    stored_before: BTreeMap<String, u64>,
    options: &'a RunOptions,
    clock: &'a dyn Clock,
}

/// Applies deletes, the guard, the watermark and the run record in one transaction.
fn finish_success(
    store: &mut Store,
    input: FinishInput<'_>,
    end: &mut RunEnd,
) -> Result<Vec<GuardTrip>, HostError> {
    let FinishInput {
        name,
        run_id,
        mode,
        outcome,
        pending_deletes,
        completed,
        stored_before,
        options,
        clock,
    } = input;
    let (scopes, notes) = effective_scopes(mode, completed, &outcome.skipped);
    end.notes.extend(notes);
    end.stats = outcome.stats.clone();
    end.skipped = outcome.skipped.clone();

    let tx = store.begin()?;
    let mut would_delete: BTreeMap<String, u64> = BTreeMap::new();
    for (object_type, external_id) in &pending_deletes {
        if tx.delete_object(name, object_type, external_id, run_id)? {
            *would_delete.entry(object_type.clone()).or_default() += 1;
            end.counts.entry(object_type.clone()).or_default().deleted += 1;
        }
    }
    for scope in &scopes {
        let n = tx.delete_unseen(name, scope, run_id)?;
        if n > 0 {
            let t = scope.object_type.as_str().to_owned();
            *would_delete.entry(t.clone()).or_default() += n;
            end.counts.entry(t).or_default().removed += n;
        }
    }
    let guard_input = GuardInput {
        stored_before,
        would_delete,
        emitted: end
            .counts
            .iter()
            .map(|(t, c)| (t.clone(), c.upserts))
            .collect(),
    };
    let trips = guard::evaluate(&options.guard, mode, &guard_input);
    let at = format_ts(clock.now());

    if !trips.is_empty() && !options.allow_mass_delete {
        tx.rollback()?;
        for c in end.counts.values_mut() {
            c.deleted = 0;
            c.removed = 0;
        }
        let reasons: Vec<String> = trips.iter().map(ToString::to_string).collect();
        let error = RunError {
            kind: GUARD_ERROR_KIND.into(),
            message: format!(
                "mass-delete guard: {}. Nothing was deleted and the watermark was kept. Check \
                 the source system and the connector's configuration and permissions; if these \
                 deletions are expected, rerun with --allow-mass-delete",
                reasons.join("; ")
            ),
        };
        tracing::error!(connector = name, run = run_id, "{}", error.message);
        store.finish_run_unsuccessful(run_id, RunStatus::Failed, end, &error, &at)?;
        return Ok(trips);
    }
    for trip in &trips {
        let note = format!("mass-delete guard overridden with --allow-mass-delete: {trip}");
        tracing::warn!(connector = name, run = run_id, "{note}");
        end.notes.push(note);
    }
    let watermark = outcome.watermark.as_ref().map(|w| w.as_str());
    tx.set_watermark_from_run(name, watermark, run_id, &at)?;
    tx.finish_run_succeeded(run_id, end, watermark, &at)?;
    tx.commit()?;
    Ok(trips)
}

/// The completed scopes the host will act on, and notes about those it ignores.
pub fn effective_scopes(
    mode: ImportMode,
    completed: BTreeSet<Scope>,
    skipped: &[Skipped],
) -> (Vec<Scope>, Vec<String>) {
    let mut scopes = Vec::new();
    let mut notes = Vec::new();
    for scope in completed {
        if mode == ImportMode::Delta && scope.within.is_none() {
            notes.push(format!(
                "ignored completion of the whole type {scope} in a delta run (a delta run cannot \
                 vouch for every object of a type); no hard deletes were detected for it"
            ));
            continue;
        }
        let conflicting = skipped.iter().find(|s| {
            s.scope.object_type == scope.object_type
                && (s.scope.within.is_none() || scope.within.is_none() || s.scope == scope)
        });
        if let Some(s) = conflicting {
            notes.push(format!(
                "ignored completion of {scope}: the connector skipped {} ({})",
                s.scope, s.reason
            ));
            continue;
        }
        scopes.push(scope);
    }
    (scopes, notes)
}

/// The host's [`ChangeSink`]: one transaction per batch.
struct StoreSink<'a> {
    store: &'a mut Store,
    connector: &'a str,
    run_id: i64,
    clock: &'a dyn Clock,
    cancel: CancellationToken,
    progress: Option<Arc<Progress>>,
    counts: BTreeMap<String, TypeCounts>,
    pending_deletes: BTreeSet<(String, String)>,
    completed: BTreeSet<Scope>,
    failure: Option<StoreError>,
    rejected: bool,
}

impl StoreSink<'_> {
    fn apply(&mut self, changes: Vec<Change>) -> Result<(), StoreError> {
        let at = format_ts(self.clock.now());
        let tx = self.store.begin()?;
        for change in changes {
            match change {
                Change::Upsert(object) => {
                    let key = (
                        object.object_type.as_str().to_owned(),
                        object.external_id.clone(),
                    );
                    // The last change of an object wins: an upsert cancels an earlier delete.
                    self.pending_deletes.remove(&key);
                    let outcome = tx.upsert_object(self.connector, self.run_id, &object, &at)?;
                    let c = self.counts.entry(key.0).or_default();
                    c.upserts += 1;
                    match outcome {
                        UpsertOutcome::Created => c.created += 1,
                        UpsertOutcome::Updated => c.updated += 1,
                        UpsertOutcome::Unchanged => c.unchanged += 1,
                    }
                }
                Change::Delete {
                    object_type,
                    external_id,
                } => {
                    let t = object_type.as_str().to_owned();
                    self.counts.entry(t.clone()).or_default().deletes += 1;
                    self.pending_deletes.insert((t, external_id));
                }
                Change::ScopeComplete(scope) => {
                    self.completed.insert(scope);
                }
                // Refused in `send` before anything of the batch is stored.
                _ => {}
            }
        }
        tx.commit()?;
        if let Some(p) = &self.progress {
            p.stored(&self.counts);
        }
        Ok(())
    }
}

#[async_trait]
impl ChangeSink for StoreSink<'_> {
    async fn send(&mut self, changes: Vec<Change>) -> connector_api::Result<()> {
        if self.cancel.is_cancelled() {
            self.rejected = true;
            return Err(ConnectorError::cancelled(
                "the run was cancelled by the host",
            ));
        }
        if self.failure.is_some() {
            self.rejected = true;
            return Err(ConnectorError::internal(
                "the host's store failed earlier in this run",
            ));
        }
        if let Some(other) = changes.iter().find(|c| {
            !matches!(
                c,
                Change::Upsert(_) | Change::Delete { .. } | Change::ScopeComplete(_)
            )
        }) {
            self.rejected = true;
            return Err(ConnectorError::protocol(format!(
                "the connector sent a `{}` change, which this host does not store",
                other.kind()
            )));
        }
        match self.apply(changes) {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = format!("the host could not store a batch: {e}");
                self.failure = Some(e);
                self.rejected = true;
                Err(ConnectorError::internal(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use connector_api::{Capabilities, CheckReport, Descriptor, Object, ObjectTypeInfo, Watermark};

    use super::*;
    use crate::clock::SystemClock;

    /// A connector that plays back a script of batches, then returns a result.
    struct Scripted {
        batches: Mutex<Vec<Vec<Change>>>,
        result: Mutex<Option<connector_api::Result<ImportOutcome>>>,
        seen: Mutex<Vec<ImportRequest>>,
        delta: bool,
    }

    impl Scripted {
        fn new(batches: Vec<Vec<Change>>, result: connector_api::Result<ImportOutcome>) -> Self {
            Self {
                batches: Mutex::new(batches),
                result: Mutex::new(Some(result)),
                seen: Mutex::new(Vec::new()),
                delta: true,
            }
        }
    }

    fn ok(watermark: &str) -> connector_api::Result<ImportOutcome> {
        Ok(ImportOutcome::new().with_watermark(Some(Watermark::new(watermark))))
    }

    #[async_trait]
    impl Connector for Scripted {
        fn descriptor(&self) -> Descriptor {
            Descriptor::new("scripted", "0.0.0")
                .with_object_type(ObjectTypeInfo::new("User"))
                .with_capabilities(
                    Capabilities::new()
                        .with_delta(self.delta)
                        .with_scope_complete(true),
                )
        }
        async fn check(&self, _ctx: &Context) -> connector_api::Result<CheckReport> {
            Ok(CheckReport::default())
        }
        async fn import(
            &self,
            _ctx: &Context,
            request: ImportRequest,
            sink: &mut dyn ChangeSink,
        ) -> connector_api::Result<ImportOutcome> {
            self.seen.lock().unwrap().push(request);
            let batches = std::mem::take(&mut *self.batches.lock().unwrap());
            for b in batches {
                sink.send(b).await?;
            }
            self.result.lock().unwrap().take().unwrap()
        }
    }

    fn env() -> RunEnv {
        RunEnv {
            cancel: CancellationToken::new(),
            progress: None,
            clock: Arc::new(SystemClock),
        }
    }

    fn users(ids: std::ops::Range<u32>) -> Vec<Change> {
        ids.map(|i| Change::Upsert(Object::new("User", format!("u{i}")).with("n", i)))
            .collect()
    }

    async fn run(store: &mut Store, c: &Scripted, mode: ModeChoice, allow: bool) -> RunReport {
        let options = RunOptions {
            mode,
            allow_mass_delete: allow,
            ..RunOptions::default()
        };
        run_import(
            store,
            Target {
                name: "t",
                library: "in-process",
                connector: c,
            },
            &options,
            &env(),
        )
        .await
        .unwrap()
    }

    fn with_complete(mut changes: Vec<Change>, scope: Scope) -> Vec<Change> {
        changes.push(Change::ScopeComplete(scope));
        changes
    }

    #[tokio::test]
    async fn full_run_stores_objects_and_watermark_in_one_go() {
        let mut store = Store::open_in_memory().unwrap();
        let c = Scripted::new(
            vec![
                users(0..5),
                with_complete(users(5..10), Scope::whole("User")),
            ],
            ok("w1"),
        );
        let report = run(&mut store, &c, ModeChoice::Auto, false).await;
        assert_eq!(report.run.status, RunStatus::Succeeded);
        assert_eq!(report.run.mode, "full", "auto without watermark is full");
        assert_eq!(report.run.counts["User"].created, 10);
        assert_eq!(report.stored["User"], 10);
        assert_eq!(store.watermark("t").unwrap().unwrap().value, "w1");
        assert_eq!(report.run.watermark_after.as_deref(), Some("w1"));
    }

    #[tokio::test]
    async fn auto_uses_the_stored_watermark() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..3)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        let c = Scripted::new(vec![], ok("w2"));
        let report = run(&mut store, &c, ModeChoice::Auto, false).await;
        assert_eq!(report.run.mode, "delta");
        assert_eq!(
            c.seen.lock().unwrap()[0],
            ImportRequest::delta(Watermark::new("w1"))
        );
        assert_eq!(report.run.watermark_before.as_deref(), Some("w1"));
        assert_eq!(store.watermark("t").unwrap().unwrap().value, "w2");
    }

    #[tokio::test]
    async fn failed_run_keeps_watermark_and_deletes_nothing() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..10)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        let c = Scripted::new(
            vec![
                with_complete(users(0..2), Scope::whole("User")),
                vec![Change::delete("User", "u3")],
            ],
            Err(ConnectorError::rate_limited("gave up after 3 retries")),
        );
        let report = run(&mut store, &c, ModeChoice::Full, false).await;
        assert_eq!(report.run.status, RunStatus::Failed);
        assert_eq!(report.exit_code(), ExitCode::RunFailed);
        let err = report.run.error.unwrap();
        assert_eq!(err.kind, "rate_limited");
        assert!(err.message.contains("gave up after 3 retries"));
        assert_eq!(store.watermark("t").unwrap().unwrap().value, "w1");
        assert_eq!(store.count_by_type("t").unwrap()["User"], 10);
        assert_eq!(report.run.watermark_after, None);
    }

    #[tokio::test]
    async fn explicit_delete_is_applied_and_last_change_wins() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..10)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        let c = Scripted::new(
            vec![
                vec![Change::delete("User", "u1"), Change::delete("User", "u2")],
                // u2 comes back in the same run: the upsert wins.
                users(2..3),
            ],
            ok("w2"),
        );
        let report = run(&mut store, &c, ModeChoice::Delta, false).await;
        assert_eq!(report.run.status, RunStatus::Succeeded);
        assert_eq!(report.run.counts["User"].deletes, 2);
        assert_eq!(report.run.counts["User"].deleted, 1);
        assert!(store.object("t", "User", "u1").unwrap().is_none());
        assert!(store.object("t", "User", "u2").unwrap().is_some());
    }

    #[tokio::test]
    async fn completed_scope_removes_unseen_objects() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..10)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        let c = Scripted::new(
            vec![with_complete(users(1..10), Scope::whole("User"))],
            ok("w2"),
        );
        let report = run(&mut store, &c, ModeChoice::Full, false).await;
        assert_eq!(report.run.status, RunStatus::Succeeded);
        assert_eq!(report.run.counts["User"].removed, 1);
        assert!(store.object("t", "User", "u0").unwrap().is_none());
    }

    #[tokio::test]
    async fn guard_trips_rolls_back_and_keeps_the_watermark() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..10)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        // A full run that only sees 7 of 10 users: 30% > 20%.
        let c = || {
            Scripted::new(
                vec![with_complete(users(0..7), Scope::whole("User"))],
                ok("w2"),
            )
        };
        let report = run(&mut store, &c(), ModeChoice::Full, false).await;
        assert_eq!(report.run.status, RunStatus::Failed);
        assert_eq!(report.exit_code(), ExitCode::GuardTripped);
        let err = report.run.error.as_ref().unwrap();
        assert_eq!(err.kind, GUARD_ERROR_KIND);
        assert!(
            err.message
                .contains("would delete 3 of 10 stored User objects"),
            "{}",
            err.message
        );
        assert!(err.message.contains("--allow-mass-delete"));
        assert_eq!(report.run.counts["User"].removed, 0);
        assert_eq!(store.count_by_type("t").unwrap()["User"], 10);
        assert_eq!(store.watermark("t").unwrap().unwrap().value, "w1");

        // The override commits and says so.
        let report = run(&mut store, &c(), ModeChoice::Full, true).await;
        assert_eq!(report.run.status, RunStatus::Succeeded);
        assert_eq!(report.run.counts["User"].removed, 3);
        assert!(
            report.run.notes[0].contains("overridden"),
            "{:?}",
            report.run.notes
        );
        assert_eq!(store.count_by_type("t").unwrap()["User"], 7);
        assert_eq!(store.watermark("t").unwrap().unwrap().value, "w2");
    }

    #[tokio::test]
    async fn empty_full_run_trips_the_guard() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..10)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        let c = Scripted::new(
            vec![vec![Change::ScopeComplete(Scope::whole("User"))]],
            ok("w2"),
        );
        let report = run(&mut store, &c, ModeChoice::Full, false).await;
        assert_eq!(report.exit_code(), ExitCode::GuardTripped);
        assert!(
            report
                .run
                .error
                .unwrap()
                .message
                .contains("returned no objects at all"),
        );
        assert_eq!(store.count_by_type("t").unwrap()["User"], 10);
    }

    #[tokio::test]
    async fn whole_type_completion_in_a_delta_run_is_ignored() {
        let mut store = Store::open_in_memory().unwrap();
        run(
            &mut store,
            &Scripted::new(vec![users(0..10)], ok("w1")),
            ModeChoice::Full,
            false,
        )
        .await;
        let c = Scripted::new(
            vec![with_complete(users(0..1), Scope::whole("User"))],
            ok("w2"),
        );
        let report = run(&mut store, &c, ModeChoice::Delta, false).await;
        assert_eq!(report.run.status, RunStatus::Succeeded);
        assert_eq!(store.count_by_type("t").unwrap()["User"], 10);
        assert!(report.run.notes[0].contains("ignored completion of the whole type User"));
    }

    #[test]
    fn skipped_scopes_are_never_completed() {
        let skipped = vec![Skipped::new(
            Scope::within("GroupMember", "g1"),
            "403",
            ErrorKind::PermissionDenied,
        )];
        let completed = BTreeSet::from([
            Scope::whole("GroupMember"),
            Scope::within("GroupMember", "g1"),
            Scope::within("GroupMember", "g2"),
            Scope::whole("User"),
        ]);
        let (scopes, notes) = effective_scopes(ImportMode::Full, completed, &skipped);
        assert_eq!(
            scopes,
            vec![Scope::within("GroupMember", "g2"), Scope::whole("User")]
        );
        assert_eq!(notes.len(), 2);
    }

    #[tokio::test]
    async fn delta_without_watermark_is_a_usage_error() {
        let mut store = Store::open_in_memory().unwrap();
        let c = Scripted::new(vec![], ok("w"));
        let err = run_import(
            &mut store,
            Target {
                name: "t",
                library: "x",
                connector: &c,
            },
            &RunOptions {
                mode: ModeChoice::Delta,
                ..RunOptions::default()
            },
            &env(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("run a full import first"), "{err}");
        assert!(store.runs("t", 10).unwrap().is_empty(), "no run was opened");
    }

    #[tokio::test]
    async fn cancelled_run_is_recorded_as_cancelled() {
        let mut store = Store::open_in_memory().unwrap();
        let env = env();
        env.cancel.cancel();
        let c = Scripted::new(vec![users(0..3)], ok("w"));
        let report = run_import(
            &mut store,
            Target {
                name: "t",
                library: "x",
                connector: &c,
            },
            &RunOptions::default(),
            &env,
        )
        .await
        .unwrap();
        assert_eq!(report.run.status, RunStatus::Cancelled);
        assert_eq!(report.exit_code(), ExitCode::Cancelled);
        assert!(store.watermark("t").unwrap().is_none());
    }

    #[tokio::test]
    async fn a_connector_ignoring_a_rejected_batch_does_not_succeed() {
        struct Stubborn;
        #[async_trait]
        impl Connector for Stubborn {
            fn descriptor(&self) -> Descriptor {
                Scripted::new(vec![], ok("w")).descriptor()
            }
            async fn check(&self, _ctx: &Context) -> connector_api::Result<CheckReport> {
                Ok(CheckReport::default())
            }
            async fn import(
                &self,
                ctx: &Context,
                _r: ImportRequest,
                sink: &mut dyn ChangeSink,
            ) -> connector_api::Result<ImportOutcome> {
                ctx.cancellation().cancel();
                let _ignored = sink.send(users(0..1)).await;
                ok("w")
            }
        }
        let mut store = Store::open_in_memory().unwrap();
        let report = run_import(
            &mut store,
            Target {
                name: "t",
                library: "x",
                connector: &Stubborn,
            },
            &RunOptions::default(),
            &env(),
        )
        .await
        .unwrap();
        assert_ne!(report.run.status, RunStatus::Succeeded);
        assert!(store.watermark("t").unwrap().is_none());
    }
}
