//! Write-back in process against the simulator: the audit record of each write, a 429 storm on
//! writes failing only that change, cancellation between changes, lifecycle through upserts,
//! and the canary token in no record.

use connector_api::{Change, ErrorKind, ExportRequest, ExportStatus, Object};
use fixtures::{FaultKind, OrgSpec, Trigger};
use serde_json::{Value, json};

use crate::support::{CANARY, connector, start};

fn enabled() -> Value {
    json!({"Export": {"Enabled": true, "ActivateOnCreate": true}, "MaxRetries": 1, "MaxBackoffSeconds": 1})
}

fn new_user(login: &str) -> Change {
    Change::Upsert(
        Object::new("User", login)
            .with("login", login)
            .with("email", login)
            .with("firstName", "In")
            .with("lastName", "Process"),
    )
}

#[tokio::test]
async fn every_write_leaves_an_audit_record_and_no_secret() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, enabled());
    let (ctx, logs) = connector_api::Context::for_tests();
    let report = conn
        .export(
            &ctx,
            ExportRequest::numbered([new_user("audit@example.com")]),
        )
        .await
        .unwrap();
    assert!(matches!(
        report.outcomes[0].status,
        ExportStatus::Applied {
            assigned_id: Some(_)
        }
    ));
    let records = logs.records();
    let audit: Vec<_> = records
        .iter()
        .filter(|r| r.event == "export_write")
        .collect();
    assert_eq!(audit.len(), 1, "{records:?}");
    let f = &audit[0].fields;
    assert_eq!(f["key"], "1");
    assert_eq!(f["operation"], "CreateUser");
    assert_eq!(f["endpoint"], "POST /api/v1/users");
    assert_eq!(f["status"], 200);
    assert!(
        f["request_id"].as_str().is_some_and(|r| r.len() > 10),
        "{f:?}"
    );
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(CANARY), "the token appears in a log record");
    assert!(
        !all.contains("Process"),
        "a profile value appears in a log record"
    );
}

#[tokio::test]
async fn a_429_storm_on_writes_fails_that_change_only() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, enabled());
    sim.faults().inject(
        FaultKind::RateLimited,
        "/api/v1/users?activate",
        Trigger::Always,
    );
    let (ctx, _) = connector_api::Context::for_tests();
    let everyone = sim.everyone_group_id();
    let member = sim.group_member_ids(&everyone)[0].clone();
    let request = ExportRequest::numbered([
        new_user("storm@example.com"),
        // Re-asserting an existing membership reads only: it still succeeds.
        Change::Upsert(Object::new("GroupMember", format!("{everyone}:{member}"))),
    ]);
    let report = conn.export(&ctx, request).await.unwrap();
    let ExportStatus::Failed { error } = &report.outcomes[0].status else {
        panic!("{:?}", report.outcomes[0]);
    };
    assert_eq!(error.kind(), ErrorKind::RateLimited, "{error}");
    assert!(error.remediation().is_some(), "{error}");
    // BUILT_IN: refused as Okta would, after reads only.
    let ExportStatus::Failed { error } = &report.outcomes[1].status else {
        panic!("{:?}", report.outcomes[1]);
    };
    assert_eq!(error.kind(), ErrorKind::NotSupported);
    assert!(
        sim.users()
            .iter()
            .all(|u| u["profile"]["login"] != "storm@example.com")
    );
}

#[tokio::test]
async fn a_cancelled_export_attempts_nothing() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, enabled());
    let (ctx, _) = connector_api::Context::for_tests();
    ctx.cancellation().cancel();
    let report = conn
        .export(
            &ctx,
            ExportRequest::numbered([new_user("c1@example.com"), new_user("c2@example.com")]),
        )
        .await
        .unwrap();
    assert_eq!(report.count("skipped"), 2);
    assert_eq!(sim.stats().writes_total(), 0);
}

#[tokio::test]
async fn deactivate_then_reactivate_through_upserts() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, enabled());
    let (ctx, _) = connector_api::Context::for_tests();
    let user = sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE")
        .unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    let status = || {
        sim.users()
            .into_iter()
            .find(|u| u["id"] == id.as_str())
            .unwrap()["status"]
            .clone()
    };
    let delete = ExportRequest::numbered([Change::delete("User", id.clone())]);
    let report = conn.export(&ctx, delete.clone()).await.unwrap();
    assert_eq!(report.count("applied"), 1, "{report:?}");
    assert_eq!(status(), "DEPROVISIONED");
    assert_eq!(
        conn.export(&ctx, delete).await.unwrap().count("unchanged"),
        1
    );
    // A profile change of a deactivated user alone is refused; with status ACTIVE it works.
    let title = |with_status: bool| {
        let mut o = Object::new("User", id.clone()).with("title", "Back");
        if with_status {
            o = o.with("status", "ACTIVE");
        }
        ExportRequest::numbered([Change::Upsert(o)])
    };
    let report = conn.export(&ctx, title(false)).await.unwrap();
    let ExportStatus::Failed { error } = &report.outcomes[0].status else {
        panic!("{report:?}");
    };
    assert!(error.remediation().unwrap().contains("ACTIVE"), "{error}");
    assert_eq!(
        conn.export(&ctx, title(true))
            .await
            .unwrap()
            .count("applied"),
        1
    );
    assert_eq!(status(), "ACTIVE");
    let writes = sim.stats().writes_by_endpoint;
    assert_eq!(
        writes["POST /api/v1/users/{id}/lifecycle/activate"], 1,
        "{writes:?}"
    );
    assert_eq!(
        conn.export(&ctx, title(true))
            .await
            .unwrap()
            .count("unchanged"),
        1
    );
}
