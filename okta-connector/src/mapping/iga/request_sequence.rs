//! An IGA request sequence usable by a resource → an `IgaRequestSequence` object. The same
//! sequence is listed under every compatible resource, so the external id is
//! `<scope>:<sequenceId>` (e.g. `APPLICATION:0oa…:61eb…`); references `sequenceId` and the
//! resource.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, in_resource, object, required};
use crate::endpoints::iga::resources::IgaResource;

/// The change for one sequence listed for `resource`.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value, resource: &IgaResource) -> Result<Change> {
    let t = IgaType::RequestSequence;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let obj = object(t, format!("{}:{id}", resource.scope()), map).with("sequenceId", id);
    Ok(Change::Upsert(in_resource(obj, resource)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_request_sequences() {
        let group = IgaResource::group("00g1");
        for item in super::super::recorded::items("request_sequences") {
            let id = item["id"].as_str().unwrap().to_owned();
            let Change::Upsert(o) = to_change(item, &group).unwrap() else {
                panic!("upsert expected")
            };
            assert_eq!(o.external_id, format!("GROUP:00g1:{id}"));
            assert_eq!(o.scope.as_deref(), Some("GROUP:00g1"));
            assert_eq!(o.attributes["sequenceId"], id);
            assert_eq!(o.attributes["resourceType"], "GROUP");
        }
    }
}
