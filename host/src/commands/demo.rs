//! `host demo`: the whole product in under a minute, with no Okta account and no configuration.
//!
//! Starts the Okta simulator in-process on loopback with a generated org, loads the Okta
//! connector `cdylib` through the plug-in loader (exactly as `host import` does), and then:
//! 1. a full import into a fresh store (`./demo.db` unless `--store` says otherwise);
//! 2. changes in the org through the simulator: profile updates, a new user, a deprovisioned
//!    user, membership adds and removes, a hard-deleted user;
//! 3. a delta run — it sees the updates, the deprovisioning, the membership changes and the
//!    hard delete (from Okta's System Log, with the deleted user's memberships);
//! 4. a full run — its completed scopes confirm the store: nothing is left to remove.
//!
//! It prints what each run changed and the commands to explore the store afterwards. The
//! simulator is gone when the demo ends, so the store is for `objects`/`runs`/`connectors`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use connector_api::CancellationToken;
use connector_api::abi::loader::{library_file_name, locate_library};
use fixtures::{OrgSpec, RateLimitProfile, SimConfig, Simulator};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};

use super::{App, Outcome, cancel_on_ctrl_c};
use crate::clock::format_ts;
use crate::config::ConnectorConfig;
use crate::error::{ExitCode, HostError};
use crate::output;
use crate::plugin;
use crate::runner::{ModeChoice, RunReport};
use crate::secrets::SecretChain;
use crate::secrets::env::EnvBackend;
use crate::store::Store;

/// The connector name the demo uses in its store.
pub const DEMO_CONNECTOR: &str = "demo";
/// The default demo store.
pub const DEMO_STORE: &str = "demo.db";

/// Arguments of `demo`. The store is `--store` (default ./demo.db).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Users in the generated org (groups and memberships scale with it).
    #[arg(long, default_value_t = 3000)]
    pub users: usize,
    /// The Okta connector library (default: found next to this executable).
    #[arg(long, value_name = "PATH")]
    pub library: Option<PathBuf>,
    /// Run the simulator with Okta's Enterprise rate limits, 60× faster than real time.
    #[arg(long)]
    pub rate_limits: bool,
}

#[derive(Debug, Serialize)]
struct DemoOutput {
    store: String,
    library: String,
    org: BTreeMap<&'static str, usize>,
    mutations: BTreeMap<&'static str, usize>,
    runs: Vec<RunReport>,
    explore: Vec<String>,
}

/// What the demo did, for its closing summary.
#[derive(Debug, Default)]
struct Summary {
    org: BTreeMap<&'static str, usize>,
    mutations: BTreeMap<&'static str, usize>,
    runs: Vec<RunReport>,
}

/// Runs `demo`.
///
/// # Errors
/// The connector library is missing, the store path is taken by a non-demo store, or a run
/// could not be recorded.
pub async fn run(app: &App, args: Args) -> Outcome {
    let started = std::time::Instant::now();
    let library = match &args.library {
        Some(p) => p.clone(),
        None => locate_library("okta_connector").ok_or_else(missing_library)?,
    };
    let (store_path, mut store) = open_demo_store(app)?;
    let DemoOrg {
        sim,
        time_scale,
        token,
    } = start_simulator(&args).await?;
    let mut summary = Summary {
        org: BTreeMap::from([
            ("users", sim.users().len()),
            ("groups", sim.groups().len()),
            ("memberships", sim.memberships().len()),
        ]),
        ..Summary::default()
    };
    say(
        app,
        &format!(
            "Okta simulator on {} (org {}): {} users, {} groups, {} memberships",
            sim.base_url(),
            sim.org_domain(),
            summary.org["users"],
            summary.org["groups"],
            summary.org["memberships"]
        ),
    );
    let loaded = load_connector(&sim, &library, time_scale, token)?;
    say(
        app,
        &format!(
            "loaded {} connector {} from {}",
            loaded.descriptor.name,
            loaded.descriptor.version,
            library.display()
        ),
    );
    let cancel = CancellationToken::new();
    let _ctrl_c = cancel_on_ctrl_c(cancel.clone());
    let code = match steps(app, &mut store, &loaded, &sim, &cancel, &mut summary).await? {
        ControlFlow::Break(code) => code,
        ControlFlow::Continue(code) => {
            drop(loaded);
            sim.shutdown().await;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "demo finished"
            );
            code
        }
    };
    finish(app, &store_path, &library, summary, code)
}

/// The simulated org the demo runs against.
struct DemoOrg {
    sim: Simulator,
    time_scale: f64,
    /// The simulator's API token.
    token: SecretString,
}

/// Starts the simulator with a generated org.
async fn start_simulator(args: &Args) -> Result<DemoOrg, HostError> {
    let mut sim_config = SimConfig::new(OrgSpec {
        users: args.users,
        groups: (args.users / 20).max(5),
        memberships: args.users * 4,
        apps: 5,
    });
    let time_scale = if args.rate_limits {
        sim_config.rate_limits = RateLimitProfile::Enterprise;
        60.0
    } else {
        1.0
    };
    sim_config.time_scale = time_scale;
    let token = SecretString::from(sim_config.token.clone());
    let sim = Simulator::start(sim_config)
        .await
        .map_err(|e| HostError::Io(format!("starting the Okta simulator: {e}")))?;
    Ok(DemoOrg {
        sim,
        time_scale,
        token,
    })
}

/// Loads the Okta connector against the simulator.
///
/// The token goes through the same secret resolution as a real one, from a private in-memory
/// "environment": the demo never touches the process environment or the keyring.
fn load_connector(
    sim: &Simulator,
    library: &Path,
    time_scale: f64,
    token: SecretString,
) -> Result<plugin::Loaded, HostError> {
    let reference = "secret://demo/okta/apitoken";
    let chain = SecretChain::new(vec![Box::new(EnvBackend::from_vars(BTreeMap::from([(
        "SECRET_DEMO_OKTA_APITOKEN".to_owned(),
        token,
    )])))]);
    let connector_config = ConnectorConfig {
        name: DEMO_CONNECTOR.into(),
        library: library.to_owned(),
        config: json!({
            "OrgDomain": sim.org_domain(),
            "ApiBaseUrl": sim.base_url(),
            "SimulatorTimeScale": time_scale,
            "PageSize": 200,
        }),
        auth: json!({"Mode": "ApiKey", "ApiKey": reference}),
    };
    plugin::load(&connector_config, &chain)
}

/// Steps 1 to 4. `Break` carries the code of a run that did not succeed (the demo stops
/// there); `Continue` the code of the last run once all four steps ran.
async fn steps(
    app: &App,
    store: &mut Store,
    loaded: &plugin::Loaded,
    sim: &Simulator,
    cancel: &CancellationToken,
    summary: &mut Summary,
) -> Result<ControlFlow<ExitCode, ExitCode>, HostError> {
    let step = |n: u8, text: &str| say(app, &format!("\n[{n}/4] {text}"));
    step(1, "full import of the whole org");
    let report = one_run(app, store, loaded, ModeChoice::Full, cancel).await?;
    if let ControlFlow::Break(code) = keep(summary, report) {
        return Ok(ControlFlow::Break(code));
    }

    step(2, "changing the org through the simulator");
    summary.mutations = mutate(sim);
    let m = &summary.mutations;
    say(
        app,
        &format!(
            "  {} profile updates, {} new user, {} deprovisioned user, {} membership adds, {} membership removes, {} hard-deleted user",
            m["profile_updates"],
            m["users_created"],
            m["users_deprovisioned"],
            m["memberships_added"],
            m["memberships_removed"],
            m["users_hard_deleted"],
        ),
    );

    step(3, "delta run: only what changed since the watermark");
    let report = one_run(app, store, loaded, ModeChoice::Delta, cancel).await?;
    if let ControlFlow::Break(code) = keep(summary, report) {
        return Ok(ControlFlow::Break(code));
    }

    step(
        4,
        "full run: completed scopes confirm what the delta run did",
    );
    let report = one_run(app, store, loaded, ModeChoice::Full, cancel).await?;
    let code = report.exit_code();
    summary.runs.push(report);
    Ok(ControlFlow::Continue(code))
}

/// Keeps a run for the summary; `Break` when it did not succeed.
fn keep(summary: &mut Summary, report: RunReport) -> ControlFlow<ExitCode> {
    let code = report.exit_code();
    summary.runs.push(report);
    if code == ExitCode::Success {
        ControlFlow::Continue(())
    } else {
        ControlFlow::Break(code)
    }
}

fn say(app: &App, text: &str) {
    if !app.json {
        output::println(text);
    }
}

fn missing_library() -> HostError {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "this executable".into());
    HostError::Config(format!(
        "the Okta connector library {} was not found next to {exe}, in its deps/ directory or \
         its parent directory. Build it first: `cargo build --release` in the workspace (or run \
         `cargo run --release -p host -- demo`, which builds it), or pass --library PATH",
        library_file_name("okta_connector")
    ))
}

/// Opens a fresh demo store at `--store` (default ./demo.db), replacing a previous one.
fn open_demo_store(app: &App) -> Result<(PathBuf, Store), HostError> {
    let path = app
        .store_override
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEMO_STORE));
    prepare_store(&path)?;
    let store = Store::open(&path)?;
    Ok((path, store))
}

/// Removes a previous demo store; refuses to touch any other file.
fn prepare_store(path: &Path) -> Result<(), HostError> {
    if !path.exists() {
        return Ok(());
    }
    let names: Vec<String> = Store::open_existing(path)
        .and_then(|s| s.connectors())
        .map_err(|e| {
            HostError::Usage(format!(
                "{} exists and is not a demo store ({e}); pass --store PATH to use another file",
                path.display()
            ))
        })?
        .into_iter()
        .map(|c| c.name)
        .collect();
    if names.iter().any(|n| n != DEMO_CONNECTOR) {
        return Err(HostError::Usage(format!(
            "{} holds connectors other than `{DEMO_CONNECTOR}` ({}); the demo will not overwrite \
             it. Pass --store PATH to use another file",
            path.display(),
            names.join(", ")
        )));
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(PathBuf::from(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(HostError::Io(format!(
                    "removing the previous demo store {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

async fn one_run(
    app: &App,
    store: &mut Store,
    loaded: &plugin::Loaded,
    mode: ModeChoice,
    cancel: &CancellationToken,
) -> Result<RunReport, HostError> {
    let options = app.run_options(mode, false);
    let report = app
        .import(store, DEMO_CONNECTOR, loaded, &options, cancel)
        .await?;
    if !app.json {
        output::print(&output::run_report(&report));
    }
    Ok(report)
}

/// Changes the org; returns what was done.
fn mutate(sim: &Simulator) -> BTreeMap<&'static str, usize> {
    let users = sim.users();
    let active: Vec<String> = users
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    let everyone = sim.everyone_group_id();
    let memberships: Vec<(String, String)> = sim
        .memberships()
        .into_iter()
        .filter(|(g, _)| *g != everyone)
        .collect();
    let groups: Vec<String> = sim
        .groups()
        .iter()
        .filter_map(|g| g["id"].as_str().map(str::to_owned))
        .filter(|g| *g != everyone)
        .collect();

    let mut done = BTreeMap::new();
    // Spread the picks over the org deterministically.
    let pick = |list: &[String], i: usize| list[(i * 7919) % list.len()].clone();

    let mut updated = BTreeSet::new();
    for i in 0..25.min(active.len()) {
        let id = pick(&active, i);
        if sim.update_user_profile(&id, "title", Value::from("Demo Engineer")) {
            updated.insert(id);
        }
    }
    done.insert("profile_updates", updated.len());

    let new_user = sim.create_user("new.hire@contoso.example");
    done.insert("users_created", usize::from(!new_user.is_empty()));

    let untouched: Vec<&String> = active.iter().filter(|id| !updated.contains(*id)).collect();
    let deprovisioned = untouched
        .first()
        .is_some_and(|id| sim.set_user_status(id, "DEPROVISIONED"));
    done.insert("users_deprovisioned", usize::from(deprovisioned));
    let hard_deleted = untouched.get(1).is_some_and(|id| sim.delete_user(id));
    done.insert("users_hard_deleted", usize::from(hard_deleted));

    let mut removed = 0;
    for i in 0..5.min(memberships.len()) {
        let (g, u) = &memberships[(i * 104_729) % memberships.len()];
        if sim.remove_member(g, u) {
            removed += 1;
        }
    }
    done.insert("memberships_removed", removed);

    let mut added = 0;
    for i in 0..10 {
        if groups.is_empty() || active.is_empty() {
            break;
        }
        if sim.add_member(&pick(&groups, i), &pick(&active, i + 100)) {
            added += 1;
        }
    }
    done.insert("memberships_added", added);
    done
}

fn finish(app: &App, store: &Path, library: &Path, summary: Summary, code: ExitCode) -> Outcome {
    let Summary {
        org,
        mutations,
        runs,
    } = summary;
    let exe = exe_for_display();
    let store_arg = store.display().to_string();
    let explore = vec![
        format!("{exe} --store {store_arg} runs {DEMO_CONNECTOR}"),
        format!(
            "{exe} --store {store_arg} runs {DEMO_CONNECTOR} --id {}",
            runs.last().map_or(1, |r| r.run.id)
        ),
        format!("{exe} --store {store_arg} objects {DEMO_CONNECTOR} --type User --limit 10"),
        format!(
            "{exe} --store {store_arg} objects {DEMO_CONNECTOR} --type GroupMember --format jsonl | head"
        ),
        format!("{exe} --store {store_arg} watermark {DEMO_CONNECTOR}"),
        format!("sqlite3 {store_arg} 'SELECT type, COUNT(*) FROM objects GROUP BY type'"),
    ];
    if app.json {
        output::json(&DemoOutput {
            store: store_arg,
            library: library.display().to_string(),
            org,
            mutations,
            runs,
            explore,
        });
    } else {
        let mut text = String::from("\n");
        if code == ExitCode::Success {
            text.push_str(&format!(
                "Done at {}. The store {} is yours to explore:\n",
                format_ts(app.clock.now()),
                store.display()
            ));
        } else {
            text.push_str(&format!(
                "The demo stopped: the last run did not succeed (see its error above). The store \
                 {} shows what happened:\n",
                store.display()
            ));
        }
        for line in &explore {
            text.push_str(&format!("  {line}\n"));
        }
        output::print(&text);
    }
    Ok(code)
}

/// How to invoke this executable from the current directory, for printed commands.
fn exe_for_display() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "host".into();
    };
    let cwd = std::env::current_dir().ok();
    match cwd.as_deref().and_then(|c| exe.strip_prefix(c).ok()) {
        Some(rel) => rel.display().to_string(),
        None => exe.display().to_string(),
    }
}
