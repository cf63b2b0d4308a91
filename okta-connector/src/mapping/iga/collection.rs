//! An IGA resource collection → an `IgaCollection` object; external id = its `id`.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, required};

/// The change for one resource collection.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value) -> Result<Change> {
    let t = IgaType::Collection;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let obj = object(t, id, map);

    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_collections() {
        for item in super::super::recorded::items("collections") {
            let id = item["id"].as_str().unwrap().to_owned();
            match to_change(item).unwrap() {
                Change::Upsert(o) => {
                    assert_eq!(o.object_type, "IgaCollection");
                    assert_eq!(o.external_id, id);
                    assert_eq!(o.scope, None);
                    assert!(!o.attributes.contains_key("_links"));
                    assert!(o.attributes["orn"].as_str().unwrap().starts_with("orn:"));
                }
                Change::Delete { external_id, .. } => assert_eq!(external_id, id),
                _ => panic!("no scope markers from a mapping"),
            }
        }
        assert!(to_change(serde_json::json!({"name": "no id"})).is_err());
    }
}
