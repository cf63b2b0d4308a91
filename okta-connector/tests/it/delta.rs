//! Delta runs: exactly the changes, only the groups whose membership changed, nothing lost.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use connector_api::{Change, ChangeSink, Context, ImportRequest, Result, Scope};
use fixtures::{OrgSpec, Simulator};
use serde_json::json;

use crate::support::{Expected, Replica, connector, delta, full, import, start};

fn active_users(sim: &Simulator) -> Vec<String> {
    Expected::of(sim)
        .users
        .into_iter()
        .filter(|(_, u)| u["status"] == "ACTIVE")
        .map(|(id, _)| id)
        .collect()
}

/// A group (not Everyone) with at least two members, and a user not in it.
fn group_with_members(sim: &Simulator, skip: &[String]) -> (String, Vec<String>) {
    let everyone = sim.everyone_group_id();
    for g in sim.groups() {
        let id = g["id"].as_str().unwrap().to_owned();
        if id == everyone || skip.contains(&id) {
            continue;
        }
        let members = sim.group_member_ids(&id);
        if members.len() >= 2 {
            return (id, members);
        }
    }
    panic!("no group with members");
}

#[tokio::test]
async fn delta_emits_exactly_the_changes_and_reads_only_changed_groups() {
    // `LastUpdated`: a changed group's member list is read in full (System Log deltas:
    // `syslog.rs`).
    let sim = start(OrgSpec::small(), |_| {}).await;
    let conn = connector(
        &sim,
        json!({"MemberPageSize": 50, "DeltaSource": "LastUpdated"}),
    );
    let first = full(&*conn).await;

    // Move the server clock past the safety margin, then change the org.
    sim.clock().advance(Duration::from_secs(3600));
    let users = active_users(&sim);
    let (updated, suspended, deactivated) = (&users[0], &users[1], &users[2]);
    assert!(sim.update_user_profile(updated, "title", json!("Chief Tester")));
    assert!(sim.set_user_status(suspended, "SUSPENDED"));
    assert!(sim.set_user_status(deactivated, "DEPROVISIONED"));
    let (grown, grown_members) = group_with_members(&sim, &[]);
    let newcomer = users
        .iter()
        .find(|u| !grown_members.contains(u))
        .unwrap()
        .clone();
    assert!(sim.add_member(&grown, &newcomer));
    let (shrunk, shrunk_members) = group_with_members(&sim, std::slice::from_ref(&grown));
    let leaver = shrunk_members[0].clone();
    assert!(sim.remove_member(&shrunk, &leaver));
    sim.reset_stats();

    let second = delta(&*conn, &first).await;

    // Users: exactly the three changes.
    let upserted = second.upserted("User");
    assert_eq!(
        upserted,
        BTreeSet::from([updated.clone(), suspended.clone()])
    );
    assert_eq!(
        second.upserts("User")[updated].attributes["title"],
        "Chief Tester"
    );
    assert_eq!(
        second.upserts("User")[suspended].attributes["accountEnabled"],
        false
    );
    assert_eq!(
        second.deleted("User"),
        BTreeSet::from([deactivated.clone()])
    );

    // Groups: the two whose membership changed (their lastMembershipUpdated moved).
    assert_eq!(
        second.upserted("Group"),
        BTreeSet::from([grown.clone(), shrunk.clone()])
    );
    // Memberships: both groups re-read completely, each a complete scope, nothing else.
    let completed: BTreeSet<Scope> = second.completed().into_iter().collect();
    assert_eq!(
        completed,
        BTreeSet::from([
            Scope::within("GroupMember", grown.clone()),
            Scope::within("GroupMember", shrunk.clone())
        ])
    );
    let members = second.upserted("GroupMember");
    assert!(members.contains(&format!("{grown}:{newcomer}")));
    assert!(!members.contains(&format!("{shrunk}:{leaver}")));
    let expected_members: BTreeSet<String> = sim
        .group_member_ids(&grown)
        .iter()
        .map(|u| format!("{grown}:{u}"))
        .chain(
            sim.group_member_ids(&shrunk)
                .iter()
                .map(|u| format!("{shrunk}:{u}")),
        )
        .collect();
    assert_eq!(members, expected_members);

    // Requests: one users page, one groups page, and only the two changed groups' members.
    let stats = sim.stats();
    let by = &stats.requests_by_bucket;
    assert_eq!(by["/api/v1/users"], 1, "{by:?}");
    assert_eq!(by["/api/v1/groups"], 1, "{by:?}");
    let member_pages: u64 = [&grown, &shrunk]
        .iter()
        .map(|g| (sim.group_member_ids(g).len() as u64).div_ceil(50).max(1))
        .sum();
    assert_eq!(by["/api/v1/groups/{id}"], member_pages, "{by:?}");

    // Applied to the full run's result, the delta gives exactly a fresh full run's result
    // (except the removed membership, which the completed group scope deletes).
    let mut replica = Replica::default();
    replica.apply(&first);
    replica.apply(&second);
    let fresh = full(&*conn).await;
    let mut truth = Replica::default();
    truth.apply(&fresh);
    assert_eq!(replica.objects, truth.objects);

    // The next delta, with no change in between, at most re-delivers what changed within the
    // safety margin before the second run started — unchanged.
    sim.clock().advance(Duration::from_secs(3600));
    let third = delta(&*conn, &second).await;
    let recent = BTreeSet::from([updated.clone(), suspended.clone()]);
    assert!(
        third.upserted("User").is_subset(&recent),
        "{:?}",
        third.upserted("User")
    );
    assert!(
        third
            .deleted("User")
            .is_subset(&BTreeSet::from([deactivated.clone()]))
    );
    for t in ["User", "Group", "GroupMember"] {
        for (id, redelivered) in third.upserts(t) {
            let stored = replica.objects.get(&(t.to_owned(), id.clone()));
            assert_eq!(
                stored,
                Some(&redelivered),
                "{t} {id} is re-delivered unchanged"
            );
        }
    }
}

/// Mutates a user of the first page the sink receives, once, while the run is still paging.
struct MutateWhilePaging {
    sim: Arc<Simulator>,
    changes: Vec<Change>,
    mutated: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl ChangeSink for MutateWhilePaging {
    async fn send(&mut self, changes: Vec<Change>) -> Result<()> {
        let mut mutated = self.mutated.lock().unwrap();
        if mutated.is_none() {
            let first_user = changes.iter().find_map(|c| match c {
                Change::Upsert(o) if o.object_type == "User" => Some(o.external_id.clone()),
                _ => None,
            });
            if let Some(id) = first_user {
                assert!(
                    self.sim
                        .update_user_profile(&id, "title", json!("changed mid-run"))
                );
                *mutated = Some(id);
            }
        }
        drop(mutated);
        self.changes.extend(changes);
        Ok(())
    }
}

#[tokio::test]
async fn user_updated_while_a_full_run_is_paging_is_in_the_next_delta() {
    let sim = start(OrgSpec::tiny(), |c| {
        c.latency.per_request = Duration::from_millis(5);
    })
    .await;
    let conn = connector(&sim, json!({"PageSize": 3}));
    let (ctx, _logs) = Context::for_tests();
    let mutated = Arc::new(Mutex::new(None));
    let mut sink = MutateWhilePaging {
        sim: sim.clone(),
        changes: Vec::new(),
        mutated: mutated.clone(),
    };
    let outcome = conn
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .expect("full run");
    let id = mutated
        .lock()
        .unwrap()
        .clone()
        .expect("a user was changed mid-run");
    // The full run read the user before the change...
    let before = sink
        .changes
        .iter()
        .find_map(|c| match c {
            Change::Upsert(o) if o.external_id == id => Some(o.clone()),
            _ => None,
        })
        .unwrap();
    assert_ne!(
        before.attributes.get("title"),
        Some(&json!("changed mid-run"))
    );
    // ...and the next delta delivers the change.
    let run = import(&*conn, ImportRequest::delta(outcome.watermark.unwrap())).await;
    let users = run.upserts("User");
    assert_eq!(users[&id].attributes["title"], "changed mid-run");
}

#[tokio::test]
async fn change_just_before_a_run_survives_eventually_consistent_search() {
    // `search` answers from a snapshot up to 60 s (server time) old.
    let sim = start(OrgSpec::tiny(), |c| {
        c.time_scale = 1.0;
        c.search_lag = Duration::from_secs(60);
    })
    .await;
    let conn = connector(&sim, json!({"UserSearchFilter": "status pr"}));
    let id = active_users(&sim)[0].clone();
    sim.clock().advance(Duration::from_secs(120));
    assert!(sim.update_user_profile(&id, "title", json!("just before")));
    let first = full(&*conn).await;
    let stale = &first.upserts("User")[&id];
    assert_ne!(
        stale.attributes.get("title"),
        Some(&json!("just before")),
        "the search snapshot predates the change"
    );
    // Once the snapshot catches up, the delta (search + lastUpdated) still reaches back far
    // enough to find the change.
    sim.clock().advance(Duration::from_secs(61));
    let second = delta(&*conn, &first).await;
    assert_eq!(
        second.upserts("User")[&id].attributes["title"],
        "just before"
    );
}

#[tokio::test]
async fn delta_with_a_search_filter_uses_search_only() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, json!({"UserSearchFilter": "status eq \"ACTIVE\""}));
    let first = full(&*conn).await;
    let want = Expected::of(&sim);
    let active: BTreeSet<String> = want
        .users
        .iter()
        .filter(|(_, u)| u["status"] == "ACTIVE")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(first.upserted("User"), active);
    sim.clock().advance(Duration::from_secs(3600));
    let id = active.iter().next().unwrap().clone();
    assert!(sim.update_user_profile(&id, "title", json!("searched")));
    let second = delta(&*conn, &first).await;
    assert_eq!(second.upserted("User"), BTreeSet::from([id]));
    let started = second.events("run_started");
    let plan = started[0].message.clone();
    assert!(
        plan.contains("search=(status eq \"ACTIVE\") and lastUpdated gt"),
        "{plan}"
    );
    assert!(!plan.contains("filter="), "{plan}");
}
