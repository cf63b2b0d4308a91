//! An Okta group → a `Group` upsert.

use connector_api::{Change, Object};
use serde_json::Value;

use super::GROUP;
use crate::endpoints::groups::OktaGroup;

/// The change for one group. Its external id is the Okta group id.
pub fn to_change(group: &OktaGroup) -> Change {
    let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let profile = |k: &str| group.profile.get(k).cloned().unwrap_or(Value::Null);
    Change::Upsert(
        Object::new(GROUP, group.id.clone())
            .with("id", group.id.clone())
            .with("type", opt(&group.group_type))
            .with("created", opt(&group.created))
            .with("lastUpdated", opt(&group.last_updated))
            .with("lastMembershipUpdated", opt(&group.last_membership_updated))
            .with("objectClass", group.object_class.join(","))
            .with("name", profile("name"))
            .with("description", profile("description")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_attributes() {
        let g: OktaGroup = serde_json::from_value(serde_json::json!({
            "id": "00g1", "created": "2026-01-01T00:00:00.000Z", "lastUpdated": "2026-01-02T00:00:00.000Z",
            "lastMembershipUpdated": "2026-01-03T00:00:00.000Z",
            "objectClass": ["okta:user_group", "okta:windows_security_principal"], "type": "APP_GROUP",
            "profile": {"name": "Engineering"}, "_links": {}
        }))
        .unwrap();
        let Change::Upsert(o) = to_change(&g) else {
            panic!("upsert expected")
        };
        assert_eq!(o.external_id, "00g1");
        assert_eq!(
            o.attributes["objectClass"],
            "okta:user_group,okta:windows_security_principal"
        );
        assert_eq!(o.attributes["type"], "APP_GROUP");
        assert_eq!(o.attributes["name"], "Engineering");
        assert_eq!(o.attributes["description"], Value::Null);
        assert_eq!(
            o.attributes["lastMembershipUpdated"],
            "2026-01-03T00:00:00.000Z"
        );
    }
}
