//! `host snapshot` and IGA through the host: the snapshot layout for a generated org, and a
//! store that keeps the IGA objects of a scope that failed on a later run.

use std::collections::BTreeSet;
use std::path::Path;

use fixtures::OrgSpec;
use fixtures::iga::{Failure, IgaData, IgaKind};
use host::runner::ModeChoice;
use host::store::RunStatus;
use serde_json::{Value, json};

use crate::support::{Harness, TOKEN_VAR, host, run_host, simulator, text, write_host_toml};

fn org() -> OrgSpec {
    OrgSpec {
        users: 50,
        groups: 21,
        memberships: 80,
        apps: 6,
    }
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} should exist: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn len(path: &Path) -> usize {
    read(path).as_array().expect("a JSON array").len()
}

fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("")
}

fn live(d: &IgaData, kind: IgaKind) -> usize {
    d.objects(kind)
        .iter()
        .filter(|o| s(o, "status") != "DELETED")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_writes_the_iga_layout_for_a_generated_org() {
    let sim = simulator(org(), "test-token").await;
    let d = sim.with_iga(|d| d.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_host_toml(dir.path(), &sim, "");
    let out = dir.path().join("snapshot");
    let snapshot = || {
        let mut cmd = host();
        cmd.arg("--config")
            .arg(&config)
            .args(["snapshot", "okta", "--out"])
            .arg(&out)
            .env(TOKEN_VAR, "test-token");
        cmd
    };
    sim.reset_stats();
    let result = run_host(snapshot()).await;
    assert!(result.status.success(), "{}", text(&result));
    assert!(text(&result).contains("snapshot of contoso.okta.com written to"));
    // IGA only: the core listings of users and members are never read.
    let stats = sim.stats();
    assert!(!stats.requests_by_bucket.contains_key("/api/v1/users"));
    assert!(!stats.requests_by_bucket.contains_key("/api/v1/groups/{id}"));

    // Org-level files.
    let json = out.join("json");
    for (file, expected) in [
        ("campaigns", live(&d, IgaKind::Campaigns)),
        ("reviews", d.count(IgaKind::Reviews)),
        ("entitlementBundles", live(&d, IgaKind::EntitlementBundles)),
        ("labels", d.count(IgaKind::Labels)),
        ("collections", d.count(IgaKind::Collections)),
        ("riskRules", d.count(IgaKind::RiskRules)),
        ("delegates", d.count(IgaKind::Delegates)),
    ] {
        assert_eq!(len(&json.join(format!("{file}.json"))), expected, "{file}");
    }
    let labels = read(&json.join("labels.json"));
    assert!(labels[0]["labelId"].as_str().unwrap().starts_with("lbc"));
    assert!(labels[0].get("_links").is_none());

    // Per-resource directories: every governed app has the four files with the simulator's
    // objects; groups have theirs, except owners (no ORN for groups).
    let per_resource = json.join("per-resource");
    for app in d.apps().filter(|a| a.governed) {
        let at = per_resource.join(format!("APPLICATION-{}", app.id));
        assert_eq!(
            len(&at.join("entitlements.json")),
            d.objects_of(IgaKind::Entitlements, &app.id).len()
        );
        assert_eq!(
            len(&at.join("entitlement_values.json")),
            d.objects_of(IgaKind::EntitlementValues, &app.id).len()
        );
        assert_eq!(
            len(&at.join("grants.json")),
            d.objects_of(IgaKind::Grants, &app.id).len()
        );
        assert_eq!(
            len(&at.join("resource_owners.json")),
            d.objects_of(IgaKind::ResourceOwners, &app.id).len()
        );
        let grants = read(&at.join("grants.json"));
        assert!(
            grants
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["resourceId"] == app.id.as_str())
        );
    }
    for group in d.groups() {
        let at = per_resource.join(format!("GROUP-{}", group.id));
        for file in ["entitlements", "entitlement_values", "grants"] {
            assert!(
                at.join(format!("{file}.json")).exists(),
                "{}/{file}",
                group.id
            );
        }
        assert!(!at.join("resource_owners.json").exists());
    }
    let manifest = read(&out.join("manifest.json"));
    assert_eq!(manifest["org"], sim.org_domain());
    assert_eq!(manifest["connector"]["kind"], "okta");
    assert!(manifest["connector"]["version"].is_string());
    assert!(manifest["hostVersion"].is_string());
    assert!(manifest["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        manifest["deleted"]["IgaCampaign"].as_u64().unwrap() as usize,
        d.count(IgaKind::Campaigns) - live(&d, IgaKind::Campaigns)
    );
    // Counts per file match the files.
    let files = manifest["files"].as_object().unwrap();
    assert!(files.len() > 7 + 4 * d.apps().filter(|a| a.governed).count());
    for (path, count) in files {
        assert_eq!(
            len(&out.join(path)) as u64,
            count.as_u64().unwrap(),
            "{path}"
        );
    }
    // Ungoverned apps are skipped and reported, not written as empty files.
    let skipped: BTreeSet<String> = manifest["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap().to_owned())
        .collect();
    for app in d.apps().filter(|a| !a.governed) {
        assert!(
            skipped.contains(&format!("IgaEntitlement[APPLICATION:{}]", app.id)),
            "{skipped:?}"
        );
        assert!(
            !per_resource
                .join(format!("APPLICATION-{}", app.id))
                .join("entitlements.json")
                .exists()
        );
    }
    assert!(skipped.contains("IgaResourceOwner[GROUP:*]"));
    // Read-only for the host too: no store was created.
    assert!(!dir.path().join("mesh.db").exists());

    // The directory must be new or empty.
    let again = run_host(snapshot()).await;
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("is not empty"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_iga_objects_of_a_type_or_resource_that_failed() {
    let mut h = Harness::with(
        org(),
        "test-token",
        json!({"Iga": {"Enabled": true, "ResourceTypes": ["applications"]}}),
    )
    .await;
    let first = h.run(ModeChoice::Full).await;
    assert_eq!(
        first.run.status,
        RunStatus::Succeeded,
        "{:?}",
        first.run.error
    );
    let before = h.stored();
    assert!(
        before["IgaCampaign"] > 0 && before["IgaEntitlement"] > 0,
        "{before:?}"
    );

    // Campaigns now answer 403 and one governed app is taken out of governance (400).
    let app = h
        .sim
        .with_iga(|d| {
            d.disable(IgaKind::Campaigns, Failure::Forbidden);
            let app = d.governed_app_ids()[0].to_owned();
            assert!(d.set_governed(&app, false));
            app
        })
        .unwrap();
    let second = h.run(ModeChoice::Full).await;
    assert_eq!(
        second.run.status,
        RunStatus::Succeeded,
        "{:?}",
        second.run.error
    );
    let skipped: BTreeSet<String> = second
        .run
        .skipped
        .iter()
        .map(|s| s.scope.to_string())
        .collect();
    assert!(skipped.contains("IgaCampaign"), "{skipped:?}");
    assert!(skipped.contains("IgaReview"), "{skipped:?}");
    assert!(
        skipped.contains(&format!("IgaEntitlement[APPLICATION:{app}]")),
        "{skipped:?}"
    );
    assert!(second.run.skipped.iter().any(|s| {
        s.reason
            .contains("okta.governance.accessCertifications.read")
    }));
    // Nothing of the failed scopes was deleted.
    let after = h.stored();
    for t in [
        "IgaCampaign",
        "IgaReview",
        "IgaEntitlement",
        "IgaEntitlementValue",
        "IgaGrant",
    ] {
        assert_eq!(after.get(t), before.get(t), "{t}");
    }
    let kept = h
        .store
        .object("okta", "IgaEntitlement", &first_entitlement_of(&h, &app))
        .unwrap();
    assert!(
        kept.is_some(),
        "the ungoverned app's entitlements are still stored"
    );
    // The run history says what was skipped.
    let runs = h.store.runs("okta", 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().any(|r| {
        r.status == RunStatus::Succeeded
            && r.skipped
                .iter()
                .any(|s| s.scope.to_string() == "IgaCampaign")
    }));
}

fn first_entitlement_of(h: &Harness, app: &str) -> String {
    h.sim
        .with_iga(|d| s(&d.objects_of(IgaKind::Entitlements, app)[0], "id").to_owned())
        .unwrap()
}
