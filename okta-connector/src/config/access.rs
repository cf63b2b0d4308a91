//! The access switches (`ImportApps`, `ImportAppAssignments`, `ImportRoles`, `ImportFactors`,
//! `ImportGroupRules`, `ImportCustomAttributes`) and `GroupSearchFilter`, validated.

use connector_api::Result;

use super::ConfigJson;

/// What the access part of a run imports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    /// `ImportCustomAttributes`: custom profile attributes as `custom.<name>`.
    pub custom_attributes: bool,
    /// `ImportApps`: `App` objects.
    pub apps: bool,
    /// `ImportAppAssignments`: `AppUser` and `AppGroup` objects.
    pub app_assignments: bool,
    /// `ImportRoles`: `RoleAssignment` objects.
    pub roles: bool,
    /// `ImportFactors`: `UserFactor` objects.
    pub factors: bool,
    /// `ImportGroupRules`: `GroupRule` objects.
    pub group_rules: bool,
    /// `GroupSearchFilter`, trimmed; `None` when unset or blank.
    pub group_search_filter: Option<String>,
}

impl AccessConfig {
    /// Validates the access keys of `json`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](connector_api::ErrorKind) for a `GroupSearchFilter` with
    /// control characters or over 2000 characters.
    pub fn validate(json: &ConfigJson) -> Result<AccessConfig> {
        Ok(AccessConfig {
            custom_attributes: json.import_custom_attributes,
            apps: json.import_apps,
            app_assignments: json.import_app_assignments,
            roles: json.import_roles,
            factors: json.import_factors,
            group_rules: json.import_group_rules,
            group_search_filter: super::search_expression(
                "GroupSearchFilter",
                json.group_search_filter.as_deref(),
            )?,
        })
    }

    /// Whether any access object type is imported.
    pub fn any(&self) -> bool {
        self.apps || self.app_assignments || self.roles || self.factors || self.group_rules
    }

    /// Whether the app list is read: for `App` objects, or for the assignments of each app.
    pub fn reads_apps(&self) -> bool {
        self.apps || self.app_assignments
    }
}
