//! The writes of an import run on PostgreSQL: batches of upserts (one transaction each, from
//! the writer thread's own connection), and the final transaction of a successful run.
//!
//! The final transaction spans two jobs of the connection thread, because `decide` runs on the
//! caller's thread between them: the first opens the transaction, locks and checks the run, and
//! applies the deletes; the second commits (watermark and run record) or rolls back. A
//! connection lost between them is never continued: the server rolled the transaction back.

use connector_api::Scope;
use postgres::Client;

use super::session::{Conn, Step};
use super::{PgStore, objects, runs, watermarks};
use crate::store::writer::{ImportBackend, UpsertBatch};
use crate::store::{
    DeleteWhere, Deletions, FinalDeletes, Result, RunEnd, RunKey, RunStatus, StoreError,
    UpsertOutcome, Verdict,
};

impl ImportBackend for PgStore {
    fn write_upserts(
        &mut self,
        run: RunKey<'_>,
        batches: &[UpsertBatch],
    ) -> Result<Vec<UpsertOutcome>> {
        let chunks = objects::chunks(batches);
        let connector = run.connector.to_owned();
        let run_id = run.run_id;
        self.conn.call(move |s| {
            s.run("storing objects", |c| {
                let mut tx = c.transaction()?;
                runs::ensure_running(&mut tx, run_id, false)?;
                let outcomes = objects::upsert(&mut tx, &connector, run_id, &chunks)?;
                tx.commit()?;
                Ok(outcomes)
            })
        })
    }
}

/// The deletes of a final transaction, owned for the connection thread.
struct Deletes {
    objects: Vec<(String, String)>,
    by_reference: Vec<DeleteWhere>,
    scopes: Vec<Scope>,
}

/// See [`Backend::finish_import`](crate::store::Backend::finish_import).
pub(super) fn finish_import(
    store: &mut PgStore,
    run: RunKey<'_>,
    deletes: FinalDeletes<'_>,
    at: &str,
    decide: Box<dyn FnOnce(&Deletions) -> Verdict + '_>,
) -> Result<()> {
    let connector = run.connector.to_owned();
    let run_id = run.run_id;
    let deletes = Deletes {
        objects: deletes.objects.iter().cloned().collect(),
        by_reference: deletes.by_reference.to_vec(),
        scopes: deletes.scopes.to_vec(),
    };
    let location = store.location_path().display().to_string();
    let (done, generation) = store.conn.call(move |s| {
        let result = s.run("applying the run's deletes", |c| {
            c.batch_execute("BEGIN")?;
            runs::ensure_running(c, run_id, true)?;
            apply_deletes(c, &location, &connector, run_id, &deletes)
        });
        if result.is_err() {
            s.rollback();
        }
        Ok((result?, s.generation()))
    })?;
    // Should `decide` panic, the open transaction is rolled back.
    let pending = Pending(&store.conn);
    let verdict = decide(&done);
    std::mem::forget(pending);
    let at = at.to_owned();
    let connector = run.connector.to_owned();
    match verdict {
        Verdict::Commit { end, watermark } => store.conn.call(move |s| {
            let result = s.run_same(generation, "committing the run", |c| {
                watermarks::set_from_run(c, &connector, watermark.as_deref(), run_id, &at)?;
                let ok = RunStatus::Succeeded;
                runs::finish_run(c, run_id, ok, &end, watermark.as_deref(), None, &at)?;
                c.batch_execute("COMMIT")?;
                Ok(())
            });
            if result.is_err() {
                s.rollback();
            }
            result
        }),
        Verdict::Rollback { end, error } => {
            roll_back(&store.conn)?;
            close_failed(store, run_id, &end, &error, &at)
        }
    }
}

fn close_failed(
    store: &mut PgStore,
    run_id: i64,
    end: &RunEnd,
    error: &crate::store::RunError,
    at: &str,
) -> Result<()> {
    runs::finish_run_unsuccessful(store, run_id, RunStatus::Failed, end, error, at)
}

fn roll_back(conn: &Conn) -> Result<()> {
    conn.call(|s| {
        s.rollback();
        Ok(())
    })
}

/// Rolls the final transaction back when dropped (only on a panic of `decide`).
struct Pending<'a>(&'a Conn);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let _ = roll_back(self.0);
    }
}

/// Applies the deletes in order (explicit, by reference, completed scopes); what they removed
/// of the objects stored before the run.
fn apply_deletes(
    c: &mut Client,
    location: &str,
    connector: &str,
    run_id: i64,
    deletes: &Deletes,
) -> Result<Deletions, Step> {
    let mut done = Deletions::default();
    if !deletes.objects.is_empty() {
        let (types, ids): (Vec<&str>, Vec<&str>) = deletes
            .objects
            .iter()
            .map(|(t, id)| (t.as_str(), id.as_str()))
            .unzip();
        let rows = c.query(
            "DELETE FROM objects o USING unnest($2::text[], $3::text[]) AS d(type, external_id) \
             WHERE o.connector = $1 AND o.type = d.type AND o.external_id = d.external_id \
             RETURNING o.type, o.first_seen_run",
            &[&connector, &types, &ids],
        )?;
        for r in rows {
            if r.try_get::<_, i64>(1)? < run_id {
                *done.deleted.entry(r.try_get(0)?).or_default() += 1;
            }
        }
    }
    for d in &deletes.by_reference {
        let n = delete_where(c, location, connector, d, run_id)?;
        if n > 0 {
            *done.deleted.entry(d.object_type.clone()).or_default() += n;
        }
    }
    for scope in &deletes.scopes {
        let n = match &scope.within {
            None => c.execute(
                "DELETE FROM objects WHERE connector = $1 AND type = $2 AND last_seen_run < $3",
                &[&connector, &scope.object_type.as_str(), &run_id],
            )?,
            Some(within) => c.execute(
                "DELETE FROM objects WHERE connector = $1 AND type = $2 AND scope = $3 \
                 AND last_seen_run < $4",
                &[&connector, &scope.object_type.as_str(), within, &run_id],
            )?,
        };
        if n > 0 {
            *done
                .removed
                .entry(scope.object_type.as_str().to_owned())
                .or_default() += n;
        }
    }
    Ok(done)
}

/// Deletes the objects `d` names (a string attribute equal to the value), except the spared
/// ones; how many of them existed before run `run_id`. The attribute is found through an
/// expression index per attribute, created the first time a run deletes by it.
fn delete_where(
    c: &mut Client,
    location: &str,
    connector: &str,
    d: &DeleteWhere,
    run_id: i64,
) -> Result<u64, Step> {
    if !connector_api::is_valid_match_attribute(&d.attribute) {
        return Err(StoreError::Postgres {
            location: location.to_owned(),
            what: "deleting by reference".into(),
            code: None,
            message: format!(
                "refusing to delete by the attribute {:?}: only letters, digits and `_` are allowed",
                d.attribute
            ),
        }
        .into());
    }
    let attr = &d.attribute;
    let index = format!("objects_by_attr_{attr}").to_lowercase();
    // Checked first: CREATE INDEX IF NOT EXISTS would lock the table against every other
    // connector's writes until this transaction ends, even when the index exists.
    let exists: bool = c
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&index])?
        .try_get(0)?;
    if !exists {
        c.batch_execute(&format!(
            "CREATE INDEX IF NOT EXISTS {index} ON objects \
             (connector, type, ((attributes::jsonb) -> '{attr}'))"
        ))?;
    }
    let spared: Vec<&str> = d.spared.iter().map(String::as_str).collect();
    // The attribute is written out (not bound) so the planner matches the expression index.
    let rows = c.query(
        &format!(
            "DELETE FROM objects WHERE connector = $1 AND type = $2 \
             AND (attributes::jsonb) -> '{attr}' = to_jsonb($3::text) \
             AND NOT (external_id = ANY($4::text[])) RETURNING first_seen_run"
        ),
        &[&connector, &d.object_type, &d.value, &spared],
    )?;
    let mut deleted = 0;
    for r in rows {
        deleted += u64::from(r.try_get::<_, i64>(0)? < run_id);
    }
    Ok(deleted)
}
