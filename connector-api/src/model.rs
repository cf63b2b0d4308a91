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
/// [`Descriptor`]. They are never empty.
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
///
/// Build one with [`Object::new`] and the `in_scope`/`with`/`with_attributes` methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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

    /// Replaces every attribute.
    #[must_use]
    pub fn with_attributes(mut self, attributes: Attributes) -> Self {
        self.attributes = attributes;
        self
    }
}

/// A set of objects whose completeness a connector can vouch for.
///
/// `within: None` means every object of `object_type`; `within: Some(s)` means the objects of
/// `object_type` whose [`Object::scope`] is `s` (for example the members of one group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
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

/// One change emitted by an import (or sent to [`Connector::export`](crate::Connector::export)).
///
/// New kinds of change may be added in a minor release: match with a wildcard arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
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

    /// The external id of the object this change concerns (`None` for scope markers).
    pub fn external_id(&self) -> Option<&str> {
        match self {
            Change::Upsert(o) => Some(&o.external_id),
            Change::Delete { external_id, .. } => Some(external_id),
            Change::ScopeComplete(_) => None,
        }
    }

    /// What kind of change this is.
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::Upsert(_) => ChangeKind::Upsert,
            Change::Delete { .. } => ChangeKind::Delete,
            Change::ScopeComplete(_) => ChangeKind::ScopeComplete,
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

/// The kind of a [`Change`], as named by its JSON `op`; used to declare what a connector can
/// export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// [`Change::Upsert`].
    Upsert,
    /// [`Change::Delete`].
    Delete,
    /// [`Change::ScopeComplete`].
    ScopeComplete,
}

impl ChangeKind {
    /// The JSON `op` name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Upsert => "upsert",
            ChangeKind::Delete => "delete",
            ChangeKind::ScopeComplete => "scope_complete",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
#[non_exhaustive]
pub struct ImportRequest {
    /// Full or delta.
    pub mode: ImportMode,
    /// The watermark stored after the last successful run. Always present for
    /// [`ImportMode::Delta`]; may be present for a full run (connectors may ignore it).
    #[serde(default)]
    pub watermark: Option<Watermark>,
}

impl ImportRequest {
    /// A request of `mode` without a watermark.
    pub fn new(mode: ImportMode) -> Self {
        Self {
            mode,
            watermark: None,
        }
    }

    /// A full import.
    pub fn full() -> Self {
        Self::new(ImportMode::Full)
    }

    /// A delta import from `watermark`.
    pub fn delta(watermark: Watermark) -> Self {
        Self::new(ImportMode::Delta).with_watermark(Some(watermark))
    }

    /// Sets (or clears) the watermark.
    #[must_use]
    pub fn with_watermark(mut self, watermark: Option<Watermark>) -> Self {
        self.watermark = watermark;
        self
    }
}

/// Something a run could not import, reported without failing the whole run.
///
/// A skipped scope must never be marked complete during the same run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The type (and sub-scope) that was skipped.
    pub scope: Scope,
    /// Why, in words an operator can act on.
    pub reason: String,
    /// The error category that caused the skip.
    pub kind: crate::ErrorKind,
}

impl Skipped {
    /// A skipped scope, why, and the error category behind it.
    pub fn new(scope: Scope, reason: impl Into<String>, kind: crate::ErrorKind) -> Self {
        Self {
            scope,
            reason: reason.into(),
            kind,
        }
    }
}

/// The result of a successful import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl ImportOutcome {
    /// An outcome with no watermark, nothing skipped and no counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the watermark to store.
    #[must_use]
    pub fn with_watermark(mut self, watermark: Option<Watermark>) -> Self {
        self.watermark = watermark;
        self
    }

    /// Sets what was skipped.
    #[must_use]
    pub fn with_skipped(mut self, skipped: Vec<Skipped>) -> Self {
        self.skipped = skipped;
        self
    }

    /// Sets the run's counters.
    #[must_use]
    pub fn with_stats(mut self, stats: BTreeMap<String, u64>) -> Self {
        self.stats = stats;
        self
    }
}

/// The result of a successful connection check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// What was verified, one line per check (for example "token accepted by contoso.okta.com").
    #[serde(default)]
    pub checks: Vec<String>,
    /// Non-fatal findings an operator should know about (for example a missing optional scope).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl CheckReport {
    /// An empty report; add lines with [`check`](Self::check) and [`warning`](Self::warning).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one verified check.
    #[must_use]
    pub fn check(mut self, line: impl Into<String>) -> Self {
        self.checks.push(line.into());
        self
    }

    /// Adds one warning.
    #[must_use]
    pub fn warning(mut self, line: impl Into<String>) -> Self {
        self.warnings.push(line.into());
        self
    }
}

/// What a connector is and what it can do; available without configuration.
///
/// ```
/// use connector_api::{Capabilities, Descriptor, ObjectTypeInfo};
/// let d = Descriptor::new("acme", "1.2.0")
///     .with_description("Acme users")
///     .with_object_type(ObjectTypeInfo::new("User").with_description("An Acme user"))
///     .with_capabilities(Capabilities::new().with_delta(true));
/// assert_eq!(d.object_types.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Descriptor {
    /// Short machine name, e.g. `okta`.
    pub name: String,
    /// The connector's own version (semver).
    pub version: String,
    /// One-line human description.
    #[serde(default)]
    pub description: String,
    /// The object types the connector can emit.
    #[serde(default)]
    pub object_types: Vec<ObjectTypeInfo>,
    /// Optional behaviour the connector implements.
    #[serde(default)]
    pub capabilities: Capabilities,
}

impl Descriptor {
    /// A descriptor with a name and version, no object types and no capabilities.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            object_types: Vec::new(),
            capabilities: Capabilities::default(),
        }
    }

    /// Sets the one-line description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds one object type.
    #[must_use]
    pub fn with_object_type(mut self, object_type: ObjectTypeInfo) -> Self {
        self.object_types.push(object_type);
        self
    }

    /// Adds several object types.
    #[must_use]
    pub fn with_object_types(mut self, types: impl IntoIterator<Item = ObjectTypeInfo>) -> Self {
        self.object_types.extend(types);
        self
    }

    /// Sets the capabilities.
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

/// One object type a connector emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

impl ObjectTypeInfo {
    /// An unscoped type without a description.
    pub fn new(name: impl Into<ObjectType>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            scoped: false,
        }
    }

    /// Sets what the type represents and how its external id is formed.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets whether objects of this type carry a scope.
    #[must_use]
    pub fn with_scoped(mut self, scoped: bool) -> Self {
        self.scoped = scoped;
        self
    }
}

/// Optional behaviour of a connector. Every field defaults to "not supported", so a host
/// reading the descriptor of an older plug-in that predates a capability sees it as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Supports [`ImportMode::Delta`] runs.
    #[serde(default)]
    pub delta: bool,
    /// Supports [`Connector::export`](crate::Connector::export) for the types and kinds listed
    /// in [`exportable`](Self::exportable).
    #[serde(default)]
    pub export: bool,
    /// Emits [`Change::ScopeComplete`] so the host can detect hard deletes on full runs.
    #[serde(default)]
    pub scope_complete: bool,
    /// Which object types can be exported, and with which kinds of change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exportable: Vec<Exportable>,
}

impl Capabilities {
    /// No optional behaviour.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets delta support.
    #[must_use]
    pub fn with_delta(mut self, delta: bool) -> Self {
        self.delta = delta;
        self
    }

    /// Sets scope-completion support.
    #[must_use]
    pub fn with_scope_complete(mut self, scope_complete: bool) -> Self {
        self.scope_complete = scope_complete;
        self
    }

    /// Declares that `object_type` can be exported with changes of `kinds` (and sets
    /// [`export`](Self::export)).
    #[must_use]
    pub fn with_exportable(
        mut self,
        object_type: impl Into<ObjectType>,
        kinds: impl IntoIterator<Item = ChangeKind>,
    ) -> Self {
        self.export = true;
        self.exportable
            .push(Exportable::new(object_type, kinds.into_iter().collect()));
        self
    }

    /// Whether a change of `kind` to `object_type` may be exported.
    pub fn can_export(&self, object_type: &ObjectType, kind: ChangeKind) -> bool {
        self.export
            && self
                .exportable
                .iter()
                .any(|e| &e.object_type == object_type && e.kinds.contains(&kind))
    }
}

/// One object type a connector can export, with the kinds of change it accepts for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exportable {
    /// The object type.
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    /// The kinds of change accepted (`upsert`, `delete`). Kinds this build does not know (from
    /// a newer connector) are left out when reading, so the descriptor still parses.
    #[serde(default, deserialize_with = "known_kinds")]
    pub kinds: Vec<ChangeKind>,
}

impl Exportable {
    /// `object_type` exportable with `kinds`.
    pub fn new(object_type: impl Into<ObjectType>, kinds: Vec<ChangeKind>) -> Self {
        Self {
            object_type: object_type.into(),
            kinds,
        }
    }
}

fn known_kinds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<ChangeKind>, D::Error> {
    let names = Vec::<Value>::deserialize(deserializer)?;
    Ok(names
        .into_iter()
        .filter_map(|name| serde_json::from_value(name).ok())
        .collect())
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

/// Descriptor JSON as plug-ins built against connector-api 0.1 (before 1.0) produce it, and as a
/// future connector-api might: both must parse with the current types.
#[cfg(test)]
mod compat_tests {
    use super::*;

    /// Produced by the directory example at the last commit before 1.0 (no `exportable`).
    const OLD_DESCRIPTOR: &str = r#"{"name":"directory","version":"0.1.0","description":"People and groups from JSON or CSV files in a folder","object_types":[{"name":"Person","description":"A person; id is the record's `id`","scoped":false},{"name":"Group","description":"A group; id is the record's `id`","scoped":false},{"name":"GroupMember","description":"A person's membership of a group; id is `<group id>:<person id>`, scope the group id","scoped":true}],"capabilities":{"delta":true,"export":false,"scope_complete":true}}"#;

    #[test]
    fn an_old_descriptor_parses_with_new_capabilities_absent() {
        let d: Descriptor = serde_json::from_str(OLD_DESCRIPTOR).unwrap();
        assert_eq!(d.name, "directory");
        assert_eq!(d.object_types.len(), 3);
        assert!(d.object_types[2].scoped);
        assert!(d.capabilities.delta && d.capabilities.scope_complete);
        assert!(!d.capabilities.export);
        assert!(d.capabilities.exportable.is_empty());
        assert!(
            !d.capabilities
                .can_export(&"Person".into(), ChangeKind::Upsert)
        );
    }

    #[test]
    fn minimal_and_newer_descriptors_parse() {
        // Only the two fields without which a connector cannot be named.
        let d: Descriptor = serde_json::from_str(r#"{"name":"x","version":"1.0.0"}"#).unwrap();
        assert_eq!(d, Descriptor::new("x", "1.0.0"));
        let d: Descriptor =
            serde_json::from_str(r#"{"name":"x","version":"1.0.0","capabilities":{}}"#).unwrap();
        assert_eq!(d.capabilities, Capabilities::default());
        // Fields, capabilities and change kinds a later release may add are ignored.
        let newer = r#"{"name":"x","version":"2.0.0","icon":"x.svg",
            "object_types":[{"name":"User","scoped":false,"schema":{"login":"string"}}],
            "capabilities":{"delta":true,"export":true,"streaming":true,
              "exportable":[{"type":"User","kinds":["upsert","rename"],"batch_limit":10}]}}"#;
        let d: Descriptor = serde_json::from_str(newer).unwrap();
        assert!(
            d.capabilities
                .can_export(&"User".into(), ChangeKind::Upsert)
        );
        assert_eq!(d.capabilities.exportable[0].kinds, [ChangeKind::Upsert]);
    }

    #[test]
    fn new_descriptors_round_trip_and_old_readers_see_known_fields() {
        let d = Descriptor::new("x", "1.0.0").with_capabilities(
            Capabilities::new()
                .with_delta(true)
                .with_exportable("User", [ChangeKind::Upsert, ChangeKind::Delete]),
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json["capabilities"],
            serde_json::json!({"delta":true,"export":true,"scope_complete":false,
                "exportable":[{"type":"User","kinds":["upsert","delete"]}]})
        );
        assert_eq!(serde_json::from_value::<Descriptor>(json).unwrap(), d);
    }

    #[test]
    fn outcomes_and_reports_ignore_unknown_fields() {
        let o: ImportOutcome =
            serde_json::from_str(r#"{"watermark":"w","metrics":{"x":1},"skipped":[{"scope":{"type":"User"},"reason":"r","kind":"not_found","retry_after":3}]}"#)
                .unwrap();
        assert_eq!(o.watermark, Some(Watermark::new("w")));
        assert_eq!(o.skipped.len(), 1);
        let r: CheckReport = serde_json::from_str(r#"{"checks":["ok"],"latency_ms":5}"#).unwrap();
        assert_eq!(r.checks, ["ok"]);
        let r: CheckReport = serde_json::from_str("{}").unwrap();
        assert!(r.checks.is_empty());
    }
}
