//! An IGA principal entitlement (a user's effective entitlement in an app) →
//! an `IgaPrincipalEntitlement` object. Its `id` is the *entitlement's* id, repeated across
//! users, so the external id is `<appId>:<userId>:<entitlementId>`; references `entitlementId`,
//! `principalId`, `valueIds`, `targetPrincipalOrn` and `parentResourceOrn` (copied), and the app.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, in_resource, object, required, texts_of};
use crate::endpoints::iga::resources::IgaResource;

/// The change for one effective entitlement of user `user_id` in `app`.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value, app: &IgaResource, user_id: &str) -> Result<Change> {
    let t = IgaType::PrincipalEntitlement;
    let map = fields(t, item)?;
    let entitlement = required(t, &map, "id")?.to_owned();
    let values = texts_of(&map, "values", "id");
    let obj = object(t, format!("{}:{user_id}:{entitlement}", app.id), map);
    let obj = in_resource(obj, app)
        .with("entitlementId", entitlement)
        .with("principalId", user_id)
        .with("valueIds", Value::Array(values));
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_principal_entitlements() {
        let app = IgaResource::application("0oafxqCAJWWGELFTYASJ", None);
        for item in super::super::recorded::items("principal_entitlements") {
            let user = item["targetPrincipal"]["externalId"]
                .as_str()
                .unwrap()
                .to_owned();
            let entitlement = item["id"].as_str().unwrap().to_owned();
            let Change::Upsert(o) = to_change(item, &app, &user).unwrap() else {
                panic!("upsert expected")
            };
            assert_eq!(
                o.external_id,
                format!("0oafxqCAJWWGELFTYASJ:{user}:{entitlement}")
            );
            assert_eq!(o.attributes["entitlementId"], entitlement);
            assert_eq!(o.attributes["principalId"], user);
            assert!(!o.attributes["valueIds"].as_array().unwrap().is_empty());
        }
    }
}
