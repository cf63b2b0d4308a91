//! System Log deltas (`DeltaSource` `"SystemLog"`, the default) through the host: hard deletes
//! and membership changes at the cost of the events, late events, an expired watermark and a
//! token that cannot read the log.

use std::collections::BTreeSet;
use std::time::Duration;

use fixtures::{FaultRule, OrgSpec, SimConfig, Simulator};
use host::runner::{ModeChoice, RunReport};
use host::store::RunStatus;
use serde_json::{Value, json};

use crate::support::{Harness, NAME, live_user_ids};

/// A harness around a simulator started with `tweak` applied to its configuration.
async fn harness(spec: OrgSpec, tweak: impl FnOnce(&mut SimConfig), extra: Value) -> Harness {
    let mut cfg = SimConfig::new(spec);
    tweak(&mut cfg);
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    Harness::on(sim, "test-token", extra)
}

/// (users, groups, memberships) by external id.
type State = (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>);

/// What a full import of the org stores.
fn org_state(sim: &Simulator) -> State {
    let users = live_user_ids(sim).into_iter().collect();
    let groups = sim
        .groups()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    let members = sim
        .memberships()
        .into_iter()
        .map(|(g, u)| format!("{g}:{u}"))
        .collect();
    (users, groups, members)
}

fn stored_state(h: &Harness) -> State {
    let ids = |t: &str| {
        let mut out = BTreeSet::new();
        h.store
            .for_each_object(NAME, Some(t), None, |o| {
                out.insert(o.external_id);
                Ok(())
            })
            .unwrap();
        out
    };
    (ids("User"), ids("Group"), ids("GroupMember"))
}

fn assert_succeeded(r: &RunReport, mode: &str) {
    assert_eq!(r.run.status, RunStatus::Succeeded, "{:?}", r.run.error);
    assert_eq!(r.run.mode, mode);
}

/// Requests per rate-limit bucket since the last reset.
fn requests(sim: &Simulator, bucket: &str) -> u64 {
    sim.stats()
        .requests_by_bucket
        .get(bucket)
        .copied()
        .unwrap_or(0)
}

fn largest_group(sim: &Simulator) -> String {
    let everyone = sim.everyone_group_id();
    sim.groups()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .filter(|g| *g != everyone)
        .max_by_key(|g| sim.group_member_ids(g).len())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_delta_applies_hard_deletes_and_membership_changes_without_member_lists() {
    let mut h = harness(OrgSpec::small(), |_| {}, json!({})).await;
    assert_succeeded(&h.run(ModeChoice::Full).await, "full");
    assert_eq!(stored_state(&h), org_state(&h.sim));
    let sim = &h.sim;
    let everyone = sim.everyone_group_id();
    let largest = largest_group(sim);
    // A user in several groups, hard-deleted.
    let mut groups_of: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, u) in sim.memberships() {
        *groups_of.entry(u).or_default() += 1;
    }
    let victim = live_user_ids(sim)
        .into_iter()
        .find(|u| groups_of.get(u).copied().unwrap_or(0) >= 3)
        .expect("a user in several groups");
    assert!(sim.delete_user(&victim));
    // Everyone: a new user joins, the deleted one left. The largest group: one in, one out.
    let newcomer = sim.create_user("new.comer@example.com");
    let members = sim.group_member_ids(&largest);
    let outsider = live_user_ids(sim)
        .into_iter()
        .find(|u| !members.contains(u))
        .unwrap();
    assert!(sim.add_member(&largest, &outsider));
    let leaver = members.iter().find(|u| **u != victim).unwrap().clone();
    assert!(sim.remove_member(&largest, &leaver));
    assert!(sim.add_member(&largest, &newcomer));
    // A group deleted with its members.
    let doomed = sim
        .groups()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .find(|g| *g != everyone && *g != largest && !sim.group_member_ids(g).is_empty())
        .unwrap();
    assert!(sim.delete_group(&doomed));
    sim.reset_stats();

    let delta = h.run(ModeChoice::Auto).await;
    assert_succeeded(&delta, "delta");
    assert_eq!(
        stored_state(&h),
        org_state(&h.sim),
        "the store equals the org"
    );
    assert_eq!(
        requests(&h.sim, "/api/v1/groups/{id}"),
        0,
        "no member list read: {:?}",
        h.sim.stats().requests_by_bucket
    );
    assert!(requests(&h.sim, "/api/v1/logs") >= 1);
    assert!(
        h.watermark().unwrap().contains("\"l\":"),
        "{:?}",
        h.watermark()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_out_of_order_events_are_caught_by_the_next_delta() {
    // Events become visible up to 60 s (server time) late; the cursor trails by 120 s.
    let mut h = harness(
        OrgSpec::small(),
        |c| c.log_lag = Duration::from_secs(60),
        json!({}),
    )
    .await;
    assert_succeeded(&h.run(ModeChoice::Full).await, "full");
    let before = org_state(&h.sim);
    let sim = &h.sim;
    let largest = largest_group(sim);
    let members = sim.group_member_ids(&largest);
    let outsiders: Vec<String> = live_user_ids(sim)
        .into_iter()
        .filter(|u| !members.contains(u))
        .take(10)
        .collect();
    for (i, u) in outsiders.iter().enumerate() {
        assert!(sim.add_member(&largest, u));
        assert!(sim.remove_member(&largest, &members[i]));
    }
    let victims: Vec<String> = live_user_ids(sim).into_iter().rev().take(3).collect();
    for v in &victims {
        assert!(sim.delete_user(v));
    }

    let first = h.run(ModeChoice::Delta).await;
    assert_succeeded(&first, "delta");
    // Nothing that exists was deleted, whatever the log showed yet.
    let now = org_state(&h.sim);
    let stored = stored_state(&h);
    for (kind, (was, is, got)) in [
        ("users", (&before.0, &now.0, &stored.0)),
        ("groups", (&before.1, &now.1, &stored.1)),
        ("memberships", (&before.2, &now.2, &stored.2)),
    ] {
        let missing: Vec<&String> = was.intersection(is).filter(|x| !got.contains(*x)).collect();
        assert!(
            missing.is_empty(),
            "{kind} deleted although they exist: {missing:?}"
        );
    }

    h.sim.clock().advance(Duration::from_secs(61));
    let second = h.run(ModeChoice::Delta).await;
    assert_succeeded(&second, "delta");
    assert_eq!(
        stored_state(&h),
        org_state(&h.sim),
        "the late events are applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_older_than_the_log_fails_the_delta_and_auto_runs_full() {
    let mut h = Harness::after_full_run(OrgSpec::tiny()).await;
    h.sim.clock().advance(Duration::from_secs(91 * 86_400));
    let victim = live_user_ids(&h.sim)[2].clone();
    assert!(h.sim.delete_user(&victim));

    let delta = h.run(ModeChoice::Delta).await;
    assert_eq!(delta.run.status, RunStatus::Failed);
    let error = delta.run.error.as_ref().unwrap();
    assert_eq!(error.kind, "watermark_expired", "{error:?}");
    assert!(error.message.contains("full import"), "{}", error.message);
    assert!(delta.fell_back_to_full.is_none());

    let auto = h.run(ModeChoice::Auto).await;
    assert_succeeded(&auto, "full");
    let why = auto
        .fell_back_to_full
        .as_deref()
        .expect("says why it ran full");
    assert!(why.contains("watermark"), "{why}");
    let history = h.store.runs(NAME, 10).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|r| (r.mode.as_str(), r.status))
            .collect::<Vec<_>>(),
        [
            ("full", RunStatus::Succeeded),
            ("delta", RunStatus::Failed),
            ("delta", RunStatus::Failed),
            ("full", RunStatus::Succeeded)
        ]
    );
    assert_eq!(stored_state(&h), org_state(&h.sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_read_the_log_fails_with_the_remedy_and_last_updated_still_works() {
    let mut h = Harness::after_full_run(OrgSpec::tiny()).await;
    h.sim.faults().push(
        "status:403@/api/v1/logs#always"
            .parse::<FaultRule>()
            .unwrap(),
    );
    let victim = live_user_ids(&h.sim)[1].clone();
    let title = |h: &Harness| {
        h.store
            .object(NAME, "User", &victim)
            .unwrap()
            .unwrap()
            .attributes["title"]
            .clone()
    };
    let before = title(&h);
    assert!(
        h.sim
            .update_user_profile(&victim, "title", json!("Changed"))
    );

    let delta = h.run(ModeChoice::Auto).await;
    assert_eq!(delta.run.status, RunStatus::Failed);
    assert!(delta.fell_back_to_full.is_none(), "no silent fallback");
    let error = delta.run.error.as_ref().unwrap();
    assert_eq!(error.kind, "permission_denied", "{error:?}");
    for hint in ["okta.logs.read", "DeltaSource", "LastUpdated"] {
        assert!(error.message.contains(hint), "{hint}: {}", error.message);
    }
    assert_eq!(title(&h), before, "the failed delta stored nothing");

    h.reconfigure("test-token", json!({"DeltaSource": "LastUpdated"}));
    let last_updated = h.run(ModeChoice::Delta).await;
    assert_succeeded(&last_updated, "delta");
    assert_eq!(requests(&h.sim, "/api/v1/logs"), 1, "only the refused read");
    assert_eq!(title(&h), "Changed");
}

/// Must show: on an org with a 5,000-member group, after hard-deleting one of its members and
/// adding another, one delta run (no full run) leaves the store equal to the org with at most
/// 10 requests and no request to that group's member list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5000_member_group_costs_a_few_requests_after_a_delete_and_an_add() {
    let spec = OrgSpec {
        users: 5_600,
        groups: 10,
        memberships: 2_000,
        apps: 2,
    };
    let mut h = harness(spec, |_| {}, json!({})).await;
    let big = h.sim.create_group("All Staff");
    let users = live_user_ids(&h.sim);
    for u in &users[..5_000] {
        assert!(h.sim.add_member(&big, u));
    }
    // The group exists well before the full run (not within the delta's look-back).
    h.sim.clock().advance(Duration::from_secs(3600));
    assert_succeeded(&h.run(ModeChoice::Full).await, "full");
    assert_eq!(h.sim.group_member_ids(&big).len(), 5_000);
    assert_eq!(stored_state(&h), org_state(&h.sim));

    assert!(h.sim.delete_user(&users[17]));
    assert!(h.sim.add_member(&big, &users[5_050]));
    h.sim.reset_stats();
    let delta = h.run(ModeChoice::Auto).await;
    assert_succeeded(&delta, "delta");
    let stats = h.sim.stats();
    assert!(stats.requests_total <= 10, "{:?}", stats.requests_by_bucket);
    assert_eq!(
        requests(&h.sim, "/api/v1/groups/{id}"),
        0,
        "no member list read"
    );
    assert_eq!(
        stored_state(&h),
        org_state(&h.sim),
        "the store equals the org"
    );
}
