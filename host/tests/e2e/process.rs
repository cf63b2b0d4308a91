//! Process faults: the `host` binary killed with SIGKILL mid-run, and interrupted with SIGINT
//! (Ctrl-C) mid-run. The store stays consistent (SQLite WAL, one transaction per batch), the
//! watermark is the one before the run, nothing is deleted, and the next run completes.
//!
//! "Mid-run" is made certain without sleeping: the member listings answer only after a long
//! delay, so the run is known to be in progress once the store shows it `running` with some
//! users already committed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fixtures::{FaultKind, OrgSpec, Simulator, Trigger};
use host::store::{RunStatus, Store, WatermarkRow};
use serde_json::{Value, json};

use crate::fast::{Key, assert_store_equals_org, org_keys, peek, stored_keys, write_config};
use crate::support::{NAME, TOKEN_VAR, connector_json, host, run_host, simulator, text};

const TOKEN: &str = "process-token";

/// A simulator, a host.toml and a store seeded by a successful full run through the CLI.
struct Setup {
    sim: Simulator,
    dir: tempfile::TempDir,
    config: PathBuf,
    db: PathBuf,
    before: BTreeSet<Key>,
    watermark: WatermarkRow,
    victim: String,
}

impl Setup {
    async fn new() -> Self {
        let sim = simulator(OrgSpec::tiny(), TOKEN).await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &connector_json(&sim, json!({"PageSize": 5, "MemberPageSize": 4})),
            "",
        );
        let db = dir.path().join("mesh.db");
        let out = run_host(cli(&config, &["import", NAME, "--mode", "full"])).await;
        assert_eq!(out.status.code(), Some(0), "seeding: {}", text(&out));
        let store = Store::open_existing(&db).unwrap();
        assert_store_equals_org(&store, &sim);
        let before = stored_keys(&store);
        let watermark = store.watermark(NAME).unwrap().unwrap();
        drop(store);
        // A complete full run would now delete this user.
        let victim = crate::support::live_user_ids(&sim)[2].clone();
        assert!(sim.delete_user(&victim));
        // The member listings hang: the run stops there, after the users were stored.
        sim.faults().inject(
            FaultKind::Slow(Duration::from_secs(60)),
            "/api/v1/groups/",
            Trigger::Always,
        );
        Self {
            sim,
            dir,
            config,
            db,
            before,
            watermark,
            victim,
        }
    }

    /// Starts `host import okta --mode full` and returns once it is mid-run: its run record
    /// is `running` and some of its batches are committed.
    fn start_import_mid_run(&self) -> (Child, i64) {
        let mut cmd = cli(&self.config, &["-v", "import", NAME, "--mode", "full"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let seeded_run = self.watermark.run_id.unwrap();
        let conn = peek(&self.db);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!("the run never got going: {}", text(&out));
            }
            let latest: Option<(i64, String)> = conn
                .query_row(
                    "SELECT id, status FROM runs WHERE connector = ?1 ORDER BY id DESC LIMIT 1",
                    [NAME],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ok();
            if let Some((id, status)) = latest
                && id > seeded_run
            {
                if status != "running" {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "the run ended ({status}) before it could be interrupted: {}",
                        text(&out)
                    );
                }
                let stored: i64 = conn
                    .query_row(
                        "SELECT COUNT(*) FROM objects WHERE connector = ?1 AND last_seen_run = ?2",
                        rusqlite::params![NAME, id],
                        |r| r.get(0),
                    )
                    .unwrap();
                if stored > 0 {
                    return (child, id);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Nothing was deleted and the watermark is the seeded one.
    fn assert_untouched(&self, store: &Store) {
        assert_eq!(
            store.watermark(NAME).unwrap().as_ref(),
            Some(&self.watermark),
            "the watermark is unchanged"
        );
        assert_eq!(
            stored_keys(store),
            self.before,
            "nothing was deleted, nothing half-written"
        );
        assert!(
            store.object(NAME, "User", &self.victim).unwrap().is_some(),
            "the user a complete run would delete is still stored"
        );
    }

    /// The next run (faults cleared) completes and the store equals the org.
    async fn next_run_completes(&self) -> Value {
        self.sim.faults().clear();
        let out = run_host(cli(
            &self.config,
            &["--json", "import", NAME, "--mode", "full"],
        ))
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["run"]["status"], "succeeded");
        let store = Store::open_existing(&self.db).unwrap();
        assert_store_equals_org(&store, &self.sim);
        assert_eq!(stored_keys(&store), org_keys(&self.sim));
        assert!(store.object(NAME, "User", &self.victim).unwrap().is_none());
        let w = store.watermark(NAME).unwrap().unwrap();
        assert_eq!(w.run_id, report["run"]["id"].as_i64());
        assert_eq!(report["run"]["counts"]["User"]["removed"], 1);
        report
    }
}

fn cli(config: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = host();
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env(TOKEN_VAR, TOKEN);
    cmd
}

async fn wait(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_leaves_a_consistent_store_and_the_next_run_completes() {
    let s = Setup::new().await;
    let (mut child, killed_run) = s.start_import_mid_run();
    child.kill().unwrap(); // SIGKILL: no handler, no clean-up, no final transaction
    let out = wait(child).await;
    assert_eq!(
        out.status.code(),
        None,
        "killed by a signal: {}",
        text(&out)
    );

    // The files as the dead process left them (WAL not checkpointed): SQLite recovers them.
    let conn = peek(&s.db);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let (status, finished): (String, Option<String>) = conn
        .query_row(
            "SELECT status, finished_at FROM runs WHERE id = ?1",
            [killed_run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (status.as_str(), finished),
        ("running", None),
        "the killed run is left open"
    );
    drop(conn);
    let store = Store::open_existing(&s.db).unwrap();
    s.assert_untouched(&store);
    drop(store);

    let report = s.next_run_completes().await;
    assert!(report["run"]["id"].as_i64().unwrap() > killed_run);
    let store = Store::open_existing(&s.db).unwrap();
    let killed = store.run(killed_run).unwrap().unwrap();
    assert_eq!(killed.status, RunStatus::Failed);
    let error = killed.error.unwrap();
    assert_eq!(error.kind, "interrupted");
    assert!(
        error.message.contains("the watermark was kept"),
        "{}",
        error.message
    );
    drop(s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_run_records_a_cancelled_run_and_keeps_the_watermark() {
    let s = Setup::new().await;
    let (child, cancelled_run) = s.start_import_mid_run();
    let started = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = wait(child).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the connector stopped within its in-flight request, not after the 60 s answer"
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("Ctrl-C: cancelling"), "{shown}");
    assert!(shown.contains("cancelled"), "{shown}");

    let store = Store::open_existing(&s.db).unwrap();
    let run = store.run(cancelled_run).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.watermark_after, None);
    assert!(run.finished_at.is_some());
    let error = run.error.expect("the cancellation is recorded");
    assert_eq!(error.kind, "cancelled", "{error:?}");
    for c in run.counts.values() {
        assert_eq!((c.deleted, c.removed), (0, 0), "{c:?}");
    }
    s.assert_untouched(&store);
    drop(store);

    s.next_run_completes().await;
}
