//! An IGA delegate appointment → an `IgaDelegate` object; external id = its `id`.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, reference, required};

/// The change for one delegate appointment.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value) -> Result<Change> {
    let t = IgaType::Delegate;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let delegator = super::text(&map, "delegator.externalId").map(str::to_owned);
    let delegate = super::text(&map, "delegate.externalId").map(str::to_owned);

    let mut obj = object(t, id, map);
    reference(&mut obj, "delegatorId", delegator.as_deref());
    reference(&mut obj, "delegateId", delegate.as_deref());
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_delegates() {
        for item in super::super::recorded::items("delegates") {
            let id = item["id"].as_str().unwrap().to_owned();
            match to_change(item).unwrap() {
                Change::Upsert(o) => {
                    assert_eq!(o.object_type, "IgaDelegate");
                    assert_eq!(o.external_id, id);
                    assert_eq!(o.scope, None);
                    assert!(!o.attributes.contains_key("_links"));
                    assert!(o.attributes["delegatorId"].is_string());
                    assert!(o.attributes["delegateId"].is_string());
                }
                Change::Delete { external_id, .. } => assert_eq!(external_id, id),
                _ => panic!("no scope markers from a mapping"),
            }
        }
        assert!(to_change(serde_json::json!({"name": "no id"})).is_err());
    }
}
