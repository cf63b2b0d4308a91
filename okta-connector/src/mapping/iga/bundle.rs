//! An IGA entitlement bundle → an `IgaEntitlementBundle` object (a delete when its status is DELETED); external id = its `id`.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, reference, required, text, upsert_or_delete};

/// The change for one entitlement bundle.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value) -> Result<Change> {
    let t = IgaType::EntitlementBundle;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let target_id = text(&map, "target.externalId").map(str::to_owned);
    let target_type = text(&map, "target.type").map(str::to_owned);
    let status = text(&map, "status").map(str::to_owned);
    let mut obj = object(t, id, map);
    reference(&mut obj, "targetId", target_id.as_deref());
    reference(&mut obj, "targetType", target_type.as_deref());
    Ok(upsert_or_delete(t, obj, status.as_deref(), &["DELETED"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_entitlement_bundles() {
        for item in super::super::recorded::items("entitlement_bundles") {
            let id = item["id"].as_str().unwrap().to_owned();
            match to_change(item).unwrap() {
                Change::Upsert(o) => {
                    assert_eq!(o.object_type, "IgaEntitlementBundle");
                    assert_eq!(o.external_id, id);
                    assert_eq!(o.scope, None);
                    assert!(!o.attributes.contains_key("_links"));
                    assert!(o.attributes["targetId"].is_string());
                    assert!(
                        o.attributes["targetResourceOrn"]
                            .as_str()
                            .unwrap()
                            .starts_with("orn:")
                    );
                    assert!(o.attributes["entitlements"].is_array());
                }
                Change::Delete { external_id, .. } => assert_eq!(external_id, id),
                _ => panic!("no scope markers from a mapping"),
            }
        }
        assert!(to_change(serde_json::json!({"name": "no id"})).is_err());
    }
}
