//! `GET /governance/api/v2/requests`: access requests (v2), org-level, paged; its own rate-limit bucket (30 per minute).

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v2/requests",
    bucket: Bucket::IgaRequests,
    oauth_scope: "okta.accessRequests.request.read",
    admin_role: "Access Requests Administrator (ACCESS_REQUESTS_ADMIN) or Super Administrator",
    lifecycle: "GA",
};

/// The first page's URL (`limit` 1–200).
pub fn first(origin: &ApiOrigin, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v2", "requests"],
        &[("limit", &limit)],
    )
}
