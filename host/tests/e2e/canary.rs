//! A canary token must appear nowhere: not in the SQLite file (database, WAL, shared memory),
//! not in the logs, not in the output — on success and on failure.

use fixtures::OrgSpec;
use host::runner::ModeChoice;
use host::store::RunStatus;

use crate::support::{Harness, TOKEN_VAR, host, run_host, simulator, text, write_host_toml};

pub(crate) fn canary() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("canary-{}-{nanos}", std::process::id())
}

pub(crate) fn assert_absent(haystack: &[u8], needle: &str, what: &str) {
    assert!(
        !haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes()),
        "the canary token appears in {what}"
    );
}

pub(crate) fn assert_store_clean(db: &std::path::Path, token: &str) {
    let mut checked = 0;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            assert_absent(&bytes, token, &format!("{p:?}"));
            checked += 1;
        }
    }
    assert!(checked >= 1, "no store file at {db:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_reaches_the_store_while_it_is_open() {
    let token = canary();
    let mut h = Harness::with(OrgSpec::tiny(), &token, serde_json::json!({})).await;
    let full = h.run(ModeChoice::Full).await;
    assert_eq!(
        full.run.status,
        RunStatus::Succeeded,
        "{:?}",
        full.run.error
    );
    h.sim.faults().revoke_token(true);
    let failed = h.run(ModeChoice::Delta).await;
    assert_eq!(failed.run.status, RunStatus::Failed);
    // The store is still open: the WAL holds the latest pages.
    let db = h.dir.path().join("mesh.db");
    let wal = std::fs::metadata(format!("{}-wal", db.display())).map(|m| m.len());
    assert!(
        wal.is_ok_and(|n| n > 0),
        "the WAL exists while the store is open"
    );
    assert_store_clean(&db, &token);
    assert_absent(
        format!("{:?}", h.loaded).as_bytes(),
        &token,
        "Debug of the connector",
    );
    assert_absent(
        serde_json::to_string(&failed).unwrap().as_bytes(),
        &token,
        "the failed run's report",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_reaches_logs_output_or_the_store_through_the_cli() {
    let token = canary();
    let sim = simulator(OrgSpec::tiny(), &token).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let mut all = Vec::new();
    for args in [
        vec!["-vv", "import", "okta", "--mode", "full"],
        vec!["-vv", "import", "okta"],
        vec!["-vv", "check", "okta"],
        vec!["--json", "runs", "okta"],
        vec!["objects", "okta", "--format", "jsonl"],
    ] {
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&config)
            .args(&args)
            .env(TOKEN_VAR, &token)
            .env("RUST_LOG", "trace");
        let out = run_host(cmd).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        all.extend_from_slice(&out.stdout);
        all.extend_from_slice(&out.stderr);
    }
    // A failing run logs and stores its error: still no token.
    sim.faults().revoke_token(true);
    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["-vv", "import", "okta"])
        .env(TOKEN_VAR, &token)
        .env("RUST_LOG", "trace");
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    all.extend_from_slice(&out.stdout);
    all.extend_from_slice(&out.stderr);

    assert!(
        String::from_utf8_lossy(&all).contains("page_fetched"),
        "trace logs were captured (the check is not vacuous)"
    );
    assert_absent(&all, &token, "the host's logs or output");
    assert_store_clean(&dir.path().join("mesh.db"), &token);
}
