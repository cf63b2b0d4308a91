//! The command line: loading errors, history and objects, watermark edits, schedule, Ctrl-C.

use std::process::Stdio;
use std::time::Duration;

use fixtures::{FaultKind, OrgSpec, Trigger};
use serde_json::Value;

use crate::support::{TOKEN_VAR, host, run_host, simulator, text, write_host_toml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_errors_say_which_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        "[connectors.gone]\nlibrary = \"lib/libnothing.so\"\n\
         [connectors.fake]\nlibrary = \"fake.so\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("fake.so"), b"not a shared object").unwrap();

    let mut cmd = host();
    cmd.arg("--config").arg(&config).args(["check", "gone"]);
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let expected = dir.path().join("lib/libnothing.so");
    assert!(
        text(&out).contains(&format!("library {} does not exist", expected.display())),
        "relative paths resolve against host.toml's directory: {}",
        text(&out)
    );

    let mut cmd = host();
    cmd.arg("--config").arg(&config).args(["check", "fake"]);
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("fake.so"), "{}", text(&out));

    let mut cmd = host();
    cmd.arg("--config").arg(&config).args(["import", "nope"]);
    let out = run_host(cmd).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out).contains("no connector named `nope`"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("configured: fake, gone"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_runs_objects_and_watermark_through_the_cli() {
    let sim = simulator(OrgSpec::tiny(), "test-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let cli = |args: &[&str]| {
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .env(TOKEN_VAR, "test-token");
        cmd
    };

    let out = run_host(cli(&["--json", "import", "okta"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["run"]["mode"], "full");
    assert_eq!(report["run"]["status"], "succeeded");

    let out = run_host(cli(&["--json", "runs", "okta"])).await;
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);

    let out = run_host(cli(&[
        "objects", "okta", "--type", "User", "--format", "jsonl",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let users: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let live = sim
        .users()
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .count();
    assert_eq!(users.len(), live);
    assert!(
        users
            .iter()
            .all(|u| u["type"] == "User" && u["attrs"]["status"].is_string())
    );

    let out = run_host(cli(&["objects", "okta"])).await;
    assert!(text(&out).contains("summary"), "{}", text(&out));

    // Operators hand-edit the watermark; the connector validates it first.
    let out = run_host(cli(&["watermark", "okta", "--set", "not a watermark"])).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("invalid_watermark"), "{}", text(&out));
    let out = run_host(cli(&["--json", "watermark", "okta"])).await;
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let current = shown["watermark"]["value"].as_str().unwrap().to_owned();
    assert_eq!(shown["watermark"]["set_by"], "run");

    let out = run_host(cli(&["--json", "watermark", "okta", "--set", &current])).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["watermark"]["set_by"], "operator");

    let out = run_host(cli(&["watermark", "okta", "--clear"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run_host(cli(&["--json", "import", "okta"])).await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["run"]["mode"], "full",
        "no watermark: auto runs full"
    );

    let out = run_host(cli(&["connectors"])).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("okta"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_runs_full_then_delta() {
    let sim = simulator(OrgSpec::tiny(), "test-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args([
            "schedule",
            "okta",
            "--every",
            "1s",
            "--full-every",
            "7d",
            "--max-runs",
            "2",
        ])
        .env(TOKEN_VAR, "test-token");
    let out = run_host(cmd).await;
    assert!(out.status.success(), "{}", text(&out));

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["--json", "runs", "okta"]);
    let runs: Value = serde_json::from_slice(&run_host(cmd).await.stdout).unwrap();
    let modes: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["delta", "full"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_the_import_and_records_it() {
    let sim = simulator(OrgSpec::tiny(), "test-token").await;
    sim.faults().inject(
        FaultKind::Slow(Duration::from_secs(3)),
        "/api/v1/users",
        Trigger::Always,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["import", "okta"])
        .env(TOKEN_VAR, "test-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id().to_string();
    // Interrupt only once the run is recorded as running: the Ctrl-C handler is installed
    // before the run starts, so an early signal would just kill the process.
    let db = dir.path().join("mesh.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let running = host::store::Store::open_existing(&db)
            .and_then(|s| s.runs("okta", 1))
            .is_ok_and(|runs| {
                runs.first()
                    .is_some_and(|r| r.status == host::store::RunStatus::Running)
            });
        if running {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(text(&out).contains("cancelled"), "{}", text(&out));

    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["--json", "runs", "okta"]);
    let runs: Value = serde_json::from_slice(&run_host(cmd).await.stdout).unwrap();
    assert_eq!(runs[0]["status"], "cancelled");
    assert!(runs[0]["error"]["message"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_waiting_schedule_cleanly() {
    let sim = simulator(OrgSpec::tiny(), "test-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let mut cmd = host();
    cmd.arg("--config")
        .arg(&config)
        .args(["schedule", "okta", "--every", "1h", "--max-runs", "5"])
        .env(TOKEN_VAR, "test-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id().to_string();
    // Wait for the first (full) run to succeed; the schedule then sleeps for an hour.
    let db = dir.path().join("mesh.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = host::store::Store::open_existing(&db)
            .and_then(|s| s.runs("okta", 1))
            .is_ok_and(|runs| {
                runs.first()
                    .is_some_and(|r| r.status == host::store::RunStatus::Succeeded)
            });
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("schedule stopped"), "{}", text(&out));
    let store = host::store::Store::open_existing(&db).unwrap();
    assert_eq!(
        store.runs("okta", 10).unwrap().len(),
        1,
        "no run was started or cut short"
    );
}
