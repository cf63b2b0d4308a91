//! An IGA entitlement → an `IgaEntitlement` object in its resource's scope; external id = its
//! `id`; references `resourceId`, `resourceType`, `parentResourceOrn` (copied).

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, in_resource, object, required};
use crate::endpoints::iga::resources::IgaResource;

/// The change for one entitlement of `resource`.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value, resource: &IgaResource) -> Result<Change> {
    let t = IgaType::Entitlement;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    Ok(Change::Upsert(in_resource(object(t, id, map), resource)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_entitlements() {
        let app = IgaResource::application("0oafxqCAJWWGELFTYASJ", None);
        for item in super::super::recorded::items("entitlements") {
            let id = item["id"].as_str().unwrap().to_owned();
            let Change::Upsert(o) = to_change(item, &app).unwrap() else {
                panic!("upsert expected")
            };
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
    }
}
