//! Configuration: `ConfigJson` (non-secret settings, [`json`]) with its IGA section ([`iga`]),
//! and `AuthJson` (the resolved credential, [`auth`]), validated into a [`Config`] and
//! [`AuthSettings`].
//!
//! Both are parsed strictly: an unknown field, a wrong type or an out-of-range value is rejected
//! with an [`ErrorKind::InvalidConfig`](connector_api::ErrorKind) error that names the field and
//! says what to do. `docs/okta-connector.md` documents every key.
//!
//! Secrets only ever live in a [`SecretString`](secrecy::SecretString); no message produced here
//! quotes any part of the authentication JSON's values. This module depends on the Okta facts
//! ([`crate::okta`]) only.

pub mod access;
pub mod auth;
pub mod export;
pub mod iga;
pub mod json;

use std::net::IpAddr;
use std::time::Duration;

use connector_api::{ConnectorError, Result, Settings};
use url::Url;

pub use access::AccessConfig;
pub use auth::{AuthSettings, OAuthSettings};
pub use export::{ExportConfig, ExportJson, Operation};
pub use iga::{IgaConfig, IgaJson};
pub use json::{ConfigJson, DeltaSource, ExternalIdAttribute};

use crate::okta::{MAX_GROUP_PAGE_SIZE, MAX_MEMBER_PAGE_SIZE, MAX_USER_PAGE_SIZE};

/// A validated configuration, ready to build a client from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The org host, lower case (`contoso.okta.com`).
    pub org_domain: String,
    /// Where requests go: `https://{org_domain}` or the `ApiBaseUrl` override (no path).
    pub base_url: Url,
    /// The `UserSearchFilter`, trimmed; `None` when unset or blank.
    pub user_search_filter: Option<String>,
    /// Users per page.
    pub page_size: u32,
    /// Groups per page.
    pub group_page_size: u32,
    /// Members per page.
    pub member_page_size: u32,
    /// Import users.
    pub import_users: bool,
    /// Import groups.
    pub import_groups: bool,
    /// Import memberships.
    pub import_memberships: bool,
    /// Source of the `User` external id.
    pub external_id: ExternalIdAttribute,
    /// Retries per request.
    pub max_retries: u32,
    /// Cap of one back-off wait.
    pub max_backoff: Duration,
    /// Member listings in flight.
    pub max_concurrency: u32,
    /// Share of each rate-limit bucket.
    pub rate_limit_share: f64,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Look-back of the next delta run.
    pub delta_safety_margin: chrono::Duration,
    /// Where delta runs learn of deletes and membership changes (`LastUpdated` whenever a
    /// `GroupSearchFilter` is set).
    pub delta_source: DeltaSource,
    /// Server seconds per real second (1 against real Okta).
    pub time_scale: f64,
    /// What the IGA part of a run imports.
    pub iga: IgaConfig,
    /// Whether and what export writes to Okta.
    pub export: ExportConfig,
    /// The access switches and `GroupSearchFilter`.
    pub access: AccessConfig,
}

impl Config {
    /// Parses and validates `settings`: the configuration and the credential.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](connector_api::ErrorKind) naming the field and the fix.
    pub fn from_settings(settings: &Settings) -> Result<(Config, AuthSettings)> {
        let json = json::parse_config_json(&settings.config)?;
        let config = Config::validate(json)?;
        let auth = auth::parse_auth_json(&settings.auth)?;
        Ok((config, auth))
    }

    /// Validates a parsed `ConfigJson`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](connector_api::ErrorKind) naming the field and the fix.
    pub fn validate(json: ConfigJson) -> Result<Config> {
        let org_domain = validate_org_domain(&json.org_domain)?;
        let base_url = match &json.api_base_url {
            None => Url::parse(&format!("https://{org_domain}/"))
                .map_err(|e| invalid("OrgDomain", &format!("is not a usable host name ({e})")))?,
            Some(raw) => validate_api_base_url(raw)?,
        };
        let loopback = json.api_base_url.is_some() && is_loopback(&base_url);
        check_ranges(&json)?;
        check_rates(&json, loopback)?;
        let iga = IgaConfig::validate(&json.iga)?;
        let access = AccessConfig::validate(&json)?;
        if !(json.import_users
            || json.import_groups
            || json.import_memberships
            || iga.enabled
            || access.any())
        {
            return Err(ConnectorError::invalid_config(
                "ConfigJson: ImportUsers, ImportGroups, ImportMemberships and every access switch (ImportApps, ImportAppAssignments, ImportRoles, ImportFactors, ImportGroupRules) are false and Iga.Enabled is not set, so there is nothing to import",
            )
            .with_remediation("Set at least one of ImportUsers, ImportGroups, ImportMemberships, an access switch or Iga.Enabled to true"));
        }
        let user_search_filter = user_search_filter(json.user_search_filter.as_deref())?;
        Ok(Config {
            org_domain,
            base_url,
            user_search_filter,
            page_size: json.page_size,
            group_page_size: json.group_page_size,
            member_page_size: json.member_page_size,
            import_users: json.import_users,
            import_groups: json.import_groups,
            import_memberships: json.import_memberships,
            external_id: json.external_id_attribute,
            max_retries: json.max_retries,
            max_backoff: Duration::from_secs(json.max_backoff_seconds),
            max_concurrency: json.max_concurrency,
            rate_limit_share: json.rate_limit_share,
            request_timeout: Duration::from_secs(json.request_timeout_seconds),
            delta_safety_margin: chrono::Duration::seconds(
                i64::try_from(json.delta_safety_margin_seconds).unwrap_or(86_400),
            ),
            delta_source: effective_delta_source(json.delta_source, &access),
            time_scale: json.simulator_time_scale,
            iga,
            export: ExportConfig::from_json(&json.export),
            access,
        })
    }

    /// The admin-console host of the org (`contoso-admin.okta.com`), if the org domain is an
    /// Okta-hosted one. Okta's IGA APIs put it in `next` links.
    pub fn admin_domain(&self) -> Option<String> {
        crate::okta::admin_domain(&self.org_domain)
    }
}

/// The integer settings, each within its range.
fn check_ranges(json: &ConfigJson) -> Result<()> {
    check_range(
        "PageSize",
        json.page_size,
        1,
        MAX_USER_PAGE_SIZE,
        "Okta's maximum for /api/v1/users",
    )?;
    check_range(
        "GroupPageSize",
        json.group_page_size,
        1,
        MAX_GROUP_PAGE_SIZE,
        "Okta's maximum for /api/v1/groups",
    )?;
    check_range(
        "MemberPageSize",
        json.member_page_size,
        1,
        MAX_MEMBER_PAGE_SIZE,
        "Okta's page size for /api/v1/groups/{groupId}/users",
    )?;
    check_range(
        "MaxRetries",
        json.max_retries,
        0,
        20,
        "more retries only hide an outage",
    )?;
    check_range(
        "MaxConcurrency",
        json.max_concurrency,
        1,
        64,
        "Okta's concurrency limit is 15–75 requests per org, shared by every integration",
    )?;
    check_range("MaxBackoffSeconds", json.max_backoff_seconds, 1, 600, "")?;
    check_range(
        "RequestTimeoutSeconds",
        json.request_timeout_seconds,
        1,
        600,
        "",
    )?;
    check_range(
        "DeltaSafetyMarginSeconds",
        json.delta_safety_margin_seconds,
        0,
        86_400,
        "",
    )
}

/// `RateLimitShare` and `SimulatorTimeScale` (the latter only against a loopback simulator).
fn check_rates(json: &ConfigJson, loopback: bool) -> Result<()> {
    if !(json.rate_limit_share.is_finite()
        && json.rate_limit_share > 0.0
        && json.rate_limit_share <= 1.0)
    {
        return Err(invalid(
            "RateLimitShare",
            &format!(
                "must be greater than 0 and at most 1 (a fraction of each Okta rate-limit bucket, e.g. 0.5); got {}",
                json.rate_limit_share
            ),
        ));
    }
    if !(json.simulator_time_scale.is_finite() && json.simulator_time_scale > 0.0) {
        return Err(invalid(
            "SimulatorTimeScale",
            &format!(
                "must be a positive number; got {}",
                json.simulator_time_scale
            ),
        ));
    }
    if json.simulator_time_scale != 1.0 && !loopback {
        return Err(invalid(
            "SimulatorTimeScale",
            "is only for the Okta simulator and requires an ApiBaseUrl on a loopback address; remove it when talking to Okta",
        ));
    }
    Ok(())
}

/// The `UserSearchFilter`, trimmed; `None` when unset or blank.
fn user_search_filter(raw: Option<&str>) -> Result<Option<String>> {
    search_expression("UserSearchFilter", raw)
}

/// An Okta `search` expression setting (`UserSearchFilter`, `GroupSearchFilter`): trimmed,
/// `None` when unset or blank, on one line and at most 2000 characters.
fn search_expression(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(expr) => {
            if expr.chars().any(char::is_control) {
                return Err(invalid(
                    field,
                    "contains control characters (line breaks, tabs); write the expression on one line",
                ));
            }
            if expr.len() > 2_000 {
                return Err(invalid(
                    field,
                    "is longer than 2000 characters; Okta rejects overly complex search expressions",
                ));
            }
            Ok(Some(expr.to_owned()))
        }
    }
}

fn invalid(field: &str, what: &str) -> ConnectorError {
    ConnectorError::invalid_config(format!("ConfigJson.{field} {what}")).with_remediation(format!(
        "Fix {field} in the connector's ConfigJson (see docs/okta-connector.md)"
    ))
}

fn check_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: T,
    min: T,
    max: T,
    why: &str,
) -> Result<()> {
    if value < min || value > max {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        return Err(invalid(
            field,
            &format!("must be between {min} and {max}{why}; got {value}"),
        ));
    }
    Ok(())
}

/// What makes `d` more (or less) than a bare host name, if anything.
fn not_a_bare_host(d: &str) -> Option<String> {
    if d.is_empty() {
        Some("is empty; set it to your org's host name, e.g. contoso.okta.com".to_owned())
    } else if d.contains("://") {
        Some(format!(
            "must be a host name only, e.g. contoso.okta.com — remove the scheme from \"{d}\""
        ))
    } else if d.contains('/') || d.contains('?') || d.contains('#') {
        Some(format!(
            "must be a host name only, e.g. contoso.okta.com — remove the path from \"{d}\""
        ))
    } else if d.contains('@') {
        Some("must not contain credentials (user@host); give the host name only".to_owned())
    } else if d.contains(':') {
        Some(format!(
            "must not contain a port (\"{d}\"); Okta is always served on 443 — use ApiBaseUrl for a test server"
        ))
    } else {
        None
    }
}

fn validate_org_domain(raw: &str) -> Result<String> {
    let d = raw.trim();
    if let Some(what) = not_a_bare_host(d) {
        return Err(invalid("OrgDomain", &what));
    }
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) || d.len() > 253 {
        return Err(invalid(
            "OrgDomain",
            &format!(
                "\"{d}\" is not a valid host name; expected something like contoso.okta.com, contoso.oktapreview.com or a custom domain"
            ),
        ));
    }
    if labels[0].ends_with("-admin") {
        let org = labels[0].trim_end_matches("-admin");
        return Err(invalid(
            "OrgDomain",
            &format!(
                "\"{d}\" is the Admin Console host; use the org host {org}.{}",
                labels[1..].join(".")
            ),
        ));
    }
    Ok(d)
}

fn validate_api_base_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        invalid("ApiBaseUrl", &format!("is not a URL ({e}); expected e.g. https://contoso.okta.com or http://127.0.0.1:8080"))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("ApiBaseUrl", "must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(invalid(
            "ApiBaseUrl",
            "must be an origin only (scheme, host and optional port), without path, query or fragment",
        ));
    }
    if url.host().is_none() {
        return Err(invalid("ApiBaseUrl", "has no host"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "ApiBaseUrl",
                "may use plain http only for loopback addresses (127.0.0.1, ::1, localhost); use https so the token is never sent in clear text",
            ));
        }
        other => {
            return Err(invalid(
                "ApiBaseUrl",
                &format!("must use https (or http on loopback), not \"{other}\""),
            ));
        }
    }
    Ok(url)
}

/// Whether `url` points at this machine.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The delta source a run uses. System Log events are not scoped to a `GroupSearchFilter`, so
/// with a filter a delta reads the member lists of the changed filtered groups instead
/// (`LastUpdated`): a log event could otherwise add an edge of a group outside the filter.
fn effective_delta_source(configured: DeltaSource, access: &AccessConfig) -> DeltaSource {
    if access.group_search_filter.is_some() {
        DeltaSource::LastUpdated
    } else {
        configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use serde_json::json;

    fn settings(config: serde_json::Value) -> Settings {
        Settings::new(
            config,
            SecretString::from(r#"{"Mode":"ApiKey","ApiKey":"canary-5f2e9b"}"#.to_owned()),
        )
    }

    fn err_of(config: serde_json::Value) -> ConnectorError {
        Config::from_settings(&settings(config)).expect_err("should be rejected")
    }

    #[test]
    fn defaults_apply() {
        let (c, t) =
            Config::from_settings(&settings(json!({"OrgDomain": "Contoso.Okta.com"}))).unwrap();
        assert_eq!(c.org_domain, "contoso.okta.com");
        assert_eq!(c.base_url.as_str(), "https://contoso.okta.com/");
        assert_eq!(c.page_size, 200);
        assert_eq!(c.member_page_size, 1000);
        assert!(c.import_users && c.import_groups && c.import_memberships);
        assert_eq!(c.external_id, ExternalIdAttribute::Id);
        assert_eq!(c.max_retries, 3);
        assert_eq!(c.max_backoff, Duration::from_secs(30));
        assert_eq!(c.rate_limit_share, 0.5);
        assert_eq!(c.time_scale, 1.0);
        let AuthSettings::ApiKey(key) = &t else {
            panic!("ApiKey mode expected")
        };
        assert_eq!(secrecy::ExposeSecret::expose_secret(key), "canary-5f2e9b");
        assert_eq!(c.admin_domain().as_deref(), Some("contoso-admin.okta.com"));
        assert!(!format!("{t:?}").contains("canary"));
    }

    #[test]
    fn unknown_field_is_named() {
        let e = err_of(json!({"OrgDomain": "contoso.okta.com", "PageSise": 10}));
        assert_eq!(e.kind(), connector_api::ErrorKind::InvalidConfig);
        assert!(e.message().contains("PageSise"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_json_path() {
        let e = err_of(json!({"OrgDomain": "contoso.okta.com", "PageSize": "big"}));
        assert!(e.message().contains("`PageSize`"), "{e}");
    }

    #[test]
    fn ranges_and_domains_are_checked() {
        for (config, field) in [
            (
                json!({"OrgDomain": "contoso.okta.com", "PageSize": 500}),
                "PageSize",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "PageSize": 0}),
                "PageSize",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "RateLimitShare": 0.0}),
                "RateLimitShare",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "RateLimitShare": 1.5}),
                "RateLimitShare",
            ),
            (
                json!({"OrgDomain": "https://contoso.okta.com"}),
                "OrgDomain",
            ),
            (json!({"OrgDomain": "contoso.okta.com/api"}), "OrgDomain"),
            (
                json!({"OrgDomain": "contoso.okta.com", "GroupSearchFilter": "type eq\n\"OKTA_GROUP\""}),
                "GroupSearchFilter",
            ),
            (json!({"OrgDomain": "contoso.okta.com:443"}), "OrgDomain"),
            (json!({"OrgDomain": "admin@contoso.okta.com"}), "OrgDomain"),
            (json!({"OrgDomain": "contoso-admin.okta.com"}), "OrgDomain"),
            (json!({"OrgDomain": "contoso"}), "OrgDomain"),
            (
                json!({"OrgDomain": "contoso.okta.com", "ExternalIdAttribute": "email"}),
                "ExternalIdAttribute",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "ApiBaseUrl": "http://proxy.example.com"}),
                "ApiBaseUrl",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "ApiBaseUrl": "https://x.example.com/api"}),
                "ApiBaseUrl",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "SimulatorTimeScale": 100.0}),
                "SimulatorTimeScale",
            ),
            (
                json!({"OrgDomain": "contoso.okta.com", "MaxConcurrency": 0}),
                "MaxConcurrency",
            ),
        ] {
            let e = err_of(config.clone());
            assert!(e.message().contains(field), "{config}: {e}");
        }
    }

    #[test]
    fn loopback_http_and_time_scale_allowed() {
        let (c, _) = Config::from_settings(&settings(json!({
            "OrgDomain": "contoso.okta.com",
            "ApiBaseUrl": "http://127.0.0.1:8080",
            "SimulatorTimeScale": 100.0,
            "UserSearchFilter": "  profile.department eq \"Eng\" ",
        })))
        .unwrap();
        assert_eq!(c.base_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.time_scale, 100.0);
        assert_eq!(
            c.user_search_filter.as_deref(),
            Some("profile.department eq \"Eng\"")
        );
    }

    #[test]
    fn auth_errors_never_quote_values() {
        let cases = [
            r#"{"Mode":"canary-5f2e9b","ApiKey":"x"}"#,
            r#"{"Mode":"ApiKey","ApiKey":"canary-5f2e9b","canary-5f2e9b":1}"#,
            r#"{"Mode":"ApiKey","ApiKey":["canary-5f2e9b"]}"#,
            r#"{"Mode":"ApiKey","ApiKey":"SSWS canary-5f2e9b"}"#,
            r#"{"Mode":"ApiKey","ApiKey":"canary 5f2e9b"}"#,
            r#"{"Mode":"ApiKey","ApiKey":"canary-5f2e9b""#,
            r#"{"Mode":"ApiKey"}"#,
            r#"canary-5f2e9b"#,
        ];
        for auth in cases {
            let s = Settings::new(
                json!({"OrgDomain": "contoso.okta.com"}),
                SecretString::from(auth.to_owned()),
            );
            let e = Config::from_settings(&s).expect_err(auth);
            assert_eq!(e.kind(), connector_api::ErrorKind::InvalidConfig);
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains("canary") && !shown.contains("5f2e9b"),
                "{shown}"
            );
        }
        let s = Settings::new(
            json!({"OrgDomain": "contoso.okta.com"}),
            SecretString::from(r#"{"Mode":"ApiKey"}"#.to_owned()),
        );
        assert!(
            Config::from_settings(&s)
                .unwrap_err()
                .message()
                .contains("ApiKey")
        );
        let s = Settings::new(
            json!({"OrgDomain": "contoso.okta.com"}),
            SecretString::from(r#"{"Mode":"ApiKey","ApiKey":"secret://keyring/okta"}"#.to_owned()),
        );
        assert!(
            Config::from_settings(&s)
                .unwrap_err()
                .message()
                .contains("unresolved")
        );
    }

    #[test]
    fn a_non_ascii_token_is_refused_without_panicking_or_quoting_it() {
        // Found by fuzz/config_json: slicing the token's first five bytes panicked inside a
        // multi-byte character, and the panic message (which the ABI turns into an internal
        // error) quoted that character of the token.
        for token in [
            "$\u{fffd}\u{fffd}canary",
            "abcd\u{e9}canary",
            "SSWS\u{a0}canary",
            "\u{1F511}canary",
        ] {
            let auth = serde_json::json!({"Mode": "ApiKey", "ApiKey": token}).to_string();
            let s = Settings::new(
                json!({"OrgDomain": "contoso.okta.com"}),
                SecretString::from(auth),
            );
            let e = Config::from_settings(&s).expect_err(token);
            assert_eq!(e.kind(), connector_api::ErrorKind::InvalidConfig, "{e}");
            assert!(e.message().contains("non-ASCII characters"), "{e}");
            assert!(!format!("{e} {e:?}").contains("canary"), "{e}");
        }
    }

    #[test]
    fn nothing_to_import_is_rejected() {
        let e = err_of(
            json!({"OrgDomain": "contoso.okta.com", "ImportUsers": false, "ImportGroups": false, "ImportMemberships": false}),
        );
        assert!(e.message().contains("nothing to import"));
    }
}
