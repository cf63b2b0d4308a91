//! A full import of a generated org equals the org.

use connector_api::{Scope, Watermark};
use fixtures::OrgSpec;
use okta_connector::watermark::OktaWatermark;
use serde_json::json;

use crate::support::{Expected, connector, full, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_import_equals_the_org() {
    let sim = start(OrgSpec::small(), |_| {}).await;
    // Small pages so every listing spans many pages, `Everyone` (1,000 members) included.
    let conn = connector(
        &sim,
        json!({"PageSize": 50, "GroupPageSize": 7, "MemberPageSize": 40}),
    );
    let run = full(&*conn).await;
    let want = Expected::of(&sim);
    assert!(
        !want.deprovisioned.is_empty(),
        "the org has deprovisioned users"
    );

    // Users: every non-deprovisioned user upserted once, every deprovisioned one deleted.
    assert_eq!(run.upserted("User"), want.users.keys().cloned().collect());
    assert_eq!(run.upsert_count("User"), want.users.len());
    assert_eq!(run.deleted("User"), want.deprovisioned);
    let statuses: std::collections::BTreeSet<String> = want
        .users
        .values()
        .map(|u| u["status"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        statuses.len() >= 4,
        "several statuses are covered: {statuses:?}"
    );
    for (id, object) in run.upserts("User") {
        let served = &want.users[&id];
        for (attr, field) in [
            ("status", &served["status"]),
            ("lastUpdated", &served["lastUpdated"]),
            ("created", &served["created"]),
            ("lastLogin", &served["lastLogin"]),
            ("login", &served["profile"]["login"]),
            ("email", &served["profile"]["email"]),
            // The whole user type object, as Okta gives it (it used to be only its id).
            ("type", &served["type"]),
        ] {
            assert_eq!(
                &object.attributes[attr], field,
                "user {id} attribute {attr}"
            );
        }
        // The runbook's rule: enabled only when ACTIVE (PASSWORD_EXPIRED, LOCKED_OUT and
        // RECOVERY used to count as enabled too).
        let enabled = served["status"] == "ACTIVE";
        assert_eq!(object.attributes["accountEnabled"], enabled, "user {id}");
        // Custom profile attributes only with ImportCustomAttributes (off here).
        assert!(
            !object.attributes.keys().any(|k| k.starts_with("custom.")),
            "user {id}"
        );
    }

    // Groups.
    assert_eq!(run.upserted("Group"), want.groups.keys().cloned().collect());
    for (id, object) in run.upserts("Group") {
        let served = &want.groups[&id];
        assert_eq!(object.attributes["name"], served["profile"]["name"]);
        assert_eq!(object.attributes["type"], served["type"]);
        assert_eq!(
            object.attributes["lastMembershipUpdated"],
            served["lastMembershipUpdated"]
        );
        let classes: Vec<&str> = served["objectClass"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(object.attributes["objectClass"], classes.join(","));
    }

    // Memberships: every one, exactly once, `<groupId>:<userId>` in the group's scope.
    assert_eq!(run.upserted("GroupMember"), want.memberships);
    assert_eq!(run.upsert_count("GroupMember"), want.memberships.len());
    for (id, object) in run.upserts("GroupMember") {
        let (g, u) = id.split_once(':').unwrap();
        assert_eq!(object.scope.as_deref(), Some(g));
        assert_eq!(object.attributes["groupId"], g);
        assert_eq!(object.attributes["memberId"], u);
        assert_eq!(object.attributes["memberType"], "User");
    }
    let everyone = sim.everyone_group_id();
    let everyone_pages = run
        .events("page_fetched")
        .iter()
        .filter(|r| r.fields.get("group").and_then(|g| g.as_str()) == Some(everyone.as_str()))
        .count();
    assert!(
        everyone_pages >= 25,
        "Everyone spans many pages: {everyone_pages}"
    );

    // Completeness markers: each type, and each group's member list.
    let completed = run.completed();
    for t in ["User", "Group", "GroupMember"] {
        assert!(completed.contains(&Scope::whole(t)), "{t} complete");
    }
    for g in want.groups.keys() {
        assert!(
            completed.contains(&Scope::within("GroupMember", g.clone())),
            "{g} complete"
        );
    }
    assert_eq!(completed.len(), 3 + want.groups.len());

    // The watermark covers users and groups, and its advance is logged.
    let wm = OktaWatermark::parse(run.outcome().watermark.as_ref().unwrap()).unwrap();
    assert!(wm.u.is_some() && wm.g.is_some());
    let advanced: Vec<_> = run.events("watermark_advanced");
    assert_eq!(advanced.len(), 2, "{advanced:?}");
    assert_eq!(advanced[0].fields["key"], "u");
    assert_eq!(
        advanced[0].fields["to"].as_str(),
        Some(okta_connector::watermark::format(wm.u.unwrap()).as_str())
    );

    // Per-type totals are logged, and agree with what was emitted.
    let emitted = run.events("objects_emitted");
    for (t, upserts, deletes) in [
        ("User", want.users.len(), want.deprovisioned.len()),
        ("Group", want.groups.len(), 0),
        ("GroupMember", want.memberships.len(), 0),
    ] {
        let r = emitted
            .iter()
            .find(|r| r.fields["object_type"] == t)
            .unwrap_or_else(|| panic!("objects_emitted for {t}"));
        assert_eq!(r.fields["upserts"], upserts as u64, "{t}");
        assert_eq!(r.fields["deletes"], deletes as u64, "{t}");
        assert_eq!(r.fields["complete"], true, "{t}");
    }
    assert_eq!(
        run.outcome().stats["User.deletes"],
        want.deprovisioned.len() as u64
    );

    // Requests: one per page, nothing else.
    let stats = sim.stats();
    let outcome = run.outcome();
    assert_eq!(stats.requests_total, outcome.stats["requests"]);
    assert_eq!(stats.requests_total, outcome.stats["pages"]);
    assert_eq!(stats.rate_limited + stats.concurrency_limited, 0);
    let objects =
        want.users.len() + want.deprovisioned.len() + want.groups.len() + want.memberships.len();
    println!(
        "full import: {objects} objects, {} requests ({:.1} objects/request), by bucket {:?}",
        stats.requests_total,
        objects as f64 / stats.requests_total as f64,
        stats.requests_by_bucket
    );
}

#[tokio::test]
async fn default_page_sizes_use_few_requests() {
    let sim = start(OrgSpec::small(), |_| {}).await;
    let conn = connector(&sim, json!({}));
    let run = full(&*conn).await;
    let want = Expected::of(&sim);
    assert_eq!(run.upserted("GroupMember"), want.memberships);
    let stats = sim.stats();
    let by = &stats.requests_by_bucket;
    // 1,000 users at 200 per page; 101 groups on one page; one page per group's members.
    assert_eq!(by["/api/v1/users"], 5, "{by:?}");
    assert_eq!(by["/api/v1/groups"], 1, "{by:?}");
    assert_eq!(
        by["/api/v1/groups/{id}"],
        want.groups.len() as u64,
        "{by:?}"
    );
}

#[tokio::test]
async fn watermark_is_hand_readable() {
    // Real-time server clock, so "now" on the server barely moves during the run.
    let sim = start(OrgSpec::tiny(), |c| c.time_scale = 1.0).await;
    let conn = connector(&sim, json!({"DeltaSafetyMarginSeconds": 0}));
    let run = full(&*conn).await;
    let text = run
        .outcome()
        .watermark
        .as_ref()
        .unwrap()
        .as_str()
        .to_owned();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["g", "u"]);
    // Based on the server's clock (the simulator's), never on the local one.
    let server_now = sim.clock().now_ms() / 1000;
    let u = chrono::DateTime::parse_from_rfc3339(value["u"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(
        u <= server_now && u >= server_now - 5,
        "u={u} server={server_now}"
    );
    assert!(conn.validate_watermark(&Watermark::new(text)).is_ok());
}
