//! An IGA access request (v2) → an `IgaRequest` object; external id = its `id`.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, reference, required};

/// The change for one access request (v2).
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value) -> Result<Change> {
    let t = IgaType::Request;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let refs: Vec<(&str, Option<String>)> = [
        ("requestedForId", "requestedFor.externalId"),
        ("requestedById", "requestedBy.externalId"),
        ("resourceId", "requested.resourceId"),
        ("resourceType", "requested.resourceType"),
        ("catalogEntryId", "requested.entryId"),
    ]
    .into_iter()
    .map(|(name, path)| (name, super::text(&map, path).map(str::to_owned)))
    .collect();

    let mut obj = object(t, id, map);
    for (name, value) in &refs {
        reference(&mut obj, name, value.as_deref());
    }
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_requests() {
        for item in super::super::recorded::items("requests") {
            let id = item["id"].as_str().unwrap().to_owned();
            match to_change(item).unwrap() {
                Change::Upsert(o) => {
                    assert_eq!(o.object_type, "IgaRequest");
                    assert_eq!(o.external_id, id);
                    assert_eq!(o.scope, None);
                    assert!(!o.attributes.contains_key("_links"));
                    assert!(o.attributes["requestedForId"].is_string());
                    assert!(o.attributes["status"].is_string());
                }
                Change::Delete { external_id, .. } => assert_eq!(external_id, id),
                _ => panic!("no scope markers from a mapping"),
            }
        }
        assert!(to_change(serde_json::json!({"name": "no id"})).is_err());
    }
}
