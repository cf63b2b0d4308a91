//! The runner's unit tests: a scripted connector against an in-memory store.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use connector_api::{
    CancellationToken, Capabilities, Change, ChangeSink, CheckReport, Connector, ConnectorError,
    Context, Descriptor, ErrorKind, ImportMode, ImportOutcome, ImportRequest, Object,
    ObjectTypeInfo, Scope, Skipped, Watermark,
};

use super::*;
use crate::clock::SystemClock;
use crate::error::ExitCode;
use crate::store::SqliteStore;

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

/// Runs `connector` as connector `t`.
async fn import(
    store: &mut Store,
    connector: &dyn Connector,
    options: &RunOptions,
    env: &RunEnv,
) -> Result<RunReport, HostError> {
    let target = Target {
        name: "t",
        library: "in-process",
        connector,
    };
    run_import(store, target, options, env).await
}

/// A run that is recorded, whatever its outcome.
async fn run(store: &mut Store, c: &Scripted, mode: ModeChoice, allow: bool) -> RunReport {
    let options = RunOptions {
        mode,
        allow_mass_delete: allow,
        ..RunOptions::default()
    };
    import(store, c, &options, &env()).await.unwrap()
}

/// A store after a successful full run of users u0..u`n`, watermark `w1`.
async fn store_after_full_run(n: u32) -> Store {
    store_after_full_run_with_handle(n).await.0
}

/// Also returns a second connection to the same in-memory database, for changing it behind
/// the store's back.
async fn store_after_full_run_with_handle(n: u32) -> (Store, SqliteStore) {
    let sqlite = SqliteStore::open_in_memory().unwrap();
    let handle = sqlite.open_writer().unwrap();
    let mut store = Store::new(Box::new(sqlite));
    let c = Scripted::new(vec![users(0..n)], ok("w1"));
    let report = run(&mut store, &c, ModeChoice::Full, false).await;
    assert_eq!(report.run.status, RunStatus::Succeeded);
    (store, handle)
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
    let mut store = store_after_full_run(3).await;
    let c = Scripted::new(vec![], ok("w2"));
    let report = run(&mut store, &c, ModeChoice::Auto, false).await;
    assert_eq!(report.run.mode, "delta");
    // The host declares the change kinds beyond 1.0's that it stores.
    assert_eq!(
        c.seen.lock().unwrap()[0],
        ImportRequest::delta(Watermark::new("w1")).with_accepts(super::ACCEPTED_CHANGES)
    );
    assert_eq!(report.run.watermark_before.as_deref(), Some("w1"));
    assert_eq!(store.watermark("t").unwrap().unwrap().value, "w2");
}

#[tokio::test]
async fn failed_run_keeps_watermark_and_deletes_nothing() {
    let mut store = store_after_full_run(10).await;
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
    let mut store = store_after_full_run(10).await;
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
    let mut store = store_after_full_run(10).await;
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
    let mut store = store_after_full_run(10).await;
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
    let mut store = store_after_full_run(10).await;
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
    let mut store = store_after_full_run(10).await;
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
    let err = import(
        &mut store,
        &c,
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
async fn a_write_failing_after_the_connector_succeeded_fails_the_run() {
    let (mut store, handle) = store_after_full_run_with_handle(10).await;
    // The last batch cannot be stored; the connector has been acknowledged every batch by then
    // and reports success.
    handle.execute_batch_for_tests(
        "CREATE TRIGGER refuse BEFORE INSERT ON objects WHEN NEW.external_id = 'u15' \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    );
    let c = Scripted::new(
        vec![
            users(0..12),
            vec![Change::delete("User", "u3")],
            with_complete(users(12..20), Scope::whole("User")),
        ],
        ok("w2"),
    );
    let report = run(&mut store, &c, ModeChoice::Full, false).await;
    assert_eq!(report.run.status, RunStatus::Failed);
    assert_eq!(report.exit_code(), ExitCode::RunFailed);
    let err = report.run.error.unwrap();
    assert_eq!(err.kind, "store");
    assert!(err.message.contains("disk full"), "{}", err.message);
    assert_eq!(store.watermark("t").unwrap().unwrap().value, "w1");
    assert_eq!(report.run.watermark_after, None);
    // Nothing deleted (u3 and the unseen are kept); the failed batch left nothing behind.
    assert!(store.object("t", "User", "u3").unwrap().is_some());
    assert!(store.object("t", "User", "u12").unwrap().is_none());
}

#[tokio::test]
async fn cancelled_run_is_recorded_as_cancelled() {
    let mut store = Store::open_in_memory().unwrap();
    let env = env();
    env.cancel.cancel();
    let c = Scripted::new(vec![users(0..3)], ok("w"));
    let report = import(&mut store, &c, &RunOptions::default(), &env)
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
    let report = import(&mut store, &Stubborn, &RunOptions::default(), &env())
        .await
        .unwrap();
    assert_ne!(report.run.status, RunStatus::Succeeded);
    assert!(store.watermark("t").unwrap().is_none());
}
