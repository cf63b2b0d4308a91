//! The conformance kit on the directory example, in-process and through the loader, plus the
//! kit's own failure reporting on a deliberately broken connector.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use connector_api::secrecy::SecretString;
use connector_api::testkit::{Outcome, Subject, run_conformance};
use connector_api::{
    Change, ConnectorFactory, Context, ErrorKind, ExportRequest, ExportStatus, ImportRequest,
    Object, Scope, Settings, VecSink,
};
use serde_json::json;

use crate::directory::DirectoryFactory;
use crate::plugins::load;

/// A source folder with people in CSV and groups in JSON.
fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("people.csv"),
        "id,name,email,updated\n\
         p1,\"Lovelace, Ada\",ada@example.com,2024-01-01T00:00:00Z\n\
         p2,Grace Hopper,grace@example.com,2024-01-02T00:00:00Z\n\
         p3,Alan Turing,alan@example.com,2024-01-03T00:00:00Z\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("groups.json"),
        json!([
            {"id": "g1", "name": "Engineering", "members": ["p1", "p2"], "updated": "2024-01-02T00:00:00Z"},
            {"id": "g2", "name": "Research", "members": ["p3"], "updated": "2024-01-03T00:00:00Z"}
        ])
        .to_string(),
    )
    .unwrap();
    dir
}

fn settings_for(folder: &Path) -> Settings {
    Settings::new(
        json!({"folder": folder.display().to_string()}),
        SecretString::from("{}"),
    )
}

/// Adds a person and renames another, with newer `updated` stamps.
fn mutate(folder: &Path) {
    let path = folder.join("people.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "p2,Grace Hopper,grace@example.com,2024-01-02T00:00:00Z",
        "p2,Rear Admiral Grace Hopper,grace@example.com,2024-02-01T00:00:00Z",
    ) + "p4,Katherine Johnson,katherine@example.com,2024-02-02T00:00:00Z\n";
    std::fs::write(path, text).unwrap();
}

fn subject(factory: Arc<dyn ConnectorFactory>, folder: PathBuf) -> Subject {
    let good = folder.clone();
    let mutated = folder.clone();
    Subject::new(factory, move || settings_for(&good))
        .bad_settings("folder missing", || {
            Settings::new(json!({}), SecretString::from("{}"))
        })
        .bad_settings("folder does not exist", || {
            Settings::new(
                json!({"folder": "/nonexistent/conformance"}),
                SecretString::from("{}"),
            )
        })
        .bad_settings("unknown setting", move || {
            Settings::new(
                json!({"folder": folder.display().to_string(), "colour": "blue"}),
                SecretString::from(r#"{"Token":"canary-secret-123"}"#),
            )
        })
        .bad_settings("format unknown", || {
            Settings::new(
                json!({"folder": "/tmp", "format": "xml"}),
                SecretString::from("{}"),
            )
        })
        .mutate_source(move || mutate(&mutated))
        .export_sample(export_sample())
}

/// A mixed export for [`source`]: a new group, a membership of it, a membership removed, one
/// the connector must refuse (its group does not exist) and a person (people are kept in CSV,
/// which the connector does not write).
fn export_sample() -> Vec<Change> {
    vec![
        Change::Upsert(Object::new("Group", "g3").with("name", "Operations")),
        Change::Upsert(
            Object::new("GroupMember", "g3:p1")
                .in_scope("g3")
                .with("groupId", "g3")
                .with("personId", "p1"),
        ),
        Change::delete("GroupMember", "g1:p2"),
        Change::Upsert(Object::new("GroupMember", "g404:p1").in_scope("g404")),
        Change::Upsert(Object::new("Person", "p9").with("name", "Nobody")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_connector_conforms_in_process() {
    let dir = source();
    let report = run_conformance(&subject(
        Arc::new(DirectoryFactory),
        dir.path().to_path_buf(),
    ))
    .await;
    println!("{report}");
    report.assert_passed();
    assert!(report.checks.iter().all(|c| c.outcome == Outcome::Passed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_connector_conforms_through_the_loader() {
    let dir = source();
    let report = run_conformance(&subject(
        Arc::new(load("directory_connector")),
        dir.path().to_path_buf(),
    ))
    .await;
    println!("{report}");
    report.assert_passed();
    assert!(report.checks.iter().all(|c| c.outcome == Outcome::Passed));
}

#[tokio::test]
async fn stream_connector_conforms_through_the_loader() {
    let factory: Arc<dyn ConnectorFactory> = Arc::new(load("stream_connector"));
    let subject = Subject::new(factory, || {
        Settings::new(
            json!({"count": 2_000, "batch_size": 100}),
            SecretString::from("{}"),
        )
    })
    .bad_settings("batch size zero", || {
        Settings::new(json!({"batch_size": 0}), SecretString::from("{}"))
    });
    let report = run_conformance(&subject).await;
    println!("{report}");
    report.assert_passed();
}

#[tokio::test]
async fn directory_import_emits_scopes_and_deltas() {
    let dir = source();
    let connector = DirectoryFactory.create(settings_for(dir.path())).unwrap();
    let (ctx, logs) = Context::for_tests();
    let mut sink = VecSink::default();
    let outcome = connector
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .unwrap();
    let watermark = outcome.watermark.unwrap();
    assert_eq!(watermark.as_str(), "updated:2024-01-03T00:00:00Z");
    assert!(
        sink.changes
            .contains(&Change::ScopeComplete(Scope::within("GroupMember", "g1")))
    );
    assert_eq!(sink.changes.len(), 3 + 1 + 2 + 3 + 2 + 2);
    assert_eq!(logs.records().len(), 2);

    mutate(dir.path());
    let mut sink = VecSink::default();
    connector
        .import(&ctx, ImportRequest::delta(watermark), &mut sink)
        .await
        .unwrap();
    let ids: Vec<&str> = sink
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(o) => Some(o.external_id.as_str()),
            _ => None,
        })
        .collect();
    // p3 and g2 sit exactly at the watermark and are re-delivered (harmless); p1 and g1 are not.
    assert_eq!(ids, ["p2", "p3", "p4", "g2", "g2:p3"]);
}

/// The directory connector's export through the loader: per-change outcomes, the refused
/// membership, dry run, idempotence and what the files hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_export_through_the_loader() {
    let dir = source();
    let groups = || std::fs::read_to_string(dir.path().join("groups.json")).unwrap();
    let connector = load("directory_connector")
        .create(settings_for(dir.path()))
        .unwrap();
    let (ctx, _) = Context::for_tests();
    let request = ExportRequest::numbered(export_sample());
    let before = groups();
    let dry = connector
        .export(&ctx, request.clone().with_dry_run(true))
        .await
        .unwrap();
    assert_eq!(groups(), before, "a dry run wrote to groups.json");
    let report = connector.export(&ctx, request.clone()).await.unwrap();
    assert_eq!(dry, report, "the dry run predicted the real run");
    let statuses: Vec<&str> = report.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["applied", "applied", "applied", "failed", "failed"]
    );
    let ExportStatus::Failed { error } = &report.outcomes[3].status else {
        unreachable!()
    };
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error.message().contains("group g404 does not exist"),
        "{error}"
    );
    let ExportStatus::Failed { error } = &report.outcomes[4].status else {
        unreachable!()
    };
    assert_eq!(error.kind(), ErrorKind::NotSupported);
    assert!(error.message().contains("people.csv"), "{error}");
    let written: serde_json::Value = serde_json::from_str(&groups()).unwrap();
    assert_eq!(
        written,
        json!([
            {"id": "g1", "name": "Engineering", "members": ["p1"], "updated": "2024-01-02T00:00:00Z"},
            {"id": "g2", "name": "Research", "members": ["p3"], "updated": "2024-01-03T00:00:00Z"},
            {"id": "g3", "name": "Operations", "members": ["p1"]}
        ])
    );
    let again = connector.export(&ctx, request).await.unwrap();
    let statuses: Vec<&str> = again.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["unchanged", "unchanged", "unchanged", "failed", "failed"]
    );
    assert_eq!(
        groups(),
        serde_json::to_string_pretty(&written).unwrap() + "\n"
    );
}

#[tokio::test]
async fn a_cancelled_export_reports_what_was_not_attempted() {
    let dir = source();
    let connector = DirectoryFactory.create(settings_for(dir.path())).unwrap();
    let (ctx, _) = Context::for_tests();
    ctx.cancellation().cancel();
    let report = connector
        .export(&ctx, ExportRequest::numbered(export_sample()))
        .await
        .unwrap();
    assert_eq!(report.count("skipped"), export_sample().len(), "{report:?}");
    let ExportStatus::Skipped { reason } = &report.outcomes[0].status else {
        unreachable!()
    };
    assert!(reason.contains("cancelled"), "{reason}");
}

#[test]
fn directory_errors_name_the_problem() {
    let dir = source();
    std::fs::write(dir.path().join("groups.json"), "[{\"name\": \"no id\"}]").unwrap();
    let connector = DirectoryFactory.create(settings_for(dir.path())).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (ctx, _) = Context::for_tests();
    let err = runtime
        .block_on(connector.import(&ctx, ImportRequest::full(), &mut VecSink::default()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(
        err.message().contains("groups.json: record 1: `id`"),
        "{err}"
    );

    let err = DirectoryFactory
        .create(Settings::new(
            json!({"folder": 7}),
            SecretString::from("{}"),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.message().contains("`folder`"), "{err}");
}

/// A connector that breaks the contract, to show the kit names what is wrong.
mod broken {
    use async_trait::async_trait;
    use connector_api::{
        Capabilities, Change, ChangeSink, CheckReport, Connector, ConnectorError, ConnectorFactory,
        Context, Descriptor, ExportReport, ExportRequest, ImportOutcome, ImportRequest, Object,
        ObjectTypeInfo, Result, Scope, Settings, Watermark,
    };

    pub struct BrokenFactory;

    fn descriptor() -> Descriptor {
        Descriptor::new("broken", "1.0")
            .with_object_type(ObjectTypeInfo::new("User"))
            .with_capabilities(
                Capabilities::new()
                    .with_delta(true)
                    .with_scope_complete(true),
            )
    }

    impl ConnectorFactory for BrokenFactory {
        fn descriptor(&self) -> Descriptor {
            descriptor()
        }
        fn create(&self, _settings: Settings) -> Result<Box<dyn Connector>> {
            Ok(Box::new(Broken))
        }
    }

    struct Broken;

    #[async_trait]
    impl Connector for Broken {
        fn descriptor(&self) -> Descriptor {
            descriptor()
        }
        async fn check(&self, _ctx: &Context) -> Result<CheckReport> {
            Ok(CheckReport::default())
        }
        fn validate_watermark(&self, _w: &Watermark) -> Result<()> {
            Ok(())
        }
        async fn import(
            &self,
            _ctx: &Context,
            _request: ImportRequest,
            sink: &mut dyn ChangeSink,
        ) -> Result<ImportOutcome> {
            // Ignores cancellation and sink errors, completes a scope before its objects and
            // twice, and completes the whole type in deltas.
            let _ = sink
                .send(vec![Change::ScopeComplete(Scope::whole("User"))])
                .await;
            let _ = sink
                .send(vec![Change::Upsert(Object::new("User", "1"))])
                .await;
            let _ = sink
                .send(vec![Change::ScopeComplete(Scope::whole("User"))])
                .await;
            Ok(ImportOutcome::new().with_watermark(Some(Watermark::new("anything"))))
        }
        async fn export(&self, _ctx: &Context, _request: ExportRequest) -> Result<ExportReport> {
            Err(ConnectorError::internal("oops"))
        }
    }
}

#[tokio::test]
async fn the_kit_names_each_failed_check() {
    let subject = Subject::new(Arc::new(broken::BrokenFactory), || {
        Settings::new(json!({}), SecretString::from("{}"))
    });
    let report = run_conformance(&subject).await;
    assert!(!report.passed());
    let failed: Vec<&str> = report.failures().iter().map(|c| c.name).collect();
    assert_eq!(
        failed,
        [
            "descriptor",
            "bad_config",
            "full_then_delta",
            "invalid_watermark",
            "scope_complete",
            "export",
            "cancellation",
            "sink_error"
        ],
        "{report}"
    );
    let text = report.to_string();
    assert!(
        text.contains("FAIL descriptor: version \"1.0\" is not semver"),
        "{text}"
    );
    assert!(
        text.contains("after scope User was marked complete"),
        "{text}"
    );
    assert!(text.contains("validate_watermark accepted"), "{text}");
    assert!(text.contains("instead of not_supported"), "{text}");
}
