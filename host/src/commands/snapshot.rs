//! `host snapshot <name> --out DIR`: a read-only JSON backup of an Okta connector's Identity
//! Governance (IGA) objects.
//!
//! The snapshot runs one *full import through the loaded connector library* (the same cdylib
//! and plug-in boundary as `host import`) with the connector's own configuration, except that
//! `Iga.Enabled` is forced on and `ImportUsers`, `ImportGroups` and `ImportMemberships` off: only
//! IGA lists (and the app and group listings IGA discovery needs) are read. The changes go into
//! memory, never into the store, and nothing is written to Okta: the store, the watermark and
//! the run history are untouched.
//!
//! Layout (every file a JSON array of objects, sorted by external id; each object is what the
//! connector emitted: Okta's fields minus `_links`, plus the reference attributes):
//!
//! ```text
//! DIR/manifest.json
//! DIR/json/{campaigns,reviews,entitlementBundles,labels,collections,riskRules,delegates}.json
//! DIR/json/{requestTypes,teams,requests,catalogEntries}.json
//! DIR/json/per-resource/APPLICATION-<id>/{entitlements,entitlement_values,grants,resource_owners,
//!     principal_entitlements,request_conditions,request_sequences}.json
//! DIR/json/per-resource/GROUP-<id>/…
//! ```
//!
//! A file is written only for what was read completely (a completed scope); what was skipped
//! is listed in the manifest with the connector's reason, never written as an empty file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use connector_api::{
    Attributes, CancellationToken, Change, ChangeSink, Context, ImportOutcome, ImportRequest,
    Result as ConnectorResult, Scope,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::{App, Outcome, cancel_on_ctrl_c};
use crate::clock::format_ts;
use crate::config::ConnectorConfig;
use crate::error::{ExitCode, HostError};
use crate::logging::ConnectorLogger;
use crate::output;
use crate::plugin;

/// Arguments of `snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name in host.toml (an Okta connector).
    pub name: String,
    /// Directory to write; created if missing, and must be empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The file (without `.json`) an org-level type is written to.
pub fn org_file(object_type: &str) -> Option<&'static str> {
    Some(match object_type {
        "IgaCampaign" => "campaigns",
        "IgaReview" => "reviews",
        "IgaEntitlementBundle" => "entitlementBundles",
        "IgaLabel" => "labels",
        "IgaCollection" => "collections",
        "IgaRiskRule" => "riskRules",
        "IgaDelegate" => "delegates",
        "IgaRequestType" => "requestTypes",
        "IgaTeam" => "teams",
        "IgaRequest" => "requests",
        "IgaCatalogEntry" => "catalogEntries",
        _ => return None,
    })
}

/// The file (without `.json`) a per-resource type is written to, in its resource's directory.
pub fn resource_file(object_type: &str) -> Option<&'static str> {
    Some(match object_type {
        "IgaEntitlement" => "entitlements",
        "IgaEntitlementValue" => "entitlement_values",
        "IgaGrant" => "grants",
        "IgaResourceOwner" => "resource_owners",
        "IgaPrincipalEntitlement" => "principal_entitlements",
        "IgaRequestCondition" => "request_conditions",
        "IgaRequestSequence" => "request_sequences",
        _ => return None,
    })
}

/// The directory of a resource scope: `APPLICATION:0oa1` → `APPLICATION-0oa1` (anything but
/// letters, digits, `-` and `_` becomes `_`, so an id can never leave the directory).
pub fn resource_dir(scope: &str) -> String {
    scope
        .replacen(':', "-", 1)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Collects the IGA changes of the snapshot's import in memory.
#[derive(Debug, Default)]
pub struct SnapshotSink {
    /// Objects by (type, scope) and external id.
    objects: BTreeMap<(String, Option<String>), BTreeMap<String, Attributes>>,
    /// Objects the source reported as gone, per type (not written).
    deleted: BTreeMap<String, u64>,
    /// Scopes read completely.
    completed: BTreeSet<Scope>,
}

#[async_trait]
impl ChangeSink for SnapshotSink {
    async fn send(&mut self, changes: Vec<Change>) -> ConnectorResult<()> {
        for change in changes {
            match change {
                Change::Upsert(o) if o.object_type.as_str().starts_with("Iga") => {
                    self.objects
                        .entry((o.object_type.to_string(), o.scope))
                        .or_default()
                        .insert(o.external_id, o.attributes);
                }
                Change::Delete { object_type, .. } if object_type.as_str().starts_with("Iga") => {
                    *self.deleted.entry(object_type.to_string()).or_default() += 1;
                }
                Change::ScopeComplete(scope) => {
                    self.completed.insert(scope);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// One skipped part, as the manifest lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedEntry {
    /// The type and scope, e.g. `IgaGrant` or `IgaEntitlement[APPLICATION:0oa…]`.
    pub scope: String,
    /// The connector's reason.
    pub reason: String,
    /// The error category.
    pub kind: String,
}

/// What `manifest.json` holds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Format version of the snapshot layout.
    pub format: u32,
    /// When the snapshot was taken (host clock, RFC 3339).
    pub created_at: String,
    /// The org (`OrgDomain` of the connector's configuration).
    pub org: Option<String>,
    /// Which connector, library and versions produced it.
    pub connector: Value,
    /// The host's version.
    pub host_version: String,
    /// Objects per written file (paths relative to the snapshot directory).
    pub files: BTreeMap<String, usize>,
    /// Objects reported as gone (status DELETED) per type; they are not in any file.
    pub deleted: BTreeMap<String, u64>,
    /// What could not be read, and why.
    pub skipped: Vec<SkippedEntry>,
    /// The connector's run counters (requests, pages, objects…).
    pub stats: BTreeMap<String, u64>,
}

/// Who took the snapshot, for the manifest.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The connector's name in host.toml.
    pub name: String,
    /// The library path.
    pub library: String,
    /// The connector kind (`okta`).
    pub kind: String,
    /// The connector version.
    pub version: String,
    /// `OrgDomain`.
    pub org: Option<String>,
    /// When.
    pub created_at: String,
}

/// Writes the snapshot files and the manifest into `dir` (which must exist and be empty).
///
/// # Errors
/// [`HostError::Io`] when a file cannot be written.
pub fn write(
    dir: &Path,
    sink: &SnapshotSink,
    outcome: &ImportOutcome,
    origin: &Origin,
) -> Result<Manifest, HostError> {
    let mut files = BTreeMap::new();
    for (path, mut objects) in files_of(sink) {
        objects.sort_by(|a, b| a.0.cmp(b.0));
        let items: Vec<&Attributes> = objects.iter().map(|(_, a)| *a).collect();
        write_json(&dir.join(&path), &items)?;
        files.insert(path.to_string_lossy().replace('\\', "/"), items.len());
    }
    let manifest = Manifest {
        format: 1,
        created_at: origin.created_at.clone(),
        org: origin.org.clone(),
        connector: json!({
            "name": origin.name, "kind": origin.kind, "version": origin.version,
            "library": origin.library,
        }),
        host_version: env!("CARGO_PKG_VERSION").to_owned(),
        files,
        deleted: sink.deleted.clone(),
        skipped: outcome
            .skipped
            .iter()
            .map(|s| SkippedEntry {
                scope: s.scope.to_string(),
                reason: s.reason.clone(),
                kind: s.kind.to_string(),
            })
            .collect(),
        stats: outcome.stats.clone(),
    };
    write_json(&dir.join("manifest.json"), &manifest)?;
    Ok(manifest)
}

/// The snapshot's files and the objects each holds: completed scopes only, and a completed
/// scope without objects still gets its (empty) file.
fn files_of(sink: &SnapshotSink) -> BTreeMap<PathBuf, Vec<(&String, &Attributes)>> {
    // Group the completed objects per file.
    let mut by_file: BTreeMap<PathBuf, Vec<(&String, &Attributes)>> = BTreeMap::new();
    for ((object_type, scope), objects) in &sink.objects {
        let path = match (org_file(object_type), resource_file(object_type), scope) {
            (Some(file), _, _) => {
                let whole = Scope::whole(object_type.as_str());
                let sub = scope
                    .as_ref()
                    .map(|s| Scope::within(object_type.as_str(), s.clone()));
                let done = sink.completed.contains(&whole)
                    || sub.is_some_and(|s| sink.completed.contains(&s));
                if !done {
                    continue;
                }
                PathBuf::from("json").join(format!("{file}.json"))
            }
            (None, Some(file), Some(scope)) => {
                if !sink
                    .completed
                    .contains(&Scope::within(object_type.as_str(), scope.clone()))
                {
                    continue;
                }
                PathBuf::from("json")
                    .join("per-resource")
                    .join(resource_dir(scope))
                    .join(format!("{file}.json"))
            }
            _ => continue,
        };
        by_file.entry(path).or_default().extend(objects.iter());
    }
    // Completed scopes without objects still get their (empty) file.
    for scope in &sink.completed {
        let t = scope.object_type.as_str();
        let path = match (&scope.within, org_file(t), resource_file(t)) {
            (None, Some(file), _) => PathBuf::from("json").join(format!("{file}.json")),
            (Some(_), Some(file), _) => PathBuf::from("json").join(format!("{file}.json")),
            (Some(s), None, Some(file)) => PathBuf::from("json")
                .join("per-resource")
                .join(resource_dir(s))
                .join(format!("{file}.json")),
            _ => continue,
        };
        by_file.entry(path).or_default();
    }
    by_file
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), HostError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| HostError::Io(format!("creating {}: {e}", parent.display())))?;
    }
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| HostError::Io(format!("encoding {}: {e}", path.display())))?;
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| HostError::Io(format!("writing {}: {e}", path.display())))
}

/// Creates `dir`, or checks that it is an empty directory.
///
/// # Errors
/// [`HostError::Usage`] when it is a file or not empty; [`HostError::Io`] when it cannot be
/// created.
pub fn prepare_dir(dir: &Path) -> Result<(), HostError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(HostError::Usage(format!(
                    "{} is not empty; a snapshot is written into a new or empty directory (so files of an older \
                     snapshot can never mix with this one)",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| HostError::Io(format!("creating {}: {e}", dir.display()))),
        Err(e) => Err(HostError::Usage(format!(
            "{} cannot be used as the snapshot directory: {e}",
            dir.display()
        ))),
    }
}

/// The connector configuration the snapshot runs with: IGA on, the core types off.
///
/// # Errors
/// [`HostError::Config`] when the ConfigJson is not an object or its `Iga` is not one.
pub fn snapshot_config(config: &ConnectorConfig) -> Result<ConnectorConfig, HostError> {
    let mut config = config.clone();
    let name = config.name.clone();
    let map = config.config.as_object_mut().ok_or_else(|| {
        HostError::Config(format!("connector `{name}`: its config is not a table"))
    })?;
    for key in ["ImportUsers", "ImportGroups", "ImportMemberships"] {
        map.insert(key.to_owned(), Value::Bool(false));
    }
    let iga = map
        .entry("Iga")
        .or_insert_with(|| Value::Object(Default::default()));
    let iga = iga.as_object_mut().ok_or_else(|| {
        HostError::Config(format!(
            "connector `{name}`: Iga in its config is not a table"
        ))
    })?;
    iga.insert("Enabled".to_owned(), Value::Bool(true));
    Ok(config)
}

/// Runs `snapshot`.
///
/// # Errors
/// Configuration, secrets, loading, the output directory, or the connector's import failed.
pub async fn run(app: &App, args: Args) -> Outcome {
    let config = app.config.connector(&args.name)?;
    app.warn_literal_credentials();
    let factory = plugin::load_factory(&config.name, &config.library)?;
    let descriptor = connector_api::ConnectorFactory::descriptor(&factory);
    if !descriptor
        .object_types
        .iter()
        .any(|t| org_file(t.name.as_str()).is_some())
    {
        return Err(HostError::Config(format!(
            "connector `{}` ({} {}) emits no Okta Identity Governance types; `snapshot` is for Okta connectors",
            args.name, descriptor.name, descriptor.version
        )));
    }
    prepare_dir(&args.out)?;
    let settings = snapshot_config(config)?;
    let connector = plugin::instantiate(&factory, &settings, &app.config.secrets.chain())?;
    let cancel = CancellationToken::new();
    let _ctrl_c = cancel_on_ctrl_c(cancel.clone());
    let ctx = Context::new(cancel, Arc::new(ConnectorLogger::new(&args.name, None)));
    let mut sink = SnapshotSink::default();
    let outcome = connector
        .import(&ctx, ImportRequest::full(), &mut sink)
        .await
        .map_err(|e| HostError::connector(&args.name, e))?;
    // The connector (and the only copy of its resolved secrets) goes away with the import.
    drop(connector);
    let origin = Origin {
        name: args.name.clone(),
        library: config.library.display().to_string(),
        kind: descriptor.name.clone(),
        version: descriptor.version.clone(),
        org: config
            .config
            .get("OrgDomain")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_at: format_ts(app.clock.now()),
    };
    let manifest = write(&args.out, &sink, &outcome, &origin)?;
    if app.json {
        output::json(&manifest);
    } else {
        let objects: usize = manifest.files.values().sum();
        let mut text = format!(
            "snapshot of {} written to {}: {} files, {} objects, {} requests\n",
            manifest.org.as_deref().unwrap_or(&args.name),
            args.out.display(),
            manifest.files.len(),
            objects,
            manifest.stats.get("requests").copied().unwrap_or_default()
        );
        for s in &manifest.skipped {
            text.push_str(&format!("  skipped {}: {}\n", s.scope, s.reason));
        }
        output::print(&text);
    }
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_api::{Object, Skipped};

    #[test]
    fn resource_dirs_cannot_escape() {
        assert_eq!(resource_dir("APPLICATION:0oa1"), "APPLICATION-0oa1");
        assert_eq!(resource_dir("GROUP:../x"), "GROUP-___x");
    }

    #[tokio::test]
    async fn writes_only_completed_scopes_and_lists_skips() {
        let mut sink = SnapshotSink::default();
        sink.send(vec![
            Change::Upsert(Object::new("IgaCampaign", "ici2").with("id", "ici2")),
            Change::Upsert(Object::new("IgaCampaign", "ici1").with("id", "ici1")),
            Change::delete("IgaCampaign", "ici3"),
            Change::ScopeComplete(Scope::whole("IgaCampaign")),
            Change::Upsert(Object::new("IgaLabel", "lbc1")),
            Change::Upsert(Object::new("IgaGrant", "0gg1").in_scope("APPLICATION:0oa1")),
            Change::ScopeComplete(Scope::within("IgaGrant", "APPLICATION:0oa1")),
            Change::ScopeComplete(Scope::within("IgaEntitlement", "GROUP:00g1")),
            Change::Upsert(Object::new("IgaGrant", "0gg2").in_scope("APPLICATION:0oa2")),
            Change::Upsert(Object::new("User", "00u1")),
        ])
        .await
        .unwrap();
        let outcome = ImportOutcome::new().with_skipped(vec![Skipped::new(
            Scope::whole("IgaLabel"),
            "403",
            connector_api::ErrorKind::PermissionDenied,
        )]);
        let dir = tempfile::tempdir().unwrap();
        let origin = Origin {
            name: "okta".into(),
            library: "lib.so".into(),
            kind: "okta".into(),
            version: "0.1.0".into(),
            org: Some("contoso.okta.com".into()),
            created_at: "2026-11-23T10:00:00.000Z".into(),
        };
        let m = write(dir.path(), &sink, &outcome, &origin).unwrap();
        assert_eq!(
            m.files,
            BTreeMap::from([
                ("json/campaigns.json".to_owned(), 2),
                (
                    "json/per-resource/APPLICATION-0oa1/grants.json".to_owned(),
                    1
                ),
                (
                    "json/per-resource/GROUP-00g1/entitlements.json".to_owned(),
                    0
                ),
            ])
        );
        assert_eq!(m.deleted["IgaCampaign"], 1);
        assert_eq!(m.skipped[0].scope, "IgaLabel");
        let campaigns: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("json/campaigns.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(campaigns[0]["id"], "ici1");
        assert!(!dir.path().join("json/labels.json").exists());
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["org"], "contoso.okta.com");
        assert_eq!(manifest["files"]["json/campaigns.json"], 2);
        // A directory that is not empty is refused.
        assert!(matches!(prepare_dir(dir.path()), Err(HostError::Usage(_))));
    }
}
