//! The writes of an import run, as the runner asks for them: one call per batch of upserts, and
//! one call for the final transaction of a successful run.
//!
//! These two operations (with [`Store::begin_run`] and [`Store::finish_run_unsuccessful`]) are
//! the whole write surface the runner uses, so another backend or a writer thread that takes
//! batches off a channel only has to provide them.

use std::collections::{BTreeMap, BTreeSet};

use connector_api::{Object, Scope};

use super::{Result, RunEnd, RunError, RunStatus, Store, UpsertOutcome};

/// The run a write belongs to.
#[derive(Debug, Clone, Copy)]
pub struct RunKey<'a> {
    /// The connector's name.
    pub connector: &'a str,
    /// The run record's id.
    pub run_id: i64,
}

/// What a successful run asks its final transaction to delete.
#[derive(Debug, Clone, Copy)]
pub struct FinalDeletes<'a> {
    /// Explicit deletes, as (type, external id).
    pub objects: &'a BTreeSet<(String, String)>,
    /// Completed scopes: their stored objects the run did not emit are removed.
    pub scopes: &'a [Scope],
}

/// What the final transaction deleted among the objects stored before the run, per type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletions {
    /// Removed by explicit deletes (an object the run created and deleted is not counted).
    pub deleted: BTreeMap<String, u64>,
    /// Removed because a completed scope did not contain them.
    pub removed: BTreeMap<String, u64>,
}

impl Deletions {
    /// Explicit and scope deletes together, per type.
    pub fn per_type(&self) -> BTreeMap<String, u64> {
        let mut all = self.deleted.clone();
        for (t, n) in &self.removed {
            *all.entry(t.clone()).or_default() += n;
        }
        all
    }
}

/// How the final transaction ends, decided once its deletes are known.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Store the watermark (`None` removes a stored one), mark the run succeeded, commit.
    Commit {
        /// The run's end, as written to its record.
        end: RunEnd,
        /// The new watermark.
        watermark: Option<String>,
    },
    /// Roll the deletes back and close the run as failed; the watermark is kept.
    Rollback {
        /// The run's end, as written to its record.
        end: RunEnd,
        /// Why.
        error: RunError,
    },
}

impl Store {
    /// Stores one batch of upserts emitted by `run`, in one transaction; returns what each
    /// did, in order. On error nothing of the batch is stored.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn write_upserts(
        &mut self,
        run: RunKey<'_>,
        objects: &[Object],
        at: &str,
    ) -> Result<Vec<UpsertOutcome>> {
        let tx = self.begin()?;
        let outcomes = objects
            .iter()
            .map(|object| tx.upsert_object(run.connector, run.run_id, object, at))
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// The final transaction of a successful run: applies `deletes`, asks `decide` how to end
    /// given what they deleted, then either stores the watermark and marks the run succeeded
    /// and commits — all at once — or rolls back and closes the run as failed, keeping the
    /// watermark.
    ///
    /// # Errors
    /// SQLite failed; nothing of the transaction was committed.
    pub fn finish_import(
        &mut self,
        run: RunKey<'_>,
        deletes: FinalDeletes<'_>,
        at: &str,
        decide: impl FnOnce(&Deletions) -> Verdict,
    ) -> Result<()> {
        let tx = self.begin()?;
        let mut done = Deletions::default();
        for (object_type, external_id) in deletes.objects {
            if tx.delete_object(run.connector, object_type, external_id, run.run_id)? {
                *done.deleted.entry(object_type.clone()).or_default() += 1;
            }
        }
        for scope in deletes.scopes {
            let n = tx.delete_unseen(run.connector, scope, run.run_id)?;
            if n > 0 {
                *done
                    .removed
                    .entry(scope.object_type.as_str().to_owned())
                    .or_default() += n;
            }
        }
        match decide(&done) {
            Verdict::Commit { end, watermark } => {
                let watermark = watermark.as_deref();
                tx.set_watermark_from_run(run.connector, watermark, run.run_id, at)?;
                tx.finish_run_succeeded(run.run_id, &end, watermark, at)?;
                tx.commit()?;
            }
            Verdict::Rollback { end, error } => {
                tx.rollback()?;
                self.finish_run_unsuccessful(run.run_id, RunStatus::Failed, &end, &error, at)?;
            }
        }
        Ok(())
    }
}
