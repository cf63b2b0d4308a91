//! `GET /api/v1/logs`: the System Log, polled from a `since` in ascending order, 1000 events
//! per page (Okta's maximum), restricted by `filter` to the event types a delta run acts on.
//! Without `until` Okta answers every page with a `next` link: the pager stops on the first
//! empty page. Only the fields the connector reads are decoded.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::okta_timestamp;
use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/logs";

/// Events per page: Okta's maximum for the System Log.
pub const PAGE_SIZE: u32 = 1_000;

/// The event types a System Log delta reads (checked against Okta's event-types catalog).
pub const EVENT_TYPES: [&str; 6] = [
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.lifecycle.create",
    "group.lifecycle.delete",
];

/// A System Log event (`LogEvent`), as far as a delta run reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogEvent {
    /// Unique per event: a page overlap or a re-read window delivers it again.
    pub uuid: String,
    /// When Okta recorded the event.
    pub published: DateTime<Utc>,
    /// e.g. `group.user_membership.add`.
    pub event_type: String,
    /// `SUCCESS`, `FAILURE`, …
    #[serde(default)]
    pub outcome: Option<LogOutcome>,
    /// What the event acted on (`User`, `UserGroup`, …).
    #[serde(default)]
    pub target: Vec<LogTarget>,
}

/// `outcome` of an event.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct LogOutcome {
    /// `SUCCESS`, `FAILURE`, `SKIPPED`, `ALLOW`, `DENY`, `CHALLENGE`, `UNKNOWN`.
    #[serde(default)]
    pub result: Option<String>,
}

/// One `target[]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogTarget {
    /// The target's id (`00u…`, `00g…`).
    pub id: String,
    /// `User`, `UserGroup`, `AppInstance`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// For a `User`: the login.
    #[serde(default)]
    pub alternate_id: Option<String>,
}

impl LogEvent {
    /// Whether the event recorded a change that happened (its outcome is `SUCCESS`, or absent).
    pub fn succeeded(&self) -> bool {
        self.outcome
            .as_ref()
            .and_then(|o| o.result.as_deref())
            .is_none_or(|r| r == "SUCCESS")
    }

    /// The first target of `kind`.
    pub fn target(&self, kind: &str) -> Option<&LogTarget> {
        self.target.iter().find(|t| t.kind == kind)
    }
}

/// The first page's URL: events of [`EVENT_TYPES`] published at or after `since`, oldest first.
pub fn url(origin: &ApiOrigin, since: DateTime<Utc>) -> Url {
    let filter = EVENT_TYPES
        .iter()
        .map(|t| format!("eventType eq \"{t}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut url = origin.url("/api/v1/logs");
    url.query_pairs_mut()
        .append_pair("since", &okta_timestamp(since))
        .append_pair("sortOrder", "ASCENDING")
        .append_pair("limit", &PAGE_SIZE.to_string())
        .append_pair("filter", &filter);
    url
}

/// A polling pager over the log from `since`, in the System Log's own rate-limit bucket.
pub fn pager(origin: &ApiOrigin, since: DateTime<Utc>) -> Pager<LogEvent> {
    Pager::new(url(origin, since), ENDPOINT, Bucket::Logs).polling()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_ascending_pages_of_1000_filtered_to_the_types_read() {
        let origin = ApiOrigin::new(
            Url::parse("https://contoso.okta.com/").unwrap(),
            "contoso.okta.com",
        );
        let since = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let u = url(&origin, since);
        let q: std::collections::BTreeMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["since"], "2026-11-23T10:00:00.000Z");
        assert_eq!(q["sortOrder"], "ASCENDING");
        assert_eq!(q["limit"], "1000");
        assert!(!q.contains_key("until"), "polling: no until");
        for t in EVENT_TYPES {
            assert!(
                q["filter"].contains(&format!("eventType eq \"{t}\"")),
                "{t}"
            );
        }
    }

    #[test]
    fn decodes_the_fields_read_and_the_outcome() {
        let e: LogEvent = serde_json::from_value(serde_json::json!({
            "uuid": "u-1", "published": "2026-11-23T10:00:00.123Z",
            "eventType": "group.user_membership.add", "outcome": {"result": "FAILURE"},
            "target": [{"id": "00u1", "type": "User", "alternateId": "ada@example.com"},
                       {"id": "00g1", "type": "UserGroup"}],
            "actor": {"id": "00uA", "type": "User"}
        }))
        .unwrap();
        assert!(!e.succeeded());
        assert_eq!(e.target("UserGroup").unwrap().id, "00g1");
        assert_eq!(
            e.target("User").unwrap().alternate_id.as_deref(),
            Some("ada@example.com")
        );
    }
}
