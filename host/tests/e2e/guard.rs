//! The mass-delete guard against the real connector.

use fixtures::OrgSpec;
use host::ExitCode;
use host::runner::{GUARD_ERROR_KIND, ModeChoice, RunOptions};
use host::store::RunStatus;
use serde_json::json;

use crate::support::{Harness, live_user_ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_stops_a_full_run_that_would_delete_too_many_users() {
    let mut h = Harness::after_full_run(OrgSpec::tiny()).await;
    let (w1, before) = (h.watermark().unwrap(), h.stored());

    // A third of the users disappear at once.
    let live = live_user_ids(&h.sim);
    let gone = live.len() / 3;
    for id in &live[..gone] {
        assert!(h.sim.delete_user(id));
    }
    let tripped = h.run(ModeChoice::Full).await;
    assert_eq!(tripped.run.status, RunStatus::Failed);
    assert_eq!(tripped.exit_code(), ExitCode::GuardTripped);
    let error = tripped.run.error.as_ref().unwrap();
    assert_eq!(error.kind, GUARD_ERROR_KIND);
    assert!(
        error.message.contains(&format!(
            "would delete {gone} of {} stored User objects",
            live.len()
        )),
        "{}",
        error.message
    );
    assert!(error.message.contains("--allow-mass-delete"));
    assert!(!tripped.guard.is_empty());
    assert_eq!(h.stored()["User"], before["User"], "nothing was deleted");
    assert_eq!(h.watermark().unwrap(), w1, "the watermark was kept");

    // The operator looked; the deletions are real.
    let allowed = h
        .run_with(
            RunOptions {
                mode: ModeChoice::Full,
                allow_mass_delete: true,
                ..RunOptions::default()
            },
            Default::default(),
        )
        .await;
    assert_eq!(
        allowed.run.status,
        RunStatus::Succeeded,
        "{:?}",
        allowed.run.error
    );
    assert_eq!(allowed.run.counts["User"].removed, gone as u64);
    assert!(allowed.run.notes.iter().any(|n| n.contains("overridden")));
    assert_eq!(h.stored()["User"], (live.len() - gone) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_that_returns_nothing_trips_the_guard() {
    let mut h = Harness::after_full_run(OrgSpec::tiny()).await;
    let before = h.stored();

    // A filter typo: the connector now matches no user and imports nothing else.
    h.reconfigure(
        "test-token",
        json!({
            "UserSearchFilter": "profile.department eq \"No Such Department\"",
            "ImportGroups": false,
            "ImportMemberships": false,
        }),
    );
    let tripped = h.run(ModeChoice::Full).await;
    assert_eq!(
        tripped.exit_code(),
        ExitCode::GuardTripped,
        "{:?}",
        tripped.run
    );
    assert!(
        tripped
            .run
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("returned no objects at all"),
        "{:?}",
        tripped.run.error
    );
    assert_eq!(h.stored(), before);
}
