//! Helpers for the fault, containment and process tests: a simulator whose clock runs 1000×
//! faster (so rate-limit windows and back-offs last milliseconds), a store seeded by a
//! successful full run, and assertions on what the store holds afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use connector_api::CancellationToken;
use fixtures::{OrgSpec, SimConfig, Simulator};
use host::clock::SystemClock;
use host::plugin::Loaded;
use host::runner::{self, ModeChoice, RunEnv, RunOptions, RunReport, Target};
use host::store::{RunStatus, Store, WatermarkRow};
use serde_json::{Value, json};

use crate::support::{Harness, NAME, TOKEN_REF, library};

/// How much faster than real time the simulator's clock runs.
pub const SCALE: f64 = 1000.0;

/// `(type, external id)` of a stored or expected object.
pub type Key = (String, String);

/// A fast simulator for `spec` (token `token`, `tweak` applied last).
pub async fn fast_simulator(
    spec: OrgSpec,
    token: &str,
    tweak: impl FnOnce(&mut SimConfig),
) -> Simulator {
    let mut cfg = SimConfig::new(spec);
    cfg.token = token.to_owned();
    cfg.time_scale = SCALE;
    tweak(&mut cfg);
    Simulator::start(cfg).await.expect("simulator starts")
}

/// ConfigJson keys every fast test uses: the simulator's time scale, small pages so every
/// listing spans several pages, three retries with short (scaled) back-offs.
pub fn fast_extra(sim: &Simulator, extra: Value) -> Value {
    let mut config = json!({
        "SimulatorTimeScale": sim.config().time_scale,
        "MaxRetries": 3,
        "MaxBackoffSeconds": 30,
        "PageSize": 5,
        "GroupPageSize": 3,
        "MemberPageSize": 4,
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut config, extra) {
        base.extend(more);
    }
    config
}

/// A harness over a fast simulator of the tiny org.
pub async fn fast_harness(
    token: &str,
    tweak: impl FnOnce(&mut SimConfig),
    extra: Value,
) -> Harness {
    let sim = fast_simulator(OrgSpec::tiny(), token, tweak).await;
    let extra = fast_extra(&sim, extra);
    Harness::on(sim, token, extra)
}

/// One run of `loaded` into `store` while `alongside` runs too (e.g. restarting the simulator).
pub async fn run_alongside(
    store: &mut Store,
    loaded: &Loaded,
    mode: ModeChoice,
    alongside: impl Future<Output = ()>,
) -> RunReport {
    let env = RunEnv {
        cancel: CancellationToken::new(),
        progress: None,
        clock: Arc::new(SystemClock),
    };
    let options = RunOptions {
        mode,
        ..RunOptions::default()
    };
    let run = runner::run_import(
        store,
        Target {
            name: NAME,
            library: &loaded.library,
            connector: loaded.connector.as_ref(),
        },
        &options,
        &env,
    );
    let (report, ()) = tokio::join!(run, alongside);
    report.expect("the run is recorded")
}

/// What a complete import of `sim` stores: live users, every group, every membership.
pub fn org_keys(sim: &Simulator) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    for u in sim.users() {
        if u["status"] != "DEPROVISIONED" {
            keys.insert(("User".to_owned(), u["id"].as_str().unwrap().to_owned()));
        }
    }
    for g in sim.groups() {
        keys.insert(("Group".to_owned(), g["id"].as_str().unwrap().to_owned()));
    }
    for (g, u) in sim.memberships() {
        keys.insert(("GroupMember".to_owned(), format!("{g}:{u}")));
    }
    keys
}

/// Every stored object of the test connector, with its attributes.
pub fn stored_objects(store: &Store) -> BTreeMap<Key, Value> {
    let mut out = BTreeMap::new();
    store
        .for_each_object(NAME, None, None, |o| {
            out.insert((o.object_type, o.external_id), o.attributes);
            Ok(())
        })
        .unwrap();
    out
}

/// The keys of every stored object.
pub fn stored_keys(store: &Store) -> BTreeSet<Key> {
    stored_objects(store).into_keys().collect()
}

/// The store holds exactly the org: every live user (with the simulator's login, status and
/// lastUpdated), every group and every membership, nothing else.
pub fn assert_store_equals_org(store: &Store, sim: &Simulator) {
    let stored = stored_objects(store);
    let want = org_keys(sim);
    let have: BTreeSet<Key> = stored.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let extra: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the store differs from the org: missing {missing:?}, extra {extra:?}"
    );
    for u in sim.users() {
        if u["status"] == "DEPROVISIONED" {
            continue;
        }
        let attrs = &stored[&("User".to_owned(), u["id"].as_str().unwrap().to_owned())];
        assert_eq!(attrs["login"], u["profile"]["login"], "{u}");
        assert_eq!(attrs["status"], u["status"], "{u}");
        assert_eq!(attrs["lastUpdated"], u["lastUpdated"], "{u}");
    }
}

/// A store seeded by a successful full run, and an org changed afterwards so that a complete
/// full run would delete something: one user hard-deleted (with their memberships) and one
/// more membership removed.
pub struct Seeded {
    pub h: Harness,
    /// The store's objects after the seeding run.
    pub before: BTreeSet<Key>,
    /// The watermark the seeding run stored.
    pub watermark: WatermarkRow,
    /// The hard-deleted user.
    pub victim: String,
    /// `groupId:userId` of the removed membership.
    pub removed_membership: String,
}

impl Seeded {
    /// Seeds a fast harness (see [`fast_harness`]).
    pub async fn new(tweak: impl FnOnce(&mut SimConfig), extra: Value) -> Self {
        let mut h = fast_harness("test-token", tweak, extra).await;
        let seed = h.run(ModeChoice::Full).await;
        assert_eq!(
            seed.run.status,
            RunStatus::Succeeded,
            "seeding: {:?}",
            seed.run.error
        );
        assert_store_equals_org(&h.store, &h.sim);
        let before = stored_keys(&h.store);
        let watermark = h.store.watermark(NAME).unwrap().expect("a watermark");

        let everyone = h.sim.everyone_group_id();
        let live = crate::support::live_user_ids(&h.sim);
        let victim = live[0].clone();
        assert!(h.sim.delete_user(&victim));
        let (g, u) = h
            .sim
            .memberships()
            .into_iter()
            .find(|(g, u)| *g != everyone && *u != victim)
            .expect("a membership outside Everyone");
        assert!(h.sim.remove_member(&g, &u));
        Self {
            h,
            before,
            watermark,
            victim,
            removed_membership: format!("{g}:{u}"),
        }
    }

    /// The run succeeded and the store is the org: the victim and the removed membership are
    /// gone, the watermark was written by this run.
    pub fn assert_complete(&self, report: &RunReport, what: &str) {
        assert_eq!(
            report.run.status,
            RunStatus::Succeeded,
            "{what}: {:?}",
            report.run.error
        );
        assert_store_equals_org(&self.h.store, &self.h.sim);
        let keys = stored_keys(&self.h.store);
        assert!(!keys.contains(&("User".to_owned(), self.victim.clone())));
        assert!(!keys.contains(&("GroupMember".to_owned(), self.removed_membership.clone())));
        let w = self.h.store.watermark(NAME).unwrap().unwrap();
        assert_eq!(
            w.run_id,
            Some(report.run.id),
            "{what}: watermark of this run"
        );
        assert_eq!(
            report.run.watermark_after.as_deref(),
            Some(w.value.as_str())
        );
    }

    /// The run failed with `kind` and a message containing `text`, deleted nothing and kept
    /// the watermark. Returns the message.
    pub fn assert_failed(&self, report: &RunReport, kind: &str, text: &str, what: &str) -> String {
        assert_eq!(
            report.run.status,
            RunStatus::Failed,
            "{what}: the run must fail, not succeed with a partial import"
        );
        let error = report.run.error.as_ref().expect("the error is recorded");
        assert_eq!(error.kind, kind, "{what}: {}", error.message);
        assert!(
            error.message.contains(text),
            "{what}: expected {text:?} in {:?}",
            error.message
        );
        assert_eq!(report.run.watermark_after, None, "{what}");
        assert_eq!(
            self.h.store.watermark(NAME).unwrap().as_ref(),
            Some(&self.watermark),
            "{what}: the watermark is unchanged"
        );
        assert_eq!(
            stored_keys(&self.h.store),
            self.before,
            "{what}: nothing was deleted (the victim and the removed membership are still stored)"
        );
        for c in report.run.counts.values() {
            assert_eq!((c.deleted, c.removed), (0, 0), "{what}: {c:?}");
        }
        error.message.clone()
    }
}

/// Writes a host.toml for `sim` with ConfigJson `config` into `dir`.
pub fn write_config(dir: &Path, config: &Value, secrets: &str) -> PathBuf {
    let inline: Vec<String> = config
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    let text = format!(
        "store = \"mesh.db\"\n{secrets}\n[connectors.{NAME}]\nlibrary = {:?}\nconfig = {{ {} }}\nauth = {{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}\n",
        library().display().to_string(),
        inline.join(", ")
    );
    let path = dir.join("host.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads a store file the host process writes, without the host's schema set-up.
pub fn peek(db: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn
}
