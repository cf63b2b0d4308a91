//! Shared fixtures: a simulator, a store, the loaded connector, and the host binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use connector_api::CancellationToken;
use connector_api::abi::loader::{library_file_name, locate_library};
use fixtures::{OrgSpec, SimConfig, Simulator};
use host::clock::SystemClock;
use host::config::ConnectorConfig;
use host::plugin::{self, Loaded};
use host::runner::{self, ModeChoice, RunEnv, RunOptions, RunReport, Target};
use host::secrets::SecretChain;
use host::secrets::env::EnvBackend;
use host::store::{RunStatus, Store};
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The reference every test's AuthJson uses.
pub const TOKEN_REF: &str = "secret://e2e/okta/token";
/// Its environment variable.
pub const TOKEN_VAR: &str = "SECRET_E2E_OKTA_TOKEN";
/// The connector's name in the tests' stores.
pub const NAME: &str = "okta";

/// The Okta connector library; panics with instructions when it has not been built.
pub fn library() -> PathBuf {
    locate_library("okta_connector").unwrap_or_else(|| {
        panic!(
            "the Okta connector library {} was not found next to the test binary {:?}, in its \
             deps/ or its parent directory. It is built as a dependency of host: run \
             `cargo test -p host` (or `cargo build -p okta-connector`) first",
            library_file_name("okta_connector"),
            std::env::current_exe().ok()
        )
    })
}

/// A simulator for `spec` with `token`.
pub async fn simulator(spec: OrgSpec, token: &str) -> Simulator {
    let mut cfg = SimConfig::new(spec);
    cfg.token = token.to_owned();
    Simulator::start(cfg).await.expect("simulator starts")
}

/// ConfigJson pointing at `sim`, with fast failure (1 retry, 1 s back-off) and `extra` keys.
pub fn connector_json(sim: &Simulator, extra: Value) -> Value {
    let mut config = json!({
        "OrgDomain": sim.org_domain(),
        "ApiBaseUrl": sim.base_url(),
        "MaxRetries": 1,
        "MaxBackoffSeconds": 1,
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut config, extra) {
        base.extend(more);
    }
    config
}

/// The connector configuration for `sim`.
pub fn connector_config(sim: &Simulator, extra: Value) -> ConnectorConfig {
    ConnectorConfig {
        name: NAME.into(),
        library: library(),
        config: connector_json(sim, extra),
        auth: json!({"Mode": "ApiKey", "ApiKey": TOKEN_REF}),
    }
}

/// A secret chain that knows only `TOKEN_REF` = `token` (a private environment).
pub fn token_chain(token: &str) -> SecretChain {
    SecretChain::new(vec![Box::new(EnvBackend::from_vars(BTreeMap::from([(
        TOKEN_VAR.to_owned(),
        SecretString::from(token.to_owned()),
    )])))])
}

/// A simulator, a file store in a temporary directory and the loaded connector.
pub struct Harness {
    pub sim: Simulator,
    pub store: Store,
    pub loaded: Loaded,
    pub dir: TempDir,
}

impl Harness {
    /// An org of `spec` with the default token.
    pub async fn new(spec: OrgSpec) -> Self {
        Self::with(spec, "test-token", json!({})).await
    }

    /// An org of `spec` already imported by one successful full run (the usual starting point
    /// of a test that then changes or breaks something).
    pub async fn after_full_run(spec: OrgSpec) -> Self {
        let mut h = Self::new(spec).await;
        let full = h.run(ModeChoice::Full).await;
        assert_eq!(
            full.run.status,
            RunStatus::Succeeded,
            "the seeding full run: {:?}",
            full.run.error
        );
        h
    }

    /// An org of `spec`, token `token`, extra ConfigJson keys.
    pub async fn with(spec: OrgSpec, token: &str, extra: Value) -> Self {
        Self::on(simulator(spec, token).await, token, extra)
    }

    /// A harness around a started simulator: token `token`, extra ConfigJson keys.
    pub fn on(sim: Simulator, token: &str, extra: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("mesh.db")).unwrap();
        let loaded = plugin::load(&connector_config(&sim, extra), &token_chain(token))
            .expect("the connector loads");
        Self {
            sim,
            store,
            loaded,
            dir,
        }
    }

    /// Replaces the connector instance (new ConfigJson keys).
    pub fn reconfigure(&mut self, token: &str, extra: Value) {
        self.loaded = plugin::load(&connector_config(&self.sim, extra), &token_chain(token))
            .expect("the connector loads");
    }

    /// One run in `mode` with default options.
    pub async fn run(&mut self, mode: ModeChoice) -> RunReport {
        self.run_with(
            RunOptions {
                mode,
                ..RunOptions::default()
            },
            CancellationToken::new(),
        )
        .await
    }

    /// One run.
    pub async fn run_with(&mut self, options: RunOptions, cancel: CancellationToken) -> RunReport {
        let env = RunEnv {
            cancel,
            progress: None,
            clock: Arc::new(SystemClock),
        };
        runner::run_import(
            &mut self.store,
            Target {
                name: NAME,
                library: &self.loaded.library,
                connector: self.loaded.connector.as_ref(),
            },
            &options,
            &env,
        )
        .await
        .expect("the run is recorded")
    }

    /// The stored watermark.
    pub fn watermark(&self) -> Option<String> {
        self.store.watermark(NAME).unwrap().map(|w| w.value)
    }

    /// Stored objects per type.
    pub fn stored(&self) -> BTreeMap<String, u64> {
        self.store.count_by_type(NAME).unwrap()
    }
}

/// Ids of the simulator's users that are not DEPROVISIONED (what a full import stores).
pub fn live_user_ids(sim: &Simulator) -> Vec<String> {
    sim.users()
        .iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Writes a host.toml for `sim` into `dir` and returns its path.
pub fn write_host_toml(dir: &Path, sim: &Simulator, secrets: &str) -> PathBuf {
    let config = connector_json(sim, json!({}));
    let mut inline = Vec::new();
    for (k, v) in config.as_object().unwrap() {
        inline.push(format!("{k} = {v}"));
    }
    let text = format!(
        "store = \"mesh.db\"\n{secrets}\n[connectors.{NAME}]\nlibrary = {:?}\nconfig = {{ {} }}\nauth = {{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}\n",
        library().display().to_string(),
        inline.join(", ")
    );
    let path = dir.join("host.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The host binary, with a clean environment for secrets and logs.
pub fn host() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.env_remove(TOKEN_VAR)
        .env_remove("RUST_LOG")
        .env_remove("HOST_CONFIG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::null());
    cmd
}

/// Runs the host binary to completion on a blocking thread (the simulator keeps serving).
pub async fn run_host(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("host runs"))
        .await
        .unwrap()
}

/// stdout + stderr as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
