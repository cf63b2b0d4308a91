//! The store conformance suite: every operation of [`Backend`](super::Backend) and its
//! semantics, run against each backend — SQLite (in memory) and PostgreSQL (a private
//! throwaway server per test, from `fixtures::postgres`; never skipped). Each case is a
//! function taking a fresh [`Store`]; `conformance!` makes one test per case and backend
//! (`store::conformance::sqlite::<case>`, `store::conformance::postgres::<case>`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use connector_api::{
    Change, ChangeOutcome, ConnectorError, Descriptor, ExportChange, ImportMode, Object, Scope,
};

use super::writer::UpsertBatch;
use super::{
    DeleteWhere, Deletions, ExportRow, FinalDeletes, RunEnd, RunError, RunKey, RunStatus, Store,
    StoreError, UpsertOutcome, Verdict, WatermarkSource,
};

const TTL: Duration = Duration::from_secs(30);

/// A store of each backend, and what must live as long as it.
pub(crate) mod backends {
    use super::super::{PgStore, Store};

    /// A fresh in-memory SQLite store.
    pub fn sqlite() -> (Box<dyn std::any::Any>, Store) {
        (Box::new(()), Store::open_in_memory().unwrap())
    }

    /// A fresh PostgreSQL store on a server of its own (dropped with the first value).
    pub fn postgres() -> (Box<dyn std::any::Any>, Store) {
        let pg = fixtures::postgres::TempCluster::start().unwrap();
        let store = PgStore::open(&pg.url(), Some(pg.password().to_owned().into())).unwrap();
        (Box::new(pg), Store::new(Box::new(store)))
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() {
                let (_keep, mut store) = super::backends::sqlite();
                super::$case(&mut store);
            })*
        }
        mod postgres {
            $(#[test] fn $case() {
                let (keep, mut store) = super::backends::postgres();
                super::$case(&mut store);
                drop(store);
                drop(keep);
            })*
        }
    };
}

conformance!(
    connectors_and_run_records,
    upserts_report_created_updated_unchanged,
    objects_are_listed_in_order_by_pages,
    completed_scopes_remove_what_the_run_did_not_emit,
    explicit_deletes_and_deletes_by_reference,
    a_guard_rollback_keeps_objects_and_watermark,
    operator_watermarks,
    export_runs_round_trip,
    leases_are_held_renewed_released_and_expire,
    runs_start_only_under_the_rules_of_the_lease,
    a_run_taken_over_writes_nothing_more,
);

fn user(id: &str) -> Object {
    Object::new("User", id).with("n", id)
}

fn batch(objects: Vec<Object>, at: &str) -> [UpsertBatch; 1] {
    [UpsertBatch::from_objects(&objects, at)]
}

fn key(connector: &str, run_id: i64) -> RunKey<'_> {
    RunKey { connector, run_id }
}

fn commit(w: &str) -> Verdict {
    Verdict::Commit {
        end: RunEnd::default(),
        watermark: Some(w.into()),
    }
}

/// Opens a run of `c`, writes `objects` through a writer, and returns the run id.
fn run_with(s: &mut Store, c: &str, objects: Vec<Object>, at: &str) -> i64 {
    let run_id = s.begin_run(c, ImportMode::Full, None, at, None).unwrap();
    if !objects.is_empty() {
        let mut writer = s.open_writer().unwrap();
        writer
            .write_upserts(key(c, run_id), &batch(objects, at))
            .unwrap();
    }
    run_id
}

/// The final transaction with `deletes`; what `decide` was shown.
fn finish(
    s: &mut Store,
    c: &str,
    run_id: i64,
    deletes: FinalDeletes<'_>,
    verdict: Verdict,
) -> Deletions {
    let mut seen = Deletions::default();
    s.finish_import(key(c, run_id), deletes, "t9", |done| {
        seen = done.clone();
        verdict
    })
    .unwrap();
    seen
}

fn no_deletes() -> FinalDeletes<'static> {
    static NONE: BTreeSet<(String, String)> = BTreeSet::new();
    FinalDeletes {
        objects: &NONE,
        scopes: &[],
        by_reference: &[],
    }
}

fn connectors_and_run_records(s: &mut Store) {
    let d = Descriptor::new("okta", "1.2.0");
    s.ensure_connector("b", "/b.so", Some(&d), "t0").unwrap();
    s.ensure_connector("a", "/a.so", None, "t0").unwrap();
    s.ensure_connector("b", "/b2.so", None, "t1").unwrap();
    let rows = s.connectors().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(rows[1].library, "/b2.so");
    assert_eq!(rows[1].descriptor_version.as_deref(), Some("1.2.0"), "kept");
    assert_eq!(
        (
            rows[1].first_seen_at.as_str(),
            rows[1].last_loaded_at.as_str()
        ),
        ("t0", "t1")
    );

    let first = s
        .begin_run("a", ImportMode::Full, Some("w0"), "t1", None)
        .unwrap();
    let record = s.run(first).unwrap().unwrap();
    assert_eq!(
        (record.status, record.mode.as_str()),
        (RunStatus::Running, "full")
    );
    assert_eq!(record.watermark_before.as_deref(), Some("w0"));
    let end = RunEnd {
        stats: BTreeMap::from([("requests".to_owned(), 3)]),
        notes: vec!["a note".into()],
        ..RunEnd::default()
    };
    let error = RunError {
        kind: "network".into(),
        message: "down; retry".into(),
    };
    s.finish_run_unsuccessful(first, RunStatus::Failed, &end, &error, "t2")
        .unwrap();
    // A closed run stays closed.
    s.finish_run_unsuccessful(first, RunStatus::Cancelled, &end, &error, "t3")
        .unwrap();
    let record = s.run(first).unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error, Some(error));
    assert_eq!(record.stats["requests"], 3);
    assert_eq!(record.notes, ["a note"]);
    assert_eq!(record.finished_at.as_deref(), Some("t2"));

    let second = s
        .begin_run("a", ImportMode::Delta, None, "t4", None)
        .unwrap();
    assert!(second > first);
    finish(s, "a", second, no_deletes(), commit("w1"));
    let runs = s.runs("a", 10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(s.runs("a", 1).unwrap().len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(runs[0].watermark_after.as_deref(), Some("w1"));
    assert_eq!(
        s.last_success_started("a", ImportMode::Delta)
            .unwrap()
            .as_deref(),
        Some("t4")
    );
    assert_eq!(s.last_success_started("a", ImportMode::Full).unwrap(), None);
    assert!(s.run(second + 100).unwrap().is_none());
    assert!(s.runs("b", 10).unwrap().is_empty());
}

fn upserts_report_created_updated_unchanged(s: &mut Store) {
    s.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let first = run_with(s, "c", vec![user("u1"), user("u2"), user("u3")], "t1");
    finish(s, "c", first, no_deletes(), commit("w1"));
    let second = s
        .begin_run("c", ImportMode::Full, None, "t2", None)
        .unwrap();
    let mut writer = s.open_writer().unwrap();
    let objects = vec![
        user("u1"),
        user("u2").with("extra", 1),
        user("u3").in_scope("g1"),
        user("u4"),
        // The same key twice in one batch: applied in order.
        user("u4").with("extra", 2),
        user("u4").with("extra", 2),
    ];
    let outcomes = writer
        .write_upserts(key("c", second), &batch(objects, "t2"))
        .unwrap();
    use UpsertOutcome::{Created, Unchanged, Updated};
    assert_eq!(
        outcomes,
        [Unchanged, Updated, Updated, Created, Updated, Unchanged]
    );
    let u1 = s.object("c", "User", "u1").unwrap().unwrap();
    assert_eq!(
        (u1.first_seen_run, u1.last_seen_run, u1.changed_run),
        (first, second, first)
    );
    assert_eq!(u1.changed_at, "t1");
    let u2 = s.object("c", "User", "u2").unwrap().unwrap();
    assert_eq!((u2.changed_run, u2.changed_at.as_str()), (second, "t2"));
    assert_eq!(u2.attributes, serde_json::json!({"extra": 1, "n": "u2"}));
    assert_eq!(
        s.object("c", "User", "u3")
            .unwrap()
            .unwrap()
            .scope
            .as_deref(),
        Some("g1")
    );
    assert_eq!(
        s.count_by_type("c").unwrap(),
        BTreeMap::from([("User".to_owned(), 4)])
    );
    assert!(s.object("c", "User", "nope").unwrap().is_none());
    assert!(s.object("other", "User", "u1").unwrap().is_none());
}

fn objects_are_listed_in_order_by_pages(s: &mut Store) {
    s.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let mut objects: Vec<Object> = (0..2500).map(|i| user(&format!("u{i:05}"))).collect();
    objects.push(Object::new("Group", "Z"));
    objects.push(Object::new("Group", "a"));
    objects.push(Object::new("Group", "B"));
    run_with(s, "c", objects, "t1");
    let mut seen = Vec::new();
    s.for_each_object("c", None, None, |o| {
        seen.push(format!("{}/{}", o.object_type, o.external_id));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.len(), 2503);
    // Byte order, as SQLite compares: upper case before lower case.
    assert_eq!(seen[..3], ["Group/B", "Group/Z", "Group/a"]);
    assert_eq!(seen[3], "User/u00000");
    assert_eq!(seen[2502], "User/u02499");
    let mut users = 0;
    s.for_each_object("c", Some("User"), Some(1500), |o| {
        assert_eq!(o.external_id, format!("u{users:05}"));
        users += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(users, 1500);
    let err = s
        .for_each_object("c", None, None, |_| {
            Err(StoreError::Io {
                path: "out".into(),
                message: "stdout closed".into(),
            })
        })
        .unwrap_err();
    assert!(err.to_string().contains("stdout closed"), "{err}");
}

fn completed_scopes_remove_what_the_run_did_not_emit(s: &mut Store) {
    s.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let member = |g: &str, u: &str| Object::new("GroupMember", format!("{g}:{u}")).in_scope(g);
    let first = run_with(
        s,
        "c",
        vec![
            user("u1"),
            user("u2"),
            member("g1", "u1"),
            member("g1", "u2"),
            member("g2", "u1"),
        ],
        "t1",
    );
    finish(s, "c", first, no_deletes(), commit("w1"));
    let second = run_with(s, "c", vec![user("u1"), member("g1", "u1")], "t2");
    let scopes = [Scope::whole("User"), Scope::within("GroupMember", "g1")];
    let deletes = FinalDeletes {
        scopes: &scopes,
        ..no_deletes()
    };
    let done = finish(s, "c", second, deletes, commit("w2"));
    assert_eq!(
        done.removed,
        BTreeMap::from([("GroupMember".to_owned(), 1), ("User".to_owned(), 1)])
    );
    assert!(done.deleted.is_empty());
    assert!(s.object("c", "User", "u2").unwrap().is_none());
    assert!(s.object("c", "GroupMember", "g1:u2").unwrap().is_none());
    assert!(
        s.object("c", "GroupMember", "g2:u1").unwrap().is_some(),
        "other scope kept"
    );
    assert_eq!(s.watermark("c").unwrap().unwrap().value, "w2");
}

fn explicit_deletes_and_deletes_by_reference(s: &mut Store) {
    s.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let member = |g: &str, u: &str| {
        Object::new("GroupMember", format!("{g}:{u}"))
            .in_scope(g)
            .with("memberId", u)
    };
    let edges = vec![
        member("g1", "u1"),
        member("g2", "u1"),
        member("g3", "u1"),
        member("g1", "u2"),
        Object::new("GroupMember", "g4:n").with("memberId", 7),
        user("u1"),
        user("u2"),
    ];
    let first = run_with(s, "c", edges, "t1");
    finish(s, "c", first, no_deletes(), commit("w1"));
    let second = run_with(s, "c", vec![user("new")], "t2");
    let explicit = BTreeSet::from([
        ("User".to_owned(), "u1".to_owned()),
        ("User".to_owned(), "new".to_owned()),
        ("User".to_owned(), "missing".to_owned()),
    ]);
    let by_reference = [DeleteWhere {
        object_type: "GroupMember".into(),
        attribute: "memberId".into(),
        value: "u1".into(),
        spared: BTreeSet::from(["g3:u1".to_owned()]),
    }];
    let deletes = FinalDeletes {
        objects: &explicit,
        scopes: &[],
        by_reference: &by_reference,
    };
    let done = finish(s, "c", second, deletes, commit("w2"));
    // `new` was created by this run: deleting it is not a deletion of stored data.
    assert_eq!(
        done.deleted,
        BTreeMap::from([("GroupMember".to_owned(), 2), ("User".to_owned(), 1)])
    );
    for (t, id, kept) in [
        ("GroupMember", "g1:u1", false),
        ("GroupMember", "g2:u1", false),
        ("GroupMember", "g3:u1", true),
        ("GroupMember", "g1:u2", true),
        ("GroupMember", "g4:n", true),
        ("User", "u1", false),
        ("User", "new", false),
        ("User", "u2", true),
    ] {
        assert_eq!(s.object("c", t, id).unwrap().is_some(), kept, "{t} {id}");
    }
    let third = run_with(s, "c", vec![], "t3");
    let bad = [DeleteWhere {
        attribute: "x') OR 1=1 --".into(),
        ..by_reference[0].clone()
    }];
    let deletes = FinalDeletes {
        by_reference: &bad,
        ..no_deletes()
    };
    let err = s
        .finish_import(key("c", third), deletes, "t3", |_| commit("w3"))
        .unwrap_err();
    assert!(err.to_string().contains("only letters, digits"), "{err}");
    assert_eq!(s.count_by_type("c").unwrap()["GroupMember"], 3);
    assert_eq!(s.watermark("c").unwrap().unwrap().value, "w2");
}

fn a_guard_rollback_keeps_objects_and_watermark(s: &mut Store) {
    s.ensure_connector("c", "/c.so", None, "t0").unwrap();
    let first = run_with(s, "c", vec![user("u1"), user("u2")], "t1");
    finish(s, "c", first, no_deletes(), commit("w1"));
    let second = run_with(s, "c", vec![], "t2");
    let scopes = [Scope::whole("User")];
    let deletes = FinalDeletes {
        scopes: &scopes,
        ..no_deletes()
    };
    let verdict = Verdict::Rollback {
        end: RunEnd::default(),
        error: RunError {
            kind: "mass_delete_guard".into(),
            message: "too many".into(),
        },
    };
    let done = finish(s, "c", second, deletes, verdict);
    assert_eq!(done.per_type(), BTreeMap::from([("User".to_owned(), 2)]));
    assert_eq!(s.count_by_type("c").unwrap()["User"], 2, "rolled back");
    assert_eq!(s.watermark("c").unwrap().unwrap().value, "w1");
    let record = s.run(second).unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Failed);
    assert_eq!(record.error.unwrap().kind, "mass_delete_guard");
    assert_eq!(record.watermark_after, None);
    // The store goes on: the next run commits.
    let third = run_with(s, "c", vec![user("u1")], "t3");
    finish(
        s,
        "c",
        third,
        no_deletes(),
        Verdict::Commit {
            end: RunEnd::default(),
            watermark: None,
        },
    );
    assert!(
        s.watermark("c").unwrap().is_none(),
        "a run without a watermark removes it"
    );
}

fn operator_watermarks(s: &mut Store) {
    s.ensure_connector("c", "/c.so", None, "t0").unwrap();
    assert!(s.watermark("c").unwrap().is_none());
    s.set_watermark_by_operator("c", r#"{"u":"x"}"#, "t1")
        .unwrap();
    let w = s.watermark("c").unwrap().unwrap();
    assert_eq!(
        (w.value.as_str(), w.run_id, w.set_by),
        (r#"{"u":"x"}"#, None, WatermarkSource::Operator)
    );
    assert_eq!(w.updated_at, "t1");
    let run = run_with(s, "c", vec![], "t2");
    finish(s, "c", run, no_deletes(), commit("w2"));
    let w = s.watermark("c").unwrap().unwrap();
    assert_eq!(
        (w.value.as_str(), w.run_id, w.set_by),
        ("w2", Some(run), WatermarkSource::Run)
    );
    s.set_watermark_by_operator("c", "w3", "t3").unwrap();
    assert_eq!(s.watermark("c").unwrap().unwrap().run_id, None);
    assert!(s.clear_watermark("c").unwrap());
    assert!(!s.clear_watermark("c").unwrap());
    assert!(s.watermark("c").unwrap().is_none());
}

fn export_runs_round_trip(s: &mut Store) {
    s.ensure_connector("dir", "/x.so", None, "t0").unwrap();
    let run = s.begin_export_run("dir", true, "f.jsonl", "t1").unwrap();
    let change = ExportChange::new("k1", Change::Upsert(Object::new("Group", "g1")));
    let failed = ExportChange::new("k2", Change::delete("Group", "g2"));
    let rows = [
        ExportRow::new(1, &change, &ChangeOutcome::applied("k1")),
        ExportRow::new(
            2,
            &failed,
            &ChangeOutcome::failed("k2", ConnectorError::not_found("no g2")),
        ),
    ];
    s.record_exports(run, &rows).unwrap();
    let running = s.export_runs("dir", 10).unwrap();
    assert_eq!(
        (running[0].status.as_str(), running[0].dry_run),
        ("running", true)
    );
    let counts = BTreeMap::from([("applied".to_owned(), 1), ("failed".to_owned(), 1)]);
    s.finish_export_run(run, "failed", &counts, Some("conflict: x"), "t2")
        .unwrap();
    let second = s.begin_export_run("dir", false, "g.jsonl", "t3").unwrap();
    assert!(second > run);
    let runs = s.export_runs("dir", 10).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [second, run]);
    assert_eq!(runs[1].counts, counts);
    assert_eq!(runs[1].error.as_deref(), Some("conflict: x"));
    assert_eq!(runs[1].finished_at.as_deref(), Some("t2"));
    assert_eq!(s.export_runs("dir", 1).unwrap().len(), 1);
    let back = s.exports(run).unwrap();
    assert_eq!(back, rows);
    assert_eq!(back[1].error_kind.as_deref(), Some("not_found"));
    assert!(s.exports(second).unwrap().is_empty());
    // A failed batch stores none of its rows.
    let dup = [rows[0].clone(), rows[0].clone()];
    assert!(s.record_exports(second, &dup).is_err());
    assert!(s.exports(second).unwrap().is_empty());
}

fn leases_are_held_renewed_released_and_expire(s: &mut Store) {
    assert!(s.acquire_lease("okta", "w1", TTL).unwrap());
    assert!(!s.acquire_lease("okta", "w2", TTL).unwrap(), "held by w1");
    let acquired = s.leases().unwrap()[0].acquired_at.clone();
    std::thread::sleep(Duration::from_millis(5));
    assert!(s.acquire_lease("okta", "w1", TTL).unwrap(), "w1 again");
    assert!(s.renew_lease("okta", "w1", TTL).unwrap());
    assert!(!s.renew_lease("okta", "w2", TTL).unwrap());
    let rows = s.leases().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].holder.as_str(), rows[0].expired), ("w1", false));
    assert_eq!(
        rows[0].acquired_at, acquired,
        "kept while the same holder renews"
    );
    assert!(rows[0].renewed_at > rows[0].acquired_at, "{rows:?}");
    assert!(
        rows[0].expires_at.ends_with('Z') && rows[0].expires_at.len() == 24,
        "{rows:?}"
    );
    assert!(!s.release_lease("okta", "w2").unwrap());
    assert!(s.release_lease("okta", "w1").unwrap());
    assert!(s.leases().unwrap().is_empty());
    assert!(
        s.acquire_lease("okta", "w2", Duration::from_millis(1))
            .unwrap()
    );
    std::thread::sleep(Duration::from_millis(30));
    assert!(s.leases().unwrap()[0].expired);
    assert!(!s.renew_lease("okta", "w2", TTL).unwrap(), "expired");
    assert!(s.acquire_lease("okta", "w3", TTL).unwrap(), "taken over");
    assert_eq!(s.leases().unwrap()[0].holder, "w3");
}

fn runs_start_only_under_the_rules_of_the_lease(s: &mut Store) {
    s.ensure_connector("okta", "/l.so", None, "t0").unwrap();
    let err = s
        .begin_run("okta", ImportMode::Full, None, "t1", Some("w1"))
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseNotHeld { .. }), "{err}");
    assert!(
        s.acquire_lease("okta", "w1", Duration::from_millis(400))
            .unwrap()
    );
    let first = s
        .begin_run("okta", ImportMode::Full, None, "t1", Some("w1"))
        .unwrap();
    let err = s
        .begin_run("okta", ImportMode::Full, None, "t2", None)
        .unwrap_err();
    assert!(matches!(err, StoreError::Leased { .. }), "{err}");
    assert!(err.to_string().contains("w1"), "{err}");
    // w1 dies: its lease expires, w2 takes over and its run closes w1's as interrupted.
    std::thread::sleep(Duration::from_millis(500));
    let err = s
        .begin_run("okta", ImportMode::Full, None, "t3", Some("w1"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::LeaseNotHeld { .. }),
        "expired: {err}"
    );
    assert!(s.acquire_lease("okta", "w2", TTL).unwrap());
    let second = s
        .begin_run("okta", ImportMode::Full, None, "t3", Some("w2"))
        .unwrap();
    let old = s.run(first).unwrap().unwrap();
    assert_eq!(old.status, RunStatus::Failed);
    assert_eq!(old.error.unwrap().kind, "interrupted");
    assert_eq!(old.holder.as_deref(), Some("w1"));
    assert_eq!(
        s.run(second).unwrap().unwrap().holder.as_deref(),
        Some("w2")
    );
    // Without a lease, a run left `running` by a process that is gone is closed too.
    assert!(s.release_lease("okta", "w2").unwrap());
    let third = s
        .begin_run("okta", ImportMode::Full, None, "t4", None)
        .unwrap();
    let closed = s.run(second).unwrap().unwrap();
    assert_eq!(
        (closed.status, closed.error.unwrap().kind.as_str()),
        (RunStatus::Failed, "interrupted"),
        "this process's own run left running is not a live other process"
    );
    assert!(third > second);
}

fn a_run_taken_over_writes_nothing_more(s: &mut Store) {
    s.ensure_connector("okta", "/l.so", None, "t0").unwrap();
    assert!(
        s.acquire_lease("okta", "w1", Duration::from_millis(400))
            .unwrap()
    );
    let old = s
        .begin_run("okta", ImportMode::Full, None, "t1", Some("w1"))
        .unwrap();
    let mut old_writer = s.open_writer().unwrap();
    old_writer
        .write_upserts(key("okta", old), &batch(vec![user("kept")], "t1"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.acquire_lease("okta", "w2", TTL).unwrap());
    let new = s
        .begin_run("okta", ImportMode::Full, None, "t2", Some("w2"))
        .unwrap();
    let err = old_writer
        .write_upserts(key("okta", old), &batch(vec![user("late")], "t3"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::RunClosed { run_id, .. } if run_id == old),
        "{err}"
    );
    assert!(s.object("okta", "User", "late").unwrap().is_none());
    let scopes = [Scope::whole("User")];
    let deletes = FinalDeletes {
        scopes: &scopes,
        ..no_deletes()
    };
    let err = s
        .finish_import(key("okta", old), deletes, "t4", |_| commit("stale"))
        .unwrap_err();
    assert!(matches!(err, StoreError::RunClosed { .. }), "{err}");
    assert!(
        s.object("okta", "User", "kept").unwrap().is_some(),
        "no deletes"
    );
    assert!(s.watermark("okta").unwrap().is_none(), "no watermark");
    let error = RunError {
        kind: "cancelled".into(),
        message: "lease lost".into(),
    };
    s.finish_run_unsuccessful(old, RunStatus::Cancelled, &RunEnd::default(), &error, "t5")
        .unwrap();
    let record = s.run(old).unwrap().unwrap();
    assert_eq!(
        record.error.unwrap().kind,
        "interrupted",
        "closed by the takeover"
    );
    // The new run goes on normally.
    finish(s, "okta", new, no_deletes(), commit("w2"));
    assert_eq!(s.watermark("okta").unwrap().unwrap().value, "w2");
}
