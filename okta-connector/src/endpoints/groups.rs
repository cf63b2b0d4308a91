//! `GET /api/v1/groups`: every group, or (delta) the groups whose profile or membership
//! changed: `filter=lastUpdated gt "<g>" or lastMembershipUpdated gt "<g>"`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::okta_timestamp;
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::client::rate_limit::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/groups";

/// A group as Okta returns it (only the fields the connector reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OktaGroup {
    /// Immutable id, `00g…`.
    pub id: String,
    /// Created.
    #[serde(default)]
    pub created: Option<String>,
    /// Last change of the group's profile.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Last change of the group's members.
    #[serde(default)]
    pub last_membership_updated: Option<String>,
    /// e.g. `["okta:user_group"]`.
    #[serde(default)]
    pub object_class: Vec<String>,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`.
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// Profile (name, description, app-specific attributes).
    #[serde(default)]
    pub profile: serde_json::Map<String, Value>,
}

/// The first page's URL; `changed_after` restricts to groups changed since then.
pub fn url(origin: &ApiOrigin, limit: u32, changed_after: Option<DateTime<Utc>>) -> Url {
    let mut url = origin.url("/api/v1/groups");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string());
        if let Some(t) = changed_after {
            let t = okta_timestamp(t);
            q.append_pair(
                "filter",
                &format!("lastUpdated gt \"{t}\" or lastMembershipUpdated gt \"{t}\""),
            );
        }
    }
    url
}

/// A pager over the listing.
pub fn pager(
    origin: &ApiOrigin,
    limit: u32,
    changed_after: Option<DateTime<Utc>>,
) -> Pager<OktaGroup> {
    Pager::new(url(origin, limit, changed_after), ENDPOINT, Bucket::Groups)
}
