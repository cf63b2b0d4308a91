//! `host export` through the host binary and the example directory connector `cdylib`: a mixed
//! changes file (a create, an update, a delete, and a membership of a group that does not
//! exist) gets per-change outcomes and exit 4; the folder files then hold exactly the applied
//! changes; `--dry-run` changes no file; sending the file again reports the applied changes as
//! unchanged. Also: a bad line is refused naming it, and the Okta connector configured without
//! `Export` is refused as read-only before anything is sent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use connector_api::abi::loader::library_file_name;
use host::store::Store;
use serde_json::{Value, json};

use crate::support::{TOKEN_REF, TOKEN_VAR, host, library, run_host, text};

/// Builds the directory example connector (connector-api's `directory_connector` example) into
/// `target/test-plugins` once per test binary; `cargo test -p host` does not build examples of
/// other packages.
fn directory_library() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let target = exe
            .ancestors()
            .nth(3)
            .expect("the target directory")
            .join("test-plugins");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let started = Instant::now();
        let status = Command::new(env!("CARGO"))
            .args(["build", "--offline", "--quiet", "-p", "connector-api"])
            .args(["--example", "directory_connector", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the directory example failed");
        // Shown with --nocapture: the cost of a cold build (about a minute) versus a warm one.
        #[allow(clippy::print_stdout)]
        {
            println!("built the directory example in {:?}", started.elapsed());
        }
        target
            .join("debug/examples")
            .join(library_file_name("directory_connector"))
    })
}

/// A folder with two people and one group, and a host.toml naming it `dir` (and `okta`).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("source");
    std::fs::create_dir(&folder).unwrap();
    write_json(
        &folder.join("people.json"),
        &json!([{"id": "p1", "name": "Ada"}, {"id": "p2", "name": "Grace"}]),
    );
    write_json(
        &folder.join("groups.json"),
        &json!([{"id": "g1", "name": "Engineering", "members": ["p1"]}]),
    );
    let toml = format!(
        "store = \"store.db\"\n\
         [connectors.dir]\nlibrary = {:?}\nconfig = {{ folder = {:?} }}\n\
         [connectors.okta]\nlibrary = {:?}\nconfig = {{ OrgDomain = \"example.okta.com\" }}\n\
         auth = {{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}\n",
        directory_library().display().to_string(),
        folder.display().to_string(),
        library().display().to_string(),
    );
    let config = dir.path().join("host.toml");
    std::fs::write(&config, toml).unwrap();
    (dir, config)
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap() + "\n").unwrap();
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("source").join(file)).unwrap()
}

fn read_json(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&read(dir, file)).unwrap()
}

async fn cli(config: &Path, args: &[&str]) -> Output {
    let mut cmd = host();
    cmd.arg("--config").arg(config).args(args);
    run_host(cmd).await
}

const MIXED: &str = r#"{"op":"upsert","type":"Person","id":"p3","attrs":{"name":"Alan"}}
{"op":"upsert","type":"Group","id":"g1","attrs":{"name":"Engineering and Operations"}}
{"op":"delete","type":"Person","id":"p2"}
{"op":"upsert","type":"GroupMember","id":"g9:p1","scope":"g9","attrs":{"groupId":"g9","personId":"p1"}}
"#;

fn outcomes(out: &Output) -> Vec<String> {
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--json output: {e}\n{}", text(out)));
    json["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_file_is_applied_change_by_change() {
    let (dir, config) = setup();
    let changes = dir.path().join("changes.jsonl");
    std::fs::write(&changes, MIXED).unwrap();
    let changes = changes.display().to_string();
    let (people, groups) = (
        read(dir.path(), "people.json"),
        read(dir.path(), "groups.json"),
    );

    // A dry run predicts the outcomes and writes nothing.
    let dry = cli(
        &config,
        &["export", "dir", "--changes", &changes, "--dry-run"],
    )
    .await;
    assert_eq!(dry.status.code(), Some(4), "{}", text(&dry));
    assert!(
        text(&dry).contains("dry run: nothing written"),
        "{}",
        text(&dry)
    );
    assert_eq!(read(dir.path(), "people.json"), people);
    assert_eq!(read(dir.path(), "groups.json"), groups);

    let first = cli(&config, &["export", "dir", "--changes", &changes]).await;
    let shown = text(&first);
    assert_eq!(first.status.code(), Some(4), "{shown}");
    for expected in [
        "upsert  Person       p3",
        "delete  Person       p2",
        "failed",
        "membership g9:p1: group g9 does not exist (not_found)",
        "3 applied, 1 failed",
    ] {
        assert!(
            shown.contains(expected),
            "expected {expected:?} in:\n{shown}"
        );
    }
    assert_eq!(
        read_json(dir.path(), "people.json"),
        json!([{"id": "p1", "name": "Ada"}, {"id": "p3", "name": "Alan"}])
    );
    assert_eq!(
        read_json(dir.path(), "groups.json"),
        json!([{"id": "g1", "name": "Engineering and Operations", "members": ["p1"]}])
    );
    let (people, groups) = (
        read(dir.path(), "people.json"),
        read(dir.path(), "groups.json"),
    );

    let again = cli(&config, &["export", "dir", "--changes", &changes, "--json"]).await;
    assert_eq!(again.status.code(), Some(4), "{}", text(&again));
    assert_eq!(
        outcomes(&again),
        ["unchanged", "unchanged", "unchanged", "failed"]
    );
    assert_eq!(read(dir.path(), "people.json"), people);
    assert_eq!(read(dir.path(), "groups.json"), groups);

    // Every outcome is stored, and `host runs` shows the export runs.
    let store = Store::open_existing(&dir.path().join("store.db")).unwrap();
    let runs = store.export_runs("dir", 10).unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs[2].dry_run && !runs[1].dry_run && !runs[0].dry_run);
    assert!(runs.iter().all(|r| r.status == "failed"));
    let rows = store.exports(runs[1].id).unwrap();
    let stored: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(stored, ["applied", "applied", "applied", "failed"]);
    assert_eq!(rows[3].error_kind.as_deref(), Some("not_found"));
    assert_eq!(rows[3].change["id"], "g9:p1");
    let history = cli(&config, &["runs", "dir"]).await;
    let shown = text(&history);
    assert_eq!(history.status.code(), Some(0), "{shown}");
    assert!(shown.contains("export runs of `dir`"), "{shown}");
    assert!(shown.contains("export (dry run)"), "{shown}");
    assert!(shown.contains("3 applied"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_good_file_exits_zero() {
    let (dir, config) = setup();
    let changes = dir.path().join("good.jsonl");
    std::fs::write(
        &changes,
        "{\"op\":\"upsert\",\"type\":\"GroupMember\",\"id\":\"g1:p2\",\"scope\":\"g1\"}\n",
    )
    .unwrap();
    let changes = changes.display().to_string();
    let out = cli(&config, &["export", "dir", "--changes", &changes]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        read_json(dir.path(), "groups.json")[0]["members"],
        json!(["p1", "p2"])
    );
    let out = cli(&config, &["export", "dir", "--changes", &changes]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("1 unchanged"), "{}", text(&out));
}

/// `host export` against a PostgreSQL store: the same outcomes, and both export runs with their
/// per-change outcomes are recorded there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_recorded_in_a_postgresql_store() {
    let (pg, _secrets, store_toml) = crate::worker::postgres_store().await;
    let (dir, config) = setup();
    let toml = std::fs::read_to_string(&config)
        .unwrap()
        .replace("store = \"store.db\"", &store_toml);
    std::fs::write(&config, toml).unwrap();
    let changes = dir.path().join("good.jsonl");
    std::fs::write(
        &changes,
        "{\"op\":\"upsert\",\"type\":\"GroupMember\",\"id\":\"g1:p2\",\"scope\":\"g1\"}\n",
    )
    .unwrap();
    let changes = changes.display().to_string();
    for expected in ["1 applied", "1 unchanged"] {
        let out = cli(&config, &["export", "dir", "--changes", &changes]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
    }
    assert_eq!(
        read_json(dir.path(), "groups.json")[0]["members"],
        json!(["p1", "p2"])
    );
    let app = host::commands::App {
        config: host::config::Config::load(&config, true).unwrap(),
        store_override: None,
        json: false,
        progress: false,
        clock: std::sync::Arc::new(host::clock::SystemClock),
    };
    let store = app.open_existing_store().unwrap();
    assert!(store.location().starts_with("postgres://"), "{store:?}");
    let runs = store.export_runs("dir", 10).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let outcomes: Vec<String> = runs
        .iter()
        .rev()
        .map(|r| store.exports(r.id).unwrap().remove(0).outcome)
        .collect();
    assert_eq!(outcomes, ["applied", "unchanged"]);
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_and_read_only_connectors_send_nothing() {
    let (dir, config) = setup();
    let (people, groups) = (
        read(dir.path(), "people.json"),
        read(dir.path(), "groups.json"),
    );
    let cases = [
        (
            "{\"op\":\"delete\",\"type\":\"Person\",\"id\":\"p1\"}\n{\"op\":\"upsert\"}\n",
            "line 2: not a change",
        ),
        (
            "{\"op\":\"upsert\",\"type\":\"Robot\",\"id\":\"r1\"}\n",
            "line 1: unknown object type `Robot`",
        ),
        (
            "{\"op\":\"scope_complete\",\"type\":\"Person\"}\n",
            "line 1: `scope_complete` markers cannot be exported",
        ),
    ];
    for (i, (content, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.jsonl"));
        std::fs::write(&file, content).unwrap();
        let out = cli(
            &config,
            &["export", "dir", "--changes", &file.display().to_string()],
        )
        .await;
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(
            shown.contains(expected),
            "expected {expected:?} in:\n{shown}"
        );
        assert!(shown.contains("nothing was sent"), "{shown}");
    }
    assert_eq!(read(dir.path(), "people.json"), people);
    assert_eq!(read(dir.path(), "groups.json"), groups);

    let file = dir.path().join("okta.jsonl");
    std::fs::write(
        &file,
        "{\"op\":\"delete\",\"type\":\"User\",\"id\":\"00u1\"}\n",
    )
    .unwrap();
    // The library declares export; this configuration (no `Export` section) keeps it read-only,
    // which the host finds out before recording or sending anything.
    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["export", "okta", "--changes", &file.display().to_string()])
        .env(TOKEN_VAR, "unused-token");
    let out = run_host(cmd).await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("connector `okta` (okta "), "{shown}");
    assert!(shown.contains("\"Export\": {\"Enabled\": true}"), "{shown}");
    assert!(shown.contains("is read-only"), "{shown}");
    assert!(shown.contains("nothing was sent"), "{shown}");
    // Nothing was recorded either: refused input never opens an export run.
    if let Ok(store) = Store::open_existing(&dir.path().join("store.db")) {
        assert!(store.export_runs("dir", 10).unwrap().is_empty());
        assert!(store.export_runs("okta", 10).unwrap().is_empty());
    }
}
