//! The `Iga` section of `ConfigJson`: whether and what Okta Identity Governance objects a run
//! imports. Parsed strictly like the rest of `ConfigJson` (unknown keys are rejected, errors name
//! the key); documented in the IGA section of `docs/okta-connector.md`.
//!
//! ```json
//! "Iga": {"Enabled": true, "ResourceTypes": ["applications"], "MaxResources": 25,
//!         "ObjectTypes": ["IgaCampaign", "IgaReview"], "RescanOnDelta": false, "PageSize": 200}
//! ```

use std::collections::BTreeSet;

use connector_api::{ConnectorError, Result};
use serde::Deserialize;

use crate::okta::iga::IgaType;
use crate::okta::{MAX_IGA_PAGE_SIZE as MAX_PAGE_SIZE, ResourceKind};

/// `ConfigJson.Iga`, exactly as an operator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct IgaJson {
    /// Import IGA objects at all (default false: not every org has IGA).
    #[serde(default)]
    pub enabled: bool,
    /// Which resources to discover for per-resource objects: `applications`, `groups`.
    #[serde(default = "all_resource_kinds")]
    pub resource_types: Vec<ResourceKind>,
    /// At most this many resources per resource type (0 = all).
    #[serde(default)]
    pub max_resources: u32,
    /// Which IGA object types to import (default: all).
    #[serde(default)]
    pub object_types: Option<Vec<String>>,
    /// Re-read every IGA list on delta runs too (default false: delta runs skip IGA).
    #[serde(default)]
    pub rescan_on_delta: bool,
    /// Objects per page of the paged IGA lists (1–200).
    #[serde(default = "max_page_size")]
    pub page_size: u32,
}

fn all_resource_kinds() -> Vec<ResourceKind> {
    vec![ResourceKind::Application, ResourceKind::Group]
}

fn max_page_size() -> u32 {
    MAX_PAGE_SIZE
}

impl Default for IgaJson {
    fn default() -> Self {
        IgaJson {
            enabled: false,
            resource_types: all_resource_kinds(),
            max_resources: 0,
            object_types: None,
            rescan_on_delta: false,
            page_size: MAX_PAGE_SIZE,
        }
    }
}

/// The validated IGA settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgaConfig {
    /// Whether runs import IGA objects.
    pub enabled: bool,
    /// The resource kinds discovered, in order (apps first).
    pub resource_kinds: Vec<ResourceKind>,
    /// Resources per kind, `None` = all.
    pub max_resources: Option<usize>,
    /// The object types imported.
    pub object_types: BTreeSet<IgaType>,
    /// Whether delta runs re-read IGA.
    pub rescan_on_delta: bool,
    /// Page size of the paged lists.
    pub page_size: u32,
}

impl Default for IgaConfig {
    fn default() -> Self {
        IgaConfig::validate(&IgaJson::default()).unwrap_or_else(|_| IgaConfig {
            enabled: false,
            resource_kinds: all_resource_kinds(),
            max_resources: None,
            object_types: IgaType::ALL.into_iter().collect(),
            rescan_on_delta: false,
            page_size: MAX_PAGE_SIZE,
        })
    }
}

fn invalid(key: &str, what: &str) -> ConnectorError {
    ConnectorError::invalid_config(format!("ConfigJson.Iga.{key} {what}")).with_remediation(format!(
        "Fix Iga.{key} in the connector's ConfigJson (see the IGA section of docs/okta-connector.md)"
    ))
}

impl IgaConfig {
    /// Validates the section.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](connector_api::ErrorKind) naming the key and the fix.
    pub fn validate(json: &IgaJson) -> Result<IgaConfig> {
        if !(1..=MAX_PAGE_SIZE).contains(&json.page_size) {
            return Err(invalid(
                "PageSize",
                &format!(
                    "must be between 1 and {MAX_PAGE_SIZE} (Okta's maximum for IGA lists); got {}",
                    json.page_size
                ),
            ));
        }
        let object_types: BTreeSet<IgaType> = match &json.object_types {
            None => IgaType::ALL.into_iter().collect(),
            Some(names) if names.is_empty() => {
                return Err(invalid(
                    "ObjectTypes",
                    "is empty; list the IGA object types to import, or remove the key to import all of them",
                ));
            }
            Some(names) => names
                .iter()
                .map(|name| {
                    IgaType::parse(name.trim()).ok_or_else(|| {
                        let known: Vec<&str> = IgaType::ALL.iter().map(|t| t.name()).collect();
                        invalid(
                            "ObjectTypes",
                            &format!(
                                "names the unknown type \"{name}\"; known types: {}",
                                known.join(", ")
                            ),
                        )
                    })
                })
                .collect::<Result<_>>()?,
        };
        let mut resource_kinds: Vec<ResourceKind> = json.resource_types.clone();
        resource_kinds.sort();
        resource_kinds.dedup();
        if resource_kinds.is_empty() && object_types.iter().any(|t| t.per_resource()) {
            return Err(invalid(
                "ResourceTypes",
                "is empty, but ObjectTypes includes per-resource types (entitlements, grants, owners, …); add \
                 \"applications\" and/or \"groups\", or leave the per-resource types out of ObjectTypes",
            ));
        }
        Ok(IgaConfig {
            enabled: json.enabled,
            resource_kinds,
            max_resources: (json.max_resources > 0).then_some(json.max_resources as usize),
            object_types,
            rescan_on_delta: json.rescan_on_delta,
            page_size: json.page_size,
        })
    }

    /// Whether `t` is imported.
    pub fn imports(&self, t: IgaType) -> bool {
        self.object_types.contains(&t)
    }

    /// The settings in words, for the run-started log record.
    pub fn describe(&self) -> String {
        let kinds: Vec<&str> = self
            .resource_kinds
            .iter()
            .map(|k| k.config_value())
            .collect();
        let cap = self
            .max_resources
            .map_or_else(|| "all".to_owned(), |n| format!("at most {n}"));
        format!(
            "IGA: {} object types, {cap} {} each",
            self.object_types.len(),
            kinds.join(" and ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<IgaConfig> {
        let json: IgaJson =
            serde_json::from_value(v).map_err(|e| ConnectorError::invalid_config(e.to_string()))?;
        IgaConfig::validate(&json)
    }

    #[test]
    fn defaults_are_off_and_everything() {
        let c = IgaConfig::default();
        assert!(!c.enabled && !c.rescan_on_delta);
        assert_eq!(c.object_types.len(), IgaType::ALL.len());
        assert_eq!(
            c.resource_kinds,
            vec![ResourceKind::Application, ResourceKind::Group]
        );
        assert_eq!((c.max_resources, c.page_size), (None, 200));
    }

    #[test]
    fn keys_are_validated_and_named() {
        let c = parse(
            serde_json::json!({"Enabled": true, "ResourceTypes": ["applications", "applications"],
            "MaxResources": 25, "ObjectTypes": ["IgaCampaign", "IgaReview"]}),
        )
        .unwrap();
        assert_eq!(c.resource_kinds, vec![ResourceKind::Application]);
        assert_eq!(c.max_resources, Some(25));
        assert!(c.imports(IgaType::Review) && !c.imports(IgaType::Grant));
        for (bad, key) in [
            (
                serde_json::json!({"ObjectTypes": ["IgaCampaigns"]}),
                "ObjectTypes",
            ),
            (serde_json::json!({"ObjectTypes": []}), "ObjectTypes"),
            (serde_json::json!({"PageSize": 500}), "PageSize"),
            (serde_json::json!({"ResourceTypes": []}), "ResourceTypes"),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert!(e.message().contains(key), "{bad}: {e}");
        }
        assert!(parse(serde_json::json!({"ResourceTypes": ["apps"]})).is_err());
        assert!(parse(serde_json::json!({"Enable": true})).is_err());
        // No resource types is fine when only org-level types are imported.
        assert!(
            parse(serde_json::json!({"ResourceTypes": [], "ObjectTypes": ["IgaLabel"]})).is_ok()
        );
    }
}

#[cfg(test)]
mod config_json_tests {
    use connector_api::Settings;
    use connector_api::secrecy::SecretString;

    use super::super::Config;

    fn create(iga: serde_json::Value) -> connector_api::Result<Config> {
        let settings = Settings::new(
            serde_json::json!({"OrgDomain": "contoso.okta.com", "Iga": iga}),
            SecretString::from(r#"{"Mode":"ApiKey","ApiKey":"t0k"}"#.to_owned()),
        );
        Config::from_settings(&settings).map(|(c, _)| c)
    }

    #[test]
    fn errors_name_the_iga_key() {
        for (iga, named) in [
            (serde_json::json!({"Enable": true}), "Enable"),
            (
                serde_json::json!({"ResourceTypes": ["apps"]}),
                "Iga.ResourceTypes[0]",
            ),
            (serde_json::json!({"MaxResources": -1}), "Iga.MaxResources"),
            (
                serde_json::json!({"ObjectTypes": ["Campaign"]}),
                "Iga.ObjectTypes",
            ),
            (serde_json::json!("yes"), "Iga"),
        ] {
            let e = create(iga.clone()).expect_err("rejected");
            assert_eq!(e.kind(), connector_api::ErrorKind::InvalidConfig);
            assert!(e.message().contains(named), "{iga}: {e}");
        }
        let c = create(serde_json::json!({"Enabled": true, "MaxResources": 25})).unwrap();
        assert!(c.iga.enabled);
        assert_eq!(c.iga.max_resources, Some(25));
    }

    #[test]
    fn an_iga_only_connector_is_valid_but_nothing_at_all_is_not() {
        let settings = |iga: bool| {
            Settings::new(
                serde_json::json!({"OrgDomain": "contoso.okta.com", "ImportUsers": false,
                    "ImportGroups": false, "ImportMemberships": false, "Iga": {"Enabled": iga}}),
                SecretString::from(r#"{"Mode":"ApiKey","ApiKey":"t0k"}"#.to_owned()),
            )
        };
        assert!(Config::from_settings(&settings(true)).is_ok());
        let e = Config::from_settings(&settings(false)).unwrap_err();
        assert!(e.message().contains("Iga.Enabled"), "{e}");
    }
}
