//! Objects: what the connectors emitted, with the runs that first and last saw them.

use std::collections::BTreeMap;

use connector_api::Scope;
use std::path::Path;

use rusqlite::{CachedStatement, OptionalExtension, params};
use serde::Serialize;

use super::batch::Upsert;
use super::{Result, SqliteStore, Tx, from_json, sqlite};

/// What storing an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// The object was new.
    Created,
    /// Its attributes or scope changed.
    Updated,
    /// It was stored exactly like this already (only `last_seen_run` moved).
    Unchanged,
}

/// One stored object, as `host objects` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredObject {
    /// Object type.
    #[serde(rename = "type")]
    pub object_type: String,
    /// External id.
    #[serde(rename = "id")]
    pub external_id: String,
    /// Sub-scope, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Attributes.
    #[serde(rename = "attrs")]
    pub attributes: serde_json::Value,
    /// The run that first stored it.
    pub first_seen_run: i64,
    /// The last run that emitted it.
    pub last_seen_run: i64,
    /// The last run that changed it.
    pub changed_run: i64,
    /// When it last changed (RFC 3339).
    pub changed_at: String,
}

/// Stores a new object; parameters as in [`Upserter::upsert`].
const INSERT_OBJECT: &str = "INSERT INTO objects (connector, type, external_id, scope, \
     attributes, first_seen_run, last_seen_run, changed_run, changed_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7)";

/// Stores an object unless one with its key is stored; parameters as in [`Upserter::upsert`].
const INSERT_NEW_OBJECT: &str = "INSERT INTO objects (connector, type, external_id, scope, \
     attributes, first_seen_run, last_seen_run, changed_run, changed_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7) \
     ON CONFLICT (connector, type, external_id) DO NOTHING";

/// Stores a changed object; parameters as in [`Upserter::upsert`].
const UPDATE_OBJECT: &str = "UPDATE objects SET scope = ?4, attributes = ?5, last_seen_run = ?6, \
     changed_run = ?6, changed_at = ?7 \
     WHERE connector = ?1 AND type = ?2 AND external_id = ?3";

/// Deletes the objects of a type (?1 connector, ?2 type) not seen since run ?3.
///
/// The keys are found in the scope index alone (a covering search: `last_seen_run` is in the
/// index), and only the rows found are looked up: a `DELETE … WHERE` on the index itself makes
/// SQLite read every row of the type to check it, overflow pages included.
const DELETE_UNSEEN_OF_TYPE: &str = "DELETE FROM objects WHERE (connector, type, external_id) IN \
     (SELECT connector, type, external_id FROM objects INDEXED BY objects_by_scope \
      WHERE connector = ?1 AND type = ?2 AND last_seen_run < ?3)";

/// Deletes the objects of a sub-scope (?1 connector, ?2 type, ?3 scope) not seen since run ?4,
/// found as in [`DELETE_UNSEEN_OF_TYPE`].
const DELETE_UNSEEN_IN_SCOPE: &str = "DELETE FROM objects WHERE (connector, type, external_id) IN \
     (SELECT connector, type, external_id FROM objects INDEXED BY objects_by_scope \
      WHERE connector = ?1 AND type = ?2 AND scope = ?3 AND last_seen_run < ?4)";

/// Reads an object's stored attributes and scope.
const SELECT_OBJECT: &str = "SELECT attributes, scope FROM objects \
     WHERE connector = ?1 AND type = ?2 AND external_id = ?3";

/// Records that run ?4 emitted an unchanged object (?1 connector, ?2 type, ?3 external id).
const MARK_SEEN: &str = "UPDATE objects SET last_seen_run = ?4 \
     WHERE connector = ?1 AND type = ?2 AND external_id = ?3";

/// The statements an upsert uses, prepared once per transaction rather than looked up in the
/// statement cache for every object.
///
/// While objects keep being new (a first import), each is inserted straight away, one search
/// of the primary key instead of a read and then an insert; the first one found stored switches
/// back to reading first, until a new one comes again.
pub(super) struct Upserter<'tx> {
    expect_new: bool,
    insert_new: CachedStatement<'tx>,
    select: CachedStatement<'tx>,
    insert: CachedStatement<'tx>,
    update: CachedStatement<'tx>,
    mark_seen: CachedStatement<'tx>,
    path: &'tx Path,
}

impl Upserter<'_> {
    /// Stores an upsert emitted by run `run_id`.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn upsert(
        &mut self,
        connector: &str,
        run_id: i64,
        object: Upsert<'_>,
        at: &str,
    ) -> Result<UpsertOutcome> {
        if self.expect_new {
            let inserted = write_row(&mut self.insert_new, connector, run_id, object, at)
                .map_err(sqlite(self.path, "inserting an object"))?;
            if inserted == 1 {
                return Ok(UpsertOutcome::Created);
            }
            self.expect_new = false;
        }
        let key = params![connector, object.object_type, object.external_id];
        // Whether the object is stored, and if so whether exactly like this: both attributes
        // are canonical JSON, so the comparison is one of bytes.
        let stored: Option<bool> = self
            .select
            .query_row(key, |r| {
                let same_scope = r.get_ref(1)?.as_str_or_null()? == object.scope;
                Ok(same_scope && r.get_ref(0)?.as_bytes()? == object.attributes.as_bytes())
            })
            .optional()
            .map_err(sqlite(self.path, "reading an object"))?;
        let (statement, what, outcome) = match stored {
            Some(true) => {
                self.mark_seen
                    .execute(params![
                        connector,
                        object.object_type,
                        object.external_id,
                        run_id
                    ])
                    .map_err(sqlite(self.path, "marking an object seen"))?;
                return Ok(UpsertOutcome::Unchanged);
            }
            None => (
                &mut self.insert,
                "inserting an object",
                UpsertOutcome::Created,
            ),
            Some(false) => (
                &mut self.update,
                "updating an object",
                UpsertOutcome::Updated,
            ),
        };
        write_row(statement, connector, run_id, object, at).map_err(sqlite(self.path, what))?;
        Ok(outcome)
    }
}

/// Runs an insert or an update of `object` with the parameters they share: ?1 connector, ?2 type,
/// ?3 external id, ?4 scope, ?5 attributes (JSON), ?6 run, ?7 time. Returns the rows changed.
fn write_row(
    statement: &mut CachedStatement<'_>,
    connector: &str,
    run_id: i64,
    object: Upsert<'_>,
    at: &str,
) -> rusqlite::Result<usize> {
    statement.execute(params![
        connector,
        object.object_type,
        object.external_id,
        object.scope,
        object.attributes,
        run_id,
        at
    ])
}

impl Tx<'_> {
    /// The statements for storing upserts in this transaction.
    ///
    /// # Errors
    /// SQLite failed to prepare them.
    pub(super) fn upserter(&self) -> Result<Upserter<'_>> {
        let prepare = |sql: &str| {
            self.tx
                .prepare_cached(sql)
                .map_err(sqlite(self.path, "preparing to store objects"))
        };
        Ok(Upserter {
            expect_new: true,
            insert_new: prepare(INSERT_NEW_OBJECT)?,
            select: prepare(SELECT_OBJECT)?,
            insert: prepare(INSERT_OBJECT)?,
            update: prepare(UPDATE_OBJECT)?,
            mark_seen: prepare(MARK_SEEN)?,
            path: self.path,
        })
    }

    /// Stores one upsert emitted by run `run_id` (see [`Upserter::upsert`]).
    ///
    /// # Errors
    /// SQLite failed.
    #[cfg(test)]
    pub fn upsert_object(
        &self,
        connector: &str,
        run_id: i64,
        object: &connector_api::Object,
        at: &str,
    ) -> Result<UpsertOutcome> {
        let batch = super::batch::UpsertBatch::from_objects(std::slice::from_ref(object), at);
        let upsert = batch.get(0).expect("one upsert");
        self.upserter()?.upsert(connector, run_id, upsert, at)
    }

    /// Deletes one object. Returns whether it existed before run `run_id` (an object the run
    /// itself created and then deleted does not count as a deletion of stored data).
    ///
    /// # Errors
    /// SQLite failed.
    pub fn delete_object(
        &self,
        connector: &str,
        object_type: &str,
        external_id: &str,
        run_id: i64,
    ) -> Result<bool> {
        let first_seen: Option<i64> = self
            .tx
            .prepare_cached(
                "DELETE FROM objects WHERE connector = ?1 AND type = ?2 AND external_id = ?3 \
                 RETURNING first_seen_run",
            )
            .and_then(|mut s| {
                s.query_row(params![connector, object_type, external_id], |r| r.get(0))
                    .optional()
            })
            .map_err(sqlite(self.path, "deleting an object"))?;
        Ok(first_seen.is_some_and(|first| first < run_id))
    }

    /// Deletes the objects of a completed `scope` that run `run_id` did not emit; returns how
    /// many. (Objects a later run emitted are never touched.)
    ///
    /// `Scope { within: None }` covers every object of the type; `within: Some(s)` only those
    /// whose stored scope is `s`.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn delete_unseen(&self, connector: &str, scope: &Scope, run_id: i64) -> Result<u64> {
        // Prepared once per connection: a full run completes a scope per group.
        let n = match &scope.within {
            None => self
                .tx
                .prepare_cached(DELETE_UNSEEN_OF_TYPE)
                .and_then(|mut s| {
                    s.execute(params![connector, scope.object_type.as_str(), run_id])
                }),
            Some(within) => self
                .tx
                .prepare_cached(DELETE_UNSEEN_IN_SCOPE)
                .and_then(|mut s| {
                    s.execute(params![
                        connector,
                        scope.object_type.as_str(),
                        within,
                        run_id
                    ])
                }),
        }
        .map_err(sqlite(self.path, "deleting objects of a completed scope"))?;
        Ok(n as u64)
    }
}

impl SqliteStore {
    /// How many objects of each type `connector` has.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn count_by_type(&self, connector: &str) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT type, COUNT(*) FROM objects WHERE connector = ?1 GROUP BY type")
            .map_err(sqlite(&self.path, "counting objects"))?;
        let rows = stmt
            .query_map([connector], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<BTreeMap<_, _>>>())
            .map_err(sqlite(&self.path, "counting objects"))?;
        Ok(rows)
    }

    /// One object.
    ///
    /// # Errors
    /// SQLite failed.
    pub fn object(
        &self,
        connector: &str,
        object_type: &str,
        external_id: &str,
    ) -> Result<Option<StoredObject>> {
        let mut found = None;
        self.scan_objects(connector, Some(object_type), Some(external_id), None, |o| {
            found = Some(o);
            Ok(())
        })?;
        Ok(found)
    }

    /// Calls `each` for the objects of `connector` (optionally of one type), ordered by type and
    /// external id, at most `limit`. Streams: nothing is collected in memory.
    ///
    /// # Errors
    /// SQLite failed, or `each` did.
    pub fn for_each_object(
        &self,
        connector: &str,
        object_type: Option<&str>,
        limit: Option<usize>,
        each: impl FnMut(StoredObject) -> Result<()>,
    ) -> Result<()> {
        self.scan_objects(connector, object_type, None, limit, each)
    }

    fn scan_objects(
        &self,
        connector: &str,
        object_type: Option<&str>,
        external_id: Option<&str>,
        limit: Option<usize>,
        mut each: impl FnMut(StoredObject) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT type, external_id, scope, attributes, first_seen_run, last_seen_run, \
                 changed_run, changed_at FROM objects \
                 WHERE connector = ?1 AND (?2 IS NULL OR type = ?2) \
                 AND (?3 IS NULL OR external_id = ?3) \
                 ORDER BY type, external_id LIMIT ?4",
            )
            .map_err(sqlite(&self.path, "listing objects"))?;
        let limit = limit.map_or(-1, |l| l as i64);
        let mut rows = stmt
            .query(params![connector, object_type, external_id, limit])
            .map_err(sqlite(&self.path, "listing objects"))?;
        while let Some(r) = rows.next().map_err(sqlite(&self.path, "listing objects"))? {
            let attrs: String = r.get(3).map_err(sqlite(&self.path, "listing objects"))?;
            let object = (|| -> rusqlite::Result<StoredObject> {
                Ok(StoredObject {
                    object_type: r.get(0)?,
                    external_id: r.get(1)?,
                    scope: r.get(2)?,
                    attributes: serde_json::Value::Null,
                    first_seen_run: r.get(4)?,
                    last_seen_run: r.get(5)?,
                    changed_run: r.get(6)?,
                    changed_at: r.get(7)?,
                })
            })()
            .map_err(sqlite(&self.path, "listing objects"))?;
            let attributes = from_json(&self.path, "objects.attributes", &attrs)?;
            each(StoredObject {
                attributes,
                ..object
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use connector_api::{ImportMode, Object};

    use super::*;

    fn store_with_run() -> (SqliteStore, i64) {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store
            .ensure_connector("okta", "/lib.so", None, "t0")
            .unwrap();
        let run = store
            .begin_run("okta", ImportMode::Full, None, "t0", None)
            .unwrap();
        (store, run)
    }

    fn user(id: &str, name: &str) -> Object {
        Object::new("User", id).with("name", name)
    }

    fn member(group: &str, user: &str) -> Object {
        Object::new("GroupMember", format!("{group}:{user}")).in_scope(group)
    }

    #[test]
    fn upsert_reports_created_updated_unchanged() {
        let (mut store, run) = store_with_run();
        let tx = store.begin().unwrap();
        assert_eq!(
            tx.upsert_object("okta", run, &user("u1", "a"), "t")
                .unwrap(),
            UpsertOutcome::Created
        );
        assert_eq!(
            tx.upsert_object("okta", run, &user("u1", "a"), "t")
                .unwrap(),
            UpsertOutcome::Unchanged
        );
        assert_eq!(
            tx.upsert_object("okta", run, &user("u1", "b"), "t")
                .unwrap(),
            UpsertOutcome::Updated
        );
        tx.commit().unwrap();
        let o = store.object("okta", "User", "u1").unwrap().unwrap();
        assert_eq!(o.attributes["name"], "b");
        assert_eq!((o.first_seen_run, o.last_seen_run), (run, run));
    }

    #[test]
    fn scope_deletes_search_the_scope_index() {
        let (store, _) = store_with_run();
        for sql in [DELETE_UNSEEN_OF_TYPE, DELETE_UNSEEN_IN_SCOPE] {
            let values: [&dyn rusqlite::ToSql; 4] = [&"c", &"t", &"s", &1];
            let n = sql.matches('?').count();
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = stmt
                .query_map(&values[..n], |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter()
                    .any(|step| step.contains("USING COVERING INDEX objects_by_scope")),
                "{sql}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
        }
    }

    #[test]
    fn outcomes_do_not_depend_on_what_came_before() {
        let (mut store, run) = store_with_run();
        let tx = store.begin().unwrap();
        let mut upserter = tx.upserter().unwrap();
        let mut outcomes = Vec::new();
        for (id, name) in [
            ("u1", "a"),
            ("u1", "b"),
            ("u2", "a"),
            ("u2", "a"),
            ("u3", "a"),
            ("u1", "b"),
            ("u4", "a"),
            ("u2", "c"),
        ] {
            let batch = super::super::batch::UpsertBatch::from_objects(&[user(id, name)], "t");
            let upsert = batch.get(0).unwrap();
            outcomes.push(upserter.upsert("okta", run, upsert, "t").unwrap());
        }
        drop(upserter);
        tx.commit().unwrap();
        use UpsertOutcome::{Created, Unchanged, Updated};
        assert_eq!(
            outcomes,
            [
                Created, Updated, Created, Unchanged, Created, Unchanged, Created, Updated
            ]
        );
        assert_eq!(store.count_by_type("okta").unwrap()["User"], 4);
        assert_eq!(
            store
                .object("okta", "User", "u2")
                .unwrap()
                .unwrap()
                .attributes["name"],
            "c"
        );
    }

    #[test]
    fn unchanged_means_the_same_json_and_scope() {
        let (mut store, run) = store_with_run();
        let tx = store.begin().unwrap();
        tx.upsert_object("okta", run, &member("g1", "u1"), "t")
            .unwrap();
        let moved = Object::new("GroupMember", "g1:u1").in_scope("g2");
        assert_eq!(
            tx.upsert_object("okta", run, &moved, "t").unwrap(),
            UpsertOutcome::Updated
        );
        let unscoped = Object::new("GroupMember", "g1:u1");
        assert_eq!(
            tx.upsert_object("okta", run, &unscoped, "t").unwrap(),
            UpsertOutcome::Updated
        );
        assert_eq!(
            tx.upsert_object("okta", run, &unscoped, "t").unwrap(),
            UpsertOutcome::Unchanged
        );
    }

    #[test]
    fn whole_scope_deletes_only_unseen_objects_of_that_type_and_connector() {
        let (mut store, run1) = store_with_run();
        store
            .ensure_connector("other", "/o.so", None, "t0")
            .unwrap();
        let tx = store.begin().unwrap();
        for id in ["u1", "u2", "u3"] {
            tx.upsert_object("okta", run1, &user(id, id), "t").unwrap();
        }
        tx.upsert_object("okta", run1, &member("g1", "u1"), "t")
            .unwrap();
        tx.upsert_object("other", run1, &user("u9", "x"), "t")
            .unwrap();
        tx.commit().unwrap();

        let run2 = store
            .begin_run("okta", ImportMode::Full, None, "t1", None)
            .unwrap();
        let tx = store.begin().unwrap();
        tx.upsert_object("okta", run2, &user("u1", "u1"), "t")
            .unwrap();
        tx.upsert_object("okta", run2, &user("u3", "u3"), "t")
            .unwrap();
        assert_eq!(
            tx.delete_unseen("okta", &Scope::whole("User"), run2)
                .unwrap(),
            1
        );
        tx.commit().unwrap();

        assert!(store.object("okta", "User", "u2").unwrap().is_none());
        assert!(store.object("okta", "User", "u1").unwrap().is_some());
        // Other types and other connectors are untouched.
        assert!(
            store
                .object("okta", "GroupMember", "g1:u1")
                .unwrap()
                .is_some()
        );
        assert!(store.object("other", "User", "u9").unwrap().is_some());
    }

    #[test]
    fn sub_scope_deletes_only_within_that_scope() {
        let (mut store, run1) = store_with_run();
        let tx = store.begin().unwrap();
        for (g, u) in [("g1", "u1"), ("g1", "u2"), ("g2", "u1"), ("g2", "u2")] {
            tx.upsert_object("okta", run1, &member(g, u), "t").unwrap();
        }
        tx.commit().unwrap();

        let run2 = store
            .begin_run("okta", ImportMode::Delta, None, "t1", None)
            .unwrap();
        let tx = store.begin().unwrap();
        tx.upsert_object("okta", run2, &member("g1", "u1"), "t")
            .unwrap();
        let removed = tx
            .delete_unseen("okta", &Scope::within("GroupMember", "g1"), run2)
            .unwrap();
        tx.commit().unwrap();

        assert_eq!(removed, 1);
        let counts = store.count_by_type("okta").unwrap();
        assert_eq!(counts["GroupMember"], 3, "g2's members are not in scope g1");
        assert!(
            store
                .object("okta", "GroupMember", "g1:u2")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn delete_counts_only_objects_stored_before_the_run() {
        let (mut store, run1) = store_with_run();
        let tx = store.begin().unwrap();
        tx.upsert_object("okta", run1, &user("old", "x"), "t")
            .unwrap();
        tx.commit().unwrap();
        let run2 = store
            .begin_run("okta", ImportMode::Delta, None, "t1", None)
            .unwrap();
        let tx = store.begin().unwrap();
        tx.upsert_object("okta", run2, &user("new", "x"), "t")
            .unwrap();
        assert!(tx.delete_object("okta", "User", "old", run2).unwrap());
        assert!(!tx.delete_object("okta", "User", "new", run2).unwrap());
        assert!(!tx.delete_object("okta", "User", "never", run2).unwrap());
        tx.commit().unwrap();
        assert!(store.count_by_type("okta").unwrap().is_empty());
    }

    #[test]
    fn rolled_back_deletes_leave_objects() {
        let (mut store, run1) = store_with_run();
        let tx = store.begin().unwrap();
        tx.upsert_object("okta", run1, &user("u1", "x"), "t")
            .unwrap();
        tx.commit().unwrap();
        let tx = store.begin().unwrap();
        tx.delete_unseen("okta", &Scope::whole("User"), run1 + 1)
            .unwrap();
        tx.rollback().unwrap();
        assert_eq!(store.count_by_type("okta").unwrap()["User"], 1);
    }
}
