//! Apps, app assignments, admin roles, factors and group rules against the simulator: a full
//! import with every switch stores exactly the org's objects; a delta after one change of
//! each picks up exactly those changes; custom attributes only with `ImportCustomAttributes`;
//! `accountEnabled` false for every non-ACTIVE user. Prints the requests each run cost.

use std::collections::{BTreeMap, BTreeSet};

use connector_api::Object;
use fixtures::{OrgSpec, Simulator};
use serde_json::{Value, json};

use crate::support::{Replica, connector, delta, full, start};

const TYPES: [&str; 6] = [
    "App",
    "AppUser",
    "AppGroup",
    "RoleAssignment",
    "UserFactor",
    "GroupRule",
];

fn spec() -> OrgSpec {
    OrgSpec {
        users: 150,
        groups: 24,
        memberships: 400,
        apps: 6,
    }
}

fn every_switch() -> Value {
    json!({
        "ImportApps": true, "ImportAppAssignments": true, "ImportRoles": true,
        "ImportFactors": true, "ImportGroupRules": true, "ImportCustomAttributes": true,
    })
}

fn s(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

/// What the simulator holds of the access types, keyed as the connector keys them, with the
/// attribute each is checked on.
fn truth(sim: &Simulator) -> BTreeMap<(&'static str, String), Value> {
    let mut out = BTreeMap::new();
    let deprovisioned: BTreeSet<String> = sim
        .users()
        .iter()
        .filter(|u| u["status"] == "DEPROVISIONED")
        .map(|u| s(&u["id"]))
        .collect();
    for a in sim.apps() {
        let id = s(&a["id"]);
        for u in sim.app_users(&id) {
            out.insert(
                ("AppUser", format!("{id}:{}", s(&u["id"]))),
                u["scope"].clone(),
            );
        }
        for g in sim.app_group_ids(&id) {
            out.insert(("AppGroup", format!("{id}:{g}")), Value::Null);
        }
        out.insert(("App", id), a["label"].clone());
    }
    for (p, r) in sim.role_assignments() {
        let (groups, apps) = sim.role_targets(r["id"].as_str().unwrap());
        let v = json!([r["type"], groups, apps]);
        out.insert(("RoleAssignment", format!("{p}:{}", s(&r["id"]))), v);
    }
    for (u, f) in sim.factors() {
        if !deprovisioned.contains(&u) {
            out.insert(
                ("UserFactor", format!("{u}:{}", s(&f["id"]))),
                f["status"].clone(),
            );
        }
    }
    for r in sim.group_rules() {
        out.insert(("GroupRule", s(&r["id"])), r["status"].clone());
    }
    out
}

/// The replica's access objects, reduced to what [`truth`] checks.
fn stored(replica: &Replica) -> BTreeMap<(&'static str, String), Value> {
    let mut out = BTreeMap::new();
    for ((t, id), o) in &replica.objects {
        let Some(t) = TYPES.iter().find(|x| **x == t.as_str()) else {
            continue;
        };
        let a = &o.attributes;
        let v = match *t {
            "App" => a["label"].clone(),
            "AppUser" => a["scope"].clone(),
            "AppGroup" => Value::Null,
            "RoleAssignment" => json!([a["roleType"], a["targetGroupIds"], a["targetApps"]]),
            "UserFactor" | "GroupRule" => a["status"].clone(),
            _ => unreachable!(),
        };
        out.insert((*t, id.clone()), v);
    }
    out
}

fn access_objects(replica: &Replica) -> BTreeMap<(String, String), Object> {
    replica
        .objects
        .iter()
        .filter(|((t, _), _)| TYPES.contains(&t.as_str()))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect()
}

fn requests(sim: &Simulator, what: &str) {
    let st = sim.stats();
    println!(
        "{what}: {} requests {:?}",
        st.requests_total, st.requests_by_bucket
    );
}

#[tokio::test]
async fn full_import_with_every_switch_stores_exactly_the_org() {
    let sim = start(spec(), |_| {}).await;
    let conn = connector(&sim, every_switch());
    sim.reset_stats();
    let run = full(&*conn).await;
    requests(&sim, "full, every switch");
    let mut replica = Replica::default();
    replica.apply(&run);
    let want = truth(&sim);
    for t in TYPES {
        assert!(want.keys().any(|(x, _)| *x == t), "the org has no {t}");
    }
    assert_eq!(stored(&replica), want);
    // Role assignments of both principal types, standard and custom, with targets.
    let roles = run.upserts("RoleAssignment");
    let kinds: BTreeSet<&str> = roles
        .values()
        .map(|o| o.attributes["principalType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["GROUP", "USER"]));
    assert!(
        roles.values().any(
            |o| o.attributes["roleType"] == "CUSTOM" && o.attributes["resourceSet"].is_string()
        )
    );
    // The runbook's rules on users.
    let users = run.upserts("User");
    for u in users.values() {
        let a = &u.attributes;
        assert_eq!(a["accountEnabled"], a["status"] == "ACTIVE", "{a:?}");
        assert!(
            a["type"]["id"].is_string(),
            "type is the whole object: {a:?}"
        );
        assert!(
            a["custom.seniority"].is_u64() && a["custom.fte"].is_f64(),
            "{a:?}"
        );
        assert!(a["custom.scores"].is_array() && a["custom.floors"].is_array());
        assert!(a["custom.isContractor"].is_boolean() && a["custom.hireDate"].is_string());
    }
    assert!(users.values().any(|u| u.attributes["status"] != "ACTIVE"));
}

#[tokio::test]
async fn custom_attributes_only_with_the_switch() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let run = full(&*connector(&sim, json!({}))).await;
    let users = run.upserts("User");
    assert!(!users.is_empty());
    for u in users.values() {
        assert!(
            !u.attributes.keys().any(|k| k.starts_with("custom.")),
            "{u:?}"
        );
        assert_eq!(
            u.attributes["accountEnabled"],
            u.attributes["status"] == "ACTIVE"
        );
    }
    for t in TYPES {
        assert_eq!(run.upsert_count(t), 0, "{t} is off by default");
    }
}

#[tokio::test]
async fn delta_picks_up_exactly_one_change_of_each() {
    let sim = start(spec(), |_| {}).await;
    let conn = connector(&sim, every_switch());
    let first = full(&*conn).await;
    let mut replica = Replica::default();
    replica.apply(&first);
    let before = access_objects(&replica);

    let app = s(&sim.apps()[1]["id"]);
    let assigned: BTreeSet<String> = sim.app_users(&app).iter().map(|u| s(&u["id"])).collect();
    let user = sim
        .users()
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| s(&u["id"]))
        .find(|u| !assigned.contains(u))
        .expect("an unassigned active user");
    let group = sim.create_group("Delta access test");
    let (holder, old_role) = sim
        .role_assignments()
        .into_iter()
        .find(|(_, r)| r["assignmentType"] == "USER")
        .map(|(p, r)| (p, s(&r["id"])))
        .unwrap();
    let (factor_user, old_factor) = sim
        .factors()
        .into_iter()
        .find(|(u, _)| {
            sim.users()
                .iter()
                .any(|x| x["id"] == u.as_str() && x["status"] == "ACTIVE")
        })
        .map(|(u, f)| (u, s(&f["id"])))
        .unwrap();
    let rule = sim.group_rules()[0].clone();
    let new_status = if rule["status"] == "ACTIVE" {
        "INACTIVE"
    } else {
        "ACTIVE"
    };

    assert!(sim.update_app_label(&app, "Renamed by the delta test"));
    assert!(sim.assign_app_user(&app, &user));
    assert!(sim.assign_app_group(&app, &group));
    let new_role = sim.assign_role(&user, "REPORT_ADMIN").unwrap();
    assert!(sim.unassign_role(&holder, &old_role));
    let new_factor = sim.enroll_factor(&user, "push").unwrap();
    assert!(sim.reset_factor(&factor_user, &old_factor));
    assert!(sim.set_group_rule_status(rule["id"].as_str().unwrap(), new_status));

    sim.reset_stats();
    let second = delta(&*conn, &first).await;
    requests(&sim, "delta, every switch");
    replica.apply(&second);
    assert_eq!(stored(&replica), truth(&sim));
    let after = access_objects(&replica);
    let changed: BTreeSet<(String, String)> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    let k = |t: &str, id: String| (t.to_owned(), id);
    let want = BTreeSet::from([
        k("App", app.clone()),
        k("AppUser", format!("{app}:{user}")),
        k("AppGroup", format!("{app}:{group}")),
        k("RoleAssignment", format!("{user}:{new_role}")),
        k("RoleAssignment", format!("{holder}:{old_role}")),
        k("UserFactor", format!("{user}:{new_factor}")),
        k("UserFactor", format!("{factor_user}:{old_factor}")),
        k("GroupRule", s(&rule["id"])),
    ]);
    assert_eq!(changed, want);
    assert_eq!(
        after[&k("App", app)].attributes["label"],
        "Renamed by the delta test"
    );
}

#[tokio::test]
async fn group_search_filter_completes_only_the_filtered_groups() {
    let sim = start(spec(), |_| {}).await;
    let filter = "type eq \"APP_GROUP\"";
    let in_filter: BTreeSet<String> = sim
        .groups()
        .iter()
        .filter(|g| g["type"] == "APP_GROUP")
        .map(|g| s(&g["id"]))
        .collect();
    let outside: BTreeSet<String> = sim
        .groups()
        .iter()
        .map(|g| s(&g["id"]))
        .filter(|g| !in_filter.contains(g))
        .collect();
    assert!(!in_filter.is_empty() && !outside.is_empty());

    // An earlier unfiltered run stored every group.
    let mut replica = Replica::default();
    replica.apply(&full(&*connector(&sim, json!({}))).await);
    let conn = connector(&sim, json!({"GroupSearchFilter": filter}));
    let run = full(&*conn).await;
    assert_eq!(run.upserted("Group"), in_filter);
    let members: BTreeSet<String> = sim
        .memberships()
        .into_iter()
        .filter(|(g, _)| in_filter.contains(g))
        .map(|(g, u)| format!("{g}:{u}"))
        .collect();
    assert_eq!(run.upserted("GroupMember"), members);
    let completed = run.completed();
    assert!(!completed.contains(&connector_api::Scope::whole("Group")));
    assert!(!completed.contains(&connector_api::Scope::whole("GroupMember")));
    for g in &in_filter {
        assert!(completed.contains(&connector_api::Scope::within("GroupMember", g.clone())));
    }
    // Groups outside the filter, and their members, stay stored.
    replica.apply(&run);
    for g in &outside {
        assert!(
            replica
                .objects
                .contains_key(&("Group".to_owned(), g.clone())),
            "{g} kept"
        );
    }
    assert!(replica.objects.keys().any(|(t, id)| t == "GroupMember" && outside.iter().any(|g| id.starts_with(g.as_str()))));

    // A delta sees member changes inside the filter only.
    let user = s(&sim.users()[0]["id"]);
    let g_in = in_filter
        .iter()
        .find(|g| !sim.group_member_ids(g).contains(&user))
        .unwrap()
        .clone();
    let g_out = outside
        .iter()
        .find(|g| !sim.group_member_ids(g).contains(&user) && **g != sim.everyone_group_id())
        .unwrap()
        .clone();
    assert!(sim.add_member(&g_in, &user) && sim.add_member(&g_out, &user));
    let second = delta(&*conn, &run).await;
    let got = second.upserted("GroupMember");
    assert!(got.contains(&format!("{g_in}:{user}")));
    assert!(
        !got.iter().any(|m| m.starts_with(g_out.as_str())),
        "{got:?}"
    );
}

#[tokio::test]
async fn an_invalid_group_search_filter_is_a_configuration_error() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(
        &sim,
        json!({"GroupSearchFilter": "profile.name zz \"IM-\""}),
    );
    let run = crate::support::import(&*conn, connector_api::ImportRequest::full()).await;
    let err = run.result.as_ref().expect_err("the run must fail");
    assert_eq!(err.kind(), connector_api::ErrorKind::InvalidConfig, "{err}");
    assert!(
        err.message().contains("Okta rejected GroupSearchFilter"),
        "{err}"
    );
    assert!(err.remediation().unwrap().contains("Fix GroupSearchFilter"));
    assert_eq!(err.vendor().unwrap().code.as_deref(), Some("E0000031"));
}

#[tokio::test]
async fn check_probes_every_switch_and_the_group_filter() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let mut config = every_switch();
    config["GroupSearchFilter"] = json!("type eq \"OKTA_GROUP\"");
    let conn = connector(&sim, config);
    let (ctx, _) = connector_api::Context::for_tests();
    let report = conn.check(&ctx).await.expect("check passes");
    for want in [
        "GroupSearchFilter",
        "GET /api/v1/apps",
        "GET /api/v1/iam/assignees/users",
        "/factors",
        "GET /api/v1/groups/rules",
    ] {
        assert!(
            report.checks.iter().any(|c| c.contains(want)),
            "{want}: {report:?}"
        );
    }
    let bad = connector(&sim, json!({"GroupSearchFilter": "profile.name zz \"x\""}));
    let err = bad
        .check(&ctx)
        .await
        .expect_err("a rejected filter fails check");
    assert_eq!(err.kind(), connector_api::ErrorKind::InvalidConfig, "{err}");
}
