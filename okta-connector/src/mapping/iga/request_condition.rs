//! An IGA request condition → an `IgaRequestCondition` object in its resource's scope (a delete
//! when its status is DELETED); external id = its `id`; references `approvalSequenceId` (copied)
//! and the resource.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, in_resource, object, required, text, upsert_or_delete};
use crate::endpoints::iga::resources::IgaResource;

/// The change for one request condition of `resource`.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value, resource: &IgaResource) -> Result<Change> {
    let t = IgaType::RequestCondition;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let status = text(&map, "status").map(str::to_owned);
    let obj = in_resource(object(t, id, map), resource);
    Ok(upsert_or_delete(t, obj, status.as_deref(), &["DELETED"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_request_conditions() {
        let app = IgaResource::application("0oab0oNGTSWTBKOLGLNR", None);
        for item in super::super::recorded::items("request_conditions") {
            let id = item["id"].as_str().unwrap().to_owned();
            let sequence = item.get("approvalSequenceId").cloned();
            match to_change(item, &app).unwrap() {
                Change::Upsert(o) => {
                    assert_eq!(o.external_id, id);
                    assert_eq!(o.scope.as_deref(), Some("APPLICATION:0oab0oNGTSWTBKOLGLNR"));
                    assert_eq!(o.attributes.get("approvalSequenceId").cloned(), sequence);
                    assert_eq!(o.attributes["resourceId"], "0oab0oNGTSWTBKOLGLNR");
                }
                Change::Delete { external_id, .. } => assert_eq!(external_id, id),
                _ => panic!("no markers from a mapping"),
            }
        }
        assert_eq!(
            to_change(serde_json::json!({"id": "rco1", "status": "DELETED"}), &app).unwrap(),
            Change::delete("IgaRequestCondition", "rco1")
        );
    }
}
