//! The mapping of every IGA type, on the recorded response bodies in `fixtures/recorded/iga/`
//! (written from the spec's examples).

use serde_json::{Value, json};

use super::*;

/// The `data` items of `fixtures/recorded/iga/<stem>.json`.
fn items(stem: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/recorded/iga")
        .join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let items = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{} has no `data` array", path.display()))
        .clone();
    assert!(!items.is_empty(), "{} has no items", path.display());
    items
}

/// The recorded body of each type.
fn stem(t: IgaType) -> &'static str {
    match t {
        IgaType::Campaign => "campaigns",
        IgaType::Review => "reviews",
        IgaType::EntitlementBundle => "entitlement_bundles",
        IgaType::Label => "labels",
        IgaType::Collection => "collections",
        IgaType::RiskRule => "risk_rules",
        IgaType::Delegate => "delegates",
        IgaType::RequestType => "request_types",
        IgaType::Team => "teams",
        IgaType::Request => "requests",
        IgaType::CatalogEntry => "catalog_entries",
        IgaType::Entitlement => "entitlements",
        IgaType::EntitlementValue => "entitlement_values",
        IgaType::Grant => "grants",
        IgaType::ResourceOwner => "resource_owners",
        IgaType::PrincipalEntitlement => "principal_entitlements",
        IgaType::RequestCondition => "request_conditions",
        IgaType::RequestSequence => "request_sequences",
    }
}

fn app() -> IgaResource {
    IgaResource::application("0oafxqCAJWWGELFTYASJ", None)
}

fn upsert(t: IgaType, item: Value, target: Target<'_>) -> Object {
    match to_change(t, item, target).unwrap() {
        Change::Upsert(o) => o,
        other => panic!("upsert expected for {t:?}, got {other:?}"),
    }
}

/// The org-level types that never delete: every recorded item is an unscoped upsert under its
/// `id`, without `_links`, with the attribute named here; an item without `id` is refused.
#[test]
fn maps_the_recorded_org_level_objects() {
    for (t, attribute) in [
        (IgaType::Campaign, "status"),
        (IgaType::EntitlementBundle, "entitlements"),
        (IgaType::Collection, "orn"),
        (IgaType::RiskRule, "resourceOrns"),
        (IgaType::Delegate, "delegatorId"),
        (IgaType::RequestType, "name"),
        (IgaType::Team, "name"),
        (IgaType::Request, "requestedForId"),
        (IgaType::CatalogEntry, "requestable"),
    ] {
        for item in items(stem(t)) {
            if item["status"] == "DELETED" {
                continue; // the gone-status test below covers these
            }
            let id = item["id"].as_str().unwrap().to_owned();
            let o = upsert(t, item, Target::Org);
            assert_eq!(o.object_type, t.name());
            assert_eq!(o.external_id, id);
            assert_eq!(o.scope, None);
            assert!(!o.attributes.contains_key("_links"), "{t:?}");
            assert!(o.attributes.contains_key(attribute), "{t:?}: {attribute}");
        }
        assert!(to_change(t, json!({"name": "no id"}), Target::Org).is_err());
    }
}

#[test]
fn org_level_references_are_copied() {
    for item in items("entitlement_bundles") {
        let o = upsert(IgaType::EntitlementBundle, item, Target::Org);
        assert!(o.attributes["targetId"].is_string());
        assert!(
            o.attributes["targetResourceOrn"]
                .as_str()
                .unwrap()
                .starts_with("orn:")
        );
        assert!(o.attributes["entitlements"].is_array());
    }
    for item in items("collections") {
        let o = upsert(IgaType::Collection, item, Target::Org);
        assert!(o.attributes["orn"].as_str().unwrap().starts_with("orn:"));
    }
    for item in items("risk_rules") {
        let o = upsert(IgaType::RiskRule, item, Target::Org);
        assert!(
            o.attributes["resourceOrns"][0]
                .as_str()
                .unwrap()
                .starts_with("orn:")
        );
    }
    for item in items("delegates") {
        let o = upsert(IgaType::Delegate, item, Target::Org);
        assert!(o.attributes["delegatorId"].is_string());
        assert!(o.attributes["delegateId"].is_string());
    }
    for item in items("requests") {
        let o = upsert(IgaType::Request, item, Target::Org);
        assert!(o.attributes["requestedForId"].is_string());
        assert!(o.attributes["status"].is_string());
    }
}

#[test]
fn maps_the_recorded_labels_by_label_id() {
    for item in items("labels") {
        let id = item["labelId"].as_str().unwrap().to_owned();
        let values = item["values"].as_array().unwrap().len();
        let o = upsert(IgaType::Label, item, Target::Org);
        assert_eq!(o.external_id, id);
        assert_eq!(o.object_type, "IgaLabel");
        assert_eq!(o.attributes["valueIds"].as_array().unwrap().len(), values);
        assert!(
            o.attributes["valueIds"][0]
                .as_str()
                .unwrap()
                .starts_with("lbl")
        );
    }
    // An `id` is not a `labelId`.
    assert!(
        to_change(
            IgaType::Label,
            json!({"id": "lbc1", "name": "x"}),
            Target::Org
        )
        .is_err()
    );
}

#[test]
fn maps_the_recorded_reviews() {
    for item in items("reviews") {
        let id = item["id"].as_str().unwrap().to_owned();
        let campaign = item["campaignId"].as_str().unwrap().to_owned();
        let principal = item["principalProfile"]["id"].clone();
        let reviewer = item["reviewerProfile"]["id"].clone();
        let o = upsert(IgaType::Review, item, Target::Campaign(&campaign));
        assert_eq!(o.external_id, id);
        assert_eq!(o.scope.as_deref(), Some(campaign.as_str()));
        assert_eq!(o.attributes["campaignId"], campaign);
        assert_eq!(o.attributes["principalId"], principal);
        // Group and resource-owner reviews have no single reviewer profile.
        assert_eq!(o.attributes["reviewerId"], reviewer);
        assert!(o.attributes["resourceId"].is_string());
    }
}

#[test]
fn maps_the_recorded_entitlements_and_values() {
    let app = app();
    for item in items("entitlements") {
        let id = item["id"].as_str().unwrap().to_owned();
        let o = upsert(IgaType::Entitlement, item, Target::Resource(&app));
        assert_eq!(o.external_id, id);
        assert_eq!(o.scope.as_deref(), Some("APPLICATION:0oafxqCAJWWGELFTYASJ"));
        assert_eq!(o.attributes["resourceId"], "0oafxqCAJWWGELFTYASJ");
        assert_eq!(o.attributes["resourceType"], "APPLICATION");
        assert!(
            o.attributes["parentResourceOrn"]
                .as_str()
                .unwrap()
                .starts_with("orn:")
        );
    }
    for item in items("entitlement_values") {
        let id = item["id"].as_str().unwrap().to_owned();
        let entitlement = item["entitlementId"].clone();
        let o = upsert(IgaType::EntitlementValue, item, Target::Resource(&app));
        assert_eq!(o.external_id, id);
        assert_eq!(o.scope.as_deref(), Some("APPLICATION:0oafxqCAJWWGELFTYASJ"));
        assert_eq!(o.attributes["entitlementId"], entitlement);
        assert!(o.attributes["orn"].as_str().unwrap().starts_with("orn:"));
    }
}

#[test]
fn maps_the_recorded_grants() {
    let app = app();
    for item in items("grants") {
        let id = item["id"].as_str().unwrap().to_owned();
        let principal = item["targetPrincipal"]["externalId"].clone();
        let o = upsert(IgaType::Grant, item, Target::Resource(&app));
        assert_eq!(o.external_id, id);
        assert_eq!(o.scope.as_deref(), Some("APPLICATION:0oafxqCAJWWGELFTYASJ"));
        assert_eq!(o.attributes["principalId"], principal);
        assert!(
            o.attributes["targetResourceOrn"]
                .as_str()
                .unwrap()
                .starts_with("orn:")
        );
        assert!(o.attributes["entitlementIds"].is_array());
    }
    let o = upsert(
        IgaType::Grant,
        json!({"id": "0gg1", "entitlements": [{"id": "esp1", "values": [{"id": "ent1"}, {"id": "ent2"}]}]}),
        Target::Resource(&app),
    );
    assert_eq!(o.attributes["entitlementIds"], json!(["esp1"]));
    assert_eq!(o.attributes["entitlementValueIds"], json!(["ent1", "ent2"]));
    assert_eq!(o.attributes["entitlementBundleId"], Value::Null);
}

#[test]
fn maps_the_recorded_resource_owners_with_composite_ids() {
    let app = app();
    let target = Target::Owners(&app, "orn:okta:idp:x:apps:y:0oafxqCAJWWGELFTYASJ");
    for item in items("resource_owners") {
        let parent = item["parentResourceOrn"].as_str().unwrap().to_owned();
        let owned = item["resource"]["orn"].as_str().unwrap().to_owned();
        let principals = item["principals"].as_array().unwrap().len();
        let o = upsert(IgaType::ResourceOwner, item, target);
        assert_eq!(o.external_id, format!("{parent}|{owned}"));
        assert_eq!(o.attributes["resourceOrn"], owned);
        assert_eq!(o.attributes["parentResourceOrn"], parent);
        assert_eq!(
            o.attributes["principalOrns"].as_array().unwrap().len(),
            principals
        );
        assert!(
            o.attributes["principalIds"][0]
                .as_str()
                .unwrap()
                .starts_with("00")
        );
    }
    let no_parent = json!({"resource": {"orn": "orn:x"}});
    assert!(to_change(IgaType::ResourceOwner, no_parent, target).is_err());
}

#[test]
fn maps_the_recorded_principal_entitlements() {
    let app = app();
    for item in items("principal_entitlements") {
        let user = item["targetPrincipal"]["externalId"]
            .as_str()
            .unwrap()
            .to_owned();
        let entitlement = item["id"].as_str().unwrap().to_owned();
        let o = upsert(
            IgaType::PrincipalEntitlement,
            item,
            Target::Principal(&app, &user),
        );
        assert_eq!(
            o.external_id,
            format!("0oafxqCAJWWGELFTYASJ:{user}:{entitlement}")
        );
        assert_eq!(o.attributes["entitlementId"], entitlement);
        assert_eq!(o.attributes["principalId"], user);
        assert!(!o.attributes["valueIds"].as_array().unwrap().is_empty());
    }
}

#[test]
fn maps_the_recorded_request_conditions_and_sequences() {
    let app = IgaResource::application("0oab0oNGTSWTBKOLGLNR", None);
    for item in items("request_conditions") {
        let id = item["id"].as_str().unwrap().to_owned();
        let sequence = item.get("approvalSequenceId").cloned();
        let o = upsert(IgaType::RequestCondition, item, Target::Resource(&app));
        assert_eq!(o.external_id, id);
        assert_eq!(o.scope.as_deref(), Some("APPLICATION:0oab0oNGTSWTBKOLGLNR"));
        assert_eq!(o.attributes.get("approvalSequenceId").cloned(), sequence);
        assert_eq!(o.attributes["resourceId"], "0oab0oNGTSWTBKOLGLNR");
    }
    assert_eq!(
        to_change(
            IgaType::RequestCondition,
            json!({"id": "rco1", "status": "DELETED"}),
            Target::Resource(&app)
        )
        .unwrap(),
        Change::delete("IgaRequestCondition", "rco1")
    );
    let group = IgaResource::group("00g1");
    for item in items("request_sequences") {
        let id = item["id"].as_str().unwrap().to_owned();
        let o = upsert(IgaType::RequestSequence, item, Target::Resource(&group));
        assert_eq!(o.external_id, format!("GROUP:00g1:{id}"));
        assert_eq!(o.scope.as_deref(), Some("GROUP:00g1"));
        assert_eq!(o.attributes["sequenceId"], id);
        assert_eq!(o.attributes["resourceType"], "GROUP");
    }
}

/// For every type with a status that means gone: on its recorded body, with a gone item added
/// (the first recorded item with its status set) where the recording has none, and a live one
/// likewise, every gone status gives a delete of that id and every other status an upsert.
#[test]
fn gone_statuses_delete_and_every_other_status_upserts() {
    let app = app();
    let mut checked = 0;
    for t in IgaType::ALL
        .into_iter()
        .filter(|t| !t.spec().gone.is_empty())
    {
        let spec = t.spec();
        let target = match spec.level {
            Level::Org => Target::Org,
            Level::PerCampaign => Target::Campaign("ici1"),
            Level::PerResource(_) => Target::Resource(&app),
        };
        let mut body = items(stem(t));
        let template = body[0].clone();
        for status in spec.gone.iter().copied().chain(["ACTIVE"]) {
            if !body.iter().any(|i| i["status"] == status) {
                let mut item = template.clone();
                item["status"] = json!(status);
                body.push(item);
            }
        }
        let (mut deletes, mut upserts) = (0, 0);
        for item in body {
            let id = item["id"].as_str().unwrap().to_owned();
            let status = item["status"].as_str().unwrap_or_default().to_owned();
            let change = to_change(t, item, target).unwrap();
            if spec.gone.contains(&status.as_str()) {
                assert_eq!(change, Change::delete(t.name(), id), "{t:?} {status}");
                deletes += 1;
            } else {
                let Change::Upsert(o) = change else {
                    panic!("{t:?} {status}: upsert expected, got {change:?}")
                };
                assert_eq!(
                    (o.object_type.as_str(), o.external_id.as_str()),
                    (t.name(), id.as_str())
                );
                upserts += 1;
            }
        }
        assert!(deletes >= spec.gone.len() && upserts >= 1, "{t:?}");
        checked += 1;
    }
    // Campaigns, entitlement bundles and request conditions.
    assert_eq!(checked, 3);
}

#[test]
fn descriptor_entries_come_from_the_table() {
    let infos = object_types();
    assert_eq!(infos.len(), IgaType::ALL.len());
    assert!(infos.iter().any(|i| i.name == "IgaReview" && i.scoped));
    assert!(infos.iter().any(|i| i.name == "IgaLabel" && !i.scoped));
}

#[test]
fn helpers_read_nested_fields() {
    let map = fields(
        IgaType::Grant,
        json!({"a": {"b": "x"}, "e": "", "list": [{"id": "1"}, {"id": "2"}, {"n": 3}], "_links": {}}),
    )
    .unwrap();
    assert_eq!(text(&map, "a.b"), Some("x"));
    assert_eq!(text(&map, "e"), None);
    assert_eq!(texts_of(&map, "list", "id"), vec!["1", "2"]);
    assert!(required(IgaType::Grant, &map, "missing").is_err());
    let obj = object(IgaType::Grant, "g1", map);
    assert!(!obj.attributes.contains_key("_links"));
    assert!(fields(IgaType::Grant, json!([1])).is_err());
    // A target that does not fit the type is a bug, reported rather than mapped.
    assert!(to_change(IgaType::Grant, json!({"id": "0gg1"}), Target::Org).is_err());
}
