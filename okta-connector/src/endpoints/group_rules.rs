//! `GET /api/v1/groups/rules`: every group rule, 200 per page (Okta's maximum).

use serde_json::Value;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::{Bucket, MAX_ACCESS_PAGE_SIZE};

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/groups/rules";

/// A pager over the rules.
pub fn pager(origin: &ApiOrigin) -> Pager<Value> {
    let mut url = origin.url("/api/v1/groups/rules");
    url.query_pairs_mut()
        .append_pair("limit", &MAX_ACCESS_PAGE_SIZE.to_string());
    Pager::new(url, ENDPOINT, Bucket::GroupById)
}
