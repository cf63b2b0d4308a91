//! Okta endpoint families: one file per family, each with its wire types and first-page URLs.
//!
//! Requests are built here; pages are read with the one pager in
//! [`client::pagination`](crate::client::pagination).

pub mod app_assignments;
pub mod apps;
pub mod factors;
pub mod group_rules;
pub mod groups;
pub mod logs;
pub mod members;
pub mod roles;
pub mod users;

/// Formats a timestamp the way Okta writes and parses them: `2026-11-23T10:00:00.000Z`.
pub fn okta_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
