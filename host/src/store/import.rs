//! The writes of an import run, as the runner asks for them: batches of upserts (from the
//! [writer thread](super::writer), through [`ImportBackend`]), and one call for the final
//! transaction of a successful run.
//!
//! These two operations (with [`SqliteStore::begin_run`] and [`SqliteStore::finish_run_unsuccessful`]) are
//! the whole write surface the runner uses, so another backend only has to provide them.

use std::collections::{BTreeMap, BTreeSet};

use connector_api::Scope;

use super::writer::{ImportBackend, UpsertBatch};
use super::{DeleteWhere, Result, RunEnd, RunError, RunStatus, SqliteStore, UpsertOutcome};

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
    /// Deletes by reference (an attribute equal to a value), counted as explicit deletes.
    pub by_reference: &'a [DeleteWhere],
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
    /// SqliteStore the watermark (`None` removes a stored one), mark the run succeeded, commit.
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

impl ImportBackend for SqliteStore {
    /// Stores `batches` emitted by `run` in one transaction; returns what each upsert did, in
    /// order. On error nothing of them is stored.
    ///
    /// # Errors
    /// SQLite failed.
    fn write_upserts(
        &mut self,
        run: RunKey<'_>,
        batches: &[UpsertBatch],
    ) -> Result<Vec<UpsertOutcome>> {
        let tx = self.begin()?;
        super::runs::ensure_running(&tx.tx, tx.path, run.run_id)?;
        let mut outcomes = Vec::with_capacity(batches.iter().map(UpsertBatch::len).sum());
        {
            let mut upserter = tx.upserter()?;
            for batch in batches {
                for upsert in batch.iter() {
                    outcomes.push(upserter.upsert(run.connector, run.run_id, upsert, &batch.at)?);
                }
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }
}

impl SqliteStore {
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
        super::runs::ensure_running(&tx.tx, tx.path, run.run_id)?;
        let mut done = Deletions::default();
        for (object_type, external_id) in deletes.objects {
            if tx.delete_object(run.connector, object_type, external_id, run.run_id)? {
                *done.deleted.entry(object_type.clone()).or_default() += 1;
            }
        }
        for d in deletes.by_reference {
            let n = tx.delete_where(run.connector, d, run.run_id)?;
            if n > 0 {
                *done.deleted.entry(d.object_type.clone()).or_default() += n;
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

#[cfg(test)]
mod tests {
    use connector_api::{ImportMode, Object};

    use super::*;

    fn batch(objects: Vec<Object>, at: &str) -> [UpsertBatch; 1] {
        [UpsertBatch::from_objects(&objects, at)]
    }

    fn user(id: &str) -> Object {
        Object::new("User", id).with("n", id)
    }

    /// A store with u1 and u2 from run 1 (watermark w1) and run 2 open, having seen u1 again.
    fn after_two_runs() -> (SqliteStore, i64) {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.ensure_connector("c", "/l.so", None, "t0").unwrap();
        let first = store
            .begin_run("c", ImportMode::Full, None, "t1", None)
            .unwrap();
        let run = RunKey {
            connector: "c",
            run_id: first,
        };
        store
            .write_upserts(run, &batch(vec![user("u1"), user("u2")], "t1"))
            .unwrap();
        let none = FinalDeletes {
            objects: &BTreeSet::new(),
            scopes: &[],
            by_reference: &[],
        };
        store
            .finish_import(run, none, "t1", |_| Verdict::Commit {
                end: RunEnd::default(),
                watermark: Some("w1".into()),
            })
            .unwrap();
        let second = store
            .begin_run("c", ImportMode::Full, None, "t2", None)
            .unwrap();
        let run = RunKey {
            connector: "c",
            run_id: second,
        };
        let outcomes = store
            .write_upserts(run, &batch(vec![user("u1")], "t2"))
            .unwrap();
        assert_eq!(outcomes, vec![UpsertOutcome::Unchanged]);
        (store, second)
    }

    fn finish_second(store: &mut SqliteStore, run_id: i64, verdict: Verdict) -> Deletions {
        let run = RunKey {
            connector: "c",
            run_id,
        };
        let scopes = [Scope::whole("User")];
        let deletes = FinalDeletes {
            objects: &BTreeSet::from([("User".to_owned(), "u1".to_owned())]),
            scopes: &scopes,
            by_reference: &[],
        };
        let mut seen = Deletions::default();
        store
            .finish_import(run, deletes, "t3", |done| {
                seen = done.clone();
                verdict
            })
            .unwrap();
        seen
    }

    #[test]
    fn the_final_transaction_commits_deletes_watermark_and_run_together() {
        let (mut store, run_id) = after_two_runs();
        let verdict = Verdict::Commit {
            end: RunEnd::default(),
            watermark: Some("w2".into()),
        };
        let done = finish_second(&mut store, run_id, verdict);
        assert_eq!(done.deleted, BTreeMap::from([("User".to_owned(), 1)]));
        assert_eq!(done.removed, BTreeMap::from([("User".to_owned(), 1)]));
        assert_eq!(done.per_type(), BTreeMap::from([("User".to_owned(), 2)]));
        assert!(store.count_by_type("c").unwrap().is_empty());
        assert_eq!(store.watermark("c").unwrap().unwrap().value, "w2");
        let record = store.run(run_id).unwrap().unwrap();
        assert_eq!(record.status, RunStatus::Succeeded);
        assert_eq!(record.watermark_after.as_deref(), Some("w2"));
    }

    #[test]
    fn deletes_by_reference_spare_what_the_run_upserted_after_them() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.ensure_connector("c", "/l.so", None, "t0").unwrap();
        let member = |g: &str, u: &str| {
            Object::new("GroupMember", format!("{g}:{u}"))
                .in_scope(g)
                .with("memberId", u)
        };
        let first = store
            .begin_run("c", ImportMode::Full, None, "t1", None)
            .unwrap();
        let run = RunKey {
            connector: "c",
            run_id: first,
        };
        let edges = [
            member("g1", "u1"),
            member("g2", "u1"),
            member("g3", "u1"),
            member("g1", "u2"),
        ];
        store
            .write_upserts(run, &batch(edges.to_vec(), "t1"))
            .unwrap();
        let none = FinalDeletes {
            objects: &BTreeSet::new(),
            scopes: &[],
            by_reference: &[],
        };
        let commit = |w: &str| Verdict::Commit {
            end: RunEnd::default(),
            watermark: Some(w.into()),
        };
        store
            .finish_import(run, none, "t1", |_| commit("w1"))
            .unwrap();
        let second = store
            .begin_run("c", ImportMode::Delta, None, "t2", None)
            .unwrap();
        let run = RunKey {
            connector: "c",
            run_id: second,
        };
        let by_reference = [DeleteWhere {
            object_type: "GroupMember".into(),
            attribute: "memberId".into(),
            value: "u1".into(),
            spared: BTreeSet::from(["g3:u1".to_owned()]),
        }];
        let deletes = FinalDeletes {
            objects: &BTreeSet::new(),
            scopes: &[],
            by_reference: &by_reference,
        };
        let mut seen = Deletions::default();
        store
            .finish_import(run, deletes, "t2", |done| {
                seen = done.clone();
                commit("w2")
            })
            .unwrap();
        assert_eq!(
            seen.deleted,
            BTreeMap::from([("GroupMember".to_owned(), 2)])
        );
        for (id, kept) in [
            ("g1:u1", false),
            ("g2:u1", false),
            ("g3:u1", true),
            ("g1:u2", true),
        ] {
            assert_eq!(
                store.object("c", "GroupMember", id).unwrap().is_some(),
                kept,
                "{id}"
            );
        }
        let bad = [DeleteWhere {
            attribute: "x') OR 1=1 --".into(),
            ..by_reference[0].clone()
        }];
        let third = store
            .begin_run("c", ImportMode::Delta, None, "t3", None)
            .unwrap();
        let run = RunKey {
            connector: "c",
            run_id: third,
        };
        let deletes = FinalDeletes {
            objects: &BTreeSet::new(),
            scopes: &[],
            by_reference: &bad,
        };
        assert!(
            store
                .finish_import(run, deletes, "t3", |_| commit("w3"))
                .is_err()
        );
        assert_eq!(store.count_by_type("c").unwrap()["GroupMember"], 2);
    }

    #[test]
    fn a_rolled_back_final_transaction_deletes_nothing_and_keeps_the_watermark() {
        let (mut store, run_id) = after_two_runs();
        let verdict = Verdict::Rollback {
            end: RunEnd::default(),
            error: RunError {
                kind: "mass_delete_guard".into(),
                message: "too many".into(),
            },
        };
        let done = finish_second(&mut store, run_id, verdict);
        assert_eq!(done.per_type(), BTreeMap::from([("User".to_owned(), 2)]));
        assert_eq!(store.count_by_type("c").unwrap()["User"], 2);
        assert_eq!(store.watermark("c").unwrap().unwrap().value, "w1");
        let record = store.run(run_id).unwrap().unwrap();
        assert_eq!(record.status, RunStatus::Failed);
        assert_eq!(record.error.unwrap().kind, "mass_delete_guard");
        assert_eq!(record.watermark_after, None);
    }
}
