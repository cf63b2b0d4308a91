//! Write-back round trips: `host export okta` against the simulator, then `host import okta`.
//!
//! The "Must show": two new users, one profile update, two membership adds, one
//! remove, one deactivation and one invalid user (no `email`) → seven applied, the invalid one
//! failed naming `email`, exit 4; the following import shows exactly those changes; the same
//! file again writes nothing and reports the seven as unchanged; `--dry-run` writes nothing.
//! Also: a create whose response is lost makes exactly one user, a read-only token fails each
//! write with the remedy, and the canary token appears nowhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use fixtures::{FaultKind, OrgSpec, Simulator, Trigger};
use host::store::Store;
use serde_json::{Value, json};

use crate::canary::{assert_absent, assert_store_clean, canary};
use crate::support::{
    NAME, TOKEN_REF, TOKEN_VAR, connector_json, host, library, run_host, simulator, text,
};

/// A host.toml for `sim` with write-back enabled (users activated on create).
fn write_back_toml(dir: &Path, sim: &Simulator) -> PathBuf {
    let config = connector_json(
        sim,
        // Custom attributes are exported, so the import that checks them reads them too.
        json!({"Export": {"Enabled": true, "ActivateOnCreate": true}, "ImportCustomAttributes": true}),
    );
    let text = format!(
        "store = \"mesh.db\"\n[connectors.{NAME}]\nlibrary = {:?}\nconfig = {}\n\
         auth = {{ Mode = \"ApiKey\", ApiKey = \"{TOKEN_REF}\" }}\n",
        library().display().to_string(),
        toml_inline(&config),
    );
    let path = dir.join("host.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A JSON object as a TOML inline table (strings, numbers, booleans and nested objects).
fn toml_inline(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_inline(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// Runs the host with `args` and the token in its environment.
async fn cli(config: &Path, token: &str, args: &[&str]) -> Output {
    let mut cmd = host();
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env(TOKEN_VAR, token)
        .env("RUST_LOG", "trace");
    run_host(cmd).await
}

/// `host --json export okta --changes FILE [--dry-run]`: the exit code and the outcomes.
async fn export(
    config: &Path,
    token: &str,
    file: &Path,
    dry_run: bool,
) -> (i32, Vec<Value>, Output) {
    let file = file.display().to_string();
    let mut args = vec!["--json", "export", NAME, "--changes", &file];
    if dry_run {
        args.push("--dry-run");
    }
    let out = cli(config, token, &args).await;
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--json output ({e}):\n{}", text(&out)));
    let outcomes = json["outcomes"].as_array().unwrap().clone();
    (out.status.code().unwrap_or(-1), outcomes, out)
}

fn outcome_names(outcomes: &[Value]) -> Vec<&str> {
    outcomes
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect()
}

/// Everything the store holds for the connector: (type, id) → attributes.
fn stored(dir: &Path) -> BTreeMap<(String, String), Value> {
    let store = Store::open_existing(&dir.join("mesh.db")).unwrap();
    let mut all = BTreeMap::new();
    store
        .for_each_object(NAME, None, None, |o| {
            all.insert((o.object_type, o.external_id), o.attributes);
            Ok(())
        })
        .unwrap();
    all
}

/// Ids of `(type, id)` keys of one type.
fn of_type<'a>(keys: impl IntoIterator<Item = &'a (String, String)>, t: &str) -> BTreeSet<String> {
    keys.into_iter()
        .filter(|(ty, _)| ty == t)
        .map(|(_, id)| id.clone())
        .collect()
}

/// What the Must-show file touches in the org.
struct Picks {
    okta_groups: Vec<String>,
    member_to_remove: (String, String),
    to_update: String,
    to_deactivate: String,
    outsider: String,
}

fn pick(sim: &Simulator) -> Picks {
    let okta_groups: Vec<String> = sim
        .groups()
        .iter()
        .filter(|g| g["type"] == "OKTA_GROUP")
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    let active: Vec<String> = sim
        .users()
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let g0 = &okta_groups[0];
    let members = sim.group_member_ids(g0);
    let removed = members.iter().find(|m| active.contains(m)).unwrap().clone();
    let outsider = active
        .iter()
        .find(|u| !members.contains(u) && **u != removed)
        .unwrap()
        .clone();
    let rest: Vec<&String> = active
        .iter()
        .filter(|u| **u != removed && **u != outsider)
        .collect();
    Picks {
        member_to_remove: (g0.clone(), removed),
        to_update: rest[0].clone(),
        to_deactivate: rest[1].clone(),
        outsider,
        okta_groups,
    }
}

fn must_show_file(p: &Picks) -> String {
    let user = |login: &str, first: &str, email: bool| {
        let mut attrs =
            json!({"login": login, "firstName": first, "lastName": "Export", "department": "Mesh"});
        if email {
            attrs["email"] = json!(login);
        }
        json!({"op": "upsert", "type": "User", "id": login, "attrs": attrs})
    };
    let (g0, removed) = &p.member_to_remove;
    let g1 = &p.okta_groups[1];
    let lines = [
        user("ada.export@example.com", "Ada", true),
        user("bob.export@example.com", "Bob", true),
        json!({"op": "upsert", "type": "User", "id": p.to_update, "attrs": {"title": "Exported Title", "custom.costCode": "CC-7"}}),
        json!({"op": "upsert", "type": "GroupMember", "id": format!("{g0}:{}", p.outsider)}),
        json!({"op": "upsert", "type": "GroupMember", "id": format!("{g1}:ada.export@example.com")}),
        json!({"op": "delete", "type": "GroupMember", "id": format!("{g0}:{removed}")}),
        json!({"op": "delete", "type": "User", "id": p.to_deactivate}),
        user("no.email@example.com", "Nomail", false),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_show_export_then_import_then_resend_and_dry_run() {
    let token = canary();
    let sim = simulator(OrgSpec::small(), &token).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_back_toml(dir.path(), &sim);
    let (mut all_output, mut logs) = (Vec::new(), Vec::new());
    let out = cli(&config, &token, &["import", NAME, "--mode", "full"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let before = stored(dir.path());
    let picks = pick(&sim);
    let file = dir.path().join("changes.jsonl");
    std::fs::write(&file, must_show_file(&picks)).unwrap();

    // A dry run first: what would happen, and not a single write.
    sim.reset_stats();
    let (code, outcomes, out) = export(&config, &token, &file, true).await;
    all_output.extend([out.stdout, out.stderr.clone()].concat());
    logs.extend(out.stderr);
    assert_eq!(code, 4);
    assert_eq!(
        outcome_names(&outcomes),
        [vec!["applied"; 7], vec!["failed"]].concat()
    );
    assert_eq!(
        sim.stats().writes_total(),
        0,
        "{:?}",
        sim.stats().writes_by_endpoint
    );

    // The export: seven applied, the user without email failed naming it, exit 4.
    sim.reset_stats();
    let (code, outcomes, out) = export(&config, &token, &file, false).await;
    all_output.extend([out.stdout, out.stderr.clone()].concat());
    logs.extend(out.stderr);
    assert_eq!(code, 4, "{outcomes:?}");
    assert_eq!(
        outcome_names(&outcomes),
        [vec!["applied"; 7], vec!["failed"]].concat(),
        "{outcomes:?}"
    );
    let invalid = &outcomes[7];
    assert_eq!(invalid["error_kind"], "invalid_config");
    assert!(
        invalid["error"].as_str().unwrap().contains("email"),
        "{invalid}"
    );
    let writes = sim.stats().writes_by_endpoint;
    assert_eq!(writes["POST /api/v1/users"], 2, "{writes:?}");
    assert_eq!(writes["POST /api/v1/users/{id}"], 1);
    assert_eq!(writes["PUT /api/v1/groups/{groupId}/users/{userId}"], 2);
    assert_eq!(writes["DELETE /api/v1/groups/{groupId}/users/{userId}"], 1);
    assert_eq!(writes["POST /api/v1/users/{id}/lifecycle/deactivate"], 1);
    assert_eq!(sim.stats().writes_total(), 7);
    assert!(
        !writes.keys().any(|k| k.starts_with("DELETE /api/v1/users")),
        "never a purge"
    );
    let ada = outcomes[0]["assigned_id"].as_str().unwrap().to_owned();
    let bob = outcomes[1]["assigned_id"].as_str().unwrap().to_owned();

    // The following import shows exactly those changes.
    let out = cli(&config, &token, &["import", NAME]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_import_shows(&before, &stored(dir.path()), &picks, (&ada, &bob), &sim);

    // The same file again: nothing written, the seven unchanged; a dry run writes nothing either.
    for dry_run in [false, true] {
        sim.reset_stats();
        let (code, outcomes, out) = export(&config, &token, &file, dry_run).await;
        all_output.extend([out.stdout, out.stderr.clone()].concat());
        logs.extend(out.stderr);
        assert_eq!(code, 4);
        assert_eq!(
            outcome_names(&outcomes),
            [vec!["unchanged"; 7], vec!["failed"]].concat()
        );
        assert_eq!(
            sim.stats().writes_total(),
            0,
            "{:?}",
            sim.stats().writes_by_endpoint
        );
    }
    let logs = String::from_utf8_lossy(&logs);
    assert!(logs.contains("export_write"), "audit lines are logged");
    assert!(
        logs.contains("X-Okta-Request-Id") && !logs.contains("X-Okta-Request-Id none"),
        "audit lines carry Okta's request id"
    );
    assert!(
        !logs.contains("Exported Title"),
        "audit lines carry no profile value"
    );
    assert_absent(&all_output, &token, "the host's logs or output");
    assert_store_clean(&dir.path().join("mesh.db"), &token);
}

/// The import after the export differs from the one before by exactly what was exported (and
/// what Okta does on its own: new users join Everyone, groups move lastMembershipUpdated).
fn assert_import_shows(
    before: &BTreeMap<(String, String), Value>,
    after: &BTreeMap<(String, String), Value>,
    p: &Picks,
    (ada, bob): (&str, &str),
    sim: &Simulator,
) {
    let added: Vec<&(String, String)> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<&(String, String)> =
        before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<&(String, String)> = after
        .iter()
        .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        of_type(added.clone(), "User"),
        BTreeSet::from([ada.to_owned(), bob.to_owned()])
    );
    assert_eq!(
        of_type(removed.clone(), "User"),
        BTreeSet::from([p.to_deactivate.clone()])
    );
    assert_eq!(
        of_type(changed.clone(), "User"),
        BTreeSet::from([p.to_update.clone()])
    );
    let updated = &after[&("User".to_owned(), p.to_update.clone())];
    assert_eq!(updated["title"], "Exported Title");
    assert_eq!(updated["custom.costCode"], "CC-7");
    let new_user = &after[&("User".to_owned(), ada.to_owned())];
    assert_eq!(
        (new_user["status"].as_str(), new_user["department"].as_str()),
        (Some("ACTIVE"), Some("Mesh"))
    );
    let everyone = sim.everyone_group_id();
    let (g0, gone) = &p.member_to_remove;
    let expected_added = BTreeSet::from([
        format!("{g0}:{}", p.outsider),
        format!("{}:{ada}", p.okta_groups[1]),
        format!("{everyone}:{ada}"),
        format!("{everyone}:{bob}"),
    ]);
    assert_eq!(of_type(added, "GroupMember"), expected_added);
    let mut expected_removed = BTreeSet::from([format!("{g0}:{gone}")]);
    // A deactivated user stays a member in Okta, but the import stores memberships of
    // users it stores; those the store dropped are the deactivated user's only.
    let dropped = of_type(removed.clone(), "GroupMember");
    expected_removed.extend(
        dropped
            .iter()
            .filter(|m| m.ends_with(&format!(":{}", p.to_deactivate)))
            .cloned(),
    );
    assert_eq!(dropped, expected_removed);
    let touched: BTreeSet<String> = [g0.clone(), p.okta_groups[1].clone(), everyone].into();
    assert!(of_type(changed, "Group").is_subset(&touched));
    assert!(of_type(removed, "Group").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_response_makes_exactly_one_user() {
    let sim = simulator(OrgSpec::tiny(), "test-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_back_toml(dir.path(), &sim);
    let file = dir.path().join("one.jsonl");
    let login = "lost.answer@example.com";
    let change = json!({"op": "upsert", "type": "User", "id": login,
        "attrs": {"login": login, "email": login, "firstName": "Lost", "lastName": "Answer"}});
    std::fs::write(&file, format!("{change}\n")).unwrap();
    sim.faults().inject(
        FaultKind::DropResponse,
        "/api/v1/users?activate",
        Trigger::Next(1),
    );
    let (code, outcomes, out) = export(&config, "test-token", &file, false).await;
    assert_eq!(code, 0, "{}", text(&out));
    assert_eq!(outcome_names(&outcomes), ["applied"]);
    let made: Vec<Value> = sim
        .users()
        .into_iter()
        .filter(|u| u["profile"]["login"] == login)
        .collect();
    assert_eq!(made.len(), 1, "exactly one user");
    assert_eq!(
        outcomes[0]["assigned_id"], made[0]["id"],
        "the user found by login was adopted"
    );
    assert_eq!(
        sim.stats().writes_by_endpoint["POST /api/v1/users"],
        1,
        "never sent twice"
    );
    assert_eq!(sim.faults().fired(), 1, "the response really was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_fails_each_write_with_the_remedy() {
    let sim = simulator(OrgSpec::small(), "test-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_back_toml(dir.path(), &sim);
    let p = pick(&sim);
    let file = dir.path().join("ro.jsonl");
    let lines = [
        json!({"op": "upsert", "type": "User", "id": "ro@example.com",
            "attrs": {"login": "ro@example.com", "email": "ro@example.com", "firstName": "R", "lastName": "O"}}),
        json!({"op": "upsert", "type": "GroupMember", "id": format!("{}:{}", p.okta_groups[0], p.outsider)}),
        json!({"op": "delete", "type": "User", "id": p.to_deactivate}),
    ];
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    sim.faults().set_token_read_only(true);
    let (code, outcomes, out) = export(&config, "test-token", &file, false).await;
    assert_eq!(code, 4, "{}", text(&out));
    assert_eq!(outcome_names(&outcomes), ["failed", "failed", "failed"]);
    for (o, scope) in outcomes.iter().zip([
        "okta.users.manage",
        "okta.groups.manage",
        "okta.users.manage",
    ]) {
        assert_eq!(o["error_kind"], "permission_denied", "{o}");
        let error = o["error"].as_str().unwrap();
        assert!(
            error.contains(scope) && error.contains("Read-only tokens"),
            "{error}"
        );
    }
    assert!(
        sim.users()
            .iter()
            .all(|u| u["profile"]["login"] != "ro@example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_per_change_app_groups_missing_objects_and_disallowed_operations() {
    let sim = simulator(OrgSpec::small(), "test-token").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_back_toml(dir.path(), &sim);
    let p = pick(&sim);
    let app_group = sim
        .groups()
        .into_iter()
        .find(|g| g["type"] == "APP_GROUP")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = dir.path().join("refused.jsonl");
    let lines = [
        json!({"op": "upsert", "type": "GroupMember", "id": format!("{app_group}:{}", p.outsider)}),
        json!({"op": "upsert", "type": "GroupMember", "id": format!("00gmissing:{}", p.outsider)}),
        json!({"op": "delete", "type": "User", "id": "00unosuchuser"}),
        json!({"op": "upsert", "type": "User", "id": p.to_update, "attrs": {"shoeSize": 44}}),
        json!({"op": "upsert", "type": "User", "id": "bad@example.com",
            "attrs": {"login": "not-an-email", "email": "bad@example.com", "firstName": "B", "lastName": "D"}}),
    ];
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let (code, outcomes, _) = export(&config, "test-token", &file, false).await;
    assert_eq!(code, 4);
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|o| o["error_kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "not_supported",
            "not_found",
            "not_found",
            "invalid_config",
            "invalid_config"
        ]
    );
    let errors: Vec<&str> = outcomes
        .iter()
        .map(|o| o["error"].as_str().unwrap())
        .collect();
    assert!(errors[0].contains("APP_GROUP"), "{}", errors[0]);
    assert!(
        errors[3].contains("shoeSize") && errors[3].contains("custom.shoeSize"),
        "{}",
        errors[3]
    );
    assert!(errors[4].contains("login"), "{}", errors[4]);
    assert_eq!(
        sim.stats().writes_total(),
        0,
        "nothing refused locally reached Okta"
    );

    // Operations not listed are skipped with the key to add.
    let limited = connector_json(
        &sim,
        json!({"Export": {"Enabled": true, "Operations": ["AddMember"]}}),
    );
    let text_toml = std::fs::read_to_string(&config).unwrap();
    let start = text_toml.find("config = ").unwrap();
    let end = start + text_toml[start..].find('\n').unwrap();
    let limited_toml = format!(
        "{}config = {}{}",
        &text_toml[..start],
        toml_inline(&limited),
        &text_toml[end..]
    );
    std::fs::write(&config, limited_toml).unwrap();
    let file = dir.path().join("limited.jsonl");
    let line = json!({"op": "delete", "type": "User", "id": p.to_deactivate});
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let (code, outcomes, _) = export(&config, "test-token", &file, false).await;
    assert_eq!(code, 4);
    assert_eq!(outcome_names(&outcomes), ["skipped"]);
    assert!(
        outcomes[0]["error"]
            .as_str()
            .unwrap()
            .contains("\"DeactivateUser\""),
        "{}",
        outcomes[0]
    );
}
