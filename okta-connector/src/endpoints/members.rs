//! `GET /api/v1/groups/{groupId}/users`: the members of one group, with an explicit `limit`
//! (Okta's default page for this endpoint is 1000). Only each member's `id` is decoded.

use serde::Deserialize;
use url::Url;

use crate::client::http::ApiOrigin;
use crate::client::pagination::Pager;
use crate::okta::Bucket;

/// Endpoint template, for logs and errors.
pub const ENDPOINT: &str = "GET /api/v1/groups/{groupId}/users";

/// A member: Okta returns full user objects, of which only the id matters here.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct OktaMember {
    /// The user id, `00u…`.
    pub id: String,
}

/// The first page's URL.
pub fn url(origin: &ApiOrigin, group_id: &str, limit: u32) -> Url {
    let mut url = origin.url("/");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .clear()
            .extend(["api", "v1", "groups", group_id, "users"]);
    }
    url.query_pairs_mut()
        .append_pair("limit", &limit.to_string());
    url
}

/// A pager over one group's members.
pub fn pager(origin: &ApiOrigin, group_id: &str, limit: u32) -> Pager<OktaMember> {
    Pager::new(url(origin, group_id, limit), ENDPOINT, Bucket::GroupById).for_group(group_id)
}
