//! An IGA top-level catalog entry → an `IgaCatalogEntry` object; external id = its `id`.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, required};

/// The change for one top-level catalog entry.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value) -> Result<Change> {
    let t = IgaType::CatalogEntry;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let obj = object(t, id, map);

    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_catalog_entries() {
        for item in super::super::recorded::items("catalog_entries") {
            let id = item["id"].as_str().unwrap().to_owned();
            match to_change(item).unwrap() {
                Change::Upsert(o) => {
                    assert_eq!(o.object_type, "IgaCatalogEntry");
                    assert_eq!(o.external_id, id);
                    assert_eq!(o.scope, None);
                    assert!(!o.attributes.contains_key("_links"));
                    assert!(o.attributes.contains_key("requestable"));
                }
                Change::Delete { external_id, .. } => assert_eq!(external_id, id),
                _ => panic!("no scope markers from a mapping"),
            }
        }
        assert!(to_change(serde_json::json!({"name": "no id"})).is_err());
    }
}
