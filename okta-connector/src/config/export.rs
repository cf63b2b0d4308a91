//! The `Export` section of `ConfigJson`: whether the connector writes to Okta, and which
//! operations it may perform. Parsed strictly like the rest of `ConfigJson`; documented in the
//! "Write-back" section of `docs/okta-connector.md`.
//!
//! ```json
//! "Export": {"Enabled": true, "Operations": ["CreateUser", "UpdateUser", "DeactivateUser",
//!            "ReactivateUser", "AddMember", "RemoveMember"], "ActivateOnCreate": false}
//! ```
//!
//! Absent, or `Enabled: false`: the connector is read-only and export answers `not_supported`.

use std::collections::BTreeSet;

use serde::Deserialize;

/// One kind of write the operator allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Operation {
    /// `POST /api/v1/users` for a `User` upsert of a user that does not exist.
    CreateUser,
    /// `POST /api/v1/users/{id}` (partial profile update) for a `User` upsert.
    UpdateUser,
    /// `POST /api/v1/users/{id}/lifecycle/deactivate` for a `User` delete.
    DeactivateUser,
    /// `lifecycle/activate`, `reactivate` or `unsuspend` for a `User` upsert with status ACTIVE.
    ReactivateUser,
    /// `PUT /api/v1/groups/{groupId}/users/{userId}` for a `GroupMember` upsert.
    AddMember,
    /// `DELETE /api/v1/groups/{groupId}/users/{userId}` for a `GroupMember` delete.
    RemoveMember,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 6] = [
        Operation::CreateUser,
        Operation::UpdateUser,
        Operation::DeactivateUser,
        Operation::ReactivateUser,
        Operation::AddMember,
        Operation::RemoveMember,
    ];

    /// The spelling in `Export.Operations`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateUser => "CreateUser",
            Operation::UpdateUser => "UpdateUser",
            Operation::DeactivateUser => "DeactivateUser",
            Operation::ReactivateUser => "ReactivateUser",
            Operation::AddMember => "AddMember",
            Operation::RemoveMember => "RemoveMember",
        }
    }
}

/// `ConfigJson.Export`, exactly as an operator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ExportJson {
    /// Write to Okta at all (default false: the connector is read-only).
    #[serde(default)]
    pub enabled: bool,
    /// The operations allowed (default: all six).
    #[serde(default = "all_operations")]
    pub operations: Vec<Operation>,
    /// Activate users on create (`POST /api/v1/users?activate=true`); default false (STAGED).
    #[serde(default)]
    pub activate_on_create: bool,
}

fn all_operations() -> Vec<Operation> {
    Operation::ALL.to_vec()
}

impl Default for ExportJson {
    fn default() -> Self {
        ExportJson {
            enabled: false,
            operations: all_operations(),
            activate_on_create: false,
        }
    }
}

/// The validated export settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportConfig {
    /// Whether export writes to Okta.
    pub enabled: bool,
    /// The operations allowed.
    pub operations: BTreeSet<Operation>,
    /// `activate=` of a create.
    pub activate_on_create: bool,
}

impl ExportConfig {
    /// The settings of a parsed section (every combination of values is valid).
    pub fn from_json(json: &ExportJson) -> ExportConfig {
        ExportConfig {
            enabled: json.enabled,
            operations: json.operations.iter().copied().collect(),
            activate_on_create: json.activate_on_create,
        }
    }

    /// Whether `op` is allowed.
    pub fn allows(&self, op: Operation) -> bool {
        self.enabled && self.operations.contains(&op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strictly_with_defaults() {
        let j: ExportJson = serde_json::from_value(serde_json::json!({"Enabled": true})).unwrap();
        let c = ExportConfig::from_json(&j);
        assert!(Operation::ALL.iter().all(|op| c.allows(*op)));
        assert!(!c.activate_on_create);
        let j: ExportJson = serde_json::from_value(
            serde_json::json!({"Enabled": true, "Operations": ["AddMember"]}),
        )
        .unwrap();
        let c = ExportConfig::from_json(&j);
        assert!(c.allows(Operation::AddMember) && !c.allows(Operation::RemoveMember));
        assert!(!ExportConfig::default().allows(Operation::AddMember));
        let bad =
            serde_json::from_value::<ExportJson>(serde_json::json!({"Operations": ["Purge"]}));
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("unknown variant `Purge`")
        );
        let bad = serde_json::from_value::<ExportJson>(serde_json::json!({"Enable": true}));
        assert!(bad.is_err());
    }
}
