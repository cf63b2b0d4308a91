//! Shared helpers: start a simulator, configure the connector for it, run imports, and
//! compare what the connector emitted with what the simulator holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use connector_api::secrecy::SecretString;
use connector_api::testkit::contract_violations;
use connector_api::{
    Change, Connector, ConnectorFactory, Context, ImportOutcome, ImportRequest, LogRecord, Object,
    Result, Scope, Settings, VecSink,
};
use fixtures::{OrgSpec, SimConfig, Simulator};
use okta_connector::OktaConnectorFactory;
use serde_json::{Value, json};

/// The token every test simulator uses: a canary that must never show up anywhere.
pub const CANARY: &str = "canary-5f2e9b";

/// A simulator for `org`, with a fast clock (a rate-limit minute lasts 60 ms) and the canary
/// token; `tweak` adjusts the rest.
pub async fn start(org: OrgSpec, tweak: impl FnOnce(&mut SimConfig)) -> Arc<Simulator> {
    let mut cfg = SimConfig::new(org);
    cfg.token = CANARY.to_owned();
    cfg.time_scale = 1000.0;
    tweak(&mut cfg);
    Arc::new(Simulator::start(cfg).await.expect("simulator starts"))
}

/// Settings pointing the connector at `sim`, plus `extra` ConfigJson keys.
pub fn settings(sim: &Simulator, extra: Value) -> Settings {
    let mut config = json!({
        "OrgDomain": sim.org_domain(),
        "ApiBaseUrl": sim.base_url(),
        "SimulatorTimeScale": sim.config().time_scale,
    });
    let map = config.as_object_mut().expect("object");
    for (k, v) in extra.as_object().expect("extra is an object") {
        map.insert(k.clone(), v.clone());
    }
    let auth = json!({"Mode": "ApiKey", "ApiKey": sim.config().token}).to_string();
    Settings::new(config, SecretString::from(auth))
}

/// A connector for `sim`.
pub fn connector(sim: &Simulator, extra: Value) -> Box<dyn Connector> {
    OktaConnectorFactory
        .create(settings(sim, extra))
        .expect("settings accepted")
}

/// The result of one import.
pub struct Run {
    pub result: Result<ImportOutcome>,
    pub changes: Vec<Change>,
    pub logs: Vec<LogRecord>,
}

impl Run {
    /// The outcome, or a panic naming the error.
    pub fn outcome(&self) -> &ImportOutcome {
        match &self.result {
            Ok(o) => o,
            Err(e) => panic!("import failed: {e}"),
        }
    }

    /// The external ids upserted for `object_type`.
    pub fn upserted(&self, object_type: &str) -> BTreeSet<String> {
        self.upserts(object_type).into_keys().collect()
    }

    /// The objects upserted for `object_type`, by external id (the last upsert wins).
    pub fn upserts(&self, object_type: &str) -> BTreeMap<String, Object> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert(o) if o.object_type == object_type => {
                    Some((o.external_id.clone(), o.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// How many upserts of `object_type` were emitted (duplicates counted).
    pub fn upsert_count(&self, object_type: &str) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c, Change::Upsert(o) if o.object_type == object_type))
            .count()
    }

    /// The external ids deleted for `object_type`.
    pub fn deleted(&self, object_type: &str) -> BTreeSet<String> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Delete {
                    object_type: t,
                    external_id,
                } if *t == object_type => Some(external_id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The scopes marked complete, in order.
    pub fn completed(&self) -> Vec<Scope> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::ScopeComplete(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// The log records with this event name.
    pub fn events(&self, name: &str) -> Vec<&LogRecord> {
        self.logs.iter().filter(|r| r.event == name).collect()
    }
}

/// Runs one import with a fresh context and an in-memory sink.
pub async fn import(connector: &dyn Connector, request: ImportRequest) -> Run {
    let (ctx, logs) = Context::for_tests();
    let mut sink = VecSink::default();
    let mode = request.mode;
    let result = connector.import(&ctx, request, &mut sink).await;
    if let Ok(outcome) = &result {
        let violations =
            contract_violations(&connector.descriptor(), mode, &sink.changes, Some(outcome));
        assert!(
            violations.is_empty(),
            "contract violations: {violations:#?}"
        );
    }
    Run {
        result,
        changes: sink.changes,
        logs: logs.records(),
    }
}

/// A full run, which must succeed.
pub async fn full(connector: &dyn Connector) -> Run {
    let run = import(connector, ImportRequest::full()).await;
    run.outcome();
    run
}

/// A delta run from the watermark of `previous`, which must succeed.
pub async fn delta(connector: &dyn Connector, previous: &Run) -> Run {
    let watermark = previous
        .outcome()
        .watermark
        .clone()
        .expect("the previous run returned a watermark");
    let run = import(connector, ImportRequest::delta(watermark)).await;
    run.outcome();
    run
}

/// What the simulator holds, as the connector should see it.
pub struct Expected {
    /// Users not DEPROVISIONED, by id.
    pub users: BTreeMap<String, Value>,
    /// DEPROVISIONED user ids.
    pub deprovisioned: BTreeSet<String>,
    /// Groups, by id.
    pub groups: BTreeMap<String, Value>,
    /// `groupId:userId` of every membership.
    pub memberships: BTreeSet<String>,
}

impl Expected {
    pub fn of(sim: &Simulator) -> Self {
        let mut users = BTreeMap::new();
        let mut deprovisioned = BTreeSet::new();
        for u in sim.users() {
            let id = u["id"].as_str().expect("user id").to_owned();
            if u["status"] == "DEPROVISIONED" {
                deprovisioned.insert(id);
            } else {
                users.insert(id, u);
            }
        }
        let groups = sim
            .groups()
            .into_iter()
            .map(|g| (g["id"].as_str().expect("group id").to_owned(), g))
            .collect();
        let memberships = sim
            .memberships()
            .into_iter()
            .map(|(g, u)| format!("{g}:{u}"))
            .collect();
        Expected {
            users,
            deprovisioned,
            groups,
            memberships,
        }
    }
}

/// Applies runs to an empty store the way a host does: upserts, deletes, and deletion of
/// objects a completed scope did not contain.
#[derive(Debug, Default)]
pub struct Replica {
    pub objects: BTreeMap<(String, String), Object>,
}

impl Replica {
    pub fn apply(&mut self, run: &Run) {
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        for change in &run.changes {
            match change {
                Change::Upsert(o) => {
                    let key = (o.object_type.to_string(), o.external_id.clone());
                    seen.insert(key.clone());
                    self.objects.insert(key, o.clone());
                }
                Change::Delete {
                    object_type,
                    external_id,
                } => {
                    self.objects
                        .remove(&(object_type.to_string(), external_id.clone()));
                }
                Change::ScopeComplete(scope) => {
                    self.objects.retain(|(t, id), o| {
                        let in_scope = *t == scope.object_type.as_str()
                            && (scope.within.is_none() || o.scope == scope.within);
                        !in_scope || seen.contains(&(t.clone(), id.clone()))
                    });
                }
                other => panic!("a change the replica does not know: {other:?}"),
            }
        }
    }
}
