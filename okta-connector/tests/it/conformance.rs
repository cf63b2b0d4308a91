//! The connector-api conformance kit, in-process and through the loaded `cdylib`.

use std::sync::Arc;
use std::time::Duration;

use connector_api::abi::loader::{PluginFactory, locate_library};
use connector_api::secrecy::SecretString;
use connector_api::testkit::{Subject, run_conformance};
use connector_api::{Change, ConnectorFactory, Object, Settings, Watermark};
use fixtures::{OrgSpec, Simulator};
use okta_connector::OktaConnectorFactory;
use serde_json::json;

use crate::support::{settings, start};

fn subject(factory: Arc<dyn ConnectorFactory>, sim: &Arc<Simulator>) -> Subject {
    let good = sim.clone();
    let base = sim.base_url();
    let bad = move |config: serde_json::Value, auth: serde_json::Value| {
        let mut config = config;
        config["ApiBaseUrl"] = json!(base);
        move || Settings::new(config.clone(), SecretString::from(auth.to_string()))
    };
    let token = json!({"Mode": "ApiKey", "ApiKey": crate::support::CANARY});
    let mutated = sim.clone();
    let sample = export_sample(sim);
    Subject::new(factory, move || {
        settings(
            &good,
            json!({"PageSize": 7, "MemberPageSize": 5, "Export": {"Enabled": true}}),
        )
    })
    .export_sample(sample)
    .bad_settings("OrgDomain missing", bad(json!({}), token.clone()))
    .bad_settings(
        "OrgDomain with a scheme",
        bad(
            json!({"OrgDomain": "https://contoso.okta.com"}),
            token.clone(),
        ),
    )
    .bad_settings(
        "PageSize above Okta's maximum",
        bad(
            json!({"OrgDomain": "contoso.okta.com", "PageSize": 500}),
            token.clone(),
        ),
    )
    .bad_settings(
        "unknown ConfigJson key",
        bad(
            json!({"OrgDomain": "contoso.okta.com", "Pagesize": 5}),
            token.clone(),
        ),
    )
    .bad_settings(
        "ApiKey with the SSWS prefix",
        bad(
            json!({"OrgDomain": "contoso.okta.com"}),
            json!({"Mode": "ApiKey", "ApiKey": format!("SSWS {}", crate::support::CANARY)}),
        ),
    )
    .bad_settings(
        "unknown auth mode",
        bad(
            json!({"OrgDomain": "contoso.okta.com"}),
            json!({"Mode": "OAuth", "ApiKey": "x"}),
        ),
    )
    .invalid_watermark(Watermark::new(
        r#"{"u":"yesterday","g":"2026-01-01T00:00:00Z"}"#,
    ))
    .invalid_watermark(Watermark::new(r#"{"users":"2026-01-01T00:00:00Z"}"#))
    .mutate_source(move || {
        let users = mutated.users();
        let active: Vec<String> = users
            .iter()
            .filter(|u| u["status"] == "ACTIVE")
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        mutated.update_user_profile(&active[0], "title", json!("Conformance"));
        mutated.set_user_status(&active[1], "DEPROVISIONED");
        let group = mutated.create_group("Conformance");
        mutated.add_member(&group, &active[2]);
        mutated.create_user("conformance@example.com");
    })
    .timeout(Duration::from_secs(60))
}

/// A new user, its membership in an OKTA_GROUP (by login), and a profile update of an
/// existing user: each applied once, then unchanged.
fn export_sample(sim: &Simulator) -> Vec<Change> {
    let group = sim
        .groups()
        .into_iter()
        .find(|g| g["type"] == "OKTA_GROUP")
        .expect("an OKTA_GROUP");
    let user = sim
        .users()
        .into_iter()
        .rfind(|u| u["status"] == "ACTIVE")
        .expect("an active user");
    let login = "exported.conformance@example.com";
    vec![
        Change::Upsert(
            Object::new("User", login)
                .with("login", login)
                .with("email", login)
                .with("firstName", "Export")
                .with("lastName", "Conformance"),
        ),
        Change::Upsert(Object::new(
            "GroupMember",
            format!("{}:{login}", group["id"].as_str().unwrap()),
        )),
        Change::Upsert(Object::new("User", user["id"].as_str().unwrap()).with("title", "Exported")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_in_process() {
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let report = run_conformance(&subject(Arc::new(OktaConnectorFactory), &sim)).await;
    println!("{report}");
    report.assert_passed();
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.outcome == connector_api::testkit::Outcome::Passed),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_through_the_cdylib() {
    let path = locate_library("okta_connector")
        .expect("the okta_connector cdylib is built next to the tests");
    let plugin = PluginFactory::load(&path).expect("the cdylib loads");
    assert_eq!(plugin.descriptor(), okta_connector::descriptor());
    let sim = start(OrgSpec::tiny(), |_| {}).await;
    let report = run_conformance(&subject(Arc::new(plugin), &sim)).await;
    println!("{report}");
    report.assert_passed();
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.outcome == connector_api::testkit::Outcome::Passed),
        "{report}"
    );
}
