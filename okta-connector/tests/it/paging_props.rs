//! Property: a full import pages through every listing and emits every object exactly once —
//! for random page sizes, while random mutations hit the org between pages (users created,
//! updated, deprovisioned and deleted; members added and removed; groups created and deleted).
//!
//! The mutations are applied by the sink as batches arrive, so they land while the readers
//! (which run a few pages ahead of the sink) are in the middle of their listings. What may
//! legitimately differ is what was touched: an untouched object that existed throughout must
//! be emitted exactly once, and no object may be emitted twice at all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use connector_api::{Change, ChangeSink, Context, ImportRequest, Result};
use fixtures::{OrgSpec, Simulator};
use proptest::prelude::*;
use serde_json::json;

use crate::support::{connector, start};

#[derive(Debug, Clone)]
enum Mutation {
    CreateUser,
    UpdateUser(usize),
    Deprovision(usize),
    DeleteUser(usize),
    AddMember(usize, usize),
    RemoveMember(usize),
    CreateGroup,
    DeleteGroup(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::CreateUser),
        any::<usize>().prop_map(Mutation::UpdateUser),
        any::<usize>().prop_map(Mutation::Deprovision),
        any::<usize>().prop_map(Mutation::DeleteUser),
        (any::<usize>(), any::<usize>()).prop_map(|(g, u)| Mutation::AddMember(g, u)),
        any::<usize>().prop_map(Mutation::RemoveMember),
        Just(Mutation::CreateGroup),
        any::<usize>().prop_map(Mutation::DeleteGroup),
    ]
}

/// The org when the run started, and what the mutations touched.
#[derive(Debug, Default)]
struct Ledger {
    users: Vec<String>,
    deprovisioned: BTreeSet<String>,
    groups: Vec<String>,
    memberships: Vec<(String, String)>,
    touched_users: BTreeSet<String>,
    deleted_groups: BTreeSet<String>,
    touched_memberships: BTreeSet<(String, String)>,
    created: usize,
}

impl Ledger {
    fn of(sim: &Simulator) -> Self {
        let everyone = sim.everyone_group_id();
        let mut ledger = Ledger::default();
        for u in sim.users() {
            let id = u["id"].as_str().unwrap().to_owned();
            if u["status"] == "DEPROVISIONED" {
                ledger.deprovisioned.insert(id.clone());
            }
            ledger.users.push(id);
        }
        ledger.groups = sim
            .groups()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .filter(|g| *g != everyone)
            .collect();
        ledger.memberships = sim.memberships();
        ledger
    }

    fn apply(&mut self, sim: &Simulator, m: &Mutation) {
        let user = |i: usize| self.users[i % self.users.len()].clone();
        match *m {
            Mutation::CreateUser => {
                self.created += 1;
                sim.create_user(&format!("prop.new{}@example.com", self.created));
            }
            Mutation::UpdateUser(i) => {
                let u = user(i);
                sim.update_user_profile(&u, "title", json!("Moved On"));
                self.touched_users.insert(u);
            }
            Mutation::Deprovision(i) => {
                let u = user(i);
                sim.set_user_status(&u, "DEPROVISIONED");
                self.touched_users.insert(u);
            }
            Mutation::DeleteUser(i) => {
                let u = user(i);
                sim.delete_user(&u);
                self.touched_users.insert(u);
            }
            Mutation::AddMember(g, u) => {
                let (g, u) = (self.groups[g % self.groups.len()].clone(), user(u));
                sim.add_member(&g, &u);
                self.touched_memberships.insert((g, u));
            }
            Mutation::RemoveMember(i) => {
                let (g, u) = self.memberships[i % self.memberships.len()].clone();
                sim.remove_member(&g, &u);
                self.touched_memberships.insert((g, u));
            }
            Mutation::CreateGroup => {
                self.created += 1;
                sim.create_group(&format!("Prop Group {}", self.created));
            }
            Mutation::DeleteGroup(i) => {
                let g = self.groups[i % self.groups.len()].clone();
                sim.delete_group(&g);
                self.deleted_groups.insert(g);
            }
        }
    }
}

/// Keeps every change and applies the scheduled mutations when batch N arrives.
struct MutatingSink {
    sim: Arc<Simulator>,
    schedule: Vec<(usize, Mutation)>,
    ledger: Ledger,
    batches: usize,
    changes: Vec<Change>,
}

#[async_trait]
impl ChangeSink for MutatingSink {
    async fn send(&mut self, changes: Vec<Change>) -> Result<()> {
        for (_, m) in self.schedule.iter().filter(|(at, _)| *at == self.batches) {
            self.ledger.apply(&self.sim, m);
        }
        self.batches += 1;
        self.changes.extend(changes);
        Ok(())
    }
}

fn run_case(
    page_size: u32,
    group_page_size: u32,
    member_page_size: u32,
    schedule: Vec<(usize, Mutation)>,
) -> std::result::Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let sim = start(OrgSpec::tiny(), |_| {}).await;
        let conn = connector(
            &sim,
            json!({
                "PageSize": page_size,
                "GroupPageSize": group_page_size,
                "MemberPageSize": member_page_size,
                "MaxConcurrency": 3,
            }),
        );
        let ledger = Ledger::of(&sim);
        let mut sink = MutatingSink {
            sim: sim.clone(),
            schedule,
            ledger,
            batches: 0,
            changes: Vec::new(),
        };
        let (ctx, _logs) = Context::for_tests();
        let outcome = conn.import(&ctx, ImportRequest::full(), &mut sink).await;
        prop_assert!(outcome.is_ok(), "the run failed: {:?}", outcome.err());

        let mut upserts: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut deletes: BTreeMap<(String, String), usize> = BTreeMap::new();
        for c in &sink.changes {
            match c {
                Change::Upsert(o) => {
                    *upserts
                        .entry((o.object_type.to_string(), o.external_id.clone()))
                        .or_default() += 1;
                }
                Change::Delete {
                    object_type,
                    external_id,
                } => {
                    *deletes
                        .entry((object_type.to_string(), external_id.clone()))
                        .or_default() += 1;
                }
                _ => {}
            }
        }
        // No duplicates at all, whatever was touched.
        for (key, n) in upserts.iter().chain(deletes.iter()) {
            prop_assert_eq!(*n, 1, "{:?} emitted {} times", key, n);
        }
        let l = &sink.ledger;
        let count = |map: &BTreeMap<(String, String), usize>, t: &str, id: &str| {
            map.get(&(t.to_owned(), id.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        // Untouched users: exactly once (an upsert, or a delete if deprovisioned from the start).
        for u in &l.users {
            if l.touched_users.contains(u) {
                continue;
            }
            let (up, del) = (count(&upserts, "User", u), count(&deletes, "User", u));
            if l.deprovisioned.contains(u) {
                prop_assert_eq!((up, del), (0, 1), "deprovisioned user {}", u);
            } else {
                prop_assert_eq!((up, del), (1, 0), "user {}", u);
            }
        }
        // Groups that were not deleted: exactly once (member changes do not move them).
        for g in &l.groups {
            if !l.deleted_groups.contains(g) {
                prop_assert_eq!(count(&upserts, "Group", g), 1, "group {}", g);
            }
        }
        // Memberships whose group, user and pair were left alone: exactly once.
        for (g, u) in &l.memberships {
            if l.deleted_groups.contains(g)
                || l.touched_users.contains(u)
                || l.touched_memberships.contains(&(g.clone(), u.clone()))
            {
                continue;
            }
            let id = format!("{g}:{u}");
            prop_assert_eq!(count(&upserts, "GroupMember", &id), 1, "membership {}", id);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn every_object_exactly_once_under_random_pages_and_mutations(
        page_size in 1u32..=7,
        group_page_size in 1u32..=4,
        member_page_size in 1u32..=6,
        schedule in prop::collection::vec((0usize..16, mutation()), 0..16),
    ) {
        run_case(page_size, group_page_size, member_page_size, schedule)?;
    }
}
