//! An IGA label → an `IgaLabel` object; external id = its `labelId` (labels have no `id`).

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, required, texts_of};

/// The change for one label; `valueIds` lists the `labelValueId` of each value.
///
/// # Errors
/// A protocol error when the item is not an object or has no `labelId`.
pub fn to_change(item: Value) -> Result<Change> {
    let t = IgaType::Label;
    let map = fields(t, item)?;
    let id = required(t, &map, "labelId")?.to_owned();
    let values = texts_of(&map, "values", "labelValueId");
    let obj = object(t, id, map).with("valueIds", Value::Array(values));
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_labels_by_label_id() {
        for item in super::super::recorded::items("labels") {
            let id = item["labelId"].as_str().unwrap().to_owned();
            let values = item["values"].as_array().unwrap().len();
            let Change::Upsert(o) = to_change(item).unwrap() else {
                panic!("upsert expected")
            };
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
        assert!(to_change(serde_json::json!({"id": "lbc1", "name": "x"})).is_err());
    }
}
