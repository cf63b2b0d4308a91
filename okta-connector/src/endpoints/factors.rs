//! `GET /api/v1/users/{userId}/factors`: one user's enrolled factors, one unpaged array. Okta
//! has no org-wide factor listing, so factors cost one request per user.

use serde_json::Value;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/users/{userId}/factors";

/// A pager over one user's factors (one page).
pub fn pager(origin: &ApiOrigin, user_id: &str) -> Pager<Value> {
    let url = origin.url(&format!("/api/v1/users/{user_id}/factors"));
    Pager::new(url, ENDPOINT, Bucket::UserById)
}
