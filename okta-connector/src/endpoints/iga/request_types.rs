//! `GET /governance/api/v1/request-types`: access request types, org-level, paged.

use url::Url;

use super::{IgaList, MAX_PAGE_SIZE, url};
use crate::client::http::ApiOrigin;
use crate::client::rate_limit::Bucket;

/// The list.
pub const LIST: IgaList = IgaList {
    endpoint: "GET /governance/api/v1/request-types",
    bucket: Bucket::IgaV1,
    oauth_scope: "okta.governance.accessRequests.read",
    admin_role: "Access Requests Administrator (ACCESS_REQUESTS_ADMIN) or Super Administrator",
    lifecycle: "BETA",
};

/// The first page's URL (`limit` 1–200).
pub fn first(origin: &ApiOrigin, limit: u32) -> Url {
    let limit = limit.clamp(1, MAX_PAGE_SIZE).to_string();
    url(
        origin,
        &["governance", "api", "v1", "request-types"],
        &[("limit", &limit)],
    )
}
