//! IGA resource owners → an `IgaResourceOwner` object per owned resource. The API gives these
//! no id: the external id is `<parentResourceOrn>|<resource.orn>` (both copied from the item;
//! ORNs contain `:`, hence the `|`). References: `resourceOrn`, `ownedResourceId`,
//! `ownedResourceType`, `principalOrns`, `principalIds`, and the parent resource.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, in_resource, object, reference, required, text, texts_of};
use crate::endpoints::iga::resources::IgaResource;

/// The external id of an owners entry.
pub fn external_id(parent_orn: &str, resource_orn: &str) -> String {
    format!("{parent_orn}|{resource_orn}")
}

/// The change for one owners entry listed under `parent`.
///
/// # Errors
/// A protocol error when the item is not an object or lacks `parentResourceOrn` or
/// `resource.orn`.
pub fn to_change(item: Value, parent: &IgaResource) -> Result<Change> {
    let t = IgaType::ResourceOwner;
    let map = fields(t, item)?;
    let id = external_id(
        required(t, &map, "parentResourceOrn")?,
        required(t, &map, "resource.orn")?,
    );
    let resource_orn = text(&map, "resource.orn").map(str::to_owned);
    let owned_id = text(&map, "resource.id").map(str::to_owned);
    let owned_type = text(&map, "resource.type").map(str::to_owned);
    let orns = texts_of(&map, "principals", "orn");
    let ids = texts_of(&map, "principals", "profile.id");
    let mut obj = in_resource(object(t, id, map), parent)
        .with("principalOrns", Value::Array(orns))
        .with("principalIds", Value::Array(ids));
    reference(&mut obj, "resourceOrn", resource_orn.as_deref());
    reference(&mut obj, "ownedResourceId", owned_id.as_deref());
    reference(&mut obj, "ownedResourceType", owned_type.as_deref());
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_resource_owners_with_composite_ids() {
        let app = IgaResource::application("0oafxqCAJWWGELFTYASJ", None);
        for item in super::super::recorded::items("resource_owners") {
            let parent = item["parentResourceOrn"].as_str().unwrap().to_owned();
            let owned = item["resource"]["orn"].as_str().unwrap().to_owned();
            let principals = item["principals"].as_array().unwrap().len();
            let Change::Upsert(o) = to_change(item, &app).unwrap() else {
                panic!("upsert expected")
            };
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
        assert!(to_change(serde_json::json!({"resource": {"orn": "orn:x"}}), &app).is_err());
    }
}
