//! The object and change model: what a connector emits and a host stores.
//!
//! A connector describes the source system as typed objects with an *external id* (unique within
//! the object type) and a flat map of JSON attributes. During an import it emits [`Change`]s:
//! upserts, explicit deletes, and [`Change::ScopeComplete`] markers that let the host detect
//! hard deletes safely.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Attribute values of one object, ordered by name so output is deterministic.
pub type Attributes = BTreeMap<String, Value>;

/// The name of an object type, e.g. `User`, `Group` or `GroupMember`.
///
/// Type names are case-sensitive, stable identifiers chosen by the connector and listed in its
/// [`Descriptor`](crate::Descriptor). They are never empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectType(String);

impl ObjectType {
    /// Creates a type name.
    ///
    /// # Panics
    /// Panics if `name` is empty: an unnamed type is a programming error in the connector.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(!name.is_empty(), "object type names must not be empty");
        Self(name)
    }

    /// The type name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ObjectType {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl PartialEq<str> for ObjectType {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ObjectType {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One object of the source system, as the connector sees it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// The object's type.
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    /// Identifier unique within `object_type` (for example an Okta user id, or a composite such
    /// as `<groupId>:<memberId>`). Stable for the life of the object in the source.
    #[serde(rename = "id")]
    pub external_id: String,
    /// The scope the object belongs to, if its type is imported in scopes (for example the group
    /// id for a group membership). See [`Scope`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Flat attribute map; values are JSON so no information is lost in transit.
    #[serde(default, rename = "attrs")]
    pub attributes: Attributes,
}

impl Object {
    /// Creates an object with no scope and no attributes.
    pub fn new(object_type: impl Into<ObjectType>, external_id: impl Into<String>) -> Self {
        Self {
            object_type: object_type.into(),
            external_id: external_id.into(),
            scope: None,
            attributes: Attributes::new(),
        }
    }

    /// Sets the scope the object belongs to.
    #[must_use]
    pub fn in_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Adds or replaces one attribute.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// A set of objects whose completeness a connector can vouch for.
///
/// `within: None` means every object of `object_type`; `within: Some(s)` means the objects of
/// `object_type` whose [`Object::scope`] is `s` (for example the members of one group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// The object type the scope covers.
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    /// The sub-scope, or `None` for the whole type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

impl Scope {
    /// The scope covering every object of a type.
    pub fn whole(object_type: impl Into<ObjectType>) -> Self {
        Self {
            object_type: object_type.into(),
            within: None,
        }
    }

    /// The scope covering the objects of a type that belong to sub-scope `within`.
    pub fn within(object_type: impl Into<ObjectType>, within: impl Into<String>) -> Self {
        Self {
            object_type: object_type.into(),
            within: Some(within.into()),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.within {
            None => write!(f, "{}", self.object_type),
            Some(w) => write!(f, "{}[{}]", self.object_type, w),
        }
    }
}

/// One change emitted by an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// The object exists with exactly these attributes (insert or replace).
    Upsert(Object),
    /// The object no longer exists in the source (for example a deprovisioned Okta user).
    Delete {
        /// The deleted object's type.
        #[serde(rename = "type")]
        object_type: ObjectType,
        /// The deleted object's external id.
        #[serde(rename = "id")]
        external_id: String,
    },
    /// Every object of this scope that exists in the source has been emitted during this run.
    ///
    /// When the run succeeds, the host may delete stored objects of the scope that this run did
    /// not emit. See the contract on [`Connector`](crate::Connector).
    ScopeComplete(Scope),
}

impl Change {
    /// The object type this change concerns.
    pub fn object_type(&self) -> &ObjectType {
        match self {
            Change::Upsert(o) => &o.object_type,
            Change::Delete { object_type, .. } => object_type,
            Change::ScopeComplete(s) => &s.object_type,
        }
    }

    /// Convenience constructor for [`Change::Delete`].
    pub fn delete(object_type: impl Into<ObjectType>, external_id: impl Into<String>) -> Self {
        Change::Delete {
            object_type: object_type.into(),
            external_id: external_id.into(),
        }
    }
}

/// An opaque, connector-defined progress marker.
///
/// The host stores it verbatim after a successful run and hands it back on the next delta run;
/// it never interprets it. Connectors should keep it small and human-readable (operators may
/// inspect and edit it), and must reject a malformed one with
/// [`ErrorKind::InvalidWatermark`](crate::ErrorKind::InvalidWatermark).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Watermark(String);

impl Watermark {
    /// Wraps a connector-defined string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The watermark text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the watermark, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of import the host asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Read everything; scopes may be marked complete so the host can detect hard deletes.
    Full,
    /// Read what changed since the watermark passed in [`ImportRequest::watermark`].
    Delta,
}

impl fmt::Display for ImportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImportMode::Full => "full",
            ImportMode::Delta => "delta",
        })
    }
}

/// The host's request for one import run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// Full or delta.
    pub mode: ImportMode,
    /// The watermark stored after the last successful run. Always present for
    /// [`ImportMode::Delta`]; may be present for a full run (connectors may ignore it).
    #[serde(default)]
    pub watermark: Option<Watermark>,
}

impl ImportRequest {
    /// A full import.
    pub fn full() -> Self {
        Self {
            mode: ImportMode::Full,
            watermark: None,
        }
    }

    /// A delta import from `watermark`.
    pub fn delta(watermark: Watermark) -> Self {
        Self {
            mode: ImportMode::Delta,
            watermark: Some(watermark),
        }
    }
}

/// Something a run could not import, reported without failing the whole run.
///
/// A skipped scope must never be marked complete during the same run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The type (and sub-scope) that was skipped.
    pub scope: Scope,
    /// Why, in words an operator can act on.
    pub reason: String,
    /// The error category that caused the skip.
    pub kind: crate::ErrorKind,
}

/// The result of a successful import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOutcome {
    /// The watermark to store; the host hands it back on the next delta run. `None` means the
    /// connector does not support delta runs (the host then keeps running full imports).
    #[serde(default)]
    pub watermark: Option<Watermark>,
    /// Parts of the source that were skipped (and why) while the rest was imported.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Free-form counters for the run summary (for example requests made, rate-limit waits).
    #[serde(default)]
    pub stats: BTreeMap<String, u64>,
}

/// The result of a successful connection check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// What was verified, one line per check (for example "token accepted by contoso.okta.com").
    pub checks: Vec<String>,
    /// Non-fatal findings an operator should know about (for example a missing optional scope).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// What a connector is and what it can do; available without configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Short machine name, e.g. `okta`.
    pub name: String,
    /// The connector's own version (semver).
    pub version: String,
    /// One-line human description.
    #[serde(default)]
    pub description: String,
    /// The object types the connector can emit.
    pub object_types: Vec<ObjectTypeInfo>,
    /// Optional behaviour the connector implements.
    pub capabilities: Capabilities,
}

/// One object type a connector emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectTypeInfo {
    /// The type name used in [`Object::object_type`].
    pub name: ObjectType,
    /// What the type represents and how its external id is formed.
    #[serde(default)]
    pub description: String,
    /// Whether objects of this type carry a [`Object::scope`].
    #[serde(default)]
    pub scoped: bool,
}

/// Optional behaviour of a connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Supports [`ImportMode::Delta`] runs.
    pub delta: bool,
    /// Supports [`Connector::export`](crate::Connector::export).
    pub export: bool,
    /// Emits [`Change::ScopeComplete`] so the host can detect hard deletes on full runs.
    pub scope_complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_round_trips_as_tagged_json() {
        let up = Change::Upsert(
            Object::new("GroupMember", "00g1:00u2")
                .in_scope("00g1")
                .with("groupId", "00g1"),
        );
        let json = serde_json::to_string(&up).unwrap();
        assert_eq!(
            json,
            r#"{"op":"upsert","type":"GroupMember","id":"00g1:00u2","scope":"00g1","attrs":{"groupId":"00g1"}}"#
        );
        assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), up);

        let del = Change::delete("User", "00u1");
        let json = serde_json::to_string(&del).unwrap();
        assert_eq!(json, r#"{"op":"delete","type":"User","id":"00u1"}"#);
        assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), del);

        let done = Change::ScopeComplete(Scope::whole("User"));
        let json = serde_json::to_string(&done).unwrap();
        assert_eq!(json, r#"{"op":"scope_complete","type":"User"}"#);
        assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), done);
    }

    #[test]
    fn scope_display_names_sub_scope() {
        assert_eq!(Scope::whole("User").to_string(), "User");
        assert_eq!(
            Scope::within("GroupMember", "00g1").to_string(),
            "GroupMember[00g1]"
        );
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn empty_type_name_is_rejected() {
        let _ = ObjectType::new("");
    }
}
