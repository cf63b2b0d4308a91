//! An IGA grant → an `IgaGrant` object in its resource's scope; external id = its `id`;
//! references `principalId`, `principalType`, `targetResourceOrn`, `targetPrincipalOrn`
//! (copied), `entitlementBundleId`, `entitlementIds`, `entitlementValueIds`, and the resource.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, in_resource, object, reference, required, text};
use crate::endpoints::iga::resources::IgaResource;

/// The change for one grant on `resource`.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value, resource: &IgaResource) -> Result<Change> {
    let t = IgaType::Grant;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let principal = text(&map, "targetPrincipal.externalId").map(str::to_owned);
    let principal_type = text(&map, "targetPrincipal.type").map(str::to_owned);
    let bundle = text(&map, "entitlementBundleId").map(str::to_owned);
    let entitlements: Vec<Value> = super::texts_of(&map, "entitlements", "id");
    let values: Vec<Value> = map
        .get("entitlements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.get("id").and_then(Value::as_str))
        .map(|s| Value::String(s.to_owned()))
        .collect();
    let mut obj = in_resource(object(t, id, map), resource)
        .with("entitlementIds", Value::Array(entitlements))
        .with("entitlementValueIds", Value::Array(values));
    reference(&mut obj, "principalId", principal.as_deref());
    reference(&mut obj, "principalType", principal_type.as_deref());
    reference(&mut obj, "entitlementBundleId", bundle.as_deref());
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_grants() {
        let app = IgaResource::application("0oafxqCAJWWGELFTYASJ", None);
        for item in super::super::recorded::items("grants") {
            let id = item["id"].as_str().unwrap().to_owned();
            let principal = item["targetPrincipal"]["externalId"].clone();
            let Change::Upsert(o) = to_change(item, &app).unwrap() else {
                panic!("upsert expected")
            };
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
        let Change::Upsert(o) = to_change(
            serde_json::json!({"id": "0gg1", "entitlements": [{"id": "esp1", "values": [{"id": "ent1"}, {"id": "ent2"}]}]}),
            &app,
        )
        .unwrap() else {
            panic!("upsert expected")
        };
        assert_eq!(o.attributes["entitlementIds"], serde_json::json!(["esp1"]));
        assert_eq!(
            o.attributes["entitlementValueIds"],
            serde_json::json!(["ent1", "ent2"])
        );
        assert_eq!(o.attributes["entitlementBundleId"], Value::Null);
    }
}
