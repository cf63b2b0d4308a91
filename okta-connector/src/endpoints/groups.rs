//! `GET /api/v1/groups`: every group, or (delta) the groups whose profile or membership
//! changed: `filter=lastUpdated gt "<g>" or lastMembershipUpdated gt "<g>"`. Always with
//! `expand=stats`, so each group says how many members it has (`_embedded.stats.usersCount`):
//! the member readers start the largest groups first (see `run.rs`). With a
//! `GroupSearchFilter` the operator's expression goes into `search` instead ([`search_url`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::okta_timestamp;
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::Bucket;

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
    /// `expand=stats`: `{"stats": {"usersCount": …}}`.
    #[serde(default, rename = "_embedded")]
    pub embedded: Option<GroupEmbedded>,
}

impl OktaGroup {
    /// How many members the group has, if Okta said (`_embedded.stats.usersCount`).
    pub fn members_count(&self) -> Option<u64> {
        self.embedded.as_ref()?.stats.as_ref()?.users_count
    }
}

/// `_embedded` of a group listed with `expand=stats`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct GroupEmbedded {
    /// The group's counters.
    #[serde(default)]
    pub stats: Option<GroupStats>,
}

/// `_embedded.stats`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GroupStats {
    /// Members of the group.
    #[serde(default)]
    pub users_count: Option<u64>,
}

/// The first page's URL; `changed_after` restricts to groups changed since then.
pub fn url(origin: &ApiOrigin, limit: u32, changed_after: Option<DateTime<Utc>>) -> Url {
    let mut url = origin.url("/api/v1/groups");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string());
        q.append_pair("expand", "stats");
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

/// The first page's URL with the operator's `GroupSearchFilter`: `search=<expr>` on a full
/// run, `search=(<expr>) and (lastUpdated gt "<t>" or lastMembershipUpdated gt "<t>")` on a
/// delta run (`filter` and `search` are never sent together: Okta answers E0000033).
pub fn search_url(
    origin: &ApiOrigin,
    limit: u32,
    expr: &str,
    changed_after: Option<DateTime<Utc>>,
) -> Url {
    let mut url = origin.url("/api/v1/groups");
    let search = match changed_after {
        None => expr.to_owned(),
        Some(t) => {
            let t = okta_timestamp(t);
            format!("({expr}) and (lastUpdated gt \"{t}\" or lastMembershipUpdated gt \"{t}\")")
        }
    };
    url.query_pairs_mut()
        .append_pair("limit", &limit.to_string())
        .append_pair("expand", "stats")
        .append_pair("search", &search);
    url
}

/// A pager over the groups `GroupSearchFilter` selects; a 400 (E0000031) names the setting.
pub fn search_pager(
    origin: &ApiOrigin,
    limit: u32,
    expr: &str,
    changed_after: Option<DateTime<Utc>>,
) -> Pager<OktaGroup> {
    let url = search_url(origin, limit, expr, changed_after);
    Pager::new(url, ENDPOINT, Bucket::Groups).with_user_search_filter(Some(expr))
}

/// A pager over the listing.
pub fn pager(
    origin: &ApiOrigin,
    limit: u32,
    changed_after: Option<DateTime<Utc>>,
) -> Pager<OktaGroup> {
    Pager::new(url(origin, limit, changed_after), ENDPOINT, Bucket::Groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_asks_for_member_counts() {
        let origin = ApiOrigin::new(
            Url::parse("https://contoso.okta.com/").unwrap(),
            "contoso.okta.com",
        );
        let u = url(&origin, 1000, None);
        assert!(u.query_pairs().any(|(k, v)| k == "expand" && v == "stats"));
    }

    #[test]
    fn group_search_filter_goes_into_search_alone() {
        let origin = ApiOrigin::new(
            Url::parse("https://contoso.okta.com/").unwrap(),
            "contoso.okta.com",
        );
        let q = |u: Url| u.query_pairs().into_owned().collect::<Vec<_>>();
        let full = q(search_url(&origin, 100, "profile.name sw \"IM-\"", None));
        assert!(full.contains(&("search".into(), "profile.name sw \"IM-\"".into())));
        assert!(!full.iter().any(|(k, _)| k == "filter"));
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let delta = q(search_url(&origin, 100, "type eq \"OKTA_GROUP\"", Some(t)));
        assert!(delta.contains(&(
            "search".into(),
            "(type eq \"OKTA_GROUP\") and (lastUpdated gt \"2026-11-23T10:00:00.000Z\" or lastMembershipUpdated gt \"2026-11-23T10:00:00.000Z\")".into()
        )));
    }

    #[test]
    fn reads_the_member_count_when_present() {
        let g: OktaGroup = serde_json::from_value(serde_json::json!({
            "id": "00g1", "_embedded": {"stats": {"usersCount": 1234, "appsCount": 2}}
        }))
        .unwrap();
        assert_eq!(g.members_count(), Some(1234));
        let plain: OktaGroup = serde_json::from_value(serde_json::json!({"id": "00g2"})).unwrap();
        assert_eq!(plain.members_count(), None);
    }
}
