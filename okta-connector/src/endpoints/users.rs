//! `GET /api/v1/users`: every user, in every status.
//!
//! The plain list omits DEPROVISIONED users, so it is never used: a full run without a
//! `UserSearchFilter` lists with `filter=lastUpdated gt "1970-01-01T00:00:00.000Z"` (strongly
//! consistent, every status), a delta run with `filter=lastUpdated gt "<u>"`. With a
//! `UserSearchFilter` the operator's expression goes into `search` — alone on a full run,
//! combined as `(<expr>) and lastUpdated gt "<u>"` on a delta run. `filter` and `search` are
//! never sent together (Okta answers E0000033).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::okta_timestamp;
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/users";

/// The earliest instant, for "every user" as a strongly consistent `filter`.
const EPOCH: &str = "1970-01-01T00:00:00.000Z";

/// A user as Okta returns it (only the fields the connector reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OktaUser {
    /// Immutable id, `00u…`.
    pub id: String,
    /// Lifecycle status (`ACTIVE`, `DEPROVISIONED`, …).
    #[serde(default)]
    pub status: Option<String>,
    /// Created.
    #[serde(default)]
    pub created: Option<String>,
    /// Last transition to ACTIVE.
    #[serde(default)]
    pub activated: Option<String>,
    /// Last status change.
    #[serde(default)]
    pub status_changed: Option<String>,
    /// Last sign-in.
    #[serde(default)]
    pub last_login: Option<String>,
    /// Last change of the user object.
    #[serde(default)]
    pub last_updated: Option<String>,
    /// Last password change.
    #[serde(default)]
    pub password_changed: Option<String>,
    /// The user type object exactly as Okta gives it (`{"id": "oty…"}`, sometimes more).
    #[serde(default, rename = "type")]
    pub user_type: Option<Value>,
    /// Profile attributes (base and custom).
    #[serde(default)]
    pub profile: BTreeMap<String, Value>,
}

/// Which users a listing asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    /// The operator's `UserSearchFilter`, if any.
    pub search: Option<String>,
    /// Only users updated after this instant (delta runs).
    pub updated_after: Option<DateTime<Utc>>,
}

impl UserQuery {
    /// The query parameter (`filter` or `search`) and its value.
    pub fn parameter(&self) -> (&'static str, String) {
        let since = self.updated_after.map(okta_timestamp);
        match (&self.search, since) {
            (None, None) => ("filter", format!("lastUpdated gt \"{EPOCH}\"")),
            (None, Some(t)) => ("filter", format!("lastUpdated gt \"{t}\"")),
            (Some(expr), None) => ("search", expr.clone()),
            (Some(expr), Some(t)) => ("search", format!("({expr}) and lastUpdated gt \"{t}\"")),
        }
    }

    /// The first page's URL.
    pub fn url(&self, origin: &ApiOrigin, limit: u32) -> Url {
        let mut url = origin.url("/api/v1/users");
        let (name, value) = self.parameter();
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string())
            .append_pair(name, &value);
        url
    }

    /// A pager over the listing.
    pub fn pager(&self, origin: &ApiOrigin, limit: u32) -> Pager<OktaUser> {
        Pager::new(self.url(origin, limit), ENDPOINT, Bucket::Users)
            .with_user_search_filter(self.search.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_mixes_filter_and_search() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let all = UserQuery {
            search: None,
            updated_after: None,
        };
        assert_eq!(
            all.parameter(),
            (
                "filter",
                "lastUpdated gt \"1970-01-01T00:00:00.000Z\"".into()
            )
        );
        let delta = UserQuery {
            search: None,
            updated_after: Some(t),
        };
        assert_eq!(
            delta.parameter(),
            (
                "filter",
                "lastUpdated gt \"2026-11-23T10:00:00.000Z\"".into()
            )
        );
        let s = Some("profile.department eq \"Eng\" or status eq \"STAGED\"".to_owned());
        let searched = UserQuery {
            search: s.clone(),
            updated_after: None,
        };
        assert_eq!(searched.parameter().0, "search");
        let both = UserQuery {
            search: s,
            updated_after: Some(t),
        };
        assert_eq!(
            both.parameter(),
            (
                "search",
                "(profile.department eq \"Eng\" or status eq \"STAGED\") and lastUpdated gt \"2026-11-23T10:00:00.000Z\"".into()
            )
        );
    }

    #[test]
    fn decodes_a_real_user_shape() {
        let u: OktaUser = serde_json::from_value(serde_json::json!({
            "id": "00u1", "status": "ACTIVE", "created": "2026-01-01T00:00:00.000Z",
            "activated": null, "lastLogin": null, "lastUpdated": "2026-02-01T00:00:00.000Z",
            "type": {"id": "oty1"}, "profile": {"login": "a@example.com", "nickName": null},
            "credentials": {"provider": {"type": "OKTA"}}, "_links": {"self": {"href": "x"}}
        }))
        .unwrap();
        assert_eq!(u.id, "00u1");
        assert_eq!(u.user_type.unwrap()["id"], "oty1");
        assert_eq!(u.profile["login"], "a@example.com");
        assert!(u.activated.is_none());
    }
}
