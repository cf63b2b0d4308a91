//! The host against a PostgreSQL store: `host import` into a private throwaway server, then
//! `runs`, `objects`, `connectors` and `watermark` read it back; the password comes from a
//! secret reference and appears in no output.

use fixtures::OrgSpec;
use fixtures::postgres::TempCluster;
use serde_json::Value;

use crate::support::{TOKEN_VAR, host, live_user_ids, run_host, simulator, text, write_host_toml};

const PASSWORD_REF: &str = "secret://e2e/postgres";
const PASSWORD_VAR: &str = "SECRET_E2E_POSTGRES";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_postgres_and_read_it_back_with_every_command() {
    let token = "pg-e2e-token-5150";
    let sim = simulator(OrgSpec::tiny(), token).await;
    let pg = tokio::task::spawn_blocking(TempCluster::start)
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "[secrets]\nbackends = [\"env\"]\n");
    let toml = std::fs::read_to_string(&config).unwrap().replace(
        "store = \"mesh.db\"",
        &format!(
            "store = \"{}\"\nstore_password = \"{PASSWORD_REF}\"",
            pg.url()
        ),
    );
    std::fs::write(&config, toml).unwrap();
    let password = pg.password().to_owned();
    let cli = |args: &[&str], password: &str| {
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .env(TOKEN_VAR, token)
            .env(PASSWORD_VAR, password)
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", "/nonexistent");
        cmd
    };
    let mut outputs = Vec::new();

    let out = run_host(cli(
        &["--json", "import", "okta", "--mode", "full"],
        &password,
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["run"]["status"], "succeeded", "{report}");
    outputs.push(text(&out));
    assert!(
        !dir.path().join("mesh.db").exists(),
        "nothing went to SQLite"
    );

    let out = run_host(cli(&["import", "okta"], &password)).await;
    assert!(out.status.success(), "{}", text(&out));
    outputs.push(text(&out));

    let out = run_host(cli(&["--json", "runs", "okta"], &password)).await;
    assert!(out.status.success(), "{}", text(&out));
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(
        runs[0]["mode"], "delta",
        "the second run continued from the watermark"
    );
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    outputs.push(text(&out));

    let out = run_host(cli(
        &["objects", "okta", "--type", "User", "--format", "jsonl"],
        &password,
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut live = live_user_ids(&sim);
    ids.sort();
    live.sort();
    assert_eq!(ids, live);
    outputs.push(text(&out));

    let out = run_host(cli(&["--json", "connectors"], &password)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("okta"), "{}", text(&out));
    outputs.push(text(&out));

    let out = run_host(cli(&["--json", "watermark", "okta"], &password)).await;
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let value = shown["watermark"]["value"].as_str().unwrap().to_owned();
    assert_eq!(Some(value.as_str()), runs[0]["watermark_after"].as_str());
    outputs.push(text(&out));
    let out = run_host(cli(&["watermark", "okta", "--clear"], &password)).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run_host(cli(&["--json", "watermark", "okta"], &password)).await;
    assert!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["watermark"].is_null(),
        "{}",
        text(&out)
    );
    outputs.push(text(&out));

    // A wrong password: the run is refused with the server's reason, and shows no password.
    let wrong = "wrong-pw-8d1f";
    let out = run_host(cli(&["import", "okta"], wrong)).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("password authentication failed"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains(&pg.url()),
        "names the store: {}",
        text(&out)
    );
    assert!(!text(&out).contains(wrong), "{}", text(&out));
    outputs.push(text(&out));

    for output in &outputs {
        assert!(!output.contains(&password), "the password leaked: {output}");
    }
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
}
