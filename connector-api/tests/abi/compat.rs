//! Backward compatibility: a plug-in built against connector-api 0.1 (the directory example and
//! a frozen copy of that connector-api, `tests/compat/plugin-0.1/`) is built here with
//! `cargo build --offline --locked`, loaded through the *current* loader, and must import exactly
//! what the current directory example imports: the same changes in the same order, watermark,
//! skips, counters and errors. `docs/abi.md` states the rules this proves.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use connector_api::abi::loader::{PluginFactory, library_file_name};
use connector_api::testkit::{Subject, run_conformance};
use connector_api::{
    Change, Connector, ConnectorFactory, Context, ErrorKind, ExportRequest, ImportOutcome,
    ImportRequest, Object, Result, Settings, VecSink,
};
use serde_json::json;

use crate::plugins::{load, settings};

/// Builds the 0.1 plug-in once per test binary and returns its library's path.
fn old_plugin() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/plugin-0.1");
        // Test binaries live in <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("test executable path");
        let target = exe
            .ancestors()
            .nth(3)
            .expect("the target directory")
            .join("compat-plugin-0.1");
        let started = Instant::now();
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--offline",
                "--locked",
                "--quiet",
                "--manifest-path",
            ])
            .arg(manifest.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the 0.1 plug-in failed");
        println!(
            "built the connector-api 0.1 plug-in in {:?}",
            started.elapsed()
        );
        target
            .join("debug")
            .join(library_file_name("directory_connector_v0"))
    })
}

fn load_old() -> PluginFactory {
    PluginFactory::load(old_plugin()).expect("the current loader loads the 0.1 plug-in")
}

/// A source with people in CSV and groups in JSON, records with and without `updated`, a
/// deleted person and a group with members.
fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("people.csv"),
        "id,name,email,updated,deleted\n\
         p1,\"Lovelace, Ada\",ada@example.com,2024-01-01T00:00:00Z,\n\
         p2,Grace Hopper,grace@example.com,2024-01-02T00:00:00Z,\n\
         p3,Alan Turing,,2024-01-03T00:00:00Z,\n\
         p4,Gone,,2024-01-04T00:00:00Z,true\n\
         p5,No Stamp,,,\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("groups.json"),
        json!([
            {"id": "g1", "name": "Engineering", "members": ["p1", "p2"], "updated": "2024-01-02T00:00:00Z"},
            {"id": "g2", "name": "Research", "members": "p3;p5", "updated": "2024-01-03T00:00:00Z", "tags": ["a", 1]}
        ])
        .to_string(),
    )
    .unwrap();
    dir
}

fn folder(dir: &Path) -> Settings {
    settings(json!({"folder": dir.display().to_string()}))
}

/// Everything an import shows a host: changes, outcome, or the error.
async fn run(
    connector: &dyn Connector,
    request: ImportRequest,
) -> Result<(Vec<Change>, ImportOutcome)> {
    let (ctx, _) = Context::for_tests();
    let mut sink = VecSink::default();
    let outcome = connector.import(&ctx, request, &mut sink).await?;
    Ok((sink.changes, outcome))
}

/// Full and delta imports of `dir` through both plug-ins must agree exactly.
async fn same_imports(old: &dyn Connector, new: &dyn Connector, what: &str) {
    let full_old = run(old, ImportRequest::full()).await;
    let full_new = run(new, ImportRequest::full()).await;
    assert_eq!(full_old, full_new, "{what}: full import");
    let Ok((_, outcome)) = full_new else { return };
    let watermark = outcome.watermark.expect("a watermark");
    let delta_old = run(old, ImportRequest::delta(watermark.clone())).await;
    let delta_new = run(new, ImportRequest::delta(watermark)).await;
    assert_eq!(delta_old, delta_new, "{what}: delta import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_0_1_imports_like_the_current_one() {
    let old = load_old();
    let new = load("directory_connector");
    let d = old.descriptor();
    assert_eq!(d.name, "directory");
    assert_eq!(d.object_types, new.descriptor().object_types);
    assert!(d.capabilities.delta && d.capabilities.scope_complete);
    assert!(!d.capabilities.export && d.capabilities.exportable.is_empty());

    let dir = source();
    let (o, n) = (
        old.create(folder(dir.path())).unwrap(),
        new.create(folder(dir.path())).unwrap(),
    );
    let (changes, outcome) = run(&*o, ImportRequest::full()).await.unwrap();
    assert_eq!(changes.len(), 16, "{changes:#?}");
    assert_eq!(
        outcome.watermark.as_ref().map(|w| w.as_str()),
        Some("updated:2024-01-04T00:00:00Z")
    );
    same_imports(&*o, &*n, "both files").await;

    // Skips: no groups file.
    std::fs::remove_file(dir.path().join("groups.json")).unwrap();
    let (_, outcome) = run(&*o, ImportRequest::full()).await.unwrap();
    assert_eq!(outcome.skipped.len(), 2, "{outcome:?}");
    assert_eq!(outcome.skipped[0].kind, ErrorKind::NotFound);
    same_imports(&*o, &*n, "groups missing").await;

    // Errors: a malformed table, a malformed watermark, bad settings.
    std::fs::write(dir.path().join("groups.json"), "[{\"name\": \"no id\"}]").unwrap();
    let err = run(&*o, ImportRequest::full()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    same_imports(&*o, &*n, "malformed groups").await;
    let bad = connector_api::Watermark::new("yesterday");
    assert_eq!(
        run(&*o, ImportRequest::delta(bad.clone())).await,
        run(&*n, ImportRequest::delta(bad.clone())).await
    );
    assert_eq!(o.validate_watermark(&bad), n.validate_watermark(&bad));
    let bad_settings = || settings(json!({"folder": "/nonexistent/compat", "colour": 1}));
    let (e_old, e_new) = (
        old.create(bad_settings()).unwrap_err(),
        new.create(bad_settings()).unwrap_err(),
    );
    assert_eq!(e_old.kind(), ErrorKind::InvalidConfig);
    assert_eq!(e_old, e_new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_on_a_0_1_plugin_is_not_supported_and_it_still_conforms() {
    let old = load_old();
    let dir = source();
    let connector = old.create(folder(dir.path())).unwrap();
    let (ctx, _) = Context::for_tests();
    let request = ExportRequest::numbered([Change::Upsert(
        Object::new("Group", "g9").with("name", "New"),
    )]);
    let err = connector.export(&ctx, request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported);
    assert!(
        err.message()
            .contains("export not supported by this plug-in (built against connector-api 0.x)"),
        "{err}"
    );
    let before = std::fs::read_to_string(dir.path().join("groups.json")).unwrap();
    assert!(!before.contains("g9"));

    // The kit's delta check wants a source without deletes (a delete at the watermark is
    // re-delivered by design).
    let people = dir.path().join("people.csv");
    let text = std::fs::read_to_string(&people).unwrap();
    std::fs::write(
        &people,
        text.replace("p4,Gone,,2024-01-04T00:00:00Z,true\n", ""),
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let subject = Subject::new(Arc::new(old), move || folder(&path));
    let report = run_conformance(&subject).await;
    println!("{report}");
    report.assert_passed();
}
