//! Okta Identity Governance JSON → connector objects, one file per object type.
//!
//! Every IGA object keeps every top-level field of the API object (nested values as JSON) except
//! `_links`, under the API's own names, plus the reference attributes each file documents
//! (`resourceId`, `principalId`, …) copied from the object or from the resource it was listed
//! for. ORNs are copied from responses, never built. External ids are the object's own id field
//! (`labelId` for labels) or, for objects without one, a composite documented on the type.
//! Statuses that mean the object no longer exists (`DELETED`) become [`Change::Delete`]s.

pub mod bundle;
pub mod campaign;
pub mod catalog_entry;
pub mod collection;
pub mod delegate;
pub mod entitlement;
pub mod entitlement_value;
pub mod grant;
pub mod label;
pub mod principal_entitlement;
pub mod request;
pub mod request_condition;
pub mod request_sequence;
pub mod request_type;
pub mod resource_owner;
pub mod review;
pub mod risk_rule;
pub mod team;

use connector_api::{Change, ConnectorError, Object, ObjectTypeInfo, Result};
use serde_json::{Map, Value};

use crate::endpoints::iga::resources::IgaResource;

/// An IGA object type this connector emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IgaType {
    /// `IgaCampaign`: an access certification campaign.
    Campaign,
    /// `IgaReview`: one review item of a campaign, scoped by campaign id.
    Review,
    /// `IgaEntitlementBundle`: an entitlement bundle.
    EntitlementBundle,
    /// `IgaLabel`: a governance label with its values.
    Label,
    /// `IgaCollection`: a resource collection.
    Collection,
    /// `IgaRiskRule`: a separation-of-duties risk rule.
    RiskRule,
    /// `IgaDelegate`: a delegate appointment.
    Delegate,
    /// `IgaRequestType`: an access request type.
    RequestType,
    /// `IgaTeam`: an access request team.
    Team,
    /// `IgaRequest`: an access request (v2).
    Request,
    /// `IgaCatalogEntry`: a top-level access request catalog entry.
    CatalogEntry,
    /// `IgaEntitlement`: an entitlement of a resource.
    Entitlement,
    /// `IgaEntitlementValue`: a value of an entitlement of a resource.
    EntitlementValue,
    /// `IgaGrant`: a grant on a resource.
    Grant,
    /// `IgaResourceOwner`: the owners of one resource under a parent resource.
    ResourceOwner,
    /// `IgaPrincipalEntitlement`: a user's effective entitlement in an app.
    PrincipalEntitlement,
    /// `IgaRequestCondition`: an access request condition of a resource.
    RequestCondition,
    /// `IgaRequestSequence`: an approval sequence usable by a resource.
    RequestSequence,
}

impl IgaType {
    /// Every type, in the order a run reads them.
    pub const ALL: [IgaType; 18] = [
        IgaType::Campaign,
        IgaType::Review,
        IgaType::EntitlementBundle,
        IgaType::Label,
        IgaType::Collection,
        IgaType::RiskRule,
        IgaType::Delegate,
        IgaType::RequestType,
        IgaType::Team,
        IgaType::Request,
        IgaType::CatalogEntry,
        IgaType::Entitlement,
        IgaType::EntitlementValue,
        IgaType::Grant,
        IgaType::ResourceOwner,
        IgaType::PrincipalEntitlement,
        IgaType::RequestCondition,
        IgaType::RequestSequence,
    ];

    /// The object type name (`IgaCampaign`, …).
    pub fn name(self) -> &'static str {
        match self {
            IgaType::Campaign => "IgaCampaign",
            IgaType::Review => "IgaReview",
            IgaType::EntitlementBundle => "IgaEntitlementBundle",
            IgaType::Label => "IgaLabel",
            IgaType::Collection => "IgaCollection",
            IgaType::RiskRule => "IgaRiskRule",
            IgaType::Delegate => "IgaDelegate",
            IgaType::RequestType => "IgaRequestType",
            IgaType::Team => "IgaTeam",
            IgaType::Request => "IgaRequest",
            IgaType::CatalogEntry => "IgaCatalogEntry",
            IgaType::Entitlement => "IgaEntitlement",
            IgaType::EntitlementValue => "IgaEntitlementValue",
            IgaType::Grant => "IgaGrant",
            IgaType::ResourceOwner => "IgaResourceOwner",
            IgaType::PrincipalEntitlement => "IgaPrincipalEntitlement",
            IgaType::RequestCondition => "IgaRequestCondition",
            IgaType::RequestSequence => "IgaRequestSequence",
        }
    }

    /// The type named `name`, if any.
    pub fn parse(name: &str) -> Option<IgaType> {
        IgaType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the type is listed per app or group (scope = `APPLICATION:<id>` / `GROUP:<id>`).
    pub fn per_resource(self) -> bool {
        matches!(
            self,
            IgaType::Entitlement
                | IgaType::EntitlementValue
                | IgaType::Grant
                | IgaType::ResourceOwner
                | IgaType::PrincipalEntitlement
                | IgaType::RequestCondition
                | IgaType::RequestSequence
        )
    }

    /// Whether objects carry a scope: per-resource types, and reviews (scope = campaign id).
    pub fn scoped(self) -> bool {
        self.per_resource() || self == IgaType::Review
    }

    /// What the type is, and how its external id and scope are formed.
    pub fn description(self) -> &'static str {
        match self {
            IgaType::Campaign => {
                "IGA access certification campaign; external id = campaign id (ici…). DELETED campaigns are emitted as deletes."
            }
            IgaType::Review => {
                "IGA campaign review; external id = review id (icr…), scope = campaignId; references campaignId, resourceId, principalId, reviewerId."
            }
            IgaType::EntitlementBundle => {
                "IGA entitlement bundle; external id = bundle id (enb…); references targetResourceOrn, targetId, targetType. DELETED bundles are emitted as deletes."
            }
            IgaType::Label => {
                "IGA label; external id = labelId (lbc…); references valueIds (labelValueId of each value)."
            }
            IgaType::Collection => "IGA resource collection; external id = collection id (col…).",
            IgaType::RiskRule => "IGA risk rule; external id = rule id; references resourceOrns.",
            IgaType::Delegate => {
                "IGA delegate appointment; external id = appointment id; references delegatorId, delegateId."
            }
            IgaType::RequestType => "IGA access request type; external id = request type id.",
            IgaType::Team => "IGA access request team; external id = team id.",
            IgaType::Request => {
                "IGA access request (v2); external id = request id (req…); references requestedForId, requestedById, resourceId, resourceType, catalogEntryId."
            }
            IgaType::CatalogEntry => {
                "IGA top-level access request catalog entry; external id = entry id (cen…)."
            }
            IgaType::Entitlement => {
                "IGA entitlement of a resource; external id = entitlement id (esp…), scope = <APPLICATION|GROUP>:<resourceId>; references resourceId, resourceType, parentResourceOrn."
            }
            IgaType::EntitlementValue => {
                "IGA entitlement value; external id = value id (ent…), scope = resource; references entitlementId, resourceId, resourceType, parentResourceOrn."
            }
            IgaType::Grant => {
                "IGA grant on a resource; external id = grant id (0gg…), scope = resource; references resourceId, resourceType, targetResourceOrn, principalId, principalType, targetPrincipalOrn, entitlementBundleId, entitlementIds, entitlementValueIds."
            }
            IgaType::ResourceOwner => {
                "IGA owners of one resource under a parent resource (no id in the API); external id = <parentResourceOrn>|<resource.orn>, scope = parent resource; references resourceOrn, ownedResourceId, ownedResourceType, principalOrns, principalIds."
            }
            IgaType::PrincipalEntitlement => {
                "IGA effective entitlement of a user in an app; external id = <appId>:<userId>:<entitlementId>, scope = APPLICATION:<appId>; references resourceId, principalId, entitlementId, valueIds."
            }
            IgaType::RequestCondition => {
                "IGA access request condition of a resource; external id = condition id (rco…), scope = resource; references resourceId, resourceType, approvalSequenceId. DELETED conditions are emitted as deletes."
            }
            IgaType::RequestSequence => {
                "IGA approval sequence usable by a resource (the same sequence appears under many); external id = <scope>:<sequenceId>, scope = resource; references sequenceId, resourceId, resourceType."
            }
        }
    }
}

/// The descriptor entries of every IGA type.
pub fn object_types() -> Vec<ObjectTypeInfo> {
    IgaType::ALL
        .into_iter()
        .map(|t| {
            ObjectTypeInfo::new(t.name())
                .with_description(t.description())
                .with_scoped(t.scoped())
        })
        .collect()
}

/// The JSON object of one list item.
///
/// # Errors
/// A protocol error when the item is not a JSON object.
pub(crate) fn fields(t: IgaType, item: Value) -> Result<Map<String, Value>> {
    match item {
        Value::Object(map) => Ok(map),
        other => Err(ConnectorError::protocol(format!(
            "a {} list item is not a JSON object: {}",
            t.name(),
            kind_of(&other)
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The string at a dotted path, if it is a non-empty string.
pub(crate) fn text<'v>(map: &'v Map<String, Value>, path: &str) -> Option<&'v str> {
    let mut parts = path.split('.');
    let mut current = map.get(parts.next()?)?;
    for key in parts {
        current = current.get(key)?;
    }
    current.as_str().filter(|s| !s.is_empty())
}

/// The required string at `path`.
///
/// # Errors
/// A protocol error naming the type and the field.
pub(crate) fn required<'v>(t: IgaType, map: &'v Map<String, Value>, path: &str) -> Result<&'v str> {
    text(map, path).ok_or_else(|| {
        ConnectorError::protocol(format!(
            "a {} object has no `{path}`, which its external id needs",
            t.name()
        ))
        .with_remediation("This is an Okta API change or a proxy rewriting bodies; report it")
    })
}

/// The strings at `field` of every element of the array `array` (e.g. `values[].id`).
pub(crate) fn texts_of(map: &Map<String, Value>, array: &str, field: &str) -> Vec<Value> {
    map.get(array)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| {
            field
                .split('.')
                .try_fold(item, |v, key| v.get(key))
                .and_then(Value::as_str)
        })
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// An object of type `t` with every field of `map` except `_links` as attributes.
pub(crate) fn object(
    t: IgaType,
    external_id: impl Into<String>,
    map: Map<String, Value>,
) -> Object {
    let mut obj = Object::new(t.name(), external_id);
    obj.attributes
        .extend(map.into_iter().filter(|(k, _)| k != "_links"));
    obj
}

/// Adds `name` = the string at `path` of `map` (null when absent).
pub(crate) fn reference(obj: &mut Object, name: &str, value: Option<&str>) {
    obj.attributes.insert(
        name.to_owned(),
        value.map_or(Value::Null, |s| Value::String(s.to_owned())),
    );
}

/// Puts `obj` in the resource's scope and adds `resourceId` / `resourceType`.
pub(crate) fn in_resource(obj: Object, resource: &IgaResource) -> Object {
    obj.in_scope(resource.scope())
        .with("resourceId", resource.id.clone())
        .with("resourceType", resource.kind.filter_value())
}

/// A delete when `status` is one of `gone`, else the upsert.
pub(crate) fn upsert_or_delete(
    t: IgaType,
    obj: Object,
    status: Option<&str>,
    gone: &[&str],
) -> Change {
    match status {
        Some(s) if gone.contains(&s) => Change::delete(t.name(), obj.external_id),
        _ => Change::Upsert(obj),
    }
}

#[cfg(test)]
pub(crate) mod recorded {
    //! The recorded response bodies in `fixtures/recorded/iga/` (written from the spec's examples).

    use serde_json::Value;

    /// The `data` items of `fixtures/recorded/iga/<stem>.json`.
    pub fn items(stem: &str) -> Vec<Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/recorded/iga")
            .join(format!("{stem}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let items = body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no `data` array", path.display()))
            .clone();
        assert!(!items.is_empty(), "{} has no items", path.display());
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_scoping_is_consistent() {
        for t in IgaType::ALL {
            assert_eq!(IgaType::parse(t.name()), Some(t));
            assert!(t.name().starts_with("Iga"));
            assert!(!t.per_resource() || t.scoped());
        }
        assert_eq!(IgaType::parse("Campaign"), None);
        let infos = object_types();
        assert_eq!(infos.len(), IgaType::ALL.len());
        assert!(infos.iter().any(|i| i.name == "IgaReview" && i.scoped));
        assert!(infos.iter().any(|i| i.name == "IgaLabel" && !i.scoped));
    }

    #[test]
    fn helpers_read_nested_fields() {
        let map = fields(
            IgaType::Grant,
            serde_json::json!({"a": {"b": "x"}, "e": "", "list": [{"id": "1"}, {"id": "2"}, {"n": 3}], "_links": {}}),
        )
        .unwrap();
        assert_eq!(text(&map, "a.b"), Some("x"));
        assert_eq!(text(&map, "e"), None);
        assert_eq!(texts_of(&map, "list", "id"), vec!["1", "2"]);
        assert!(required(IgaType::Grant, &map, "missing").is_err());
        let obj = object(IgaType::Grant, "g1", map);
        assert!(!obj.attributes.contains_key("_links"));
        assert!(fields(IgaType::Grant, serde_json::json!([1])).is_err());
    }
}
