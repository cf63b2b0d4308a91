//! Okta Identity Governance (IGA) endpoint families: one file per family, each with its list
//! description ([`IgaList`]: endpoint, rate-limit bucket, OAuth scope, admin role, lifecycle)
//! and its first-page URL with the filters the API requires.
//!
//! Every IGA list answers an envelope (`{"data": […], "_links": {"next": …}}`); pages are read
//! with the one pager of [`client::pagination`](crate::client::pagination) in envelope mode,
//! whose `next` links (on the `{org}-admin` host) are re-homed onto the configured origin.

pub mod bundles;
pub mod campaigns;
pub mod catalog;
pub mod collections;
pub mod conditions;
pub mod delegates;
pub mod entitlements;
pub mod grants;
pub mod labels;
pub mod owners;
pub mod principal;
pub mod request_types;
pub mod requests;
pub mod resources;
pub mod reviews;
pub mod risk_rules;
pub mod teams;

use serde_json::Value;
use url::Url;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::client::rate_limit::Bucket;
use crate::mapping::iga::IgaType;

/// Okta's maximum `limit` for every paged IGA list.
pub const MAX_PAGE_SIZE: u32 = 200;

/// One IGA list endpoint and what it takes to call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgaList {
    /// Endpoint template, for logs, errors and skip reasons.
    pub endpoint: &'static str,
    /// The rate-limit bucket it is charged to.
    pub bucket: Bucket,
    /// The OAuth scope a service app needs.
    pub oauth_scope: &'static str,
    /// The admin role an API token's administrator needs.
    pub admin_role: &'static str,
    /// Okta's lifecycle of the endpoint (GA, EA, BETA).
    pub lifecycle: &'static str,
}

impl IgaList {
    /// A pager over `first` reading envelopes.
    pub fn pager(&self, first: Url) -> Pager<Value> {
        Pager::new(first, self.endpoint, self.bucket).enveloped()
    }
}

/// The list an object type is read from.
pub fn list_of(t: IgaType) -> &'static IgaList {
    match t {
        IgaType::Campaign => &campaigns::LIST,
        IgaType::Review => &reviews::LIST,
        IgaType::EntitlementBundle => &bundles::LIST,
        IgaType::Label => &labels::LIST,
        IgaType::Collection => &collections::LIST,
        IgaType::RiskRule => &risk_rules::LIST,
        IgaType::Delegate => &delegates::LIST,
        IgaType::RequestType => &request_types::LIST,
        IgaType::Team => &teams::LIST,
        IgaType::Request => &requests::LIST,
        IgaType::CatalogEntry => &catalog::LIST,
        IgaType::Entitlement => &entitlements::LIST,
        IgaType::EntitlementValue => &entitlements::VALUES,
        IgaType::Grant => &grants::LIST,
        IgaType::ResourceOwner => &owners::LIST,
        IgaType::PrincipalEntitlement => &principal::LIST,
        IgaType::RequestCondition => &conditions::CONDITIONS,
        IgaType::RequestSequence => &conditions::SEQUENCES,
    }
}

/// `path` (segments, each percent-encoded) on the configured origin with `query`.
pub(crate) fn url(origin: &ApiOrigin, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = origin.url("/");
    if let Ok(mut path) = url.path_segments_mut() {
        path.clear().extend(segments);
    }
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    url
}

/// A SCIM filter string literal: `"…"` with `"` and `\` escaped.
pub(crate) fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigJson};

    pub(crate) fn origin() -> ApiOrigin {
        let json: ConfigJson = serde_json::from_value(serde_json::json!({
            "OrgDomain": "contoso.okta.com", "ApiBaseUrl": "http://127.0.0.1:9000"
        }))
        .unwrap();
        ApiOrigin::new(&Config::validate(json).unwrap())
    }

    #[test]
    fn every_type_has_a_governance_list() {
        for t in IgaType::ALL {
            let list = list_of(t);
            assert!(list.endpoint.starts_with("GET /governance/api/v"), "{t:?}");
            assert!(list.oauth_scope.starts_with("okta."), "{t:?}");
            assert!(!list.admin_role.is_empty() && !list.lifecycle.is_empty());
        }
    }

    #[test]
    fn urls_encode_filters_and_path_segments() {
        let u = url(
            &origin(),
            &[
                "governance",
                "api",
                "v2",
                "resources",
                "0oa/1",
                "request-conditions",
            ],
            &[("filter", "parent.externalId eq \"0oa1\"")],
        );
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9000/governance/api/v2/resources/0oa%2F1/request-conditions?filter=parent.externalId+eq+%220oa1%22"
        );
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
