//! Okta Identity Governance JSON → connector objects, driven by the type's [`IgaSpec`] row.
//!
//! Every IGA object keeps every top-level field of the API object (nested values as JSON) except
//! `_links`, under the API's own names, plus the row's reference attributes (`resourceId`,
//! `principalId`, …) copied from the object or from the target it was listed for. ORNs are
//! copied from responses, never built. External ids follow the row's [`IdRule`]. Statuses that
//! mean the object no longer exists (the row's `gone`, e.g. `DELETED`) become
//! [`Change::Delete`]s. The only code for a single type is a grant's `entitlementValueIds`
//! (ids nested two arrays deep).

use connector_api::{Change, ConnectorError, Object, ObjectTypeInfo, Result};
use serde_json::{Map, Value};

use super::target::{IgaResource, Target, mismatch};
use crate::okta::iga::{IdRule, IgaSpec, IgaType, Level};

/// The descriptor entries of every IGA type.
pub fn object_types() -> Vec<ObjectTypeInfo> {
    IgaType::ALL
        .into_iter()
        .map(|t| {
            ObjectTypeInfo::new(t.name())
                .with_description(t.spec().description)
                .with_scoped(t.scoped())
        })
        .collect()
}

/// The change for one item of `t`'s list read for `target`.
///
/// # Errors
/// A protocol error when the item is not an object or lacks what its external id needs; an
/// internal error when `target` does not fit the type (a bug, never input).
pub fn to_change(t: IgaType, item: Value, target: Target<'_>) -> Result<Change> {
    let spec = t.spec();
    let map = fields(t, item)?;
    let status = text(&map, "status").map(str::to_owned);
    let references: Vec<(&str, Option<String>)> = spec
        .references
        .iter()
        .map(|(name, path)| (*name, text(&map, path).map(str::to_owned)))
        .collect();
    let lists: Vec<(&str, Vec<Value>)> = spec
        .reference_lists
        .iter()
        .map(|(name, array, field)| (*name, texts_of(&map, array, field)))
        .collect();
    let value_ids = (t == IgaType::Grant).then(|| nested_value_ids(&map));
    let mut obj = identify(spec, map, target)?;
    for (name, values) in lists {
        obj.attributes.insert(name.to_owned(), Value::Array(values));
    }
    if let Some(ids) = value_ids {
        obj.attributes
            .insert("entitlementValueIds".to_owned(), Value::Array(ids));
    }
    for (name, value) in &references {
        reference(&mut obj, name, value.as_deref());
    }
    Ok(match status {
        Some(s) if spec.gone.contains(&s.as_str()) => Change::delete(t.name(), obj.external_id),
        _ => Change::Upsert(obj),
    })
}

/// The object with its external id and scope (and the attributes its id rule adds).
fn identify(spec: &IgaSpec, map: Map<String, Value>, target: Target<'_>) -> Result<Object> {
    let t = spec.ty;
    let obj = match spec.id {
        IdRule::Field(field) => {
            let id = required(t, &map, field)?.to_owned();
            object(t, id, map)
        }
        IdRule::ScopedId => {
            let scope = target
                .resource()
                .ok_or_else(|| mismatch(spec, target))?
                .scope();
            let id = required(t, &map, "id")?.to_owned();
            object(t, format!("{scope}:{id}"), map).with("sequenceId", id)
        }
        IdRule::OwnerPair => {
            let id = format!(
                "{}|{}",
                required(t, &map, "parentResourceOrn")?,
                required(t, &map, "resource.orn")?
            );
            object(t, id, map)
        }
        IdRule::PrincipalTriple => {
            let Target::Principal(app, user) = target else {
                return Err(mismatch(spec, target));
            };
            let entitlement = required(t, &map, "id")?.to_owned();
            let obj = object(t, format!("{}:{user}:{entitlement}", app.id), map);
            return Ok(in_resource(obj, app)
                .with("entitlementId", entitlement)
                .with("principalId", user));
        }
    };
    match (spec.level, target) {
        (Level::Org, Target::Org) => Ok(obj),
        (Level::PerCampaign, Target::Campaign(id)) => Ok(obj.in_scope(id).with("campaignId", id)),
        (Level::PerResource(_), _) => match target.resource() {
            Some(r) => Ok(in_resource(obj, r)),
            None => Err(mismatch(spec, target)),
        },
        _ => Err(mismatch(spec, target)),
    }
}

/// The JSON object of one list item.
///
/// # Errors
/// A protocol error when the item is not a JSON object.
fn fields(t: IgaType, item: Value) -> Result<Map<String, Value>> {
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
fn text<'v>(map: &'v Map<String, Value>, path: &str) -> Option<&'v str> {
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
fn required<'v>(t: IgaType, map: &'v Map<String, Value>, path: &str) -> Result<&'v str> {
    text(map, path).ok_or_else(|| {
        ConnectorError::protocol(format!(
            "a {} object has no `{path}`, which its external id needs",
            t.name()
        ))
        .with_remediation("This is an Okta API change or a proxy rewriting bodies; report it")
    })
}

/// The strings at `field` of every element of the array `array` (e.g. `values[].id`).
fn texts_of(map: &Map<String, Value>, array: &str, field: &str) -> Vec<Value> {
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

/// A grant's `entitlements[].values[].id`.
fn nested_value_ids(map: &Map<String, Value>) -> Vec<Value> {
    map.get("entitlements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.get("id").and_then(Value::as_str))
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// An object of type `t` with every field of `map` except `_links` as attributes.
fn object(t: IgaType, external_id: impl Into<String>, map: Map<String, Value>) -> Object {
    let mut obj = Object::new(t.name(), external_id);
    obj.attributes
        .extend(map.into_iter().filter(|(k, _)| k != "_links"));
    obj
}

/// Sets `name` to `value` (null when absent).
fn reference(obj: &mut Object, name: &str, value: Option<&str>) {
    obj.attributes.insert(
        name.to_owned(),
        value.map_or(Value::Null, |s| Value::String(s.to_owned())),
    );
}

/// Puts `obj` in the resource's scope and adds `resourceId` / `resourceType`.
fn in_resource(obj: Object, resource: &IgaResource) -> Object {
    obj.in_scope(resource.scope())
        .with("resourceId", resource.id.clone())
        .with("resourceType", resource.kind.filter_value())
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
