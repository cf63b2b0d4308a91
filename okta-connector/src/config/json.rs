//! `ConfigJson`: the connector's non-secret settings exactly as an operator writes them, with
//! their defaults. Parsed strictly (unknown keys are rejected; errors name the JSON path);
//! validated into a [`Config`](super::Config) by `config/mod.rs`.

use connector_api::{ConnectorError, Result};
use serde::Deserialize;

/// The connector's JSON configuration, exactly as an operator writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct ConfigJson {
    /// The org's host name: `contoso.okta.com`, `contoso.oktapreview.com` or a custom domain.
    pub org_domain: String,
    /// Optional Okta `search` expression restricting which users are imported.
    #[serde(default)]
    pub user_search_filter: Option<String>,
    /// Users per page (1–200).
    #[serde(default = "defaults::page_size")]
    pub page_size: u32,
    /// Groups per page (1–10000).
    #[serde(default = "defaults::group_page_size")]
    pub group_page_size: u32,
    /// Group members per page (1–1000).
    #[serde(default = "defaults::member_page_size")]
    pub member_page_size: u32,
    /// Import `User` objects.
    #[serde(default = "defaults::yes")]
    pub import_users: bool,
    /// Import `Group` objects.
    #[serde(default = "defaults::yes")]
    pub import_groups: bool,
    /// Import `GroupMember` objects.
    #[serde(default = "defaults::yes")]
    pub import_memberships: bool,
    /// Which user attribute becomes the `User` external id.
    #[serde(default)]
    pub external_id_attribute: ExternalIdAttribute,
    /// Override of `https://{OrgDomain}` (tests, the simulator, a forward proxy).
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Retries per request after 429, 5xx and transport errors.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Upper bound of one exponential back-off wait, in seconds.
    #[serde(default = "defaults::max_backoff_seconds")]
    pub max_backoff_seconds: u64,
    /// Group member listings fetched at the same time.
    #[serde(default = "defaults::max_concurrency")]
    pub max_concurrency: u32,
    /// Share of each Okta rate-limit bucket this connector may use (0 < x ≤ 1).
    #[serde(default = "defaults::rate_limit_share")]
    pub rate_limit_share: f64,
    /// Per-request timeout in seconds (connect, send and read the whole page).
    #[serde(default = "defaults::request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    /// How far before a run's start (server time) the next delta run looks back.
    #[serde(default = "defaults::delta_safety_margin_seconds")]
    pub delta_safety_margin_seconds: u64,
    /// Where a delta run learns of deletes and membership changes: `"SystemLog"` (the default)
    /// or `"LastUpdated"`.
    #[serde(default)]
    pub delta_source: DeltaSource,
    /// Simulator only: how many times faster than real time the server clock runs.
    #[serde(default = "defaults::time_scale")]
    pub simulator_time_scale: f64,
    /// Okta Identity Governance objects (off by default); see [`IgaJson`](super::iga::IgaJson).
    #[serde(default)]
    pub iga: super::iga::IgaJson,
    /// Write-back (off by default); see [`ExportJson`](super::export::ExportJson).
    #[serde(default)]
    pub export: super::export::ExportJson,
    /// Emit custom profile attributes as `custom.<name>` (default false).
    #[serde(default)]
    pub import_custom_attributes: bool,
    /// Import `App` objects (default false).
    #[serde(default)]
    pub import_apps: bool,
    /// Import `AppUser` and `AppGroup` objects (default false; reads the app list too).
    #[serde(default)]
    pub import_app_assignments: bool,
    /// Import `RoleAssignment` objects (default false).
    #[serde(default)]
    pub import_roles: bool,
    /// Import `UserFactor` objects (default false; one request per user).
    #[serde(default)]
    pub import_factors: bool,
    /// Import `GroupRule` objects (default false).
    #[serde(default)]
    pub import_group_rules: bool,
    /// Optional Okta `search` expression restricting which groups (and whose members) are
    /// imported.
    #[serde(default)]
    pub group_search_filter: Option<String>,
}

mod defaults {
    pub fn page_size() -> u32 {
        200
    }
    pub fn group_page_size() -> u32 {
        1_000
    }
    pub fn member_page_size() -> u32 {
        1_000
    }
    pub fn yes() -> bool {
        true
    }
    pub fn max_retries() -> u32 {
        3
    }
    pub fn max_backoff_seconds() -> u64 {
        30
    }
    pub fn max_concurrency() -> u32 {
        8
    }
    pub fn rate_limit_share() -> f64 {
        0.5
    }
    pub fn request_timeout_seconds() -> u64 {
        60
    }
    pub fn delta_safety_margin_seconds() -> u64 {
        120
    }
    pub fn time_scale() -> f64 {
        1.0
    }
}

/// Which Okta user attribute is the `User` external id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ExternalIdAttribute {
    /// The immutable Okta user id (`00u…`). Recommended.
    #[default]
    #[serde(rename = "id")]
    Id,
    /// `profile.login` (changes when a user is renamed).
    #[serde(rename = "login")]
    Login,
}

/// Where a delta run learns of hard deletes and membership changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum DeltaSource {
    /// Okta's System Log (`/api/v1/logs`, role or scope `okta.logs.read`): hard deletes and
    /// membership adds and removes cost what changed. Recommended.
    #[default]
    SystemLog,
    /// `lastUpdated` and `lastMembershipUpdated` only: a changed group's member list is read in
    /// full, and hard-deleted users are only removed by the next full run.
    LastUpdated,
}

/// Parses `ConfigJson`, naming the JSON path of the first problem.
pub(super) fn parse_config_json(value: &serde_json::Value) -> Result<ConfigJson> {
    if !value.is_object() {
        return Err(ConnectorError::invalid_config(
            "ConfigJson must be a JSON object such as {\"OrgDomain\": \"contoso.okta.com\"}",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        ConnectorError::invalid_config(format!("ConfigJson{at}: {inner}")).with_remediation(
            "Fix the connector's ConfigJson; every key is listed in docs/okta-connector.md",
        )
    })
}
