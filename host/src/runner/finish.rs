//! Classifying a run's end: the connector's outcome becomes a failed or cancelled run record
//! (the watermark kept, nothing deleted), or a successful run's final transaction (deletes,
//! the guard, the watermark and the run record, committed together or not at all).

use std::collections::{BTreeMap, BTreeSet};

use connector_api::{ErrorKind, ImportMode, ImportOutcome, Scope, Skipped};

use super::drive::{Driven, Received};
use super::{GUARD_ERROR_KIND, Opened, RunEnv, RunOptions};
use crate::clock::format_ts;
use crate::error::HostError;
use crate::guard::{self, GuardInput, GuardTrip};
use crate::store::{
    DeleteWhere, Deletions, FinalDeletes, RunEnd, RunError, RunKey, RunStatus, Store, StoreError,
    TypeCounts, Verdict,
};

/// Steps 3 and 4: records how the run ended; returns what the guard found.
pub(super) fn record(
    store: &mut Store,
    opened: &Opened<'_>,
    driven: Driven,
    options: &RunOptions,
    env: &RunEnv,
) -> Result<Vec<GuardTrip>, HostError> {
    let Driven {
        result,
        received,
        events,
    } = driven;
    let Received {
        counts,
        pending_deletes,
        completed,
        by_reference,
        failure,
        rejected,
        ..
    } = received;
    let end = RunEnd {
        counts,
        events,
        ..RunEnd::default()
    };
    match classify(result, failure, rejected) {
        Err(error) => {
            record_unsuccessful(store, opened.run, &end, &error, env)?;
            Ok(Vec::new())
        }
        Ok(outcome) => {
            let at = format_ts(env.clock.now());
            finish_success(
                store,
                opened,
                Success {
                    outcome,
                    pending_deletes,
                    completed,
                    by_reference,
                    end,
                },
                options,
                &at,
            )
        }
    }
}

/// The outcome of a run that may succeed, or the error it is recorded with.
fn classify(
    result: connector_api::Result<ImportOutcome>,
    failure: Option<StoreError>,
    rejected: bool,
) -> Result<ImportOutcome, RunError> {
    match (result, failure) {
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
    }
}

/// Step 3: closes a failed or cancelled run; the watermark is untouched, nothing is deleted.
fn record_unsuccessful(
    store: &mut Store,
    run: RunKey<'_>,
    end: &RunEnd,
    error: &RunError,
    env: &RunEnv,
) -> Result<(), HostError> {
    let status = if env.cancel.is_cancelled() || error.kind == ErrorKind::Cancelled.as_str() {
        RunStatus::Cancelled
    } else {
        RunStatus::Failed
    };
    let at = format_ts(env.clock.now());
    store.finish_run_unsuccessful(run.run_id, status, end, error, &at)?;
    tracing::warn!(connector = run.connector, run = run.run_id, %status, error = %error.message, "run did not succeed; the watermark was kept");
    Ok(())
}

/// What a successful connector run hands to the final transaction.
struct Success {
    outcome: ImportOutcome,
    pending_deletes: BTreeSet<(String, String)>,
    completed: BTreeSet<Scope>,
    by_reference: Vec<DeleteWhere>,
    end: RunEnd,
}

/// Step 4: deletes, the guard, the watermark and the run record in one transaction.
fn finish_success(
    store: &mut Store,
    opened: &Opened<'_>,
    success: Success,
    options: &RunOptions,
    at: &str,
) -> Result<Vec<GuardTrip>, HostError> {
    let Success {
        outcome,
        pending_deletes,
        completed,
        by_reference,
        mut end,
    } = success;
    let (scopes, notes) = effective_scopes(opened.mode, completed, &outcome.skipped);
    end.notes.extend(notes);
    end.stats = outcome.stats;
    end.skipped = outcome.skipped;
    let watermark = outcome.watermark.map(|w| w.as_str().to_owned());
    let deletes = FinalDeletes {
        objects: &pending_deletes,
        scopes: &scopes,
        by_reference: &by_reference,
    };
    let mut trips = Vec::new();
    store.finish_import(opened.run, deletes, at, |done| {
        add_deletions(&mut end.counts, done);
        let input = GuardInput {
            stored_before: opened.stored_before.clone(),
            would_delete: done.per_type(),
            emitted: end
                .counts
                .iter()
                .map(|(t, c)| (t.clone(), c.upserts))
                .collect(),
        };
        trips = guard::evaluate(&options.guard, opened.mode, &input);
        verdict(
            opened.run,
            end,
            &trips,
            options.allow_mass_delete,
            watermark,
        )
    })?;
    Ok(trips)
}

/// Adds what the final transaction deleted to the run's counts.
fn add_deletions(counts: &mut BTreeMap<String, TypeCounts>, done: &Deletions) {
    for (t, n) in &done.deleted {
        counts.entry(t.clone()).or_default().deleted += n;
    }
    for (t, n) in &done.removed {
        counts.entry(t.clone()).or_default().removed += n;
    }
}

/// Commit, or roll back when the guard tripped and the operator did not allow it.
fn verdict(
    run: RunKey<'_>,
    mut end: RunEnd,
    trips: &[GuardTrip],
    allow_mass_delete: bool,
    watermark: Option<String>,
) -> Verdict {
    if !trips.is_empty() && !allow_mass_delete {
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
        tracing::error!(
            connector = run.connector,
            run = run.run_id,
            "{}",
            error.message
        );
        return Verdict::Rollback { end, error };
    }
    for trip in trips {
        let note = format!("mass-delete guard overridden with --allow-mass-delete: {trip}");
        tracing::warn!(connector = run.connector, run = run.run_id, "{note}");
        end.notes.push(note);
    }
    Verdict::Commit { end, watermark }
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
