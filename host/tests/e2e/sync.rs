//! Full then delta; hard deletes detected by the next full run.

use fixtures::OrgSpec;
use host::runner::ModeChoice;
use host::store::RunStatus;
use serde_json::json;

use crate::support::{Harness, NAME, live_user_ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_delta_stores_the_org_and_then_only_its_changes() {
    let mut h = Harness::new(OrgSpec::tiny()).await;

    // Auto without a watermark is a full run; it stores the org as the simulator has it.
    let full = h.run(ModeChoice::Auto).await;
    assert_eq!(
        full.run.status,
        RunStatus::Succeeded,
        "{:?}",
        full.run.error
    );
    assert_eq!(full.run.mode, "full");
    let live = live_user_ids(&h.sim);
    let stored = h.stored();
    assert_eq!(stored["User"], live.len() as u64);
    assert_eq!(stored["Group"], h.sim.groups().len() as u64);
    assert_eq!(stored["GroupMember"], h.sim.memberships().len() as u64);
    let w1 = h.watermark().expect("a full run stores a watermark");
    assert_eq!(full.run.watermark_after.as_deref(), Some(w1.as_str()));

    // Change the org.
    let everyone = h.sim.everyone_group_id();
    let (changed, deprovisioned) = (live[0].clone(), live[1].clone());
    assert!(
        h.sim
            .update_user_profile(&changed, "title", "Changed Title".into())
    );
    assert!(h.sim.set_user_status(&deprovisioned, "DEPROVISIONED"));
    let (g_removed, u_removed) = h
        .sim
        .memberships()
        .into_iter()
        .find(|(g, u)| *g != everyone && *u != deprovisioned)
        .expect("a membership outside Everyone");
    assert!(h.sim.remove_member(&g_removed, &u_removed));
    let g_added = h
        .sim
        .groups()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .find(|g| *g != everyone && !h.sim.group_member_ids(g).contains(&live[2]))
        .expect("a group without live[2]");
    assert!(h.sim.add_member(&g_added, &live[2]));

    // Auto with a watermark is a delta run: it sees exactly these changes.
    let delta = h.run(ModeChoice::Auto).await;
    assert_eq!(
        delta.run.status,
        RunStatus::Succeeded,
        "{:?}",
        delta.run.error
    );
    assert_eq!(delta.run.mode, "delta");
    assert_eq!(delta.run.watermark_before.as_deref(), Some(w1.as_str()));
    let users = delta.run.counts["User"];
    assert!(
        users.upserts < live.len() as u64,
        "a delta run re-reads only changed users, not all {}: {users:?}",
        live.len()
    );
    assert!(users.updated >= 1, "{users:?}");
    assert_eq!(users.deleted, 1, "the deprovisioned user: {users:?}");

    let user = h.store.object(NAME, "User", &changed).unwrap().unwrap();
    assert_eq!(user.attributes["title"], "Changed Title");
    assert_eq!(user.last_seen_run, delta.run.id);
    assert!(
        h.store
            .object(NAME, "User", &deprovisioned)
            .unwrap()
            .is_none()
    );
    let removed = format!("{g_removed}:{u_removed}");
    let added = format!("{g_added}:{}", live[2]);
    assert!(
        h.store
            .object(NAME, "GroupMember", &removed)
            .unwrap()
            .is_none()
    );
    assert!(
        h.store
            .object(NAME, "GroupMember", &added)
            .unwrap()
            .is_some()
    );
    // The delta run stored the watermark it returned (it may equal w1 within the same second).
    assert_eq!(h.watermark(), delta.run.watermark_after);
    assert_eq!(
        h.store.watermark(NAME).unwrap().unwrap().run_id,
        Some(delta.run.id)
    );

    // The run history has both runs, newest first.
    let runs = h.store.runs(NAME, 10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.mode.as_str()).collect::<Vec<_>>(),
        ["delta", "full"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_deleted_user_disappears_after_the_next_full_run() {
    // `DeltaSource` `LastUpdated`: the lists alone (System Log deltas: `syslog.rs`).
    let mut h = Harness::with(
        OrgSpec::tiny(),
        "test-token",
        json!({"DeltaSource": "LastUpdated"}),
    )
    .await;
    let seed = h.run(ModeChoice::Full).await;
    assert_eq!(
        seed.run.status,
        RunStatus::Succeeded,
        "{:?}",
        seed.run.error
    );

    let victim = live_user_ids(&h.sim)[3].clone();
    assert!(h.store.object(NAME, "User", &victim).unwrap().is_some());
    assert!(h.sim.delete_user(&victim));

    // Okta's lists do not show deleted users, so a LastUpdated delta run cannot see the delete.
    let delta = h.run(ModeChoice::Delta).await;
    assert_eq!(
        delta.run.status,
        RunStatus::Succeeded,
        "{:?}",
        delta.run.error
    );
    assert!(
        h.store.object(NAME, "User", &victim).unwrap().is_some(),
        "a delta run must not (and cannot) detect a hard delete"
    );

    // The next full run completes the User scope without it: the host removes it.
    let full = h.run(ModeChoice::Full).await;
    assert_eq!(
        full.run.status,
        RunStatus::Succeeded,
        "{:?}",
        full.run.error
    );
    assert!(h.store.object(NAME, "User", &victim).unwrap().is_none());
    assert_eq!(full.run.counts["User"].removed, 1, "{:?}", full.run.counts);
    let mut dangling = 0;
    h.store
        .for_each_object(NAME, Some("GroupMember"), None, |m| {
            if m.external_id.ends_with(&format!(":{victim}")) {
                dangling += 1;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(dangling, 0, "the deleted user's memberships are gone too");
    assert_eq!(h.stored()["User"], live_user_ids(&h.sim).len() as u64);
}
