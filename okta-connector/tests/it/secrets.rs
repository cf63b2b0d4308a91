//! The canary token appears in no log record, error message or Debug output.

use connector_api::{ConnectorFactory, Context, ImportRequest, VecSink};
use fixtures::{FaultKind, OrgSpec, Trigger};
use okta_connector::OktaConnectorFactory;
use serde_json::json;

use crate::support::{CANARY, connector, settings, start};

#[tokio::test]
async fn canary_token_never_leaks() {
    let sim = start(OrgSpec::tiny(), |c| c.send_retry_after = true).await;
    let mut shown: Vec<String> = Vec::new();

    // MaxBackoffSeconds above the simulator's Retry-After (the rest of a 60 s window), so
    // the run waits it out instead of failing.
    let s = settings(&sim, json!({"PageSize": 5, "MaxBackoffSeconds": 90}));
    shown.push(format!("{s:?}"));
    let conn = OktaConnectorFactory.create(s).expect("created");
    shown.push(format!("{conn:?}"));
    // The concrete type's Debug too (configuration, client, pacing state).
    let direct = okta_connector::OktaConnector::new(&settings(&sim, json!({}))).expect("created");
    let debug = format!("{direct:?}");
    assert!(
        debug.contains("contoso.okta.com") && debug.contains("redacted"),
        "{debug}"
    );
    shown.push(debug);

    // A successful run with retries and rate-limit waits.
    let f = sim.faults();
    f.inject(FaultKind::RateLimited, "/api/v1/users", Trigger::Nth(2));
    f.inject(
        FaultKind::ServiceUnavailable,
        "/api/v1/groups",
        Trigger::Nth(1),
    );
    f.inject(
        FaultKind::DropConnection,
        "/api/v1/groups/",
        Trigger::Nth(2),
    );
    let (ctx, logs) = Context::for_tests();
    let mut sink = VecSink::default();
    let outcome = conn
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .expect("run succeeds");
    shown.push(format!("{outcome:?}"));
    shown.push(format!("{:?}", sink.changes));
    let report = conn.check(&ctx).await.expect("check passes");
    shown.push(format!("{report:?}"));

    // Failed runs: revoked token, foreign next link, retries exhausted.
    for setup in 0..3 {
        f.clear();
        f.revoke_token(setup == 0);
        match setup {
            1 => f.inject(FaultKind::NextForeignHost, "/api/v1/users", Trigger::Always),
            2 => f.inject(FaultKind::ServiceUnavailable, "/", Trigger::Always),
            _ => {}
        }
        let conn = connector(&sim, json!({"PageSize": 5, "MaxRetries": 1}));
        let mut sink = VecSink::default();
        let err = conn
            .import(&ctx, ImportRequest::full(), &mut sink)
            .await
            .expect_err("run fails");
        shown.push(format!("{err}"));
        shown.push(format!("{err:?}"));
        shown.push(serde_json::to_string(&err).unwrap());
        let err = conn.check(&ctx).await.expect_err("check fails");
        shown.push(format!("{err} {err:?}"));
    }
    f.revoke_token(false);
    f.clear();

    // Bad settings whose errors could quote the auth JSON.
    for auth in [
        json!({"Mode": CANARY, "ApiKey": "x"}),
        json!({"Mode": "ApiKey", "ApiKey": format!("SSWS {CANARY}")}),
        json!({"Mode": "ApiKey", "ApiKey": [CANARY]}),
    ] {
        let s = connector_api::Settings::new(
            json!({"OrgDomain": "contoso.okta.com"}),
            connector_api::secrecy::SecretString::from(auth.to_string()),
        );
        let err = OktaConnectorFactory.create(s).expect_err("rejected");
        shown.push(format!("{err} {err:?}"));
    }

    let records = logs.records();
    assert!(records.iter().any(|r| r.event == "rate_limit_wait"));
    assert!(records.iter().any(|r| r.event == "retry"));
    assert!(records.iter().any(|r| r.event == "page_fetched"));
    for r in &records {
        shown.push(serde_json::to_string(r).unwrap());
    }
    for text in &shown {
        assert!(!text.contains(CANARY), "the token leaked: {text}");
        assert!(!text.contains("5f2e9b"), "part of the token leaked: {text}");
    }
    assert!(shown.len() > 20);
}
