//! Failures an operator can act on: classified, explained, with Okta's error details.

use connector_api::{ErrorKind, ImportRequest};
use fixtures::{FaultKind, OrgSpec, Trigger};
use serde_json::json;

use crate::support::{connector, import, start};

#[tokio::test]
async fn revoked_token_says_where_to_create_a_new_one() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    sim.faults().revoke_token(true);
    let conn = connector(&sim, json!({}));
    let run = import(&*conn, ImportRequest::full()).await;
    let err = run.result.expect_err("fails");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    let hint = err.remediation().unwrap();
    assert!(
        hint.contains("Security → API → Tokens") && hint.contains("30 days"),
        "{hint}"
    );
    let v = err.vendor().unwrap();
    assert_eq!(v.status, Some(401));
    assert_eq!(v.code.as_deref(), Some("E0000011"));
    assert!(v.summary.is_some() && v.request_id.is_some(), "{v:?}");
    // check() reports the same.
    let (ctx, _) = connector_api::Context::for_tests();
    let err = conn.check(&ctx).await.expect_err("check fails");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
}

#[tokio::test]
async fn forbidden_names_the_endpoint_and_role() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    sim.faults()
        .inject(FaultKind::Status(403), "/api/v1/groups/", Trigger::Always);
    let conn = connector(&sim, json!({}));
    let run = import(&*conn, ImportRequest::full()).await;
    let err = run.result.expect_err("fails");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.message().contains("GET /api/v1/groups/{groupId}/users"),
        "{err}"
    );
    assert!(
        err.remediation()
            .unwrap()
            .contains("Read-Only Administrator")
    );
    assert_eq!(err.vendor().unwrap().code.as_deref(), Some("E0000006"));
}

#[tokio::test]
async fn invalid_user_search_filter_is_quoted() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let filter = "profile.department equals \"Eng\"";
    let conn = connector(&sim, json!({"UserSearchFilter": filter}));
    let (ctx, _) = connector_api::Context::for_tests();
    let err = conn.check(&ctx).await.expect_err("check fails");
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(err.message().contains(&format!("\"{filter}\"")), "{err}");
    assert_eq!(err.vendor().unwrap().code.as_deref(), Some("E0000031"));
    let run = import(&*conn, ImportRequest::full()).await;
    assert_eq!(run.result.unwrap_err().kind(), ErrorKind::InvalidConfig);
}

#[tokio::test]
async fn check_reports_what_it_verified() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, json!({"UserSearchFilter": "status eq \"ACTIVE\""}));
    let (ctx, _) = connector_api::Context::for_tests();
    let report = conn.check(&ctx).await.expect("check passes");
    assert_eq!(report.checks.len(), 4, "{report:?}");
    assert!(report.checks[0].contains("contoso.okta.com"));
    assert!(report.checks.iter().any(|c| c.contains("UserSearchFilter")));
    assert!(report.checks.iter().any(|c| c.contains("group members")));

    // Only what is imported is probed: no user listing when users are not imported.
    sim.reset_stats();
    let groups_only = connector(
        &sim,
        json!({"ImportUsers": false, "ImportMemberships": false}),
    );
    let report = groups_only.check(&ctx).await.expect("check passes");
    assert_eq!(report.checks.len(), 1, "{report:?}");
    let by = sim.stats().requests_by_bucket;
    assert_eq!(by.get("/api/v1/users"), None, "{by:?}");
    assert_eq!(by["/api/v1/groups"], 1, "{by:?}");
}

#[tokio::test]
async fn unknown_host_points_at_org_domain() {
    // No ApiBaseUrl: the connector resolves the OrgDomain itself. `.invalid` never resolves.
    let settings = connector_api::Settings::new(
        json!({"OrgDomain": "no-such-org.invalid", "MaxRetries": 0, "RequestTimeoutSeconds": 5}),
        connector_api::secrecy::SecretString::from(
            json!({"Mode": "ApiKey", "ApiKey": crate::support::CANARY}).to_string(),
        ),
    );
    use connector_api::ConnectorFactory;
    let conn = okta_connector::OktaConnectorFactory
        .create(settings)
        .expect("settings accepted");
    let (ctx, _) = connector_api::Context::for_tests();
    let err = tokio::time::timeout(std::time::Duration::from_secs(20), conn.check(&ctx))
        .await
        .expect("fails promptly")
        .expect_err("cannot succeed");
    assert!(
        matches!(err.kind(), ErrorKind::NotFound | ErrorKind::Unavailable),
        "{err}"
    );
    assert!(err.message().contains("no-such-org.invalid"), "{err}");
    if err.kind() == ErrorKind::NotFound {
        assert!(err.remediation().unwrap().contains("OrgDomain"), "{err}");
    }
}

#[tokio::test]
async fn export_is_not_supported() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let conn = connector(&sim, json!({}));
    let (ctx, _) = connector_api::Context::for_tests();
    let err = conn
        .export(&ctx, connector_api::ExportRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported);
    assert!(err.message().contains("import-only"));
}
