//! Failed and cancelled runs: recorded with their error, watermark and objects untouched.

use std::time::Duration;

use connector_api::CancellationToken;
use fixtures::{FaultKind, OrgSpec, Trigger};
use host::ExitCode;
use host::runner::{ModeChoice, RunOptions};
use host::store::RunStatus;

use crate::support::{Harness, NAME};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_fails_the_run_and_keeps_the_watermark() {
    let mut h = Harness::after_full_run(OrgSpec::tiny()).await;
    let (w1, before) = (h.watermark().unwrap(), h.stored());

    h.sim.faults().revoke_token(true);
    let failed = h.run(ModeChoice::Auto).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    assert_eq!(failed.exit_code(), ExitCode::RunFailed);
    let error = failed.run.error.as_ref().expect("the error is recorded");
    assert_eq!(error.kind, "unauthenticated", "{error:?}");
    assert_eq!(failed.run.watermark_after, None);

    assert_eq!(h.watermark().unwrap(), w1, "the watermark is unchanged");
    assert_eq!(h.stored(), before, "nothing was deleted");
    let recorded = &h.store.runs(NAME, 1).unwrap()[0];
    assert_eq!(recorded.id, failed.run.id);
    assert_eq!(recorded.status, RunStatus::Failed);
    assert_eq!(recorded.error.as_ref().unwrap().kind, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_fail_the_run_and_keep_the_watermark() {
    let mut h = Harness::after_full_run(OrgSpec::tiny()).await;
    let (w1, before) = (h.watermark().unwrap(), h.stored());

    // Users are read (and their scope completed) before groups fail for good: the completed
    // User scope must not delete anything in a failed run either.
    h.sim.faults().inject(
        FaultKind::ServiceUnavailable,
        "/api/v1/groups",
        Trigger::Always,
    );
    let failed = h.run(ModeChoice::Full).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    let error = failed.run.error.as_ref().unwrap();
    assert_eq!(error.kind, "unavailable", "{error:?}");
    assert_eq!(h.watermark().unwrap(), w1);
    assert_eq!(h.stored(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_is_recorded_as_cancelled() {
    let mut h = Harness::new(OrgSpec::tiny()).await;
    h.sim.faults().inject(
        FaultKind::Slow(Duration::from_secs(2)),
        "/api/v1/users",
        Trigger::Always,
    );
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let report = h
        .run_with(
            RunOptions {
                mode: ModeChoice::Full,
                ..RunOptions::default()
            },
            cancel,
        )
        .await;
    assert_eq!(
        report.run.status,
        RunStatus::Cancelled,
        "{:?}",
        report.run.error
    );
    assert_eq!(report.exit_code(), ExitCode::Cancelled);
    assert!(
        report.run.error.is_some(),
        "the cancellation is recorded as the run's error"
    );
    assert_eq!(h.watermark(), None);
    assert!(report.elapsed_ms < 30_000, "the connector stopped promptly");
}
