//! `GET /api/v1/apps/{appId}/users` (limit 500, Okta's maximum) and
//! `GET /api/v1/apps/{appId}/groups` (limit 200): an app's user assignments (scope `USER` or
//! `GROUP`) and group assignments. Items are kept as JSON: their profiles are app-specific.

use serde_json::Value;
use url::Url;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::{Bucket, MAX_ACCESS_PAGE_SIZE, MAX_APP_USER_PAGE_SIZE};

/// Endpoint template of the app users, for logs and errors.
pub const USERS_ENDPOINT: &str = "GET /api/v1/apps/{appId}/users";
/// Endpoint template of the app groups.
pub const GROUPS_ENDPOINT: &str = "GET /api/v1/apps/{appId}/groups";

fn url(origin: &ApiOrigin, app_id: &str, what: &str, limit: u32) -> Url {
    let mut url = origin.url(&format!("/api/v1/apps/{app_id}/{what}"));
    url.query_pairs_mut()
        .append_pair("limit", &limit.to_string());
    url
}

/// A pager over an app's user assignments.
pub fn users_pager(origin: &ApiOrigin, app_id: &str) -> Pager<Value> {
    let u = url(origin, app_id, "users", MAX_APP_USER_PAGE_SIZE);
    Pager::new(u, USERS_ENDPOINT, Bucket::AppById)
}

/// A pager over an app's group assignments.
pub fn groups_pager(origin: &ApiOrigin, app_id: &str) -> Pager<Value> {
    let u = url(origin, app_id, "groups", MAX_ACCESS_PAGE_SIZE);
    Pager::new(u, GROUPS_ENDPOINT, Bucket::AppById)
}
